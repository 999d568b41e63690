"""Complex elementwise math over a grid of special values, against JAX.

Every complex unary and binary op runs over the grid 0, -0, +-1, +-inf, NaN
and 1e30 in each part (complex64, and complex128 under x64), and must give
JAX's values: the same NaNs, the same infinities and the same signs of
zeros, and the finite values to a few ulp. The residual differences are
listed in `_DEVIATIONS` with their reasons; the test checks that exactly
those inputs differ, so a fix (or a new difference) shows up here.
"""
import warnings

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from util import enable_x64

import rjax
import rjax.numpy as jnp

_PARTS = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e30]
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)


def _grid(dtype):
  return np.array([complex(a, b) for a in _PARTS for b in _PARTS], dtype)


_UNARY = ["sqrt", "exp", "exp2", "log", "log1p", "log2", "log10", "expm1", "sin", "cos", "tan",
          "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
          "abs", "sign", "reciprocal", "square", "angle", "conj", "real", "imag", "negative",
          "rsqrt"]
_BINARY = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum"]


def _fn(mod, name):
  if name == "rsqrt":
    return (jax.lax if mod is jjnp else rjax.lax).rsqrt
  return getattr(mod, name)


def _pv(z):
  return tuple(float(v) for v in (z.real, z.imag)) if np.iscomplexobj(z) else (float(z),)


def _mismatches(got, want, dtype):
  """Indices (flat) where `got` is not JAX's `want`: NaN where JAX has NaN,
  the same infinities and signed zeros, finite values within a few ulp."""
  got, want = np.asarray(got), np.asarray(want)
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  assert got.shape == want.shape
  # about 16 ulp of the part type
  rtol = 2e-6 if got.dtype in (_C64, np.float32) else 4e-15
  parts = (got.real, got.imag), (want.real, want.imag)
  if got.dtype.kind != "c":
    parts = (got,), (want,)
  bad = np.zeros(got.shape, bool)
  for g, w in zip(*parts):
    g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
    nan = np.isnan(w)
    exact = (g == w) & (np.signbit(g) == np.signbit(w))
    with np.errstate(all="ignore"):
      near = np.isfinite(w) & np.isfinite(g) & (w != 0) & (np.signbit(g) == np.signbit(w)) & \
          (np.abs(g - w) <= rtol * np.abs(w))
    bad |= ~np.where(nan, np.isnan(g), exact | near)
  return set(np.flatnonzero(bad).tolist())


def _idx(z):
  """The grid index of the complex value ``z``."""
  def k(v):
    return next(i for i, p in enumerate(_PARTS)
                if (np.isnan(p) and np.isnan(v)) or (p == v and np.signbit(p) == np.signbit(v)))
  return k(z.real) * len(_PARTS) + k(z.imag)


def _pairs(text):
  """Grid index pairs from "x, y; x, y; ..." (complex literals)."""
  out = set()
  for item in text.split(";"):
    if item.strip():
      x, y = (complex(v.strip().replace(" ", "")) for v in item.split(","))
      out.add((_idx(x), _idx(y)))
  return out


# XLA's CPU backend contracts `a*b - c*d` into a fused multiply-add: where a
# partial product overflows beside an infinite one, or a difference of two
# equal products is the exact rounding error, its result differs (rjax, like
# NumPy, rounds each product).
_FMA = "XLA fuses the products into fused multiply-adds"
# The real sin/cos of a huge argument (|q| ~ 1e30 in pow's polar form)
# depends on the libm's argument reduction.
_HUGE = "sin/cos of an argument near 1e30 differ between libms"

