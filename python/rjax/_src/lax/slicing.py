"""Slicing primitives: slice, dynamic_slice, dynamic_update_slice, gather and
the scatters, each one block with all its rules.

Start indices are never differentiable (their tangents are symbolic zeros and
transpose rules get them as known values). Batching rules put the batch dim
where the operation can absorb it (one more window dim, or an
operand/indices batching dim pair) instead of moving it to the front.
"""
from __future__ import annotations

import builtins
import enum
import operator
from typing import NamedTuple, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lowering, reference
# The rules here pad, broadcast and select (shape and elementwise ops), whose
# own rules slice: the lax modules import each other as modules.
from rjax._src.lax import lax, shapes
from rjax._src.lax.utils import _scalar_like, asarray_lax, export, standard_primitive
from rjax._src.runtime.array import Array, from_scalar


builtins_slice = builtins.slice  # (this module defines lax's ``slice``)


def _ints(xs) -> tuple:
  return tuple(int(x) for x in xs)


def _full(shape, v, dtype):
  s = from_scalar(v, dtype)
  return shapes.broadcast_in_dim(s, tuple(shape), ()) if len(shape) else s


def _zeros(shape, dtype):
  return _full(shape, 0, dtype)


def _ones(shape, dtype):
  return _full(shape, 1, dtype)


def _no_ct_for_indices(name, idx):
  if any(ad.is_undefined_primal(i) for i in idx):
    raise ValueError(f"{name}: start indices are not differentiable (transpose with respect to "
                     "an index is undefined)")


def _clip(v, lo, hi):
  return min(max(v, lo), hi)


def _insert(xs, pos, v):
  xs = list(xs)
  xs.insert(pos, v)
  return tuple(xs)


def _shift(dims, at):
  """Dimension numbers after inserting a new dim at ``at``."""
  return tuple(d + (d >= at) for d in dims)


# ---------------------------------------------------------------------------
# slice: linear; the transpose pads the cotangent back with zeros (the strided
# gaps by interior padding).


def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
  n = x.ndim
  if len(start_indices) != n or len(limit_indices) != n or (strides is not None
                                                            and len(strides) != n):
    raise ValueError(f"slice: start_indices {start_indices}, limit_indices {limit_indices} and "
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


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval)]
  st = strides or (1,) * x.aval.ndim
  cfg = []
  for s, n, k, m in zip(start_indices, x.aval.shape, st, core.get_aval(ct).shape):
    real_limit = s + (1 + (m - 1) * k if m else 0)
    cfg.append((s, n - real_limit, k - 1))
  return [shapes.pad(ct, _zeros((), core.get_aval(ct).dtype), cfg)]


def _slice_batch(vals, dims, *, start_indices, limit_indices, strides):
  (x,), (d,) = vals, dims
  n = core.get_aval(x).shape[d]
  st = None if strides is None else _insert(strides, d, 1)
  return slice_p.bind(x, start_indices=_insert(start_indices, d, 0),
                      limit_indices=_insert(limit_indices, d, n), strides=st), d


slice_p = standard_primitive("slice", _slice_abstract_eval)
ad.deflinear(slice_p, _slice_transpose)
batching.primitive_batchers[slice_p] = _slice_batch
reference.register(slice_p, lambda x, *, start_indices, limit_indices, strides: x[tuple(
    builtins_slice(s, l, k) for s, l, k in zip(start_indices, limit_indices,
                                                strides or (1,) * x.ndim))])


@export
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


@export
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


@export
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
  return out if keepdims else shapes.squeeze(out, (axis,))


# ---------------------------------------------------------------------------
# dynamic_slice: linear in the operand; the transpose writes the cotangent into
# zeros at the same (clamped) place.


def _check_index_scalars(name, idx, rank):
  if len(idx) != rank:
    raise ValueError(f"{name}: expected {rank} start indices (one per operand dimension), "
                    f"got {len(idx)}")
  for i in idx:
    if i.shape != () or not dtypes.is_int(i.dtype):
      raise TypeError(f"{name}: start indices must be integer scalars, got {i.str_short()}")


def _clamped_starts(idx, shape, sizes):
  return tuple(int(np.clip(int(i), 0, n - s)) for i, n, s in zip(idx, shape, sizes))


def _index_scalars(start_indices, rank):
  del rank
  out = []
  for i in start_indices:
    if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
      out.append(asarray_lax(np.int32(int(i)) if -2**31 <= int(i) < 2**31 else np.int64(int(i))))
    else:
      out.append(asarray_lax(i))
  return out


