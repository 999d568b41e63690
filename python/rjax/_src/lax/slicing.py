"""Slicing primitives: slice, dynamic_slice, dynamic_update_slice, gather,
scatter (and friends), each with all its rules."""
from __future__ import annotations

import builtins
import enum
from typing import NamedTuple, Sequence

import numpy as np

from rjax._src import core, dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import lowering
from rjax._src.lax import reference
from rjax._src.lax.lax import asarray_lax, standard_primitive
from rjax._src.lax.shapes import squeeze


def _ints(xs) -> tuple:
  return tuple(int(x) for x in xs)


# ---------------------------------------------------------------------------
# slice


def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
  n = x.ndim
  if len(start_indices) != n or len(limit_indices) != n or (strides is not None
                                                            and len(strides) != n):
    raise TypeError(f"slice: start_indices {start_indices}, limit_indices {limit_indices} and "
                    f"strides {strides} must have one entry per operand dimension "
                    f"(operand shape {x.shape})")
  st = strides or (1,) * n
  shape = []
  for d, (s, l, k, size) in enumerate(zip(start_indices, limit_indices, st, x.shape)):
    if not 0 <= s <= l <= size:
      raise TypeError(f"slice: start_indices {start_indices} and limit_indices {limit_indices} "
                      f"must satisfy 0 <= start <= limit <= shape for operand shape {x.shape}")
    if k < 1:
      raise TypeError(f"slice: strides must be positive, got {strides}")
    shape.append((l - s + k - 1) // k)
  return ShapedArray(shape, x.dtype, x.weak_type)


slice_p = standard_primitive("slice", _slice_abstract_eval)
reference.register(slice_p, lambda x, *, start_indices, limit_indices, strides: x[tuple(
    slice(s, l, k) for s, l, k in zip(start_indices, limit_indices,
                                       strides or (1,) * x.ndim))])


def slice(operand, start_indices: Sequence[int], limit_indices: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None):
  """``operand[start:limit:strides]`` with static bounds."""
  operand = asarray_lax(operand)
  st = None if strides is None else _ints(strides)
  if st is not None and all(k == 1 for k in st):
    st = None
  aval = core.get_aval(operand)
  s, l = _ints(start_indices), _ints(limit_indices)
  if st is None and all(a == 0 for a in s) and l == aval.shape:
    return operand
  return slice_p.bind(operand, start_indices=s, limit_indices=l, strides=st)


def slice_in_dim(operand, start_index: int | None, limit_index: int | None, stride: int = 1,
                 axis: int = 0):
  """``slice`` along one axis (negative and None bounds as in Python)."""
  operand = asarray_lax(operand)
  shape = core.get_aval(operand).shape
  axis = int(axis) % len(shape) if shape else int(axis)
  n = shape[axis]
  start = 0 if start_index is None else int(start_index)
  limit = n if limit_index is None else int(limit_index)
  start = start + n if start < 0 else start
  limit = limit + n if limit < 0 else limit
  s = [0] * len(shape)
  l = list(shape)
  k = [1] * len(shape)
  s[axis], l[axis], k[axis] = start, limit, int(stride)
  return slice(operand, s, l, k)


def index_in_dim(operand, index: int, axis: int = 0, keepdims: bool = True):
  """``operand`` at static ``index`` along ``axis``."""
  operand = asarray_lax(operand)
  shape = core.get_aval(operand).shape
  axis = int(axis) % len(shape)
  index = int(index)
  if not -shape[axis] <= index < shape[axis]:
    raise IndexError(f"index {index} is out of bounds for axis {axis} with size {shape[axis]}")
  index = index % shape[axis]
  out = slice_in_dim(operand, index, index + 1, 1, axis)
  return out if keepdims else squeeze(out, (axis,))


# ---------------------------------------------------------------------------
# dynamic_slice and dynamic_update_slice


def _check_index_scalars(name, idx, rank):
  if len(idx) != rank:
    raise TypeError(f"{name}: expected {rank} start indices (one per operand dimension), "
                    f"got {len(idx)}")
  for i in idx:
    if i.shape != () or not dtypes.is_int(i.dtype):
      raise TypeError(f"{name}: start indices must be integer scalars, got {i.str_short()}")


def _dynamic_slice_abstract_eval(x, *idx, slice_sizes):
  _check_index_scalars("dynamic_slice", idx, x.ndim)
  if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
    raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} must have one entry per operand "
                    f"dimension, each between 0 and the dimension (operand shape {x.shape})")
  return ShapedArray(slice_sizes, x.dtype, x.weak_type)


