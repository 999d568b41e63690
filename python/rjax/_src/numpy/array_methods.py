"""Operators and NumPy-style methods shared by ``Array`` and every tracer
(and iteration over an ``Array``). The public face calls
``set_array_methods`` on both classes: ``Array`` lives in the runtime layer,
below rjax.numpy, so the methods are attached from here.

Each entry names an ``rjax.numpy`` function, looked up when called, so a
function added to ``rjax.numpy`` is available as a method with no change here.
"""
from __future__ import annotations

import numpy as np

from rjax._src import numpy as _jnp  # this package's namespace is rjax.numpy's
from rjax._src.base import dtypes
from rjax._src.core import Tracer
from rjax._src.lax import lax, shapes as lax_shapes, slicing
from rjax._src.numpy import indexing
from rjax._src.numpy.util import check_arraylike
from rjax._src.runtime.array import Array


def _lookup(name):
  """The jnp function ``name`` (a ufunc object's plain function, for speed)."""
  f = getattr(_jnp, name)
  return getattr(f, "_call", f)


def _binop(name):
  fn = []                              # the jnp function, looked up on first use

  def op(self, other):
    if type(other) not in _OPERAND_TYPES and not _is_operand(other):
      return NotImplemented
    if not fn:
      fn.append(_lookup(name))
    return fn[0](self, other)
  op.__name__ = name
  return op


def _rbinop(name):
  fn = []

  def op(self, other):
    if type(other) not in _OPERAND_TYPES and not _is_operand(other):
      return NotImplemented
    if not fn:
      fn.append(_lookup(name))
    return fn[0](other, self)
  op.__name__ = "r" + name
  return op


_OPERAND_TYPES: set = {int, float, bool, complex}


def _unop(name):
  def op(self):
    return getattr(_jnp, name)(self)
  op.__name__ = name
  return op


def _method(name):
  def m(self, *args, **kwargs):
    return getattr(_jnp, name)(self, *args, **kwargs)
  m.__name__ = name
  return m


def _is_operand(x) -> bool:
  return isinstance(x, (bool, int, float, complex, np.ndarray, np.generic, Tracer)) or \
      type(x) is Array or hasattr(x, "__jax_array__")


_BINOPS = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lshift": "left_shift", "rshift": "right_shift", "divmod": "divmod",
}
_CMPS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
         "gt": "greater", "ge": "greater_equal"}
_UNOPS = {"neg": "negative", "pos": "positive", "abs": "abs", "invert": "invert"}
_METHODS = ["all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "clip",
            "conj", "conjugate", "cumprod", "cumsum", "diagonal", "dot", "max", "mean", "min",
            "nonzero", "prod", "ptp", "ravel", "repeat", "round", "searchsorted", "sort",
            "squeeze", "std", "sum", "swapaxes", "take", "trace", "var"]


def _reshape(self, *args, order="C"):
  shape = args[0] if len(args) == 1 and not isinstance(args[0], int) else args
  return _jnp.reshape(self, shape, order=order)


def _transpose(self, *args):
  axes = None
  if len(args) == 1 and args[0] is not None and not isinstance(args[0], int):
    axes = args[0]
  elif args:
    axes = args
  return _jnp.transpose(self, axes)


def _flatten(self, order="C", *, out_sharding=None):
  return _jnp.ravel(self, order=order)


def _choose(self, choices, out=None, mode="raise"):
  return _jnp.choose(self, choices, out=out, mode=mode)


def _compress(self, condition, axis=None, *, out=None, size=None, fill_value=0):
  return _jnp.compress(condition, self, axis=axis, out=out, size=size, fill_value=fill_value)


