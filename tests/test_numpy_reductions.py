"""jnp reductions against NumPy; result dtypes hard-coded from JAX 0.10 (x64 off)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax.numpy as jnp
from util import all_dtypes, arrays, bfloat16, float_dtypes, noncontiguous, numeric_dtypes
from util_reductions import shape_and_axes

I32, U32, F32 = np.dtype(np.int32), np.dtype(np.uint32), np.dtype(np.float32)

# JAX's result dtypes (checked with jax 0.10.2, x64 disabled).
SUM_DTYPE = {"bool": I32, "int8": I32, "int16": I32, "int32": I32, "uint8": U32,
             "uint16": U32, "uint32": U32, "float16": np.dtype(np.float16),
             "bfloat16": bfloat16, "float32": F32}


def _ref_dtype_input(x):
  return x.astype(np.float64) if x.dtype.kind == "f" or x.dtype == bfloat16 else x


def _rtol(dt):
  return {np.dtype(np.float16): 1e-2, bfloat16: 5e-2}.get(np.dtype(dt), 1e-5)


def _close(got, want, dt, scale=1.0):
  got = np.asarray(got)
  if np.dtype(dt).kind in "iub":
    np.testing.assert_array_equal(got, np.asarray(want).astype(got.dtype))
  else:
    r = _rtol(dt)
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=r,
                               atol=r * scale, equal_nan=True)


def _axis(data, axes, nd):
  kind = data.draw(st.sampled_from(["none", "tuple", "int"]))
  if kind == "none":
    return None
  if kind == "int" and axes:
    return axes[0] - nd if data.draw(st.booleans()) else axes[0]
  return axes


@given(data=st.data())
def test_sum_prod_dtypes_and_values(data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, axes = data.draw(shape_and_axes())
  x = data.draw(arrays(dt, shape, lo=-1, hi=1))  # products stay finite
  axis = _axis(data, axes, len(shape))
  keepdims = data.draw(st.booleans())
  before = x.copy()
  for f in ("sum", "prod"):
    got = getattr(jnp, f)(noncontiguous(x), axis=axis, keepdims=keepdims)
    assert got.dtype == SUM_DTYPE[dt.name]
    want = getattr(np, f)(_ref_dtype_input(x), axis=axis, keepdims=keepdims)
    if SUM_DTYPE[dt.name].kind in "iu":
      want = np.asarray(want).astype(np.int64).astype(SUM_DTYPE[dt.name])
    _close(got, want, SUM_DTYPE[dt.name], scale=1 + np.abs(_ref_dtype_input(x)).sum())
  np.testing.assert_array_equal(x, before)


@given(data=st.data())
def test_max_min_any_all(data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, axes = data.draw(shape_and_axes(min_side=1))
  x = data.draw(arrays(dt, shape, lo=-5, hi=5))
  axis = _axis(data, axes, len(shape))
  keepdims = data.draw(st.booleans())
  xr = _ref_dtype_input(x)
  for f in ("max", "min", "amax", "amin", "ptp"):
    if f == "ptp" and dt.kind == "b":
      continue
    got = getattr(jnp, f)(x, axis=axis, keepdims=keepdims)
    assert got.dtype == dt
    want = getattr(np, f)(xr.astype(np.int64) if f == "ptp" and dt.kind in "iu" else xr,
                          axis=axis, keepdims=keepdims)
    _close(got, np.asarray(want).astype(np.float64).astype(dt) if dt.kind in "iu" else want,
           dt)
  for f in ("any", "all"):
    got = getattr(jnp, f)(x, axis=axis, keepdims=keepdims)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(np.asarray(got), getattr(np, f)(x != 0, axis=axis,
                                                                  keepdims=keepdims))


@given(data=st.data())
def test_mean_var_std(data):
  dt = data.draw(st.sampled_from(numeric_dtypes + [np.dtype(bool)]))
  shape, axes = data.draw(shape_and_axes(min_side=1))
  x = data.draw(arrays(dt, shape, lo=-10, hi=10))
  axis = _axis(data, axes, len(shape))
  keepdims = data.draw(st.booleans())
  out_dt = dt if dt.kind == "f" or dt == bfloat16 else F32
  xr = x.astype(np.float64)
  got = jnp.mean(x, axis=axis, keepdims=keepdims)
  assert got.dtype == out_dt
  _close(got, np.mean(xr, axis=axis, keepdims=keepdims), out_dt, scale=10)
  for f in ("var", "std"):
    got = getattr(jnp, f)(x, axis=axis, keepdims=keepdims)
    assert got.dtype == out_dt
    _close(got, getattr(np, f)(xr, axis=axis, keepdims=keepdims), out_dt, scale=100)


def test_ddof_correction_dtype_where_initial():
  x = np.arange(12, dtype=np.float32).reshape(3, 4)
  np.testing.assert_allclose(np.asarray(jnp.var(x, axis=1, ddof=1)), np.var(x, axis=1, ddof=1),
                             rtol=1e-6)
  np.testing.assert_allclose(np.asarray(jnp.std(x, correction=1)), np.std(x, ddof=1), rtol=1e-6)
  w = x % 2 == 0
  np.testing.assert_allclose(np.asarray(jnp.sum(x, axis=0, where=w)), np.sum(x, axis=0, where=w))
  np.testing.assert_allclose(np.asarray(jnp.mean(x, axis=1, where=w)),
                             np.mean(x, axis=1, where=w), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(jnp.max(x, axis=1, where=w, initial=-5)),
                             np.max(x, axis=1, where=w, initial=-5))
  np.testing.assert_allclose(np.asarray(jnp.sum(x, initial=10.0)), x.sum() + 10)
  assert jnp.sum(np.ones(3, np.int8), dtype=np.int8).dtype == np.int8
  assert jnp.sum(np.ones(3, np.uint8)).dtype == np.uint32
  assert jnp.sum(np.ones(3, bool)).dtype == np.int32
  assert jnp.mean(np.ones(3, np.int8)).dtype == np.float32
  assert jnp.mean(np.ones(3, np.float16)).dtype == np.float16
  assert jnp.prod(np.ones(3, np.int16)).dtype == np.int32
  assert jnp.max(np.ones(3, np.int16)).dtype == np.int16
  assert jnp.var(np.ones(3, np.float16)).dtype == np.float16
  assert jnp.count_nonzero(x).dtype == np.int32
  assert int(jnp.count_nonzero(x)) == 11
  np.testing.assert_array_equal(np.asarray(jnp.count_nonzero(x, axis=0)),
                                np.count_nonzero(x, axis=0))
  assert jnp.ptp(np.ones(3, np.uint8)).dtype == np.uint8


def test_reduction_errors():
  x = np.ones((3, 4), np.float32)
  with pytest.raises(ValueError, match="axis 2 is out of bounds"):
    jnp.sum(x, axis=2)
  with pytest.raises(ValueError, match="repeated axis"):
    jnp.sum(x, axis=(0, 0))
  with pytest.raises(ValueError, match="zero-size array to reduction operation max"):
    jnp.max(np.zeros((0,), np.float32))
  with pytest.raises(ValueError, match="attempt to get argmax of an empty sequence"):
    jnp.argmax(np.zeros((0,), np.float32))
  with pytest.raises(NotImplementedError, match="sum: the 'out' argument"):
    jnp.sum(x, out=x)
  assert float(jnp.sum(np.zeros((0,), np.float32))) == 0.0


@given(data=st.data())
def test_argmax_argmin(data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, axes = data.draw(shape_and_axes(min_dims=1, min_side=1))
  x = data.draw(arrays(dt, shape, lo=-3, hi=3))
  axis = data.draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
  keepdims = data.draw(st.booleans())
  xr = x.astype(np.float32) if dt in (bfloat16, np.dtype(np.float16)) else x
  for f in ("argmax", "argmin"):
    got = getattr(jnp, f)(x, axis=axis, keepdims=keepdims)
    assert got.dtype == I32
    np.testing.assert_array_equal(np.asarray(got), getattr(np, f)(xr, axis=axis,
                                                                  keepdims=keepdims))


def test_nan_functions():
  x = np.array([[np.nan, 1.0, 3.0], [np.nan, np.nan, np.nan], [2.0, -1.0, np.nan]], np.float32)
  with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
    for f in ("nanmax", "nanmin", "nanmean", "nanvar", "nanstd", "nanmedian"):
      got = getattr(jnp, f)(x, axis=1)
      np.testing.assert_allclose(np.asarray(got), getattr(np, f)(x, axis=1), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(jnp.nansum(x, axis=0)), np.nansum(x, axis=0))
  np.testing.assert_allclose(np.asarray(jnp.nanprod(x, axis=0)), np.nanprod(x, axis=0))
  np.testing.assert_array_equal(np.asarray(jnp.nanargmax(x, axis=1)), [2, -1, 0])
  np.testing.assert_array_equal(np.asarray(jnp.nanargmin(x, axis=1)), [1, -1, 1])
  np.testing.assert_allclose(np.asarray(jnp.nancumsum(x, axis=1)), np.nancumsum(x, axis=1))
  np.testing.assert_allclose(np.asarray(jnp.nancumprod(x)), np.nancumprod(x))
  assert jnp.nansum(np.ones(3, np.int8)).dtype == np.int32
  np.testing.assert_allclose(np.asarray(jnp.nanquantile(x, 0.25, axis=1)), [1.5, np.nan, -0.25],
                             rtol=1e-6)


@given(data=st.data())
def test_cumsum_cumprod(data):
  dt = data.draw(st.sampled_from(all_dtypes))
  shape, axes = data.draw(shape_and_axes(min_dims=1))
  x = data.draw(arrays(dt, shape, lo=-2, hi=2))
  axis = data.draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
  out_dt = I32 if dt == np.bool_ else dt
  for f in ("cumsum", "cumprod"):
    got = getattr(jnp, f)(noncontiguous(x), axis=axis)
    assert got.dtype == out_dt
    want = getattr(np, f)(_ref_dtype_input(x), axis=axis)
    if out_dt.kind in "iu":
      want = want.astype(np.int64).astype(out_dt)
    _close(got, want, out_dt, scale=50)
  if len(shape) == 1:
    np.testing.assert_allclose(np.asarray(jnp.cumulative_sum(x)).astype(np.float64),
                               np.asarray(jnp.cumsum(x)).astype(np.float64))


def test_cumulative_functions():
  x = np.arange(1, 7, dtype=np.int32).reshape(2, 3)
  np.testing.assert_array_equal(np.asarray(jnp.cumulative_sum(x, axis=1)), np.cumsum(x, 1))
  np.testing.assert_array_equal(np.asarray(jnp.cumulative_prod(x, axis=0)), np.cumprod(x, 0))
  assert jnp.cumsum(np.ones(3, np.uint8)).dtype == np.uint8
  assert jnp.cumsum(np.ones(3, np.int8), dtype=np.float32).dtype == np.float32
  with pytest.raises(ValueError, match="cumulative_sum: the input array has more than 1"):
    jnp.cumulative_sum(x)


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
@given(data=st.data())
def test_quantile_methods(method, data):
  dt = data.draw(st.sampled_from(float_dtypes[:1] + [np.dtype(np.int32)]))
  shape, axes = data.draw(shape_and_axes(min_dims=1, max_dims=3, min_side=1))
  x = data.draw(arrays(dt, shape, lo=-50, hi=50))
  axis = data.draw(st.sampled_from([None] + list(range(len(shape)))))
  q = data.draw(st.sampled_from([0.0, 0.3, 0.5, 1.0, (0.25, 0.75)]))
  keepdims = data.draw(st.booleans())
  got = jnp.quantile(x, np.asarray(q), axis=axis, method=method, keepdims=keepdims)
  assert got.dtype == F32
  xr = x.astype(np.float64)
  if method == "nearest":  # JAX: the lower neighbour unless the fraction exceeds 1/2
    s = np.sort(xr, axis=axis if axis is not None else None)
    axis_ = axis if axis is not None else 0
    n = s.shape[axis_]
    qs = np.atleast_1d(q)
    outs = []
    for qq in qs:
      pos = qq * (n - 1)
      lo = int(np.floor(pos))
      i = lo + 1 if pos - lo > 0.5 else lo
      r = np.take(s, i, axis=axis_)
      if keepdims:
        r = np.expand_dims(r, axis_) if axis is not None else r.reshape((1,) * x.ndim)
      outs.append(r)
    want = outs[0] if np.ndim(q) == 0 else np.stack(outs)
  else:
    want = np.quantile(xr, q, axis=axis, method=method, keepdims=keepdims)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-4)


def test_median_percentile_average():
  x = np.array([[3.0, 1.0, 2.0, 4.0], [1.0, np.nan, 0.0, 2.0]], np.float32)
  np.testing.assert_allclose(np.asarray(jnp.median(x, axis=1)), np.median(x, axis=1))
  np.testing.assert_allclose(np.asarray(jnp.percentile(x[0], 25)), np.percentile(x[0], 25))
  np.testing.assert_allclose(np.asarray(jnp.nanpercentile(x, 50, axis=1)),
                             np.nanpercentile(x, 50, axis=1))
  assert jnp.median(np.ones(3, np.int32)).dtype == F32
  w = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
  np.testing.assert_allclose(np.asarray(jnp.average(x[0], weights=w)),
                             np.average(x[0], weights=w), rtol=1e-6)
  avg, ws = jnp.average(np.arange(6.0, dtype=np.float32).reshape(2, 3), axis=1, weights=w[:3],
                        returned=True)
  a2, w2 = np.average(np.arange(6.0).reshape(2, 3), axis=1, weights=w[:3], returned=True)
  np.testing.assert_allclose(np.asarray(avg), a2, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(ws), w2)
  assert jnp.average(np.ones(3, np.int32)).dtype == F32
  with pytest.raises(ValueError, match="quantile: method can only be"):
    jnp.quantile(x, 0.5, method="bad")


def test_inputs_not_mutated():
  x = np.arange(12, dtype=np.float32).reshape(3, 4)
  before = x.copy()
  for f in ("sum", "prod", "mean", "var", "std", "max", "min", "argmax", "cumsum", "median",
            "nanmean", "ptp"):
    getattr(jnp, f)(x, axis=0)
  np.testing.assert_array_equal(x, before)


def test_var_nonpositive_normalizer_is_nan():
  x = np.array([1.0, 2.0], np.float32)
  assert np.isnan(float(jnp.var(x, ddof=2)))  # JAX: NaN (NumPy: inf)
  assert np.isnan(float(jnp.std(np.zeros((0,), np.float32))))
  assert np.isnan(float(jnp.nanvar(np.array([np.nan, 1.0], np.float32), ddof=1)))
