"""jit with the fusing compiler: results against eager (the unfused path) for
random elementwise/reduction programs, the plan shows one kernel for a
chain and its reduction, donation deletes arguments, and one jitted function
runs from many threads."""
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp

UNARY = [jnp.tanh, jnp.exp, jnp.sin, lambda v: v * v, jnp.negative, jnp.abs,
         lambda v: jnp.maximum(v, 0.0), lambda v: jax_logistic(v), jnp.log1p]


def jax_logistic(v):
  return 1.0 / (1.0 + jnp.exp(-v))


def _n_kernels(lowered) -> int:
  plan = lowered.as_text().split("plan(inputs:")[1]
  return sum(1 for line in plan.splitlines() if " = " in line)


@given(ops=st.lists(st.integers(0, len(UNARY) - 1), min_size=1, max_size=8),
       shape=st.sampled_from([(7,), (1000,), (33, 65), (5, 1, 300), (70000,)]),
       red=st.sampled_from([None, "all", "last", "first"]), seed=st.integers(0, 1000))
def test_random_chains_match_eager(ops, shape, red, seed):
  x = np.random.default_rng(seed).uniform(0.1, 1.5, shape).astype(np.float32)
  b = np.random.default_rng(seed + 1).uniform(0.1, 1.5, shape[-1:]).astype(np.float32)

  def f(v, w):
    for k in ops:
      v = UNARY[k](v) + w
    if red == "all":
      return jnp.sum(v), jnp.max(v)
    if red == "last":
      return jnp.sum(v, axis=-1), v
    if red == "first":
      return jnp.sum(v, axis=0), jnp.min(v, axis=0)
    return v

  xa, ba = jnp.asarray(x), jnp.asarray(b)
  got, want = rjax.jit(f)(xa, ba), f(xa, ba)
  for g, w in zip(rjax.tree_util.tree_leaves(got), rjax.tree_util.tree_leaves(want)):
    assert g.shape == w.shape and g.dtype == w.dtype
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=2e-5)


def test_chain_and_its_reduction_are_one_kernel():
  x = jnp.asarray(np.random.default_rng(0).standard_normal((300, 129)).astype(np.float32))
  f = rjax.jit(lambda v: jnp.sum(jnp.tanh(v) * 2.0 + jnp.exp(-v * v), axis=1))
  low = f.lower(x)
  assert _n_kernels(low) == 1
  assert "fused[" in low.as_text() and "reduce rows" in low.as_text()
  ref = np.sum(np.tanh(np.asarray(x)) * 2 + np.exp(-np.asarray(x) ** 2), axis=1)
  np.testing.assert_allclose(np.asarray(f(x)), ref, rtol=1e-5)
  selu = rjax.jit(lambda v: 1.05 * jnp.where(v > 0, v, 1.67 * jnp.exp(v) - 1.67))
  assert _n_kernels(selu.lower(x)) == 1
  g = rjax.jit(rjax.grad(lambda v: jnp.sum(v * v)))
  np.testing.assert_allclose(np.asarray(g(x)), 2 * np.asarray(x), rtol=1e-6)
  assert _n_kernels(g.lower(x)) == 1


@given(shape=st.sampled_from([(3, 7), (64, 1024), (5, 1, 300), (2, 1500), (70, 33), (4, 1)]),
       kind=st.sampled_from(["softmax", "logsumexp", "center"]), seed=st.integers(0, 1000))
def test_row_reductions_read_back_per_row_match_eager(shape, kind, seed):
  x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 3

  def f(v):
    m = jnp.max(v, axis=-1, keepdims=True)
    if kind == "softmax":
      e = jnp.exp(v - m)
      return e / jnp.sum(e, axis=-1, keepdims=True)
    if kind == "logsumexp":
      return jnp.log(jnp.sum(jnp.exp(v - m), axis=-1)) + m[..., 0], m
    c = v - jnp.mean(v, axis=-1, keepdims=True)
    return c * jnp.tanh(jnp.sum(c * c, axis=-1, keepdims=True))

  xa = jnp.asarray(x)
  got, want = rjax.jit(f)(xa), f(xa)
  for g, w in zip(rjax.tree_util.tree_leaves(got), rjax.tree_util.tree_leaves(want)):
    assert g.shape == w.shape and g.dtype == w.dtype
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=2e-6)


def test_softmax_and_logsumexp_are_one_pass():
  x = jnp.asarray(np.random.default_rng(1).standard_normal((256, 1024)).astype(np.float32))

  def softmax(v):
    e = jnp.exp(v - jnp.max(v, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)

  low = rjax.jit(softmax).lower(x)
  assert _n_kernels(low) == 1 and "3 phases" in low.as_text()
  lse = rjax.jit(lambda v: jnp.log(jnp.sum(jnp.exp(v - jnp.max(v, -1, keepdims=True)), -1)))
  assert "2 phases" in lse.lower(x).as_text()
  xn = np.asarray(x).astype(np.float64)
  e = np.exp(xn - xn.max(-1, keepdims=True))
  np.testing.assert_allclose(np.asarray(rjax.jit(softmax)(x)), e / e.sum(-1, keepdims=True),
                             rtol=1e-5, atol=1e-7)


def test_donation_deletes_the_argument():
  step = rjax.jit(lambda p, g: p - 0.1 * g, donate_argnums=0)
  p, g = jnp.ones(1000), jnp.full(1000, 2.0)
  out = step(p, g)
  np.testing.assert_allclose(np.asarray(out), 0.8)
  assert p.is_deleted() and not g.is_deleted() and not out.is_deleted()
  with pytest.raises(RuntimeError, match="deleted"):
    np.asarray(p)
  with pytest.raises(RuntimeError, match="deleted"):
    step(p, g)
  with pytest.raises(RuntimeError, match="deleted"):
    p + 1
  named = rjax.jit(lambda params, x: {k: v * x for k, v in params.items()},
                   donate_argnames="params")
  params = {"a": jnp.ones(3), "b": jnp.zeros(3)}
  named(params, 2.0)
  assert params["a"].is_deleted() and params["b"].is_deleted()


def test_one_jitted_function_from_many_threads():
  f = rjax.jit(lambda v: jnp.sum(jnp.tanh(v) * v, axis=0))
  xs = [np.random.default_rng(i).standard_normal((2000, 40)).astype(np.float32)
        for i in range(8)]
  results, errors = [None] * 8, []

  def work(i):
    try:
      for _ in range(10):
        results[i] = np.asarray(f(jnp.asarray(xs[i])))
    except BaseException as e:  # noqa: BLE001
      errors.append(e)

  ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
  for t in ts:
    t.start()
  for t in ts:
    t.join()
  assert not errors, errors
  for i in range(8):
    np.testing.assert_allclose(results[i], np.sum(np.tanh(xs[i]) * xs[i], axis=0), rtol=1e-4,
                               atol=1e-4)


def test_block_until_ready_and_device_get_on_pytrees():
  tree = {"a": jnp.arange(3.0), "b": (jnp.ones(2), 5)}
  assert rjax.block_until_ready(tree) is tree
  got = rjax.device_get(tree)
  assert isinstance(got["a"], np.ndarray) and isinstance(got["b"][0], np.ndarray)
  np.testing.assert_array_equal(got["a"], [0.0, 1.0, 2.0])
  assert got["b"][1] == 5
  with pytest.raises(TypeError, match="device_get"):
    rjax.jit(lambda v: rjax.device_get(v))(jnp.ones(2))
