"""``rjax.numpy``: array creation and conversion (more families live in
sibling modules: ufuncs, reductions, shape ops, indexing, linalg)."""
from __future__ import annotations

from typing import Any

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, shapes, slicing
from rjax._src.numpy import shape_ops
from rjax._src.runtime.array import Array, from_numpy, from_scalar


def _is_array(x):
  return isinstance(x, (Array, core.Tracer))


def asarray(a: Any, dtype: Any = None, order: str | None = None, *, copy: bool | None = None):
  """Convert ``a`` to an array. Arrays and tracers pass through (cast if
  ``dtype`` differs); Python scalars become weakly typed; sequences may mix
  arrays and scalars."""
  if _is_array(a):
    return a if dtype is None else lax.convert_element_type(a, dtype)
  if isinstance(a, (bool, int, float)) and dtype is None:
    return from_scalar(a)
  if hasattr(a, "__jax_array__"):
    return asarray(a.__jax_array__(), dtype)
  if isinstance(a, (list, tuple)) and any(_contains_traced(e) for e in a):
    return _stack_nested(a, dtype)
  if isinstance(a, (list, tuple)) and any(_contains_array(e) for e in a):
    a = _to_numpy_nested(a)
  if isinstance(a, (bool, int, float)):
    return from_scalar(a, dtype)
  x = np.asarray(a)
  if x.dtype == np.float64 and dtype is None and not isinstance(a, np.ndarray) \
      and not isinstance(a, np.generic):
    pass  # Python floats in a list: float64 -> canonical float
  if dtype is None and x.dtype.kind == "c":
    raise TypeError("rjax does not support complex numbers yet")
  if dtype is None and not isinstance(a, (np.ndarray, np.generic)):
    # Lists of Python scalars take JAX's default dtypes, not NumPy's int64/float64.
    if x.dtype.kind == "i":
      dtype = dtypes.default_int_dtype()
    elif x.dtype.kind == "f":
      dtype = dtypes.default_float_dtype()
  return from_numpy(x, dtype)


def array(object: Any, dtype: Any = None, copy: bool = True, order: str | None = "K", ndmin: int = 0):
  out = asarray(object, dtype)
  if ndmin > out.ndim:
    out = shapes.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
  return out


def _contains_traced(x) -> bool:
  if isinstance(x, core.Tracer):
    return True
  if isinstance(x, (list, tuple)):
    return any(_contains_traced(e) for e in x)
  return False


def _contains_array(x) -> bool:
  if isinstance(x, Array):
    return True
  if isinstance(x, (list, tuple)):
    return any(_contains_array(e) for e in x)
  return False


def _to_numpy_nested(x):
  if isinstance(x, Array):
    return np.asarray(x)
  if isinstance(x, (list, tuple)):
    return [_to_numpy_nested(e) for e in x]
  return x


def _stack_nested(x, dtype):
  if isinstance(x, (list, tuple)):
    return shape_ops.stack([_stack_nested(e, dtype) for e in x])
  return asarray(x, dtype)


__all__ = ['asarray', 'array']
