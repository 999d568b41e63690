"""Eager rjax vs NumPy (and JAX's eager mode, if installed), in one run.

    python benches/bench_eager.py            # full sizes
    python benches/bench_eager.py --quick    # small sizes

Workloads (issue #2): elementwise chains and reductions on 1M-16M float32,
matmul 256-2048 float32, and per-op dispatch latency on 4-element arrays.
Ratios are NumPy time / rjax time (> 1 means rjax is faster).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, ready, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402
from rjax import _rjax  # noqa: E402

jax, jjnp = optional_jax()



def run(quick: bool) -> str:
  rng = np.random.default_rng(0)
  rows = []

  def add(name, f_r, f_n, f_j=None):
    tr, tn = bench(f_r), bench(f_n)
    tj = bench(f_j) if f_j is not None else None
    rows.append([name, fmt_time(tr), fmt_time(tn), f"{tn / tr:.2f}x",
                 fmt_time(tj) if tj else "-", f"{tj / tr:.2f}x" if tj else "-"])

  sizes = [1 << 20] if quick else [1 << 20, 4 << 20, 16 << 20]
  for n in sizes:
    a_np = rng.standard_normal(n).astype(np.float32)
    b_np = rng.standard_normal(n).astype(np.float32)
    a, b = jnp.asarray(a_np), jnp.asarray(b_np)
    ja, jb = (jjnp.asarray(a_np), jjnp.asarray(b_np)) if jax else (None, None)
    m = f"{n >> 20}M"
    add(f"chain a*b+a-b ({m})", lambda: ready(a * b + a - b), lambda: a_np * b_np + a_np - b_np,
        (lambda: ready(ja * jb + ja - jb)) if jax else None)
    add(f"tanh(a)*b+exp(-a*a) ({m})", lambda: ready(jnp.tanh(a) * b + jnp.exp(-a * a)),
        lambda: np.tanh(a_np) * b_np + np.exp(-a_np * a_np),
        (lambda: ready(jjnp.tanh(ja) * jb + jjnp.exp(-ja * ja))) if jax else None)
    add(f"sum ({m})", lambda: ready(jnp.sum(a)), lambda: np.sum(a_np),
        (lambda: ready(jjnp.sum(ja))) if jax else None)
    a2, a2_np = a.reshape(-1, 1024), a_np.reshape(-1, 1024)
    ja2 = ja.reshape(-1, 1024) if jax else None
    add(f"max over axis 1 ({m} as rows of 1024)", lambda: ready(jnp.max(a2, axis=1)),
        lambda: np.max(a2_np, axis=1), (lambda: ready(jjnp.max(ja2, axis=1))) if jax else None)
    add(f"mean over axis 0 ({m} as rows of 1024)", lambda: ready(jnp.mean(a2, axis=0)),
        lambda: np.mean(a2_np, axis=0), (lambda: ready(jjnp.mean(ja2, axis=0))) if jax else None)

  for n in ([256, 512] if quick else [256, 512, 1024, 2048]):
    x_np = rng.standard_normal((n, n)).astype(np.float32)
    y_np = rng.standard_normal((n, n)).astype(np.float32)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    jx, jy = (jjnp.asarray(x_np), jjnp.asarray(y_np)) if jax else (None, None)
    add(f"matmul {n}x{n} f32", lambda: ready(x @ y), lambda: x_np @ y_np,
        (lambda: ready(jx @ jy)) if jax else None)

  s_np = np.ones(4, np.float32)
  s = jnp.asarray(s_np)
  js = jjnp.asarray(s_np) if jax else None
  add("dispatch: x + y, 4 elements", lambda: s + s, lambda: s_np + s_np,
      (lambda: js + js) if jax else None)
  add("dispatch: x * 2.0, 4 elements", lambda: s * 2.0, lambda: s_np * 2.0,
      (lambda: js * 2.0) if jax else None)
  add("dispatch: jnp.sin(x), 4 elements", lambda: jnp.sin(s), lambda: np.sin(s_np),
      (lambda: jjnp.sin(js)) if jax else None)

  head = ["workload", "rjax", "NumPy", "NumPy/rjax", "JAX eager", "JAX/rjax"]
  out = [f"Machine: {machine()}; rjax threads: {_rjax.num_threads()}; "
         f"NumPy {np.__version__}; JAX {jax.__version__ if jax else 'not installed'}", "",
         table(rows, head)]
  return "\n".join(out)


if __name__ == "__main__":
  p = argparse.ArgumentParser()
  p.add_argument("--quick", action="store_true")
  print(run(p.parse_args().quick))
