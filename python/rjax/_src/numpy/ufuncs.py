"""Elementwise ``rjax.numpy`` functions: promote (JAX rules), then call lax.

The hot binary ops take a fast path when both operands are already arrays or
tracers with equal avals (same shape, dtype, weak type): no promotion work.
"""
from __future__ import annotations

import math

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.lax import complex_ops, lax, shapes
from rjax._src.numpy import sorting
from rjax._src.numpy.util import (asarray, check_arraylike, promote_args, promote_args_inexact,
                                  promote_args_numeric, promote_dtypes, promote_dtypes_numeric,
                                  promote_shapes)


def _same(x, y):
  """Both operands are arrays/tracers of one non-bool aval: skip promotion."""
  ax = getattr(x, "aval", None)
  return ax is not None and ax == getattr(y, "aval", None) and ax.dtype != dtypes.bool_


def _strong_unless_weak_inputs(out, *args):
  """JAX's composites built with strong constants give strong results unless
  every input was weakly typed."""
  if all(dtypes.dtype_and_weak(a)[1] for a in args):
    return out
  return lax.convert_element_type(out, _aval(out).dtype, weak_type=False)


def _aval(x):
  return core.get_aval(x)


def _is_float(x):
  return dtypes.is_float(_aval(x).dtype)


def _is_int(x):
  return dtypes.is_int(_aval(x).dtype)


def _is_signed(x):
  return dtypes.is_signed(_aval(x).dtype)


def _is_bool(x):
  return dtypes.is_bool(_aval(x).dtype)


def _c(v, like):
  """A weakly typed 0-d constant of ``like``'s dtype."""
  return lax._scalar_like(v, like)


def _one_arg(name, x, promote=promote_args):
  (x,) = promote(name, x)
  return x


def _where(c, x, y):
  """select with full-shape operands (shapes already promoted)."""
  shape = lax.broadcasting_shape("where", [_aval(c).shape, _aval(x).shape, _aval(y).shape])
  c, x, y = (_bcast(v, shape) for v in (c, x, y))
  return lax.select(c, x, y)


def _bcast(x, shape):
  s = _aval(x).shape
  if s == shape:
    return x
  if not s:
    return shapes.broadcast_in_dim(x, shape, ())
  keep = tuple(i for i, d in enumerate(s) if d == shape[i])
  x2 = shapes.reshape(x, tuple(s[i] for i in keep)) if len(keep) != len(s) else x
  return shapes.broadcast_in_dim(x2, shape, keep)


# -- arithmetic ---------------------------------------------------------------

def add(x, y, /):
  if _same(x, y):
    return lax.add_p.bind(x, y)
  x, y = promote_args("add", x, y)
  return lax.bitwise_or(x, y) if _is_bool(x) else lax.add(x, y)


def subtract(x, y, /):
  if _same(x, y):
    return lax.sub_p.bind(x, y)
  return lax.sub(*promote_args("subtract", x, y))


def multiply(x, y, /):
  if _same(x, y):
    return lax.mul_p.bind(x, y)
  x0, y0 = x, y
  x, y = promote_args("multiply", x, y)
  if _is_bool(x):
    return lax.bitwise_and(x, y)
  masked = _bool_mask_select(x0, y0, x, y, lambda v: v)
  return masked if masked is not None else lax.mul(x, y)


def true_divide(x, y, /):
  if _same(x, y) and _is_float(x):
    return lax.div_p.bind(x, y)
  x0 = x
  x, y = promote_args_inexact("true_divide", x, y)
  shape = lax.broadcasting_shape("true_divide", [_aval(x).shape, _aval(y).shape])
  if _aval(y).shape != shape:
    # (x / broadcast y is x * (1 / y) on JAX's CPU compiler; only the masked
    # case below is rewritten here, the general rewrite is the Program passes')
    masked = _bool_mask_select(x0, None, x, y, lambda v: lax.div(_c(1, v), v))
    if masked is not None:
      return masked
  return lax.div(x, y)


def _is_bool_array(v) -> bool:
  aval = getattr(v, "aval", None)
  if aval is None and isinstance(v, np.ndarray):
    return v.dtype == np.bool_
  return aval is not None and aval.dtype == np.bool_