def _dynamic_slice_indices(name, shape, start_indices, allow_negative_indices):
  """JAX's start indices: one per dimension; a negative one counts from the
  end (``i + d``; traced ones through ``select``), then the op clamps it."""
  if not isinstance(start_indices, (list, tuple)):
    si = asarray_lax(start_indices)
    if core.get_aval(si).ndim != 1:
      raise ValueError(f"{name}: slice indices must be a 1D sequence, got "
                       f"{core.get_aval(si).shape}")
    start_indices = [index_in_dim(si, k, 0, keepdims=False)
                     for k in range(core.get_aval(si).shape[0])]
  if len(start_indices) != len(shape):
    raise ValueError(f"{name}: length of slice indices must match number of operand dimensions "
                     f"({len(start_indices)} vs {tuple(shape)})")
  allow = [allow_negative_indices] * len(shape) if isinstance(allow_negative_indices, bool) \
      else list(allow_negative_indices)
  out = []
  for i, d, neg_ok in zip(_index_scalars(start_indices, len(shape)), shape, allow):
    aval = core.get_aval(i)
    if aval.shape != () or not dtypes.is_int(aval.dtype):
      raise TypeError(f"{name}: start indices must be integer scalars, got {aval.str_short()}")
    if dtypes.is_unsigned(aval.dtype) or not neg_ok:
      out.append(i)
      continue
    if isinstance(i, Array) and not isinstance(i, core.Tracer):
      v = int(i)
      out.append(i if v >= 0 else lax.convert_element_type(asarray_lax(v + d), aval.dtype))
      continue
    d_i = int(np.asarray(d).astype(aval.dtype))   # (the size in the index dtype, wrapped, as JAX)
    out.append(lax.select(lax.lt(i, _scalar_like(0, i)), lax.add(i, _scalar_like(d_i, i)), i))
  return out


def _axis_index(axis, ndim, name):
  axis = operator.index(axis)
  if not -ndim <= axis < ndim:
    raise IndexError(f"{name}: axis {axis} is out of range for an operand of rank {ndim}")
  return axis % ndim


def _index_zero(idx):
  """A literal 0 start index (of the other indices' dtype)."""
  return _zeros((), core.get_aval(idx[0]).dtype if idx else dtypes.int32)


def _batched_index_vector(idx, dims, size):
  """Scalar start indices (some batched) -> one ``(size, len(idx))`` index
  array batched at 0 (JAX's ``_batch_dynamic_slice_indices``)."""
  dts = {core.get_aval(i).dtype for i in idx}
  dt = dts.pop() if len(dts) == 1 else (
      dtypes.canonicalize_dtype(np.int64) if any(d.itemsize == 8 for d in dts) else dtypes.int32)
  cols = []
  for i, d in zip(idx, dims):
    i = lax.convert_element_type(i, dt)
    cols.append(shapes.broadcast_in_dim(i, (size, 1), (0,) if d is not None else ()))
  return shapes.concatenate(cols, 1)


def _dynamic_slice_abstract_eval(x, *idx, slice_sizes):
  _check_index_scalars("dynamic_slice", idx, x.ndim)
  if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
    raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} must have one entry per operand "
                    f"dimension, each between 0 and the dimension (operand shape {x.shape})")
  return ShapedArray(slice_sizes, x.dtype, x.weak_type)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
  x, *idx = primals
  out = dynamic_slice_p.bind(x, *idx, slice_sizes=slice_sizes)
  if isinstance(tangents[0], ad.Zero):
    return out, ad.Zero.from_value(out)
  return out, dynamic_slice_p.bind(tangents[0], *idx, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, x, *idx, slice_sizes):
  _no_ct_for_indices("dynamic_slice", idx)
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval)] + [None] * len(idx)
  zeros = _zeros(x.aval.shape, core.get_aval(ct).dtype)
  return [dynamic_update_slice_p.bind(zeros, ct, *idx)] + [None] * len(idx)


def _dynamic_slice_batch(vals, dims, *, slice_sizes):
  x, *idx = vals
  dx, *didx = dims
  if all(d is None for d in didx):
    # Only the operand is batched: slice the whole batch dim too (no gather).
    n = core.get_aval(x).shape[dx]
    idx = list(idx)
    idx.insert(dx, _index_zero(idx))
    return dynamic_slice_p.bind(x, *idx, slice_sizes=_insert(slice_sizes, dx, n)), dx
  size = next(core.get_aval(i).shape[d] for i, d in zip(idx, didx) if d is not None)
  index = _batched_index_vector(idx, didx, size)
  r = len(idx)
  dn = GatherDimensionNumbers(offset_dims=tuple(range(r)), collapsed_slice_dims=(),
                              start_index_map=tuple(range(r)))
  return _gather_batch([x, index], [dx, 0], dimension_numbers=dn,
                       slice_sizes=tuple(slice_sizes), indices_are_sorted=True,
                       unique_indices=True, mode=GatherScatterMode.CLIP, fill_value=None)


def _dynamic_slice_ref(x, *idx, slice_sizes):
  st = _clamped_starts(idx, x.shape, slice_sizes)
  return x[tuple(builtins_slice(s, s + k) for s, k in zip(st, slice_sizes))]


