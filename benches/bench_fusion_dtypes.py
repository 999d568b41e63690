"""Fusion beyond float32: jitted elementwise chains in bfloat16, float16, int8
and uint8, rjax against JAX's jit (XLA CPU) and NumPy, in one run.

    python benches/bench_fusion_dtypes.py            # all workloads
    python benches/bench_fusion_dtypes.py --quick    # fewer repeats

Ratios are other / rjax (> 1 means rjax is faster). Every rjax result is
checked against NumPy (float chains: computed in float32 and rounded, within
the dtype's tolerance; integer chains: exactly) before timing. The "kernels"
column counts the kernels of rjax's plan (`jit(f).lower(x).as_text()`): one
means the whole chain is fused.
"""
from __future__ import annotations

import argparse
import os
import sys

import ml_dtypes
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402

jax, jjnp = optional_jax()

ALPHA, SCALE = 1.6732632423543772, 1.0507009873554805


def selu(np_mod):
  return lambda x: SCALE * np_mod.where(x > 0, x, ALPHA * np_mod.exp(x) - ALPHA)


def gelu_tanh(np_mod):
  c = float(np.sqrt(2 / np.pi))
  return lambda x: 0.5 * x * (1 + np_mod.tanh(c * (x + 0.044715 * x * x * x)))


def int8_chain(np_mod):
  # wraps around: int8 arithmetic, shifts, bit logic, a clamp
  return lambda x: np_mod.clip(((x * 3 + 7) ^ (x >> 1)) & 0x7f, 5, 120) - x


def uint8_chain(np_mod):
  return lambda x: np_mod.maximum(x * 5, x + 100) - (x >> 2) | (x & 3)


def kernels(plan: str) -> int:
  """Kernels in a plan text: one line per kernel between `plan(` and `return`."""
  lines = plan.splitlines()
  start = next(i for i, l in enumerate(lines) if l.startswith("plan("))
  return sum(1 for l in lines[start + 1:] if " = " in l)


def run(quick: bool) -> str:
  rng = np.random.default_rng(0)
  rows = []
  n = 1 << 20
  kw = {"repeat": 3} if quick else {}

  def add(name, make, x_np, check):
    fr = rjax.jit(make(jnp))
    xr = jnp.asarray(x_np)
    got = np.asarray(fr(xr))
    check(got)
    k = kernels(fr.lower(xr).as_text())
    tr = bench(lambda: fr(xr).block_until_ready(), **kw)
    f_np = make(np)
    tn = bench(lambda: f_np(x_np), **kw)
    tj = None
    if jax:
      fj = jax.jit(make(jjnp))
      xj = jjnp.asarray(x_np)
      tj = bench(lambda: fj(xj).block_until_ready(), **kw)
    rows.append([name, str(k), fmt_time(tr), fmt_time(tn), f"{tn / tr:.2f}x",
                 fmt_time(tj) if tj else "-", f"{tj / tr:.2f}x" if tj else "-"])

  xf = rng.standard_normal(n).astype(np.float32)
  for dt, name in ((ml_dtypes.bfloat16, "bf16"), (np.float16, "f16")):
    x = xf.astype(dt)
    for label, make in (("selu", selu), ("gelu (tanh)", gelu_tanh)):
      want = make(np)(x.astype(np.float32))
      tol = 2e-2 if name == "bf16" else 4e-3

      def check(got, want=want, dt=dt, tol=tol):
        assert got.dtype == dt, got.dtype
        np.testing.assert_allclose(got.astype(np.float32), want, rtol=tol, atol=tol)
      add(f"{label}, 1M {name}", make, x, check)

  xi8 = rng.integers(-128, 128, n).astype(np.int8)
  want_i8 = int8_chain(np)(xi8)
  add("int8 chain (mul, add, shift, xor, and, clip, sub), 1M", int8_chain, xi8,
      lambda got: np.testing.assert_array_equal(got, want_i8))
  xu8 = rng.integers(0, 256, n).astype(np.uint8)
  want_u8 = uint8_chain(np)(xu8)
  add("uint8 chain (mul, add, max, shift, and, or, sub), 1M", uint8_chain, xu8,
      lambda got: np.testing.assert_array_equal(got, want_u8))

  header = ["workload", "kernels", "rjax jit", "NumPy", "NumPy/rjax", "JAX jit", "JAX/rjax"]
  return (f"{machine()}; rjax threads: {rjax._rjax.num_threads()}; "
          f"JAX {jax.__version__ if jax else '-'}\n\n" + table(rows, header))


if __name__ == "__main__":
  p = argparse.ArgumentParser()
  p.add_argument("--quick", action="store_true")
  print(run(p.parse_args().quick))
