"""Transcendentals on 1M float32: rjax (eager, the vectorised kernels of
rust/src/ops/unary/fastmath.rs) vs NumPy/SciPy vs JAX (jax.jit, CPU).

    python benches/bench_fastmath.py             # 1M elements
    RJAX_NUM_THREADS=1 python benches/bench_fastmath.py    # rjax on one core

Build rjax in release mode first. NumPy and SciPy run on one core; rjax on
all of them unless RJAX_NUM_THREADS says otherwise. Ratios are other time /
rjax time (> 1 means rjax is faster).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import scipy.special as sp

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, ready, table  # noqa: E402

import rjax  # noqa: E402
import rjax.lax as lax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402
from rjax import _rjax  # noqa: E402

jax, jjnp = optional_jax()



def run(n: int) -> str:
  rng = np.random.default_rng(0)
  # (name, input, rjax op, NumPy/SciPy op and its name, JAX op)
  normal = (rng.standard_normal(n) * 3).astype(np.float32)
  positive = rng.uniform(1e-3, 1e3, n).astype(np.float32)
  wide = rng.uniform(-1e5, 1e5, n).astype(np.float32)
  cases = [
      ("exp", "3 N(0,1)", normal, jnp.exp, np.exp, "np.exp", "exp"),
      ("log", "U(1e-3, 1e3)", positive, jnp.log, np.log, "np.log", "log"),
      ("tanh", "3 N(0,1)", normal, jnp.tanh, np.tanh, "np.tanh", "tanh"),
      ("logistic", "3 N(0,1)", normal, lax.logistic, sp.expit, "scipy expit", "logistic"),
      ("erf", "3 N(0,1)", normal, lax.erf, sp.erf, "scipy erf", "erf"),
      ("sin", "3 N(0,1)", normal, jnp.sin, np.sin, "np.sin", "sin"),
      ("sin", "U(-1e5, 1e5)", wide, jnp.sin, np.sin, "np.sin", "sin"),
  ]
  rows = []
  for name, dist, x_np, f_r, f_n, n_name, j_name in cases:
    x = jnp.asarray(x_np)
    tr, tn = bench(lambda: ready(f_r(x))), bench(lambda: f_n(x_np))
    tj = None
    if jax is not None:
      jf = jax.jit(getattr(jax.lax, j_name))
      jx = jjnp.asarray(x_np)
      ready(jf(jx))
      tj = bench(lambda: ready(jf(jx)))
    rows.append([f"{name}, {dist}", fmt_time(tr), f"{fmt_time(tn)} ({n_name})",
                 f"{tn / tr:.2f}x", fmt_time(tj) if tj else "-",
                 f"{tj / tr:.2f}x" if tj else "-"])
  size = f"{n >> 20}M" if n % (1 << 20) == 0 else str(n)
  head = [f"op ({size} float32)", "rjax", "NumPy/SciPy", "NumPy/rjax", "JAX jit", "JAX/rjax"]
  return "\n".join([
      f"Machine: {machine()}; rjax threads: {_rjax.num_threads()}; NumPy {np.__version__}; "
      f"JAX {jax.__version__ if jax else 'not installed'}", "", table(rows, head)])


if __name__ == "__main__":
  p = argparse.ArgumentParser()
  p.add_argument("--n", type=int, default=1 << 20)
  print(run(p.parse_args().n))