dynamic_slice_p = standard_primitive("dynamic_slice", _dynamic_slice_abstract_eval)
ad.primitive_jvps[dynamic_slice_p] = _dynamic_slice_jvp
ad.primitive_transposes[dynamic_slice_p] = _dynamic_slice_transpose
batching.primitive_batchers[dynamic_slice_p] = _dynamic_slice_batch
reference.register(dynamic_slice_p, _dynamic_slice_ref)


@export
def dynamic_slice(operand, start_indices: Sequence, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True):
  """``operand[start:start+size]`` with traced starts: a negative start counts
  from the end, then the start is clamped so the slice fits (as JAX)."""
  operand = asarray_lax(operand)
  idx = _dynamic_slice_indices("dynamic_slice", core.get_aval(operand).shape, start_indices,
                               allow_negative_indices)
  return dynamic_slice_p.bind(operand, *idx, slice_sizes=_ints(slice_sizes))


@export
def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True):
  operand = asarray_lax(operand)
  shape = core.get_aval(operand).shape
  axis = _axis_index(axis, len(shape), "dynamic_slice_in_dim")
  starts = [0] * len(shape)
  starts[axis] = start_index
  sizes = list(shape)
  sizes[axis] = int(slice_size)
  return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow_negative_indices)


@export
def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True):
  operand = asarray_lax(operand)
  axis = _axis_index(axis, core.get_aval(operand).ndim, "dynamic_index_in_dim")
  out = dynamic_slice_in_dim(operand, index, 1, axis,
                             allow_negative_indices=allow_negative_indices)
  return out if keepdims else shapes.squeeze(out, (axis,))


# ---------------------------------------------------------------------------
# dynamic_update_slice: linear in (operand, update) jointly.


def _dynamic_update_slice_abstract_eval(x, update, *idx):
  _check_index_scalars("dynamic_update_slice", idx, x.ndim)
  if update.dtype != x.dtype:
    raise TypeError(f"dynamic_update_slice: update dtype {update.dtype.name} must equal operand "
                    f"dtype {x.dtype.name}")
  if update.ndim != x.ndim or any(u > n for u, n in zip(update.shape, x.shape)):
    raise TypeError(f"dynamic_update_slice: update shape {update.shape} must have the operand's "
                    f"rank and fit in operand shape {x.shape}")
  return x


def _dynamic_update_slice_jvp(primals, tangents):
  x, u, *idx = primals
  tx, tu = tangents[:2]
  out = dynamic_update_slice_p.bind(x, u, *idx)
  if isinstance(tx, ad.Zero) and isinstance(tu, ad.Zero):
    return out, ad.Zero.from_value(out)
  return out, dynamic_update_slice_p.bind(ad.instantiate_zeros(tx), ad.instantiate_zeros(tu),
                                          *idx)


def _dynamic_update_slice_transpose(ct, x, u, *idx):
  _no_ct_for_indices("dynamic_update_slice", idx)
  ux, uu = ad.is_undefined_primal(x), ad.is_undefined_primal(u)
  u_aval = u.aval if uu else core.get_aval(u)
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval) if ux else None, ad.Zero(u_aval) if uu else None] + \
        [None] * len(idx)
  dt = core.get_aval(ct).dtype
  ct_x = dynamic_update_slice_p.bind(ct, _zeros(u_aval.shape, dt), *idx) if ux else None
  ct_u = dynamic_slice_p.bind(ct, *idx, slice_sizes=tuple(u_aval.shape)) if uu else None
  return [ct_x, ct_u] + [None] * len(idx)


def _dynamic_update_slice_batch(vals, dims):
  x, u, *idx = vals
  dx, du, *didx = dims
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  if all(d is None for d in didx):
    # Unbatched indices: the batch dim is one more (full) window dim.
    d = dx if dx is not None else du
    x = batching.matchaxis(x, dx, d, size)
    u = batching.matchaxis(u, du, d, size)
    idx = list(idx)
    idx.insert(d, _index_zero(idx))
    return dynamic_update_slice_p.bind(x, u, *idx), d
  index = _batched_index_vector(idx, didx, size)
  r = len(idx)
  dn = ScatterDimensionNumbers(update_window_dims=tuple(range(r)), inserted_window_dims=(),
                               scatter_dims_to_operand_dims=tuple(range(r)))
  return _scatter_batch(scatter_p, [x, index, u], [dx, 0, du], dimension_numbers=dn,
                        indices_are_sorted=True, unique_indices=True,
                        mode=GatherScatterMode.CLIP, update_jaxpr=None, update_consts=())


def _dynamic_update_slice_ref(x, update, *idx):
  st = _clamped_starts(idx, x.shape, update.shape)
  out = np.array(x, copy=True)
  out[tuple(builtins_slice(s, s + k) for s, k in zip(st, update.shape))] = update
  return out


