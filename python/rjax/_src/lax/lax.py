"""Elementwise primitives (and the shared helpers that define primitives):
each defined once with all its rules.

``standard_unop``/``standard_binop`` create a primitive with its abstract
evaluation (shape and dtype rules, no promotion: lax is strict), eager impl and
standard lowering. JVP/transpose/batching rules are registered next to each
primitive by the transformation tables in ``interpreters/``.
"""
from __future__ import annotations

from typing import Any, Sequence

import enum

import numpy as np

from rjax._src import core, dtypes
from rjax._src.core import ShapedArray
from rjax._src.dispatch import apply_primitive
from rjax._src.interpreters import lowering
from rjax._src.lax import reference

# dtype kinds accepted by a primitive
_float = "float"
_int = "int"
_bool = "bool"
_signed = "signed"
_unsigned = "unsigned"
_any = ("float", "int", "bool")
_num = ("float", "int")
_intbool = ("int", "bool")


def _kind_ok(dtype: np.dtype, kinds) -> bool:
  kinds = (kinds,) if isinstance(kinds, str) else kinds
  for k in kinds:
    if k == "float" and dtypes.is_float(dtype):
      return True
    if k == "int" and dtypes.is_int(dtype):
      return True
    if k == "signed" and dtypes.is_signed(dtype):
      return True
    if k == "unsigned" and dtypes.is_unsigned(dtype):
      return True
    if k == "bool" and dtypes.is_bool(dtype):
      return True
  return False


def _kinds_str(kinds) -> str:
  kinds = (kinds,) if isinstance(kinds, str) else kinds
  names = {"float": "floating", "int": "integer", "bool": "boolean", "signed": "signed integer",
           "unsigned": "unsigned integer"}
  return " or ".join(names[k] for k in kinds)


def check_dtype(name: str, aval: ShapedArray, kinds, argname: str = "x") -> None:
  if not _kind_ok(aval.dtype, kinds):
    raise TypeError(f"{name} does not accept dtype {aval.dtype.name} for argument {argname}; "
                    f"it accepts {_kinds_str(kinds)} dtypes")


def standard_primitive(name: str, abstract_eval, multiple_results: bool = False,
                       lower: bool = True) -> core.Primitive:
  """A primitive with abstract eval, the eager impl and (by default) the
  standard one-op lowering."""
  p = core.new_primitive(name, multiple_results)
  p.def_abstract_eval(abstract_eval)
  p.def_impl(lambda *args, **params: apply_primitive(p, *args, **params))
  if lower:
    lowering.register_standard(p)
  return p


def standard_unop(name: str, kinds, result_dtype=None) -> core.Primitive:
  """Unary elementwise primitive; ``result_dtype(aval_dtype)`` overrides the
  output dtype (e.g. bool for predicates)."""

  def abstract_eval(x, **params):
    check_dtype(name, x, kinds)
    dt = x.dtype if result_dtype is None else result_dtype(x.dtype)
    return ShapedArray(x.shape, dt, x.weak_type)  # JAX keeps weak types, even to bool

  return standard_primitive(name, abstract_eval)


def broadcasting_shape(name: str, shapes: Sequence[tuple]) -> tuple:
  """lax's broadcasting rule (JAX >= 0.4.3x): rank-0 operands broadcast to
  anything; otherwise ranks are equal and size-1 dims broadcast."""
  nonscalar = [s for s in shapes if len(s)]
  if not nonscalar:
    return ()
  if len({len(s) for s in nonscalar}) != 1:
    raise TypeError(f"{name}: incompatible shapes for broadcasting: "
                    + " and ".join(str(tuple(s)) for s in shapes))
  out = []
  for ds in zip(*nonscalar):
    big = {d for d in ds if d != 1}
    if len(big) > 1:
      raise TypeError(f"{name}: incompatible shapes for broadcasting: "
                      + " and ".join(str(tuple(s)) for s in shapes))
    out.append(big.pop() if big else 1)
  return tuple(out)


def binop_shape_dtype(name: str, avals: Sequence[ShapedArray], kinds) -> tuple[tuple, np.dtype, bool]:
  """Output shape, dtype and weak type of a strict (non-promoting) n-ary op."""
  shape = broadcasting_shape(name, [a.shape for a in avals])
  dts = [a.dtype for a in avals]
  if len(set(dts)) != 1:
    raise TypeError(f"{name} requires arguments to have the same dtypes, got "
                    + ", ".join(d.name for d in dts)
                    + ". (Tip: rjax.numpy promotes dtypes automatically; lax does not.)")
  for i, a in enumerate(avals):
    check_dtype(name, a, kinds, argname=f"#{i}")
  return shape, dts[0], all(a.weak_type for a in avals)


def standard_binop(name: str, kinds, result_dtype=None) -> core.Primitive:
  def abstract_eval(x, y, **params):
    shape, dt, weak = binop_shape_dtype(name, (x, y), kinds)
    # as in JAX, the result is weak when all operands are (also for comparisons)
    return ShapedArray(shape, dt if result_dtype is None else result_dtype(dt), weak)

  return standard_primitive(name, abstract_eval)


def _bool_dtype(_):
  return dtypes.bool_


# ---------------------------------------------------------------------------
# Conversion helpers for lax-level functions


def asarray_lax(x: Any):
  """Arrays and tracers pass; Python scalars become weakly typed 0-d arrays;
  NumPy arrays are copied in."""
  if isinstance(x, core.Tracer) or type(x).__name__ == "Array":
    return x
  from rjax._src.array import to_array
  return to_array(x)


