"""The elementwise primitives, ``convert_element_type``, ``select_n`` and
``clamp``. Each is one block: the primitive (``standard_unop`` and
``standard_binop`` bring its abstract evaluation, eager impl and lowering to
the Rust op of the same name), its batching rule, its JVP (and transpose, if
linear), its NumPy reference, and its public function.

A new elementwise primitive is one block here, e.g.::

    tanh_p = standard_unop("tanh", _inexact)
    batching.defvectorized(tanh_p)
    ad.defjvp2(tanh_p, lambda g, ans, x: mul_p.bind(
        g, sub_p.bind(_c(1.0, ans), mul_p.bind(ans, ans))))
    reference.register(tanh_p, np.tanh)


    @export
    def tanh(x):
      \"\"\"Elementwise hyperbolic tangent.\"\"\"
      return tanh_p.bind(asarray_lax(x))

plus its Rust kernel (one line in ``rust/src/ops/``) and one record in the
op table of ``tests/test_lax_elementwise.py``. The rules bind primitives
(``mul_p.bind``), so they stage exactly the equations written.
"""
from __future__ import annotations

import enum
import warnings

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, reference
# The rules here use shape ops and reductions, whose own rules use the ops
# here: the lax modules import each other as modules, looked up at call time.
from rjax._src.lax import reductions, shapes
from rjax._src.lax import complex_ops
from rjax._src.lax.utils import (_any, _bool_dtype, _float, _float_or_signed, _inexact, _int,
                                 _intbool, _lax_binary_args, _num, _numc, _ordered,
                                 _scalar_like, asarray_lax,
                                 broadcasting_shape, check_dtype, export, standard_binop,
                                 standard_primitive, standard_unop)
from rjax._src.runtime.array import from_numpy, from_scalar


def _sp():
  import scipy.special  # test-time oracle only
  return scipy.special


# ---------------------------------------------------------------------------
# Helpers of the rules below


def _c(v, like):
  """A weakly typed rank-0 constant of ``like``'s dtype."""
  return _scalar_like(v, like)


def _out_shape(*xs) -> tuple:
  return broadcasting_shape("broadcast", [core.get_aval(x).shape for x in xs])


def _broadcast_to(x, shape):
  """``x`` (rank 0, or equal rank with size-1 dims) broadcast to ``shape``."""
  xs = core.get_aval(x).shape
  if xs == tuple(shape):
    return x
  return shapes.broadcast_in_dim(x, shape, () if not xs else tuple(range(len(shape))))


def _bcast_to(t, out):
  """A tangent broadcast to the output's shape (Zero stays symbolic)."""
  oshape = core.get_aval(out).shape
  if isinstance(t, ad.Zero):
    return ad.Zero(core.get_aval(out).update(weak_type=False))
  tshape = core.get_aval(t).shape
  if tshape == oshape:
    return t
  if not tshape:
    return shapes.broadcast_in_dim(t, oshape, ())
  return shapes.broadcast_in_dim(t, oshape, tuple(range(len(oshape))))


def _zeros_of(shape, dtype):
  return shapes.full(shape, 0, dtype)


def _replace_zero(x):
  """1 where x == 0, else x (JAX's ``_replace_zero``)."""
  return select_n_p.bind(eq_p.bind(x, _c(0, x)), x, _broadcast_to(_c(1, x), core.get_aval(x).shape))


def _unbroadcast(aval: ShapedArray, ct):
  """Sum a cotangent of the broadcast output back to an operand's shape
  (lax broadcasts rank-0 operands and size-1 dims)."""
  ct_shape = core.get_aval(ct).shape
  if ct_shape == aval.shape:
    return ct
  if not aval.shape:
    return reductions.reduce_sum(ct, tuple(range(len(ct_shape))))
  axes = tuple(i for i, (a, c) in enumerate(zip(aval.shape, ct_shape)) if a == 1 and c != 1)
  return shapes.reshape(reductions.reduce_sum(ct, axes), aval.shape)


def _linear_binop_transpose(sign_y):
  def transpose(ct, x, y):
    if isinstance(ct, ad.Zero):
      return [None, None]
    cx = _unbroadcast(x.aval, ct) if ad.is_undefined_primal(x) else None
    cy = None
    if ad.is_undefined_primal(y):
      cy = _unbroadcast(y.aval, ct if sign_y > 0 else neg_p.bind(ct))
    return [cx, cy]
  return transpose


# ===========================================================================
# Unary elementwise primitives


neg_p = standard_unop("neg", _numc)
batching.defvectorized(neg_p)
ad.deflinear(neg_p, lambda ct, x: [neg_p.bind(ct)])
reference.register(neg_p, np.negative)


@export
def neg(x):
  """Elementwise negation (integers wrap)."""
  return neg_p.bind(asarray_lax(x))


sign_p = standard_unop("sign", _numc)
batching.defvectorized(sign_p)
ad.defnondiff(sign_p)
reference.register(sign_p, np.sign)


@export
def sign(x):
  """Elementwise sign: -1, 0 or 1 (NaN and ±0 pass through)."""
  return sign_p.bind(asarray_lax(x))


floor_p = standard_unop("floor", _float)
batching.defvectorized(floor_p)
ad.defnondiff(floor_p)
reference.register(floor_p, np.floor)


@export
def floor(x):
  """Elementwise floor."""
  return floor_p.bind(asarray_lax(x))


ceil_p = standard_unop("ceil", _float)
batching.defvectorized(ceil_p)
ad.defnondiff(ceil_p)
reference.register(ceil_p, np.ceil)


@export
def ceil(x):
  """Elementwise ceiling."""
  return ceil_p.bind(asarray_lax(x))


@export
class RoundingMethod(enum.IntEnum):
  """How ``round`` breaks ties (JAX's ``lax.RoundingMethod``)."""
  AWAY_FROM_ZERO = 0
  TO_NEAREST_EVEN = 1


def _round_ref(x, *, rounding_method):
  if int(rounding_method) == 1:
    return np.round(x)
  t = np.trunc(x)
  return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t).astype(x.dtype)


round_p = standard_unop("round", _float)
batching.defvectorized(round_p)
ad.defnondiff(round_p)
reference.register(round_p, _round_ref)


@export
def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001
  """Round to the nearest integer; ties away from zero or to even."""
  m = int(rounding_method)
  if m not in (0, 1):
    raise ValueError(f"round: rounding_method must be 0 or 1, got {rounding_method!r}")
  return round_p.bind(asarray_lax(x), rounding_method=m)


is_finite_p = standard_unop("is_finite", _float, _bool_dtype)
batching.defvectorized(is_finite_p)
ad.defnondiff(is_finite_p)
reference.register(is_finite_p, np.isfinite)


@export
def is_finite(x):
  """True where x is neither infinite nor NaN."""
  return is_finite_p.bind(asarray_lax(x))