# The residual differences from JAX, by (op, dtype): the inputs (grid
# indices, or pairs of them for binary ops) and the reason.
_DEVIATIONS: dict = {
    # the partial products 1e30 * 1e30 overflow (complex64) beside an
    # infinite one: XLA's fused `fma(a, c, -(b d))` gives +-inf, the rounded
    # products inf - inf = NaN
    ("multiply", "complex64"): (_pairs(
        "1+1e30j, 1e30-infj; -1+1e30j, 1e30+infj; inf+1e30j, 1e30-1j; inf+1e30j, 1e30-infj;"
        "-inf+1e30j, 1e30+1j; -inf+1e30j, 1e30+infj; -inf+1e30j, 1e30+1e30j;"
        "1e30+1j, 1e30+infj; 1e30-1j, 1e30-infj; 1e30+infj, 1e30+1j; 1e30+infj, 1e30+infj;"
        "1e30+infj, 1e30+1e30j; 1e30-infj, 1e30-1j; 1e30-infj, 1e30-infj;"
        "1e30+1e30j, 1e30+infj; 1e30+1e30j, 1e30-infj; 1e30+1e30j, 1e30+1e30j"), _FMA),
    # (1e30 + 1e30i)^2: the real part 1e60 - 1e60 is the rounding error of
    # the product (-8.8e43) fused, 0 rounded
    ("multiply", "complex128"): (_pairs("1e30+1e30j, 1e30+1e30j"), _FMA),
    # Smith's quotient of operands with parts 1e30 and +-1: the tiny part
    # (ratio * 1 - 1e-30 * 1e30) is a fused residual (1.8e-38) in XLA, 0 here
    ("divide", "complex64"): (_pairs(
        "1+1e30j, 1+1e30j; 1+1e30j, 1e30-1j; -1+1e30j, -1+1e30j; -1+1e30j, 1e30+1j;"
        "1e30+1j, -1+1e30j; 1e30+1j, 1e30+1j; 1e30-1j, 1+1e30j; 1e30-1j, 1e30-1j"), _FMA),
    ("divide", "complex128"): (_pairs(
        "1+1e30j, 1+1e30j; 1+1e30j, 1e30-1j; -1+1e30j, -1+1e30j; -1+1e30j, 1e30+1j;"
        "1e30+1j, -1+1e30j; 1e30+1j, 1e30+1j; 1e30-1j, 1+1e30j; 1e30-1j, 1e30-1j"), _FMA),
    # (1 - i)^(1e30 + 1e30 i): an infinite modulus times cos/sin(q), q ~ 1e30
    ("power", "complex64"): (_pairs("1-1j, 1e30+1e30j"), _HUGE),
}


def _expected(name, dtype):
  return _DEVIATIONS.get((name, np.dtype(dtype).name), (set(), ""))[0]


def test_every_listed_deviation_has_a_reason_and_known_inputs():
  for (name, dtype), (inputs, reason) in _DEVIATIONS.items():
    assert name in _UNARY + _BINARY and dtype in ("complex64", "complex128")
    assert inputs and reason


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("name", _UNARY)
def test_unary_special_values_match_jax(name, x64):
  dtype = _C128 if x64 else _C64
  z = _grid(dtype)
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      want = np.asarray(_fn(jjnp, name)(jjnp.asarray(z)))
    with enable_x64(x64):
      got = np.asarray(_fn(jnp, name)(jnp.asarray(z)))
  finally:
    jax.config.update("jax_enable_x64", prev)
  bad = _mismatches(got, want, dtype)
  expected = _expected(name, dtype)
  detail = [(z[i], got[i], want[i]) for i in sorted(bad ^ expected)][:8]
  assert bad == expected, f"{name}: differs from JAX at (input, rjax, jax) {detail}"


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("name", _BINARY)
def test_binary_special_values_match_jax(name, x64):
  dtype = _C128 if x64 else _C64
  g = _grid(dtype)
  x, y = g[:, None], g[None, :]
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    want = np.asarray(getattr(jjnp, name)(jjnp.asarray(x), jjnp.asarray(y))).ravel()
    with enable_x64(x64):
      got = np.asarray(getattr(jnp, name)(jnp.asarray(x), jnp.asarray(y))).ravel()
  finally:
    jax.config.update("jax_enable_x64", prev)
  bad = {divmod(i, len(g)) for i in _mismatches(got, want, dtype)}
  expected = _expected(name, dtype)
  detail = [(g[i], g[j], got[i * len(g) + j], want[i * len(g) + j])
            for i, j in sorted(bad ^ expected)][:8]
  assert bad == expected, f"{name}: differs from JAX at (x, y, rjax, jax) {detail}"


# -- ordinary values: the inverse functions and exp2 to a few ulp, with JVPs

_NEW = ["arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "exp2", "log2", "log10",
        "sinh", "cosh", "tan", "tanh", "sin", "cos", "exp", "expm1", "sign", "reciprocal",
        "sqrt", "log1p", "square", "rsqrt", "power_half"]


def _apply(mod, name, z):
  if name == "rsqrt":
    return _fn(mod, name)(z)
  if name == "power_half":
    return mod.power(z, mod.asarray(0.5 - 0.25j, z.dtype))
  return getattr(mod, name)(z)