dynamic_slice_p = standard_primitive("dynamic_slice", _dynamic_slice_abstract_eval)


def _clamped_starts(idx, shape, sizes):
  return tuple(int(np.clip(int(i), 0, n - s)) for i, n, s in zip(idx, shape, sizes))


builtins_slice = builtins.slice


def _dynamic_slice_ref(x, *idx, slice_sizes):
  st = _clamped_starts(idx, x.shape, slice_sizes)
  return x[tuple(builtins_slice(s, s + k) for s, k in zip(st, slice_sizes))]

reference.register(dynamic_slice_p, _dynamic_slice_ref)


def _index_scalars(start_indices, rank):
  del rank
  out = []
  for i in start_indices:
    if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
      out.append(asarray_lax(np.int32(int(i)) if -2**31 <= int(i) < 2**31 else np.int64(int(i))))
    else:
      out.append(asarray_lax(i))
  return out


def dynamic_slice(operand, start_indices: Sequence, slice_sizes: Sequence[int]):
  """``operand[start:start+size]`` with traced starts, clamped so the slice fits."""
  operand = asarray_lax(operand)
  rank = core.get_aval(operand).ndim
  idx = _index_scalars(start_indices, rank)
  return dynamic_slice_p.bind(operand, *idx, slice_sizes=_ints(slice_sizes))


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0):
  operand = asarray_lax(operand)
  shape = core.get_aval(operand).shape
  axis = int(axis) % len(shape)
  starts = [0] * len(shape)
  starts[axis] = start_index
  sizes = list(shape)
  sizes[axis] = int(slice_size)
  return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True):
  operand = asarray_lax(operand)
  axis = int(axis) % core.get_aval(operand).ndim
  out = dynamic_slice_in_dim(operand, index, 1, axis)
  return out if keepdims else squeeze(out, (axis,))


def _dynamic_update_slice_abstract_eval(x, update, *idx):
  _check_index_scalars("dynamic_update_slice", idx, x.ndim)
  if update.dtype != x.dtype:
    raise TypeError(f"dynamic_update_slice: update dtype {update.dtype.name} must equal operand "
                    f"dtype {x.dtype.name}")
  if update.ndim != x.ndim or any(u > n for u, n in zip(update.shape, x.shape)):
    raise TypeError(f"dynamic_update_slice: update shape {update.shape} must have the operand's "
                    f"rank and fit in operand shape {x.shape}")
  return x


dynamic_update_slice_p = standard_primitive("dynamic_update_slice",
                                            _dynamic_update_slice_abstract_eval)


def _dynamic_update_slice_ref(x, update, *idx):
  st = _clamped_starts(idx, x.shape, update.shape)
  out = np.array(x, copy=True)
  out[tuple(builtins_slice(s, s + k) for s, k in zip(st, update.shape))] = update
  return out


reference.register(dynamic_update_slice_p, _dynamic_update_slice_ref)


def dynamic_update_slice(operand, update, start_indices: Sequence):
  """``operand`` with ``update`` written at ``start_indices`` (clamped to fit)."""
  operand = asarray_lax(operand)
  update = asarray_lax(update)
  idx = _index_scalars(start_indices, core.get_aval(operand).ndim)
  return dynamic_update_slice_p.bind(operand, update, *idx)


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int):
  operand = asarray_lax(operand)
  axis = int(axis) % core.get_aval(operand).ndim
  starts = [0] * core.get_aval(operand).ndim
  starts[axis] = start_index
  return dynamic_update_slice(operand, update, starts)