def _bool_mask_select(x0, y0, x, y, other_fn):
  """JAX's eager result of ``bool_array * v`` (and of ``bool_array / v`` with a
  broadcast divisor): XLA turns a multiply by a converted bool into a select,
  so the result is 0 where the mask is False even if ``v`` is NaN or inf.
  This holds when the bool operand is not broadcast and the product is a
  float16/32/64 (not bfloat16); otherwise None (an ordinary product)."""
  if _aval(x).dtype not in _RECIP_DTYPES:
    return None
  shape = lax.broadcasting_shape("multiply", [_aval(x).shape, _aval(y).shape])
  for b0, other in ((x0, y), (y0, x)):
    if b0 is not None and _is_bool_array(b0) and np.shape(b0) == shape:
      mask = lax.asarray_lax(b0)
      v = _bcast(other_fn(other), shape)
      # (zeros as weak as v: bool * 2.0 is a weak float, as in JAX)
      zeros = _bcast(_c(0, v), shape) if _aval(v).weak_type else shapes.full(shape, 0,
                                                                              _aval(v).dtype)
      return lax.select(mask, v, zeros)
  return None


# XLA (JAX's CPU compiler) turns a division by a broadcast constant into a
# product with the reciprocal for these dtypes (not bfloat16); log2 does it.
_RECIP_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


divide = true_divide


def _float_divmod(x, y):
  # CPython's float_divmod, as JAX does
  mod = lax.rem(x, y)
  div = lax.div(_where(lax.eq(y, _c(0, y)), x, lax.sub(x, mod)), y)
  ind = lax.bitwise_and(lax.ne(mod, _c(0, mod)), lax.ne(lax.sign(y), lax.sign(mod)))
  mod = _where(ind, lax.add(mod, y), mod)
  div = _where(ind, lax.sub(div, _c(1, div)), div)
  return lax.round(div), mod


def floor_divide(x, y, /):
  x, y = promote_args_numeric("floor_divide", x, y)
  if _is_float(x):
    return _float_divmod(x, y)[0]
  q = lax.div(x, y)
  if not _is_signed(x):
    return q
  adjust = lax.bitwise_and(lax.ne(lax.sign(x), lax.sign(y)), lax.ne(lax.rem(x, y), _c(0, x)))
  return _where(adjust, lax.sub(q, _c(1, q)), q)


def remainder(x, y, /):
  x, y = promote_args_numeric("remainder", x, y)
  m = lax.rem(x, y)
  if _is_int(x):
    if _is_signed(x):
      plus = lax.bitwise_and(lax.ne(m, _c(0, m)), lax.ne(lax.lt(m, _c(0, m)), lax.lt(y, _c(0, y))))
      m = _where(plus, lax.add(m, y), m)
    return _where(lax.eq(y, _c(0, y)), lax.sub(m, m), m)
  plus = lax.bitwise_and(lax.ne(m, _c(0, m)), lax.ne(lax.lt(m, _c(0, m)), lax.lt(y, _c(0, y))))
  return _where(plus, lax.add(m, y), m)


mod = remainder


def fmod(x, y, /):
  x, y = promote_args_numeric("fmod", x, y)
  m = lax.rem(x, y)
  if _is_int(x):
    return _where(lax.eq(y, _c(0, y)), lax.sub(m, m), m)
  return m


def divmod(x, y, /):  # noqa: A001
  return floor_divide(x, y), remainder(x, y)


def _int_pow(x, y):
  """Integer ** integer: 6 steps of binary exponentiation (JAX's _pow_int_int;
  any base > 1 overflows before exponent bit 6)."""
  zero, one = _c(0, y), _c(1, y)
  acc = _where(lax.bitwise_and(lax.eq(x, _c(0, x)), lax.ne(y, zero)), _c(0, x), _c(1, x))
  shape = lax.broadcasting_shape("power", [_aval(x).shape, _aval(y).shape])
  acc = _bcast(acc, shape)
  for _ in range(6):
    acc = _where(lax.ne(lax.bitwise_and(y, one), zero), lax.mul(acc, x), acc)
    x = lax.mul(x, x)
    y = lax.shift_right_logical(y, one)
  return acc


def _concrete_int(y):
  if isinstance(y, (bool, np.bool_)):
    return None
  if isinstance(y, (int, np.integer)):
    return int(y)
  if type(y).__name__ == "Array" and y.ndim == 0 and _is_int(y):
    return int(y)
  return None


