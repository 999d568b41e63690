"""Dtype objects and scalar constructors (``jnp.float32(3)`` -> 0-d Array),
dtype queries (finfo, iinfo, result_type, promote_types, can_cast,
issubdtype, isdtype, isscalar) and constants."""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.numpy import lax_numpy


class _ScalarMeta(type):
  """Metaclass of ``jnp.float32`` and friends: calling the class builds a
  (non-weak) Array of its dtype; ``np.dtype(jnp.float32)`` works through the
  ``dtype`` attribute; the class compares equal to the NumPy scalar type."""

  def __hash__(cls) -> int:
    return hash(cls.dtype.type)

  def __eq__(cls, other) -> bool:
    return cls is other or cls.dtype.type == other

  def __ne__(cls, other) -> bool:
    return not cls == other

  def __call__(cls, x=0):
    """``np.asarray(x, dtype)``'s conversion, as JAX (``int32(2.7)`` is 2,
    ``uint8(-1)`` an OverflowError, ``int32(nan)`` a ValueError)."""
    if isinstance(x, str):
      x = np.asarray(x).astype(dtypes.canonicalize_dtype(cls.dtype))
    return lax_numpy.asarray(x, dtype=cls.dtype)

  def __instancecheck__(cls, instance) -> bool:
    return isinstance(instance, cls.dtype.type)


def _make_scalar_type(name: str, dt: np.dtype) -> type:
  return _ScalarMeta(name, (object,), {"dtype": np.dtype(dt), "__module__": "rjax.numpy",
                                        "__doc__": f"{dt.name} scalar type: "
                                        f"``{name}(x)`` is a 0-d (or n-d) Array of {dt.name}."})


bool_ = _make_scalar_type("bool_", dtypes.bool_)
int8 = _make_scalar_type("int8", dtypes.int8)
int16 = _make_scalar_type("int16", dtypes.int16)
int32 = _make_scalar_type("int32", dtypes.int32)
int64 = _make_scalar_type("int64", dtypes.int64)
uint8 = _make_scalar_type("uint8", dtypes.uint8)
uint16 = _make_scalar_type("uint16", dtypes.uint16)
uint32 = _make_scalar_type("uint32", dtypes.uint32)
uint64 = _make_scalar_type("uint64", dtypes.uint64)
float16 = _make_scalar_type("float16", dtypes.float16)
bfloat16 = _make_scalar_type("bfloat16", dtypes.bfloat16)
float32 = _make_scalar_type("float32", dtypes.float32)
float64 = _make_scalar_type("float64", dtypes.float64)
complex64 = _make_scalar_type("complex64", dtypes.complex64)
complex128 = _make_scalar_type("complex128", dtypes.complex128)
bool = bool_  # noqa: A001  (JAX's ``jnp.bool``; builtins.bool below)
int_ = int64
uint = uint64
float_ = float64
double = float64
single = float32
half = float16
complex_ = complex128
csingle = complex64
cdouble = complex128

# Abstract scalar types (NumPy's hierarchy).
generic = np.generic
number = np.number
integer = np.integer
signedinteger = np.signedinteger
unsignedinteger = np.unsignedinteger
inexact = np.inexact
floating = np.floating
complexfloating = np.complexfloating
character = np.character
flexible = np.flexible
object_ = np.object_
dtype = np.dtype

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
euler_gamma = 0.5772156649015329
newaxis = None


def _np_type(t: Any) -> Any:
  """Scalar classes to their NumPy type; everything else unchanged."""
  return t.dtype.type if isinstance(t, _ScalarMeta) else t


def finfo(dt):
  return dtypes.finfo(np.dtype(_np_type(dt)) if not hasattr(dt, "aval") else dt.dtype)


def iinfo(dt):
  return dtypes.iinfo(np.dtype(_np_type(dt)) if not hasattr(dt, "aval") else dt.dtype)


def result_type(*args):
  """JAX's promotion (weak Python scalars) of arrays, scalars and dtypes."""
  return dtypes.result_type(*[_np_type(a) for a in args])


def promote_types(a, b):
  return dtypes.join_dtypes(_np_type(a), _np_type(b))


def can_cast(from_, to, casting: str = "safe") -> bool:
  src = from_.dtype if hasattr(from_, "aval") or hasattr(from_, "dtype") and not isinstance(
      from_, type) else np.dtype(_np_type(from_))
  return builtins.bool(np.can_cast(np.dtype(src), np.dtype(_np_type(to)), casting=casting))


def issubdtype(arg1, arg2) -> bool:
  a = _np_type(arg1)
  b = _np_type(arg2)
  if isinstance(a, type) and issubclass(a, np.generic) and a in _ABSTRACT:
    # an abstract class on the left: NumPy's class hierarchy
    return builtins.bool(isinstance(b, type) and issubclass(b, np.generic) and issubclass(a, b))
  if isinstance(b, type) and issubclass(b, np.generic) and b in _ABSTRACT:
    return dtypes.issubdtype(np.dtype(a), b)
  return np.dtype(a) == np.dtype(b)


_ABSTRACT = (np.generic, np.number, np.integer, np.signedinteger, np.unsignedinteger, np.inexact,
             np.floating, np.complexfloating, np.character, np.flexible)


_ISDTYPE_KINDS = {
    "bool": lambda d: dtypes.is_bool(d),
    "signed integer": lambda d: dtypes.is_signed(d),
    "unsigned integer": lambda d: dtypes.is_unsigned(d),
    "integral": lambda d: dtypes.is_int(d),
    "real floating": lambda d: dtypes.is_float(d),
    "complex floating": lambda d: np.dtype(d).kind == "c",
    "numeric": lambda d: dtypes.is_int(d) or dtypes.is_float(d) or np.dtype(d).kind == "c",
}


def isdtype(dt, kind) -> bool:
  d = np.dtype(_np_type(dt))
  kinds = kind if isinstance(kind, tuple) else (kind,)
  for k in kinds:
    if isinstance(k, str):
      if k not in _ISDTYPE_KINDS:
        raise ValueError(f"isdtype: unrecognized kind {k!r}; expected one of "
                         f"{sorted(_ISDTYPE_KINDS)}")
      if _ISDTYPE_KINDS[k](d):
        return True
    elif np.dtype(_np_type(k)) == d:
      return True
  return False


def isscalar(element) -> bool:
  """True for Python/NumPy scalars and 0-d arrays (JAX's definition)."""
  if isinstance(element, (np.ndarray, core.Tracer)) or type(element).__name__ == "Array":
    return np.ndim(element) == 0 if not isinstance(element, core.Tracer) else \
        core.get_aval(element).ndim == 0
  return builtins.bool(np.isscalar(element))


__all__ = ["bool_", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "bfloat16", "float32", "float64", "int_", "uint", "float_", "double",
           "single", "half", "complex64", "complex128", "complex_", "csingle", "cdouble", "generic", "number", "integer", "signedinteger", "unsignedinteger",
           "inexact", "floating", "complexfloating", "character", "flexible", "object_", "dtype", "pi", "e", "inf", "nan", "euler_gamma", "newaxis",
           "finfo", "iinfo", "result_type", "promote_types", "can_cast", "issubdtype", "isdtype",
           "isscalar"]