dynamic_update_slice_p = standard_primitive("dynamic_update_slice",
                                            _dynamic_update_slice_abstract_eval)
ad.primitive_jvps[dynamic_update_slice_p] = _dynamic_update_slice_jvp
ad.primitive_transposes[dynamic_update_slice_p] = _dynamic_update_slice_transpose
batching.primitive_batchers[dynamic_update_slice_p] = _dynamic_update_slice_batch
reference.register(dynamic_update_slice_p, _dynamic_update_slice_ref)


@export
def dynamic_update_slice(operand, update, start_indices: Sequence, *,
                         allow_negative_indices: bool | Sequence[bool] = True):
  """``operand`` with ``update`` written at ``start_indices`` (a negative start
  counts from the end; then clamped so the update fits)."""
  operand = asarray_lax(operand)
  update = asarray_lax(update)
  idx = _dynamic_slice_indices("dynamic_update_slice", core.get_aval(operand).shape,
                               start_indices, allow_negative_indices)
  return dynamic_update_slice_p.bind(operand, update, *idx)


@export
def dynamic_update_slice_in_dim(operand, update, start_index, axis: int, *,
                                allow_negative_indices: bool = True):
  operand = asarray_lax(operand)
  axis = _axis_index(axis, core.get_aval(operand).ndim, "dynamic_update_slice_in_dim")
  starts = [0] * core.get_aval(operand).ndim
  starts[axis] = start_index
  return dynamic_update_slice(operand, update, starts,
                              allow_negative_indices=allow_negative_indices)


@export
def dynamic_update_index_in_dim(operand, update, index, axis: int, *,
                                allow_negative_indices: bool = True):
  operand = asarray_lax(operand)
  axis = _axis_index(axis, core.get_aval(operand).ndim, "dynamic_update_index_in_dim")
  update = asarray_lax(update)
  if core.get_aval(update).ndim == core.get_aval(operand).ndim - 1:
    update = shapes.expand_dims(update, (axis,))
  return dynamic_update_slice_in_dim(operand, update, index, axis,
                                     allow_negative_indices=allow_negative_indices)


# ---------------------------------------------------------------------------
# gather and scatter: what they share


@export
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


@export
class GatherDimensionNumbers(NamedTuple):
  offset_dims: tuple[int, ...]
  collapsed_slice_dims: tuple[int, ...]
  start_index_map: tuple[int, ...]
  operand_batching_dims: tuple[int, ...] = ()
  start_indices_batching_dims: tuple[int, ...] = ()


@export
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


def _gather_to_scatter_dn(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
  return ScatterDimensionNumbers(
      update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
      scatter_dims_to_operand_dims=dn.start_index_map,
      operand_batching_dims=dn.operand_batching_dims,
      scatter_indices_batching_dims=dn.start_indices_batching_dims)


def _scatter_to_gather_dn(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
  return GatherDimensionNumbers(
      offset_dims=dn.update_window_dims, collapsed_slice_dims=dn.inserted_window_dims,
      start_index_map=dn.scatter_dims_to_operand_dims,
      operand_batching_dims=dn.operand_batching_dims,
      start_indices_batching_dims=dn.scatter_indices_batching_dims)


def _scatter_slice_sizes(operand_shape, updates_shape, dn: ScatterDimensionNumbers) -> tuple:
  """The slice sizes of the gather that reads back what a scatter writes."""
  sizes, w = [], iter(dn.update_window_dims)
  for d in range(len(operand_shape)):
    if d in dn.inserted_window_dims or d in dn.operand_batching_dims:
      sizes.append(1)
    else:
      sizes.append(updates_shape[next(w)])
  return tuple(sizes)


def _indices_bdim_not_last(i, di):
  """Batched indices keep their index vector last: a batch dim after it moves
  just before it."""
  nd = core.get_aval(i).ndim
  if di == nd - 1:
    return batching.moveaxis(i, di, nd - 2), nd - 2
  return i, di


def _readback(operand_shape, updates_shape, x, i, dn, mode, fill_value=None):
  """The gather that reads, at each update's place, what the scatter wrote."""
  return gather_p.bind(x, i, dimension_numbers=_scatter_to_gather_dn(dn),
                       slice_sizes=_scatter_slice_sizes(operand_shape, updates_shape, dn),
                       indices_are_sorted=False, unique_indices=False, mode=mode,
                       fill_value=fill_value)


# ---------------------------------------------------------------------------
# gather: linear in the operand; the transpose scatter-adds into zeros with the
# same dimension numbers.


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


def _gather_jvp(g, x, i, *, dimension_numbers, slice_sizes, indices_are_sorted,
                unique_indices, mode, fill_value):
  # out-of-bounds (filled) entries have zero tangents
  return gather_p.bind(g, i, dimension_numbers=dimension_numbers, slice_sizes=slice_sizes,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                       mode=mode, fill_value=0)


def _gather_transpose(ct, x, i, *, dimension_numbers, slice_sizes, indices_are_sorted,
                      unique_indices, mode, fill_value):
  _no_ct_for_indices("gather", (i,))
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval), None]
  zeros = _zeros(x.aval.shape, core.get_aval(ct).dtype)
  return [scatter_add_p.bind(zeros, i, ct, dimension_numbers=_gather_to_scatter_dn(
      dimension_numbers), indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
      mode=mode, update_jaxpr=None, update_consts=()), None]


