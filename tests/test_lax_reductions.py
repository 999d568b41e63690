"""lax reductions, cumulative ops, sort and top_k against NumPy references."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from rjax import lax
from rjax._src.lax import reductions as lr
from rjax._src.interpreters import reference
from util import (all_dtypes, arrays, assert_close, bfloat16, float_dtypes, int_dtypes,
                  noncontiguous, numeric_dtypes)
from util_reductions import shape_and_axes, shape_and_axis

REDUCE = {"reduce_sum": (lax.reduce_sum, lr.reduce_sum_p, numeric_dtypes),
          "reduce_prod": (lax.reduce_prod, lr.reduce_prod_p, numeric_dtypes),
          "reduce_max": (lax.reduce_max, lr.reduce_max_p, all_dtypes),
          "reduce_min": (lax.reduce_min, lr.reduce_min_p, all_dtypes),
          "reduce_and": (lax.reduce_and, lr.reduce_and_p, int_dtypes + [np.dtype(bool)]),
          "reduce_or": (lax.reduce_or, lr.reduce_or_p, int_dtypes + [np.dtype(bool)]),
          "reduce_xor": (lax.reduce_xor, lr.reduce_xor_p, int_dtypes + [np.dtype(bool)])}


@pytest.mark.parametrize("name", sorted(REDUCE))
@given(data=st.data())
def test_reduce_values(name, data):
  fn, prim, dts = REDUCE[name]
  dt = data.draw(st.sampled_from(dts))
  shape, axes = data.draw(shape_and_axes())
  lo, hi = (-1, 1) if name == "reduce_prod" else (None, None)  # no overflow in products
  x = data.draw(arrays(dt, shape, lo=lo, hi=hi))
  if data.draw(st.booleans()):
    x = noncontiguous(x)
  before = x.copy()
  got = fn(x, axes)
  ref = reference.references[prim]
  if dt.kind == "f" or dt == bfloat16:
    want = ref(x.astype(np.float64), axes=axes)
    rtol = {np.dtype(np.float16): 1e-2, bfloat16: 5e-2}.get(dt, 1e-5)
    assert np.asarray(got).dtype == dt
    np.testing.assert_allclose(np.asarray(got).astype(np.float64), want, rtol=rtol,
                               atol=rtol * (1 + np.abs(x.astype(np.float64)).sum()))
  else:
    assert_close(got, ref(x, axes=axes), dt)
  np.testing.assert_array_equal(x, before)


def test_reduce_nan_propagation_and_identity():
  x = np.array([[1.0, np.nan], [2.0, 3.0]], np.float32)
  np.testing.assert_array_equal(np.asarray(lax.reduce_max(x, (1,))), [np.nan, 3.0])
  np.testing.assert_array_equal(np.asarray(lax.reduce_min(x, (0,))), [1.0, np.nan])
  e = np.zeros((0, 3), np.float32)
  np.testing.assert_array_equal(np.asarray(lax.reduce_max(e, (0,))), [-np.inf] * 3)
  np.testing.assert_array_equal(np.asarray(lax.reduce_prod(e, (0,))), [1.0] * 3)
  i = np.zeros((2, 0), np.int8)
  np.testing.assert_array_equal(np.asarray(lax.reduce_min(i, (1,))), [127, 127])
  np.testing.assert_array_equal(np.asarray(lax.reduce_and(i.astype(np.uint8), (1,))), [255, 255])


def test_reduce_errors():
  x = np.ones((3, 4), np.float32)
  with pytest.raises(ValueError, match="reduce_sum: duplicate value"):
    lax.reduce_sum(x, (0, 0))
  with pytest.raises(ValueError, match="reduce_sum: reduction axes"):
    lax.reduce_sum(x, (2,))
  with pytest.raises(TypeError, match="reduce_sum does not accept dtype bool"):
    lax.reduce_sum(np.ones(3, bool), (0,))
  with pytest.raises(TypeError, match="reduce_and does not accept dtype float32"):
    lax.reduce_and(x, (0,))


def test_large_reductions_parallel_accuracy():
  rng = np.random.default_rng(0)
  x = rng.standard_normal(3_000_000).astype(np.float32) + 0.5
  got = float(lax.reduce_sum(x, (0,)))
  want = x.astype(np.float64).sum()
  assert abs(got - want) <= 1e-6 * np.abs(x).astype(np.float64).sum()
  m = x.reshape(1500, 2000)
  for axes in [(0,), (1,)]:
    np.testing.assert_allclose(np.asarray(lax.reduce_sum(m, axes)),
                               m.astype(np.float64).sum(axis=axes), rtol=1e-4, atol=1e-3)
  t = x.reshape(3, 1_000_000)
  np.testing.assert_allclose(np.asarray(lax.reduce_sum(t, (1,))),
                             t.astype(np.float64).sum(axis=1), rtol=1e-6)
  s = x.reshape(750_000, 4)
  np.testing.assert_allclose(np.asarray(lax.reduce_sum(s, (0,))),
                             s.astype(np.float64).sum(axis=0), rtol=1e-5)
  assert float(lax.reduce_max(x, (0,))) == x.max()
  assert int(lax.argmax(x, 0, np.int32)) == int(np.argmax(x))
  h = (x[:1_000_000] * 0.01).astype(np.float16)  # accumulated in f32: no f16 overflow
  want = h.astype(np.float64).sum()
  assert abs(float(lax.reduce_sum(h, (0,))) - want) <= 1e-3 * abs(want)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(data=st.data())
def test_argmax_argmin(name, data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, axis = data.draw(shape_and_axis(min_side=1))
  x = data.draw(arrays(dt, shape, lo=-5, hi=5))
  if dt.kind == "f" and x.size and data.draw(st.booleans()):
    x = x.copy()
    x.reshape(-1)[data.draw(st.integers(0, x.size - 1))] = np.nan
  idt = data.draw(st.sampled_from([np.dtype(np.int32), np.dtype(np.uint8)]))
  fn = getattr(lax, name)
  got = fn(noncontiguous(x), axis, idt)
  xx = x.astype(np.float32) if dt in (bfloat16, np.dtype(np.float16)) else x
  want = getattr(np, name)(xx, axis=axis).astype(idt)
  assert_close(got, want, idt)


def test_argmax_ties_and_errors():
  x = np.array([1.0, 3.0, 3.0, np.nan, np.nan], np.float32)
  assert int(lax.argmax(x, 0, np.int32)) == 3
  assert int(lax.argmin(x, 0, np.int32)) == 3
  assert int(lax.argmax(x[:3], 0, np.int32)) == 1
  assert int(lax.argmin(np.array([2, 0, 0], np.int8), 0, np.int32)) == 1
  with pytest.raises(ValueError, match="argmax: argmin and argmax require non-empty"):
    lax.argmax(np.zeros((0,), np.float32), 0, np.int32)
  with pytest.raises(TypeError, match="argmax: index_dtype must be an integer"):
    lax.argmax(x, 0, np.float32)
  with pytest.raises(ValueError, match="argmin: invalid axis"):
    lax.argmin(x, 1, np.int32)


CUM = ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"]


@pytest.mark.parametrize("name", CUM)
@given(data=st.data())
def test_cumulative(name, data):
  dts = float_dtypes if name == "cumlogsumexp" else numeric_dtypes
  dt = data.draw(st.sampled_from(dts))
  shape, axis = data.draw(shape_and_axis())
  lo, hi = (-2, 2) if name == "cumprod" else (-20, 20)
  x = data.draw(arrays(dt, shape, lo=lo, hi=hi))
  reverse = data.draw(st.booleans())
  before = x.copy()
  got = getattr(lax, name)(noncontiguous(x), axis=axis, reverse=reverse)
  prim = getattr(lr, name + "_p")
  want = reference.references[prim](x, axis=axis, reverse=reverse)
  assert np.asarray(got).dtype == dt
  if dt.kind in "iu":
    np.testing.assert_array_equal(np.asarray(got), want)
  else:
    rtol = {np.dtype(np.float16): 1e-2, bfloat16: 5e-2}.get(dt, 1e-5)
    np.testing.assert_allclose(np.asarray(got).astype(np.float64), want.astype(np.float64),
                               rtol=rtol, atol=rtol * 40)
  np.testing.assert_array_equal(x, before)


def test_cumulative_errors_and_negative_axis():
  x = np.arange(6, dtype=np.int32).reshape(2, 3)
  np.testing.assert_array_equal(np.asarray(lax.cumsum(x, axis=-1)), np.cumsum(x, axis=1))
  with pytest.raises(TypeError, match="cumsum does not accept dtype bool"):
    lax.cumsum(np.ones(3, bool))
  with pytest.raises(OverflowError):   # as JAX: its -inf initial value as an integer
    lax.cumlogsumexp(x)
  with pytest.raises(ValueError, match="cummax: axis 2 is out of bounds"):
    lax.cummax(x, axis=2)


@given(data=st.data())
def test_sort_single_and_multi(data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, dim = data.draw(shape_and_axis())
  x = data.draw(arrays(dt, shape, lo=-3, hi=3))
  if dt.kind == "f" and x.size and data.draw(st.booleans()):
    x = x.copy()
    x.reshape(-1)[0] = np.nan
  before = x.copy()
  got = lax.sort(noncontiguous(x), dimension=dim)
  want = reference.references[lr.sort_p](x, dimension=dim, is_stable=True, num_keys=1)[0]
  assert_close(got, want, dt)
  # two keys and a payload of another dtype
  k2 = data.draw(arrays(np.int8, shape, lo=-2, hi=2))
  pay = np.arange(x.size, dtype=np.int32).reshape(shape)
  nk = data.draw(st.sampled_from([1, 2]))
  outs = lax.sort((x, k2, pay), dimension=dim, num_keys=nk)
  wants = reference.references[lr.sort_p](x, k2, pay, dimension=dim, is_stable=True,
                                          num_keys=nk)
  assert isinstance(outs, tuple) and len(outs) == 3
  for g, w in zip(outs, wants):
    assert_close(g, w, w.dtype)
  np.testing.assert_array_equal(x, before)


def test_sort_nan_last_and_stability():
  x = np.array([1.0, np.nan, -np.inf, 0.0, np.inf, -1.0], np.float32)
  np.testing.assert_array_equal(np.asarray(lax.sort(x)),
                                [-np.inf, -1.0, 0.0, 1.0, np.inf, np.nan])
  keys = np.array([2, 1, 2, 1, 2], np.int32)
  vals = np.arange(5, dtype=np.float32)
  k, v = lax.sort_key_val(keys, vals)
  np.testing.assert_array_equal(np.asarray(v), [1, 3, 0, 2, 4])
  assert np.asarray(k).dtype == np.int32


def test_sort_errors():
  x = np.ones((3, 4), np.float32)
  with pytest.raises(ValueError, match="sort: num_keys=3 must be between 1 and"):
    lax.sort((x, x), num_keys=3)
  with pytest.raises(TypeError, match="sort: arguments to sort must have equal shapes"):
    lax.sort((x, np.ones(3, np.float32)))
  with pytest.raises(ValueError, match="sort: dimension 2 is out of bounds"):
    lax.sort(x, dimension=2)


@given(data=st.data())
def test_top_k(data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, axis = data.draw(shape_and_axis())
  x = data.draw(arrays(dt, shape, lo=-3, hi=3))
  k = data.draw(st.integers(0, shape[axis]))
  vals, idx = lax.top_k(noncontiguous(x), k, axis=axis)
  wv, wi = reference.references[lr.top_k_p](x, k=k, axis=axis)
  assert np.asarray(idx).dtype == np.int32
  assert_close(vals, wv, dt)
  assert_close(idx, wi, np.int32)


def test_top_k_ties_nan_errors():
  vals, idx = lax.top_k(np.array([1.0, np.nan, 3.0, 3.0], np.float32), 3)
  np.testing.assert_array_equal(np.asarray(idx), [1, 2, 3])
  np.testing.assert_array_equal(np.asarray(vals), [np.nan, 3.0, 3.0])
  with pytest.raises(ValueError, match="top_k: k argument to top_k must be no larger"):
    lax.top_k(np.ones(3, np.float32), 4)
  with pytest.raises(ValueError, match="top_k: axis -1 is out of bounds"):
    lax.top_k(np.ones((), np.float32), 1)


def test_long_cumulative_parallel_path():
  x = (np.arange(400_003) % 7 - 3).astype(np.int32)
  for rev in (False, True):
    want = np.cumsum(x[::-1])[::-1] if rev else np.cumsum(x)
    np.testing.assert_array_equal(np.asarray(lax.cumsum(x, reverse=rev)), want)
  f = np.random.default_rng(2).standard_normal(400_003).astype(np.float32)
  np.testing.assert_array_equal(np.asarray(lax.cummax(f)), np.maximum.accumulate(f))
  np.testing.assert_allclose(np.asarray(lax.cumsum(f)), np.cumsum(f.astype(np.float64)),
                             atol=1e-2)
