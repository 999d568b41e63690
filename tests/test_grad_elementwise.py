"""Derivative and batching rules of every primitive in ``lax/lax.py``:
numerical gradient checks in float64 to order 2 (forward and reverse) on
suitable domains, vmap against a Python loop for every primitive (hypothesis
over shapes and in_axes), and JAX's conventions at special points (the
expected values were computed with JAX 0.10 and are hardcoded)."""
import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src import core
from rjax._src.lax import lax as lax_mod
from rjax.test_util import check_grads
from util import check_vmap, enable_x64

# ---------------------------------------------------------------------------
# Domains (drawn with NumPy from a hypothesis seed)


def _uniform(lo, hi):
  return lambda rng, shape: rng.uniform(lo, hi, shape)


def _away_from_zero(lo, hi):
  return lambda rng, shape: rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)


def _negative_non_integer(rng, shape):
  # in (-k-0.7, -k-0.3), k = 0..2: between the poles of lgamma/digamma, far
  # enough from them that the finite differences of digamma's second
  # derivative (~2/d^3 at distance d) stay within check_grads' tolerance
  # (at 0.2 one input in a few thousand failed)
  return -rng.integers(0, 3, shape) - rng.uniform(0.3, 0.7, shape)


UNARY = [
    ("exp2", lax.exp2, _uniform(-2, 2)),
    ("tan", lax.tan, _uniform(-1, 1)),
    ("asin", lax.asin, _uniform(-0.8, 0.8)),
    ("acos", lax.acos, _uniform(-0.8, 0.8)),
    ("atan", lax.atan, _uniform(-3, 3)),
    ("sinh", lax.sinh, _uniform(-2, 2)),
    ("cosh", lax.cosh, _uniform(-2, 2)),
    ("asinh", lax.asinh, _uniform(-3, 3)),
    ("acosh", lax.acosh, _uniform(1.2, 4)),
    ("atanh", lax.atanh, _uniform(-0.8, 0.8)),
    ("rsqrt", lax.rsqrt, _uniform(0.5, 4)),
    ("cbrt", lax.cbrt, _away_from_zero(0.3, 3)),
    ("erf", lax.erf, _uniform(-2, 2)),
    ("erfc", lax.erfc, _uniform(-2, 2)),
    ("erf_inv", lax.erf_inv, _uniform(-0.85, 0.85)),
    ("lgamma", lax.lgamma, _uniform(0.5, 6)),
    ("lgamma_neg", lax.lgamma, _negative_non_integer),
    ("digamma", lax.digamma, _uniform(0.5, 6)),
    ("digamma_neg", lax.digamma, _negative_non_integer),
    ("bessel_i0e", lax.bessel_i0e, _away_from_zero(0.3, 12)),
    ("bessel_i1e", lax.bessel_i1e, _away_from_zero(0.3, 12)),
]

SHAPES = st.sampled_from([(), (3,), (2, 3)])
BCAST_SHAPES = st.sampled_from([((), ()), ((3,), (3,)), ((2, 3), ()), ((), (2, 3)),
                                ((2, 3), (1, 3)), ((2, 1), (1, 3))])


@pytest.mark.parametrize("name,fn,draw", UNARY, ids=[u[0] for u in UNARY])
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_unary_grads(name, fn, draw, shape, seed):
  with enable_x64():
    x = jnp.asarray(draw(np.random.default_rng(seed), shape))
    check_grads(fn, (x,), order=2, modes=("fwd", "rev"))


@given(shapes=BCAST_SHAPES, seed=st.integers(0, 2**16))
def test_atan2_grads(shapes, seed):
  rng = np.random.default_rng(seed)
  with enable_x64():
    # away from the origin and from the branch cut (x = 0, y < 0)
    x = jnp.asarray(_away_from_zero(0.3, 2)(rng, shapes[0]))
    y = jnp.asarray(_away_from_zero(0.5, 2)(rng, shapes[1]))
    check_grads(lax.atan2, (x, y), order=2, modes=("fwd", "rev"))


@given(shapes=st.sampled_from([((), ()), ((3,), (3,)), ((2, 3), ()), ((2, 3), (1, 3))]),
       seed=st.integers(0, 2**16))
