"""JAX's dtype semantics: canonical dtypes (64-bit off by default) and the
type-promotion lattice with weakly typed Python scalars.

Reference: "Type promotion semantics" in JAX's documentation. ``lax`` never
promotes; ``jnp`` calls :func:`result_type` and converts.
"""
from __future__ import annotations

import functools
from typing import Any

import ml_dtypes
import numpy as np

from rjax._src.base.config import config

bfloat16 = np.dtype(ml_dtypes.bfloat16)
bool_ = np.dtype(np.bool_)
#: The dtype of the tangent/cotangent of an integer or boolean value (JAX's
#: ``float0``): it has no values, only a shape.
float0 = np.dtype([("float0", np.void, 0)])
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))

_float_dtypes = (bfloat16, float16, float32, float64)
_signed = (int8, int16, int32, int64)
_unsigned = (uint8, uint16, uint32, uint64)
supported_dtypes = (bool_,) + _signed + _unsigned + _float_dtypes
_supported_set = frozenset(supported_dtypes)

# Weak "categories" of the lattice: Python int, float (complex not supported).
_WEAK_INT = "i*"
_WEAK_FLOAT = "f*"

_lattice: dict[Any, tuple] = {
    bool_: (_WEAK_INT,),
    _WEAK_INT: (uint8, int8),
    uint8: (uint16, int16),
    uint16: (uint32, int32),
    uint32: (uint64, int64),
    uint64: (_WEAK_FLOAT,),
    int8: (int16,),
    int16: (int32,),
    int32: (int64,),
    int64: (_WEAK_FLOAT,),
    _WEAK_FLOAT: (bfloat16, float16),
    bfloat16: (float32,),
    float16: (float32,),
    float32: (float64,),
    float64: (),
}


def _upper_bounds() -> dict[Any, frozenset]:
  out: dict[Any, frozenset] = {}

  def up(n):
    if n in out:
      return out[n]
    s = {n}
    for m in _lattice[n]:
      s |= up(m)
    out[n] = frozenset(s)
    return out[n]

  for n in _lattice:
    up(n)
  return out


_UB = _upper_bounds()


def x64_enabled() -> bool:
  return bool(config.read("jax_enable_x64"))


def canonicalize_dtype(dtype: Any) -> np.dtype:
  """The dtype rjax stores for a requested dtype (64-bit types only with x64)."""
  dt = np.dtype(dtype)
  if dt.kind == "c":
    raise TypeError(f"rjax does not support complex dtypes yet (got {dt})")
  if dt not in _supported_set:
    raise TypeError(f"rjax does not support dtype {dt}")
  if not x64_enabled():
    if dt == int64:
      return int32
    if dt == uint64:
      return uint32
    if dt == float64:
      return float32
  return dt


def default_int_dtype() -> np.dtype:
  return int64 if x64_enabled() else int32


def default_uint_dtype() -> np.dtype:
  return uint64 if x64_enabled() else uint32


def default_float_dtype() -> np.dtype:
  return float64 if x64_enabled() else float32


def issubdtype(a, b) -> bool:
  """``np.issubdtype`` that also knows bfloat16 is a floating type."""
  a = np.dtype(a)
  if a == bfloat16:
    if b in (np.floating, np.inexact, np.number, np.generic):
      return True
    try:
      return np.dtype(b) == bfloat16
    except TypeError:
      return False
  return bool(np.issubdtype(a, b))


def is_float(dtype) -> bool:
  return np.dtype(dtype) in _float_dtypes


def is_int(dtype) -> bool:
  return np.dtype(dtype).kind in "iu"


def is_signed(dtype) -> bool:
  return np.dtype(dtype).kind == "i"


def is_unsigned(dtype) -> bool:
  return np.dtype(dtype).kind == "u"


def is_bool(dtype) -> bool:
  return np.dtype(dtype) == bool_


def is_inexact(dtype) -> bool:
  return is_float(dtype)


def _node(dtype: np.dtype, weak: bool):
  if not weak:
    return dtype
  if dtype == bool_:
    return bool_
  if dtype.kind in "iu":
    return _WEAK_INT
  return _WEAK_FLOAT


@functools.lru_cache(maxsize=4096)
def _join(nodes: tuple) -> Any:
  common = None
  for n in nodes:
    common = _UB[n] if common is None else common & _UB[n]
  # The least upper bound is the one bound whose own upper bounds are all of them.
  for c in common:
    if _UB[c] == common:
      return c
  raise TypeError(f"no common type for {nodes}")


def _node_to_dtype(node) -> tuple[np.dtype, bool]:
  if node == _WEAK_INT:
    return default_int_dtype(), True
  if node == _WEAK_FLOAT:
    return default_float_dtype(), True
  return node, False


def dtype_and_weak(x: Any) -> tuple[np.dtype, bool]:
  """(dtype, weak_type) of an array-like value, before canonicalization."""
  if isinstance(x, bool):
    return bool_, False
  if isinstance(x, int):
    return default_int_dtype(), True
  if isinstance(x, float):
    return default_float_dtype(), True
  if isinstance(x, complex):
    raise TypeError("rjax does not support complex numbers yet")
  aval = getattr(x, "aval", None)
  if aval is not None:
    return aval.dtype, aval.weak_type
  if isinstance(x, (np.ndarray, np.generic)):
    return canonicalize_dtype(x.dtype), False
  if isinstance(x, (np.dtype, type)):
    return canonicalize_dtype(x), False
  if isinstance(x, str):
    return canonicalize_dtype(x), False
  return canonicalize_dtype(np.asarray(x).dtype), False


def promote_types(a, b) -> np.dtype:
  """JAX's ``promote_types``: the lattice join of two (strong) dtypes."""
  da, db = canonicalize_dtype(a), canonicalize_dtype(b)
  return canonicalize_dtype(_node_to_dtype(_join((da, db)))[0])


def result_type_and_weak(*args: Any) -> tuple[np.dtype, bool]:
  if not args:
    raise ValueError("at least one array or dtype is required")
  nodes = []
  for a in args:
    if a is None:
      continue
    dt, weak = dtype_and_weak(a)
    nodes.append(_node(np.dtype(dt), weak))
  node = _join(tuple(nodes))
  dt, weak = _node_to_dtype(node)
  return canonicalize_dtype(dt), weak


def result_type(*args: Any) -> np.dtype:
  """JAX's ``jnp.result_type``: promotion with weak Python scalars."""
  return result_type_and_weak(*args)[0]


def finfo(dtype):
  dt = np.dtype(dtype)
  if dt == bfloat16:
    return ml_dtypes.finfo(dt)
  return np.finfo(dt)


def iinfo(dtype):
  return np.iinfo(np.dtype(dtype))
