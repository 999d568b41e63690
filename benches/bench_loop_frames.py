"""Small loop bodies: rjax with loop frames on and off (``set_loop_frames``)
against JAX, in one process; best of 20 calls of a 10,000-iteration
``fori_loop`` over an f32[16] carry, reported per iteration.

    RJAX_CODEGEN=sync python benches/bench_loop_frames.py

Ratios are JAX / rjax (> 1 means rjax is faster). No assertions on timings.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402
from rjax import lax  # noqa: E402
from rjax._src.runtime.executable import set_loop_frames  # noqa: E402

jax, jjnp = optional_jax()
N = 10_000
BODIES = {
    "c * 0.999 + sin(c) * 0.001": lambda np_: (lambda i, c: c * 0.999 + np_.sin(c) * 0.001),
    "c * 0.999": lambda np_: (lambda i, c: c * 0.999),
}


def per_iter(f, a, k=20):
  best = float("inf")
  for _ in range(k):
    t0 = time.perf_counter()
    f(a).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return best / N * 1e9


def main():
  print(machine())
  x = np.random.default_rng(0).normal(size=16).astype(np.float32)
  rows = []
  for name, body in BODIES.items():
    rf = rjax.jit(lambda v, b=body: lax.fori_loop(0, N, b(jnp), v))
    rx = jnp.asarray(x)
    got = np.asarray(rf(rx))
    on = per_iter(rf, rx)
    prev = set_loop_frames(False)
    off = per_iter(rf, rx, 5)
    set_loop_frames(prev)
    if jax is not None:
      jf = jax.jit(lambda v, b=body: jax.lax.fori_loop(0, N, b(jjnp), v))
      jx = jjnp.asarray(x)
      np.testing.assert_allclose(got, np.asarray(jf(jx)), rtol=1e-4, atol=1e-5)
      tj = per_iter(jf, jx)
    else:
      tj = float("nan")
    rows.append([name, f"{on:.0f} ns", f"{off:.0f} ns", f"{tj:.0f} ns", f"{tj / on:.2f}"])
  print(table(rows, ["body (f32[16] carry)", "rjax, frames", "rjax, executor", "JAX",
                     "JAX / rjax"]))


if __name__ == "__main__":
  main()