def test_rem_grads(shapes, seed):
  rng = np.random.default_rng(seed)
  with enable_x64():
    y = _away_from_zero(0.5, 2)(rng, shapes[1])
    # x / y at least 0.2 away from an integer (rem jumps there)
    q = rng.choice([-1.0, 1.0], shapes[0]) * (rng.integers(0, 4, shapes[0])
                                               + rng.uniform(0.2, 0.8, shapes[0]))
    x = q * np.broadcast_to(y, shapes[0])
    check_grads(lax.rem, (jnp.asarray(x), jnp.asarray(y)), order=2, modes=("fwd", "rev"))


@given(shapes=BCAST_SHAPES, seed=st.integers(0, 2**16))
def test_pow_grads_float_exponent(shapes, seed):
  rng = np.random.default_rng(seed)
  with enable_x64():
    x = jnp.asarray(rng.uniform(0.5, 2.0, shapes[0]))
    y = jnp.asarray(rng.uniform(-2.0, 2.0, shapes[1]))
    check_grads(lax.pow, (x, y), order=2, modes=("fwd", "rev"))


@given(shapes=BCAST_SHAPES, seed=st.integers(0, 2**16))
def test_pow_grads_integer_exponent(shapes, seed):
  rng = np.random.default_rng(seed)
  with enable_x64():
    # negative bases are fine with integer exponents
    x = jnp.asarray(_away_from_zero(0.5, 2.0)(rng, shapes[0]))
    y = jnp.asarray(rng.integers(-3, 4, shapes[1]).astype(np.int32))
    check_grads(lambda x: lax.pow(x, y), (x,), order=2, modes=("fwd", "rev"))


@given(shapes=st.sampled_from([((), (), ()), ((), (3,), ()), ((3,), (3,), (3,)),
                               ((2, 3), (2, 3), ()), ((), (2, 3), (2, 3))]),
       seed=st.integers(0, 2**16))
def test_clamp_grads(shapes, seed):
  rng = np.random.default_rng(seed)
  with enable_x64():
    lo = rng.uniform(-1.0, -0.5, shapes[0])
    hi = rng.uniform(0.5, 1.0, shapes[2])
    # the operand at least 0.1 away from either bound (the JVP jumps there)
    x = rng.choice([-1.5, 0.0, 1.5], shapes[1]) + rng.uniform(-0.3, 0.3, shapes[1])
    check_grads(lax.clamp, (jnp.asarray(lo), jnp.asarray(x), jnp.asarray(hi)), order=2,
                modes=("fwd", "rev"))


def test_clamp_grad_of_rank0_bound_sums_over_operand():
  # JAX's rule fails here (select of a rank-0 tangent with a rank-1 operand);
  # rjax broadcasts the bound's tangent and reverse mode sums it back.
  x = jnp.asarray([-1.0, 0.5, 2.0, -3.0])
  assert float(rjax.grad(lambda m: lax.clamp(m, x, 1.0).sum())(0.0)) == 2.0
  assert float(rjax.grad(lambda m: lax.clamp(-2.0, x, m).sum())(1.0)) == 1.0
  t = rjax.jvp(lambda m: lax.clamp(m, x, 1.0), (jnp.asarray(0.0),), (jnp.asarray(1.0),))[1]
  np.testing.assert_array_equal(np.asarray(t), [1.0, 0.0, 0.0, 1.0])


# ---------------------------------------------------------------------------
# Trigamma (digamma's derivative; rjax has no polygamma primitive)


def test_trigamma_matches_scipy():
  from rjax._src.lax.lax import _trigamma
  xs = np.concatenate([np.geomspace(1e-3, 1e6, 60), -np.geomspace(1e-3, 60, 40) - 0.37,
                       np.array([0.5, 1.0, 2.0, 9.99, 10.0, -0.5, -1.5, -10.25])])
  with enable_x64():
    got = np.asarray(_trigamma(jnp.asarray(xs)))
  want = scipy.special.polygamma(1, xs)
  np.testing.assert_allclose(got, want, rtol=1e-12)
  # the derivative of the construction is the tetragamma
  with enable_x64():
    d2 = np.asarray(rjax.vmap(rjax.grad(rjax.grad(lax.digamma)))(jnp.asarray(xs)))
  np.testing.assert_allclose(d2, scipy.special.polygamma(2, xs), rtol=1e-9)
  # float32: accurate to float32 round-off
  got32 = np.asarray(_trigamma(jnp.asarray(xs[xs > -10].astype(np.float32))))
  np.testing.assert_allclose(got32, want[xs > -10], rtol=5e-5)


