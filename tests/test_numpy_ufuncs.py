"""rjax.numpy elementwise functions against NumPy, with JAX's dtype rules
(weak Python scalars, int -> float for inexact functions)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rjax.numpy as jnp
from util import (arrays, assert_close, bfloat16, enable_x64, float_dtypes, int_dtypes,
                  noncontiguous, numeric_dtypes, signed_dtypes)

F32, I32, U8, B = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.bool_)

# name, numpy reference, dtypes, (lo, hi), whether ints promote to float
UNARY = [
    ("negative", np.negative, numeric_dtypes, None, False),
    ("positive", np.positive, numeric_dtypes, None, False),
    ("abs", np.abs, float_dtypes + signed_dtypes, None, False),
    ("absolute", np.absolute, float_dtypes, None, False),
    ("fabs", np.fabs, float_dtypes, None, True),
    ("sign", np.sign, numeric_dtypes, None, False),
    ("floor", np.floor, numeric_dtypes, None, False), ("ceil", np.ceil, numeric_dtypes, None, False),
    ("trunc", np.trunc, numeric_dtypes, None, False), ("fix", np.trunc, float_dtypes, None, False),
    ("rint", np.rint, float_dtypes, None, True), ("around", np.round, float_dtypes, None, False),
    ("exp", np.exp, float_dtypes + [I32], (-5, 5), True),
    ("exp2", np.exp2, float_dtypes, (-5, 5), True), ("expm1", np.expm1, float_dtypes, (-5, 5), True),
    ("log", np.log, float_dtypes + [I32], (1, 100), True),
    ("log2", np.log2, float_dtypes, (0.125, 100), True),
    ("log10", np.log10, float_dtypes, (0.125, 100), True),
    ("log1p", np.log1p, float_dtypes, (0, 100), True),
    ("sqrt", np.sqrt, float_dtypes + [I32], (0, 100), True),
    ("cbrt", np.cbrt, float_dtypes, None, True), ("square", np.square, numeric_dtypes, (-50, 50), False),
    ("reciprocal", np.reciprocal, float_dtypes, (0.5, 10), True),
    ("sin", np.sin, float_dtypes, (-5, 5), True), ("cos", np.cos, float_dtypes, (-5, 5), True),
    ("tan", np.tan, float_dtypes, (-1, 1), True), ("arcsin", np.arcsin, float_dtypes, (-0.875, 0.875), True),
    ("arccos", np.arccos, float_dtypes, (-0.875, 0.875), True),
    ("arctan", np.arctan, float_dtypes, None, True), ("sinh", np.sinh, float_dtypes, (-5, 5), True),
    ("cosh", np.cosh, float_dtypes, (-5, 5), True), ("tanh", np.tanh, float_dtypes, None, True),
    ("arcsinh", np.arcsinh, float_dtypes, None, True),
    ("arccosh", np.arccosh, float_dtypes, (1, 50), True),
    ("arctanh", np.arctanh, float_dtypes, (-0.875, 0.875), True),
    ("sinc", np.sinc, float_dtypes, (-3, 3), True),
    ("deg2rad", np.deg2rad, float_dtypes + [I32], None, True),
    ("rad2deg", np.rad2deg, float_dtypes, (-3, 3), True),
    ("signbit", np.signbit, float_dtypes + signed_dtypes, None, False),
    ("isfinite", np.isfinite, numeric_dtypes, None, False),
    ("isnan", np.isnan, numeric_dtypes, None, False),
    ("isinf", np.isinf, numeric_dtypes, None, False),
    ("logical_not", np.logical_not, numeric_dtypes, None, False),
    ("bitwise_not", np.bitwise_not, int_dtypes, None, False),
    ("invert", np.invert, int_dtypes, None, False),
    ("nan_to_num", np.nan_to_num, float_dtypes, None, False),
]

BINARY = [
    ("add", np.add, numeric_dtypes, None), ("subtract", np.subtract, numeric_dtypes, None),
    ("multiply", np.multiply, numeric_dtypes, None), ("divide", np.divide, float_dtypes, (1, 50)),
    ("true_divide", np.true_divide, float_dtypes, (1, 50)),
    ("floor_divide", np.floor_divide, float_dtypes + int_dtypes, (1, 50)),
    ("remainder", np.remainder, float_dtypes + int_dtypes, (1, 50)),
    ("mod", np.mod, float_dtypes + signed_dtypes, (1, 50)),
    ("fmod", np.fmod, float_dtypes + signed_dtypes, (1, 50)),
    ("power", np.power, float_dtypes, (0.5, 3)),
    ("float_power", np.power, float_dtypes, (0.5, 3)),
    ("maximum", np.maximum, numeric_dtypes, None), ("minimum", np.minimum, numeric_dtypes, None),
    ("fmax", np.fmax, float_dtypes, None), ("fmin", np.fmin, float_dtypes, None),
    ("arctan2", np.arctan2, float_dtypes, None), ("hypot", np.hypot, float_dtypes, None),
    ("logaddexp", np.logaddexp, float_dtypes, None),
    ("logaddexp2", np.logaddexp2, float_dtypes, None),
    ("copysign", np.copysign, float_dtypes, None), ("heaviside", np.heaviside, float_dtypes, None),
    ("equal", np.equal, numeric_dtypes, (-3, 3)), ("not_equal", np.not_equal, numeric_dtypes, (-3, 3)),
    ("less", np.less, numeric_dtypes, None), ("less_equal", np.less_equal, numeric_dtypes, None),
    ("greater", np.greater, numeric_dtypes, None),
    ("greater_equal", np.greater_equal, numeric_dtypes, None),
    ("logical_and", np.logical_and, numeric_dtypes, (-2, 2)),
    ("logical_or", np.logical_or, numeric_dtypes, (-2, 2)),
    ("logical_xor", np.logical_xor, numeric_dtypes, (-2, 2)),
    ("bitwise_and", np.bitwise_and, int_dtypes, None), ("bitwise_or", np.bitwise_or, int_dtypes, None),
    ("bitwise_xor", np.bitwise_xor, int_dtypes, None),
    ("gcd", np.gcd, [np.dtype(np.int8), np.dtype(np.int16)], (-100, 100)),
    ("lcm", np.lcm, [np.dtype(np.int8)], (-10, 10)),
]

_BOOL_OUT = {"signbit", "isfinite", "isnan", "isinf", "logical_not", "equal", "not_equal",
             "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
             "logical_xor"}


def _out_dtype(name, dtype, promotes):
  if name in _BOOL_OUT:
    return B
  if promotes and np.dtype(dtype).kind in "iub":
    return F32
  return np.dtype(dtype)


def _ref(fn, xs, out_dtype):
  with np.errstate(all="ignore"):
    wide = [x.astype(np.float64) if x.dtype.kind == "f" or x.dtype == bfloat16 else x for x in xs]
    return np.asarray(fn(*wide)).astype(out_dtype)


@pytest.mark.parametrize("name,ref,dts,rng,promotes", UNARY, ids=[u[0] for u in UNARY])
@settings(max_examples=10)
@given(data=st.data())
def test_unary(name, ref, dts, rng, promotes, data):
  dtype = data.draw(st.sampled_from(dts))
  lo, hi = rng or (None, None)
  x = data.draw(arrays(dtype, data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                            max_side=4)), lo, hi))
  x0 = x.copy()
  out = getattr(jnp, name)(noncontiguous(x) if x.ndim else x)
  np.testing.assert_array_equal(x, x0)
  od = _out_dtype(name, dtype, promotes)
  assert_close(out, _ref(ref, [x], od), od, rtol=4 * (2e-2 if od == bfloat16 else 2e-3 if
                                                    od == np.float16 else 4e-6), atol=1e-5
               if od == F32 else None)


@pytest.mark.parametrize("name,ref,dts,rng", BINARY, ids=[b[0] for b in BINARY])
@settings(max_examples=10)
@given(data=st.data())
def test_binary(name, ref, dts, rng, data):
  dtype = data.draw(st.sampled_from(dts))
  lo, hi = rng or (None, None)
  s1, s2 = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
  x = data.draw(arrays(dtype, s1, lo, hi))
  y = data.draw(arrays(dtype, s2, lo, hi))
  if name in ("floor_divide", "remainder", "mod", "fmod") and data.draw(st.booleans()):
    x = (-x).astype(dtype) if np.dtype(dtype).kind != "u" else x
  x0, y0 = x.copy(), y.copy()
  out = getattr(jnp, name)(x, jnp.asarray(y))
  np.testing.assert_array_equal(x, x0)
  np.testing.assert_array_equal(y, y0)
  od = _out_dtype(name, dtype, False)
  tol = 4 * (2e-2 if od == bfloat16 else 2e-3 if od == np.float16 else 4e-6)
  assert_close(out, _ref(ref, [x, y], od), od, rtol=tol, atol=tol)


# -- dtype promotion ------------------------------------------------------------------

def test_weak_scalar_promotion():
  u = jnp.asarray(np.uint8([250])) + 10
  assert u.dtype == U8 and int(np.asarray(u)[0]) == 4
  h = jnp.asarray(np.float16([1])) + 1.5
  assert h.dtype == np.float16 and not h.weak_type
  f = jnp.add(np.int32([1]), 1.5)
  assert f.dtype == F32 and f.weak_type
  assert jnp.add(jnp.asarray(np.ones(2, bfloat16)), np.float16(1)).dtype == F32
  assert jnp.divide(np.int32([1]), np.int32([2])).dtype == F32
  assert jnp.exp(np.int8([1])).dtype == F32
  assert jnp.sqrt(np.float16([4])).dtype == np.float16
  assert jnp.square(True).dtype == I32
  assert jnp.power(True, True).dtype == I32
  assert jnp.floor(np.int32([3])).dtype == I32
  assert jnp.rint(np.int32([3])).dtype == F32
  assert jnp.bitwise_count(np.int32([-1])).dtype == U8
  with enable_x64():
    assert jnp.add(np.uint32(1), np.int32([1])).dtype == np.int64
    # JAX's to_inexact_dtype: int32 computes in float32 even under x64
    assert jnp.exp(np.int32([1])).dtype == F32
    assert jnp.exp(np.int64([1])).dtype == np.float64


def test_weak_types_of_composites():
  # checked against JAX 0.10: comparisons keep weak types; composites built
  # with strong constants are strong unless all inputs are weak
  assert jnp.less(np.int32([1]), 1.5).weak_type
  assert not jnp.less(np.float32([1]), 1.5).weak_type
  assert not jnp.hypot(np.int32([1]), 1.5).weak_type
  assert jnp.hypot(1.0, 2.0).weak_type
  assert not jnp.heaviside(np.uint8([1]), 1.5).weak_type
  assert not jnp.logaddexp2(True, 1).weak_type


def test_bool_arithmetic():
  a = np.array([True, False])
  np.testing.assert_array_equal(jnp.add(a, True), [True, True])
  np.testing.assert_array_equal(jnp.multiply(a, True), [True, False])
  assert jnp.add(a, a).dtype == B
  assert jnp.abs(np.bool_(True)).dtype == B
  assert jnp.maximum(np.bool_(True), np.bool_(False)).dtype == B
  with pytest.raises(TypeError, match="sub does not accept dtype bool"):
    jnp.subtract(a, a)
  with pytest.raises(TypeError, match="neg does not accept dtype bool"):
    jnp.negative(a)


# -- integer semantics (verified with JAX 0.10) ----------------------------------------

def test_integer_division_family():
  x, y = np.array([7, -7, 7], np.int32), np.array([0, 2, -2], np.int32)
  np.testing.assert_array_equal(jnp.floor_divide(x, y), [-2, -4, -4])
  np.testing.assert_array_equal(jnp.remainder(x, y), [0, 1, -1])
  np.testing.assert_array_equal(jnp.fmod(x, y), [0, -1, 1])
  q, r = jnp.divmod(np.int32([7, -7]), np.int32([2, 2]))
  np.testing.assert_array_equal(q, [3, -4])
  np.testing.assert_array_equal(r, [1, 1])
  np.testing.assert_array_equal(jnp.floor_divide(np.uint8([7]), np.uint8([0])), [255])
  np.testing.assert_array_equal(jnp.remainder(np.uint8([7]), np.uint8([0])), [0])
  mn = np.iinfo(np.int32).min
  np.testing.assert_array_equal(jnp.floor_divide(np.int32([mn]), np.int32([-1])), [mn])


def test_float_division_family():
  fx = np.float32([7, -7, 7.5, 1])
  fy = np.float32([0, 2, -2, np.inf])
  np.testing.assert_array_equal(jnp.floor_divide(fx, fy), [np.inf, -4, -4, 0])
  r = np.asarray(jnp.remainder(np.float32([7, -7, 7.5, 1, -0.0]), np.float32([0, 2, -2, np.inf, 3])))
  np.testing.assert_array_equal(r[1:], [1, -0.5, 1, -0.0])
  assert np.isnan(r[0]) and np.signbit(r[4])


def test_power():
  np.testing.assert_array_equal(jnp.power(np.int32([2, 3]), np.int32([10, 3])), [1024, 27])
  np.testing.assert_array_equal(
      jnp.power(np.int32([2, 3, -2, 1, 0]), np.int32([-1, -2, 3, -5, -1])),
      [0, 703701817, -8, 1, 0])  # JAX's 6-step binary exponentiation
  np.testing.assert_array_equal(jnp.power(np.uint8(3), 2), 9)
  assert jnp.power(np.uint8(3), 2).dtype == U8
  assert_close(jnp.power(np.float32(2), -2), np.float32(0.25), F32)
  with pytest.raises(TypeError, match="integers cannot be raised to negative powers"):
    jnp.power(np.int32([2]), -2)
  assert jnp.float_power(np.int32([2]), np.int32([3])).dtype == F32
  assert jnp.pow is jnp.power
  p = jnp.power(np.float16([2]), np.int32([3]))  # float base, int exponent: no promotion
  assert p.dtype == np.float16
  np.testing.assert_array_equal(p, [8])
  np.testing.assert_array_equal(jnp.power(np.int32([0, 0]), np.int32([0, 2])), [1, 0])


def test_rounding():
  np.testing.assert_array_equal(jnp.round(np.float32([0.5, 1.5, 2.5, -0.5])), [0, 2, 2, -0.0])
  assert_close(jnp.round(np.float32([1.25, 2.5, 1234.5]), 1), np.float32([1.2, 2.5, 1234.5]), F32)
  np.testing.assert_array_equal(jnp.round(np.int32([3])), [3])
  with pytest.raises(NotImplementedError):
    jnp.round(np.int32([1250]), -2)
  with pytest.raises(ValueError, match="not inexact"):
    jnp.round(np.bool_(True))
  np.testing.assert_array_equal(jnp.trunc(np.float32([-1.5, 1.5, -0.5])), [-1, 1, -0.0])
  assert np.signbit(np.asarray(jnp.trunc(np.float32([-0.5])))[0])


def test_shifts_and_bits():
  np.testing.assert_array_equal(jnp.right_shift(np.int32([-8, -8]), np.int32([1, 40])), [-4, -1])
  np.testing.assert_array_equal(jnp.right_shift(np.uint8([200]), np.uint8(1)), [100])
  np.testing.assert_array_equal(jnp.left_shift(np.int32([1]), np.int32([-1])), [0])
  np.testing.assert_array_equal(jnp.bitwise_count(np.int32([-1, 7, -128])), [1, 3, 1])  # of abs(x)
  np.testing.assert_array_equal(jnp.bitwise_count(True), 1)
  np.testing.assert_array_equal(jnp.invert(np.array([True])), [False])
  assert jnp.bitwise_invert is jnp.invert and jnp.bitwise_left_shift is jnp.left_shift
  with pytest.raises(TypeError, match="and does not accept dtype float32"):
    jnp.bitwise_and(np.float32(1), 1)


def test_special_values():
  np.testing.assert_array_equal(jnp.fmax(np.float32([np.nan, 1, np.nan]), np.float32([1, np.nan, np.nan])),
                                [1, 1, np.nan])
  lae = np.asarray(jnp.logaddexp(np.float32([-np.inf, np.inf, 1]), np.float32([-np.inf, np.inf, 2])))
  np.testing.assert_allclose(lae, [-np.inf, np.inf, np.logaddexp(1, 2)], rtol=1e-6)
  np.testing.assert_array_equal(jnp.heaviside(np.float32([-1, 0, 2, np.nan]), np.float32(0.5)),
                                [0, 0.5, 1, np.nan])
  np.testing.assert_array_equal(jnp.signbit(np.float32([-0.0, 0.0, -1, np.nan])),
                                [True, False, True, False])
  np.testing.assert_array_equal(jnp.copysign(np.int32([3]), np.int32([-1])), [-3.0])
  np.testing.assert_array_equal(jnp.sinc(np.float32([0])), [1])
  np.testing.assert_array_equal(jnp.hypot(np.float32([3, 0, np.inf]), np.float32([4, 0, 1])),
                                [5, 0, np.inf])
  n = np.asarray(jnp.nan_to_num(np.float16([np.nan, np.inf, -np.inf, 1])))
  np.testing.assert_array_equal(n, np.float16([0, 65504, -65504, 1]))
  np.testing.assert_array_equal(jnp.isposinf(np.float32([np.inf, -np.inf])), [True, False])
  np.testing.assert_array_equal(jnp.isneginf(np.float32([np.inf, -np.inf])), [False, True])
  np.testing.assert_array_equal(jnp.isinf(np.int32([3])), [False])
  np.testing.assert_array_equal(jnp.nextafter(np.float32([1]), np.float32([2])),
                                np.nextafter(np.float32([1]), np.float32([2])))


def test_modf_frexp_ldexp():
  f, w = jnp.modf(np.float32([1.5, -1.5]))
  np.testing.assert_array_equal(f, [0.5, -0.5])
  np.testing.assert_array_equal(w, [1, -1])
  x = np.float32([8, 0, -3, np.inf, 1e-40, 0.3, 1])
  m, e = jnp.frexp(x)
  nm, ne = np.frexp(x)
  assert e.dtype == I32 and m.dtype == F32
  np.testing.assert_array_equal(m, nm)
  np.testing.assert_array_equal(e, ne)
  m16, e16 = jnp.frexp(np.float16([6, 0.1]))
  assert m16.dtype == np.float16
  np.testing.assert_array_equal(m16, np.frexp(np.float16([6, 0.1]))[0])
  np.testing.assert_array_equal(jnp.ldexp(np.float32([1.5]), np.int32([3])), [12])
  assert jnp.ldexp(np.float16([1.5]), np.int32([3])).dtype == np.float16
  np.testing.assert_array_equal(jnp.ldexp(np.float32([1e-40]), np.int32([200])),
                                np.ldexp(np.float32([1e-40]), 200))
  with pytest.raises(ValueError, match="ldexp not supported"):
    jnp.ldexp(np.float32([1.5]), np.float32(3))


def test_gcd_lcm():
  np.testing.assert_array_equal(jnp.gcd(np.int32([12, -12, 0, 0]), np.int32([18, 18, 5, 0])),
                                [6, 6, 5, 0])
  np.testing.assert_array_equal(jnp.lcm(np.int32([4, -4, 0]), np.int32([6, 6, 3])), [12, 12, 0])
  with pytest.raises(ValueError, match="gcd must be integers"):
    jnp.gcd(np.float32(1), np.float32(1))


# -- where / select / clip --------------------------------------------------------------

def test_where():
  c = np.array([True, False])
  out = jnp.where(c, 1, 2.0)
  assert out.dtype == F32 and out.weak_type
  np.testing.assert_array_equal(out, [1, 2])
  assert jnp.where(c, np.int8(1), 2).dtype == np.int8
  np.testing.assert_array_equal(jnp.where(np.int32([0, 3]), np.int32([1, 1]), np.int32([2, 2])),
                                [2, 1])
  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  np.testing.assert_array_equal(jnp.where(x > 2, x, np.float32([[-1], [-2]])),
                                np.where(x > 2, x, np.float32([[-1], [-2]])))
  with pytest.raises(TypeError, match="Either both or neither"):
    jnp.where(c, 1)


def test_select():
  out = jnp.select([np.array([True, False]), np.array([True, True])],
                   [np.int32([1, 1]), np.int32([2, 2])], 7)
  np.testing.assert_array_equal(out, [1, 2])
  np.testing.assert_array_equal(jnp.select([np.array([False])], [np.int32([1])], 7), [7])
  with pytest.raises(ValueError, match="condlist must be non-empty"):
    jnp.select([], [])
  with pytest.raises(ValueError, match="condlist must have length"):
    jnp.select([np.array([True])], [])


def test_clip():
  np.testing.assert_array_equal(jnp.clip(np.int32([1, 5, 9]), 2, 6), [2, 5, 6])
  out = jnp.clip(np.float32([1, np.nan]), 2.5)
  np.testing.assert_array_equal(out, [2.5, np.nan])
  ci = jnp.clip(np.int32([1, 5]), 2.5, 6)
  assert ci.dtype == F32 and ci.weak_type
  np.testing.assert_array_equal(jnp.clip(np.float32([1, 5]), 4, 2), [2, 2])
  np.testing.assert_array_equal(jnp.clip(np.int32([1, 5]), max=3), [1, 3])


def test_complex_api_on_reals_and_astype():
  x = np.int32([3, -1])
  np.testing.assert_array_equal(jnp.real(x), x)
  np.testing.assert_array_equal(jnp.imag(x), [0, 0])
  np.testing.assert_array_equal(jnp.conj(x), x)
  assert jnp.conjugate(np.bool_(True)).dtype == B
  np.testing.assert_array_equal(jnp.isreal(x), [True, True])
  np.testing.assert_array_equal(jnp.iscomplex(x), [False, False])
  assert jnp.isrealobj(x) is True and jnp.iscomplexobj(1) is False
  a = jnp.astype(np.float32([1.7, -1.7, np.nan]), np.int8)
  assert a.dtype == np.int8
  np.testing.assert_array_equal(a, [1, -1, 0])


def test_bad_input_errors():
  with pytest.raises(TypeError, match="add requires ndarray or scalar arguments"):
    jnp.add([1, 2], 1)
  with pytest.raises(TypeError, match="add: incompatible shapes for broadcasting"):
    jnp.add(np.zeros(3), np.zeros(4))
  with pytest.raises(TypeError, match="floor does not accept|sign does not accept"):
    jnp.sign(np.bool_(True))


def test_fast_path_matches_promotion():
  x = jnp.asarray(np.float32([1, 2, 3, 4]))
  y = jnp.asarray(np.float32([4, 3, 2, 1]))
  np.testing.assert_array_equal(x + y, [5, 5, 5, 5])
  np.testing.assert_array_equal(x * y, [4, 6, 6, 4])
  np.testing.assert_array_equal(x - y, [-3, -1, 1, 3])
  np.testing.assert_array_equal(x < y, [True, True, False, False])
  b = jnp.asarray(np.array([True, False]))
  np.testing.assert_array_equal(b + b, [True, False])
  assert (b + b).dtype == B