def _gather_batch(vals, dims, *, dimension_numbers, slice_sizes, indices_are_sorted,
                  unique_indices, mode, fill_value):
  (x, i), (dx, di) = vals, dims
  dn = dimension_numbers
  xshape = core.get_aval(x).shape
  params = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
                fill_value=fill_value)
  r = len(slice_sizes)  # unbatched operand rank
  out_rank = len(core.get_aval(i).shape) - (di is not None) - 1 + len(dn.offset_dims)
  if di is None:
    # The operand's batch dim becomes one more window dim (its full size).
    wdims = [d for d in range(r)
             if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    k = sum(1 for w in wdims if w < dx)  # its rank among the window dims
    od = dn.offset_dims
    lo = od[k - 1] + 1 if k else 0
    hi = od[k] if k < len(od) else out_rank
    p = _clip(dx, lo, hi)
    new = GatherDimensionNumbers(
        offset_dims=od[:k] + (p,) + tuple(o + 1 for o in od[k:]),
        collapsed_slice_dims=_shift(dn.collapsed_slice_dims, dx),
        start_index_map=_shift(dn.start_index_map, dx),
        operand_batching_dims=_shift(dn.operand_batching_dims, dx),
        start_indices_batching_dims=dn.start_indices_batching_dims)
    return gather_p.bind(x, i, dimension_numbers=new, slice_sizes=_insert(
        slice_sizes, dx, xshape[dx]), **params), p
  i, di = _indices_bdim_not_last(i, di)
  # The indices' batch dim is the di-th batch dim of the output.
  nb = [d for d in range(out_rank) if d not in dn.offset_dims]
  lo = nb[di - 1] + 1 if di else 0
  hi = nb[di] if di < len(nb) else out_rank
  p = _clip(dx if dx is not None else di, lo, hi)
  offset_dims = _shift(dn.offset_dims, p)
  sibd = _shift(dn.start_indices_batching_dims, di)
  if dx is None:
    # Batching indexed reads of one array: the indices may no longer be sorted/unique.
    new = dn._replace(offset_dims=offset_dims, start_indices_batching_dims=sibd)
    params.update(indices_are_sorted=False, unique_indices=False)
    return gather_p.bind(x, i, dimension_numbers=new, slice_sizes=tuple(slice_sizes),
                         **params), p
  # Both batched: pair the batch dims as an operand/indices batching dim.
  obd = _shift(dn.operand_batching_dims, dx)
  j = sum(1 for d in obd if d < dx)
  new = GatherDimensionNumbers(
      offset_dims=offset_dims, collapsed_slice_dims=_shift(dn.collapsed_slice_dims, dx),
      start_index_map=_shift(dn.start_index_map, dx),
      operand_batching_dims=_insert(obd, j, dx), start_indices_batching_dims=_insert(sibd, j, di))
  sizes = _insert(slice_sizes, dx, 0 if xshape[dx] == 0 else 1)
  return gather_p.bind(x, i, dimension_numbers=new, slice_sizes=sizes, **params), p


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


gather_p = standard_primitive("gather", _gather_abstract_eval, lower=False)
ad.defjvp(gather_p, _gather_jvp, None)
ad.primitive_transposes[gather_p] = _gather_transpose
batching.primitive_batchers[gather_p] = _gather_batch
lowering.register_standard(gather_p, param_fn=_gather_params)
reference.register(gather_p, _gather_ref)


@export
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


# ---------------------------------------------------------------------------
# The scatters. Batching (all of them): with unbatched indices the batch dim is
# one more window dim of operand and updates; with batched indices it is an
# operand/indices batching dim pair (a new scatter dim of the updates).


def _scatter_abstract_eval(name, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted, unique_indices, mode, update_jaxpr,
                           update_consts):
  dn = dimension_numbers
  _check_indices(name, indices, "scatter_dims_to_operand_dims",
                 len(dn.scatter_dims_to_operand_dims))
  if updates.dtype != operand.dtype:
    raise TypeError(f"{name}: updates dtype {updates.dtype.name} must equal operand dtype "
                    f"{operand.dtype.name}")
  # (JAX scatters bools with max and min, as or/and; not with add or mul)
  if name not in ("scatter", "scatter-max", "scatter-min") and dtypes.is_bool(operand.dtype):
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


def _scatter_batch(prim, vals, dims, *, dimension_numbers, indices_are_sorted, unique_indices,
                   mode, update_jaxpr, update_consts):
  (x, i, u), (dx, di, du) = vals, dims
  dn = dimension_numbers
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  xr = core.get_aval(x).ndim - (dx is not None)
  ur = core.get_aval(u).ndim - (du is not None)
  W = dn.update_window_dims
  params = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
                update_jaxpr=update_jaxpr, update_consts=update_consts)
  if di is None:
    ow = [d for d in range(xr)
          if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
    if dx is None:
      # put the operand's new dim where the updates' batch dim can stay
      k = sum(1 for w in W if w < du)
      dx = _clip(du, ow[k - 1] + 1 if k else 0, ow[k] if k < len(ow) else xr)
      x = batching.matchaxis(x, None, dx, size)
    k = sum(1 for w in ow if w < dx)  # rank of the new window dim
    pu = _clip(du if du is not None else dx, W[k - 1] + 1 if k else 0,
               W[k] if k < len(W) else ur)
    u = batching.matchaxis(u, du, pu, size)
    new = ScatterDimensionNumbers(
        update_window_dims=W[:k] + (pu,) + tuple(w + 1 for w in W[k:]),
        inserted_window_dims=_shift(dn.inserted_window_dims, dx),
        scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims, dx),
        operand_batching_dims=_shift(dn.operand_batching_dims, dx),
        scatter_indices_batching_dims=dn.scatter_indices_batching_dims)
    return prim.bind(x, i, u, dimension_numbers=new, **params), dx
  i, di = _indices_bdim_not_last(i, di)
  if dx is None:
    dx = 0
    x = batching.matchaxis(x, None, 0, size)
  # the updates' new dim is their di-th scatter dim
  sd = [d for d in range(ur) if d not in W]
  pu = _clip(du if du is not None else di, sd[di - 1] + 1 if di else 0,
             sd[di] if di < len(sd) else ur)
  u = batching.matchaxis(u, du, pu, size)
  obd = _shift(dn.operand_batching_dims, dx)
  j = sum(1 for d in obd if d < dx)
  new = ScatterDimensionNumbers(
      update_window_dims=_shift(W, pu),
      inserted_window_dims=_shift(dn.inserted_window_dims, dx),
      scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims, dx),
      operand_batching_dims=_insert(obd, j, dx),
      scatter_indices_batching_dims=_insert(_shift(dn.scatter_indices_batching_dims, di), j, di))
  return prim.bind(x, i, u, dimension_numbers=new, **params), dx


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
      # Integers wrap around, as in XLA (scatter_mul of int8 overflows).
      with np.errstate(over="ignore"):
        out[tuple(dst)] = combine(out[tuple(dst)], updates[tuple(u)])
  return out


