"""Set operations and the data-dependent functions (nonzero, argwhere,
flatnonzero, unique, where(cond)) against JAX: without ``size`` on concrete
input, with a static ``size`` eagerly and under ``jit`` and ``vmap``."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from rjax import errors
from util_vs_jax import assert_same, same_exception, same_outcome

# a few shapes, so compiled programs (rjax's and JAX's) are reused across examples
ints = hnp.arrays(np.int32, st.sampled_from([(0,), (5,), (2, 3), (3, 1, 2)]),
                  elements=st.integers(-3, 3))


def _floats_with_specials(draw):
  x = draw(hnp.arrays(np.float32, st.sampled_from([0, 9]), elements=st.sampled_from(
      [0.0, -0.0, 1.0, -2.5, np.nan, np.inf, -np.inf, 3.0])))
  return x


@settings(max_examples=15, deadline=None)
@given(ints, st.data())
def test_nonzero_family_with_size(x, data):
  size = data.draw(st.sampled_from([0, 3, 8]))
  fill = data.draw(st.sampled_from([None, -1, 7]))
  for name in ("nonzero", "flatnonzero", "argwhere"):
    f = lambda m, n=name: getattr(m, n)(x, size=size, fill_value=fill)  # noqa: E731
    assert_same(f(jnp), f(jjnp))
  assert_same(rjax.jit(lambda v: jnp.where(v, size=size))(x),
              jnp.where(x, size=size))
  # without size: concrete input only
  for name in ("nonzero", "flatnonzero", "argwhere"):
    assert_same(getattr(jnp, name)(x), getattr(jjnp, name)(x))


def test_nonzero_family_under_jit():
  x = np.array([[0, 3, 0], [2, 0, 5]], np.int32)
  for name in ("nonzero", "flatnonzero", "argwhere"):
    for size, fill in ((2, None), (5, -1), (5, None)):
      got = rjax.jit(lambda v, n=name: getattr(jnp, n)(v, size=size, fill_value=fill))(x)
      want = jax.jit(lambda v, n=name: getattr(jjnp, n)(v, size=size, fill_value=fill))(x)
      assert_same(got, want)


def test_nonzero_errors_and_vmap():
  with pytest.raises(errors.ConcretizationTypeError, match="size="):
    rjax.jit(jnp.nonzero)(np.array([0, 1]))
  with pytest.raises(ValueError, match="0d arrays"):
    jnp.nonzero(np.float32(1))
  with pytest.raises(ValueError, match="fill_value"):
    jnp.nonzero(np.ones((2, 2)), size=2, fill_value=(1, 2, 3))
  x = np.array([[0, 3, 0, 1], [2, 0, 0, 0]], np.int32)
  got = rjax.vmap(lambda v: jnp.nonzero(v, size=3, fill_value=-1)[0])(x)
  want = jax.vmap(lambda v: jjnp.nonzero(v, size=3, fill_value=-1)[0])(x)
  assert_same(got, want)
  # where(c) with size under grad of a function that uses it as indices
  g = rjax.grad(lambda v: v[jnp.nonzero(v > 0, size=2)[0]].sum())(np.array([1., -1., 2.]))
  assert_same(g, jax.grad(lambda v: v[jjnp.nonzero(v > 0, size=2)[0]].sum())(
      np.array([1., -1., 2.])))


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_unique_against_jax(data):
  x = data.draw(ints)
  kw = dict(return_index=data.draw(st.booleans()), return_inverse=data.draw(st.booleans()),
            return_counts=data.draw(st.booleans()))
  assert_same(jnp.unique(x, **kw), jjnp.unique(x, **kw))
  if x.ndim > 1 and x.size:
    ax = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert_same(jnp.unique(x, axis=ax, **kw), jjnp.unique(x, axis=ax, **kw))
  size = data.draw(st.sampled_from([1, 4, 9]))
  fill = data.draw(st.sampled_from([None, 9]))
  if x.size == 0 and fill is None:
    fill = 9
  assert_same(jnp.unique(x, size=size, fill_value=fill, **kw),
              jjnp.unique(x, size=size, fill_value=fill, **kw))


def test_unique_under_jit():
  x = np.array([[3, 1, 3], [2, 1, 7]], np.int32)
  for kw in ({}, dict(return_index=True, return_inverse=True, return_counts=True)):
    for size, fill in ((3, None), (6, 0)):
      got = rjax.jit(lambda v: jnp.unique(v, size=size, fill_value=fill, **kw))(x)
      assert_same(got, jjnp.unique(x, size=size, fill_value=fill, **kw))
  got = rjax.jit(lambda v: jnp.unique(v, axis=0, size=2, return_counts=True))(x[[0, 1, 0]])
  assert_same(got, jjnp.unique(x[[0, 1, 0]], axis=0, size=2, return_counts=True))


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_unique_floats_nan_and_signed_zero(data):
  x = _floats_with_specials(data.draw)
  for eq in (True, False):
    assert_same(jnp.unique(x, return_index=True, return_inverse=True, return_counts=True,
                           equal_nan=eq),
                jjnp.unique(x, return_index=True, return_inverse=True, return_counts=True,
                            equal_nan=eq))
  for name in ("unique_all", "unique_counts", "unique_inverse", "unique_values"):
    got, want = getattr(jnp, name)(x), getattr(jjnp, name)(x)
    assert_same(tuple(got) if isinstance(got, tuple) else got,
                tuple(want) if isinstance(want, tuple) else want)
  if name != "unique_values":
    assert got._fields == want._fields


def test_unique_errors():
  with pytest.raises(errors.ConcretizationTypeError, match="size"):
    rjax.jit(jnp.unique)(np.array([1, 2]))
  with pytest.raises(ValueError, match="fill_value must be specified"):
    jnp.unique(np.zeros((0,)), size=2)


setsides = hnp.arrays(np.int32, st.sampled_from([0, 4, 7]), elements=st.integers(-4, 4))


@settings(max_examples=12, deadline=None)
@given(setsides, setsides, st.data())
def test_set_operations(a, b, data):
  for name in ("union1d", "intersect1d", "setdiff1d", "setxor1d"):
    assert_same(getattr(jnp, name)(a, b), getattr(jjnp, name)(a, b))
    size = data.draw(st.sampled_from([0, 3, 9]))
    fill = data.draw(st.sampled_from([None, -9]))
    if name == "union1d" and a.size + b.size == 0 and fill is None:
      fill = -9
    if name in ("intersect1d", "setxor1d") and size == 0 and fill is None:
      size = 1   # (JAX raises for size=0 without fill_value; test_set_op_edge_cases)
    kw = dict(size=size, fill_value=fill)
    same_outcome(lambda n=name: getattr(jnp, n)(a, b, **kw),
                 lambda n=name: getattr(jjnp, n)(a, b, **kw))
  ua, ub = np.unique(a), np.unique(b)
  for name in ("intersect1d", "setdiff1d", "setxor1d"):
    assert_same(getattr(jnp, name)(ua, ub, assume_unique=True),
                getattr(jjnp, name)(ua, ub, assume_unique=True))
  assert_same(jnp.intersect1d(a, b, return_indices=True),
              jjnp.intersect1d(a, b, return_indices=True))
  s = data.draw(st.sampled_from([1, 5]))
  if (a.size == 0) != (b.size == 0):   # JAX (and rjax) refuse: a gather from an empty array
    same_exception(lambda: jnp.intersect1d(a, b, return_indices=True, size=s),
                   lambda: jjnp.intersect1d(a, b, return_indices=True, size=s))
  else:
    assert_same(jnp.intersect1d(a, b, return_indices=True, size=s),
                jjnp.intersect1d(a, b, return_indices=True, size=s))


def test_set_ops_under_jit_and_edge_cases():
  a, b = np.array([1, 2, 3, 4, 4, 9], np.int32), np.array([3, 4, 5, 6, 6], np.int32)
  for name in ("union1d", "intersect1d", "setdiff1d", "setxor1d"):
    got = rjax.jit(lambda u, v, n=name: getattr(jnp, n)(u, v, size=8))(a, b)
    assert_same(got, getattr(jjnp, name)(a, b, size=8))
  got = rjax.jit(lambda u, v: jnp.intersect1d(u, v, size=3, return_indices=True))(a, b)
  assert_same(got, jjnp.intersect1d(a, b, size=3, return_indices=True))
  e = np.array([], np.int32)
  for name in ("intersect1d", "setxor1d"):
    with pytest.raises(ValueError):      # as JAX: size=0 needs a fill_value
      getattr(jnp, name)(e, e, size=0)
    assert_same(getattr(jnp, name)(e, e, size=0, fill_value=1),
                getattr(jjnp, name)(e, e, size=0, fill_value=1))
  with pytest.raises(errors.ConcretizationTypeError):
    rjax.jit(jnp.union1d)(a, b)


@settings(max_examples=15, deadline=None)
@given(ints, setsides, st.sampled_from(["auto", "compare_all", "binary_search", "sort"]),
       st.booleans())
def test_isin(x, t, method, invert):
  assert_same(jnp.isin(x, t, method=method, invert=invert),
              jjnp.isin(x, t, method=method, invert=invert))


def test_isin_under_jit():
  x, t = np.array([[1, 5], [3, 7]], np.int32), np.array([3, 4, 5], np.int32)
  for method in ("auto", "binary_search", "sort"):
    got = rjax.jit(lambda u, v: jnp.isin(u, v, method=method, invert=True))(x, t)
    assert_same(got, jjnp.isin(x, t, method=method, invert=True))


def test_isin_bad_method():
  with pytest.raises(ValueError, match="method"):
    jnp.isin(np.arange(3), np.arange(2), method="nope")