def _lax_binary_args(x, y):
  """lax accepts a Python scalar next to an array: it becomes a weakly typed
  0-d array of the other operand's dtype (as in JAX)."""
  xs = isinstance(x, (int, float, bool))
  ys = isinstance(y, (int, float, bool))
  if xs and not ys:
    y = asarray_lax(y)
    x = _scalar_like(x, y)
  elif ys and not xs:
    x = asarray_lax(x)
    y = _scalar_like(y, x)
  else:
    x, y = asarray_lax(x), asarray_lax(y)
  return x, y


def _scalar_like(v, like):
  from rjax._src.array import from_scalar, Array
  s = from_scalar(v, core.get_aval(like).dtype)
  return Array._from_buffer(s._buf, s.aval.update(weak_type=True))


# ---------------------------------------------------------------------------
# Elementwise primitives. One block per primitive (JVP/transpose/batching rules
# go next to it); the public function follows its primitive.

_float_or_signed = ("float", "signed")


def _sp():
  import scipy.special  # test-time oracle only
  return scipy.special


def _round_ref(x, *, rounding_method):
  if int(rounding_method) == 1:
    return np.round(x)
  t = np.trunc(x)
  return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t).astype(x.dtype)


def _clz_ref(x):
  bits = x.dtype.itemsize * 8
  u = x.astype(np.dtype(f"u{x.dtype.itemsize}")).astype(np.uint64)
  out = np.full(x.shape, bits, np.int64)
  for b in range(bits):
    out = np.where((u >> np.uint64(b)) & np.uint64(1), bits - 1 - b, out)
  return out.astype(x.dtype)


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


def _int_div_ref(x, y):
  if not np.issubdtype(x.dtype, np.integer):
    return np.divide(x, y)
  with np.errstate(all="ignore"):
    q = np.where(y == 0, -1, np.trunc(x.astype(np.float64) / np.where(y == 0, 1, y)))
  return q.astype(np.int64).astype(x.dtype)


def _rem_ref(x, y):
  if not np.issubdtype(x.dtype, np.integer):
    return np.fmod(x, y)
  with np.errstate(all="ignore"):
    return np.where(y == 0, x, np.fmod(x, np.where(y == 0, 1, y))).astype(x.dtype)


# (name, kinds, numpy reference) of the unary primitives with no params
_UNOPS = [
    ("neg", _num, np.negative), ("sign", _num, np.sign), ("floor", _float, np.floor),
    ("ceil", _float, np.ceil), ("exp", _float, np.exp), ("exp2", _float, np.exp2),
    ("log", _float, np.log), ("log1p", _float, np.log1p), ("expm1", _float, np.expm1),
    ("tanh", _float, np.tanh), ("logistic", _float, lambda x: _sp().expit(x)),
    ("sin", _float, np.sin), ("cos", _float, np.cos), ("tan", _float, np.tan),
    ("asin", _float, np.arcsin), ("acos", _float, np.arccos), ("atan", _float, np.arctan),
    ("sinh", _float, np.sinh), ("cosh", _float, np.cosh), ("asinh", _float, np.arcsinh),
    ("acosh", _float, np.arccosh), ("atanh", _float, np.arctanh), ("sqrt", _float, np.sqrt),
    ("rsqrt", _float, lambda x: 1 / np.sqrt(x)), ("cbrt", _float, np.cbrt),
    ("abs", _float_or_signed, np.abs), ("square", _num, np.square),
    ("erf", _float, lambda x: _sp().erf(x)), ("erfc", _float, lambda x: _sp().erfc(x)),
    ("erf_inv", _float, lambda x: _sp().erfinv(x)), ("lgamma", _float, lambda x: _sp().gammaln(x)),
    ("digamma", _float, lambda x: _sp().psi(x)), ("not", _intbool, np.invert),
    ("bessel_i0e", _float, lambda x: _sp().i0e(x)), ("bessel_i1e", _float, lambda x: _sp().i1e(x)),
    ("population_count", _int,
     lambda x: np.bitwise_count(x.view(f"u{x.dtype.itemsize}")).astype(x.dtype)),
    ("clz", _int, _clz_ref),
]
for _name, _kinds, _ref in _UNOPS:
  globals()[_name + "_p"] = _p = standard_unop(_name, _kinds)
  reference.register(_p, _ref)

is_finite_p = standard_unop("is_finite", _float, _bool_dtype)
reference.register(is_finite_p, np.isfinite)

round_p = standard_unop("round", _float)
reference.register(round_p, _round_ref)


def _integer_pow_abstract_eval(x, *, y):
  check_dtype("integer_pow", x, _num)
  if dtypes.is_int(x.dtype) and y < 0:
    raise TypeError(f"integer_pow: integers cannot be raised to negative powers, got "
                    f"integer_pow({x.dtype.name}{list(x.shape)}, {y})")
  return ShapedArray(x.shape, x.dtype, x.weak_type)


integer_pow_p = standard_primitive("integer_pow", _integer_pow_abstract_eval)
reference.register(integer_pow_p, lambda x, *, y: np.power(x, y, dtype=x.dtype)
                   if y >= 0 else (1 / np.power(x.astype(np.float64), -y)).astype(x.dtype))

