"""Shape primitives: broadcast_in_dim, reshape (and transpose, rev,
concatenate, pad, squeeze, expand_dims ...), each with all its rules."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.core import ShapedArray
from rjax._src.lax import reference
from rjax._src.lax.lax import asarray_lax, standard_primitive


def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions):
  if len(broadcast_dimensions) != x.ndim:
    raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must have "
                    f"one entry per operand dimension (operand shape {x.shape})")
  if any(not 0 <= d < len(shape) for d in broadcast_dimensions) or \
      list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
    raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must be "
                    f"strictly increasing and within rank {len(shape)}")
  for i, d in enumerate(broadcast_dimensions):
    if x.shape[i] not in (1, shape[d]):
      raise TypeError(f"broadcast_in_dim: operand shape {x.shape} cannot be broadcast to {shape} "
                      f"with broadcast_dimensions {broadcast_dimensions}")
  return ShapedArray(shape, x.dtype, x.weak_type)


broadcast_in_dim_p = standard_primitive("broadcast_in_dim", _broadcast_in_dim_abstract_eval)


def _broadcast_in_dim_ref(x, *, shape, broadcast_dimensions):
  expanded = [1] * len(shape)
  for i, d in enumerate(broadcast_dimensions):
    expanded[d] = x.shape[i]
  return np.broadcast_to(x.reshape(expanded), shape)


reference.register(broadcast_in_dim_p, _broadcast_in_dim_ref)


def broadcast_in_dim(x, shape: Sequence[int], broadcast_dimensions: Sequence[int]):
  x = asarray_lax(x)
  shape = tuple(int(d) for d in shape)
  bd = tuple(int(d) for d in broadcast_dimensions)
  aval = core.get_aval(x)
  if aval.shape == shape and bd == tuple(range(len(shape))):
    return x
  return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bd)


def broadcast(x, sizes: Sequence[int]):
  x = asarray_lax(x)
  nd = core.get_aval(x).ndim
  shape = tuple(sizes) + core.get_aval(x).shape
  return broadcast_in_dim(x, shape, tuple(range(len(sizes), len(sizes) + nd)))


def _reshape_abstract_eval(x, *, new_sizes, dimensions):
  if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
    raise TypeError(f"reshape: cannot reshape array of shape {x.shape} (size {x.size}) "
                    f"into shape {tuple(new_sizes)} (size {int(np.prod(new_sizes))})")
  if dimensions is not None:
    raise NotImplementedError("reshape with dimensions: transpose first")
  return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p = standard_primitive("reshape", _reshape_abstract_eval)
reference.register(reshape_p, lambda x, *, new_sizes, dimensions: np.reshape(x, new_sizes))


def reshape(x, new_sizes: Sequence[int], dimensions=None):
  x = asarray_lax(x)
  new_sizes = tuple(int(d) for d in new_sizes)
  if core.get_aval(x).shape == new_sizes and dimensions is None:
    return x
  return reshape_p.bind(x, new_sizes=new_sizes, dimensions=dimensions)



# ---------------------------------------------------------------------------
# iota and full


def _iota_abstract_eval(*, dtype, shape, dimension, sharding=None):
  if not 0 <= dimension < max(len(shape), 1):
    raise ValueError(f"iota: dimension {dimension} out of range for shape {shape}")
  if any(d < 0 for d in shape):
    raise ValueError(f"iota: negative dimension in shape {shape}")
  return ShapedArray(shape, dtype, False)


iota_p = standard_primitive("iota", _iota_abstract_eval)


def _iota_ref(*, dtype, shape, dimension, sharding=None):
  r = np.arange(shape[dimension], dtype=dtype).reshape(
      [-1 if i == dimension else 1 for i in range(len(shape))])
  return np.broadcast_to(r, shape).copy()


reference.register(iota_p, _iota_ref)


def broadcasted_iota(dtype, shape: Sequence[int], dimension: int):
  """An array of ``shape`` whose values count along ``dimension``."""
  from rjax._src import dtypes
  shape = tuple(int(d) for d in shape)
  return iota_p.bind(dtype=dtypes.canonicalize_dtype(dtype), shape=shape,
                     dimension=int(dimension), sharding=None)


def iota(dtype, size: int):
  """``[0, 1, ..., size-1]`` (``lax.iota``)."""
  return broadcasted_iota(dtype, (int(size),), 0)


def full(shape: Sequence[int], fill_value, dtype=None):
  """An array of ``shape`` filled with ``fill_value`` (``lax.full``)."""
  from rjax._src import dtypes
  from rjax._src.lax.lax import convert_element_type
  shape = tuple(int(d) for d in shape)
  if dtype is None:
    dt, weak = dtypes.dtype_and_weak(fill_value)
    dt = dtypes.canonicalize_dtype(dt)
  else:
    dt, weak = dtypes.canonicalize_dtype(dtype), False
  v = convert_element_type(asarray_lax(fill_value), dt, weak_type=weak)
  if core.get_aval(v).shape != ():
    raise TypeError(f"full: fill_value must be a scalar, got shape {core.get_aval(v).shape}")
  return broadcast_in_dim(v, shape, ())


def full_like(x, fill_value, dtype=None, shape=None):
  """``full`` with the shape and dtype of ``x`` unless given."""
  aval = core.get_aval(x)
  return full(aval.shape if shape is None else shape, fill_value,
              aval.dtype if dtype is None else dtype)


__all__ = ["broadcast_in_dim", "broadcast", "reshape", "iota", "broadcasted_iota", "full",
           "full_like"]