def test_digamma_grad_at_poles_is_inf_not_nan():
  with enable_x64():
    for x in (0.0, -1.0, -3.0):
      g = float(rjax.grad(lax.digamma)(x))
      assert math.isinf(g) or abs(g) > 1e15, (x, g)


# ---------------------------------------------------------------------------
# JAX's conventions at special points (values computed with JAX 0.10, x64)


def _g(f, *args, argnums=0):
  with enable_x64():
    return rjax.grad(f, argnums=argnums)(*args)


@pytest.mark.parametrize("y,dx", [(0, 0.0), (1, 1.0), (2, 0.0), (3, 0.0), (-1, -np.inf)])
def test_pow_integer_exponent_grad_at_zero(y, dx):
  with enable_x64():
    got = float(rjax.grad(lambda x: lax.pow(x, jnp.asarray(y, np.int32)))(0.0))
  assert got == dx


@pytest.mark.parametrize("y,dx", [(0.0, np.nan), (1.0, 1.0), (2.0, 0.0), (0.5, np.inf),
                                  (3.0, 0.0)])
def test_pow_float_exponent_grads_at_zero(y, dx):
  with enable_x64():
    got_dx = float(rjax.grad(lambda x: lax.pow(x, y))(0.0))
    # d/dy 0**y is 0 (JAX replaces log(0) by log(1))
    got_dy = float(rjax.grad(lambda y: lax.pow(0.0, y))(y))
  np.testing.assert_equal(got_dx, dx)
  assert got_dy == 0.0


def test_pow_misc_jax_values():
  with enable_x64():
    assert float(rjax.grad(lambda x: lax.pow(x, jnp.int32(3)))(-2.0)) == 12.0
    assert np.isnan(float(rjax.grad(lambda y: lax.pow(-2.0, y))(2.0)))
    assert float(rjax.grad(rjax.grad(lambda x: lax.pow(x, 2.0)))(0.0)) == 2.0
    assert float(rjax.grad(rjax.grad(lambda x: lax.pow(x, jnp.int32(2))))(0.0)) == 2.0
    assert float(rjax.grad(rjax.grad(lambda y: lax.pow(0.0, y)))(2.0)) == 0.0


def test_pow_integer_exponent_higher_order_at_zero():
  # rjax keeps the integer exponent in the derivative (n * x**(n-1) with an
  # integer n - 1), so higher derivatives at 0 are exact. JAX converts the
  # exponent to float first and gets NaN for d2/dx2 x**1 and d3/dx3 x**2 at 0
  # (0 * inf from d/dx x**0.0); the other values agree with JAX.
  g = rjax.grad
  with enable_x64():
    p = lambda n: (lambda x: lax.pow(x, jnp.int32(n)))
    assert float(g(g(p(1)))(0.0)) == 0.0           # JAX: nan
    assert float(g(g(g(p(2))))(0.0)) == 0.0        # JAX: nan
    assert float(g(g(p(2)))(0.0)) == 2.0           # JAX: 2
    assert [float(g(g(p(3)))(0.0)), float(g(g(g(p(3))))(0.0))] == [0.0, 6.0]  # JAX: 0, 6
    assert np.isnan(float(g(g(p(0)))(0.0)))        # JAX: nan
    assert np.isnan(float(g(g(lambda x: lax.pow(x, 1.0)))(0.0)))  # JAX: nan


def test_rules_under_jit():
  with enable_x64():
    np.testing.assert_allclose(float(rjax.jit(rjax.grad(lax.digamma))(0.3)), 12.245364546107734,
                               rtol=1e-14)
    assert float(rjax.jit(rjax.grad(lambda x: lax.pow(x, jnp.int32(3))))(2.0)) == 12.0
    got = rjax.jit(rjax.vmap(rjax.grad(lambda x: lax.clamp(0.0, x, 1.0))))(
        jnp.asarray([-1.0, 0.5, 2.0]))
    np.testing.assert_array_equal(np.asarray(got), [0.0, 1.0, 0.0])
    x = jnp.asarray(np.linspace(0.25, 0.85, 4))
    check_grads(rjax.jit(lambda x: lax.atan2(lax.erf_inv(x), lax.rem(x, 0.3))), (x,), order=2)