# (name, kinds, numpy reference) of the binary primitives
_BINOPS = [
    ("add", _num, np.add), ("sub", _num, np.subtract), ("mul", _num, np.multiply),
    ("div", _num, _int_div_ref), ("rem", _num, _rem_ref), ("max", _any, np.maximum),
    ("min", _any, np.minimum), ("atan2", _float, np.arctan2), ("nextafter", _float, np.nextafter),
    ("and", _intbool, np.bitwise_and), ("or", _intbool, np.bitwise_or),
    ("xor", _intbool, np.bitwise_xor), ("shift_left", _int, _shift_ref("left")),
    ("shift_right_logical", _int, _shift_ref("logical")),
    ("shift_right_arithmetic", _int, _shift_ref("arithmetic")),
]
for _name, _kinds, _ref in _BINOPS:
  globals()[_name + "_p"] = _p = standard_binop(_name, _kinds)
  reference.register(_p, _ref)

for _name, _ref in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                    ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)):
  globals()[_name + "_p"] = _p = standard_binop(_name, _any, _bool_dtype)
  reference.register(_p, _ref)
del _name, _kinds, _ref, _p


def _pow_abstract_eval(x, y):
  check_dtype("pow", x, _float)
  if not (dtypes.is_int(y.dtype) or y.dtype == x.dtype):
    raise TypeError(f"pow: the exponent must have the base's dtype {x.dtype.name} or an integer "
                    f"dtype, got {y.dtype.name}")
  shape = broadcasting_shape("pow", [x.shape, y.shape])
  return ShapedArray(shape, x.dtype, x.weak_type and y.weak_type)


pow_p = standard_primitive("pow", _pow_abstract_eval)
reference.register(pow_p, lambda x, y: np.power(x, y.astype(x.dtype) if y.dtype.kind in "iu"
                                                else y))


def _unary(prim, doc):
  def fn(x):
    return prim.bind(asarray_lax(x))
  fn.__name__ = fn.__qualname__ = prim.name
  fn.__doc__ = doc
  return fn


def _binary(prim, name, doc):
  def fn(x, y):
    return prim.bind(*_lax_binary_args(x, y))
  fn.__name__ = fn.__qualname__ = name
  fn.__doc__ = doc
  return fn


neg = _unary(neg_p, "Elementwise negation (integers wrap).")
sign = _unary(sign_p, "Elementwise sign: -1, 0 or 1 (NaN and ±0 pass through).")
floor = _unary(floor_p, "Elementwise floor.")
ceil = _unary(ceil_p, "Elementwise ceiling.")
is_finite = _unary(is_finite_p, "True where x is neither infinite nor NaN.")
exp = _unary(exp_p, "Elementwise e**x.")
exp2 = _unary(exp2_p, "Elementwise 2**x.")
log = _unary(log_p, "Elementwise natural logarithm.")
log1p = _unary(log1p_p, "Elementwise log(1 + x), accurate near 0.")
expm1 = _unary(expm1_p, "Elementwise exp(x) - 1, accurate near 0.")
tanh = _unary(tanh_p, "Elementwise hyperbolic tangent.")
logistic = _unary(logistic_p, "Elementwise logistic sigmoid 1 / (1 + exp(-x)).")
sin = _unary(sin_p, "Elementwise sine.")
cos = _unary(cos_p, "Elementwise cosine.")
tan = _unary(tan_p, "Elementwise tangent.")
asin = _unary(asin_p, "Elementwise arcsine.")
acos = _unary(acos_p, "Elementwise arccosine.")
atan = _unary(atan_p, "Elementwise arctangent.")
sinh = _unary(sinh_p, "Elementwise hyperbolic sine.")
cosh = _unary(cosh_p, "Elementwise hyperbolic cosine.")
asinh = _unary(asinh_p, "Elementwise inverse hyperbolic sine.")
acosh = _unary(acosh_p, "Elementwise inverse hyperbolic cosine.")
atanh = _unary(atanh_p, "Elementwise inverse hyperbolic tangent.")
sqrt = _unary(sqrt_p, "Elementwise square root.")
rsqrt = _unary(rsqrt_p, "Elementwise 1 / sqrt(x).")
cbrt = _unary(cbrt_p, "Elementwise cube root.")
abs = _unary(abs_p, "Elementwise absolute value (floats and signed integers).")  # noqa: A001
square = _unary(square_p, "Elementwise x * x.")
erf = _unary(erf_p, "Elementwise error function.")
erfc = _unary(erfc_p, "Elementwise complementary error function.")
erf_inv = _unary(erf_inv_p, "Elementwise inverse error function.")
lgamma = _unary(lgamma_p, "Elementwise log of the absolute value of the gamma function.")
digamma = _unary(digamma_p, "Elementwise digamma function (derivative of lgamma).")
bessel_i0e = _unary(bessel_i0e_p, "Elementwise exp(-|x|) I0(x) (modified Bessel, order 0).")
bessel_i1e = _unary(bessel_i1e_p, "Elementwise exp(-|x|) I1(x) (modified Bessel, order 1).")
bitwise_not = _unary(not_p, "Elementwise bitwise (integers) or logical (bool) NOT.")
not_ = bitwise_not
population_count = _unary(population_count_p, "Elementwise count of set bits.")
clz = _unary(clz_p, "Elementwise count of leading zero bits.")

