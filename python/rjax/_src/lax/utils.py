"""What every lax module uses to define its primitives (JAX's
``lax/utils.py``): ``standard_primitive`` and the elementwise
``standard_unop``/``standard_binop``, the dtype checks, lax's broadcasting
rule, the conversion of arguments, and ``@export``, which puts a public
function in its module's ``__all__`` (and so in ``rjax.lax``).

This module imports no other lax module: the others import names from it
and each other as modules, since their rules use one another's operations.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import lowering
from rjax._src.interpreters.dispatch import apply_primitive
from rjax._src.runtime.array import Array, from_scalar, to_array


def export(obj: Any, name: str | None = None) -> Any:
  """``@export`` a public function or class: append its name (or ``name``)
  to the ``__all__`` of the module that defines it. ``rjax.lax`` re-exports
  every module's ``__all__``, so a new function needs no other edit."""
  module = sys.modules[obj.__module__]
  names = module.__dict__.setdefault("__all__", [])
  names.append(name or obj.__name__)
  return obj


# dtype kinds accepted by a primitive
_float = "float"
_int = "int"
_bool = "bool"
_signed = "signed"
_unsigned = "unsigned"
_complex = "complex"
_any = ("float", "int", "bool", "complex")
#: what orders (JAX's ``_ordered``): complex does not
_ordered = ("float", "int", "bool")
#: the real numbers
_num = ("float", "int")
#: the numbers, complex included
_numc = ("float", "int", "complex")
_inexact = ("float", "complex")
_intbool = ("int", "bool")
_float_or_signed = ("float", "signed")


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
    if k == "complex" and dtypes.is_complex(dtype):
      return True
  return False


def _kinds_str(kinds) -> str:
  kinds = (kinds,) if isinstance(kinds, str) else kinds
  names = {"float": "floating", "int": "integer", "bool": "boolean", "signed": "signed integer",
           "unsigned": "unsigned integer", "complex": "complex"}
  return " or ".join(names[k] for k in kinds)


def check_dtype(name: str, aval: ShapedArray, kinds, argname: str = "x") -> None:
  if not _kind_ok(aval.dtype, kinds):
    raise TypeError(f"{name} does not accept dtype {aval.dtype.name} for argument {argname}; "
                    f"it accepts {_kinds_str(kinds)} dtypes")


def standard_primitive(name: str, abstract_eval: Callable, multiple_results: bool = False,
                       lower: bool = True) -> core.Primitive:
  """A primitive with abstract eval, the eager impl and (by default) the
  standard one-op lowering."""
  p = core.new_primitive(name, multiple_results)
  p.def_abstract_eval(abstract_eval)
  p.def_impl(lambda *args, **params: apply_primitive(p, *args, **params))
  if lower:
    lowering.register_standard(p)
  return p


def standard_unop(name: str, kinds, result_dtype: Callable | None = None) -> core.Primitive:
  """Unary elementwise primitive: abstract eval, impl and the Rust op of the
  same name. ``result_dtype(aval_dtype)`` overrides the output dtype (e.g.
  bool for predicates)."""

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


def standard_binop(name: str, kinds, result_dtype: Callable | None = None) -> core.Primitive:
  """Binary elementwise primitive with lax's broadcasting: abstract eval,
  impl and the Rust op of the same name."""

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
  if isinstance(x, core.Tracer) or type(x) is Array:
    return x
  return to_array(x)


def _lax_binary_args(x, y):
  """lax accepts a Python scalar next to an array: it becomes a weakly typed
  0-d array of the other operand's dtype (as in JAX)."""
  xs = isinstance(x, (int, float, bool, complex))
  ys = isinstance(y, (int, float, bool, complex))
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
  """A weakly typed rank-0 array holding Python scalar ``v`` in ``like``'s dtype."""
  s = from_scalar(v, core.get_aval(like).dtype)
  return Array._from_buffer(s._buf, s.aval.update(weak_type=True))