def dynamic_update_index_in_dim(operand, update, index, axis: int):
  operand = asarray_lax(operand)
  axis = int(axis) % core.get_aval(operand).ndim
  update = asarray_lax(update)
  if core.get_aval(update).ndim == core.get_aval(operand).ndim - 1:
    from rjax._src.lax.shapes import expand_dims
    update = expand_dims(update, (axis,))
  return dynamic_update_slice_in_dim(operand, update, index, axis)


# ---------------------------------------------------------------------------
# gather and scatter


class GatherScatterMode(enum.Enum):
  CLIP = 1
  FILL_OR_DROP = 2
  PROMISE_IN_BOUNDS = 3
  ONE_HOT = 4

  @staticmethod
  def from_any(s) -> "GatherScatterMode":
    if isinstance(s, GatherScatterMode):
      return s
    if s == "clip":
      return GatherScatterMode.CLIP
    if s is None or s == "fill" or s == "drop":
      return GatherScatterMode.FILL_OR_DROP
    if s == "promise_in_bounds":
      return GatherScatterMode.PROMISE_IN_BOUNDS
    if s == "one_hot":
      return GatherScatterMode.ONE_HOT
    raise ValueError(f"Unknown gather mode {s!r}")

  def __repr__(self):
    return f"GatherScatterMode.{self.name}"

  __str__ = __repr__


_RUST_MODE = {GatherScatterMode.CLIP: "clip", GatherScatterMode.FILL_OR_DROP: "fill",
              GatherScatterMode.PROMISE_IN_BOUNDS: "promise_in_bounds",
              GatherScatterMode.ONE_HOT: "fill"}


class GatherDimensionNumbers(NamedTuple):
  offset_dims: tuple[int, ...]
  collapsed_slice_dims: tuple[int, ...]
  start_index_map: tuple[int, ...]
  operand_batching_dims: tuple[int, ...] = ()
  start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
  update_window_dims: tuple[int, ...]
  inserted_window_dims: tuple[int, ...]
  scatter_dims_to_operand_dims: tuple[int, ...]
  operand_batching_dims: tuple[int, ...] = ()
  scatter_indices_batching_dims: tuple[int, ...] = ()


def _sorted_unique(name, what, dims, bound):
  if list(dims) != sorted(set(dims)) or any(not 0 <= d < bound for d in dims):
    raise TypeError(f"{name}: {what} {tuple(dims)} must be sorted, unique and in [0, {bound})")


def _check_indices(name, indices, nk_name, k):
  if not dtypes.is_int(indices.dtype):
    raise TypeError(f"{name}: indices must have an integer dtype, got {indices.dtype.name}")
  if indices.ndim < 1:
    raise TypeError(f"{name}: indices must have at least one dimension (the index vector, last)")
  if indices.shape[-1] != k:
    raise TypeError(f"{name}: {nk_name} has {k} entries but the index vector (last dimension "
                    f"of indices shape {indices.shape}) has {indices.shape[-1]}")