add = _binary(add_p, "add", "Elementwise x + y (integers wrap).")
sub = _binary(sub_p, "sub", "Elementwise x - y.")
mul = _binary(mul_p, "mul", "Elementwise x * y.")
div = _binary(div_p, "div", "Elementwise x / y; integers round toward zero (x / 0 = -1).")
rem = _binary(rem_p, "rem", "Elementwise remainder with the dividend's sign (C fmod).")
max = _binary(max_p, "max", "Elementwise maximum (NaN-propagating).")  # noqa: A001
min = _binary(min_p, "min", "Elementwise minimum (NaN-propagating).")  # noqa: A001
atan2 = _binary(atan2_p, "atan2", "Elementwise arctangent of x / y, quadrant-aware.")
nextafter = _binary(nextafter_p, "nextafter", "Next representable value after x towards y.")
bitwise_and = _binary(and_p, "bitwise_and", "Elementwise AND (bitwise or logical).")
bitwise_or = _binary(or_p, "bitwise_or", "Elementwise OR (bitwise or logical).")
bitwise_xor = _binary(xor_p, "bitwise_xor", "Elementwise XOR (bitwise or logical).")
shift_left = _binary(shift_left_p, "shift_left", "x << y; shifts >= the bit width give 0.")
shift_right_logical = _binary(shift_right_logical_p, "shift_right_logical",
                              "Logical x >> y; shifts >= the bit width give 0.")
shift_right_arithmetic = _binary(shift_right_arithmetic_p, "shift_right_arithmetic",
                                 "Arithmetic x >> y (sign fill); treats unsigned as signed.")
eq = _binary(eq_p, "eq", "Elementwise x == y.")
ne = _binary(ne_p, "ne", "Elementwise x != y.")
lt = _binary(lt_p, "lt", "Elementwise x < y.")
le = _binary(le_p, "le", "Elementwise x <= y.")
gt = _binary(gt_p, "gt", "Elementwise x > y.")
ge = _binary(ge_p, "ge", "Elementwise x >= y.")


def pow(x, y):  # noqa: A001
  """Elementwise x ** y for a float x and a float (same dtype) or integer y."""
  if isinstance(x, (int, float)) and not isinstance(x, bool) and \
      not isinstance(y, (int, float, bool)):
    y = asarray_lax(y)   # a Python scalar base takes a float exponent's dtype, weakly
    if dtypes.issubdtype(core.get_aval(y).dtype, np.inexact):
      x = _scalar_like(x, y)
  x = asarray_lax(x)
  if isinstance(y, int) and not isinstance(y, bool):
    from rjax._src.array import from_scalar
    y = from_scalar(y, dtypes.int32)
  elif isinstance(y, float):
    y = _scalar_like(y, x)
  return pow_p.bind(x, asarray_lax(y))


class RoundingMethod(enum.IntEnum):
  """How ``round`` breaks ties (JAX's ``lax.RoundingMethod``)."""
  AWAY_FROM_ZERO = 0
  TO_NEAREST_EVEN = 1


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001
  """Round to the nearest integer; ties away from zero or to even."""
  m = int(rounding_method)
  if m not in (0, 1):
    raise ValueError(f"round: rounding_method must be 0 or 1, got {rounding_method!r}")
  return round_p.bind(asarray_lax(x), rounding_method=m)


def integer_pow(x, y: int):
  """x ** y for a static Python int y (repeated squaring; integers wrap)."""
  return integer_pow_p.bind(asarray_lax(x), y=int(y))


# ---------------------------------------------------------------------------
# convert_element_type


def _convert_abstract_eval(x, *, new_dtype, weak_type):
  return ShapedArray(x.shape, new_dtype, weak_type)


convert_element_type_p = standard_primitive("convert_element_type", _convert_abstract_eval)
reference.register(convert_element_type_p, lambda x, *, new_dtype, weak_type: x.astype(new_dtype))


def convert_element_type(x, new_dtype, weak_type: bool = False):
  """Cast ``x`` to ``new_dtype`` (canonicalized). No-op if already that type."""
  x = asarray_lax(x)
  dt = dtypes.canonicalize_dtype(new_dtype)
  aval = core.get_aval(x)
  if aval.dtype == dt and aval.weak_type == weak_type:
    return x
  return convert_element_type_p.bind(x, new_dtype=dt, weak_type=bool(weak_type))





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


bitcast_convert_type_p = standard_primitive("bitcast_convert_type", _bitcast_abstract_eval)