def _scatter_primitive(name, combine):
  """A scatter that combines with ``combine``: abstract eval, impl, the Rust
  op of the same name, its batching rule and its NumPy reference."""
  p = standard_primitive(name, lambda *a, **k: _scatter_abstract_eval(name, *a, **k),
                         lower=False)
  batching.primitive_batchers[p] = (
      lambda vals, dims, **params: _scatter_batch(p, vals, dims, **params))
  lowering.register_standard(p, param_fn=_scatter_params)
  reference.register(p, lambda *a, **k: _scatter_ref(combine, *a, **k))
  return p


def _scatter_function(p):
  """The public function of scatter primitive ``p`` (``scatter_add`` for
  ``scatter-add``)."""
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

  bind.__name__ = bind.__qualname__ = p.name.replace("-", "_")
  bind.__doc__ = f"XLA's {p.name} with JAX's dimension numbers (index vector = last dim)."
  return export(bind)


# scatter (overwrite): JAX's _scatter_jvp. With unique indices it is linear;
# otherwise the update that won each place is found by scattering ids, and the
# primal and tangent outputs are scatter-adds of the masked values.

def _scatter_jvp(primals, tangents, *, dimension_numbers, indices_are_sorted, unique_indices,
                 mode, update_jaxpr, update_consts):
  x, i, u = primals
  tx, _, tu = tangents
  dn = dimension_numbers
  params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                unique_indices=unique_indices, mode=mode, update_jaxpr=update_jaxpr,
                update_consts=update_consts)
  if isinstance(tx, ad.Zero) and isinstance(tu, ad.Zero):
    out = scatter_p.bind(x, i, u, **params)
    return out, ad.Zero.from_value(out)
  tx, tu = ad.instantiate_zeros(tx), ad.instantiate_zeros(tu)
  if unique_indices:
    return scatter_p.bind(x, i, u, **params), scatter_p.bind(tx, i, tu, **params)
  xa, ua = core.get_aval(x), core.get_aval(u)
  # a) a positive id per update (per scatter index; windows share it), scattered
  ids_shape = [1 if d in dn.update_window_dims else n for d, n in enumerate(ua.shape)]
  num_ids = int(np.prod(ids_shape, dtype=np.int64))
  id_dt = dtypes.int32 if num_ids < 2**31 - 1 else dtypes.canonicalize_dtype(np.int64)
  ids = lax.add(shapes.reshape(shapes.iota(id_dt, num_ids), ids_shape), _ones((), id_dt))
  update_ids = shapes.broadcast_in_dim(ids, ua.shape, tuple(range(ua.ndim)))
  scattered_ids = scatter_p.bind(_zeros(xa.shape, id_dt), i, update_ids, **params)
  # b) the inverse gather: which id each update finds at its place
  gathered_ids = _readback(xa.shape, ua.shape, scattered_ids, i, dn, mode)
  # c) keep the operand where nothing was written and the updates that won
  untouched = lax.eq(scattered_ids, _zeros(xa.shape, id_dt))
  won = lax.eq(update_ids, gathered_ids)
  zx, zu = _zeros(xa.shape, xa.dtype), _zeros(ua.shape, ua.dtype)
  # d) scatter-adds of the masked values
  add = dict(params, unique_indices=False)
  out = scatter_add_p.bind(lax.select(untouched, x, zx), i, lax.select(won, u, zu), **add)
  t_out = scatter_add_p.bind(lax.select(untouched, tx, zx), i, lax.select(won, tu, zu), **add)
  return out, t_out