def _gather_abstract_eval(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
                          unique_indices, mode, fill_value):
  dn = dimension_numbers
  _check_indices("gather", indices, "start_index_map", len(dn.start_index_map))
  r = operand.ndim
  if len(slice_sizes) != r:
    raise TypeError(f"gather: slice_sizes {slice_sizes} must have one entry per operand "
                    f"dimension (operand shape {operand.shape})")
  for i, (s, n) in enumerate(zip(slice_sizes, operand.shape)):
    if not 0 <= s <= n:
      raise TypeError(f"gather: slice size {s} at position {i} must be between 0 and the operand "
                      f"dimension {n} (operand shape {operand.shape})")
  _sorted_unique("gather", "collapsed_slice_dims", dn.collapsed_slice_dims, r)
  _sorted_unique("gather", "operand_batching_dims", dn.operand_batching_dims, r)
  if len(set(dn.start_index_map)) != len(dn.start_index_map) or any(
      not 0 <= d < r for d in dn.start_index_map):
    raise TypeError(f"gather: start_index_map {dn.start_index_map} must be unique operand dims")
  for d in dn.collapsed_slice_dims + dn.operand_batching_dims:
    if slice_sizes[d] > 1:
      raise TypeError(f"gather: can only collapse slice dims with bound 1, but bound is "
                      f"{slice_sizes[d]} for dimension {d}")
  if set(dn.collapsed_slice_dims) & set(dn.operand_batching_dims):
    raise TypeError("gather: collapsed_slice_dims and operand_batching_dims must be disjoint")
  if len(dn.operand_batching_dims) != len(dn.start_indices_batching_dims):
    raise TypeError("gather: operand_batching_dims and start_indices_batching_dims must have the "
                    "same length")
  batch_shape = indices.shape[:-1]
  for od, idim in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
    if not 0 <= idim < len(batch_shape) or operand.shape[od] != batch_shape[idim]:
      raise TypeError(f"gather: operand batching dim {od} and indices batching dim {idim} "
                      f"must exist and have equal sizes")
  wdims = [d for d in range(r)
           if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
  out_rank = len(batch_shape) + len(wdims)
  if len(dn.offset_dims) != len(wdims):
    raise TypeError(f"gather: offset_dims {dn.offset_dims} must have one entry per window "
                    f"dimension ({len(wdims)})")
  _sorted_unique("gather", "offset_dims", dn.offset_dims, out_rank)
  shape, b, w = [], iter(batch_shape), iter(wdims)
  for d in range(out_rank):
    shape.append(slice_sizes[next(w)] if d in dn.offset_dims else next(b))
  return ShapedArray(shape, operand.dtype, operand.weak_type)


def _gather_fill(dtype, fill_value):
  if fill_value is not None:
    return fill_value
  if dtypes.is_float(dtype):
    return float("nan")
  if dtypes.is_signed(dtype):
    return int(np.iinfo(dtype).min)
  if dtypes.is_unsigned(dtype):
    return int(np.iinfo(dtype).max)
  return 1


def _gather_params(avals_in, avals_out, *, dimension_numbers, slice_sizes, mode, fill_value,
                   **_):
  p = dict(dimension_numbers._asdict())
  p.update(slice_sizes=slice_sizes, mode=_RUST_MODE[mode],
           fill_value=_gather_fill(avals_in[0].dtype, fill_value))
  return p


gather_p = standard_primitive("gather", _gather_abstract_eval, lower=False)
lowering.register_standard(gather_p, param_fn=_gather_params)


def _gather_ref(operand, indices, *, dimension_numbers, slice_sizes, mode, fill_value, **_):
  """Loop over index vectors (slow; tests only)."""
  dn = dimension_numbers
  aval = _gather_abstract_eval(ShapedArray(operand.shape, operand.dtype),
                               ShapedArray(indices.shape, indices.dtype),
                               dimension_numbers=dn, slice_sizes=slice_sizes,
                               indices_are_sorted=False, unique_indices=False, mode=mode,
                               fill_value=fill_value)
  out = np.empty(aval.shape, operand.dtype)
  r = operand.ndim
  wdims = [d for d in range(r)
           if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
  bdims_out = [d for d in range(out.ndim) if d not in dn.offset_dims]
  fill = _gather_fill(operand.dtype, fill_value)
  for bidx in np.ndindex(*indices.shape[:-1]):
    start = [0] * r
    oob = False
    for k, d in enumerate(dn.start_index_map):
      v = int(indices[bidx + (k,)])
      hi = operand.shape[d] - slice_sizes[d]
      if mode == GatherScatterMode.FILL_OR_DROP and not 0 <= v <= hi:
        oob = True
      start[d] = min(max(v, 0), hi)
    for od, idim in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
      start[od] = bidx[idim]
    for widx in np.ndindex(*[slice_sizes[d] for d in wdims]):
      o = [0] * out.ndim
      for d, v in zip(bdims_out, bidx):
        o[d] = v
      src = list(start)
      for d, od, v in zip(dn.offset_dims, wdims, widx):
        o[d] = v
        src[od] += v
      out[tuple(o)] = fill if oob else operand[tuple(src)]
  return out


reference.register(gather_p, _gather_ref)


def gather(operand, start_indices, dimension_numbers: GatherDimensionNumbers,
           slice_sizes: Sequence[int], *, indices_are_sorted: bool = False,
           unique_indices: bool = False, mode=None, fill_value=None):
  """XLA's gather with JAX's dimension numbers (index vector = last dim)."""
  operand = asarray_lax(operand)
  start_indices = asarray_lax(start_indices)
  dn = GatherDimensionNumbers(*(_ints(f) for f in dimension_numbers))
  return gather_p.bind(operand, start_indices, dimension_numbers=dn,
                       slice_sizes=_ints(slice_sizes),
                       indices_are_sorted=bool(indices_are_sorted),
                       unique_indices=bool(unique_indices),
                       mode=GatherScatterMode.from_any(mode), fill_value=fill_value)


def _scatter_abstract_eval(name, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted, unique_indices, mode, update_jaxpr,
                           update_consts):
  dn = dimension_numbers
  _check_indices(name, indices, "scatter_dims_to_operand_dims",
                 len(dn.scatter_dims_to_operand_dims))
  if updates.dtype != operand.dtype:
    raise TypeError(f"{name}: updates dtype {updates.dtype.name} must equal operand dtype "
                    f"{operand.dtype.name}")
  if name != "scatter" and dtypes.is_bool(operand.dtype):
    raise TypeError(f"{name} does not accept dtype bool")
  r = operand.ndim
  _sorted_unique(name, "inserted_window_dims", dn.inserted_window_dims, r)
  _sorted_unique(name, "operand_batching_dims", dn.operand_batching_dims, r)
  _sorted_unique(name, "update_window_dims", dn.update_window_dims, updates.ndim)
  if len(set(dn.scatter_dims_to_operand_dims)) != len(dn.scatter_dims_to_operand_dims) or any(
      not 0 <= d < r for d in dn.scatter_dims_to_operand_dims):
    raise TypeError(f"{name}: scatter_dims_to_operand_dims {dn.scatter_dims_to_operand_dims} "
                    "must be unique operand dims")
  if len(dn.operand_batching_dims) != len(dn.scatter_indices_batching_dims):
    raise TypeError(f"{name}: operand_batching_dims and scatter_indices_batching_dims must have "
                    "the same length")
  wdims = [d for d in range(r)
           if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
  if len(wdims) != len(dn.update_window_dims):
    raise TypeError(f"{name}: update_window_dims {dn.update_window_dims} must have one entry per "
                    f"operand window dimension ({len(wdims)})")
  batch_shape = indices.shape[:-1]
  scatter_shape = tuple(n for d, n in enumerate(updates.shape) if d not in dn.update_window_dims)
  if scatter_shape != batch_shape:
    raise TypeError(f"{name}: updates shape {updates.shape} does not match indices shape "
                    f"{indices.shape} (scatter dims {scatter_shape} != {batch_shape})")
  for od, ud in zip(wdims, dn.update_window_dims):
    if updates.shape[ud] > operand.shape[od]:
      raise TypeError(f"{name}: update window dim {ud} (size {updates.shape[ud]}) is larger than "
                      f"operand dim {od} (size {operand.shape[od]})")
  for od, idim in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
    if not 0 <= idim < len(batch_shape) or operand.shape[od] != batch_shape[idim]:
      raise TypeError(f"{name}: operand batching dim {od} and indices batching dim {idim} must "
                      "exist and have equal sizes")
  return operand


def _scatter_params(avals_in, avals_out, *, dimension_numbers, mode, **_):
  p = dict(dimension_numbers._asdict())
  p["mode"] = _RUST_MODE[mode]
  return p


def _scatter_ref(combine, operand, indices, updates, *, dimension_numbers, mode, **_):
  dn = dimension_numbers
  out = np.array(operand, copy=True)
  r = operand.ndim
  wdims = [d for d in range(r)
           if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
  sdims = [d for d in range(updates.ndim) if d not in dn.update_window_dims]
  wshape = [updates.shape[d] for d in dn.update_window_dims]
  window = [1] * r
  for od, n in zip(wdims, wshape):
    window[od] = n
  for bidx in np.ndindex(*indices.shape[:-1]):
    start = [0] * r
    oob = False
    for k, d in enumerate(dn.scatter_dims_to_operand_dims):
      v = int(indices[bidx + (k,)])
      hi = operand.shape[d] - window[d]
      if mode != GatherScatterMode.CLIP and not 0 <= v <= hi:
        oob = True
      start[d] = min(max(v, 0), hi)
    if oob:
      continue
    for od, idim in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
      start[od] = bidx[idim]
    for widx in np.ndindex(*wshape):
      u = [0] * updates.ndim
      for d, v in zip(sdims, bidx):
        u[d] = v
      dst = list(start)
      for d, od, v in zip(dn.update_window_dims, wdims, widx):
        u[d] = v
        dst[od] += v
      out[tuple(dst)] = combine(out[tuple(dst)], updates[tuple(u)])
  return out


def _make_scatter(name, combine):
  p = standard_primitive(name, lambda *a, **k: _scatter_abstract_eval(name, *a, **k),
                         lower=False)
  lowering.register_standard(p, param_fn=_scatter_params)
  reference.register(p, lambda *a, **k: _scatter_ref(combine, *a, **k))

  def bind(operand, scatter_indices, updates, dimension_numbers: ScatterDimensionNumbers, *,
           indices_are_sorted: bool = False, unique_indices: bool = False, mode=None):
    operand = asarray_lax(operand)
    scatter_indices = asarray_lax(scatter_indices)
    updates = asarray_lax(updates)
    dn = ScatterDimensionNumbers(*(_ints(f) for f in dimension_numbers))
    return p.bind(operand, scatter_indices, updates, dimension_numbers=dn,
                  indices_are_sorted=bool(indices_are_sorted),
                  unique_indices=bool(unique_indices), mode=GatherScatterMode.from_any(mode),
                  update_jaxpr=None, update_consts=())

  bind.__name__ = name.replace("-", "_")
  bind.__doc__ = f"XLA's {name} with JAX's dimension numbers (index vector = last dim)."
  return p, bind


scatter_p, scatter = _make_scatter("scatter", lambda a, u: u)
scatter_add_p, scatter_add = _make_scatter("scatter-add", lambda a, u: a + u)
scatter_mul_p, scatter_mul = _make_scatter("scatter-mul", lambda a, u: a * u)
scatter_min_p, scatter_min = _make_scatter("scatter-min", lambda a, u: np.minimum(a, u))
scatter_max_p, scatter_max = _make_scatter("scatter-max", lambda a, u: np.maximum(a, u))

__all__ = ["slice", "slice_in_dim", "index_in_dim", "dynamic_slice", "dynamic_slice_in_dim",
           "dynamic_index_in_dim", "dynamic_update_slice", "dynamic_update_slice_in_dim",
           "dynamic_update_index_in_dim", "gather", "scatter", "scatter_add", "scatter_mul",
           "scatter_min", "scatter_max", "GatherDimensionNumbers", "ScatterDimensionNumbers",
           "GatherScatterMode"]