def _abs_jvp(g, ans, x):
  if dtypes.is_complex(core.get_aval(x).dtype):
    # JAX's rule: re(g conj(x) / |x|), with |x| = 0 replaced by 1
    a = convert_element_type_p.bind(ans, new_dtype=core.get_aval(x).dtype, weak_type=False)
    a = select_n_p.bind(eq_p.bind(a, _scalar_like(0, a)), a, shapes.full_like(a, 1))
    return complex_ops.real_p.bind(mul_p.bind(g, div_p.bind(complex_ops.conj_p.bind(
        x, input_dtype=core.get_aval(x).dtype), a)))
  # JAX's convention grad(abs)(0.) == 1
  return select_n_p.bind(ge_p.bind(x, _scalar_like(0, x)), neg_p.bind(g), g)


abs_p = standard_unop("abs", _float_or_signed + ("complex",), dtypes.real_dtype)
batching.defvectorized(abs_p)
ad.defjvp2(abs_p, _abs_jvp)
reference.register(abs_p, np.abs)


@export
def abs(x):  # noqa: A001
  """Elementwise absolute value (floats, signed integers; |z|, a real, for complex)."""
  return abs_p.bind(asarray_lax(x))


square_p = standard_unop("square", _numc)
batching.defvectorized(square_p)
ad.defjvp(square_p, lambda g, x: mul_p.bind(g, mul_p.bind(_scalar_like(2.0, x), x)))
reference.register(square_p, np.square)


@export
def square(x):
  """Elementwise x * x."""
  return square_p.bind(asarray_lax(x))


sqrt_p = standard_unop("sqrt", _inexact)
batching.defvectorized(sqrt_p)
ad.defjvp2(sqrt_p, lambda g, ans, x: div_p.bind(g, mul_p.bind(_scalar_like(2.0, ans), ans)))
reference.register(sqrt_p, np.sqrt)


@export
def sqrt(x):
  """Elementwise square root."""
  return sqrt_p.bind(asarray_lax(x))


rsqrt_p = standard_unop("rsqrt", _inexact)
batching.defvectorized(rsqrt_p)
ad.defjvp2(rsqrt_p, lambda g, ans, x: mul_p.bind(
    g, mul_p.bind(_c(-0.5, x), div_p.bind(ans, x))))
reference.register(rsqrt_p, lambda x: 1 / np.sqrt(x))


@export
def rsqrt(x):
  """Elementwise 1 / sqrt(x)."""
  return rsqrt_p.bind(asarray_lax(x))


cbrt_p = standard_unop("cbrt", _float)
batching.defvectorized(cbrt_p)
ad.defjvp2(cbrt_p, lambda g, ans, x: mul_p.bind(
    g, mul_p.bind(_c(1.0 / 3.0, x), integer_pow_p.bind(ans, y=-2))))
reference.register(cbrt_p, np.cbrt)


@export
def cbrt(x):
  """Elementwise cube root."""
  return cbrt_p.bind(asarray_lax(x))


def _integer_pow_abstract_eval(x, *, y):
  check_dtype("integer_pow", x, _numc)
  if dtypes.is_int(x.dtype) and y < 0:
    raise TypeError(f"integer_pow: integers cannot be raised to negative powers, got "
                    f"integer_pow({x.dtype.name}{list(x.shape)}, {y})")
  return ShapedArray(x.shape, x.dtype, x.weak_type)


def _integer_pow_jvp(g, x, *, y):
  if y == 0:   # zeros that do not depend on g (a NaN tangent stays out), as JAX
    return ad.Zero.from_value(x)
  return mul_p.bind(g, mul_p.bind(_scalar_like(float(y), x),
                                  x if y == 2 else integer_pow_p.bind(x, y=y - 1)))


integer_pow_p = standard_primitive("integer_pow", _integer_pow_abstract_eval)
ad.defjvp(integer_pow_p, _integer_pow_jvp)
batching.defvectorized(integer_pow_p)
reference.register(integer_pow_p, lambda x, *, y: np.power(x, y, dtype=x.dtype)
                   if y >= 0 else (1 / np.power(x.astype(np.float64), -y)).astype(x.dtype))


@export
def integer_pow(x, y: int):
  """x ** y for a static Python int y (repeated squaring; integers wrap)."""
  if isinstance(y, (bool, np.bool_)) or not isinstance(y, (int, np.integer)):
    raise TypeError(f"integer_pow: the exponent y must be a Python int, got {y!r}")
  return integer_pow_p.bind(asarray_lax(x), y=int(y))


# -- exponentials and logarithms ---------------------------------------------

exp_p = standard_unop("exp", _inexact)
batching.defvectorized(exp_p)
ad.defjvp2(exp_p, lambda g, ans, x: mul_p.bind(g, ans))
reference.register(exp_p, np.exp)


@export
def exp(x):
  """Elementwise e**x."""
  return exp_p.bind(asarray_lax(x))


exp2_p = standard_unop("exp2", _inexact)
batching.defvectorized(exp2_p)
ad.defjvp2(exp2_p, lambda g, ans, x: mul_p.bind(log_p.bind(_c(2.0, x)), mul_p.bind(g, ans)))
reference.register(exp2_p, np.exp2)


@export
def exp2(x):
  """Elementwise 2**x."""
  return exp2_p.bind(asarray_lax(x))


log_p = standard_unop("log", _inexact)
batching.defvectorized(log_p)
ad.defjvp(log_p, lambda g, x: div_p.bind(g, x))
reference.register(log_p, np.log)


@export
def log(x):
  """Elementwise natural logarithm."""
  return log_p.bind(asarray_lax(x))


log1p_p = standard_unop("log1p", _inexact)
batching.defvectorized(log1p_p)
ad.defjvp(log1p_p, lambda g, x: div_p.bind(g, add_p.bind(x, _scalar_like(1.0, x))))
reference.register(log1p_p, np.log1p)


@export
def log1p(x):
  """Elementwise log(1 + x), accurate near 0."""
  return log1p_p.bind(asarray_lax(x))


expm1_p = standard_unop("expm1", _inexact)
batching.defvectorized(expm1_p)
ad.defjvp2(expm1_p, lambda g, ans, x: mul_p.bind(g, add_p.bind(ans, _scalar_like(1.0, ans))))
reference.register(expm1_p, np.expm1)


@export
def expm1(x):
  """Elementwise exp(x) - 1, accurate near 0."""
  return expm1_p.bind(asarray_lax(x))


logistic_p = standard_unop("logistic", _float)
batching.defvectorized(logistic_p)
ad.defjvp2(logistic_p, lambda g, ans, x: mul_p.bind(
    g, mul_p.bind(ans, sub_p.bind(_scalar_like(1.0, ans), ans))))
reference.register(logistic_p, lambda x: _sp().expit(x))


@export
def logistic(x):
  """Elementwise logistic sigmoid 1 / (1 + exp(-x))."""
  return logistic_p.bind(asarray_lax(x))


# -- trigonometric and hyperbolic ----------------------------------------------

