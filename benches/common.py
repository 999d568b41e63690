"""Timing helpers shared by the benchmarks: best-of-N medians, a table printer.
Timings never go into tests; they are reported as ratios in BENCHMARKS.md."""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from typing import Callable


def settle(fn: Callable[[], object], quiet: float = 0.3, limit: float = 30.0) -> None:
  """Call ``fn`` until rjax's native tier has compiled what it queued.

  Under ``RJAX_CODEGEN=auto`` (the default) a function's fused groups run in
  the interpreter first and compile on a background thread; a timing taken
  meanwhile measures the compiler competing for the cores, not the steady
  state (JAX compiles before its first run, and its timings are steady
  state too). So: call ``fn`` until the compiler is idle and no group has
  been compiled for ``quiet`` seconds (at most ``limit`` seconds). A no-op
  for JAX and NumPy."""
  cg = sys.modules.get("rjax._src.runtime.codegen")
  if cg is None or cg.mode() != "auto":
    return
  t_end = time.perf_counter() + limit
  last, since = cg.stats()["compiled"], time.perf_counter()
  while time.perf_counter() < t_end:
    fn()
    st = cg.stats()
    n = st["compiled"]
    if n != last or st["busy"]:
      last, since = n, time.perf_counter()
    elif time.perf_counter() - since >= quiet:
      return


def bench(fn: Callable[[], object], min_time: float = 0.2, repeat: int = 7) -> float:
  """Median seconds per call: calibrate a loop count, then time ``repeat``
  loops (after the native tier's background compiles settle: ``settle``)."""
  fn()
  settle(fn)
  n, t = 1, 0.0
  while True:
    t0 = time.perf_counter()
    for _ in range(n):
      fn()
    t = time.perf_counter() - t0
    if t >= min_time / repeat or n >= 1 << 20:
      break
    n *= 2
  times = []
  for _ in range(repeat):
    t0 = time.perf_counter()
    for _ in range(n):
      fn()
    times.append((time.perf_counter() - t0) / n)
  return statistics.median(times)


def best_us(f: Callable[..., object], *args, n: int = 1000, repeat: int = 7) -> float:
  """Best microseconds per call of ``f(*args)`` over ``repeat`` loops of ``n``
  calls, dispatch included (the last result waited for), after one warm-up
  call. For tiny calls, where the best loop is the least disturbed."""
  r = f(*args)
  best = float("inf")
  for _ in range(repeat):
    t0 = time.perf_counter()
    for _ in range(n):
      r = f(*args)
    if hasattr(r, "block_until_ready"):
      r.block_until_ready()
    best = min(best, (time.perf_counter() - t0) / n)
  return best * 1e6


def fmt_time(s: float) -> str:
  if s < 1e-3:
    return f"{s * 1e6:.1f} µs"
  if s < 1:
    return f"{s * 1e3:.2f} ms"
  return f"{s:.2f} s"


def machine() -> str:
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  blas = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
  return (f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"OpenBLAS env: {blas or 'unset'}")


def table(rows: list[list[str]], header: list[str]) -> str:
  widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
  line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
  sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
  return "\n".join([line(header), sep] + [line(r) for r in rows])


def optional_jax():
  """``(jax, jax.numpy)`` on the CPU backend, or ``(None, None)`` when JAX is
  not installed (it is optional: ``pip install '.[bench]'``)."""
  try:
    import jax
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jjnp
  except Exception:
    return None, None
  return jax, jjnp


def ready(x):
  """Wait for an array's value (rjax and JAX arrays); others pass through."""
  return x.block_until_ready() if hasattr(x, "block_until_ready") else x