def power(x, y, /):
  check_arraylike("power", x, y)
  yi = _concrete_int(y)
  if yi is not None:
    return lax.integer_pow(_one_arg("power", x, promote_args_numeric), yi)
  x, y = promote_shapes("power", asarray(x), asarray(y))
  x_, y_ = promote_dtypes_numeric(x, y)
  if not dtypes.is_inexact(_aval(x_).dtype):
    return _int_pow(x_, y_)
  if _is_float(x) and _is_int(y):
    return lax.pow(x, y)
  return lax.pow(x_, y_)


pow = power  # noqa: A001


def float_power(x, y, /):
  return lax.pow(*promote_args_inexact("float_power", x, y))


def negative(x, /):
  return lax.neg(_one_arg("negative", x))


def positive(x, /):
  return _one_arg("positive", x)


def absolute(x, /):
  x = _one_arg("absolute", x)
  return x if _is_bool(x) or dtypes.is_unsigned(_aval(x).dtype) else lax.abs(x)


abs = absolute  # noqa: A001


def fabs(x, /):
  return lax.abs(_one_arg("fabs", x, promote_args_inexact))


def sign(x, /):
  return lax.sign(_one_arg("sign", x))


def floor(x, /):
  x = _one_arg("floor", x)
  return lax.floor(x) if _is_float(x) else x


def ceil(x, /):
  x = _one_arg("ceil", x)
  return lax.ceil(x) if _is_float(x) else x


def trunc(x, /):
  x = _one_arg("trunc", x)
  if not _is_float(x):
    return x
  return _where(lax.lt(x, _c(0, x)), lax.ceil(x), lax.floor(x))


fix = trunc


def rint(x, /):
  return lax.round(_one_arg("rint", x, promote_args_inexact), lax.RoundingMethod.TO_NEAREST_EVEN)


def round(a, decimals: int = 0, out=None):  # noqa: A001
  if out is not None:
    raise NotImplementedError("round: the 'out' argument is not supported")
  a = _one_arg("round", a)
  if _is_bool(a):
    raise ValueError("round: data type bool not inexact")
  if not _is_float(a):
    if decimals < 0:
      raise NotImplementedError("integer np.round not implemented for decimals < 0")
    return a
  even = lax.RoundingMethod.TO_NEAREST_EVEN
  if decimals == 0:
    return lax.round(a, even)
  dt = _aval(a).dtype
  x = a if dt.itemsize >= 4 else lax.convert_element_type(a, np.float32)
  f = _c(10.0 ** decimals, x)
  r = lax.div(lax.round(lax.mul(x, f), even), f)
  return lax.convert_element_type(r, dt, weak_type=_aval(a).weak_type)


around = round


# -- transcendental (int -> float) ------------------------------------------------

def _inexact_unary(name, fn):
  def f(x, /):
    return fn(_one_arg(name, x, promote_args_inexact))
  f.__name__ = f.__qualname__ = name
  f.__doc__ = f"Elementwise {name} (``numpy.{name}``); integers are promoted to float."
  return f


exp = _inexact_unary("exp", lax.exp)
exp2 = _inexact_unary("exp2", lax.exp2)
expm1 = _inexact_unary("expm1", lax.expm1)
log = _inexact_unary("log", lax.log)
log1p = _inexact_unary("log1p", lax.log1p)


def _log_parts(x, scale):
  # JAX scales the real and imaginary parts of a complex log separately (a
  # product with the complex constant would meet 0 * inf at log(0) = -inf)
  r = lax.log(x)
  re, im = complex_ops.real(r), complex_ops.imag(r)
  return complex_ops.complex(scale(re), scale(im))


def _div_ln2(r):
  if _aval(r).dtype in _RECIP_DTYPES:
    return lax.mul(r, lax.div(_c(1, r), lax.log(_c(2.0, r))))
  return lax.div(r, lax.log(_c(2.0, r)))


def _log2(x):
  if dtypes.is_complex(_aval(x).dtype):
    return _log_parts(x, _div_ln2)
  return _div_ln2(lax.log(x))


def _log10(x):
  if dtypes.is_complex(_aval(x).dtype):
    return _log_parts(x, lambda p: lax.mul(p, _c(0.4342944819032518, p)))
  return lax.mul(lax.log(x), _c(0.4342944819032518, x))