sin_p = standard_unop("sin", _inexact)
batching.defvectorized(sin_p)
ad.defjvp(sin_p, lambda g, x: mul_p.bind(g, cos_p.bind(x)))
reference.register(sin_p, np.sin)


@export
def sin(x):
  """Elementwise sine."""
  return sin_p.bind(asarray_lax(x))


cos_p = standard_unop("cos", _inexact)
batching.defvectorized(cos_p)
ad.defjvp(cos_p, lambda g, x: neg_p.bind(mul_p.bind(g, sin_p.bind(x))))
reference.register(cos_p, np.cos)


@export
def cos(x):
  """Elementwise cosine."""
  return cos_p.bind(asarray_lax(x))


tan_p = standard_unop("tan", _inexact)
batching.defvectorized(tan_p)
ad.defjvp2(tan_p, lambda g, ans, x: mul_p.bind(g, add_p.bind(_c(1.0, x), square_p.bind(ans))))
reference.register(tan_p, np.tan)


@export
def tan(x):
  """Elementwise tangent."""
  return tan_p.bind(asarray_lax(x))


asin_p = standard_unop("asin", _inexact)
batching.defvectorized(asin_p)
ad.defjvp(asin_p, lambda g, x: mul_p.bind(
    g, rsqrt_p.bind(sub_p.bind(_c(1.0, x), square_p.bind(x)))))
reference.register(asin_p, np.arcsin)


@export
def asin(x):
  """Elementwise arcsine."""
  return asin_p.bind(asarray_lax(x))


acos_p = standard_unop("acos", _inexact)
batching.defvectorized(acos_p)
ad.defjvp(acos_p, lambda g, x: mul_p.bind(
    g, neg_p.bind(rsqrt_p.bind(sub_p.bind(_c(1.0, x), square_p.bind(x))))))
reference.register(acos_p, np.arccos)


@export
def acos(x):
  """Elementwise arccosine."""
  return acos_p.bind(asarray_lax(x))


atan_p = standard_unop("atan", _inexact)
batching.defvectorized(atan_p)
ad.defjvp(atan_p, lambda g, x: div_p.bind(g, add_p.bind(_c(1.0, x), square_p.bind(x))))
reference.register(atan_p, np.arctan)


@export
def atan(x):
  """Elementwise arctangent."""
  return atan_p.bind(asarray_lax(x))


tanh_p = standard_unop("tanh", _inexact)
batching.defvectorized(tanh_p)
# JAX's formula (g + g*ans) * (1 - ans): the same inf/NaN propagation (an
# infinite g at tanh(x) = 0 gives NaN, as in JAX, not inf).
ad.defjvp2(tanh_p, lambda g, ans, x: mul_p.bind(
    add_p.bind(g, mul_p.bind(g, ans)), sub_p.bind(_scalar_like(1.0, ans), ans)))
reference.register(tanh_p, np.tanh)


@export
def tanh(x):
  """Elementwise hyperbolic tangent."""
  return tanh_p.bind(asarray_lax(x))


sinh_p = standard_unop("sinh", _inexact)
batching.defvectorized(sinh_p)
ad.defjvp(sinh_p, lambda g, x: mul_p.bind(g, cosh_p.bind(x)))
reference.register(sinh_p, np.sinh)


@export
def sinh(x):
  """Elementwise hyperbolic sine."""
  return sinh_p.bind(asarray_lax(x))


cosh_p = standard_unop("cosh", _inexact)
batching.defvectorized(cosh_p)
ad.defjvp(cosh_p, lambda g, x: mul_p.bind(g, sinh_p.bind(x)))
reference.register(cosh_p, np.cosh)


@export
def cosh(x):
  """Elementwise hyperbolic cosine."""
  return cosh_p.bind(asarray_lax(x))


asinh_p = standard_unop("asinh", _inexact)
batching.defvectorized(asinh_p)
ad.defjvp(asinh_p, lambda g, x: mul_p.bind(
    g, rsqrt_p.bind(add_p.bind(square_p.bind(x), _c(1.0, x)))))
reference.register(asinh_p, np.arcsinh)


@export
def asinh(x):
  """Elementwise inverse hyperbolic sine."""
  return asinh_p.bind(asarray_lax(x))


acosh_p = standard_unop("acosh", _inexact)
batching.defvectorized(acosh_p)
# JAX uses x^2 - 1 rather than (x+1)(x-1): the domain is x >= 1
ad.defjvp(acosh_p, lambda g, x: mul_p.bind(
    g, rsqrt_p.bind(sub_p.bind(square_p.bind(x), _c(1.0, x)))))
reference.register(acosh_p, np.arccosh)


@export
def acosh(x):
  """Elementwise inverse hyperbolic cosine."""
  return acosh_p.bind(asarray_lax(x))


atanh_p = standard_unop("atanh", _inexact)
batching.defvectorized(atanh_p)
ad.defjvp(atanh_p, lambda g, x: mul_p.bind(
    div_p.bind(_c(1.0, x), add_p.bind(_c(1.0, x), x)), div_p.bind(g, sub_p.bind(_c(1.0, x), x))))
reference.register(atanh_p, np.arctanh)


@export
def atanh(x):
  """Elementwise inverse hyperbolic tangent."""
  return atanh_p.bind(asarray_lax(x))


# -- special functions (JAX's rules, checked against jax/_src/lax/special.py) --

erf_p = standard_unop("erf", _float)
batching.defvectorized(erf_p)
ad.defjvp(erf_p, lambda g, x: mul_p.bind(
    _c(2.0 / np.sqrt(np.pi), x), mul_p.bind(g, exp_p.bind(neg_p.bind(square_p.bind(x))))))
reference.register(erf_p, lambda x: _sp().erf(x))


@export
def erf(x):
  """Elementwise error function."""
  return erf_p.bind(asarray_lax(x))


erfc_p = standard_unop("erfc", _float)
batching.defvectorized(erfc_p)
ad.defjvp(erfc_p, lambda g, x: mul_p.bind(
    _c(-2.0 / np.sqrt(np.pi), x), mul_p.bind(g, exp_p.bind(neg_p.bind(square_p.bind(x))))))
reference.register(erfc_p, lambda x: _sp().erfc(x))


@export
def erfc(x):
  """Elementwise complementary error function."""
  return erfc_p.bind(asarray_lax(x))


erf_inv_p = standard_unop("erf_inv", _float)
batching.defvectorized(erf_inv_p)
ad.defjvp2(erf_inv_p, lambda g, ans, x: mul_p.bind(
    _c(np.sqrt(np.pi) / 2.0, x), mul_p.bind(g, exp_p.bind(square_p.bind(ans)))))
reference.register(erf_inv_p, lambda x: _sp().erfinv(x))


@export
def erf_inv(x):
  """Elementwise inverse error function."""
  return erf_inv_p.bind(asarray_lax(x))


lgamma_p = standard_unop("lgamma", _float)
batching.defvectorized(lgamma_p)
ad.defjvp(lgamma_p, lambda g, x: mul_p.bind(g, digamma_p.bind(x)))
reference.register(lgamma_p, lambda x: _sp().gammaln(x))


