"""matmul: rjax's jit(jnp.matmul) against NumPy (OpenBLAS) and JAX's jit (XLA), in one run.

    python benches/bench_matmul.py            # all workloads
    python benches/bench_matmul.py --quick    # fewer repeats
    python benches/bench_matmul.py --f64      # also the square sizes in float64

Square f32 products from 256^3 to 2048^3, the MLP layer shapes of the
784-512-512-10 network at batch 128 (forward, and the two backward products
g @ W.T and x.T @ g, which read a transposed operand in place), and a
batched matrix-vector product (jit(vmap(dot))). GFLOP/s counts 2 m k n.
Ratios are rjax / other in GFLOP/s (> 1 means rjax is faster). Every rjax
result is checked against NumPy before timing. Leave OPENBLAS_* unset.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402

jax, jjnp = optional_jax()


def workloads(f64: bool):
  """(name, make(np_mod) -> f, args, flops)."""
  mm = lambda m: m.matmul
  out = []
  sizes = (256, 512, 1024, 2048)
  for dt in (np.float32, np.float64) if f64 else (np.float32,):
    for s in sizes:
      out.append((f"matmul {s}^3 {np.dtype(dt).name}", mm, [(s, s), (s, s)], dt, 2 * s ** 3))
  mlp = [(128, 784, 512), (128, 512, 512), (128, 512, 10)]
  for m, k, n in mlp:
    out.append((f"MLP fwd x @ W {m}x{k} . {k}x{n}", mm, [(m, k), (k, n)], np.float32,
                2 * m * k * n))
  for m, k, n in mlp:
    # backward: dx = g @ W.T (g: m x n, W: k x n) and dW = x.T @ g (x: m x k)
    out.append((f"MLP bwd g @ W.T {m}x{n} . ({k}x{n}).T", lambda m_: lambda g, w: g @ w.T,
                [(m, n), (k, n)], np.float32, 2 * m * k * n))
    out.append((f"MLP bwd x.T @ g ({m}x{k}).T . {m}x{n}", lambda m_: lambda x, g: x.T @ g,
                [(m, k), (m, n)], np.float32, 2 * m * k * n))
  out.append(("jit(vmap(dot, (0, None))) 4096x512 . 512",
              lambda m_: (rjax.vmap(m_.dot, in_axes=(0, None)) if m_ is jnp else
                          (jax.vmap(m_.dot, in_axes=(0, None)) if m_ is jjnp else
                           (lambda a, v: a @ v))),
              [(4096, 512), (512,)], np.float32, 2 * 4096 * 512))
  return out


def run(quick: bool, f64: bool) -> str:
  if f64:
    rjax.config.update("jax_enable_x64", True)
    if jax:
      jax.config.update("jax_enable_x64", True)
  rng = np.random.default_rng(0)
  rows = []
  for name, make, shapes, dt, flops in workloads(f64):
    args = [rng.standard_normal(s).astype(dt) for s in shapes]
    fr = rjax.jit(make(jnp))
    ar = [jnp.asarray(a) for a in args]
    fn = make(np)
    want = fn(*args)
    tol = 1e-4 if dt == np.float32 else 1e-10
    np.testing.assert_allclose(np.asarray(fr(*ar)), want, rtol=tol,
                               atol=tol * np.sqrt(shapes[0][-1]))
    kw = dict(repeat=3, min_time=0.05) if quick else {}
    tr = bench(lambda: fr(*ar).block_until_ready(), **kw)
    tn = bench(lambda: fn(*args), **kw)
    tj = None
    if jax:
      fj = jax.jit(make(jjnp))
      aj = [jjnp.asarray(a) for a in args]
      tj = bench(lambda: fj(*aj).block_until_ready(), **kw)
    gf = lambda t: flops / t / 1e9
    rows.append([name, fmt_time(tr), f"{gf(tr):.0f}", f"{gf(tn):.0f}", f"{tn / tr:.2f}x",
                 f"{gf(tj):.0f}" if tj else "-", f"{tj / tr:.2f}x" if tj else "-"])
  header = ["workload", "rjax jit", "rjax GFLOP/s", "NumPy GFLOP/s", "rjax/NumPy",
            "JAX GFLOP/s", "rjax/JAX"]
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return (f"{machine()}; rjax threads: {rjax._rjax.num_threads()}; "
          f"JAX {jax.__version__ if jax else '-'}; load average {load:.1f}\n\n"
          + table(rows, header))


if __name__ == "__main__":
  p = argparse.ArgumentParser()
  p.add_argument("--quick", action="store_true")
  p.add_argument("--f64", action="store_true")
  a = p.parse_args()
  print(run(a.quick, a.f64))
