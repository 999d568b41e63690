"""Shape primitives: broadcast_in_dim, reshape, transpose, rev, squeeze,
concatenate, pad and iota (and the functions built on them: broadcast,
expand_dims, full ...), each one block with all its rules. All but iota are
linear; batching rules keep the batch dim where it is whenever they can."""
from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lax_hooks, reference
# Transposes here sum (reductions) and select (lax), whose rules reshape and
# broadcast: the lax modules import each other as modules.
from rjax._src.lax import lax, reductions
from rjax._src.lax.utils import _scalar_like, asarray_lax, export, standard_primitive


# ---------------------------------------------------------------------------
# broadcast_in_dim


def _check_size(name, shape):
  # (JAX fails building such a shape with a TypeError; a size that fits but
  # exceeds memory is an out-of-memory error when the array is allocated)
  if any(d > _INT64_MAX for d in shape) or math.prod(shape) > _INT64_MAX:
    raise TypeError(f"{name}: shape {tuple(shape)} has more elements than fit in an int64")


_INT64_MAX = 2**63 - 1


def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions, sharding=None):
  if any(d < 0 for d in shape):
    raise TypeError(f"broadcast_in_dim: shape must have every element be nonnegative, got "
                    f"{tuple(shape)}")
  _check_size("broadcast_in_dim", shape)
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


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions, sharding=None):
  """JAX's rule: sum the cotangent over every output dim that is not an
  operand dim of size > 1, then put the operand's size-1 dims back."""
  in_shape = x.aval.shape
  unit_dims = [i for i, d in enumerate(in_shape) if d == 1]
  bdims = tuple(d for i, d in enumerate(broadcast_dimensions) if i not in unit_dims)
  axes = tuple(d for d in range(len(shape)) if d not in bdims)
  return [expand_dims(reductions.reduce_sum(ct, axes), unit_dims)]


def _broadcast_in_dim_batch(vals, dims, *, shape, broadcast_dimensions, sharding=None):
  """A batch dim in front stays in front, as in JAX's rule (whose shifted
  dims are NumPy ints, as JAX's jaxprs print them). Elsewhere, the batch dim
  goes to the output right after the dim that the operand's previous dim maps
  to, so broadcast_dimensions stay increasing and the operand needs no
  transpose (JAX moves it to the front first: a copy each way)."""
  (x,), (d,) = vals, dims
  size = core.get_aval(x).shape[d]
  if d == 0:
    bd = (0,) + tuple(np.add(1, broadcast_dimensions))
    return broadcast_in_dim_p.bind(x, shape=(size,) + tuple(shape), broadcast_dimensions=bd,
                                   sharding=None), 0
  out_d = broadcast_dimensions[d - 1] + 1
  new_shape = list(shape)
  new_shape.insert(out_d, size)
  bd = [b + (b >= out_d) for b in broadcast_dimensions]
  bd.insert(d, out_d)
  return broadcast_in_dim_p.bind(x, shape=tuple(new_shape), broadcast_dimensions=tuple(bd),
                                 sharding=None), out_d


def _broadcast_in_dim_ref(x, *, shape, broadcast_dimensions, sharding=None):
  expanded = [1] * len(shape)
  for i, d in enumerate(broadcast_dimensions):
    expanded[d] = x.shape[i]
  return np.broadcast_to(x.reshape(expanded), shape)


broadcast_in_dim_p = standard_primitive("broadcast_in_dim", _broadcast_in_dim_abstract_eval)
ad.deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
batching.primitive_batchers[broadcast_in_dim_p] = _broadcast_in_dim_batch
reference.register(broadcast_in_dim_p, _broadcast_in_dim_ref)
# JAX's text leaves out the shape (the output type shows it) and empty dims.
core.pp_params[broadcast_in_dim_p] = lambda e: (
    {"broadcast_dimensions": e.params["broadcast_dimensions"]}
    if e.params["broadcast_dimensions"] else {})