# XLA flushes float32 subnormals to zero and rjax keeps them, as NumPy does
# (a documented difference), so parts too small for a normal float32 are 0
_part = st.one_of(st.floats(-4, 4), st.floats(-1e3, 1e3), st.floats(-1e-3, 1e-3)).map(
    lambda v: 0.0 if abs(v) < 1e-30 else v)


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(_part, _part), min_size=1, max_size=12), st.sampled_from(_NEW),
       st.booleans())
def test_ordinary_values_match_jax(parts, name, x64):
  dtype = _C128 if x64 else _C64
  z = np.array([complex(a, b) for a, b in parts], dtype)
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    want = np.asarray(_apply(jjnp, name, jjnp.asarray(z)))
    with enable_x64(x64):
      got = np.asarray(_apply(jnp, name, jnp.asarray(z)))
  finally:
    jax.config.update("jax_enable_x64", prev)
  assert got.dtype == want.dtype
  scale = np.maximum(np.abs(want), 1e-30 if x64 else 1e-20)
  # a few ulp of |w| (a part much smaller than |w| may carry cancellation
  # error in both libraries' formulas)
  tol = (1e-5 if not x64 else 1e-12) * scale
  finite = np.isfinite(want)
  np.testing.assert_array_equal(np.isfinite(got), finite)
  assert (np.abs(got[finite] - want[finite]) <= tol[finite]).all(), (z, got, want)


def test_log1p_next_to_minus_one_is_jax():
  # 1 + a rounds to 0 beside a tiny b: ln|b| (XLA's `log(max)`), not log1p(-1)
  z = np.array([-1 + 1e-8j, -1 - 1e-8j, -1 + 1e-6j], _C64)
  got, want = np.asarray(jnp.log1p(jnp.asarray(z))), np.asarray(jjnp.log1p(jjnp.asarray(z)))
  assert not _mismatches(got, want, _C64), (got, want)


_JVP_FNS = ["arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "exp2"]


@pytest.mark.parametrize("name", _JVP_FNS)
def test_jvp_of_the_inverse_functions_matches_jax(name):
  z = np.array([0.3 - 1.2j, -2 + 0.5j, 1e-3 + 4j, 0.7 + 0.1j], _C64)
  t = np.array([1 + 0.5j, -0.25j, 2 - 1j, 0.5 + 0j], _C64)
  p1, d1 = rjax.jvp(getattr(jnp, name), (jnp.asarray(z),), (jnp.asarray(t),))
  p2, d2 = jax.jvp(getattr(jjnp, name), (jjnp.asarray(z),), (jjnp.asarray(t),))
  np.testing.assert_allclose(np.asarray(p1), np.asarray(p2), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(d1), np.asarray(d2), rtol=1e-5)


@pytest.mark.parametrize("name", _JVP_FNS)
def test_holomorphic_derivatives_of_the_inverse_functions(name):
  # right of the imaginary axis, off the branch cuts, where JAX's rules
  # (rsqrt(x^2 - 1) for acosh) are the derivatives
  with enable_x64():
    z = np.array([0.3 + 0.2j, 0.6 - 0.4j, 1.7 + 0.5j], np.complex128)
    rjax.test_util.check_grads(getattr(jnp, name), (jnp.asarray(z),), order=2, modes=("fwd",))


# -- ordering: lexicographic max/min, sorts, and the errors JAX raises


@pytest.mark.parametrize("x64", [False, True])
def test_sorts_of_complex_order_as_jax(x64):
  dtype = _C128 if x64 else _C64
  z = _grid(dtype)
  rng = np.random.default_rng(0)
  zs = [z, z[::-1], z[rng.permutation(len(z))]]
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    with enable_x64(x64):
      for v in zs:
        for name in ("sort", "argsort", "sort_complex"):
          want = np.asarray(getattr(jjnp, name)(jjnp.asarray(v)))
          got = np.asarray(getattr(jnp, name)(jnp.asarray(v)))
          assert got.dtype == want.dtype
          np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8), err_msg=name)
        want = np.asarray(jjnp.lexsort([jjnp.asarray(v.imag), jjnp.asarray(v)]))
        got = np.asarray(jnp.lexsort([jnp.asarray(v.imag), jnp.asarray(v)]))
        np.testing.assert_array_equal(got, want)
        want = np.asarray(jax.lax.sort(jjnp.asarray(v.reshape(8, 8)), dimension=0))
        got = np.asarray(rjax.lax.sort(jnp.asarray(v.reshape(8, 8)), dimension=0))
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
  finally:
    jax.config.update("jax_enable_x64", prev)


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint64, np.float32,
                                   np.float64, np.bool_])
