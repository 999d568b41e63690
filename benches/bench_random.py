"""rjax.random against jax.random (XLA CPU) and NumPy's Generator, in one run.

    python benches/bench_random.py            # all workloads
    python benches/bench_random.py --quick    # fewer repeats

Ratios are other / rjax (> 1 means rjax is faster). rjax's and JAX's results
are checked to be the same numbers before timing. Use the release build.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, ready, table  # noqa: E402

import rjax  # noqa: E402
from rjax import random  # noqa: E402

jax, _ = optional_jax()

SHAPE = (1000, 1000)
WORKLOADS = {
    "normal (1000, 1000)": (lambda r: (lambda k: r.normal(k, SHAPE)),
                            lambda g: g.standard_normal(SHAPE, np.float32)),
    "uniform (1000, 1000)": (lambda r: (lambda k: r.uniform(k, SHAPE)),
                             lambda g: g.random(SHAPE, np.float32)),
    "bits (1000, 1000)": (lambda r: (lambda k: r.bits(k, SHAPE)),
                          lambda g: g.integers(0, 2 ** 32, SHAPE, np.uint32)),
    "split 1000": (lambda r: (lambda k: r.split(k, 1000)), None),
    # the while_loop samplers (a rejection loop per element, vmapped)
    "gamma a=2.5 (1000, 1000)": (lambda r: (lambda k: r.gamma(k, 2.5, SHAPE)),
                                 lambda g: g.standard_gamma(2.5, SHAPE, np.float32)),
    "poisson lam=4 (1000, 1000)": (lambda r: (lambda k: r.poisson(k, 4.0, SHAPE)),
                                   lambda g: g.poisson(4.0, SHAPE)),
}


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true")
  args = ap.parse_args()
  min_time, repeat = (0.05, 3) if args.quick else (0.3, 7)
  print(machine())
  rows = []
  for name, (make, np_fn) in WORKLOADS.items():
    rf = rjax.jit(make(random))
    rk = random.PRNGKey(0)
    t_r = bench(lambda: ready(rf(rk)), min_time, repeat)
    row = [name, fmt_time(t_r)]
    if jax is not None:
      from jax import random as jrandom
      jf = jax.jit(make(jrandom))
      jk = jrandom.PRNGKey(0)
      a, b = np.asarray(rf(rk)), np.asarray(jf(jk))
      if a.dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6)
      else:
        np.testing.assert_array_equal(a, b)
      t_j = bench(lambda: ready(jf(jk)), min_time, repeat)
      row += [fmt_time(t_j), f"{t_j / t_r:.2f}x"]
    else:
      row += ["-", "-"]
    if np_fn is not None:
      g = np.random.default_rng(0)
      t_n = bench(lambda: np_fn(g), min_time, repeat)
      row += [fmt_time(t_n), f"{t_n / t_r:.2f}x"]
    else:
      row += ["-", "-"]
    rows.append(row)
  print(table(rows, ["workload (jit)", "rjax", "JAX", "JAX/rjax", "NumPy", "NumPy/rjax"]))


if __name__ == "__main__":
  main()