@export
def broadcast_in_dim(x, shape: Sequence[int], broadcast_dimensions: Sequence[int]):
  x = asarray_lax(x)
  shape = tuple(int(d) for d in shape)
  # the dims keep their type (JAX's batching rules pass NumPy ints, and its
  # jaxprs print them so)
  bd = tuple(d if isinstance(d, (int, np.integer)) else operator.index(d)
             for d in broadcast_dimensions)
  aval = core.get_aval(x)
  if aval.shape == shape and bd == tuple(range(len(shape))):
    return x
  return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bd, sharding=None)


lax_hooks.register(broadcast_in_dim=broadcast_in_dim)


@export
def broadcast(x, sizes: Sequence[int]):
  x = asarray_lax(x)
  nd = core.get_aval(x).ndim
  shape = tuple(sizes) + core.get_aval(x).shape
  return broadcast_in_dim(x, shape, tuple(range(len(sizes), len(sizes) + nd)))


@export
def expand_dims(x, dimensions: Sequence[int]):
  """Insert size-1 dims at ``dimensions`` (positions in the result)."""
  x = asarray_lax(x)
  aval = core.get_aval(x)
  nd = aval.ndim + len(dimensions)
  dims = sorted(int(d) % nd if -nd <= int(d) < nd else int(d) for d in dimensions)
  if any(not 0 <= d < nd for d in dims) or len(set(dims)) != len(dims):
    raise ValueError(f"expand_dims: dimensions {tuple(dimensions)} out of range or repeated "
                     f"for result rank {nd}")
  shape = list(aval.shape)
  for d in dims:
    shape.insert(d, 1)
  bdims = tuple(i for i in range(nd) if i not in dims)
  return broadcast_in_dim(x, shape, bdims)


lax_hooks.register(expand_dims=expand_dims)


# ---------------------------------------------------------------------------
# reshape


def _reshape_abstract_eval(x, *, new_sizes, dimensions):
  if int(np.prod(new_sizes, dtype=np.int64)) != x.size or any(d < 0 for d in new_sizes):
    raise ValueError(f"reshape: cannot reshape array of shape {x.shape} (size {x.size}) "
                    f"into shape {tuple(new_sizes)} (size {int(np.prod(new_sizes))})")
  if dimensions is not None:
    raise NotImplementedError("reshape with dimensions: transpose first")
  return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_batch(vals, dims, *, new_sizes, dimensions):
  (x,), (d,) = vals, dims
  x = batching.moveaxis(x, d, 0)
  return reshape_p.bind(x, new_sizes=(core.get_aval(x).shape[0],) + tuple(new_sizes),
                        dimensions=dimensions), 0


reshape_p = standard_primitive("reshape", _reshape_abstract_eval)
ad.deflinear(reshape_p, lambda ct, x, *, new_sizes, dimensions: [reshape(ct, x.aval.shape)])
batching.primitive_batchers[reshape_p] = _reshape_batch
reference.register(reshape_p, lambda x, *, new_sizes, dimensions: np.reshape(x, new_sizes))


@export
def reshape(x, new_sizes: Sequence[int], dimensions=None):
  """``x`` in row-major order with shape ``new_sizes``; ``dimensions`` (a
  permutation) transposes ``x`` first, as ``lax.reshape`` does."""
  x = asarray_lax(x)
  new_sizes = tuple(int(d) for d in new_sizes)
  if dimensions is not None:
    dimensions = tuple(int(d) for d in dimensions)
    if dimensions != tuple(range(core.get_aval(x).ndim)):
      x = transpose(x, dimensions)
    dimensions = None
  if core.get_aval(x).shape == new_sizes:
    return x
  return reshape_p.bind(x, new_sizes=new_sizes, dimensions=dimensions)


lax_hooks.register(reshape=reshape)


# ---------------------------------------------------------------------------
# transpose