def test_sort_complex_result_dtype_is_jax(dtype, x64):
  x = np.array([3, 1, 2]).astype(dtype)
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    want = jjnp.sort_complex(jjnp.asarray(x))
    with enable_x64(x64):
      got = jnp.sort_complex(jnp.asarray(x))
  finally:
    jax.config.update("jax_enable_x64", prev)
  assert np.asarray(got).dtype == np.asarray(want).dtype
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


_NAN = complex(np.nan, 0)


def _same_bits(got, want, msg=""):
  got, want = np.atleast_1d(np.asarray(got)), np.atleast_1d(np.asarray(want))
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8), err_msg=f"{msg}: {got} {want}")


@pytest.mark.parametrize("vals", [
    [1 + 2j, 1 + 1j, 3 - 1j, 3 - 2j],
    [1 + 2j, 1 + 1j, _NAN, 5j],
    [0j, -0j, complex(-0.0, 0.0), complex(-0.0, -0.0)],
    [complex(np.inf, np.nan), complex(np.inf, 1), complex(-np.inf, 0), complex(1, np.nan)],
    [_NAN, 2 + 0j, complex(2, np.nan)],
])
def test_complex_max_min_reductions_as_jax(vals):
  z = np.array(vals, _C64)
  for name in ("max", "min"):
    want = np.asarray(getattr(jjnp, name)(jjnp.asarray(z)))
    got = np.asarray(getattr(jnp, name)(jnp.asarray(z)))
    _same_bits(got, want, name)
    _same_bits(rjax.jit(getattr(jnp, name))(jnp.asarray(z)), want, name)
  two = np.stack([z, z[::-1]])
  for name in ("max", "min"):
    want = np.asarray(getattr(jjnp, name)(jjnp.asarray(two), axis=0))
    _same_bits(getattr(jnp, name)(jnp.asarray(two), axis=0), want, name)


def test_complex_maximum_under_jit_vmap_and_jvp():
  x = np.array([1 + 2j, 1 + 1j, _NAN, 5j], _C64)
  y = x[::-1].copy()
  want = np.asarray(jjnp.maximum(x, y))
  np.testing.assert_array_equal(np.asarray(rjax.jit(jnp.maximum)(x, y)).view(np.uint8),
                                want.view(np.uint8))
  np.testing.assert_array_equal(np.asarray(rjax.vmap(jnp.minimum)(x, y)).view(np.uint8),
                                np.asarray(jax.vmap(jjnp.minimum)(x, y)).view(np.uint8))
  tx, ty = np.ones(4, _C64), 2j * np.ones(4, _C64)
  _, d1 = rjax.jvp(jnp.maximum, (x, y), (tx, ty))
  _, d2 = jax.jvp(jjnp.maximum, (x, y), (tx, ty))
  np.testing.assert_array_equal(np.asarray(d1), np.asarray(d2))


@pytest.mark.parametrize("name", ["argmax", "argmin", "nanargmax", "nanargmin"])
def test_argmax_of_complex_raises_type_error_as_jax(name):
  z = np.array([1 + 2j, 3j], _C64)
  with pytest.raises(TypeError):
    getattr(jjnp, name)(jjnp.asarray(z))
  with pytest.raises(TypeError, match="complex64"):
    getattr(jnp, name)(jnp.asarray(z))


def test_clip_of_complex_raises_value_error_as_jax():
  z = np.array([1 + 2j, 3j], _C64)
  for args in [(z, 0, 1), (z.real, 0j, 1), (z.real, None, 1j)]:
    with pytest.raises(ValueError):
      jjnp.clip(args[0], args[1], args[2])
    with pytest.raises(ValueError, match="complex"):
      jnp.clip(jnp.asarray(args[0]), args[1], args[2])


def test_nan_reductions_and_ptp_of_complex_as_jax():
  z = np.array([1 + 2j, 1 + 1j, _NAN, 5j, 3 - 1j], _C64)
  for name in ("nanmax", "nanmin", "ptp", "amax", "amin"):
    _same_bits(getattr(jnp, name)(jnp.asarray(z)), getattr(jjnp, name)(jjnp.asarray(z)), name)
