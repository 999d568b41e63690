"""The first set of per-primitive derivative and batching rules (elementwise
arithmetic and transcendentals, convert, select_n, broadcast_in_dim, reshape,
reduce_sum): numerical gradient checks in float64 to order 2, vmap against a
Python loop, and the seed examples of the transformations issue."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.test_util import check_grads
from util import enable_x64

UNARY = [("neg", lax.neg, None), ("exp", lax.exp, None), ("log", lax.log, "pos"),
         ("tanh", lax.tanh, None), ("logistic", lax.logistic, None), ("sin", lax.sin, None),
         ("cos", lax.cos, None), ("sqrt", lax.sqrt, "pos"), ("square", lax.square, None),
         ("log1p", lax.log1p, "pos"), ("expm1", lax.expm1, None), ("abs", lax.abs, "away"),
         ("cube", lambda x: lax.integer_pow(x, 3), None)]
BINARY = [("add", lax.add), ("sub", lax.sub), ("mul", lax.mul), ("div", lax.div),
          ("max", lax.max), ("min", lax.min)]


def _draw(rng, shape, domain=None):
  x = rng.standard_normal(shape)
  if domain == "pos":
    x = np.abs(x) + 0.5
  if domain == "away":
    x = np.where(np.abs(x) < 0.2, 0.5, x)
  return x


@pytest.mark.parametrize("name,fn,domain", UNARY, ids=[u[0] for u in UNARY])
@given(shape=st.sampled_from([(), (3,), (2, 3)]), seed=st.integers(0, 2**16))
def test_unary_grads(name, fn, domain, shape, seed):
  with enable_x64():
    x = jnp.asarray(_draw(np.random.default_rng(seed), shape, domain))
    check_grads(fn, (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name,fn", BINARY, ids=[b[0] for b in BINARY])
@given(shapes=st.sampled_from([((), ()), ((3,), (3,)), ((2, 3), ()), ((2, 3), (1, 3)),
                               ((2, 1), (1, 3))]), seed=st.integers(0, 2**16))
def test_binary_grads_with_lax_broadcasting(name, fn, shapes, seed):
  rng = np.random.default_rng(seed)
  with enable_x64():
    while True:
      x = _draw(rng, shapes[0])
      y = _draw(rng, shapes[1], "pos" if name == "div" else None) + 0.3
      # max/min have a kink at x == y: numerical differences must not cross it
      if name not in ("max", "min") or np.min(np.abs(np.subtract(x, y)), initial=1) > 1e-2:
        break
    check_grads(fn, (jnp.asarray(x), jnp.asarray(y)), order=2, modes=("fwd", "rev"))


def test_shape_and_reduce_rules():
  with enable_x64():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3)))
    check_grads(lambda x: lax.reduce_sum(jnp.tanh(x), (1,)), (x,), order=2)
    check_grads(lambda x: lax.broadcast_in_dim(x, (4, 2, 3), (1, 2)) * 2.0, (x,), order=2)
    check_grads(lambda x: lax.reshape(x, (3, 2)) ** 2, (x,), order=2)
    check_grads(lambda x: lax.select(x > 0, x * 3.0, jnp.exp(x)), (x,), order=1)
    check_grads(lambda x: lax.convert_element_type(x, np.float32).astype(np.float64) * x, (x,),
                order=1, atol=1e-3, rtol=1e-3)


def test_seed_examples():
  f = lambda x: x ** 3 + 2 * x
  assert [float(rjax.grad(f)(2.0)), float(rjax.grad(rjax.grad(f))(2.0)),
          float(rjax.grad(rjax.grad(rjax.grad(f)))(2.0))] == [14.0, 12.0, 6.0]
  np.testing.assert_array_equal(
      np.asarray(rjax.grad(lambda x: jnp.sum(x * x))(jnp.array([1, 2, 3.0]))), [2.0, 4.0, 6.0])
  assert str(rjax.make_jaxpr(f)(2.0)) == (
      "{ lambda ; a:f32[]. let\n    b:f32[] = integer_pow[y=3] a\n"
      "    c:f32[] = mul 2.0:f32[] a\n    d:f32[] = add b c\n  in (d,) }")


def test_jax_gradient_conventions():
  assert float(rjax.grad(jnp.abs)(0.0)) == 1.0
  assert float(rjax.grad(lambda x: lax.max(x, 1.0))(1.0)) == 0.5      # ties split
  assert float(rjax.grad(jnp.sqrt)(0.0)) == np.inf


@given(n=st.integers(1, 4), m=st.integers(1, 3), seed=st.integers(0, 1000))
def test_vmap_matches_loop(n, m, seed):
  rng = np.random.default_rng(seed)
  xs = rng.standard_normal((n, m)).astype(np.float32)
  ys = rng.standard_normal((m,)).astype(np.float32)
  f = lambda x, y: jnp.sum(jnp.tanh(x) * y + jnp.maximum(x, 0.0)) - lax.exp(x)
  out = rjax.vmap(f, in_axes=(0, None))(jnp.asarray(xs), jnp.asarray(ys))
  ref = np.stack([np.asarray(f(jnp.asarray(x), jnp.asarray(ys))) for x in xs])
  np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-6, atol=1e-6)
  g = rjax.vmap(rjax.grad(lambda x: jnp.sum(jnp.tanh(x) ** 2)))(jnp.asarray(xs))
  gref = 2 * np.tanh(xs) * (1 - np.tanh(xs) ** 2)
  np.testing.assert_allclose(np.asarray(g), gref, rtol=1e-5, atol=1e-6)
