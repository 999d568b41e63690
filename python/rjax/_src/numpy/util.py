"""Shared helpers of ``rjax.numpy``: argument checks, dtype promotion and
rank promotion. All promotion happens here; ``lax`` never promotes."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, shapes
from rjax._src.runtime.array import Array, from_scalar


def is_arraylike(x: Any) -> bool:
  return (isinstance(x, (np.ndarray, np.generic, bool, int, float, complex, core.Tracer))
          or type(x).__name__ == "Array" or hasattr(x, "__jax_array__"))


def check_arraylike(fun_name: str, *args: Any) -> None:
  for pos, a in enumerate(args):
    if not is_arraylike(a):
      raise TypeError(f"{fun_name} requires ndarray or scalar arguments, got "
                      f"{type(a).__name__} at position {pos}.")


def asarray(x: Any):
  """Array-like -> Array or tracer (no dtype change beyond canonicalization)."""
  return lax.asarray_lax(x) if not isinstance(x, (list, tuple)) else lax.asarray_lax(np.asarray(x))


def check_python_int(x: int) -> None:
  """A Python int operand must fit the default int dtype (int32, or int64
  with x64), whatever the other operand's dtype: JAX's OverflowError."""
  dt = dtypes.default_int_dtype()
  info = np.iinfo(dt)
  if not info.min <= x <= info.max:
    raise OverflowError(f"Python int {x} too large to convert to {np.dtype(dt).name}")


def _to_dtype(x: Any, dt: np.dtype, weak: bool):
  if isinstance(x, int) and not isinstance(x, bool):
    check_python_int(x)
    if dtypes.is_int(dt):
      # JAX converts a promoted Python int as NumPy's astype does: modulo the
      # width (jnp.less(uint8_array, -1) compares with 255)
      x = int(np.array(x, np.int64).astype(dt))
  if isinstance(x, (bool, int, float, complex)):
    s = from_scalar(x, dt)
    return Array._from_buffer(s._buf, s.aval.update(weak_type=weak)) if weak else s
  return lax.convert_element_type(asarray(x), dt, weak_type=weak)


def promote_dtypes(*args: Any) -> list:
  """Convert all args to their common (JAX-promoted) dtype."""
  if len(args) < 2:
    return [asarray(a) for a in args]
  dt, weak = dtypes.result_type_and_weak(*args)
  return [_to_dtype(a, dt, weak) for a in args]


def promote_dtypes_inexact(*args: Any) -> list:
  """Promote, then to an inexact type (JAX's ``to_inexact_dtype``: float32
  for narrow integers and bool, float64 for 64-bit ones under x64)."""
  dt, weak = dtypes.result_type_and_weak(*args)
  dt = dtypes.to_inexact_dtype(dt)
  return [_to_dtype(a, dt, weak) for a in args]


def promote_dtypes_numeric(*args: Any) -> list:
  """Promote, then bool to int32 (JAX's ``to_numeric_dtype``: int32 even
  under x64, weakly typed when the promoted type was, e.g. a Python bool)."""
  dt, weak = dtypes.result_type_and_weak(*args)
  if dtypes.is_bool(dt):
    dt = np.dtype(np.int32)
  return [_to_dtype(a, dt, weak) for a in args]


def promote_shapes(fun_name: str, *args: Any) -> list:
  """NumPy rank promotion: prepend size-1 dims so all ranks match; size-1
  dims are then broadcast by lax. Rank-0 operands stay rank 0."""
  if len(args) < 2:
    return list(args)
  arg_shapes = [core.get_aval(a).shape for a in args]
  try:
    out_shape = np.broadcast_shapes(*arg_shapes)
  except ValueError:
    if len({len(s) for s in arg_shapes if s}) < 2:
      # equal ranks (rank 0 aside): lax's check, a TypeError (as in JAX)
      raise TypeError(f"{fun_name}: incompatible shapes for broadcasting: "
                      + " and ".join(str(tuple(s)) for s in arg_shapes)) from None
    # rank promotion fails first in JAX: its ValueError, with its message
    raise ValueError("Incompatible shapes for broadcasting: shapes="
                     f"{[tuple(s) for s in arg_shapes]}") from None
  nd = len(out_shape)
  res = []
  for a, s in zip(args, arg_shapes):
    if len(s) == 0 or len(s) == nd:
      res.append(a)
    else:
      res.append(shapes.reshape(a, (1,) * (nd - len(s)) + tuple(s)))
  return res


def _fast_same(args) -> bool:
  """True when promotion is a no-op: arrays/tracers with one aval dtype and
  weak type, and equal ranks (the common case on the eager hot path)."""
  a0 = getattr(args[0], "aval", None)
  if a0 is None:
    return False
  for a in args[1:]:
    av = getattr(a, "aval", None)
    if (av is None or av.dtype != a0.dtype or av.weak_type != a0.weak_type
        or (len(av.shape) != len(a0.shape) and av.shape and a0.shape)):
      return False
  return True


_scalar_cache: dict = {}


def _weak_const(v, dt):
  """A cached weakly typed 0-d array holding Python scalar ``v`` as ``dt``."""
  key = (type(v), v, dt)
  c = _scalar_cache.get(key)
  if c is None:
    c = _to_dtype(v, dt, True)
    if len(_scalar_cache) > 512:
      _scalar_cache.clear()
    _scalar_cache[key] = c
  return c


def _fast_scalar(args):
  """(array, Python scalar) pairs whose result dtype is the array's: the
  scalar becomes a cached weak 0-d constant. Returns None if not applicable."""
  a, b = args
  if type(b) in (int, float):
    arr, sc, first = a, b, True
  elif type(a) in (int, float):
    arr, sc, first = b, a, False
  else:
    return None
  av = getattr(arr, "aval", None)
  if av is None or av.weak_type:
    return None
  k = av.dtype.kind
  if not (k == "f" or av.dtype == dtypes.bfloat16 or (k in "iu" and type(sc) is int)):
    return None
  if type(sc) is int:
    check_python_int(sc)
  if type(sc) is int and k in "iu":
    info = np.iinfo(av.dtype)
    if not info.min <= sc <= info.max:
      return None
  c = _weak_const(sc, av.dtype)
  return [arr, c] if first else [c, arr]


def promote_args(fun_name: str, *args: Any) -> list:
  if _fast_same(args):
    return list(args)
  if len(args) == 2:
    r = _fast_scalar(args)
    if r is not None:
      return r
  check_arraylike(fun_name, *args)
  return promote_shapes(fun_name, *promote_dtypes(*args))


def promote_args_inexact(fun_name: str, *args: Any) -> list:
  if _fast_same(args) and dtypes.is_float(args[0].aval.dtype):
    return list(args)
  if len(args) == 2:
    r = _fast_scalar(args)
    if r is not None and dtypes.is_float(r[0].aval.dtype):
      return r
  check_arraylike(fun_name, *args)
  return promote_shapes(fun_name, *promote_dtypes_inexact(*args))


def promote_args_numeric(fun_name: str, *args: Any) -> list:
  check_arraylike(fun_name, *args)
  return promote_shapes(fun_name, *promote_dtypes_numeric(*args))


def canonicalize_axis(axis: int, ndim: int, fun_name: str = "") -> int:
  axis = int(axis)
  if not -ndim <= axis < ndim:
    from numpy.exceptions import AxisError
    raise AxisError(f"{fun_name + ': ' if fun_name else ''}axis {axis} is out of bounds "
                    f"for array of dimension {ndim}")
  return axis % ndim if ndim else 0


def canonicalize_axes(axis: int | Sequence[int] | None, ndim: int, fun_name: str = "") -> tuple[int, ...]:
  if axis is None:
    return tuple(range(ndim))
  if isinstance(axis, (int, np.integer)):
    axis = (axis,)
  out = tuple(canonicalize_axis(a, ndim, fun_name) for a in axis)
  if len(set(out)) != len(out):
    raise ValueError(f"{fun_name}: repeated axis in {tuple(axis)}")
  return out
