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
from rjax._src.core import Tracer
from rjax._src.lax import slicing
from rjax._src.numpy import indexing
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


_OPERAND_TYPES: set = {int, float, bool}


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
  return isinstance(x, (bool, int, float, np.ndarray, np.generic, Tracer)) or \
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
_METHODS = ["all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "choose", "clip",
            "compress", "conj", "conjugate", "cumprod", "cumsum", "diagonal", "dot", "flatten",
            "max", "mean", "min", "nonzero", "prod", "ptp", "ravel", "repeat", "reshape",
            "round", "searchsorted", "sort", "squeeze", "std", "sum", "swapaxes", "take",
            "trace", "transpose", "var", "view"]


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
  cls.__getitem__ = _getitem
  cls.at = property(_at)
  cls.T = property(lambda self: _jnp.transpose(self))
  cls.mT = property(lambda self: _jnp.matrix_transpose(self))
  cls.real = property(lambda self: _jnp.real(self))
  cls.imag = property(lambda self: _jnp.imag(self))
  if issubclass(cls, Array):
    cls.__iter__ = _array_iter
  else:
    cls.__hash__ = None