# (min, x, max) -> JAX's (d/dmin, d/dx, d/dmax): no gradient at the boundaries
CLAMP_JAX = [
    ((0.0, 0.0, 1.0), (0.0, 0.0, 0.0)), ((0.0, 1.0, 1.0), (0.0, 0.0, 0.0)),
    ((0.0, 0.5, 1.0), (0.0, 1.0, 0.0)), ((0.0, -1.0, 1.0), (1.0, 0.0, 0.0)),
    ((0.0, 2.0, 1.0), (0.0, 0.0, 1.0)), ((1.0, 0.5, 0.0), (0.0, 0.0, 1.0)),
    ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)), ((1.0, 2.0, 0.0), (0.0, 0.0, 1.0)),
    ((1.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
]


@pytest.mark.parametrize("args,want", CLAMP_JAX, ids=[str(a) for a, _ in CLAMP_JAX])
def test_clamp_grads_match_jax(args, want):
  got = _g(lax.clamp, *args, argnums=(0, 1, 2))
  assert tuple(float(v) for v in got) == want


@pytest.mark.parametrize("x,y,want", [(7.5, 2.0, (1.0, -3.0)), (-7.5, 2.0, (1.0, 3.0)),
                                      (7.5, -2.0, (1.0, 3.0))])
def test_rem_grads_match_jax(x, y, want):
  assert tuple(float(v) for v in _g(lax.rem, x, y, argnums=(0, 1))) == want


def test_unary_grads_match_jax():
  cases = [(lax.digamma, 0.3, 12.245364546107734), (lax.digamma, -1.7, 14.632201633884014),
           (lax.rsqrt, 4.0, -0.0625), (lax.cbrt, 8.0, 1 / 12), (lax.cbrt, -8.0, 1 / 12),
           (lax.cbrt, 0.0, np.inf), (lax.erf_inv, 0.5, 1.1125848189719496),
           (lax.exp2, 3.0, 5.545177444479561), (lax.acosh, 1.0, np.inf),
           (lax.atanh, 1.0, np.inf), (lax.asin, 1.0, np.inf)]
  for f, x, want in cases:
    np.testing.assert_allclose(float(_g(f, x)), want, rtol=1e-14, err_msg=f.__name__)
  np.testing.assert_allclose(float(_g(rjax.grad(lax.digamma), 2.5)), -0.2362040516417271,
                             rtol=1e-13)
  assert all(np.isnan(float(v)) for v in _g(lax.atan2, 0.0, 0.0, argnums=(0, 1)))


@pytest.mark.parametrize("fn", [lax.nextafter, lax.bitwise_and, lax.bitwise_or,
                                lax.bitwise_xor, lax.shift_left, lax.shift_right_logical,
                                lax.shift_right_arithmetic, lax.population_count, lax.clz,
                                lax.bitwise_not])
def test_nondifferentiable_ops_have_zero_tangents(fn):
  if fn is lax.nextafter:
    f = lambda x: fn(x, 2.0) * 1.0
    t = rjax.jvp(f, (jnp.asarray(1.0),), (jnp.asarray(1.0),))[1]
    assert float(t) == 0.0
    assert float(rjax.grad(f)(1.0)) == 0.0
    return
  # an integer op inside a float function: the tangent is a (symbolic) zero
  nargs = 1 if fn in (lax.population_count, lax.clz, lax.bitwise_not) else 2

  def f(x):
    i = lax.convert_element_type(x, np.int32)
    r = fn(i) if nargs == 1 else fn(i, jnp.int32(1))
    return lax.convert_element_type(r, np.float32) * x

  # f(x) = r * x with r constant: the gradient is r
  assert float(rjax.grad(f)(3.0)) == float(f(jnp.asarray(3.0))) / 3.0


def test_bitcast_convert_type_is_nondifferentiable():
  f = lambda x: lax.convert_element_type(
      lax.bitcast_convert_type(x, np.int32), np.float32) * 0.0 + x
  assert float(rjax.grad(f)(1.5)) == 1.0


# ---------------------------------------------------------------------------
# vmap of every primitive in lax/lax.py against a Python loop


def _f(lo=-2.0, hi=2.0):
  return ("f", lo, hi)


def _i(dtype=np.int32, lo=-50, hi=50):
  return ("i", np.dtype(dtype), lo, hi)


_B = ("b",)


def _gen(rng, kind, shape):
  if kind[0] == "f":
    return rng.uniform(kind[1], kind[2], shape).astype(np.float32)
  if kind[0] == "i":
    return rng.integers(kind[2], kind[3], shape, endpoint=True).astype(kind[1])
  return rng.integers(0, 2, shape).astype(bool)


_rn = lambda m: (lambda x: lax.round(x, m))
_cvt = lambda dt: (lambda x: lax.convert_element_type(x, dt))

# name -> (fn, argument kinds); ``bcast`` ops accept lax broadcasting.
VMAP_UNARY = {
    "neg": (lax.neg, [_f()]), "neg_int": (lax.neg, [_i()]), "sign": (lax.sign, [_f()]),
    "sign_int": (lax.sign, [_i(np.int8)]), "floor": (lax.floor, [_f()]),
    "ceil": (lax.ceil, [_f()]), "round_afz": (_rn(0), [_f()]), "round_even": (_rn(1), [_f()]),
    "is_finite": (lax.is_finite, [_f()]), "exp": (lax.exp, [_f()]),
    "exp2": (lax.exp2, [_f()]), "log": (lax.log, [_f(0.1, 3)]),
    "log1p": (lax.log1p, [_f(-0.5, 3)]), "expm1": (lax.expm1, [_f()]),
    "tanh": (lax.tanh, [_f()]), "logistic": (lax.logistic, [_f()]), "sin": (lax.sin, [_f()]),
    "cos": (lax.cos, [_f()]), "tan": (lax.tan, [_f(-1, 1)]), "asin": (lax.asin, [_f(-1, 1)]),
    "acos": (lax.acos, [_f(-1, 1)]), "atan": (lax.atan, [_f()]), "sinh": (lax.sinh, [_f()]),
    "cosh": (lax.cosh, [_f()]), "asinh": (lax.asinh, [_f()]), "acosh": (lax.acosh, [_f(1, 3)]),
    "atanh": (lax.atanh, [_f(-0.9, 0.9)]), "sqrt": (lax.sqrt, [_f(0, 3)]),
    "rsqrt": (lax.rsqrt, [_f(0.1, 3)]), "cbrt": (lax.cbrt, [_f()]), "abs": (lax.abs, [_f()]),
    "abs_int": (lax.abs, [_i()]), "square": (lax.square, [_f()]),
    "square_int": (lax.square, [_i()]), "erf": (lax.erf, [_f()]), "erfc": (lax.erfc, [_f()]),
    "erf_inv": (lax.erf_inv, [_f(-0.9, 0.9)]), "lgamma": (lax.lgamma, [_f(0.1, 5)]),
    "digamma": (lax.digamma, [_f(0.1, 5)]), "not_bool": (lax.bitwise_not, [_B]),
    "bessel_i0e": (lax.bessel_i0e, [_f()]), "bessel_i1e": (lax.bessel_i1e, [_f()]),
    "not_int": (lax.bitwise_not, [_i()]), "not_uint": (lax.bitwise_not, [_i(np.uint8, 0, 255)]),
    "population_count": (lax.population_count, [_i(np.int32, -1000, 1000)]),
    "population_count_u8": (lax.population_count, [_i(np.uint8, 0, 255)]),
    "clz": (lax.clz, [_i(np.int32, -1000, 1000)]), "clz_u16": (lax.clz, [_i(np.uint16, 0, 999)]),
    "integer_pow": (lambda x: lax.integer_pow(x, 3), [_f()]),
    "integer_pow_neg": (lambda x: lax.integer_pow(x, -2), [_f(0.5, 2)]),
    "integer_pow_int": (lambda x: lax.integer_pow(x, 2), [_i()]),
    "convert_f2i": (_cvt(np.int32), [_f(-100, 100)]), "convert_i2f": (_cvt(np.float32), [_i()]),
    "convert_b2f": (_cvt(np.float32), [_B]), "convert_f2b": (_cvt(np.bool_), [_f()]),
}

VMAP_BINARY = {
    "add": (lax.add, [_f(), _f()]), "add_int": (lax.add, [_i(), _i()]),
    "sub": (lax.sub, [_f(), _f()]), "mul": (lax.mul, [_f(), _f()]),
    "mul_int": (lax.mul, [_i(np.int16), _i(np.int16)]), "div": (lax.div, [_f(), _f(0.5, 2)]),
    "div_int": (lax.div, [_i(), _i(np.int32, 1, 9)]), "rem": (lax.rem, [_f(), _f(0.5, 2)]),
    "rem_int": (lax.rem, [_i(), _i(np.int32, 1, 9)]), "max": (lax.max, [_f(), _f()]),
    "min": (lax.min, [_f(), _f()]), "max_int": (lax.max, [_i(), _i()]),
    "min_bool": (lax.min, [_B, _B]), "atan2": (lax.atan2, [_f(), _f()]),
    "nextafter": (lax.nextafter, [_f(), _f()]), "and_bool": (lax.bitwise_and, [_B, _B]),
    "and_int": (lax.bitwise_and, [_i(), _i()]), "or_bool": (lax.bitwise_or, [_B, _B]),
    "or_uint": (lax.bitwise_or, [_i(np.uint8, 0, 255), _i(np.uint8, 0, 255)]),
    "xor_bool": (lax.bitwise_xor, [_B, _B]), "xor_int": (lax.bitwise_xor, [_i(), _i()]),
    "shift_left": (lax.shift_left, [_i(), _i(np.int32, 0, 40)]),
    "shift_right_logical": (lax.shift_right_logical, [_i(), _i(np.int32, 0, 40)]),
    "shift_right_arithmetic": (lax.shift_right_arithmetic, [_i(), _i(np.int32, 0, 40)]),
    "shift_right_logical_u8": (lax.shift_right_logical, [_i(np.uint8, 0, 255),
                                                         _i(np.uint8, 0, 9)]),
    "eq": (lax.eq, [_i(np.int32, 0, 2), _i(np.int32, 0, 2)]), "ne": (lax.ne, [_f(), _f()]),
    "lt": (lax.lt, [_f(), _f()]), "le": (lax.le, [_i(np.int32, 0, 2), _i(np.int32, 0, 2)]),
    "gt": (lax.gt, [_f(), _f()]), "ge": (lax.ge, [_B, _B]),
    "pow": (lax.pow, [_f(0.2, 2), _f()]), "pow_int": (lax.pow, [_f(), _i(np.int32, -3, 3)]),
}


@st.composite
def _batched_args(draw, kinds, shapes):
  """Arguments of the given unbatched shapes, each batched at a random axis
  (or not at all; at least one is batched)."""
  n = len(kinds)
  size = draw(st.integers(1, 3))
  axes = [draw(st.one_of(st.none(), st.integers(0, len(s)))) for s in shapes]
  if all(a is None for a in axes):
    i = draw(st.integers(0, n - 1))
    axes[i] = draw(st.integers(0, len(shapes[i])))
  rng = np.random.default_rng(draw(st.integers(0, 2**16)))
  args = []
  for k, s, a in zip(kinds, shapes, axes):
    full = s if a is None else s[:a] + (size,) + s[a:]
    args.append(_gen(rng, k, full))
  return args, tuple(axes)


_unb_shape = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)