def _bitcast_ref(x, *, new_dtype):
  new = np.dtype(new_dtype)
  if new.itemsize < x.dtype.itemsize:
    return np.ascontiguousarray(x).view(new).reshape(x.shape + (x.dtype.itemsize // new.itemsize,))
  return np.ascontiguousarray(x).view(new).reshape(x.shape[:-1] if new.itemsize > x.dtype.itemsize
                                                    else x.shape)


reference.register(bitcast_convert_type_p, _bitcast_ref)


def bitcast_convert_type(x, new_dtype):
  """Reinterpret the bits of ``x`` as ``new_dtype``. A smaller itemsize adds a
  trailing dimension; a larger one consumes the trailing dimension."""
  return bitcast_convert_type_p.bind(asarray_lax(x),
                                     new_dtype=dtypes.canonicalize_dtype(new_dtype))


# ---------------------------------------------------------------------------
# select_n and clamp


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


select_n_p = standard_primitive("select_n", _select_n_abstract_eval)
reference.register(select_n_p, lambda which, *cases: np.choose(
    np.broadcast_to(np.asarray(which, np.int32), cases[0].shape), cases))


def select_n(which, *cases):
  """``cases[which]`` elementwise; ``which`` is bool (2 cases) or int32.
  Values of ``which`` outside ``[0, len(cases))`` are implementation-defined
  (as in JAX); with a single case that case is the result."""
  which, cases = asarray_lax(which), [asarray_lax(c) for c in cases]
  if len(cases) == 1:  # as JAX's lowering: nothing to select (the kernels index cases[which])
    _select_n_abstract_eval(core.get_aval(which), core.get_aval(cases[0]))
    return cases[0]
  return select_n_p.bind(which, *cases)


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


clamp_p = standard_primitive("clamp", _clamp_abstract_eval)
reference.register(clamp_p, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi))


def clamp(min, x, max):  # noqa: A002
  """``min(max(x, min), max)`` elementwise (scalar bounds allowed)."""
  x = asarray_lax(x)
  dt = core.get_aval(x).dtype
  lo = _scalar_like(min, x) if isinstance(min, (int, float)) else asarray_lax(min)
  hi = _scalar_like(max, x) if isinstance(max, (int, float)) else asarray_lax(max)
  del dt
  return clamp_p.bind(lo, x, hi)


__all__ = [
    "neg", "sign", "floor", "ceil", "round", "RoundingMethod", "is_finite", "exp", "exp2", "log",
    "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
    "cosh", "asinh", "acosh", "atanh", "sqrt", "rsqrt", "cbrt", "abs", "square", "erf", "erfc",
    "erf_inv", "lgamma", "digamma", "bessel_i0e", "bessel_i1e", "bitwise_not", "not_", "population_count", "clz",
    "integer_pow", "add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter",
    "bitwise_and", "bitwise_or", "bitwise_xor", "shift_left", "shift_right_logical",
    "shift_right_arithmetic", "eq", "ne", "lt", "le", "gt", "ge", "convert_element_type",
    "bitcast_convert_type", "select_n", "select", "clamp",
]


# ---------------------------------------------------------------------------
# Differentiation and batching rules of the elementwise primitives (the first
# set; the transformations issue completes the table for every primitive).

from rjax._src.interpreters import ad as _ad  # noqa: E402
from rjax._src.interpreters import batching as _batching  # noqa: E402


def _unbroadcast(aval: ShapedArray, ct):
  """Sum a cotangent of the broadcast output back to an operand's shape
  (lax broadcasts rank-0 operands and size-1 dims)."""
  ct_shape = core.get_aval(ct).shape
  if ct_shape == aval.shape:
    return ct
  from rjax._src.lax import reductions, shapes
  if not aval.shape:
    return reductions.reduce_sum(ct, tuple(range(len(ct_shape))))
  axes = tuple(i for i, (a, c) in enumerate(zip(aval.shape, ct_shape)) if a == 1 and c != 1)
  return shapes.reshape(reductions.reduce_sum(ct, axes), aval.shape)


def _linear_binop_transpose(sign_y):
  def transpose(ct, x, y):
    if isinstance(ct, _ad.Zero):
      return [None, None]
    cx = _unbroadcast(x.aval, ct) if _ad.is_undefined_primal(x) else None
    cy = None
    if _ad.is_undefined_primal(y):
      cy = _unbroadcast(y.aval, ct if sign_y > 0 else neg_p.bind(ct))
    return [cx, cy]
  return transpose


def _add_jvp(primals, tangents):
  x, y = primals
  tx, ty = tangents
  out = add_p.bind(x, y)
  return out, _ad.add_tangents(_bcast_to(tx, out), _bcast_to(ty, out))


def _sub_jvp(primals, tangents):
  x, y = primals
  tx, ty = tangents
  out = sub_p.bind(x, y)
  ty = ty if isinstance(ty, _ad.Zero) else neg_p.bind(ty)
  return out, _ad.add_tangents(_bcast_to(tx, out), _bcast_to(ty, out))


def _bcast_to(t, out):
  """A tangent broadcast to the output's shape (Zero stays symbolic)."""
  oshape = core.get_aval(out).shape
  if isinstance(t, _ad.Zero):
    return _ad.Zero(core.get_aval(out).update(weak_type=False))
  tshape = core.get_aval(t).shape
  if tshape == oshape:
    return t
  from rjax._src.lax import shapes
  if not tshape:
    return shapes.broadcast_in_dim(t, oshape, ())
  return shapes.broadcast_in_dim(t, oshape, tuple(range(len(oshape))))


_ad.primitive_jvps[add_p] = _add_jvp
_ad.primitive_transposes[add_p] = _linear_binop_transpose(+1)
_ad.primitive_jvps[sub_p] = _sub_jvp
_ad.primitive_transposes[sub_p] = _linear_binop_transpose(-1)


def _mul_transpose(ct, x, y):
  if _ad.is_undefined_primal(x):
    return [_unbroadcast(x.aval, mul_p.bind(ct, y)), None]
  return [None, _unbroadcast(y.aval, mul_p.bind(x, ct))]


_ad.defjvp(mul_p, lambda g, x, y: mul_p.bind(g, y), lambda g, x, y: mul_p.bind(x, g))
_ad.primitive_transposes[mul_p] = _mul_transpose


def _div_transpose(ct, x, y):
  if _ad.is_undefined_primal(y):
    raise ValueError("div: transposition with respect to the divisor is not linear")
  return [_unbroadcast(x.aval, div_p.bind(ct, y)), None]


_ad.defjvp(div_p, lambda g, x, y: div_p.bind(g, y),
           lambda g, x, y: neg_p.bind(mul_p.bind(g, div_p.bind(x, mul_p.bind(y, y)))))
_ad.primitive_transposes[div_p] = _div_transpose


def _minmax_jvp(prim, pick_x):
  """Ties split the gradient evenly, as in JAX."""
  def rule(primals, tangents):
    x, y = primals
    out = prim.bind(x, y)
    one, half, zero = (_full_of(_scalar_like(v, out), x, y) for v in (1.0, 0.5, 0.0))
    # the weight of x's tangent: 1 where x wins, 1/2 on ties, 0 where y wins
    gx = select_n_p.bind(pick_x(x, y), select_n_p.bind(eq_p.bind(x, y), zero, half), one)
    gy = sub_p.bind(one, gx)
    t = _ad.Zero(core.get_aval(out).update(weak_type=False))
    if not isinstance(tangents[0], _ad.Zero):
      t = _ad.add_tangents(t, mul_p.bind(_bcast_to(tangents[0], out), gx))
    if not isinstance(tangents[1], _ad.Zero):
      t = _ad.add_tangents(t, mul_p.bind(_bcast_to(tangents[1], out), gy))
    return out, t
  return rule


def _full_of(s, x, y):
  from rjax._src.lax import shapes
  shape = broadcasting_shape("max", [core.get_aval(x).shape, core.get_aval(y).shape])
  return shapes.broadcast_in_dim(s, shape, ()) if shape else s


_ad.primitive_jvps[max_p] = _minmax_jvp(max_p, lambda x, y: gt_p.bind(x, y))
_ad.primitive_jvps[min_p] = _minmax_jvp(min_p, lambda x, y: lt_p.bind(x, y))

_ad.deflinear(neg_p, lambda ct, x: [neg_p.bind(ct)])
_ad.defjvp2(exp_p, lambda g, ans, x: mul_p.bind(g, ans))
_ad.defjvp(log_p, lambda g, x: div_p.bind(g, x))
_ad.defjvp2(tanh_p, lambda g, ans, x: mul_p.bind(
    g, sub_p.bind(_scalar_like(1.0, ans), mul_p.bind(ans, ans))))
_ad.defjvp2(logistic_p, lambda g, ans, x: mul_p.bind(
    g, mul_p.bind(ans, sub_p.bind(_scalar_like(1.0, ans), ans))))
_ad.defjvp(sin_p, lambda g, x: mul_p.bind(g, cos_p.bind(x)))
_ad.defjvp(cos_p, lambda g, x: neg_p.bind(mul_p.bind(g, sin_p.bind(x))))
_ad.defjvp2(sqrt_p, lambda g, ans, x: div_p.bind(g, mul_p.bind(_scalar_like(2.0, ans), ans)))
_ad.defjvp(square_p, lambda g, x: mul_p.bind(g, mul_p.bind(_scalar_like(2.0, x), x)))
_ad.defjvp(log1p_p, lambda g, x: div_p.bind(g, add_p.bind(x, _scalar_like(1.0, x))))
_ad.defjvp2(expm1_p, lambda g, ans, x: mul_p.bind(g, add_p.bind(ans, _scalar_like(1.0, ans))))
# abs: JAX's convention grad(abs)(0.) == 1
_ad.defjvp(abs_p, lambda g, x: select_n_p.bind(ge_p.bind(x, _scalar_like(0, x)), neg_p.bind(g), g))


def _integer_pow_jvp(g, x, *, y):
  if y == 0:
    return mul_p.bind(g, _scalar_like(0, x))
  return mul_p.bind(g, mul_p.bind(_scalar_like(float(y), x),
                                  x if y == 2 else integer_pow_p.bind(x, y=y - 1)))


_ad.defjvp(integer_pow_p, _integer_pow_jvp)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
  (x,), (t,) = primals, tangents
  out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
  if isinstance(t, _ad.Zero) or not dtypes.is_float(new_dtype) or \
      not dtypes.is_float(core.get_aval(x).dtype):
    return out, _ad.Zero(core.get_aval(out).update(weak_type=False))
  return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
  old = x.aval.dtype
  return [convert_element_type_p.bind(ct, new_dtype=old, weak_type=x.aval.weak_type)]


_ad.primitive_jvps[convert_element_type_p] = _convert_jvp
_ad.primitive_transposes[convert_element_type_p] = _convert_transpose


def _select_n_jvp(primals, tangents):
  which, *cases = primals
  out = select_n_p.bind(which, *cases)
  ts = tangents[1:]
  if all(isinstance(t, _ad.Zero) for t in ts):
    return out, _ad.Zero(core.get_aval(out).update(weak_type=False))
  return out, select_n_p.bind(which, *[_ad.instantiate_zeros(t) for t in ts])


def _select_n_transpose(ct, which, *cases):
  if _ad.is_undefined_primal(which):
    raise ValueError("select_n: the predicate is not differentiable")
  aval = core.get_aval(ct) if not isinstance(ct, _ad.Zero) else ct.aval
  zeros = _ad.zeros_like_aval(aval)
  out = [None]
  for i, c in enumerate(cases):
    if _ad.is_undefined_primal(c) and not isinstance(ct, _ad.Zero):
      out.append(select_n_p.bind(which, *[ct if j == i else zeros for j in range(len(cases))]))
    else:
      out.append(None)
  return out


_ad.primitive_jvps[select_n_p] = _select_n_jvp
_ad.primitive_transposes[select_n_p] = _select_n_transpose

for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p, is_finite_p, sign_p, floor_p, ceil_p, round_p):
  _ad.defnondiff(_p)