def _scatter_transpose(ct, x, i, u, *, dimension_numbers, indices_are_sorted, unique_indices,
                       mode, update_jaxpr, update_consts):
  if not unique_indices:
    raise NotImplementedError("scatter transpose is only implemented where unique_indices=True")
  _no_ct_for_indices("scatter", (i,))
  ux, uu = ad.is_undefined_primal(x), ad.is_undefined_primal(u)
  u_aval = u.aval if uu else core.get_aval(u)
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval) if ux else None, None, ad.Zero(u_aval) if uu else None]
  dt = core.get_aval(ct).dtype
  ct_x = ct_u = None
  if ux:  # the written places get no cotangent
    ct_x = scatter_p.bind(ct, i, _zeros(u_aval.shape, dt), dimension_numbers=dimension_numbers,
                          indices_are_sorted=indices_are_sorted, unique_indices=True, mode=mode,
                          update_jaxpr=update_jaxpr, update_consts=update_consts)
  if uu:
    ct_u = _readback(core.get_aval(ct).shape, u_aval.shape, ct, i, dimension_numbers, mode, 0)
  return [ct_x, None, ct_u]


scatter_p = _scatter_primitive("scatter", lambda a, u: u)
ad.primitive_jvps[scatter_p] = _scatter_jvp
ad.primitive_transposes[scatter_p] = _scatter_transpose
scatter = _scatter_function(scatter_p)


# scatter-add: linear in (operand, updates) jointly.

def _scatter_add_jvp(primals, tangents, **params):
  x, i, u = primals
  tx, _, tu = tangents
  out = scatter_add_p.bind(x, i, u, **params)
  if isinstance(tx, ad.Zero) and isinstance(tu, ad.Zero):
    return out, ad.Zero.from_value(out)
  return out, scatter_add_p.bind(ad.instantiate_zeros(tx), i, ad.instantiate_zeros(tu),
                                 **params)


def _scatter_add_transpose(ct, x, i, u, *, dimension_numbers, mode, **params):
  _no_ct_for_indices("scatter_add", (i,))
  ux, uu = ad.is_undefined_primal(x), ad.is_undefined_primal(u)
  u_aval = u.aval if uu else core.get_aval(u)
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval) if ux else None, None, ad.Zero(u_aval) if uu else None]
  ct_u = None
  if uu:
    ct_u = _readback(core.get_aval(ct).shape, u_aval.shape, ct, i, dimension_numbers, mode, 0)
  return [ct if ux else None, None, ct_u]


scatter_add_p = _scatter_primitive("scatter-add", lambda a, u: a + u)
ad.primitive_jvps[scatter_add_p] = _scatter_add_jvp
ad.primitive_transposes[scatter_add_p] = _scatter_add_transpose
scatter_add = _scatter_function(scatter_add_p)


# scatter-mul: linear in the operand; as in JAX, derivatives with respect to the
# updates need unique_indices=True.

def _scatter_mul_jvp_updates(g, x, i, u, *, dimension_numbers, indices_are_sorted,
                             unique_indices, mode, **_):
  if not unique_indices:
    raise NotImplementedError(
        "scatter_mul gradients are only implemented if `unique_indices=True`")
  spread = scatter_add_p.bind(_zeros(core.get_aval(x).shape, core.get_aval(g).dtype), i, g,
                              dimension_numbers=dimension_numbers,
                              indices_are_sorted=indices_are_sorted, unique_indices=True,
                              mode=mode, update_jaxpr=None, update_consts=())
  return lax.mul(x, spread)


