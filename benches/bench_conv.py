"""Convolution and pooling: rjax against JAX's jit (XLA CPU), in one run.

    python benches/bench_conv.py            # all workloads
    python benches/bench_conv.py --quick    # fewer repeats

The main workload is a conv layer, forward and forward + backward (grads of
both operands), on a batch of 64 28x28x32 images: 3x3 kernel, 32 -> 32
features, NHWC/HWIO, SAME padding. Also: the NN demo's first layer on 8x8
images, a strided conv, 2x2 max pooling forward + backward. Ratios are
JAX / rjax (> 1 means rjax is faster). Every rjax result is checked against
JAX before timing.
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

jax, jjnp = optional_jax()
DN = ("NHWC", "HWIO", "NHWC")


def conv_fns(lax_mod, api, np_mod, strides):
  def fwd(x, w):
    return lax_mod.conv_general_dilated(x, w, strides, "SAME", dimension_numbers=DN)

  def loss(x, w):
    return np_mod.sum(fwd(x, w) ** 2)

  return api.jit(fwd), api.jit(api.grad(loss, argnums=(0, 1)))


def pool_fns(lax_mod, api, np_mod):
  def fwd(x):
    return lax_mod.reduce_window(x, -np_mod.inf, lax_mod.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

  def loss(x):
    return np_mod.sum(fwd(x) ** 2)

  return api.jit(fwd), api.jit(api.grad(loss))


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true")
  args = ap.parse_args()
  repeat, min_time = (3, 0.05) if args.quick else (7, 0.3)
  rng = np.random.RandomState(0)
  rows = []

  def run(name, r_fn, j_fn, inputs, tol):
    r_in = [jnp.asarray(a) for a in inputs]
    r_out = r_fn(*r_in)
    r_t = bench(lambda: jax_tree_ready(r_fn(*r_in)), min_time, repeat)
    cells = [name, fmt_time(r_t)]
    if jax is not None:
      j_in = [jjnp.asarray(a) for a in inputs]
      j_out = j_fn(*j_in)
      for a, b in zip(_leaves(r_out), _leaves(j_out)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)
      j_t = bench(lambda: jax_tree_ready(j_fn(*j_in)), min_time, repeat)
      cells += [fmt_time(j_t), f"{j_t / r_t:.2f}"]
    else:
      cells += ["-", "-"]
    rows.append(cells)
    print(" | ".join(cells), flush=True)

  workloads = [
      ("conv 64x28x28x32, 3x3, 32->32", (64, 28, 28, 32), (3, 3, 32, 32), (1, 1)),
      ("conv 64x8x8x1, 3x3, 1->16", (64, 8, 8, 1), (3, 3, 1, 16), (1, 1)),
      ("conv 64x28x28x16, 3x3/2, 16->32", (64, 28, 28, 16), (3, 3, 16, 32), (2, 2)),
  ]
  for name, xs, ws, strides in workloads:
    x = rng.randn(*xs).astype(np.float32)
    w = (rng.randn(*ws) / np.sqrt(np.prod(ws[:3]))).astype(np.float32)
    r_f, r_g = conv_fns(lax, rjax, jnp, strides)
    j_f, j_g = conv_fns(jax.lax, jax, jjnp, strides) if jax else (None, None)
    run(name + " fwd", r_f, j_f, (x, w), 1e-3)
    run(name + " fwd+bwd", r_g, j_g, (x, w), 1e-2)
  x = rng.randn(64, 28, 28, 32).astype(np.float32)
  r_f, r_g = pool_fns(lax, rjax, jnp)
  j_f, j_g = pool_fns(jax.lax, jax, jjnp) if jax else (None, None)
  run("max_pool 2x2 64x28x28x32 fwd", r_f, j_f, (x,), 1e-6)
  run("max_pool 2x2 64x28x28x32 fwd+bwd", r_g, j_g, (x,), 1e-5)

  print()
  print(machine())
  print(table(rows, ["workload", "rjax", "JAX jit", "JAX / rjax"]))


def _leaves(x):
  return list(x) if isinstance(x, (tuple, list)) else [x]


def jax_tree_ready(x):
  for leaf in _leaves(x):
    ready(leaf)
  return x


if __name__ == "__main__":
  main()