@export
def lgamma(x):
  """Elementwise log of the absolute value of the gamma function."""
  return lgamma_p.bind(asarray_lax(x))


# Trigamma, digamma's derivative. JAX differentiates digamma with
# ``polygamma(1, x)`` (a primitive lowered to CHLO). rjax has no polygamma
# primitive, so trigamma is built from existing differentiable primitives:
# the recurrence
#   psi1(x) = sum_{k<N} 1/(x+k)^2 + psi1(x+N)
# moves the argument to x+N >= N, where the asymptotic series
#   psi1(z) ~ 1/z + 1/(2z^2) + sum_k B_2k / z^(2k+1)
# (to B_12; the first omitted term is below 1e-15 relative for z >= 10) is
# accurate to float64 round-off; negative arguments use the reflection
#   psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x)
# with the sine's argument reduced exactly (x - round(x)). Being a composite of
# primitives, it is itself differentiable to any order (digamma's higher
# derivatives come from differentiating this expression).
_TRIGAMMA_SHIFT = 10
_TRIGAMMA_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)


def _trigamma_positive(x):
  acc = None
  for k in range(_TRIGAMMA_SHIFT):
    xk = add_p.bind(x, _c(float(k), x)) if k else x
    term = div_p.bind(_c(1.0, x), square_p.bind(xk))
    acc = term if acc is None else add_p.bind(acc, term)
  z = add_p.bind(x, _c(float(_TRIGAMMA_SHIFT), x))
  w = div_p.bind(_c(1.0, z), z)          # 1/z
  w2 = square_p.bind(w)                  # 1/z^2
  # Horner in w2 for sum_k B_2k w^(2k+1) = w^3 * (B2 + w2 (B4 + w2 (B6 + ...)))
  poly = _c(_TRIGAMMA_BERNOULLI[-1], x)
  for b in reversed(_TRIGAMMA_BERNOULLI[:-1]):
    poly = add_p.bind(_c(b, x), mul_p.bind(w2, poly))
  tail = add_p.bind(w, mul_p.bind(w2, add_p.bind(_c(0.5, x), mul_p.bind(w, poly))))
  return add_p.bind(acc, tail)


def _trigamma(x):
  shape = core.get_aval(x).shape
  neg_x = lt_p.bind(x, _c(0.0, x))
  # Both branches get safe arguments (so that the unused one cannot poison
  # reverse-mode cotangents with 0 * inf).
  y = select_n_p.bind(neg_x, x, sub_p.bind(_c(1.0, x), x))
  t = _trigamma_positive(y)
  xs = select_n_p.bind(neg_x, _broadcast_to(_c(0.5, x), shape), x)
  frac = sub_p.bind(xs, round_p.bind(xs, rounding_method=int(RoundingMethod.TO_NEAREST_EVEN)))
  s = sin_p.bind(mul_p.bind(_c(np.pi, x), frac))
  refl = sub_p.bind(div_p.bind(_c(np.pi ** 2, x), square_p.bind(s)), t)
  return select_n_p.bind(neg_x, t, refl)


digamma_p = standard_unop("digamma", _float)
batching.defvectorized(digamma_p)
ad.defjvp(digamma_p, lambda g, x: mul_p.bind(g, _trigamma(x)))
reference.register(digamma_p, lambda x: _sp().psi(x))


@export
def digamma(x):
  """Elementwise digamma function (derivative of lgamma)."""
  return digamma_p.bind(asarray_lax(x))


# exp(-|x|) I0(x) and exp(-|x|) I1(x): JAX's rules (jax/_src/lax/special.py):
# i0e' = i1e - sign(x) i0e; i1e' = i0e - i1e (sign(x) + 1/x), 1/2 at 0.
bessel_i0e_p = standard_unop("bessel_i0e", _float)
batching.defvectorized(bessel_i0e_p)
ad.defjvp2(bessel_i0e_p, lambda g, ans, x: mul_p.bind(
    g, sub_p.bind(bessel_i1e_p.bind(x), mul_p.bind(sign_p.bind(x), ans))))
reference.register(bessel_i0e_p, lambda x: _sp().i0e(x))


@export
def bessel_i0e(x):
  """Elementwise exponentially scaled modified Bessel function of order 0."""
  return bessel_i0e_p.bind(asarray_lax(x))


bessel_i1e_p = standard_unop("bessel_i1e", _float)
batching.defvectorized(bessel_i1e_p)


def _bessel_i1e_jvp(g, ans, x):
  zero = eq_p.bind(x, _c(0.0, x))
  one, half = (_full_of(_c(v, x), x, x) for v in (1.0, 0.5))
  safe = select_n_p.bind(zero, x, one)
  d = sub_p.bind(bessel_i0e_p.bind(safe), mul_p.bind(
      ans, add_p.bind(sign_p.bind(safe), div_p.bind(one, safe))))
  return mul_p.bind(g, select_n_p.bind(zero, d, half))


ad.defjvp2(bessel_i1e_p, _bessel_i1e_jvp)
reference.register(bessel_i1e_p, lambda x: _sp().i1e(x))


@export
def bessel_i1e(x):
  """Elementwise exponentially scaled modified Bessel function of order 1."""
  return bessel_i1e_p.bind(asarray_lax(x))


# -- bitwise -------------------------------------------------------------------

not_p = standard_unop("not", _intbool)
batching.defvectorized(not_p)
ad.defnondiff(not_p)
reference.register(not_p, np.invert)


@export
def bitwise_not(x):
  """Elementwise bitwise (integers) or logical (bool) NOT."""
  return not_p.bind(asarray_lax(x))


not_ = export(bitwise_not, "not_")

population_count_p = standard_unop("population_count", _int)
batching.defvectorized(population_count_p)
ad.defnondiff(population_count_p)
reference.register(population_count_p,
                   lambda x: np.bitwise_count(x.view(f"u{x.dtype.itemsize}")).astype(x.dtype))


@export
def population_count(x):
  """Elementwise count of set bits."""
  return population_count_p.bind(asarray_lax(x))


def _clz_ref(x):
  bits = x.dtype.itemsize * 8
  u = x.astype(np.dtype(f"u{x.dtype.itemsize}")).astype(np.uint64)
  out = np.full(x.shape, bits, np.int64)
  for b in range(bits):
    out = np.where((u >> np.uint64(b)) & np.uint64(1), bits - 1 - b, out)
  return out.astype(x.dtype)


clz_p = standard_unop("clz", _int)
batching.defvectorized(clz_p)
ad.defnondiff(clz_p)
reference.register(clz_p, _clz_ref)


@export
def clz(x):
  """Elementwise count of leading zero bits."""
  return clz_p.bind(asarray_lax(x))


# ===========================================================================
# Binary elementwise primitives (lax's broadcasting: rank-0 operands and
# size-1 dims; operand dtypes must be equal)