log2 = _inexact_unary("log2", _log2)
log10 = _inexact_unary("log10", _log10)
sqrt = _inexact_unary("sqrt", lax.sqrt)
cbrt = _inexact_unary("cbrt", lax.cbrt)
sin = _inexact_unary("sin", lax.sin)
cos = _inexact_unary("cos", lax.cos)
tan = _inexact_unary("tan", lax.tan)
arcsin = asin = _inexact_unary("arcsin", lax.asin)
arccos = acos = _inexact_unary("arccos", lax.acos)
arctan = atan = _inexact_unary("arctan", lax.atan)
sinh = _inexact_unary("sinh", lax.sinh)
cosh = _inexact_unary("cosh", lax.cosh)
tanh = _inexact_unary("tanh", lax.tanh)
arcsinh = asinh = _inexact_unary("arcsinh", lax.asinh)
arccosh = acosh = _inexact_unary("arccosh", lax.acosh)
arctanh = atanh = _inexact_unary("arctanh", lax.atanh)
reciprocal = _inexact_unary("reciprocal", lambda x: lax.div(_c(1, x), x))
deg2rad = radians = _inexact_unary("deg2rad", lambda x: lax.mul(x, _c(math.pi / 180, x)))
rad2deg = degrees = _inexact_unary("rad2deg", lambda x: lax.mul(x, _c(180 / math.pi, x)))


def _sinc(x):
  zero = lax.eq(x, _c(0, x))
  safe = _where(zero, _bcast(_c(1, x), _aval(x).shape), x)
  pix = lax.mul(safe, _c(math.pi, x))
  return _where(zero, _bcast(_c(1, x), _aval(x).shape), lax.div(lax.sin(pix), pix))


sinc = _inexact_unary("sinc", _sinc)


def square(x, /):
  return lax.square(_one_arg("square", x, promote_args_numeric))


def arctan2(x, y, /):
  return lax.atan2(*promote_args_inexact("arctan2", x, y))


atan2 = arctan2


def hypot(x0, y0, /):
  x, y = promote_args_inexact("hypot", x0, y0)
  x, y = lax.abs(x), lax.abs(y)
  big, small = lax.max(x, y), lax.min(x, y)
  safe = _where(lax.eq(big, _c(0, big)), _bcast(_c(1, big), _aval(big).shape), big)
  r = lax.div(small, safe)
  out = lax.mul(big, lax.sqrt(lax.add(_c(1, r), lax.mul(r, r))))
  out = _where(lax.eq(big, _c(0, big)), big, out)
  return _strong_unless_weak_inputs(_where(lax.eq(big, _c(float("inf"), big)), big, out), x0, y0)


def logaddexp(x, y, /):
  x, y = promote_args_inexact("logaddexp", x, y)
  return _logaddexp(x, y)


def _replace_inf(x):
  return _where(lax.eq(x, _c(float("inf"), x)), _c(0, x), x)


# JAX's derivative rule (lax.other.logaddexp): the max/abs formula
# differentiated op by op is wrong at ties (d/dx logaddexp(x, x) would be 0
# and 1 instead of 1/2 each; softplus'(0) would be 0).
@custom_jvp
def _logaddexp(x, y):
  amax = lax.max(x, y)
  delta = lax.sub(x, y)
  out = lax.add(amax, lax.log1p(lax.exp(lax.neg(lax.abs(delta)))))
  return _where(lax.ne(delta, delta), lax.add(x, y), out)


@_logaddexp.defjvp
def _logaddexp_jvp(primals, tangents):
  (x, y), (tx, ty) = primals, tangents
  out = _logaddexp(x, y)
  ro = _replace_inf(out)
  t = lax.add(lax.mul(tx, lax.exp(lax.sub(_replace_inf(x), ro))),
              lax.mul(ty, lax.exp(lax.sub(_replace_inf(y), ro))))
  return out, t


def logaddexp2(x0, y0, /):
  x, y = promote_args_inexact("logaddexp2", x0, y0)
  return _strong_unless_weak_inputs(_logaddexp2(x, y), x0, y0)


@custom_jvp
def _logaddexp2(x, y):
  amax = lax.max(x, y)
  delta = lax.sub(x, y)
  out = lax.add(amax, lax.div(lax.log1p(lax.exp2(lax.neg(lax.abs(delta)))), _c(math.log(2), x)))
  return _where(lax.ne(delta, delta), lax.add(x, y), out)