def _view(self, dtype=None, type=None):  # noqa: A002
  """The same bits seen as ``dtype`` (the last axis rescaled, as NumPy)."""
  if type is not None:
    raise NotImplementedError("`type` argument of array.view() is not supported.")
  if dtype is None:
    return self
  dtype = dtypes.canonicalize_dtype(dtype)
  src = self.dtype
  nin, nout = src.itemsize * 8, dtype.itemsize * 8
  if self.ndim == 0:
    if nin != nout:
      raise ValueError("view() of a 0d array is only supported if the itemsize is unchanged.")
    return _view(lax_shapes.expand_dims(self, (0,)), dtype).squeeze()
  if self.shape[-1] * nin % nout != 0:
    raise ValueError("When changing to a larger dtype, its size must be a divisor of the total "
                     "size in bytes of the last axis of the array.")
  if src == dtype:
    return self
  if src == np.dtype(bool):
    return _view(lax.convert_element_type(self, np.uint8), dtype)
  if dtype == np.dtype(bool):
    return lax.convert_element_type(_view(self, np.uint8), dtype)
  if nin < nout:
    out = lax_shapes.reshape(self, self.shape[:-1] + (self.shape[-1] // (nout // nin), nout // nin))
    return lax.bitcast_convert_type(out, dtype)
  if nin > nout:
    out = lax.bitcast_convert_type(self, dtype)
    return lax_shapes.reshape(out, out.shape[:-2] + (out.shape[-2] * out.shape[-1],))
  return lax.bitcast_convert_type(self, dtype)


def _byteswap(self):
  """The array with the bytes of each element reversed."""
  if self.dtype.itemsize == 1:
    return self
  b = lax.bitcast_convert_type(self, np.uint8)
  return lax.bitcast_convert_type(lax_shapes.rev(b, (self.ndim,)), self.dtype)


def _contains(self, other):
  if other is None or isinstance(other, str):
    raise TypeError(f"Array.__contains__: unsupported operand type {type(other)}.")
  check_arraylike("Array.__contains__", other)
  q = _jnp.asarray(other)
  if self.ndim != 1:
    raise ValueError(f"Array.__contains__: search array must be one-dimensional, got "
                     f"arr.shape={self.shape}.")
  if q.ndim != 0:
    raise ValueError(f"Array.__contains__: query value must be a scalar, got "
                     f"query.shape={q.shape!r}")
  return _jnp.any(_jnp.equal(self, q))


def _round_dunder(self, ndigits=None):
  """``round(x)``: an int array (JAX's ``astype(int)``); ``round(x, n)`` keeps the dtype."""
  out = _jnp.round(self, decimals=ndigits or 0)
  return out if ndigits is not None else lax.convert_element_type(out, dtypes.default_int_dtype())


def _int_conversion(fmt):
  def conv(self):
    if not dtypes.is_int(self.dtype) and self.dtype != np.dtype(bool):
      raise TypeError(f"Only integer scalar arrays can be converted to a scalar index, got "
                      f"{self.dtype.name}")
    return fmt(int(self))
  return conv


def _array_namespace(self, /, *, api_version=None):
  if api_version is not None and api_version not in ("2023.12", "2024.12"):
    raise ValueError(f"Unrecognized array API version: {api_version!r}")
  return _jnp


def _array_module(self, types):
  return _jnp if all(issubclass(t, (Array, Tracer, np.ndarray, np.generic)) for t in types) \
      else NotImplemented


def _flat(self):
  raise NotImplementedError("JAX Arrays do not implement the arr.flat property: consider "
                            "arr.flatten() instead.")


def _tobytes(self, order="C"):
  return np.asarray(self).tobytes(order=order)


def _getitem(self, idx):
  return indexing.getitem(self, idx)


def _at(self):
  return indexing._IndexUpdateHelper(self)


def _array_iter(self):
  if self.ndim == 0:
    raise TypeError("iteration over a 0-d array")
  return iter([slicing.index_in_dim(self, i, 0, keepdims=False) for i in range(self.shape[0])])


def set_array_methods(cls) -> None:
  _OPERAND_TYPES.add(cls)
  for k, v in _BINOPS.items():
    setattr(cls, f"__{k}__", _binop(v))
    setattr(cls, f"__r{k}__", _rbinop(v))
  for k, v in _CMPS.items():
    setattr(cls, f"__{k}__", _binop(v))
  for k, v in _UNOPS.items():
    setattr(cls, f"__{k}__", _unop(v))
  for m in _METHODS:
    if m not in cls.__dict__:
      setattr(cls, m, _method(m))
  cls.reshape = _reshape
  cls.transpose = _transpose
  cls.flatten = _flatten
  cls.choose = _choose
  cls.compress = _compress
  cls.view = _view
  cls.byteswap = _byteswap
  cls.__contains__ = _contains
  cls.__round__ = _round_dunder
  cls.__hex__ = _int_conversion(hex)
  cls.__oct__ = _int_conversion(oct)
  cls.__array_namespace__ = _array_namespace
  cls.__array_module__ = _array_module
  cls.__numpy_dtype__ = property(lambda self: self.dtype)
  cls.flat = property(_flat)
  cls.clone = lambda self: _jnp.copy(self)
  cls.nbytes = property(lambda self: self.size * self.dtype.itemsize)
  cls.itemsize = property(lambda self: self.dtype.itemsize)
  cls.__getitem__ = _getitem
  cls.at = property(_at)
  cls.T = property(lambda self: _jnp.transpose(self))
  cls.mT = property(lambda self: _jnp.matrix_transpose(self))
  cls.real = property(lambda self: _jnp.real(self))
  cls.imag = property(lambda self: _jnp.imag(self))
  if issubclass(cls, Array):
    cls.tobytes = _tobytes
    cls.__iter__ = _array_iter
    cls.copy_to_host_async = lambda self: None   # host arrays: nothing to copy
    cls.on_device_size_in_bytes = lambda self: self.nbytes
  else:
    cls.__hash__ = None
    _set_tracer_only_methods(cls)


def _set_tracer_only_methods(cls) -> None:
  """What JAX's tracers have beyond the operators. The value-reading methods
  (``item``, ``tolist``, ``tobytes``, ``__complex__``) are core's: ``item``
  concretizes a tracer whose value is known (under grad), as in JAX."""
  cls.copy = lambda self: _jnp.copy(self)
  cls.__copy__ = lambda self: self
  cls.__deepcopy__ = lambda self, memo: self
  cls.__reversed__ = lambda self: iter([self[i] for i in reversed(range(len(self)))])

  def setitem(self, idx, value):
    raise TypeError(f"JAX arrays are immutable and do not support in-place item assignment. "
                    f"Instead of x[idx] = y, use x = x.at[idx].set(y) or another .at[] method: "
                    f"https://docs.jax.dev/en/latest/_autosummary/jax.numpy.ndarray.at.html "
                    f"(got a {type(self).__name__})")
  cls.__setitem__ = setitem