# Batching: elementwise ops keep the batch dim where it is.
for _p in (neg_p, exp_p, log_p, tanh_p, logistic_p, sin_p, cos_p, sqrt_p, square_p, log1p_p,
           expm1_p, abs_p, integer_pow_p, convert_element_type_p, is_finite_p, sign_p, floor_p,
           ceil_p, round_p):
  _batching.defvectorized(_p)
for _p in (add_p, sub_p, mul_p, div_p, max_p, min_p, eq_p, ne_p, lt_p, le_p, gt_p, ge_p):
  _batching.defbroadcasting(_p)
del _p


# ---------------------------------------------------------------------------
# Rules of the remaining elementwise primitives (JAX's rules, checked against
# jax/_src/lax/lax.py and jax/_src/lax/special.py).


def _c(v, like):
  """A weakly typed rank-0 constant of ``like``'s dtype."""
  return _scalar_like(v, like)


def _out_shape(*xs) -> tuple:
  return broadcasting_shape("broadcast", [core.get_aval(x).shape for x in xs])


def _broadcast_to(x, shape):
  """``x`` (rank 0, or equal rank with size-1 dims) broadcast to ``shape``."""
  from rjax._src.lax import shapes
  xs = core.get_aval(x).shape
  if xs == tuple(shape):
    return x
  return shapes.broadcast_in_dim(x, shape, () if not xs else tuple(range(len(shape))))