@_logaddexp2.defjvp
def _logaddexp2_jvp(primals, tangents):
  (x, y), (tx, ty) = primals, tangents
  out = _logaddexp2(x, y)
  ro = _replace_inf(out)
  t = lax.add(lax.mul(tx, lax.exp2(lax.sub(_replace_inf(x), ro))),
              lax.mul(ty, lax.exp2(lax.sub(_replace_inf(y), ro))))
  return out, t


def ldexp(x, e, /):
  check_arraylike("ldexp", x, e)
  if not (_is_int(e) or _is_bool(e) or isinstance(e, (int, bool))) or \
      isinstance(e, float):
    raise ValueError(f"ldexp not supported for input types ({_aval(x).dtype}, {_aval(e).dtype})")
  (x,) = promote_args_inexact("ldexp", x)
  x, e = promote_shapes("ldexp", x, lax.asarray_lax(e) if not isinstance(e, int) else e)
  ef = lax.convert_element_type(e, np.float32 if _aval(x).dtype.itemsize <= 4 else np.float64)
  half = lax.floor(lax.mul(ef, _c(0.5, ef)))
  p1 = lax.convert_element_type(lax.exp2(half), _aval(x).dtype)
  p2 = lax.convert_element_type(lax.exp2(lax.sub(ef, half)), _aval(x).dtype)
  return lax.mul(lax.mul(x, p1), p2)


def modf(x, /, out=None):
  x = _one_arg("modf", x, promote_args_inexact)
  whole = _where(lax.ge(x, _c(0, x)), lax.floor(x), lax.ceil(x))
  return lax.sub(x, whole), whole


def frexp(x, /):
  """Mantissa in [0.5, 1) and int32 exponent with x = m * 2**e (0, inf, nan: e = 0)."""
  x = _one_arg("frexp", x, promote_args_inexact)
  dt = _aval(x).dtype
  wide = np.float64 if dt == np.float64 else np.float32
  xw = lax.convert_element_type(x, wide)
  info = np.finfo(wide)
  nmant, ity = (52, np.int64) if wide == np.float64 else (23, np.int32)
  bias = info.maxexp - 1
  sub = lax.bitwise_and(lax.lt(lax.abs(xw), _c(float(info.tiny), xw)), lax.ne(xw, _c(0, xw)))
  xs = _where(sub, lax.mul(xw, _c(float(2.0 ** (nmant + 1)), xw)), xw)
  bits = lax.bitcast_convert_type(xs, ity)
  raw_e = lax.bitwise_and(lax.shift_right_logical(bits, _c(nmant, bits)), _c(2 * bias + 1, bits))
  e = lax.sub(raw_e, _c(bias - 1, bits))
  e = _where(sub, lax.sub(e, _c(nmant + 1, e)), e)
  mbits = lax.bitwise_or(lax.bitwise_and(bits, _c(int(~(np.int64(2 * bias + 1) << nmant)), bits)),
                         _c((bias - 1) << nmant, bits))
  m = lax.bitcast_convert_type(mbits, wide)
  special = lax.bitwise_or(lax.eq(xw, _c(0, xw)), lax.bitwise_not(lax.is_finite(xw)))
  m = _where(special, xw, m)
  e = _where(special, lax.sub(e, e), e)
  return lax.convert_element_type(m, dt), lax.convert_element_type(e, np.int32)


# -- comparisons and extrema -------------------------------------------------------

def _cmp(name, prim, fn):
  def f(x, y, /):
    if _same(x, y):
      return prim.bind(x, y)
    return fn(*promote_args(name, x, y))
  f.__name__ = f.__qualname__ = name
  return f


def _ordering(name, prim, fn):
  """An order comparison. Complex operands are ordered as JAX orders them
  (``_complex_comparison``): by the real parts, and where those are equal by
  the imaginary parts; a NaN in the deciding part makes it false. ``lax``'s
  order primitives themselves reject complex operands, as in JAX."""
  def f(x, y, /):
    if _same(x, y):
      if not _is_complex(x):
        return prim.bind(x, y)
    else:
      x, y = promote_args(name, x, y)
      if not _is_complex(x):
        return fn(x, y)
    xr, yr = complex_ops.real(x), complex_ops.real(y)
    return lax.select(lax.eq(xr, yr), fn(complex_ops.imag(x), complex_ops.imag(y)), fn(xr, yr))
  f.__name__ = f.__qualname__ = name
  return f