def _add_jvp(primals, tangents):
  x, y = primals
  tx, ty = tangents
  out = add_p.bind(x, y)
  return out, ad.add_tangents(_bcast_to(tx, out), _bcast_to(ty, out))


add_p = standard_binop("add", _numc)
batching.defbroadcasting(add_p)
ad.primitive_jvps[add_p] = _add_jvp
ad.primitive_transposes[add_p] = _linear_binop_transpose(+1)
reference.register(add_p, np.add)


@export
def add(x, y):
  """Elementwise x + y (integers wrap)."""
  return add_p.bind(*_lax_binary_args(x, y))


def _sub_jvp(primals, tangents):
  x, y = primals
  tx, ty = tangents
  out = sub_p.bind(x, y)
  ty = ty if isinstance(ty, ad.Zero) else neg_p.bind(ty)
  return out, ad.add_tangents(_bcast_to(tx, out), _bcast_to(ty, out))


sub_p = standard_binop("sub", _numc)
batching.defbroadcasting(sub_p)
ad.primitive_jvps[sub_p] = _sub_jvp
ad.primitive_transposes[sub_p] = _linear_binop_transpose(-1)
reference.register(sub_p, np.subtract)


@export
def sub(x, y):
  """Elementwise x - y."""
  return sub_p.bind(*_lax_binary_args(x, y))


def _mul_transpose(ct, x, y):
  if ad.is_undefined_primal(x):
    return [_unbroadcast(x.aval, mul_p.bind(ct, y)), None]
  return [None, _unbroadcast(y.aval, mul_p.bind(x, ct))]


mul_p = standard_binop("mul", _numc)
batching.defbroadcasting(mul_p)
ad.defjvp(mul_p, lambda g, x, y: mul_p.bind(g, y), lambda g, x, y: mul_p.bind(x, g))
ad.primitive_transposes[mul_p] = _mul_transpose
reference.register(mul_p, np.multiply)


@export
def mul(x, y):
  """Elementwise x * y."""
  return mul_p.bind(*_lax_binary_args(x, y))


def _div_transpose(ct, x, y):
  if ad.is_undefined_primal(y):
    raise ValueError("div: transposition with respect to the divisor is not linear")
  return [_unbroadcast(x.aval, div_p.bind(ct, y)), None]


def _int_div_ref(x, y):
  if not np.issubdtype(x.dtype, np.integer):
    return np.divide(x, y)
  with np.errstate(all="ignore"):
    q = np.where(y == 0, -1, np.trunc(x.astype(np.float64) / np.where(y == 0, 1, y)))
  return q.astype(np.int64).astype(x.dtype)


div_p = standard_binop("div", _numc)
batching.defbroadcasting(div_p)
ad.defjvp(div_p, lambda g, x, y: div_p.bind(g, y),
          lambda g, x, y: neg_p.bind(mul_p.bind(g, div_p.bind(x, mul_p.bind(y, y)))))
ad.primitive_transposes[div_p] = _div_transpose
reference.register(div_p, _int_div_ref)


@export
def div(x, y):
  """Elementwise x / y; integers round toward zero (x / 0 = -1)."""
  return div_p.bind(*_lax_binary_args(x, y))


def _rem_jvp_rhs(g, x, y):
  q = div_p.bind(x, y)
  # -g * round_toward_zero(x / y)
  return mul_p.bind(neg_p.bind(g), mul_p.bind(sign_p.bind(q), floor_p.bind(abs_p.bind(q))))


def _rem_ref(x, y):
  if not np.issubdtype(x.dtype, np.integer):
    return np.fmod(x, y)
  with np.errstate(all="ignore"):
    return np.where(y == 0, x, np.fmod(x, np.where(y == 0, 1, y))).astype(x.dtype)


rem_p = standard_binop("rem", _num)
batching.defbroadcasting(rem_p)
ad.defjvp(rem_p, lambda g, x, y: _broadcast_to(g, _out_shape(x, y)), _rem_jvp_rhs)
reference.register(rem_p, _rem_ref)


@export
def rem(x, y):
  """Elementwise remainder with the dividend's sign (C fmod)."""
  return rem_p.bind(*_lax_binary_args(x, y))


def _minmax_jvp(prim, pick_x):
  """Ties split the gradient evenly, as in JAX; where the output is NaN
  neither side gets any (JAX's _balanced_eq: x's weight is
  (x == out) / (2 if y == out else 1))."""
  del pick_x
  def rule(primals, tangents):
    x, y = primals
    out = prim.bind(x, y)
    one, half, zero = (_full_of(_scalar_like(v, out), x, y) for v in (1.0, 0.5, 0.0))
    x_is, y_is = eq_p.bind(x, out), eq_p.bind(y, out)
    gx = select_n_p.bind(x_is, zero, select_n_p.bind(y_is, one, half))
    gy = select_n_p.bind(y_is, zero, select_n_p.bind(x_is, one, half))
    t = ad.Zero(core.get_aval(out).update(weak_type=False))
    if not isinstance(tangents[0], ad.Zero):
      t = ad.add_tangents(t, mul_p.bind(_bcast_to(tangents[0], out), gx))
    if not isinstance(tangents[1], ad.Zero):
      t = ad.add_tangents(t, mul_p.bind(_bcast_to(tangents[1], out), gy))
    return out, t
  return rule


def _full_of(s, x, y):
  shape = broadcasting_shape("max", [core.get_aval(x).shape, core.get_aval(y).shape])
  return shapes.broadcast_in_dim(s, shape, ()) if shape else s


max_p = standard_binop("max", _any)
batching.defbroadcasting(max_p)
ad.primitive_jvps[max_p] = _minmax_jvp(max_p, lambda x, y: gt_p.bind(x, y))
reference.register(max_p, np.maximum)


@export
def max(x, y):  # noqa: A001
  """Elementwise maximum (NaN-propagating; complex values compare
  lexicographically, as JAX: ``x > y ? x : y`` on (real, imag))."""
  return max_p.bind(*_lax_binary_args(x, y))


min_p = standard_binop("min", _any)
batching.defbroadcasting(min_p)
ad.primitive_jvps[min_p] = _minmax_jvp(min_p, lambda x, y: lt_p.bind(x, y))
reference.register(min_p, np.minimum)


@export
def min(x, y):  # noqa: A001
  """Elementwise minimum (NaN-propagating; complex values compare
  lexicographically, as JAX: ``x < y ? x : y`` on (real, imag))."""
  return min_p.bind(*_lax_binary_args(x, y))


def _pow_abstract_eval(x, y):
  check_dtype("pow", x, _inexact)
  if not (dtypes.is_int(y.dtype) or y.dtype == x.dtype):
    raise TypeError(f"pow: the exponent must have the base's dtype {x.dtype.name} or an integer "
                    f"dtype, got {y.dtype.name}")
  shape = broadcasting_shape("pow", [x.shape, y.shape])
  return ShapedArray(shape, x.dtype, x.weak_type and y.weak_type)