def _scatter_mul_transpose(ct, x, i, u, *, dimension_numbers, indices_are_sorted,
                           unique_indices, mode, update_jaxpr, update_consts):
  _no_ct_for_indices("scatter_mul", (i,))
  ux, uu = ad.is_undefined_primal(x), ad.is_undefined_primal(u)
  u_aval = u.aval if uu else core.get_aval(u)
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval) if ux else None, None, ad.Zero(u_aval) if uu else None]
  ct_x = ct_u = None
  if ux:
    if uu:
      raise ValueError("scatter_mul is not linear in (operand, updates) jointly")
    ct_x = scatter_mul_p.bind(ct, i, u, dimension_numbers=dimension_numbers,
                              indices_are_sorted=indices_are_sorted,
                              unique_indices=unique_indices, mode=mode,
                              update_jaxpr=update_jaxpr, update_consts=update_consts)
  if uu:
    if not unique_indices:
      raise NotImplementedError(
          "scatter_mul gradients are only implemented if `unique_indices=True`")
    ct_u = _readback(x.aval.shape if ux else core.get_aval(x).shape, u_aval.shape,
                     lax.mul(ct, x), i, dimension_numbers, mode, 0)
  return [ct_x, None, ct_u]


scatter_mul_p = _scatter_primitive("scatter-mul", lambda a, u: a * u)
ad.defjvp(scatter_mul_p, lambda g, x, i, u, **params: scatter_mul_p.bind(g, i, u, **params),
          None, _scatter_mul_jvp_updates)
ad.primitive_transposes[scatter_mul_p] = _scatter_mul_transpose
scatter_mul = _scatter_function(scatter_mul_p)


# scatter-min / scatter-max (JAX's _scatter_extremal_jvp): where several values
# tie for the result (updates, and the operand's original value), the tangent
# is their average.

def _scatter_extremal_jvp(prim, primals, tangents, *, dimension_numbers, indices_are_sorted,
                          unique_indices, mode, update_jaxpr, update_consts):
  x, i, u = primals
  tx, _, tu = tangents
  dn = dimension_numbers
  params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                unique_indices=unique_indices, mode=mode, update_jaxpr=update_jaxpr,
                update_consts=update_consts)
  out = prim.bind(x, i, u, **params)
  if isinstance(tx, ad.Zero) and isinstance(tu, ad.Zero):
    return out, ad.Zero.from_value(out)
  tx, tu = ad.instantiate_zeros(tx), ad.instantiate_zeros(tu)
  xa, ua = core.get_aval(x), core.get_aval(u)
  dt = xa.dtype

  def read(v):  # (reads of out-of-bounds places are filled, and their writes dropped)
    return _readback(xa.shape, ua.shape, v, i, dn, mode)

  def add_at(v):
    return scatter_add_p.bind(_zeros(xa.shape, dt), i, v, **{**params, "unique_indices": False,
                                                              "indices_are_sorted": False})

  initial_vals, target_vals = read(x), read(out)
  successful = lax.eq(u, target_vals)
  retained = lax.eq(initial_vals, target_vals)
  zeros_u, ones_u = _zeros(ua.shape, dt), _ones(ua.shape, dt)
  num_updates = read(add_at(lax.select(successful, ones_u, zeros_u)))
  num_refs = read(add_at(ones_u))
  one = _scalar_like(1.0, u)
  updates_normalizer = lax.select(retained, lax.div(one, lax.add(num_updates, one)),
                                   lax.div(one, num_updates))
  updates_coef = lax.select(successful, updates_normalizer, zeros_u)
  operand_normalizer = lax.select(retained, lax.div(one, lax.add(num_updates, one)), zeros_u)
  operand_coef = lax.div(lax.sub(operand_normalizer, one), num_refs)
  tangent_updates = lax.add(lax.mul(read(tx), operand_coef), lax.mul(tu, updates_coef))
  return out, scatter_add_p.bind(tx, i, tangent_updates, **params)


scatter_min_p = _scatter_primitive("scatter-min", lambda a, u: np.minimum(a, u))
ad.primitive_jvps[scatter_min_p] = (
    lambda primals, tangents, **params: _scatter_extremal_jvp(scatter_min_p, primals, tangents,
                                                              **params))
scatter_min = _scatter_function(scatter_min_p)

scatter_max_p = _scatter_primitive("scatter-max", lambda a, u: np.maximum(a, u))
ad.primitive_jvps[scatter_max_p] = (
    lambda primals, tangents, **params: _scatter_extremal_jvp(scatter_max_p, primals, tangents,
                                                              **params))
scatter_max = _scatter_function(scatter_max_p)