equal = _cmp("equal", lax.eq_p, lax.eq)
not_equal = _cmp("not_equal", lax.ne_p, lax.ne)
less = _ordering("less", lax.lt_p, lax.lt)
less_equal = _ordering("less_equal", lax.le_p, lax.le)
greater = _ordering("greater", lax.gt_p, lax.gt)
greater_equal = _ordering("greater_equal", lax.ge_p, lax.ge)
maximum = _cmp("maximum", lax.max_p, lax.max)
minimum = _cmp("minimum", lax.min_p, lax.min)


def fmax(x, y, /):
  x, y = promote_args("fmax", x, y)
  return _where(lax.bitwise_or(lax.lt(x, y), lax.ne(x, x)), y, x)


def fmin(x, y, /):
  x, y = promote_args("fmin", x, y)
  return _where(lax.bitwise_or(lax.gt(x, y), lax.ne(x, x)), y, x)


def clip(arr=None, /, min=None, max=None):  # noqa: A002
  check_arraylike("clip", arr)
  if any(t is not None and dtypes.is_complex(_aval(lax.asarray_lax(t)).dtype)
         for t in (arr, min, max)):
    raise ValueError(
        "Clip received a complex value either through the input or the min/max keywords. "
        "Complex values have no ordering and cannot be clipped. Please convert to a real "
        "value or array by taking the real or imaginary components via "
        "rjax.numpy.real/imag respectively.")
  if min is not None:
    arr = maximum(min, arr)
  if max is not None:
    arr = minimum(max, arr)
  return lax.asarray_lax(arr)


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
  if x is None and y is None:
    return sorting.nonzero(condition, size=size, fill_value=fill_value)
  if size is not None or fill_value is not None:
    raise ValueError("size and fill_value arguments cannot be used in three-term where "
                     "function.")
  if x is None or y is None:
    raise TypeError("Either both or neither of the x and y arguments should be provided to "
                    f"rjax.numpy.where, got {x} and {y}.")
  check_arraylike("where", condition, x, y)
  c = lax.asarray_lax(condition if not isinstance(condition, (list, tuple))
                      else np.asarray(condition))
  if not _is_bool(c):
    c = lax.ne(c, _c(0, c))
  x, y = promote_dtypes(x, y)
  try:
    c, x, y = promote_shapes("where", c, x, y)
  except TypeError as e:  # JAX: incompatible shapes in where are a ValueError
    raise ValueError(str(e)) from None
  return _where(c, x, y)


def select(condlist, choicelist, default=0):
  if len(condlist) != len(choicelist):
    raise ValueError("condlist must have length equal to choicelist "
                     f"({len(condlist)} vs {len(choicelist)})")
  if len(condlist) == 0:
    raise ValueError("condlist must be non-empty")
  out = default
  for c, v in reversed(list(zip(condlist, choicelist))):
    c = lax.asarray_lax(c)
    if not _is_bool(c):
      raise TypeError(f"select: condlist must contain boolean arrays, got {_aval(c).dtype.name}")
    out = where(c, v, out)
  return out


def heaviside(x0, h0, /):
  x, h = promote_args_inexact("heaviside", x0, h0)
  zero, one = _c(0, x), _c(1, x)
  shape = lax.broadcasting_shape("heaviside", [_aval(x).shape, _aval(h).shape])
  out = _where(lax.lt(x, zero), _bcast(zero, shape),
               _where(lax.gt(x, zero), _bcast(one, shape), _where(lax.eq(x, zero), h, x)))
  return _strong_unless_weak_inputs(out, x0, h0)


def signbit(x, /):
  x = _one_arg("signbit", x)
  if _is_signed(x):
    return lax.lt(x, _c(0, x))
  if not _is_float(x):
    return lax.ne(x, x)  # all False
  ity = {2: np.int16, 4: np.int32, 8: np.int64}[_aval(x).dtype.itemsize]
  b = lax.bitcast_convert_type(x, ity)
  return lax.lt(b, _c(0, b))


def copysign(x, y, /):
  x, y = promote_args_inexact("copysign", x, y)
  return _where(signbit(y), lax.neg(lax.abs(x)), lax.abs(x))


def nextafter(x, y, /):
  return lax.nextafter(*promote_args_inexact("nextafter", x, y))


def _is_complex(x) -> bool:
  return dtypes.is_complex(_aval(x).dtype)