@st.composite
def _bcast_shapes(draw, n):
  """Unbatched shapes under lax broadcasting: equal, size-1 dims, or rank 0."""
  base = draw(_unb_shape)
  out = []
  for _ in range(n):
    mode = draw(st.sampled_from(["same", "scalar", "ones"]))
    if mode == "scalar":
      out.append(())
    elif mode == "ones":
      out.append(tuple(1 if draw(st.booleans()) else d for d in base))
    else:
      out.append(base)
  return out


@pytest.mark.parametrize("name", sorted(VMAP_UNARY))
@given(data=st.data())
def test_vmap_unary(name, data):
  fn, kinds = VMAP_UNARY[name]
  args, axes = data.draw(_batched_args(kinds, [data.draw(_unb_shape)]))
  out_axis = data.draw(st.integers(0, args[0].ndim - (axes[0] is not None)))
  check_vmap(fn, args, in_axes=axes, out_axes=out_axis)


@pytest.mark.parametrize("name", sorted(VMAP_BINARY))
@given(data=st.data())
def test_vmap_binary(name, data):
  fn, kinds = VMAP_BINARY[name]
  shapes = data.draw(_bcast_shapes(2))
  args, axes = data.draw(_batched_args(kinds, shapes))
  check_vmap(fn, args, in_axes=axes)