def _pow_jvp_lhs(g, ans, x, y):
  shape = _out_shape(x, y)
  xd = core.get_aval(x).dtype
  if dtypes.is_int(core.get_aval(y).dtype):
    # d/dx x**n = n * x**(n-1), and exactly 0 where n == 0 (also at x == 0)
    yb = _broadcast_to(y, shape)
    xb = _broadcast_to(x, shape)
    yf = convert_element_type_p.bind(yb, new_dtype=xd, weak_type=False)
    one_i = _c(1, yb)
    jac = select_n_p.bind(eq_p.bind(yb, _c(0, yb)),
                          mul_p.bind(_replace_zero(yf), pow_p.bind(xb, sub_p.bind(yb, one_i))),
                          _zeros_of(shape, xd))
  else:
    jac = mul_p.bind(y, pow_p.bind(x, sub_p.bind(y, _c(1.0, y))))
  return mul_p.bind(g, jac)


def _pow_jvp_rhs(g, ans, x, y):
  # log of x with 0 replaced by 1: d/dy 0**y = 0 (JAX's convention)
  return mul_p.bind(g, mul_p.bind(log_p.bind(_replace_zero(x)), ans))


pow_p = standard_primitive("pow", _pow_abstract_eval)
ad.defjvp2(pow_p, _pow_jvp_lhs, _pow_jvp_rhs)
batching.defbroadcasting(pow_p)
reference.register(pow_p, lambda x, y: np.power(x, y.astype(x.dtype) if y.dtype.kind in "iu"
                                                else y))


@export
def pow(x, y):  # noqa: A001
  """Elementwise x ** y for a float x and a float (same dtype) or integer y."""
  if isinstance(x, (int, float)) and not isinstance(x, bool) and \
      not isinstance(y, (int, float, bool)):
    y = asarray_lax(y)   # a Python scalar base takes a float exponent's dtype, weakly
    if dtypes.issubdtype(core.get_aval(y).dtype, np.inexact):
      x = _scalar_like(x, y)
  x = asarray_lax(x)
  if isinstance(y, int) and not isinstance(y, bool):
    y = from_scalar(y, dtypes.int32)
  elif isinstance(y, float):
    y = _scalar_like(y, x)
  return pow_p.bind(x, asarray_lax(y))


def _atan2_denominator(x, y):
  return add_p.bind(square_p.bind(x), square_p.bind(y))


atan2_p = standard_binop("atan2", _float)
batching.defbroadcasting(atan2_p)
ad.defjvp(atan2_p,
          lambda g, x, y: mul_p.bind(g, div_p.bind(y, _atan2_denominator(x, y))),
          lambda g, x, y: mul_p.bind(g, div_p.bind(neg_p.bind(x), _atan2_denominator(x, y))))
reference.register(atan2_p, np.arctan2)


@export
def atan2(x, y):
  """Elementwise arctangent of x / y, quadrant-aware."""
  return atan2_p.bind(*_lax_binary_args(x, y))


nextafter_p = standard_binop("nextafter", _float)
batching.defbroadcasting(nextafter_p)
ad.defnondiff(nextafter_p)
reference.register(nextafter_p, np.nextafter)


@export
def nextafter(x, y):
  """Next representable value after x towards y."""
  return nextafter_p.bind(*_lax_binary_args(x, y))


# -- bitwise -------------------------------------------------------------------

and_p = standard_binop("and", _intbool)
batching.defbroadcasting(and_p)
ad.defnondiff(and_p)
reference.register(and_p, np.bitwise_and)


@export
def bitwise_and(x, y):
  """Elementwise AND (bitwise or logical)."""
  return and_p.bind(*_lax_binary_args(x, y))


or_p = standard_binop("or", _intbool)
batching.defbroadcasting(or_p)
ad.defnondiff(or_p)
reference.register(or_p, np.bitwise_or)


@export
def bitwise_or(x, y):
  """Elementwise OR (bitwise or logical)."""
  return or_p.bind(*_lax_binary_args(x, y))


xor_p = standard_binop("xor", _intbool)
batching.defbroadcasting(xor_p)
ad.defnondiff(xor_p)
reference.register(xor_p, np.bitwise_xor)


@export
def bitwise_xor(x, y):
  """Elementwise XOR (bitwise or logical)."""
  return xor_p.bind(*_lax_binary_args(x, y))


def _shift_ref(kind):
  def ref(x, y):
    bits = x.dtype.itemsize * 8
    ud = np.dtype(f"u{x.dtype.itemsize}")
    sd = np.dtype(f"i{x.dtype.itemsize}")
    s = y.astype(ud)
    big = s >= bits
    sc = np.where(big, 0, s).astype(ud)
    if kind == "left":
      r = np.where(big, 0, x.astype(ud) << sc)
    elif kind == "logical":
      r = np.where(big, 0, x.astype(ud) >> sc)
    else:
      sc = np.minimum(s, bits - 1).astype(sd)
      r = x.astype(sd) >> sc
    return np.asarray(r).astype(ud).astype(x.dtype)
  return ref


shift_left_p = standard_binop("shift_left", _int)
batching.defbroadcasting(shift_left_p)
ad.defnondiff(shift_left_p)
reference.register(shift_left_p, _shift_ref("left"))


@export
def shift_left(x, y):
  """x << y; shifts >= the bit width give 0."""
  return shift_left_p.bind(*_lax_binary_args(x, y))


shift_right_logical_p = standard_binop("shift_right_logical", _int)
batching.defbroadcasting(shift_right_logical_p)
ad.defnondiff(shift_right_logical_p)
reference.register(shift_right_logical_p, _shift_ref("logical"))


@export
def shift_right_logical(x, y):
  """Logical x >> y; shifts >= the bit width give 0."""
  return shift_right_logical_p.bind(*_lax_binary_args(x, y))


shift_right_arithmetic_p = standard_binop("shift_right_arithmetic", _int)
batching.defbroadcasting(shift_right_arithmetic_p)
ad.defnondiff(shift_right_arithmetic_p)
reference.register(shift_right_arithmetic_p, _shift_ref("arithmetic"))


@export
def shift_right_arithmetic(x, y):
  """Arithmetic x >> y (sign fill); treats unsigned as signed."""
  return shift_right_arithmetic_p.bind(*_lax_binary_args(x, y))


# -- comparisons (bool results) --------------------------------------------------

eq_p = standard_binop("eq", _any, _bool_dtype)
batching.defbroadcasting(eq_p)
ad.defnondiff(eq_p)
reference.register(eq_p, np.equal)


@export
def eq(x, y):
  """Elementwise x == y."""
  return eq_p.bind(*_lax_binary_args(x, y))


ne_p = standard_binop("ne", _any, _bool_dtype)
batching.defbroadcasting(ne_p)
ad.defnondiff(ne_p)
reference.register(ne_p, np.not_equal)


@export
def ne(x, y):
  """Elementwise x != y."""
  return ne_p.bind(*_lax_binary_args(x, y))


