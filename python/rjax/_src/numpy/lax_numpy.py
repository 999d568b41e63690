"""``rjax.numpy``: array creation and conversion (more families live in
sibling modules: ufuncs, reductions, shape ops, indexing, linalg)."""
from __future__ import annotations

from typing import Any

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, shapes, slicing
from rjax._src.runtime.array import Array, from_numpy, from_scalar


def _is_array(x):
  return isinstance(x, (Array, core.Tracer))


def asarray(a: Any, dtype: Any = None, order: str | None = None, *, copy: bool | None = None):
  """Convert ``a`` to an array. Arrays and tracers pass through (cast if
  ``dtype`` differs); Python scalars become weakly typed; sequences may mix
  arrays and scalars."""
  if _is_array(a):
    return a if dtype is None else lax.convert_element_type(a, dtype)
  if isinstance(a, (bool, int, float, complex)) and dtype is None:
    return from_scalar(a)
  if a is None or (isinstance(a, (list, tuple)) and _contains_none(a)):
    raise ValueError("None is not a valid value for jnp.array")
  if dtype is not None and _is_python_data(a):
    # Python scalars and (nested) lists of them convert as NumPy converts them
    # (as in JAX): floats truncate toward zero, NaN is a ValueError, and a value
    # out of the integer dtype's range an OverflowError.
    dt = dtypes.canonicalize_dtype(dtype)
    return from_numpy(np.asarray(a, dtype=dt), dt)
  if hasattr(a, "__jax_array__"):
    return asarray(a.__jax_array__(), dtype)
  if isinstance(a, (list, tuple)) and any(_contains_traced(e) for e in a):
    # As JAX: each leaf is cast to the common (strong) dtype, given a leading
    # axis and concatenated, in a tree of at most 16-way concatenations.
    dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else \
        dtypes.result_type(*_leaves(a))
    return _stack_nested(a, dt)
  if isinstance(a, (list, tuple)) and any(_contains_array(e) for e in a):
    a = _to_numpy_nested(a)
  if isinstance(a, (bool, int, float, complex)):
    return from_scalar(a, dtype)
  x = np.asarray(a)
  if x.dtype == object and _is_python_data(a):
    # (a Python int beyond every NumPy integer type)
    raise OverflowError("Python int too large to convert to an array")
  if x.dtype == np.float64 and dtype is None and not isinstance(a, np.ndarray) \
      and not isinstance(a, np.generic):
    pass  # Python floats in a list: float64 -> canonical float
  if dtype is None and not isinstance(a, (np.ndarray, np.generic)):
    # Lists of Python scalars take JAX's default dtypes, not NumPy's int64/float64.
    if x.dtype.kind == "i":
      dtype = dtypes.default_int_dtype()
    elif x.dtype.kind == "f":
      dtype = dtypes.default_float_dtype()
    elif x.dtype.kind == "c":
      dtype = dtypes.default_complex_dtype()
  return from_numpy(x, dtype)


def _is_python_data(a) -> bool:
  if isinstance(a, (bool, int, float, complex)):
    return True
  if isinstance(a, (list, tuple)):
    return all(_is_python_data(e) for e in a)
  return False


def array(object: Any, dtype: Any = None, copy: bool = True, order: str | None = "K", ndmin: int = 0):
  out = asarray(object, dtype)
  if ndmin > out.ndim:
    out = shapes.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
  return out


def _contains_none(x) -> bool:
  if x is None:
    return True
  if isinstance(x, (list, tuple)):
    return any(_contains_none(e) for e in x)
  return False


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


def _leaves(x) -> list:
  if isinstance(x, (list, tuple)):
    return [leaf for e in x for leaf in _leaves(e)]
  if x is None:
    raise ValueError("None is not a valid value for jnp.array")
  return [x]


def _stack_nested(x, dtype):
  if not isinstance(x, (list, tuple)):
    return lax.convert_element_type(x if _is_array(x) else asarray(x, dtype), dtype)
  if not x:
    return from_numpy(np.zeros((0,), dtype), dtype)
  parts = [shapes.expand_dims(_stack_nested(e, dtype), [0]) for e in x]
  while len(parts) > 16:
    parts = [shapes.concatenate(parts[i:i + 16], 0) for i in range(0, len(parts), 16)]
  return shapes.concatenate(parts, 0)


__all__ = ['asarray', 'array']


# ---------------------------------------------------------------------------
# Host I/O and printing: NumPy's functions on NumPy arrays, converted (as JAX
# does); ``fromfile``/``fromiter`` are refused because they consume a file or
# an iterator (impure), with JAX's advice.


def frombuffer(buffer, dtype=float, count: int = -1, offset: int = 0):
  """A 1-d array from the bytes of ``buffer`` (``np.frombuffer``, then converted)."""
  return asarray(np.frombuffer(buffer=buffer, dtype=dtype, count=count, offset=offset))


def fromstring(string: str, dtype=float, count: int = -1, *, sep: str):
  """A 1-d array from text (``np.fromstring`` with a separator)."""
  return asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def _impure(name: str, np_name: str):
  def f(*args, **kwargs):
    raise NotImplementedError(
        f"jnp.{name}() is not implemented because it may be non-pure and thus unsafe for use "
        f"with jit and other transformations. Consider using jnp.asarray(np.{np_name}(...)) "
        f"instead, taking care with np.{np_name} inside a transformed function because it "
        f"consumes its argument.")
  f.__name__ = f.__qualname__ = name
  f.__doc__ = f"Not implemented (impure): use ``jnp.asarray(np.{np_name}(...))``."
  return f


fromfile = _impure("fromfile", "fromfile")
fromiter = _impure("fromiter", "fromiter")


def load(file, *args, **kwargs):
  """``np.load``, with arrays converted to rjax arrays (bfloat16 saved as
  raw 2-byte void is read back as bfloat16, as in JAX)."""
  out = np.load(file, *args, **kwargs)
  if isinstance(out, np.ndarray):
    if out.dtype == "V2":
      out = out.view(dtypes.bfloat16)
    try:
      out = asarray(out)
    except (TypeError, ValueError):
      pass
  return out


save = np.save
savez = np.savez
printoptions = np.printoptions
get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions
array_repr = np.array_repr
array_str = np.array_str
iterable = np.iterable
ComplexWarning = np.exceptions.ComplexWarning


__all__ += ["frombuffer", "fromstring", "fromfile", "fromiter", "load", "save", "savez",
            "printoptions", "get_printoptions", "set_printoptions", "array_repr", "array_str",
            "iterable", "ComplexWarning"]