@pytest.mark.parametrize("pred", ["bool", "int32"])
@given(data=st.data())
def test_vmap_select_n(pred, data):
  shape = data.draw(_unb_shape)
  wshape = data.draw(st.sampled_from([(), shape]))
  ncases = 2 if pred == "bool" else data.draw(st.integers(1, 3))
  wkind = _B if pred == "bool" else _i(np.int32, 0, ncases - 1)
  kinds = [wkind] + [_f()] * ncases
  args, axes = data.draw(_batched_args(kinds, [wshape] + [shape] * ncases))
  check_vmap(lax.select_n, args, in_axes=axes)


@given(data=st.data())
def test_vmap_clamp(data):
  shape = data.draw(_unb_shape)
  shapes = [data.draw(st.sampled_from([(), shape])), shape,
            data.draw(st.sampled_from([(), shape]))]
  args, axes = data.draw(_batched_args([_f(-1, 0), _f(), _f(0, 1)], shapes))
  check_vmap(lax.clamp, args, in_axes=axes)


@pytest.mark.parametrize("src,dst", [(np.float32, np.int32), (np.int32, np.float32),
                                     (np.float32, np.uint8), (np.uint8, np.float32),
                                     (np.int16, np.uint8), (np.uint8, np.uint16)])
@given(data=st.data())
def test_vmap_bitcast_convert_type(src, dst, data):
  src, dst = np.dtype(src), np.dtype(dst)
  shape = data.draw(_unb_shape)
  if dst.itemsize > src.itemsize:
    shape = shape + (dst.itemsize // src.itemsize,)
  # bytes below 0x40 keep every bit pattern a finite float (no NaN casts)
  kind = _f(-5, 5) if src.kind == "f" else _i(src, 0, 63)
  args, axes = data.draw(_batched_args([kind], [shape]))
  check_vmap(lambda x: lax.bitcast_convert_type(x, dst), args, in_axes=axes)


def test_vmap_bitcast_batch_dim_last_and_wider():
  # the batch dim sits on the trailing dim that a wider dtype consumes
  x = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
  check_vmap(lambda v: lax.bitcast_convert_type(v, np.uint32), [x], in_axes=2)


@given(data=st.data())
def test_vmap_of_grads(data):
  # batching the JVP/transpose rules themselves (select_n/clamp/pow/rem inside)
  n = data.draw(st.integers(1, 3))
  rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
  x = rng.uniform(0.3, 2.0, (n, 3)).astype(np.float32)
  y = rng.uniform(0.3, 2.0, (3,)).astype(np.float32)
  fs = [lambda x, y: jnp.sum(lax.clamp(0.5, x, y)), lambda x, y: jnp.sum(lax.pow(x, y)),
        lambda x, y: jnp.sum(lax.rem(x, y) * lax.atan2(x, y)),
        lambda x, y: jnp.sum(lax.digamma(x) + lax.lgamma(y) + lax.erf_inv(x / 3.0))]
  for f in fs:
    check_vmap(rjax.grad(f, argnums=(0, 1)), [x, y], in_axes=(0, None), rtol=2e-5, atol=2e-5)


def test_every_lax_primitive_has_a_vmap_test():
  names = {p.name for p in vars(lax_mod).values() if isinstance(p, core.Primitive)}
  covered = {fn.__name__ for fn, _ in list(VMAP_UNARY.values()) + list(VMAP_BINARY.values())}
  prim_of = {"bitwise_and": "and", "bitwise_or": "or", "bitwise_xor": "xor",
             "bitwise_not": "not", "<lambda>": None}
  covered = {prim_of.get(c, c) for c in covered} - {None}
  covered |= {"round", "integer_pow", "convert_element_type", "select_n", "clamp",
              "bitcast_convert_type"}
  assert names - covered == set()


def test_every_lax_primitive_has_its_rules():
  from rjax._src.interpreters import ad, batching
  for p in vars(lax_mod).values():
    if isinstance(p, core.Primitive):
      assert p in ad.primitive_jvps or p in ad.nondifferentiable, p.name
      assert p in batching.primitive_batchers, p.name
