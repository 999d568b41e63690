"""Tracing cost of the transformations, and eager grad against NumPy.

    python benches/bench_tracing.py

Workloads (issue #3):
- trace ``value_and_grad`` of a 3-layer MLP loss into a jaxpr (``make_jaxpr``),
  and the same under ``vmap`` (per-example gradients); JAX's ``make_jaxpr`` of
  the same functions for comparison (JAX's own tracing, without its compile);
- ``grad(lambda x: sum(x * x))`` on 1M float32, eager, against NumPy's
  hand-written ``2 * x`` and JAX's eager grad;
- eager (un-jitted) ``value_and_grad`` of the same MLP loss, batch 128, against
  JAX's eager ``value_and_grad`` (issue #14: concrete-value transformations
  must not make it slower);
- ``jit(f)(x)`` written inline (a new wrapper every call) for a small ``f``:
  jit's cache belongs to the function, so this reuses the first trace and
  Program (issue #14).
Ratios are other / rjax (> 1 means rjax is faster).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402

jax, jjnp = optional_jax()


def _mlp_loss(np_mod):
  def loss(params, x, y):
    h = x
    for w, b in params[:-1]:
      h = np_mod.tanh(h @ w + b)
    w, b = params[-1]
    out = h @ w + b
    return np_mod.mean((out - y) ** 2)
  return loss


def _params(mod, sizes, rng):
  return [(mod.asarray(rng.standard_normal((m, n)).astype(np.float32) / np.sqrt(m)),
           mod.asarray(np.zeros(n, np.float32))) for m, n in zip(sizes[:-1], sizes[1:])]


def run() -> str:
  rng = np.random.default_rng(0)
  sizes = [784, 512, 512, 10]
  rows = []
  xs = rng.standard_normal((128, 784)).astype(np.float32)
  ys = rng.standard_normal((128, 10)).astype(np.float32)

  # A fresh function object per call: JAX caches traces per function, and a
  # cached trace is not what this measures.
  def fresh(np_mod, api, per_example):
    loss = _mlp_loss(np_mod)
    f = lambda p, x, y: loss(p, x, y)  # noqa: E731
    vg = api.value_and_grad(f)
    return api.vmap(vg, in_axes=(None, 0, 0)) if per_example else vg

  p = _params(jnp, sizes, rng)
  x, y = jnp.asarray(xs), jnp.asarray(ys)
  jobs = [("make_jaxpr(value_and_grad(mlp3 loss))",
           lambda: rjax.make_jaxpr(fresh(jnp, rjax, False))(p, x, y), None),
          ("make_jaxpr(vmap(value_and_grad(mlp3 loss)))",
           lambda: rjax.make_jaxpr(fresh(jnp, rjax, True))(p, x, y), None)]
  if jax:
    jp = _params(jjnp, sizes, np.random.default_rng(0))
    jx, jy = jjnp.asarray(xs), jjnp.asarray(ys)
    jobs[0] = jobs[0][:2] + (lambda: jax.make_jaxpr(fresh(jjnp, jax, False))(jp, jx, jy),)
    jobs[1] = jobs[1][:2] + (lambda: jax.make_jaxpr(fresh(jjnp, jax, True))(jp, jx, jy),)
    jobs.append(("jit(value_and_grad(mlp3 loss)) trace+compile+1st run", None,
                 lambda: jax.block_until_ready(jax.jit(fresh(jjnp, jax, False))(jp, jx, jy))))
  for name, f_r, f_j in jobs:
    tr = bench(f_r, min_time=0.5) if f_r else None
    tj = bench(f_j, min_time=0.5, repeat=3) if f_j else None
    rows.append([name, fmt_time(tr) if tr else "-", "-", "-", fmt_time(tj) if tj else "-",
                 f"{tj / tr:.2f}x" if tj and tr else "-"])

  vg_r = rjax.value_and_grad(_mlp_loss(jnp))
  tr = bench(lambda: rjax.block_until_ready(vg_r(p, x, y)), min_time=0.5)
  tj = None
  if jax:
    vg_j = jax.value_and_grad(_mlp_loss(jjnp))
    tj = bench(lambda: jax.block_until_ready(vg_j(jp, jx, jy)), min_time=0.5)
  rows.append(["value_and_grad(mlp3 loss) eager, batch 128", fmt_time(tr), "-", "-",
               fmt_time(tj) if tj else "-", f"{tj / tr:.2f}x" if tj else "-"])

  def small(v, np_mod):
    return np_mod.sin(v) * 2 + 1
  sa = jnp.ones(8)
  small_r = lambda v: small(v, jnp)  # noqa: E731
  tr = bench(lambda: rjax.jit(small_r)(sa).block_until_ready())
  tj = None
  if jax:
    small_j = lambda v: small(v, jjnp)  # noqa: E731
    sj = jjnp.ones(8)
    tj = bench(lambda: jax.jit(small_j)(sj).block_until_ready())
  rows.append(["jit(f)(x) inline (a new wrapper per call), f32[8]", fmt_time(tr), "-", "-",
               fmt_time(tj) if tj else "-", f"{tj / tr:.2f}x" if tj else "-"])

  n = 1 << 20
  a_np = rng.standard_normal(n).astype(np.float32)
  a = jnp.asarray(a_np)
  g = rjax.grad(lambda v: jnp.sum(v * v))
  tr = bench(lambda: g(a).block_until_ready())
  tn = bench(lambda: 2 * a_np)
  tj = None
  if jax:
    ja = jjnp.asarray(a_np)
    jg = jax.grad(lambda v: jjnp.sum(v * v))
    tj = bench(lambda: jg(ja).block_until_ready())
  rows.append(["grad(sum(x*x)) eager, 1M f32 (NumPy: 2*x)", fmt_time(tr), fmt_time(tn),
               f"{tn / tr:.2f}x", fmt_time(tj) if tj else "-", f"{tj / tr:.2f}x" if tj else "-"])
  header = ["workload", "rjax", "NumPy", "NumPy/rjax", "JAX", "JAX/rjax"]
  return f"{machine()}; rjax threads: {rjax._rjax.num_threads()}\n\n" + table(rows, header)


if __name__ == "__main__":
  print(run())