def isfinite(x, /):
  x = _one_arg("isfinite", x)
  if _is_complex(x):
    return lax.bitwise_and(lax.is_finite(complex_ops.real(x)), lax.is_finite(complex_ops.imag(x)))
  return lax.is_finite(x) if _is_float(x) else lax.eq(x, x)


def isnan(x, /):
  x = _one_arg("isnan", x)
  return lax.ne(x, x)


def isinf(x, /):
  x = _one_arg("isinf", x)
  if _is_complex(x):
    return lax.bitwise_or(isinf(complex_ops.real(x)), isinf(complex_ops.imag(x)))
  return lax.eq(lax.abs(x), _c(float("inf"), x)) if _is_float(x) else lax.ne(x, x)


def isposinf(x, /):
  x = _one_arg("isposinf", x)
  return lax.eq(x, _c(float("inf"), x)) if _is_float(x) else lax.ne(x, x)


def isneginf(x, /):
  x = _one_arg("isneginf", x)
  return lax.eq(x, _c(float("-inf"), x)) if _is_float(x) else lax.ne(x, x)


# -- logical and bitwise ------------------------------------------------------------

def _to_bool(x):
  return x if _is_bool(x) else lax.ne(x, _c(0, x))


def _logical(name, fn):
  def f(x, y, /):
    check_arraylike(name, x, y)
    x, y = (_to_bool(lax.asarray_lax(v)) for v in (x, y))
    return fn(*promote_shapes(name, x, y))
  f.__name__ = f.__qualname__ = name
  return f


logical_and = _logical("logical_and", lax.bitwise_and)
logical_or = _logical("logical_or", lax.bitwise_or)
logical_xor = _logical("logical_xor", lax.bitwise_xor)


def logical_not(x, /):
  check_arraylike("logical_not", x)
  return lax.bitwise_not(_to_bool(lax.asarray_lax(x)))


def bitwise_and(x, y, /):
  return lax.bitwise_and(*promote_args("bitwise_and", x, y))


def bitwise_or(x, y, /):
  return lax.bitwise_or(*promote_args("bitwise_or", x, y))


def bitwise_xor(x, y, /):
  return lax.bitwise_xor(*promote_args("bitwise_xor", x, y))


def bitwise_not(x, /):
  return lax.bitwise_not(_one_arg("bitwise_not", x))


invert = bitwise_invert = bitwise_not


def left_shift(x, y, /):
  return lax.shift_left(*promote_args_numeric("left_shift", x, y))


def right_shift(x, y, /):
  x, y = promote_args_numeric("right_shift", x, y)
  if _is_signed(x):
    return lax.shift_right_arithmetic(x, y)
  return lax.shift_right_logical(x, y)


bitwise_left_shift = left_shift
bitwise_right_shift = right_shift


def bitwise_count(x, /):
  """Set bits of ``abs(x)`` (NumPy's and JAX's definition), as uint8."""
  x = _one_arg("bitwise_count", x)
  if _is_signed(x):
    x = lax.abs(x)
  if _is_bool(x):
    x = lax.convert_element_type(x, np.uint8)
  return lax.convert_element_type(lax.population_count(x), np.uint8)


def _gcd_abs(a, b):
  for _ in range(int(_aval(a).dtype.itemsize * 8 * 1.5) + 2):
    nz = lax.ne(b, _c(0, b))
    safe = _where(nz, b, _bcast(_c(1, b), _aval(b).shape))
    a, b = _where(nz, b, a), _where(nz, lax.rem(a, safe), b)
  return a


def gcd(x, y, /):
  x, y = promote_args_numeric("gcd", x, y)
  if not _is_int(x):
    raise ValueError("Arguments to rjax.numpy.gcd must be integers.")
  shape = lax.broadcasting_shape("gcd", [_aval(x).shape, _aval(y).shape])
  return _gcd_abs(_bcast(absolute(x), shape), _bcast(absolute(y), shape))


def lcm(x, y, /):
  x, y = promote_args_numeric("lcm", x, y)
  if not _is_int(x):
    raise ValueError("Arguments to rjax.numpy.lcm must be integers.")
  d = gcd(x, y)
  zero = lax.eq(d, _c(0, d))
  safe = _where(zero, _bcast(_c(1, d), _aval(d).shape), d)
  return _where(zero, lax.sub(d, d), absolute(lax.mul(lax.div(_bcast(x, _aval(d).shape), safe), y)))


