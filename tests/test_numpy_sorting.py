"""jnp sorting, searching and counting against NumPy (dtypes from JAX 0.10)."""
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax.numpy as jnp
from util import all_dtypes, arrays, bfloat16, noncontiguous
from util_reductions import shape_and_axis

I32 = np.dtype(np.int32)


def _np_view(x):
  return x.astype(np.float32) if x.dtype in (bfloat16, np.dtype(np.float16)) else x


@given(data=st.data())
def test_sort_argsort(data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, axis = data.draw(shape_and_axis())
  x = data.draw(arrays(dt, shape, lo=-3, hi=3))  # small range: many ties
  if dt.kind == "f" and x.size and data.draw(st.booleans()):
    x = x.copy()
    x.reshape(-1)[-1] = np.nan
  ax = data.draw(st.sampled_from([None, axis, axis - len(shape)]))
  before = x.copy()
  xr = _np_view(x)
  got = jnp.sort(noncontiguous(x), axis=ax)
  assert got.dtype == dt
  np.testing.assert_array_equal(np.asarray(got).astype(xr.dtype), np.sort(xr, axis=ax))
  idx = jnp.argsort(x, axis=ax)
  assert idx.dtype == I32
  np.testing.assert_array_equal(np.asarray(idx), np.argsort(xr, axis=ax, kind="stable"))
  # descending, stable: ties keep their order, NaN first (as JAX)
  d = jnp.argsort(x, axis=ax, descending=True)
  flat = xr.reshape(-1) if ax is None else xr
  a = 0 if ax is None else ax
  want = np.flip(np.argsort(np.flip(flat, a), axis=a, kind="stable"), a)
  want = flat.shape[a] - 1 - want
  np.testing.assert_array_equal(np.asarray(d), want)
  sd = jnp.sort(x, axis=ax, descending=True)
  np.testing.assert_array_equal(np.asarray(sd).astype(xr.dtype),
                                np.flip(np.sort(flat, axis=a), a))
  np.testing.assert_array_equal(x, before)


def test_argsort_stability_example():
  x = np.array([3, 1, 2, 1, 3, 1], np.int32)
  np.testing.assert_array_equal(np.asarray(jnp.argsort(x)), [1, 3, 5, 2, 0, 4])
  np.testing.assert_array_equal(np.asarray(jnp.argsort(x, descending=True)), [0, 4, 2, 1, 3, 5])
  f = np.array([np.nan, 1.0, -np.inf, 1.0], np.float32)
  np.testing.assert_array_equal(np.asarray(jnp.argsort(f)), [2, 1, 3, 0])
  np.testing.assert_array_equal(np.asarray(jnp.sort(f, descending=True)),
                                [np.nan, 1.0, 1.0, -np.inf])
  with pytest.raises(TypeError, match="'kind' argument to sort is not supported"):
    jnp.sort(x, kind="quicksort")


@given(data=st.data())
def test_lexsort_partition(data):
  shape, axis = data.draw(shape_and_axis(max_dims=3))
  k1 = data.draw(arrays(np.int8, shape, lo=0, hi=2))
  k2 = data.draw(arrays(np.float32, shape, lo=-2, hi=2))
  np.testing.assert_array_equal(np.asarray(jnp.lexsort((k2, k1), axis=axis)),
                                np.lexsort((k2, k1), axis=axis))
  if shape[axis]:
    kth = data.draw(st.integers(0, shape[axis] - 1))
    p = np.asarray(jnp.partition(k2, kth, axis=axis))
    np.testing.assert_array_equal(np.take(p, kth, axis), np.take(np.partition(k2, kth, axis),
                                                                  kth, axis))
    ap = np.asarray(jnp.argpartition(k2, kth, axis=axis))
    np.testing.assert_array_equal(np.take_along_axis(k2, ap, axis), p)


@given(data=st.data())
def test_searchsorted_digitize(data):
  a = np.sort(data.draw(arrays(np.float32, (data.draw(st.integers(0, 8)),), lo=-5, hi=5)))
  v = data.draw(arrays(np.float32, (data.draw(st.integers(0, 3)), 2), lo=-6, hi=6))
  for side in ("left", "right"):
    got = jnp.searchsorted(a, v, side=side)
    assert got.dtype == I32
    np.testing.assert_array_equal(np.asarray(got), np.searchsorted(a, v, side=side))
  perm = np.random.default_rng(0).permutation(a.size)
  shuffled = a.copy()
  shuffled[perm] = a
  np.testing.assert_array_equal(np.asarray(jnp.searchsorted(shuffled, v, sorter=perm)),
                                np.searchsorted(shuffled, v, sorter=perm))
  if a.size:
    for right in (False, True):
      np.testing.assert_array_equal(np.asarray(jnp.digitize(v, a, right=right)),
                                    np.digitize(v, a, right=right))
      np.testing.assert_array_equal(np.asarray(jnp.digitize(v, a[::-1].copy(), right=right)),
                                    np.digitize(v, a[::-1], right=right))


def test_searchsorted_nan():
  a = np.array([1.0, 2.0, np.nan], np.float32)
  v = np.array([np.nan, 2.0, 5.0], np.float32)
  for side in ("left", "right"):
    np.testing.assert_array_equal(np.asarray(jnp.searchsorted(a, v, side=side)),
                                  np.searchsorted(a, v, side=side))


def test_histogram_bincount():
  rng = np.random.default_rng(1)
  x = rng.standard_normal(200).astype(np.float32)
  for bins, rng_ in [(10, None), (5, (-1.0, 1.0)), (np.array([-2.0, 0.0, 0.5, 3.0]), None)]:
    h, e = jnp.histogram(x, bins=bins, range=rng_)
    wh, we = np.histogram(x, bins=bins, range=rng_)
    assert h.dtype == np.float32   # JAX's counts have the inexact dtype of x
    np.testing.assert_array_equal(np.asarray(h), wh)
    np.testing.assert_allclose(np.asarray(e), we, rtol=1e-6, atol=1e-6)
  w = rng.random(200).astype(np.float32)
  h, _ = jnp.histogram(x, bins=4, weights=w, density=True)
  np.testing.assert_allclose(np.asarray(h), np.histogram(x, bins=4, weights=w, density=True)[0],
                             rtol=1e-5)
  assert jnp.histogram(np.ones(3, np.int32))[1].dtype == np.float32
  b = np.array([0, 1, 1, 3, 1], np.int32)
  np.testing.assert_array_equal(np.asarray(jnp.bincount(b)), np.bincount(b))
  np.testing.assert_array_equal(np.asarray(jnp.bincount(b, minlength=6)),
                                np.bincount(b, minlength=6))
  np.testing.assert_array_equal(np.asarray(jnp.bincount(b, length=2)), [1, 3])
  wb = np.arange(5, dtype=np.float32)
  np.testing.assert_allclose(np.asarray(jnp.bincount(b, wb)), np.bincount(b, wb))
  assert jnp.bincount(b).dtype == I32
  with pytest.raises(TypeError, match="bincount: x argument must have an integer type"):
    jnp.bincount(np.ones(3, np.float32))


def test_unique_nonzero():
  x = np.array([3, 1, 1, 2, 3, 3], np.int32)
  u, idx, inv, cnt = jnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
  wu, widx, winv, wcnt = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
  for g, w in [(u, wu), (idx, widx), (inv, winv), (cnt, wcnt)]:
    np.testing.assert_array_equal(np.asarray(g), w)
    assert g.dtype == I32
  np.testing.assert_array_equal(np.asarray(jnp.unique(x, size=5, fill_value=-1)),
                                [1, 2, 3, -1, -1])
  np.testing.assert_array_equal(np.asarray(jnp.unique(x, size=5)), [1, 2, 3, 1, 1])
  m = np.array([[0, 1, 0], [2, 0, 3]], np.float32)
  for g, w in zip(jnp.nonzero(m), np.nonzero(m)):
    np.testing.assert_array_equal(np.asarray(g), w)
    assert g.dtype == I32
  np.testing.assert_array_equal(np.asarray(jnp.nonzero(m, size=4, fill_value=-1)[1]),
                                [1, 0, 2, -1])
  np.testing.assert_array_equal(np.asarray(jnp.flatnonzero(m)), np.flatnonzero(m))
  np.testing.assert_array_equal(np.asarray(jnp.argwhere(m)), np.argwhere(m))
  with pytest.raises(ValueError, match="Calling nonzero on 0d arrays"):
    jnp.nonzero(np.float32(1))


def test_sorting_inputs_not_mutated():
  x = np.array([3.0, 1.0, 2.0], np.float32)
  before = x.copy()
  jnp.sort(x)
  jnp.argsort(x, descending=True)
  jnp.searchsorted(np.sort(x), x)
  jnp.unique(x)
  jnp.histogram(x)
  np.testing.assert_array_equal(x, before)


_POOL = [0.0, -0.0, 1.0, 2.0, 2.5, -1.0, np.nan, np.inf]


@st.composite
def _search_case(draw):
  dt = draw(st.sampled_from([np.float32, np.int32, np.uint8, np.complex64]))
  n = draw(st.integers(0, 12))
  seed = draw(st.integers(0, 2**31 - 1))
  rng = np.random.default_rng(seed)
  pool = np.array(_POOL if dt in (np.float32, np.complex64) else [0, 1, 2, 3, 5, 7])

  def draw_vals(shape):
    x = np.empty(shape, dt)
    if dt == np.complex64:
      x.real, x.imag = rng.choice(pool, shape), rng.choice(pool, shape)
    else:
      x[...] = rng.choice(pool, shape)
    return x
  a = draw_vals(n)
  if draw(st.booleans()):
    a = np.sort(a)   # (an unsorted a: JAX's binary search decides, so must ours)
  return a, draw_vals(draw(st.sampled_from([(), (4,), (2, 3)])))


@given(_search_case(), st.sampled_from(["left", "right"]),
       st.sampled_from(["scan", "scan_unrolled", "compare_all", "sort"]))
def test_searchsorted_like_jax(case, side, method):
  a, v = case
  got = jnp.searchsorted(a, v, side=side, method=method)
  want = jjnp.searchsorted(a, v, side=side, method=method)
  assert got.dtype == want.dtype and got.shape == want.shape
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_searchsorted_bad_arguments_like_jax():
  for m in (jnp, jjnp):
    with pytest.raises(ValueError):
      m.searchsorted(np.arange(3), 1, method="bogus")
    with pytest.raises(ValueError):
      m.searchsorted(np.arange(3), 1, side="middle")
    with pytest.raises(ValueError):
      m.searchsorted(np.ones((2, 2)), 1)


@pytest.mark.parametrize("case", [
    dict(bins=3), dict(bins=3, density=True), dict(bins=np.array([0.0, 2.0, 3.0, 5.0])),
    dict(bins=3, range=(5, 1)), dict(bins=4, range=(0, 5)), dict(bins=0),
    dict(bins=3, weights=np.arange(6).reshape(2, 3)),
    dict(bins=3, weights=np.arange(6.0).reshape(2, 3), density=True)])
@pytest.mark.parametrize("dt", [np.int32, np.float32, np.complex64, np.bool_])
def test_histogram_like_jax(case, dt):
  # counts in the inexact dtype of a (and weights), complex included; bins
  # from searchsorted, so a reversed range bins as JAX's does
  x = np.array([[1, 2, 2], [4, 0, 5]]).astype(dt)
  if dt == np.complex64:
    x = x + 1j * np.array([[0, 1, 0], [2, 0, 1]], np.float32)
  got, want = jnp.histogram(x, **case), jjnp.histogram(x, **case)
  for g, w in zip(got, want):
    assert g.dtype == w.dtype and g.shape == w.shape
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6)