def _transpose_abstract_eval(x, *, permutation):
  if sorted(permutation) != list(range(x.ndim)):
    raise TypeError(f"transpose: permutation {permutation} is not a permutation of the "
                    f"operand dimensions (operand shape {x.shape})")
  return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_transpose(ct, x, *, permutation):
  return [transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


def _transpose_batch(vals, dims, *, permutation):
  """The batch dim keeps its position (JAX puts it first; both are one
  transpose, but staying put spares vmap a move when out_axes == in_axes)."""
  (x,), (d,) = vals, dims
  perm = [p + (p >= d) for p in permutation]
  perm.insert(d, d)
  return transpose_p.bind(x, permutation=tuple(perm)), d


transpose_p = standard_primitive("transpose", _transpose_abstract_eval)
ad.deflinear(transpose_p, _transpose_transpose)
batching.primitive_batchers[transpose_p] = _transpose_batch
reference.register(transpose_p, lambda x, *, permutation: np.transpose(x, permutation))


@export
def transpose(x, permutation: Sequence[int]):
  """Permute the dimensions of ``x``."""
  x = asarray_lax(x)
  perm = tuple(int(p) for p in permutation)
  if perm == tuple(range(core.get_aval(x).ndim)):
    return x
  return transpose_p.bind(x, permutation=perm)


lax_hooks.register(transpose=transpose)


# ---------------------------------------------------------------------------
# rev


def _rev_abstract_eval(x, *, dimensions):
  if any(not 0 <= d < x.ndim for d in dimensions) or len(set(dimensions)) != len(dimensions):
    raise TypeError(f"rev: dimensions {dimensions} must be unique and within the operand rank "
                     f"{x.ndim}")
  return x


def _rev_batch(vals, dims, *, dimensions):
  (x,), (d,) = vals, dims
  return rev_p.bind(x, dimensions=tuple(i + (i >= d) for i in dimensions)), d


rev_p = standard_primitive("rev", _rev_abstract_eval)
ad.deflinear(rev_p, lambda ct, x, *, dimensions: [rev(ct, dimensions)])
batching.primitive_batchers[rev_p] = _rev_batch
reference.register(rev_p, lambda x, *, dimensions: np.flip(x, dimensions) if dimensions else x)


@export
def rev(x, dimensions: Sequence[int]):
  """Reverse ``x`` along ``dimensions``."""
  x = asarray_lax(x)
  dims = tuple(int(d) for d in dimensions)
  return x if not dims else rev_p.bind(x, dimensions=dims)


# ---------------------------------------------------------------------------
# squeeze


def _squeeze_abstract_eval(x, *, dimensions):
  if any(not 0 <= d < x.ndim for d in dimensions) or len(set(dimensions)) != len(dimensions):
    raise ValueError(f"squeeze: dimensions {dimensions} must be unique and within the operand "
                     f"rank {x.ndim}")
  if any(x.shape[d] != 1 for d in dimensions):
    raise ValueError(f"squeeze: cannot select an axis to squeeze out which has size not equal "
                     f"to one, got shape={x.shape} and dimensions={dimensions}")
  return x.update(shape=tuple(n for i, n in enumerate(x.shape) if i not in dimensions))


def _squeeze_batch(vals, dims, *, dimensions):
  """Squeeze the dims past the batch dim (JAX moves it to the front first)."""
  (x,), (d,) = vals, dims
  new_dims = tuple(i + (i >= d) for i in dimensions)
  return squeeze_p.bind(x, dimensions=new_dims), d - sum(i < d for i in dimensions)


squeeze_p = standard_primitive("squeeze", _squeeze_abstract_eval)
ad.deflinear(squeeze_p, lambda ct, x, *, dimensions: [reshape(ct, x.aval.shape)])
batching.primitive_batchers[squeeze_p] = _squeeze_batch
reference.register(squeeze_p, lambda x, *, dimensions: np.squeeze(x, tuple(dimensions)))


@export
def squeeze(x, dimensions: Sequence[int]):
  """Remove size-1 ``dimensions`` (negative dimensions count from the end)."""
  x = asarray_lax(x)
  nd = core.get_aval(x).ndim
  dims = tuple(sorted(int(d) % nd if nd and -nd <= int(d) < nd else int(d) for d in dimensions))
  return x if not dims else squeeze_p.bind(x, dimensions=dims)


# ---------------------------------------------------------------------------
# concatenate


def _concatenate_abstract_eval(*xs, dimension):
  if not xs:
    raise ValueError("concatenate: expected at least one operand")
  if len({x.dtype for x in xs}) != 1:
    raise TypeError("concatenate: operands must have the same dtype, got "
                    + ", ".join(x.dtype.name for x in xs))
  nd = xs[0].ndim
  if not 0 <= dimension < nd:
    raise ValueError(f"concatenate: dimension {dimension} out of range for operands of rank {nd}")
  for x in xs:
    if x.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape))
                           if i != dimension):
      raise TypeError("concatenate: operand shapes must be equal except in dimension "
                      f"{dimension}, got " + ", ".join(str(y.shape) for y in xs))
  shape = list(xs[0].shape)
  shape[dimension] = sum(x.shape[dimension] for x in xs)
  return ShapedArray(shape, xs[0].dtype, all(x.weak_type for x in xs))


