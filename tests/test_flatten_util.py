"""rjax.flatten_util.ravel_pytree against jax.flatten_util over drawn trees of
arrays and scalars of mixed dtypes; round trips, jit and grad through it."""
import collections

import jax
import jax.flatten_util
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax.flatten_util import ravel_pytree

dtypes_st = st.sampled_from([np.float32, np.int32, np.bool_, np.float16, np.uint8,
                             ml_dtypes.bfloat16])
shape_st = st.lists(st.integers(0, 3), max_size=2).map(tuple)


@st.composite
def leaf(draw):
  kind = draw(st.sampled_from(["np", "py", "rjax"]))
  if kind == "py":
    return draw(st.one_of(st.integers(-3, 3), st.floats(-2, 2), st.booleans()))
  x = (np.random.RandomState(draw(st.integers(0, 99))).standard_normal(draw(shape_st)) * 3
       ).astype(draw(dtypes_st))
  return jnp.asarray(x) if kind == "rjax" else x


trees = st.recursive(leaf() | st.none(), lambda ch: st.one_of(
    st.lists(ch, max_size=3), st.dictionaries(st.text(max_size=2), ch, max_size=3),
    st.tuples(ch, ch)), max_leaves=6)


def _to_jax(t):
  return jax.tree.map(lambda x: np.asarray(x) if isinstance(x, rjax.Array) else x, t)


@settings(max_examples=60, deadline=None)
@given(trees)
def test_matches_jax(tree):
  flat, unravel = ravel_pytree(tree)
  jflat, junravel = jax.flatten_util.ravel_pytree(_to_jax(tree))
  assert flat.dtype == jflat.dtype and flat.shape == jflat.shape
  np.testing.assert_array_equal(np.asarray(flat), np.asarray(jflat))
  back = unravel(flat)
  jback = junravel(jflat)
  assert rjax.tree.structure(back) == rjax.tree.structure(tree)
  for g, w in zip(rjax.tree.leaves(back), jax.tree.leaves(jback)):
    assert np.asarray(g).dtype == np.asarray(w).dtype and np.shape(g) == np.shape(w)
    np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
  if jflat.dtype != np.float32 or len(jax.tree.leaves(tree)):
    assert unravel == ravel_pytree(tree)[1]          # hashable, comparable
    assert hash(unravel) == hash(ravel_pytree(tree)[1])


def test_wrong_dtype_and_size():
  flat, unravel = ravel_pytree({"a": np.ones(2, np.float32), "b": np.int32(3)})
  assert flat.dtype == np.float32
  with pytest.raises(TypeError, match="expected dtype float32"):
    unravel(np.ones(3, np.int32))
  flat, unravel = ravel_pytree([np.ones(2, np.float32)])
  with pytest.raises(ValueError):
    unravel(jnp.ones(3))


def test_empty_jit_and_grad():
  flat, unravel = ravel_pytree({})
  assert flat.shape == (0,) and flat.dtype == np.float32 and unravel(flat) == {}
  P = collections.namedtuple("P", "w b")
  params = P(np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32))
  flat, unravel = ravel_pytree(params)
  loss = lambda v: jnp.sum(unravel(v).w ** 2) + jnp.sum(jnp.sin(unravel(v).b))
  g = rjax.jit(rjax.grad(loss))(flat)
  np.testing.assert_allclose(g, np.concatenate([2 * np.ones(6), np.cos(np.arange(3))]),
                             rtol=1e-6)
  out = rjax.jit(lambda p: ravel_pytree(p)[0])(params)
  np.testing.assert_array_equal(out, flat)