lt_p = standard_binop("lt", _ordered, _bool_dtype)
batching.defbroadcasting(lt_p)
ad.defnondiff(lt_p)
reference.register(lt_p, np.less)


@export
def lt(x, y):
  """Elementwise x < y."""
  return lt_p.bind(*_lax_binary_args(x, y))


le_p = standard_binop("le", _ordered, _bool_dtype)
batching.defbroadcasting(le_p)
ad.defnondiff(le_p)
reference.register(le_p, np.less_equal)


@export
def le(x, y):
  """Elementwise x <= y."""
  return le_p.bind(*_lax_binary_args(x, y))


gt_p = standard_binop("gt", _ordered, _bool_dtype)
batching.defbroadcasting(gt_p)
ad.defnondiff(gt_p)
reference.register(gt_p, np.greater)


@export
def gt(x, y):
  """Elementwise x > y."""
  return gt_p.bind(*_lax_binary_args(x, y))


ge_p = standard_binop("ge", _ordered, _bool_dtype)
batching.defbroadcasting(ge_p)
ad.defnondiff(ge_p)
reference.register(ge_p, np.greater_equal)


@export
def ge(x, y):
  """Elementwise x >= y."""
  return ge_p.bind(*_lax_binary_args(x, y))


# ===========================================================================
# convert_element_type and bitcast_convert_type


def _convert_abstract_eval(x, *, new_dtype, weak_type):
  return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
  (x,), (t,) = primals, tangents
  out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
  if isinstance(t, ad.Zero) or not dtypes.is_inexact(new_dtype) or \
      not dtypes.is_inexact(core.get_aval(x).dtype):
    return out, ad.Zero(core.get_aval(out).update(weak_type=False))
  return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
  old = x.aval.dtype
  return [convert_element_type_p.bind(ct, new_dtype=old, weak_type=x.aval.weak_type)]


convert_element_type_p = standard_primitive("convert_element_type", _convert_abstract_eval)
ad.primitive_jvps[convert_element_type_p] = _convert_jvp
ad.primitive_transposes[convert_element_type_p] = _convert_transpose
batching.defvectorized(convert_element_type_p)
reference.register(convert_element_type_p, lambda x, *, new_dtype, weak_type: x.astype(new_dtype))


@export
def convert_element_type(x, new_dtype, weak_type: bool = False):
  """Cast ``x`` to ``new_dtype`` (canonicalized). No-op if already that type."""
  dt = dtypes.canonicalize_dtype(new_dtype)
  if isinstance(x, (bool, int, float, np.generic)) and not weak_type:
    host = _convert_scalar_on_host(x, dt)
    if host is not None:
      return host
  x = asarray_lax(x)
  aval = core.get_aval(x)
  if dtypes.is_complex(aval.dtype) and not dtypes.is_complex(dt):
    warnings.warn("Casting complex values to real discards the imaginary part",
                  np.exceptions.ComplexWarning, stacklevel=2)
  if aval.dtype == dt and aval.weak_type == weak_type:
    return x
  return convert_element_type_p.bind(x, new_dtype=dt, weak_type=bool(weak_type))


def _convert_scalar_on_host(x, dt):
  """A Python or NumPy scalar cast to a strong type is converted on the host,
  as JAX does, so a jaxpr holds it as a literal of the new dtype rather than
  a convert_element_type equation. NaN/inf to an integer type and values NumPy
  will not convert (out of an integer type's range) are left to the
  primitive, which wraps and saturates as XLA does."""
  if dtypes.is_int(dt) and isinstance(x, (float, np.inexact)) and not np.isfinite(x):
    return None
  try:
    v = np.asarray(x).astype(dt) if type(x) is int else np.asarray(x, dtype=dt)
  except OverflowError:
    return None
  return from_numpy(v, dt)