# -- complex-number API on real arrays, and conversion ------------------------------

def real(x, /):
  x = _one_arg("real", x)
  return complex_ops.real(x) if _is_complex(x) else x


def imag(x, /):
  x = _one_arg("imag", x)
  return complex_ops.imag(x) if _is_complex(x) else shapes.full_like(x, 0)


def conjugate(x, /):
  x = _one_arg("conjugate", x)
  return complex_ops.conj(x) if _is_complex(x) else x


conj = conjugate


def angle(z, deg: bool = False):
  """Argument of ``z``: ``arctan2(imag(z), real(z))`` (0 or pi for real input, in degrees
  if ``deg``)."""
  z = _one_arg("angle", z)
  re, im = real(z), imag(z)
  # JAX: a non-float input, and a 0-d float one, is computed in the default
  # float type (float64 under x64, whatever the integer's width)
  zdt = _aval(z).dtype
  if not dtypes.is_inexact(_aval(re).dtype) or (dtypes.is_float(zdt) and _aval(z).ndim == 0):
    re = lax.convert_element_type(re, dtypes.default_float_dtype())
    im = lax.convert_element_type(im, dtypes.default_float_dtype())
  out = lax.atan2(im, re)
  return lax.mul(out, _c(180 / math.pi, out)) if deg else out


def isreal(x, /):
  x = _one_arg("isreal", x)
  if _is_complex(x):
    return lax.eq(complex_ops.imag(x), _c(0, complex_ops.imag(x)))
  return shapes.full_like(x, True, dtype=dtypes.bool_)


def iscomplex(x, /):
  x = _one_arg("iscomplex", x)
  if _is_complex(x):
    return lax.ne(complex_ops.imag(x), _c(0, complex_ops.imag(x)))
  return shapes.full_like(x, False, dtype=dtypes.bool_)


def iscomplexobj(x, /) -> bool:
  """Whether ``x`` has a complex dtype (JAX: any object with a complex dtype, or a
  Python complex)."""
  if x is None:
    return False
  try:
    dt = dtypes.dtype_and_weak(x)[0] if not hasattr(x, "dtype") else np.dtype(x.dtype)
  except TypeError:
    dt = np.asarray(x).dtype
  return np.dtype(dt).kind == "c"


def isrealobj(x, /) -> bool:
  return not iscomplexobj(x)


def nan_to_num(x, copy: bool = True, nan: float = 0.0, posinf=None, neginf=None):
  x = _one_arg("nan_to_num", x)
  if not _is_float(x):
    return x
  info = dtypes.finfo(_aval(x).dtype)
  posinf = float(info.max) if posinf is None else posinf
  neginf = float(info.min) if neginf is None else neginf
  full = lambda v: _bcast(_c(v, x), _aval(x).shape)  # noqa: E731
  x = _where(lax.ne(x, x), full(nan), x)
  x = _where(lax.eq(x, _c(float("inf"), x)), full(posinf), x)
  return _where(lax.eq(x, _c(float("-inf"), x)), full(neginf), x)


def astype(x, dtype, /, *, copy: bool = False, device=None):
  check_arraylike("astype", x)
  return lax.convert_element_type(lax.asarray_lax(x), dtype)


__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod",
    "fmod", "divmod", "power", "pow", "float_power", "negative", "positive", "abs", "absolute",
    "fabs", "sign", "floor", "ceil", "trunc", "fix", "rint", "round", "around", "exp", "exp2",
    "expm1", "log", "log2", "log10", "log1p", "logaddexp", "logaddexp2", "sqrt", "cbrt", "square",
    "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "asinh", "acosh", "atanh", "arctan2",
    "atan2", "hypot", "sinc", "deg2rad", "radians", "rad2deg", "degrees", "maximum", "minimum",
    "fmax", "fmin", "clip", "where", "select", "heaviside", "copysign", "nextafter", "signbit",
    "isfinite", "isinf", "isnan", "isposinf", "isneginf", "logical_and", "logical_or",
    "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_invert", "invert", "left_shift", "right_shift", "bitwise_left_shift",
    "bitwise_right_shift", "bitwise_count", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "modf", "ldexp", "frexp", "gcd", "lcm", "real", "imag", "conj", "conjugate",
    "nan_to_num", "astype", "angle", "isreal", "iscomplex", "isrealobj", "iscomplexobj",
]
