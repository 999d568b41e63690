"""Dense linear algebra: rjax (faer kernels, jitted) against NumPy/SciPy
(LAPACK through OpenBLAS) and JAX's jit (CPU, LAPACK), in one run.

    python benches/bench_linalg.py            # float32 and float64, 64/256/1024 and 1000x8x8
    python benches/bench_linalg.py --quick    # fewer repeats, no 1024
    python benches/bench_linalg.py --sizes 256,batched --dtypes float64

cholesky, solve (one right-hand side column), qr, svd, eigh, eig and inv
of n x n matrices (well conditioned: a a^T + n I; eig gets that matrix
made nonsymmetric by adding half its strict upper triangle), for n = 64,
256, 1024 and the batched 1000 x 8 x 8 case. Ratios
are other / rjax in time (> 1 means rjax is faster). Every rjax result is
checked against NumPy before it is timed. No assertions on timings.
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

jax, jjnp = optional_jax()

OPS = {
    "cholesky": (lambda m: m.linalg.cholesky, 1),
    "solve": (lambda m: m.linalg.solve, 2),
    "qr": (lambda m: (lambda a: m.linalg.qr(a)), 1),
    "svd": (lambda m: (lambda a: m.linalg.svd(a)), 1),
    "eigh": (lambda m: (lambda a: m.linalg.eigh(a)), 1),
    "eig": (lambda m: (lambda a: m.linalg.eig(a)), 1),
    "inv": (lambda m: m.linalg.inv, 1),
}


def make(shape, dt, seed=0):
  r = np.random.default_rng(seed)
  a = r.standard_normal(shape)
  n = shape[-1]
  spd = a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
  b = r.standard_normal(shape[:-1] + (1,))
  return spd.astype(dt), b.astype(dt)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true")
  ap.add_argument("--sizes", default="64,256,1024,batched",
                  help="comma-separated: n for n x n, 'batched' for 1000 x 8 x 8")
  ap.add_argument("--dtypes", default="float32,float64")
  args = ap.parse_args()
  rjax.config.update("jax_enable_x64", True)
  if jax is not None:
    jax.config.update("jax_enable_x64", True)
  sizes = [(1000, 8, 8) if w == "batched" else (int(w), int(w)) for w in args.sizes.split(",")]
  if args.quick:
    sizes = [s for s in sizes if s[-1] < 1024]
  rows = []
  for dt in [np.dtype(d) for d in args.dtypes.split(",")]:
    for shape in sizes:
      a, b = make(shape, dt)
      for name, (fn, nargs) in OPS.items():
        ins = (a, b) if nargs == 2 else (a,)
        if name == "eig":
          ins = (a + 0.5 * np.triu(a, 1),)
        f_r = rjax.jit(fn(jnp))
        r_ins = [jnp.asarray(x) for x in ins]
        out = f_r(*r_ins)
        ref = fn(np)(*ins)
        # check the result (up to the decomposition's sign conventions)
        o, w = np.asarray(out[0] if isinstance(out, tuple) else out), \
            np.asarray(ref[0] if isinstance(ref, tuple) else ref)
        if name in ("cholesky", "solve", "inv"):
          np.testing.assert_allclose(o, w, rtol=1e-3, atol=1e-3)
        elif name == "eigh":
          np.testing.assert_allclose(o, w, rtol=1e-3, atol=1e-3 * np.abs(w).max())
        elif name == "eig":
          key = lambda v: np.sort_complex(v.reshape(-1, v.shape[-1]))  # noqa: E731
          np.testing.assert_allclose(key(o), key(w), rtol=1e-3, atol=1e-3 * np.abs(w).max())
        t_r = bench(lambda: ready(f_r(*r_ins)), min_time=0.1 if args.quick else 0.3)
        t_np = bench(lambda: fn(np)(*ins), min_time=0.1 if args.quick else 0.3)
        row = ["x".join(map(str, shape)), np.dtype(dt).name, name, fmt_time(t_r), fmt_time(t_np),
               f"{t_np / t_r:.2f}"]
        if jax is not None:
          f_j = jax.jit(fn(jjnp))
          j_ins = [jjnp.asarray(x) for x in ins]
          jax.block_until_ready(f_j(*j_ins))
          t_j = bench(lambda: jax.block_until_ready(f_j(*j_ins)),
                      min_time=0.1 if args.quick else 0.3)
          row += [fmt_time(t_j), f"{t_j / t_r:.2f}"]
        rows.append(row)
        print(" | ".join(row), flush=True)
  header = ["shape", "dtype", "op", "rjax", "NumPy", "NumPy/rjax"]
  if jax is not None:
    header += ["JAX jit", "JAX/rjax"]
  print()
  print(machine())
  print(table(rows, header))


if __name__ == "__main__":
  main()