def _crop(x, starts, limits):
  """``x[starts:limits]`` as a pad by negative amounts: the slices that the
  transposes of concatenate and pad take, made of primitives whose rules live
  here (a pad with negative lo/hi is exactly a slice, in XLA too)."""
  shape = core.get_aval(x).shape
  cfg = tuple((-s, l - n, 0) for s, l, n in zip(starts, limits, shape))
  if all(c == (0, 0, 0) for c in cfg):
    return x
  return pad_p.bind(x, _scalar_like(0, x), padding_config=cfg)


def _concatenate_transpose(ct, *xs, dimension):
  """Each linear operand's cotangent is its slice of ``ct`` (JAX's
  ``_concatenate_transpose_rule``)."""
  if isinstance(ct, ad.Zero):
    return [None] * len(xs)
  shape = core.get_aval(ct).shape
  out, start = [], 0
  for x in xs:
    n = (x.aval if ad.is_undefined_primal(x) else core.get_aval(x)).shape[dimension]
    if ad.is_undefined_primal(x):
      starts = tuple(start if d == dimension else 0 for d in range(len(shape)))
      limits = tuple(start + n if d == dimension else s for d, s in enumerate(shape))
      out.append(_crop(ct, starts, limits))
    else:
      out.append(None)
    start += n
  return out


def _concatenate_batch(vals, dims, *, dimension):
  """All operands take the first batched operand's batch dim (unbatched ones
  are broadcast there); JAX moves every batch dim to the front instead."""
  d0, size = next((d, core.get_aval(v).shape[d]) for v, d in zip(vals, dims) if d is not None)
  xs = [batching.matchaxis(v, d, d0, size) for v, d in zip(vals, dims)]
  return concatenate_p.bind(*xs, dimension=dimension + (dimension >= d0)), d0


concatenate_p = standard_primitive("concatenate", _concatenate_abstract_eval)
ad.deflinear(concatenate_p, _concatenate_transpose)
batching.primitive_batchers[concatenate_p] = _concatenate_batch
reference.register(concatenate_p, lambda *xs, dimension: np.concatenate(xs, dimension))


@export
def concatenate(operands: Sequence, dimension: int):
  """Join ``operands`` (same dtype and rank) along ``dimension``."""
  ops = [asarray_lax(o) for o in operands]
  if len(ops) == 1:
    return ops[0]
  return concatenate_p.bind(*ops, dimension=int(dimension))


# ---------------------------------------------------------------------------
# pad


