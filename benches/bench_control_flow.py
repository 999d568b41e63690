"""Control flow: rjax's loops (run inside the Rust executor) against JAX's
(XLA CPU), in one run.

    python benches/bench_control_flow.py            # all workloads
    python benches/bench_control_flow.py --quick    # fewer repeats

- a jitted ``fori_loop`` of 10,000 iterations of a small update: the time per
  iteration is the loop's overhead; its body runs through a loop frame
  (``exec/frame.rs``), and again with frames off (the executor's sub-program
  run per iteration) for comparison;
- a ``scan`` over 1,000 steps of an RNN cell (hidden 256, batch 32), forward
  and forward + grad (reverse mode: the stacked-residual scan, then the
  transposed scan).

Ratios are JAX / rjax (> 1 means rjax is faster). Every rjax result is
checked against JAX (or NumPy) before timing.
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
from rjax import lax  # noqa: E402
from rjax._src.runtime.executable import set_loop_frames  # noqa: E402

jax, jjnp = optional_jax()

N_ITERS = 10_000
T, B, H, D = 1000, 32, 256, 256


def fori_workload(np_mod, lax_mod, api):
  def f(x):
    return lax_mod.fori_loop(0, N_ITERS, lambda i, c: c * 0.999 + np_mod.sin(c) * 0.001, x)
  return api.jit(f)


def rnn_workload(np_mod, lax_mod, api):
  def loss(W, U, b, xs):
    def cell(h, x):
      h = np_mod.tanh(h @ W + x @ U + b)
      return h, h
    h, hs = lax_mod.scan(cell, np_mod.zeros((B, H), np.float32), xs)
    return (hs * hs).mean() + h.mean()
  fwd = api.jit(loss)
  grad = api.jit(api.grad(loss, argnums=(0, 1, 2)))
  return fwd, grad


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true")
  args = ap.parse_args()
  min_time, repeat = (0.2, 3) if args.quick else (1.0, 5)
  print(machine())
  rows = []
  rng = np.random.default_rng(0)

  # fori_loop of 10,000 small updates
  x = rng.normal(size=(16,)).astype(np.float32)
  rf = fori_workload(jnp, lax, rjax)
  rx = jnp.asarray(x)
  got = np.asarray(rf(rx))
  t_r = bench(lambda: ready(rf(rx)), min_time, repeat)
  prev = set_loop_frames(False)
  t_off = bench(lambda: ready(rf(rx)), min_time, repeat)
  set_loop_frames(prev)
  if jax is not None:
    jf = fori_workload(jjnp, jax.lax, jax)
    jx = jjnp.asarray(x)
    np.testing.assert_allclose(got, np.asarray(jf(jx)), rtol=1e-4, atol=1e-5)
    t_j = bench(lambda: ready(jf(jx)), min_time, repeat)
  else:
    t_j = float("nan")
  rows.append([f"fori_loop {N_ITERS} iters (f32[16])", fmt_time(t_r),
               f"{t_r / N_ITERS * 1e9:.0f} ns (frames off: {t_off / N_ITERS * 1e9:.0f} ns)",
               fmt_time(t_j), f"{t_j / N_ITERS * 1e9:.0f} ns", f"{t_j / t_r:.2f}"])

  # RNN scan: forward and grad
  W = (rng.normal(size=(H, H)) / np.sqrt(H)).astype(np.float32)
  U = (rng.normal(size=(D, H)) / np.sqrt(D)).astype(np.float32)
  b = np.zeros(H, np.float32)
  xs = rng.normal(size=(T, B, D)).astype(np.float32)
  r_fwd, r_grad = rnn_workload(jnp, lax, rjax)
  r_args = [jnp.asarray(a) for a in (W, U, b, xs)]
  got_f = float(r_fwd(*r_args))
  got_g = [np.asarray(g) for g in r_grad(*r_args)]
  if jax is not None:
    j_fwd, j_grad = rnn_workload(jjnp, jax.lax, jax)
    j_args = [jjnp.asarray(a) for a in (W, U, b, xs)]
    np.testing.assert_allclose(got_f, float(j_fwd(*j_args)), rtol=1e-4)
    for g, w in zip(got_g, j_grad(*j_args)):
      np.testing.assert_allclose(g, np.asarray(w), rtol=2e-3, atol=1e-6)
  for name, rf_, jf_ in [("forward", r_fwd, j_fwd if jax else None),
                         ("forward + grad", r_grad, j_grad if jax else None)]:
    t_r = bench(lambda: ready(rjax.tree_util.tree_leaves(rf_(*r_args))[0]), min_time, repeat)
    if jf_ is not None:
      t_j = bench(lambda: ready(jax.tree_util.tree_leaves(jf_(*j_args))[0]), min_time, repeat)
    else:
      t_j = float("nan")
    rows.append([f"RNN scan T={T} B={B} H={H}: {name}", fmt_time(t_r),
                 f"{t_r / T * 1e6:.1f} µs", fmt_time(t_j), f"{t_j / T * 1e6:.1f} µs",
                 f"{t_j / t_r:.2f}"])
  print(table(rows, ["workload", "rjax", "rjax / iter", "JAX", "JAX / iter", "JAX / rjax"]))


if __name__ == "__main__":
  main()
