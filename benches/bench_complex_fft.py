"""Complex numbers and FFT: rjax's jit against NumPy and JAX's jit (XLA), in one run.

    python benches/bench_complex_fft.py            # all workloads
    python benches/bench_complex_fft.py --quick    # fewer repeats

Workloads: a complex64 elementwise chain (exp(z) * z + conj(z) - 1j, one
fused pass in rjax), complex64 matmul 256^3 and 1024^3, complex FFT and
real rFFT of 2^10 .. 2^20 points (complex64 / float32), and a batched 2-D
FFT (8 x 256 x 256 complex64) and a 1024^2 2-D FFT. Every rjax result is
checked against NumPy before timing. Ratios are other / rjax in time
(> 1 means rjax is faster). No assertions on timings.
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


def _c64(rng, shape):
  return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def workloads():
  """(name, make(np_mod) -> f, make_args(rng), tolerance)."""
  out = [("complex chain exp(z)*z+conj(z)-1j, 2^20",
          lambda m: (lambda z: m.exp(z) * z + m.conj(z) - 1j), lambda r: [_c64(r, (1 << 20,))],
          1e-4)]
  for s in (256, 1024):
    out.append((f"complex64 matmul {s}^3", lambda m: m.matmul,
                lambda r, s=s: [_c64(r, (s, s)), _c64(r, (s, s))], 1e-3))
  for p in (10, 14, 17, 20):
    n = 1 << p
    out.append((f"fft complex64 2^{p}", lambda m: m.fft.fft, lambda r, n=n: [_c64(r, (n,))],
                1e-3))
    out.append((f"rfft float32 2^{p}", lambda m: m.fft.rfft,
                lambda r, n=n: [r.standard_normal(n).astype(np.float32)], 1e-3))
  out.append(("fft2 batched 8x256x256 complex64", lambda m: m.fft.fft2,
              lambda r: [_c64(r, (8, 256, 256))], 1e-3))
  out.append(("fft2 1024x1024 complex64", lambda m: m.fft.fft2,
              lambda r: [_c64(r, (1024, 1024))], 1e-3))
  return out


def run(quick: bool) -> str:
  rng = np.random.default_rng(0)
  rows = []
  for name, make, make_args, tol in workloads():
    args = make_args(rng)
    fr = rjax.jit(make(jnp))
    ar = [jnp.asarray(a) for a in args]
    fn = make(np)
    want = fn(*args)
    got = np.asarray(fr(*ar))
    scale = np.abs(want).max(initial=1)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)
    kw = dict(repeat=3, min_time=0.05) if quick else {}
    tr = bench(lambda: fr(*ar).block_until_ready(), **kw)
    tn = bench(lambda: fn(*args), **kw)
    tj = None
    if jax:
      fj = jax.jit(make(jjnp))
      aj = [jjnp.asarray(a) for a in args]
      tj = bench(lambda: fj(*aj).block_until_ready(), **kw)
    rows.append([name, fmt_time(tr), fmt_time(tn), f"{tn / tr:.2f}x",
                 fmt_time(tj) if tj else "-", f"{tj / tr:.2f}x" if tj else "-"])
  header = ["workload", "rjax jit", "NumPy", "NumPy/rjax", "JAX jit", "JAX/rjax"]
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return (f"{machine()}; rjax threads: {rjax._rjax.num_threads()}; "
          f"JAX {jax.__version__ if jax else '-'}; load average {load:.1f}\n\n"
          + table(rows, header))


if __name__ == "__main__":
  p = argparse.ArgumentParser()
  p.add_argument("--quick", action="store_true")
  a = p.parse_args()
  print(run(a.quick))
