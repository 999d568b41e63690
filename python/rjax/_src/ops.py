"""Segment reductions (``jax.ops``): ``segment_sum``, ``segment_prod``,
``segment_max`` and ``segment_min`` — a scatter of ``data``'s rows into
``num_segments`` rows, combining rows that share a segment id."""
from __future__ import annotations

import math
import operator
from typing import Callable

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import dtypes, errors
from rjax._src.lax import slicing
from rjax._src.lax.slicing import GatherScatterMode, ScatterDimensionNumbers

__all__ = ["segment_sum", "segment_prod", "segment_max", "segment_min"]


def _identity(op: str, dtype):
  if op == "add":
    return 0
  if op == "multiply":
    return 1
  if op == "min":
    if dtype == np.bool_:
      return True
    return np.iinfo(dtype).max if dtypes.is_int(dtype) else float("inf")
  if dtype == np.bool_:
    return False
  return np.iinfo(dtype).min if dtypes.is_int(dtype) else -float("inf")


def _check_arraylike(name, *args):
  for i, a in enumerate(args):
    if isinstance(a, (list, tuple, str)) or a is None or not (
        isinstance(a, (core.Tracer, np.ndarray, np.generic, int, float, bool, complex))
        or hasattr(a, "__array__")):
      raise TypeError(f"{name} requires ndarray or scalar arguments, got {type(a).__name__} at "
                      f"position {i}.")


def _segment_update(name: str, data, segment_ids, op: str, num_segments, indices_are_sorted,
                    unique_indices, bucket_size, reducer: Callable, mode):
  _check_arraylike(name, data, segment_ids)
  mode = GatherScatterMode.FILL_OR_DROP if mode is None else GatherScatterMode.from_any(mode)
  data = jnp.asarray(data)
  segment_ids = jnp.asarray(segment_ids)
  dtype = data.dtype
  if dtype == np.bool_:
    if op in ("add", "multiply"):
      raise TypeError(f"{name} does not accept dtype bool: use an integer or float dtype")
    # max/min of booleans (any/all per segment) in uint8, exactly
    out = _segment_update(name, data.astype(np.uint8), segment_ids, op, num_segments,
                          indices_are_sorted, unique_indices, bucket_size, reducer, mode)
    return out.astype(np.bool_)
  if num_segments is None:
    if isinstance(segment_ids, core.Tracer):
      raise errors.ConcretizationTypeError(
          f"{name}: num_segments must be given when segment_ids is traced (under jit); "
          f"the error occurred for the {name}() `num_segments` argument.")
    num_segments = int(np.max(np.asarray(segment_ids))) + 1
  if isinstance(num_segments, core.Tracer):
    raise errors.ConcretizationTypeError(
        f"{name}: num_segments must be a concrete int, got a traced value. The error occurred "
        f"for the {name}() `num_segments` argument.")
  num_segments = operator.index(num_segments) if not isinstance(num_segments, (np.ndarray,)) \
      else int(num_segments)
  if num_segments < 0:
    raise ValueError("num_segments must be non-negative.")
  # JAX scatters without normalising negative ids: they are out of bounds
  # (dropped), or clipped to 0 under mode='clip'.
  if mode == GatherScatterMode.CLIP:
    ids = jnp.clip(segment_ids, 0, max(num_segments - 1, 0))
  else:
    ids = jnp.where(segment_ids < 0, num_segments, segment_ids)
    mode = GatherScatterMode.FILL_OR_DROP
  ident = _identity(op, dtype)
  scatter = _SCATTERS[op]
  n = segment_ids.shape[0] if segment_ids.ndim else 1
  ids = jnp.reshape(ids, (n,)).astype(np.int32)
  data = jnp.broadcast_to(data, (n,) + data.shape[1:]) if data.ndim else \
      jnp.broadcast_to(data, (n,))
  window = tuple(range(1, data.ndim))
  if bucket_size is None:
    out = jnp.full((num_segments,) + data.shape[1:], ident, dtype=dtype)
    if out.size == 0 or n == 0:
      return out
    dn = ScatterDimensionNumbers(update_window_dims=window, inserted_window_dims=(0,),
                                 scatter_dims_to_operand_dims=(0,))
    return scatter(out, ids[:, None], data, dn, indices_are_sorted=indices_are_sorted,
                   unique_indices=unique_indices, mode=mode)
  num_buckets = math.ceil(n / bucket_size)
  out = jnp.full((num_buckets, num_segments) + data.shape[1:], ident, dtype=dtype)
  if out.size and n:
    buckets = (jnp.arange(n) // bucket_size).astype(np.int32)
    dn = ScatterDimensionNumbers(update_window_dims=window, inserted_window_dims=(0, 1),
                                 scatter_dims_to_operand_dims=(0, 1))
    out = scatter(out, jnp.stack([buckets, ids], axis=-1), data, dn,
                  indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode)
  return reducer(out, axis=0).astype(dtype)


_SCATTERS = {"add": slicing.scatter_add, "multiply": slicing.scatter_mul,
             "max": slicing.scatter_max, "min": slicing.scatter_min}


def segment_sum(data, segment_ids, num_segments=None, indices_are_sorted=False,
                unique_indices=False, bucket_size=None, mode=None):
  """``out[s] = sum of data[i] with segment_ids[i] == s`` over ``data``'s
  leading axis; ids outside ``[0, num_segments)`` are dropped (or clipped
  with ``mode='clip'``). ``num_segments`` defaults to ``max(segment_ids) + 1``
  (and must be given under ``jit``). ``bucket_size`` sums in buckets of that
  many rows first, then adds the buckets."""
  return _segment_update("segment_sum", data, segment_ids, "add", num_segments,
                         indices_are_sorted, unique_indices, bucket_size, jnp.sum, mode)


def segment_prod(data, segment_ids, num_segments=None, indices_are_sorted=False,
                 unique_indices=False, bucket_size=None, mode=None):
  """The product of each segment's rows (1 for an empty segment); see
  :func:`segment_sum`."""
  return _segment_update("segment_prod", data, segment_ids, "multiply", num_segments,
                         indices_are_sorted, unique_indices, bucket_size, jnp.prod, mode)


def segment_max(data, segment_ids, num_segments=None, indices_are_sorted=False,
                unique_indices=False, bucket_size=None, mode=None):
  """The maximum of each segment's rows (-inf, or the dtype's minimum, for
  an empty segment); see :func:`segment_sum`."""
  return _segment_update("segment_max", data, segment_ids, "max", num_segments,
                         indices_are_sorted, unique_indices, bucket_size, jnp.max, mode)


def segment_min(data, segment_ids, num_segments=None, indices_are_sorted=False,
                unique_indices=False, bucket_size=None, mode=None):
  """The minimum of each segment's rows (inf, or the dtype's maximum, for an
  empty segment); see :func:`segment_sum`."""
  return _segment_update("segment_min", data, segment_ids, "min", num_segments,
                         indices_are_sorted, unique_indices, bucket_size, jnp.min, mode)
