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
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

_float_dtypes = (bfloat16, float16, float32, float64)
_signed = (int8, int16, int32, int64)
_unsigned = (uint8, uint16, uint32, uint64)
_complex_dtypes = (complex64, complex128)
supported_dtypes = (bool_,) + _signed + _unsigned + _float_dtypes + _complex_dtypes
_supported_set = frozenset(supported_dtypes)

# Weak "categories" of the lattice: Python int, float, complex.
_WEAK_INT = "i*"
_WEAK_FLOAT = "f*"
_WEAK_COMPLEX = "c*"

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
    _WEAK_FLOAT: (bfloat16, float16, _WEAK_COMPLEX),
    bfloat16: (float32,),
    float16: (float32,),
    float32: (float64, complex64),
    float64: (complex128,),
    _WEAK_COMPLEX: (complex64,),
    complex64: (complex128,),
    complex128: (),
}


def _upper_bounds(lattice) -> dict[Any, frozenset]:
  out: dict[Any, frozenset] = {}

  def up(n):
    if n in out:
      return out[n]
    s = {n}
    for m in lattice[n]:
      s |= up(m)
    out[n] = frozenset(s)
    return out[n]

  for n in lattice:
    up(n)
  return out


_UB_X64 = _upper_bounds(_lattice)
# Without x64, JAX's lattice forms no 64-bit type from narrower inputs: its one
# such edge, uint32 x int32 -> int64, becomes -> int32 (uint32 -> int32, uint64).
_UB_X32 = _upper_bounds({**_lattice, uint32: (int32, uint64)})


def x64_enabled() -> bool:
  return bool(config.read("jax_enable_x64"))


def canonicalize_dtype(dtype: Any) -> np.dtype:
  """The dtype rjax stores for a requested dtype (64-bit types only with x64)."""
  dt = np.dtype(dtype)
  if dt not in _supported_set:
    raise TypeError(f"rjax does not support dtype {dt}")
  if not x64_enabled():
    if dt == int64:
      return int32
    if dt == uint64:
      return uint32
    if dt == float64:
      return float32
    if dt == complex128:
      return complex64
  return dt


def default_int_dtype() -> np.dtype:
  return int64 if x64_enabled() else int32


def default_uint_dtype() -> np.dtype:
  return uint64 if x64_enabled() else uint32


def default_float_dtype() -> np.dtype:
  return float64 if x64_enabled() else float32


def default_complex_dtype() -> np.dtype:
  return complex128 if x64_enabled() else complex64


# JAX's ``_dtype_to_inexact``: a narrow integer or bool becomes float32 even
# with x64 on; only a 64-bit integer becomes float64 (and, without x64, the
# stored float32).
_to_inexact = {bool_: float32, int8: float32, uint8: float32, int16: float32,
               uint16: float32, int32: float32, uint32: float32, int64: float64,
               uint64: float64}


def to_inexact_dtype(dtype) -> np.dtype:
  """JAX's ``to_inexact_dtype``: ``dtype`` if inexact, else the float a
  function with float results computes an integer or bool ``dtype`` in
  (float32, or float64 for 64-bit integers), canonicalized."""
  dt = np.dtype(dtype)
  return canonicalize_dtype(_to_inexact.get(dt, dt))


def to_floating_dtype(dtype) -> np.dtype:
  """JAX's ``to_floating_dtype``: :func:`to_inexact_dtype`, and a complex
  dtype's real part."""
  return real_dtype(to_inexact_dtype(dtype))


def to_complex_dtype(dtype) -> np.dtype:
  """JAX's ``to_complex_dtype``: complex128 for float64/complex128 (after
  :func:`to_inexact_dtype`), else complex64; canonicalized."""
  return canonicalize_dtype(
      complex128 if to_inexact_dtype(dtype) in (float64, complex128) else complex64)


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


def is_complex(dtype) -> bool:
  return np.dtype(dtype).kind == "c"


def is_inexact(dtype) -> bool:
  return is_float(dtype) or is_complex(dtype)


def real_dtype(dtype) -> np.dtype:
  """The dtype of a complex dtype's parts (a real dtype is its own)."""
  dt = np.dtype(dtype)
  if dt == complex64:
    return float32
  if dt == complex128:
    return float64
  return dt


def complex_dtype(dtype) -> np.dtype:
  """The complex dtype with parts of (at least) ``dtype``: float64 gives
  complex128, every other real dtype complex64 (JAX's ``_complex_dtype``)."""
  dt = np.dtype(dtype)
  if dt.kind == "c":
    return dt
  return complex128 if dt == float64 else complex64


def _node(dtype: np.dtype, weak: bool):
  if not weak:
    return dtype
  if dtype == bool_:
    return bool_
  if dtype.kind in "iu":
    return _WEAK_INT
  if dtype.kind == "c":
    return _WEAK_COMPLEX
  return _WEAK_FLOAT


def _join(nodes: tuple) -> Any:
  return _join_in(nodes, x64_enabled())


@functools.lru_cache(maxsize=4096)
def _join_in(nodes: tuple, x64: bool) -> Any:
  ub = _UB_X64 if x64 else _UB_X32
  common = None
  for n in nodes:
    common = ub[n] if common is None else common & ub[n]
  # The least upper bound is the one bound whose own upper bounds are all of them.
  for c in common:
    if ub[c] == common:
      return c
  raise TypeError(f"no common type for {nodes}")


def _node_to_dtype(node) -> tuple[np.dtype, bool]:
  if node == _WEAK_INT:
    return default_int_dtype(), True
  if node == _WEAK_FLOAT:
    return default_float_dtype(), True
  if node == _WEAK_COMPLEX:
    return default_complex_dtype(), True
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
    return default_complex_dtype(), True
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
  canonicalize_dtype(a), canonicalize_dtype(b)   # (unsupported dtypes raise)
  # the join of the dtypes as given (uint64 with int8 is a float, as in JAX),
  # then the stored dtype
  da, db = _as_node(a), _as_node(b)
  return canonicalize_dtype(_node_to_dtype(_join((da, db)))[0])


def join_dtypes(a, b) -> np.dtype:
  """JAX's ``jnp.promote_types``: the lattice join of two dtypes as given,
  not canonicalized (``promote_types(int8, uint64)`` is float64 even without
  x64, as in JAX); a join at a weak node is its 64-bit type."""
  canonicalize_dtype(a), canonicalize_dtype(b)   # (unsupported dtypes raise)
  node = _join((_as_node(a), _as_node(b)))
  return {_WEAK_INT: int64, _WEAK_FLOAT: float64, _WEAK_COMPLEX: complex128}.get(node, node)


def _as_node(d) -> np.dtype:
  dt = np.dtype(d)
  return dt if dt in _supported_set else canonicalize_dtype(dt)


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