def _bitcast_abstract_eval(x, *, new_dtype):
  old, new = x.dtype, np.dtype(new_dtype)
  if (old == dtypes.bool_) != (new == dtypes.bool_):
    raise TypeError(f"bitcast_convert_type: bool values can only be bitcast to bool, got operand "
                    f"dtype {old.name} and new_dtype {new.name}")
  if old.itemsize == new.itemsize:
    shape = x.shape
  elif old.itemsize > new.itemsize:
    shape = x.shape + (old.itemsize // new.itemsize,)
  else:
    ratio = new.itemsize // old.itemsize
    if not x.shape or x.shape[-1] != ratio:
      raise ValueError(f"bitcast_convert_type: cannot convert shape {x.shape} from {old.name} "
                       f"({old.itemsize * 8} bits) to {new.name} ({new.itemsize * 8} bits): "
                       f"the last dimension must be {ratio}")
    shape = x.shape[:-1]
  return ShapedArray(shape, new, False)


def _bitcast_batch(vals, dims, *, new_dtype):
  (x,), (d,) = vals, dims
  aval = core.get_aval(x)
  # a wider new dtype consumes the trailing dim: keep the batch dim off it
  if np.dtype(new_dtype).itemsize > aval.dtype.itemsize and d == aval.ndim - 1:
    x, d = batching.moveaxis(x, d, 0), 0
  return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d


def _bitcast_ref(x, *, new_dtype):
  new = np.dtype(new_dtype)
  if new.itemsize < x.dtype.itemsize:
    return np.ascontiguousarray(x).view(new).reshape(x.shape + (x.dtype.itemsize // new.itemsize,))
  return np.ascontiguousarray(x).view(new).reshape(x.shape[:-1] if new.itemsize > x.dtype.itemsize
                                                    else x.shape)


bitcast_convert_type_p = standard_primitive("bitcast_convert_type", _bitcast_abstract_eval)
ad.defnondiff(bitcast_convert_type_p)
batching.primitive_batchers[bitcast_convert_type_p] = _bitcast_batch
reference.register(bitcast_convert_type_p, _bitcast_ref)


@export
def bitcast_convert_type(x, new_dtype):
  """Reinterpret the bits of ``x`` as ``new_dtype``. A smaller itemsize adds a
  trailing dimension; a larger one consumes the trailing dimension."""
  return bitcast_convert_type_p.bind(asarray_lax(x),
                                     new_dtype=dtypes.canonicalize_dtype(new_dtype))


# ===========================================================================
# select_n and clamp


def _bcast_bdim(x, xdim, full_shape, bdim):
  """Bring a select_n/clamp operand to ``full_shape`` (the batched output
  shape, batch dim at ``bdim``). An operand is either rank 0 unbatched (kept,
  the primitive broadcasts it), rank 0 batched (now rank 1: broadcast along
  ``bdim``), or full rank (moved / broadcast to ``bdim``)."""
  nd = core.get_aval(x).ndim
  if xdim is None:
    if nd == 0:
      return x
    return batching.matchaxis(x, None, bdim, full_shape[bdim])
  if nd == 1 and len(full_shape) > 1:
    return shapes.broadcast_in_dim(x, full_shape, (bdim,))
  return batching.moveaxis(x, xdim, bdim)


def _select_n_abstract_eval(which, *cases):
  if not cases:
    raise TypeError("select_n: must have at least one case")
  if which.dtype != dtypes.bool_ and which.dtype != dtypes.int32:
    raise TypeError(f"select_n: predicate must be bool or int32, got {which.dtype.name}")
  if which.dtype == dtypes.bool_ and len(cases) > 2:
    raise TypeError("select_n: a bool predicate allows at most 2 cases")
  if len({c.shape for c in cases}) != 1 or len({c.dtype for c in cases}) != 1:
    raise TypeError("select_n: cases must have the same shapes and dtypes, got "
                    + ", ".join(c.str_short() for c in cases))
  if which.shape and which.shape != cases[0].shape:
    raise TypeError(f"select_n: predicate shape {which.shape} must be () or equal to the case "
                    f"shape {cases[0].shape}")
  return ShapedArray(cases[0].shape, cases[0].dtype, all(c.weak_type for c in cases))


def _select_n_jvp(primals, tangents):
  which, *cases = primals
  out = select_n_p.bind(which, *cases)
  ts = tangents[1:]
  if all(isinstance(t, ad.Zero) for t in ts):
    return out, ad.Zero(core.get_aval(out).update(weak_type=False))
  return out, select_n_p.bind(which, *[ad.instantiate_zeros(t) for t in ts])


def _select_n_transpose(ct, which, *cases):
  if ad.is_undefined_primal(which):
    raise ValueError("select_n: the predicate is not differentiable")
  aval = core.get_aval(ct) if not isinstance(ct, ad.Zero) else ct.aval
  zeros = ad.zeros_like_aval(aval)
  out = [None]
  for i, c in enumerate(cases):
    if ad.is_undefined_primal(c) and not isinstance(ct, ad.Zero):
      out.append(select_n_p.bind(which, *[ct if j == i else zeros for j in range(len(cases))]))
    else:
      out.append(None)
  return out


def _select_n_batch(vals, dims):
  which, *cases = vals
  wdim, *cdims = dims
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  case_aval = core.get_aval(cases[0])
  unbatched_shape = (case_aval.shape if cdims[0] is None else
                     tuple(s for i, s in enumerate(case_aval.shape) if i != cdims[0]))
  # the output batch dim: that of the first batched case, else of a full-rank
  # predicate, else 0
  bdim = next((d for d in cdims if d is not None), None)
  if bdim is None:
    bdim = wdim if core.get_aval(which).ndim == len(unbatched_shape) + 1 else 0
  full_shape = unbatched_shape[:bdim] + (size,) + unbatched_shape[bdim:]
  cases = [batching.matchaxis(c, d, bdim, size) for c, d in zip(cases, cdims)]
  which = _bcast_bdim(which, wdim, full_shape, bdim)
  return select_n_p.bind(which, *cases), bdim


select_n_p = standard_primitive("select_n", _select_n_abstract_eval)
ad.primitive_jvps[select_n_p] = _select_n_jvp
ad.primitive_transposes[select_n_p] = _select_n_transpose
batching.primitive_batchers[select_n_p] = _select_n_batch
reference.register(select_n_p, lambda which, *cases: np.choose(
    np.broadcast_to(np.asarray(which, np.int32), cases[0].shape), cases))


@export
def select_n(which, *cases):
  """``cases[which]`` elementwise; ``which`` is bool (2 cases) or int32.
  Values of ``which`` outside ``[0, len(cases))`` are implementation-defined
  (as in JAX); with a single case that case is the result."""
  which, cases = asarray_lax(which), [asarray_lax(c) for c in cases]
  if len(cases) == 1:  # as JAX's lowering: nothing to select (the kernels index cases[which])
    _select_n_abstract_eval(core.get_aval(which), core.get_aval(cases[0]))
    return cases[0]
  return select_n_p.bind(which, *cases)


@export
def select(pred, on_true, on_false):
  """``on_true`` where ``pred`` else ``on_false`` (``lax.select``)."""
  return select_n(pred, on_false, on_true)


def _clamp_abstract_eval(lo, x, hi):
  for name, b in (("min", lo), ("max", hi)):
    if b.shape and b.shape != x.shape:
      raise TypeError(f"clamp: {name} shape {b.shape} must be () or equal to operand shape {x.shape}")
    if b.dtype != x.dtype:
      raise TypeError(f"clamp: {name} dtype {b.dtype.name} must equal operand dtype {x.dtype.name}")
  check_dtype("clamp", x, _num)
  return ShapedArray(x.shape, x.dtype, x.weak_type)


def _clamp_select(pred, g, operand):
  """``g`` (broadcast to the operand's shape) where ``pred``, else 0."""
  aval = core.get_aval(operand)
  return select_n_p.bind(pred, _zeros_of(aval.shape, aval.dtype), _broadcast_to(g, aval.shape))


def _clamp_batch(vals, dims):
  lo, x, hi = vals
  lodim, xdim, hidim = dims
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  # the cheap common cases: everything batched alike, or rank-0 unbatched bounds
  if all(d == xdim for d in dims) and all(core.get_aval(v).shape == core.get_aval(x).shape
                                          for v in vals):
    return clamp_p.bind(lo, x, hi), xdim
  if xdim is None:
    # the operand's (unbatched) shape is the output's: broadcast it, or, if
    # rank 0 with a batched bound, it becomes rank 1
    x = batching.bdim_at_front(x, None, size)
    xdim = 0
  full_shape = core.get_aval(x).shape
  lo = _bcast_bdim(lo, lodim, full_shape, xdim)
  hi = _bcast_bdim(hi, hidim, full_shape, xdim)
  return clamp_p.bind(lo, x, hi), xdim


clamp_p = standard_primitive("clamp", _clamp_abstract_eval)
# JAX's rules: the operand gets the gradient where min < x < max (strictly;
# none at the boundaries), min where min > x and min < max, max where max < x.
# (A rank-0 bound's tangent is broadcast to the operand's shape; JAX's rule
# fails there, the transpose here sums it back.)
ad.defjvp(clamp_p,
          lambda g, lo, x, hi: _clamp_select(
              and_p.bind(gt_p.bind(lo, x), lt_p.bind(lo, hi)), g, x),
          lambda g, lo, x, hi: _clamp_select(
              and_p.bind(gt_p.bind(x, lo), lt_p.bind(x, hi)), g, x),
          lambda g, lo, x, hi: _clamp_select(lt_p.bind(hi, x), g, x))
batching.primitive_batchers[clamp_p] = _clamp_batch
reference.register(clamp_p, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi))


@export
def clamp(min, x, max):  # noqa: A002
  """``min(max(x, min), max)`` elementwise (scalar bounds allowed)."""
  x = asarray_lax(x)
  lo = _scalar_like(min, x) if isinstance(min, (int, float)) else asarray_lax(min)
  hi = _scalar_like(max, x) if isinstance(max, (int, float)) else asarray_lax(max)
  return clamp_p.bind(lo, x, hi)
