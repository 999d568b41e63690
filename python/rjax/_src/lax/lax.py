"""Elementwise primitives (and the shared helpers that define primitives):
each defined once with all its rules.

``standard_unop``/``standard_binop`` create a primitive with its abstract
evaluation (shape and dtype rules, no promotion: lax is strict), eager impl and
standard lowering. JVP/transpose/batching rules are registered next to each
primitive by the transformation tables in ``interpreters/``.
"""
from __future__ import annotations

from typing import Any, Sequence

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
    return ShapedArray(x.shape, dt, x.weak_type and result_dtype is None)

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
    if result_dtype is not None:
      return ShapedArray(shape, result_dtype(dt), False)
    return ShapedArray(shape, dt, weak)

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
# Elementwise primitives

neg_p = standard_unop("neg", _num)
reference.register(neg_p, np.negative)
exp_p = standard_unop("exp", _float)
reference.register(exp_p, np.exp)
log_p = standard_unop("log", _float)
reference.register(log_p, np.log)
tanh_p = standard_unop("tanh", _float)
reference.register(tanh_p, np.tanh)
sqrt_p = standard_unop("sqrt", _float)
reference.register(sqrt_p, np.sqrt)

add_p = standard_binop("add", _num)
reference.register(add_p, np.add)
sub_p = standard_binop("sub", _num)
reference.register(sub_p, np.subtract)
mul_p = standard_binop("mul", _num)
reference.register(mul_p, np.multiply)
div_p = standard_binop("div", _num)
reference.register(div_p, np.divide)
max_p = standard_binop("max", _num)
reference.register(max_p, np.maximum)
min_p = standard_binop("min", _num)
reference.register(min_p, np.minimum)

eq_p = standard_binop("eq", _any, _bool_dtype)
reference.register(eq_p, np.equal)
ne_p = standard_binop("ne", _any, _bool_dtype)
reference.register(ne_p, np.not_equal)
lt_p = standard_binop("lt", _any, _bool_dtype)
reference.register(lt_p, np.less)
le_p = standard_binop("le", _any, _bool_dtype)
reference.register(le_p, np.less_equal)
gt_p = standard_binop("gt", _any, _bool_dtype)
reference.register(gt_p, np.greater)
ge_p = standard_binop("ge", _any, _bool_dtype)
reference.register(ge_p, np.greater_equal)


def neg(x):
  return neg_p.bind(asarray_lax(x))


def exp(x):
  return exp_p.bind(asarray_lax(x))


def log(x):
  return log_p.bind(asarray_lax(x))


def tanh(x):
  return tanh_p.bind(asarray_lax(x))


def sqrt(x):
  return sqrt_p.bind(asarray_lax(x))


def add(x, y):
  return add_p.bind(*_lax_binary_args(x, y))


def sub(x, y):
  return sub_p.bind(*_lax_binary_args(x, y))


def mul(x, y):
  return mul_p.bind(*_lax_binary_args(x, y))


def div(x, y):
  return div_p.bind(*_lax_binary_args(x, y))


def max(x, y):  # noqa: A001
  return max_p.bind(*_lax_binary_args(x, y))


def min(x, y):  # noqa: A001
  return min_p.bind(*_lax_binary_args(x, y))


def eq(x, y):
  return eq_p.bind(*_lax_binary_args(x, y))


def ne(x, y):
  return ne_p.bind(*_lax_binary_args(x, y))


def lt(x, y):
  return lt_p.bind(*_lax_binary_args(x, y))


def le(x, y):
  return le_p.bind(*_lax_binary_args(x, y))


def gt(x, y):
  return gt_p.bind(*_lax_binary_args(x, y))


def ge(x, y):
  return ge_p.bind(*_lax_binary_args(x, y))


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
  """``cases[which]`` elementwise; ``which`` is bool (2 cases) or int32."""
  return select_n_p.bind(asarray_lax(which), *[asarray_lax(c) for c in cases])


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


__all__ = ["add", "sub", "mul", "div", "max", "min", "neg", "exp", "log", "tanh", "sqrt",
           "eq", "ne", "lt", "le", "gt", "ge", "convert_element_type",
           "select_n", "select", "clamp"]
