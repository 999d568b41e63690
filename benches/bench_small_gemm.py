"""Small f32 GEMMs through ``jit(a @ b)``: (m x 256) @ (256 x 256) for a few
row counts (the RNN cell's product is m = 32), rjax beside JAX and NumPy in
one process; best of 7 x 1,000 calls, dispatch included.

    python benches/bench_small_gemm.py

No assertions on timings.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import best_us, machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402

jax, jjnp = optional_jax()


def main():
  print(machine())
  rng = np.random.default_rng(0)
  rows = []
  for m in (16, 32, 64, 128):
    a = rng.normal(size=(m, 256)).astype(np.float32)
    b = rng.normal(size=(256, 256)).astype(np.float32)
    tr = best_us(rjax.jit(lambda x, y: x @ y), jnp.asarray(a), jnp.asarray(b))
    tj = best_us(jax.jit(lambda x, y: x @ y), jjnp.asarray(a), jjnp.asarray(b)) \
        if jax is not None else float("nan")
    tn = best_us(np.matmul, a, b)
    rows.append([f"({m} x 256) @ (256 x 256)", f"{tr:.1f} µs", f"{tj:.1f} µs", f"{tn:.1f} µs",
                 f"{tj / tr:.2f}"])
  print(table(rows, ["f32 product", "rjax", "JAX", "NumPy", "JAX / rjax"]))


if __name__ == "__main__":
  main()