def _pad_abstract_eval(x, padding_value, *, padding_config):
  if padding_value.shape != ():
    raise TypeError(f"pad: padding_value must be a scalar, got shape {padding_value.shape}")
  if padding_value.dtype != x.dtype:
    raise TypeError(f"pad: operand and padding_value must have the same dtype, got "
                    f"{x.dtype.name} and {padding_value.dtype.name}")
  if len(padding_config) != x.ndim:
    raise ValueError(f"pad: padding_config {padding_config} must have one (lo, hi, interior) "
                     f"per operand dimension (operand shape {x.shape})")
  shape = []
  for n, (lo, hi, interior) in zip(x.shape, padding_config):
    if interior < 0:
      raise ValueError(f"pad: interior padding must be non-negative, got {padding_config}")
    d = lo + hi + (n + (n - 1) * interior if n else 0)
    if d < 0:
      raise ValueError(f"pad: padding_config {padding_config} gives a negative dimension for "
                       f"operand shape {x.shape}")
    shape.append(d)
  return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_transpose(ct, x, padding_value, *, padding_config):
  """JAX's ``_pad_transpose``: the operand's cotangent undoes the edge padding
  (a pad by -lo, -hi: it crops, and pads with zeros where lo/hi were negative)
  and takes every (interior+1)-th element; the padding value's cotangent is
  the rest of the total. The strided take is a pad to ``n * (interior+1)``,
  a reshape to ``(n, interior+1)`` and a crop to the first column."""
  if isinstance(ct, ad.Zero):
    return [None, None]
  nd = len(padding_config)
  shape = (x.aval if ad.is_undefined_primal(x) else core.get_aval(x)).shape
  strided = [i > 0 and n > 1 for n, (_, _, i) in zip(shape, padding_config)]

  def t_operand():
    unpad = tuple((-lo, -hi + (i if s else 0), 0)
                  for (lo, hi, i), s in zip(padding_config, strided))
    t = pad_p.bind(ct, _scalar_like(0, ct), padding_config=unpad)
    if not any(strided):
      return t
    split, crop = [], []
    for n, (_, _, i), s in zip(shape, padding_config, strided):
      split += [n, i + 1] if s else [n]
      crop += [(0, 0, 0), (0, -i, 0)] if s else [(0, 0, 0)]
    t = pad_p.bind(reshape(t, split), _scalar_like(0, ct), padding_config=tuple(crop))
    return reshape(t, shape)

  t_x = t_operand() if ad.is_undefined_primal(x) else None
  t_v = None
  if ad.is_undefined_primal(padding_value):
    # (also when the operand is a known value, e.g. instantiated zeros)
    total = lambda t: reductions.reduce_sum(t, tuple(range(nd)))
    t_v = lax.sub(total(ct), total(t_x if t_x is not None else t_operand()))
  return [t_x, t_v]


def _pad_batch(vals, dims, *, padding_config):
  """A batched operand keeps its batch dim (no padding along it). A batched
  padding value (a vector) is placed with a mask of the padded positions."""
  (x, v), (dx, dv) = vals, dims
  if dx is None:
    x, dx = broadcast(x, (core.get_aval(v).shape[dv],)), 0
  cfg = list(padding_config)
  cfg.insert(dx, (0, 0, 0))
  cfg = tuple(cfg)
  if dv is None:
    return pad_p.bind(x, v, padding_config=cfg), dx
  aval = core.get_aval(x)
  out = pad_p.bind(x, full((), 0, aval.dtype), padding_config=cfg)
  mask = pad_p.bind(full(aval.shape, True, np.bool_), full((), False, np.bool_),
                    padding_config=cfg)
  return lax.select(mask, out, broadcast_in_dim(v, core.get_aval(out).shape, (dx,))), dx


