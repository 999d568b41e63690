"""The cost of going parallel: ``jit(x * 2 + 1)`` on f32 vectors from one
chunk (16K elements) to 1M, rjax beside JAX and NumPy in one process; best
of 5 x 2,000 calls, dispatch included. Run it with ``RJAX_NUM_THREADS=1``
too to see the one-thread times (BENCHMARKS.md, "Parallel loops that keep
the caller working").

    python benches/bench_handoff.py

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
  rows = []
  for n in (1 << 14, 1 << 16, 1 << 17, 1 << 18, 1 << 20):
    x = np.linspace(-1, 1, n, dtype=np.float32)
    tr = best_us(rjax.jit(lambda v: v * 2.0 + 1.0), jnp.asarray(x), n=2000, repeat=5)
    tj = best_us(jax.jit(lambda v: v * 2.0 + 1.0), jjnp.asarray(x), n=2000,
                 repeat=5) \
        if jax is not None else float("nan")
    tn = best_us(lambda v: v * np.float32(2.0) + np.float32(1.0), x, n=2000, repeat=5)
    rows.append([f"{n:,} f32", f"{tr:.1f} µs", f"{tj:.1f} µs", f"{tn:.1f} µs",
                 f"{tj / tr:.2f}"])
  print(table(rows, ["x * 2 + 1", "rjax", "JAX", "NumPy", "JAX / rjax"]))


if __name__ == "__main__":
  main()