def _zeros_of(shape, dtype):
  from rjax._src.lax import shapes
  return shapes.full(shape, 0, dtype)


def _replace_zero(x):
  """1 where x == 0, else x (JAX's ``_replace_zero``)."""
  return select_n_p.bind(eq_p.bind(x, _c(0, x)), x, _broadcast_to(_c(1, x), core.get_aval(x).shape))


# -- unary transcendentals ---------------------------------------------------

_ad.defjvp2(exp2_p, lambda g, ans, x: mul_p.bind(log_p.bind(_c(2.0, x)), mul_p.bind(g, ans)))
_ad.defjvp2(tan_p, lambda g, ans, x: mul_p.bind(g, add_p.bind(_c(1.0, x), square_p.bind(ans))))
_ad.defjvp(asin_p, lambda g, x: mul_p.bind(
    g, rsqrt_p.bind(sub_p.bind(_c(1.0, x), square_p.bind(x)))))
_ad.defjvp(acos_p, lambda g, x: mul_p.bind(
    g, neg_p.bind(rsqrt_p.bind(sub_p.bind(_c(1.0, x), square_p.bind(x))))))
_ad.defjvp(atan_p, lambda g, x: div_p.bind(g, add_p.bind(_c(1.0, x), square_p.bind(x))))
_ad.defjvp(sinh_p, lambda g, x: mul_p.bind(g, cosh_p.bind(x)))
_ad.defjvp(cosh_p, lambda g, x: mul_p.bind(g, sinh_p.bind(x)))
_ad.defjvp(asinh_p, lambda g, x: mul_p.bind(
    g, rsqrt_p.bind(add_p.bind(square_p.bind(x), _c(1.0, x)))))
# JAX uses x^2 - 1 rather than (x+1)(x-1): the domain is x >= 1
_ad.defjvp(acosh_p, lambda g, x: mul_p.bind(
    g, rsqrt_p.bind(sub_p.bind(square_p.bind(x), _c(1.0, x)))))
_ad.defjvp(atanh_p, lambda g, x: mul_p.bind(
    div_p.bind(_c(1.0, x), add_p.bind(_c(1.0, x), x)), div_p.bind(g, sub_p.bind(_c(1.0, x), x))))
_ad.defjvp2(rsqrt_p, lambda g, ans, x: mul_p.bind(
    g, mul_p.bind(_c(-0.5, x), div_p.bind(ans, x))))
_ad.defjvp2(cbrt_p, lambda g, ans, x: mul_p.bind(
    g, mul_p.bind(_c(1.0 / 3.0, x), integer_pow_p.bind(ans, y=-2))))
_ad.defjvp(erf_p, lambda g, x: mul_p.bind(
    _c(2.0 / np.sqrt(np.pi), x), mul_p.bind(g, exp_p.bind(neg_p.bind(square_p.bind(x))))))
_ad.defjvp(erfc_p, lambda g, x: mul_p.bind(
    _c(-2.0 / np.sqrt(np.pi), x), mul_p.bind(g, exp_p.bind(neg_p.bind(square_p.bind(x))))))
_ad.defjvp2(erf_inv_p, lambda g, ans, x: mul_p.bind(
    _c(np.sqrt(np.pi) / 2.0, x), mul_p.bind(g, exp_p.bind(square_p.bind(ans)))))
_ad.defjvp(lgamma_p, lambda g, x: mul_p.bind(g, digamma_p.bind(x)))
# JAX's rules: i0e' = i1e - sign(x) i0e; i1e' = i0e - i1e (sign(x) + 1/x), 1/2 at 0
_ad.defjvp2(bessel_i0e_p, lambda g, ans, x: mul_p.bind(
    g, sub_p.bind(bessel_i1e_p.bind(x), mul_p.bind(sign_p.bind(x), ans))))


def _bessel_i1e_jvp(g, ans, x):
  zero = eq_p.bind(x, _c(0.0, x))
  one, half = (_full_of(_c(v, x), x, x) for v in (1.0, 0.5))
  safe = select_n_p.bind(zero, x, one)
  d = sub_p.bind(bessel_i0e_p.bind(safe), mul_p.bind(
      ans, add_p.bind(sign_p.bind(safe), div_p.bind(one, safe))))
  return mul_p.bind(g, select_n_p.bind(zero, d, half))