def _pad_ref(x, v, *, padding_config):
  for ax, (lo, hi, interior) in enumerate(padding_config):
    n = x.shape[ax]
    if interior and n > 1:
      shp = list(x.shape)
      shp[ax] = n + (n - 1) * interior
      y = np.full(shp, v, x.dtype)
      idx = [slice(None)] * x.ndim
      idx[ax] = slice(None, None, interior + 1)
      y[tuple(idx)] = x
      x = y
    shp = list(x.shape)
    shp[ax] = max(lo, 0) + x.shape[ax] + max(hi, 0)
    y = np.full(shp, v, x.dtype)
    idx = [slice(None)] * x.ndim
    idx[ax] = slice(max(lo, 0), max(lo, 0) + x.shape[ax])
    y[tuple(idx)] = x
    idx[ax] = slice(-min(lo, 0), shp[ax] + min(hi, 0))
    x = y[tuple(idx)]
  return x


pad_p = standard_primitive("pad", _pad_abstract_eval)
ad.deflinear(pad_p, _pad_transpose)
batching.primitive_batchers[pad_p] = _pad_batch
reference.register(pad_p, _pad_ref)


@export
def pad(operand, padding_value, padding_config: Sequence[Sequence[int]]):
  """Pad with ``padding_value``: ``(lo, hi, interior)`` per dim; negative lo/hi crop."""
  operand = asarray_lax(operand)
  if isinstance(padding_value, (bool, int, float)):
    padding_value = _scalar_like(padding_value, operand)
  else:
    padding_value = asarray_lax(padding_value)
  cfg = tuple((int(lo), int(hi), int(i)) for lo, hi, i in padding_config)
  return pad_p.bind(operand, padding_value, padding_config=cfg)


# ---------------------------------------------------------------------------
# iota and full


def _iota_abstract_eval(*, dtype, shape, dimension, sharding=None):
  if not 0 <= dimension < max(len(shape), 1):
    raise ValueError(f"iota: dimension {dimension} out of range for shape {shape}")
  if any(d < 0 for d in shape):
    raise TypeError(f"iota: negative dimension in shape {shape}")
  _check_size("iota", shape)
  return ShapedArray(shape, dtype, False)


def _iota_ref(*, dtype, shape, dimension, sharding=None):
  r = np.arange(shape[dimension], dtype=dtype).reshape(
      [-1 if i == dimension else 1 for i in range(len(shape))])
  return np.broadcast_to(r, shape).copy()


iota_p = standard_primitive("iota", _iota_abstract_eval)
# iota has no operands: nothing to differentiate, and vmap never batches it.
ad.defnondiff(iota_p)
reference.register(iota_p, _iota_ref)


@export
def broadcasted_iota(dtype, shape: Sequence[int], dimension: int):
  """An array of ``shape`` whose values count along ``dimension``."""
  shape = tuple(int(d) for d in shape)
  return iota_p.bind(dtype=dtypes.canonicalize_dtype(dtype), shape=shape,
                     dimension=int(dimension), sharding=None)


@export
def iota(dtype, size: int):
  """``[0, 1, ..., size-1]`` (``lax.iota``)."""
  return broadcasted_iota(dtype, (int(size),), 0)


@export
def full(shape: Sequence[int], fill_value, dtype=None):
  """An array of ``shape`` filled with ``fill_value`` (``lax.full``)."""
  shape = tuple(int(d) for d in shape)
  if dtype is None:
    dt, weak = dtypes.dtype_and_weak(fill_value)
    dt = dtypes.canonicalize_dtype(dt)
  else:
    dt, weak = dtypes.canonicalize_dtype(dtype), False
  v = lax.convert_element_type(fill_value, dt, weak_type=weak)
  if core.get_aval(v).shape != ():
    raise TypeError(f"full: fill_value must be a scalar, got shape {core.get_aval(v).shape}")
  return broadcast_in_dim(v, shape, ())


lax_hooks.register(full=full)


@export
def full_like(x, fill_value, dtype=None, shape=None):
  """``full`` with the shape and dtype of ``x`` unless given."""
  aval = core.get_aval(x)
  return full(aval.shape if shape is None else shape, fill_value,
              aval.dtype if dtype is None else dtype)
