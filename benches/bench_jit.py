"""jit: rjax against JAX's jit (XLA CPU) and NumPy, in one run.

    python benches/bench_jit.py            # all workloads
    python benches/bench_jit.py --quick    # fewer repeats

Workloads are the jit issue's (#4) table. Ratios are other / rjax (> 1 means
rjax is faster). Every rjax result is checked against NumPy before timing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402

jax, jjnp = optional_jax()

ALPHA, SCALE = 1.6732632423543772, 1.0507009873554805


def selu(np_mod):
  return lambda x: SCALE * np_mod.where(x > 0, x, ALPHA * np_mod.exp(x) - ALPHA)


def norm(np_mod):
  return lambda x: (x - x.mean(0)) / x.std(0)


def logsumexp(np_mod):
  def f(x):
    m = np_mod.max(x, axis=-1, keepdims=True)
    return np_mod.log(np_mod.sum(np_mod.exp(x - m), axis=-1)) + m[..., 0]
  return f


def softmax(np_mod):
  def f(x):
    e = np_mod.exp(x - np_mod.max(x, axis=-1, keepdims=True))
    return e / np_mod.sum(e, axis=-1, keepdims=True)
  return f


def mlp_step(np_mod, api, mean_over=None):
  """SGD step of the MLP; ``mean_over`` (e.g. ``lambda t: lax.pmean(t, "b")``)
  averages the loss and the gradients across devices (bench_pmap.py)."""
  def loss(params, x, y):
    h = x
    for w, b in params[:-1]:
      h = np_mod.tanh(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    logits = logits - np_mod.max(logits, axis=-1, keepdims=True)
    logp = logits - np_mod.log(np_mod.sum(np_mod.exp(logits), axis=-1, keepdims=True))
    return -np_mod.mean(np_mod.sum(logp * y, axis=-1))

  def step(params, x, y):
    l, g = api.value_and_grad(loss)(params, x, y)
    if mean_over is not None:
      l, g = mean_over(l), mean_over(g)
    return [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in zip(params, g)], l
  return step


def run(quick: bool) -> str:
  rng = np.random.default_rng(0)
  rows = []

  def add(name, f_r, f_n=None, f_j=None):
    tr = bench(f_r)
    tn = bench(f_n) if f_n else None
    tj = bench(f_j) if f_j else None
    rows.append([name, fmt_time(tr), fmt_time(tn) if tn else "-",
                 f"{tn / tr:.2f}x" if tn else "-", fmt_time(tj) if tj else "-",
                 f"{tj / tr:.2f}x" if tj else "-"])

  def jit_pair(make, *args_np, rtol=1e-5, atol=1e-5):
    fr = rjax.jit(make(jnp))
    ar = [jnp.asarray(a) for a in args_np]
    want = make(np)(*args_np)
    np.testing.assert_allclose(np.asarray(fr(*ar)), want, rtol=rtol, atol=atol)
    f_r = lambda: fr(*ar).block_until_ready()
    f_n = lambda: make(np)(*args_np)
    f_j = None
    if jax:
      fj = jax.jit(make(jjnp))
      aj = [jjnp.asarray(a) for a in args_np]
      f_j = lambda: fj(*aj).block_until_ready()
    return f_r, f_n, f_j

  x1m = rng.standard_normal(1 << 20).astype(np.float32)
  add("selu, 1M f32", *jit_pair(selu, x1m))
  X = rng.standard_normal((10000, 100)).astype(np.float32)
  add("norm (X - X.mean(0)) / X.std(0), 10000x100", *jit_pair(norm, X, rtol=1e-4, atol=1e-4))
  A = rng.standard_normal((4096, 1024)).astype(np.float32)
  add("logsumexp over last axis, 4096x1024", *jit_pair(logsumexp, A, rtol=1e-5, atol=1e-5))
  add("softmax over last axis, 4096x1024", *jit_pair(softmax, A, rtol=1e-5, atol=1e-6))

  # jit(grad(sum(x*x))) vs NumPy's 2*x
  g = rjax.jit(rjax.grad(lambda v: jnp.sum(v * v)))
  xr = jnp.asarray(x1m)
  np.testing.assert_allclose(np.asarray(g(xr)), 2 * x1m, rtol=1e-6)
  f_j = None
  if jax:
    gj = jax.jit(jax.grad(lambda v: jjnp.sum(v * v)))
    xj = jjnp.asarray(x1m)
    f_j = lambda: gj(xj).block_until_ready()
  add("jit(grad(sum(x*x))), 1M f32 (NumPy: 2*x)", lambda: g(xr).block_until_ready(),
      lambda: 2 * x1m, f_j)

  # jit(vmap(dot, in_axes=(0, None)))
  M = rng.standard_normal((4096, 512)).astype(np.float32)
  v = rng.standard_normal(512).astype(np.float32)
  mv = rjax.jit(rjax.vmap(jnp.dot, in_axes=(0, None)))
  Mr, vr = jnp.asarray(M), jnp.asarray(v)
  np.testing.assert_allclose(np.asarray(mv(Mr, vr)), M @ v, rtol=1e-4, atol=1e-3)
  f_j = None
  if jax:
    mvj = jax.jit(jax.vmap(jjnp.dot, in_axes=(0, None)))
    Mj, vj = jjnp.asarray(M), jjnp.asarray(v)
    f_j = lambda: mvj(Mj, vj).block_until_ready()
  add("jit(vmap(dot, (0, None))), 4096x512 . 512", lambda: mv(Mr, vr).block_until_ready(),
      lambda: M @ v, f_j)

  # matmul 1024^3
  P = rng.standard_normal((1024, 1024)).astype(np.float32)
  Q = rng.standard_normal((1024, 1024)).astype(np.float32)
  mm = rjax.jit(jnp.matmul)
  Pr, Qr = jnp.asarray(P), jnp.asarray(Q)
  f_j = None
  if jax:
    mmj = jax.jit(jjnp.matmul)
    Pj, Qj = jjnp.asarray(P), jjnp.asarray(Q)
    f_j = lambda: mmj(Pj, Qj).block_until_ready()
  add("matmul 1024^3 f32", lambda: mm(Pr, Qr).block_until_ready(), lambda: P @ Q, f_j)

  # MLP train step
  sizes = [784, 512, 512, 10]
  params_np = [(rng.standard_normal((m, n)).astype(np.float32) / np.sqrt(m),
                np.zeros(n, np.float32)) for m, n in zip(sizes[:-1], sizes[1:])]
  xb = rng.standard_normal((128, 784)).astype(np.float32)
  yb = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
  pr = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params_np]
  xr_, yr_ = jnp.asarray(xb), jnp.asarray(yb)
  t0 = time.perf_counter()
  step_r = rjax.jit(mlp_step(jnp, rjax))
  out = step_r(pr, xr_, yr_)
  out[1].block_until_ready()
  first_r = time.perf_counter() - t0
  f_j, first_j = None, None
  if jax:
    pj = [(jjnp.asarray(w), jjnp.asarray(b)) for w, b in params_np]
    xj_, yj_ = jjnp.asarray(xb), jjnp.asarray(yb)
    t0 = time.perf_counter()
    step_j = jax.jit(mlp_step(jjnp, jax))
    jax.block_until_ready(step_j(pj, xj_, yj_))
    first_j = time.perf_counter() - t0
    f_j = lambda: jax.block_until_ready(step_j(pj, xj_, yj_))
    lr = float(out[1])
    lj = float(step_j(pj, xj_, yj_)[1])
    assert abs(lr - lj) < 1e-3 * max(1.0, abs(lj)), (lr, lj)
  add("MLP train step 784-512-512-10, batch 128", lambda: step_r(pr, xr_, yr_)[1].block_until_ready(),
      None, f_j)
  rows.append(["first call of that step (trace+compile+run)", fmt_time(first_r), "-", "-",
               fmt_time(first_j) if first_j else "-",
               f"{first_j / first_r:.2f}x" if first_j else "-"])

  # dispatch: jitted x*y+1 on 4 elements; eager op on 4 elements
  s4 = jnp.asarray(np.arange(4, dtype=np.float32))
  small = rjax.jit(lambda a, b: a * b + 1)
  f_j = None
  if jax:
    smallj = jax.jit(lambda a, b: a * b + 1)
    s4j = jjnp.asarray(np.arange(4, dtype=np.float32))
    f_j = lambda: smallj(s4j, s4j).block_until_ready()
  a4 = np.arange(4, dtype=np.float32)
  add("jitted x*y+1, 4 elements, incl. block_until_ready",
      lambda: small(s4, s4).block_until_ready(), lambda: a4 * a4 + 1, f_j)
  f_j = (lambda: (s4j + s4j).block_until_ready()) if jax else None
  add("eager x+y, 4 elements", lambda: (s4 + s4).block_until_ready(), lambda: a4 + a4, f_j)

  header = ["workload", "rjax jit", "NumPy", "NumPy/rjax", "JAX jit", "JAX/rjax"]
  return (f"{machine()}; rjax threads: {rjax._rjax.num_threads()}; "
          f"JAX {jax.__version__ if jax else '-'}\n\n" + table(rows, header))


if __name__ == "__main__":
  p = argparse.ArgumentParser()
  p.add_argument("--quick", action="store_true")
  print(run(p.parse_args().quick))