_ad.defjvp2(bessel_i1e_p, _bessel_i1e_jvp)


# Trigamma. JAX differentiates digamma with ``polygamma(1, x)`` (a primitive
# lowered to CHLO). rjax has no polygamma primitive, so trigamma is built from
# existing differentiable primitives: the recurrence
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


_ad.defjvp(digamma_p, lambda g, x: mul_p.bind(g, _trigamma(x)))


# -- binary ------------------------------------------------------------------

def _atan2_denominator(x, y):
  return add_p.bind(square_p.bind(x), square_p.bind(y))


_ad.defjvp(atan2_p,
           lambda g, x, y: mul_p.bind(g, div_p.bind(y, _atan2_denominator(x, y))),
           lambda g, x, y: mul_p.bind(g, div_p.bind(neg_p.bind(x), _atan2_denominator(x, y))))


def _rem_jvp_rhs(g, x, y):
  q = div_p.bind(x, y)
  # -g * round_toward_zero(x / y)
  return mul_p.bind(neg_p.bind(g), mul_p.bind(sign_p.bind(q), floor_p.bind(abs_p.bind(q))))


_ad.defjvp(rem_p, lambda g, x, y: _broadcast_to(g, _out_shape(x, y)), _rem_jvp_rhs)


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


_ad.defjvp2(pow_p, _pow_jvp_lhs, _pow_jvp_rhs)


# -- clamp -------------------------------------------------------------------

def _clamp_select(pred, g, operand):
  """``g`` (broadcast to the operand's shape) where ``pred``, else 0."""
  aval = core.get_aval(operand)
  return select_n_p.bind(pred, _zeros_of(aval.shape, aval.dtype), _broadcast_to(g, aval.shape))


# JAX's rules: the operand gets the gradient where min < x < max (strictly;
# none at the boundaries), min where min > x and min < max, max where max < x.
# (A rank-0 bound's tangent is broadcast to the operand's shape; JAX's rule
# fails there, the transpose here sums it back.)
_ad.defjvp(clamp_p,
           lambda g, lo, x, hi: _clamp_select(
               and_p.bind(gt_p.bind(lo, x), lt_p.bind(lo, hi)), g, x),
           lambda g, lo, x, hi: _clamp_select(
               and_p.bind(gt_p.bind(x, lo), lt_p.bind(x, hi)), g, x),
           lambda g, lo, x, hi: _clamp_select(lt_p.bind(hi, x), g, x))


# -- not differentiable ------------------------------------------------------

for _p in (nextafter_p, not_p, and_p, or_p, xor_p, population_count_p, clz_p, shift_left_p,
           shift_right_logical_p, shift_right_arithmetic_p, bitcast_convert_type_p):
  _ad.defnondiff(_p)


# -- batching ----------------------------------------------------------------

for _p in (exp2_p, tan_p, asin_p, acos_p, atan_p, sinh_p, cosh_p, asinh_p, acosh_p, atanh_p,
           rsqrt_p, cbrt_p, erf_p, erfc_p, erf_inv_p, lgamma_p, digamma_p, bessel_i0e_p,
           bessel_i1e_p, not_p, population_count_p, clz_p):
  _batching.defvectorized(_p)
for _p in (rem_p, atan2_p, nextafter_p, and_p, or_p, xor_p, shift_left_p, shift_right_logical_p,
           shift_right_arithmetic_p, pow_p):
  _batching.defbroadcasting(_p)
del _p


def _bcast_bdim(x, xdim, full_shape, bdim):
  """Bring a select_n/clamp operand to ``full_shape`` (the batched output
  shape, batch dim at ``bdim``). An operand is either rank 0 unbatched (kept,
  the primitive broadcasts it), rank 0 batched (now rank 1: broadcast along
  ``bdim``), or full rank (moved / broadcast to ``bdim``)."""
  from rjax._src.lax import shapes
  nd = core.get_aval(x).ndim
  if xdim is None:
    if nd == 0:
      return x
    return _batching.matchaxis(x, None, bdim, full_shape[bdim])
  if nd == 1 and len(full_shape) > 1:
    return shapes.broadcast_in_dim(x, full_shape, (bdim,))
  return _batching.moveaxis(x, xdim, bdim)


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
  cases = [_batching.matchaxis(c, d, bdim, size) for c, d in zip(cases, cdims)]
  which = _bcast_bdim(which, wdim, full_shape, bdim)
  return select_n_p.bind(which, *cases), bdim


_batching.primitive_batchers[select_n_p] = _select_n_batch


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
    x = _batching.bdim_at_front(x, None, size)
    xdim = 0
  full_shape = core.get_aval(x).shape
  lo = _bcast_bdim(lo, lodim, full_shape, xdim)
  hi = _bcast_bdim(hi, hidim, full_shape, xdim)
  return clamp_p.bind(lo, x, hi), xdim


_batching.primitive_batchers[clamp_p] = _clamp_batch


def _bitcast_batch(vals, dims, *, new_dtype):
  (x,), (d,) = vals, dims
  aval = core.get_aval(x)
  # a wider new dtype consumes the trailing dim: keep the batch dim off it
  if np.dtype(new_dtype).itemsize > aval.dtype.itemsize and d == aval.ndim - 1:
    x, d = _batching.moveaxis(x, d, 0), 0
  return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d


_batching.primitive_batchers[bitcast_convert_type_p] = _bitcast_batch
