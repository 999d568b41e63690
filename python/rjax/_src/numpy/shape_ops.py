"""Shape manipulation in ``rjax.numpy`` (reshape, transpose, stack, ...)."""
from __future__ import annotations

import builtins
import operator

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, shapes, slicing
from rjax._src.numpy import ufuncs
from rjax._src.numpy.util import (asarray, canonicalize_axes, canonicalize_axis, check_arraylike,
                                  promote_dtypes)


def _new_shape(a, shape) -> tuple:
  """``shape`` with its one ``-1`` resolved; a bad shape is a TypeError (as JAX)."""
  orig = shape
  shape = (shape,) if np.ndim(shape) == 0 and not isinstance(shape, (tuple, list)) else \
      tuple(shape)
  try:
    shape = tuple(operator.index(d) for d in shape)
  except TypeError:
    raise TypeError(f"reshape: shape must be a sequence of integers, got {orig!r}") from None
  size = core.get_aval(a).size
  neg = [i for i, d in enumerate(shape) if d == -1]
  if len(neg) > 1:
    raise TypeError(f"reshape: can only specify one unknown axis size with a `-1` value, got "
                    f"{orig}")
  if any(d < -1 for d in shape):
    raise TypeError(f"reshape: negative dimensions are not allowed, got {orig}")
  if neg:
    other = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if other == 0:
      # (JAX: NumPy's ValueError, the unknown size being undetermined)
      raise ValueError(f"reshape: cannot reshape array of size {size} into shape {orig}: the "
                       f"size of the `-1` axis is undetermined")
    if size % other:
      raise TypeError(f"reshape: cannot reshape array of shape {core.get_aval(a).shape} (size "
                      f"{size}) into shape {orig} because the product of specified axis sizes "
                      f"({other}) does not evenly divide {size}")
    return tuple(size // other if d == -1 else d for d in shape)
  if int(np.prod(shape, dtype=np.int64)) != size:
    raise TypeError(f"reshape: cannot reshape array of shape {core.get_aval(a).shape} (size "
                    f"{size}) into shape {orig} (size {int(np.prod(shape, dtype=np.int64))})")
  return shape


def reshape(a, shape=None, order: str = "C", *, newshape=None, copy=None):
  """``a`` with a new shape; ``order='F'`` reads and writes in column-major order."""
  check_arraylike("reshape", a)
  if shape is None:
    if newshape is None:
      raise TypeError("reshape: missing the required argument 'shape'")
    shape = newshape
  a = asarray(a)
  shape = _new_shape(a, shape)
  if order == "C":
    return shapes.reshape(a, shape)
  if order == "F":
    nd = core.get_aval(a).ndim
    t = shapes.transpose(a, tuple(range(nd))[::-1]) if nd > 1 else a
    out = shapes.reshape(t, shape[::-1])
    return shapes.transpose(out, tuple(range(len(shape)))[::-1]) if len(shape) > 1 else out
  if order == "A":
    raise NotImplementedError("np.reshape order=A is not implemented.")
  raise ValueError(f"Unexpected value for 'order' argument: {order}.")


def _shape(a):
  return core.get_aval(a).shape


def ravel(a, order: str = "C"):
  check_arraylike("ravel", a)
  if order == "K":
    raise NotImplementedError("Ravel not implemented for order='K'.")
  a = asarray(a)
  return reshape(a, (core.get_aval(a).size,), order)


def ndim(a) -> int:
  return len(np.shape(a)) if not hasattr(a, "aval") else core.get_aval(a).ndim


def shape(a) -> tuple:
  return tuple(np.shape(a)) if not hasattr(a, "aval") else core.get_aval(a).shape


def size(a, axis=None) -> int:
  sh = shape(a)
  return int(np.prod(sh, dtype=np.int64)) if axis is None else sh[axis]


def transpose(a, axes=None):
  check_arraylike("transpose", a)
  a = asarray(a)
  nd = core.get_aval(a).ndim
  if axes is not None and len(axes) != nd:
    raise TypeError(f"transpose: axes {tuple(axes)} is not a permutation of {nd} dims")
  axes = tuple(range(nd))[::-1] if axes is None else \
      tuple(canonicalize_axis(i, nd, "transpose") for i in axes)
  if sorted(axes) != list(range(nd)):
    raise TypeError(f"transpose: axes {axes} is not a permutation of {nd} dims")
  return shapes.transpose(a, axes)


def permute_dims(a, /, axes):
  return transpose(a, axes)


def matrix_transpose(x, /):
  x = asarray(x)
  nd = core.get_aval(x).ndim
  if nd < 2:
    raise ValueError(f"matrix_transpose: x must be at least two-dimensional, got shape {_shape(x)}")
  return shapes.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def moveaxis(a, source, destination):
  a = asarray(a)
  nd = core.get_aval(a).ndim
  src = canonicalize_axes(source, nd, "moveaxis")
  dst = canonicalize_axes(destination, nd, "moveaxis")
  if len(src) != len(dst):
    raise ValueError("moveaxis: source and destination must have the same number of elements")
  perm = [i for i in range(nd) if i not in src]
  for d, s in sorted(zip(dst, src)):
    perm.insert(d, s)
  return shapes.transpose(a, perm)


def swapaxes(a, axis1, axis2):
  a = asarray(a)
  nd = core.get_aval(a).ndim
  perm = list(range(nd))
  i, j = canonicalize_axis(axis1, nd, "swapaxes"), canonicalize_axis(axis2, nd, "swapaxes")
  perm[i], perm[j] = perm[j], perm[i]
  return shapes.transpose(a, perm)


def expand_dims(a, axis):
  a = asarray(a)
  axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
  out_nd = core.get_aval(a).ndim + len(axes)
  return shapes.expand_dims(a, canonicalize_axes(axes, out_nd, "expand_dims"))


def squeeze(a, axis=None):
  a = asarray(a)
  sh = _shape(a)
  if axis is None:
    axes = tuple(i for i, n in enumerate(sh) if n == 1)
  else:
    axes = canonicalize_axes(axis, len(sh), "squeeze")
    for i in axes:
      if sh[i] != 1:
        raise ValueError(f"squeeze: cannot select an axis to squeeze out which has size not "
                         f"equal to one, got shape={sh} and dimensions={axes}")
  return shapes.squeeze(a, axes)


def concatenate(arrays, axis=0, dtype=None):
  if hasattr(arrays, "aval") or isinstance(arrays, np.ndarray):
    arrays = list(_unstack_any(arrays))
  if not len(arrays):
    raise ValueError("concatenate: need at least one array to concatenate")
  arrs = promote_dtypes(*arrays) if dtype is None else [asarray(a).astype(dtype) for a in arrays]
  arrs = [asarray(a) for a in arrs]
  if axis is None:
    arrs = [ravel(a) for a in arrs]
    axis = 0
  nd = core.get_aval(arrs[0]).ndim
  if nd == 0:
    raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
  if any(core.get_aval(a).ndim != nd for a in arrs):
    raise TypeError("concatenate: all the input arrays must have same number of dimensions, got "
                     + ", ".join(str(_shape(a)) for a in arrs))
  return shapes.concatenate(arrs, canonicalize_axis(axis, nd, "concatenate"))


def concat(arrays, /, *, axis=0):
  return concatenate(arrays, axis)


def _unstack_any(a):
  a = asarray(a)
  return [slicing.index_in_dim(a, i, 0, keepdims=False) for i in range(_shape(a)[0])]


def stack(arrays, axis=0, out=None, dtype=None):
  if hasattr(arrays, "aval") or isinstance(arrays, np.ndarray):
    arrays = _unstack_any(arrays)
  if not len(arrays):
    raise ValueError("stack: need at least one array to stack")
  arrs = [asarray(a) for a in promote_dtypes(*arrays)] if dtype is None else \
      [asarray(a).astype(dtype) for a in arrays]
  sh = _shape(arrs[0])
  if any(_shape(a) != sh for a in arrs):
    raise ValueError("stack: all input arrays must have the same shape, got "
                     + ", ".join(str(_shape(a)) for a in arrs))
  axis = canonicalize_axis(axis, len(sh) + 1, "stack")
  return shapes.concatenate([shapes.expand_dims(a, (axis,)) for a in arrs], axis)


def atleast_1d(*arys):
  check_arraylike("atleast_1d", *arys)
  out = [asarray(a) if ndim(a) >= 1 else shapes.reshape(asarray(a), (1,)) for a in arys]
  return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
  check_arraylike("atleast_2d", *arys)
  out = []
  for a in arys:
    a = asarray(a)
    n = ndim(a)
    out.append(a if n >= 2 else shapes.reshape(a, (1,) * (2 - n) + _shape(a)))
  return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
  check_arraylike("atleast_3d", *arys)
  out = []
  for a in arys:
    a = asarray(a)
    n, sh = ndim(a), _shape(a)
    if n == 0:
      a = shapes.reshape(a, (1, 1, 1))
    elif n == 1:
      a = shapes.reshape(a, (1,) + sh + (1,))
    elif n == 2:
      a = shapes.reshape(a, sh + (1,))
    out.append(a)
  return out[0] if len(out) == 1 else out


def hstack(tup, dtype=None):
  arrs = [atleast_1d(a) for a in tup]
  return concatenate(arrs, 0 if ndim(arrs[0]) == 1 else 1, dtype)


def vstack(tup, dtype=None):
  return concatenate([atleast_2d(a) for a in tup], 0, dtype)


def dstack(tup, dtype=None):
  return concatenate([atleast_3d(a) for a in tup], 2, dtype)


def column_stack(tup):
  arrs = []
  for a in tup:
    a = asarray(a)
    arrs.append(shapes.reshape(a, (_shape(a)[0], 1)) if ndim(a) < 2 else a)
  return concatenate(arrs, 1)


def _split_points(n, indices_or_sections, name, strict):
  if isinstance(indices_or_sections, (int, np.integer)):
    k = int(indices_or_sections)
    if k <= 0:  # JAX divides by the count: ZeroDivisionError (and ValueError below 0)
      raise (ZeroDivisionError if k == 0 else ValueError)(
          f"{name}: number of sections must be larger than 0, got {k}")
    if strict and n % k:
      raise ValueError(f"{name}: array split does not result in an equal division: "
                       f"{n} into {k} sections")
    q, r = divmod(n, k)
    sizes = [q + 1] * r + [q] * (k - r)
    return list(np.cumsum([0] + sizes))
  pts = [int(i) for i in indices_or_sections]
  return [0] + pts + [n]


def _split(a, indices_or_sections, axis, name, strict):
  a = asarray(a)
  sh = _shape(a)
  axis = canonicalize_axis(axis, len(sh), name)
  n = sh[axis]
  pts = _split_points(n, indices_or_sections, name, strict)
  out = []
  for s, e in zip(pts[:-1], pts[1:]):
    s = builtins.min(builtins.max(s + n if s < 0 else s, 0), n)
    e = builtins.min(builtins.max(e + n if e < 0 else e, 0), n)
    out.append(slicing.slice_in_dim(a, s, builtins.max(s, e), 1, axis))
  return out


def split(ary, indices_or_sections, axis: int = 0):
  return _split(ary, indices_or_sections, axis, "split", True)


def array_split(ary, indices_or_sections, axis: int = 0):
  return _split(ary, indices_or_sections, axis, "array_split", False)


def hsplit(ary, indices_or_sections):
  return _split(ary, indices_or_sections, 0 if ndim(ary) == 1 else 1, "hsplit", True)


def vsplit(ary, indices_or_sections):
  return _split(ary, indices_or_sections, 0, "vsplit", True)


def dsplit(ary, indices_or_sections):
  return _split(ary, indices_or_sections, 2, "dsplit", True)


def unstack(x, /, *, axis: int = 0):
  x = asarray(x)
  if ndim(x) == 0:
    raise ValueError("unstack requires arrays with rank > 0, however a scalar array was passed.")
  axis = canonicalize_axis(axis, ndim(x), "unstack")
  return tuple(slicing.index_in_dim(x, i, axis, keepdims=False) for i in range(_shape(x)[axis]))


def broadcast_shapes(*shapes_):
  try:
    return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                       for s in shapes_]))
  except ValueError:
    raise ValueError("Incompatible shapes for broadcasting: "
                     + ", ".join(str(tuple(s)) for s in shapes_)) from None


def broadcast_to(array, shape):
  a = asarray(array)
  shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
  sh = _shape(a)
  if sh == shape:
    return a
  nd = len(shape)
  if len(sh) > nd or any(s not in (1, d) for s, d in zip(sh[::-1], shape[::-1])):
    raise ValueError(f"Incompatible shapes for broadcasting: {sh} and requested shape {shape}")
  return shapes.broadcast_in_dim(a, shape, tuple(range(nd - len(sh), nd)))


def broadcast_arrays(*args):
  arrs = [asarray(a) for a in args]
  sh = broadcast_shapes(*[_shape(a) for a in arrs])
  return [broadcast_to(a, sh) for a in arrs]


def flip(m, axis=None):
  m = asarray(m)
  return shapes.rev(m, canonicalize_axes(axis, ndim(m), "flip"))


def fliplr(m):
  if ndim(m) < 2:
    raise ValueError("fliplr: input must be >= 2-d")
  return flip(m, 1)


def flipud(m):
  if ndim(m) < 1:
    raise ValueError("flipud: input must be >= 1-d")
  return flip(m, 0)


def roll(a, shift, axis=None):
  a = asarray(a)
  if axis is None:
    return reshape(roll(ravel(a), shift, 0), _shape(a))
  shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
  axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
  shifts, axes = np.broadcast_arrays(np.asarray(shifts), np.asarray(axes))
  for s, ax in zip(shifts.ravel(), axes.ravel()):
    ax = canonicalize_axis(int(ax), ndim(a), "roll")
    n = _shape(a)[ax]
    if n == 0:
      continue
    s = int(s) % n
    if s:
      a = shapes.concatenate([slicing.slice_in_dim(a, n - s, n, 1, ax),
                              slicing.slice_in_dim(a, 0, n - s, 1, ax)], ax)
  return a


def rot90(m, k=1, axes=(0, 1)):
  m = asarray(m)
  ax0, ax1 = canonicalize_axes(axes, ndim(m), "rot90")
  if ax0 == ax1:
    raise ValueError("rot90: axes must be different")
  k = int(k) % 4
  if k == 0:
    return m
  if k == 2:
    return flip(flip(m, ax0), ax1)
  perm = list(range(ndim(m)))
  perm[ax0], perm[ax1] = perm[ax1], perm[ax0]
  return shapes.transpose(flip(m, ax1), perm) if k == 1 else flip(shapes.transpose(m, perm), ax1)


def tile(A, reps):
  A = asarray(A)
  reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
  sh = _shape(A)
  nd = builtins.max(len(sh), len(reps))
  sh = (1,) * (nd - len(sh)) + sh
  reps = (1,) * (nd - len(reps)) + reps
  A = shapes.reshape(A, sh)
  big = shapes.broadcast_in_dim(A, tuple(x for r, n in zip(reps, sh) for x in (r, n)),
                                tuple(range(1, 2 * nd, 2)))
  return shapes.reshape(big, tuple(r * n for r, n in zip(reps, sh)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
  a = asarray(a)
  if axis is None:
    a = ravel(a)
    axis = 0
  axis = canonicalize_axis(axis, ndim(a), "repeat")
  n = _shape(a)[axis]
  if isinstance(repeats, (int, np.integer)) and total_repeat_length is None:
    r = int(repeats)
    if r < 0:
      raise TypeError(f"repeat: repeats may not contain negative values, got {r}")
    sh = _shape(a)
    b = shapes.broadcast_in_dim(a, sh[:axis + 1] + (r,) + sh[axis + 1:],
                                tuple(i if i <= axis else i + 1 for i in range(len(sh))))
    return shapes.reshape(b, sh[:axis] + (n * r,) + sh[axis + 1:])
  if isinstance(repeats, core.Tracer):
    raise NotImplementedError("repeat: traced repeats are not supported yet")
  reps = np.broadcast_to(np.asarray(repeats, np.int64), (n,))
  if (reps < 0).any():
    raise ValueError("repeat: repeats may not contain negative values")
  idx = np.repeat(np.arange(n), reps)
  if total_repeat_length is not None:
    t = int(total_repeat_length)
    idx = idx[:t] if len(idx) >= t else np.concatenate(
        [idx, np.full(t - len(idx), idx[-1] if len(idx) else 0)])
  return take(a, idx.astype(np.int32), axis=axis)


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
  if out is not None:
    raise NotImplementedError("take: the out argument is not supported")
  a = asarray(a)
  if axis is None:
    a = ravel(a)
    axis = 0
  axis = canonicalize_axis(axis, ndim(a), "take")
  if mode is None or mode == "fill":
    m = slicing.GatherScatterMode.FILL_OR_DROP
  elif mode == "clip":
    m = slicing.GatherScatterMode.CLIP
  elif mode == "wrap":
    idx = np.asarray(indices) % _shape(a)[axis] if not isinstance(indices, core.Tracer) else None
    if idx is None:
      raise NotImplementedError("take: mode='wrap' with traced indices")
    indices, m = idx, slicing.GatherScatterMode.CLIP
  elif mode in ("raise",):
    raise NotImplementedError("take: mode='raise' is not supported (as in JAX)")
  else:
    m = slicing.GatherScatterMode.from_any(mode)
  ind = indices if isinstance(indices, core.Tracer) else np.asarray(indices)
  if not isinstance(ind, core.Tracer) and ind.dtype.kind not in "iu":
    raise ValueError(f"take: indices must have an integer type, got dtype {ind.dtype}")
  n = _shape(a)[axis]
  if isinstance(ind, np.ndarray):
    ind = np.where(ind < 0, ind + n, ind)
    ind = ind.astype(np.int32 if ind.size == 0 or abs(ind).max() < 2**31 else np.int64)
  sh = _shape(a)
  ish = core.get_aval(ind).shape if isinstance(ind, core.Tracer) else ind.shape
  dn = slicing.GatherDimensionNumbers(
      offset_dims=tuple(range(axis)) + tuple(range(axis + len(ish), len(sh) - 1 + len(ish))),
      collapsed_slice_dims=(axis,), start_index_map=(axis,))
  sizes = sh[:axis] + (1,) + sh[axis + 1:]
  if n == 0:  # nothing to gather from: empty, or all out of bounds
    out_shape = sh[:axis] + tuple(ish) + sh[axis + 1:]
    if int(np.prod(out_shape)) and m != slicing.GatherScatterMode.FILL_OR_DROP:
      raise IndexError(f"take: cannot do a non-empty take from an empty axis {axis}")
    dt = core.get_aval(a).dtype
    return shapes.full(out_shape, np.asarray(slicing._gather_fill(dt, fill_value), dt), dt)
  ind = ind[..., None] if isinstance(ind, np.ndarray) else shapes.reshape(ind, ish + (1,))
  return slicing.gather(a, ind, dn, sizes, mode=m, fill_value=fill_value,
                        unique_indices=unique_indices, indices_are_sorted=indices_are_sorted)


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
  arr = asarray(arr)
  if axis is None:
    arr = ravel(arr)
    indices = np.ravel(indices) if not hasattr(indices, "aval") else ravel(indices)
    axis = 0
  nd = ndim(arr)
  axis = canonicalize_axis(axis, nd, "take_along_axis")
  ind = asarray(indices)          # may be traced (e.g. argsort under grad/vmap/jit)
  if not dtypes.is_int(ind.dtype):
    raise TypeError(f"take_along_axis: indices must be integers, got {ind.dtype}")
  if ind.ndim != nd:
    raise ValueError(f"take_along_axis: indices and arr must have the same number of "
                     f"dimensions; {ind.ndim} vs. {nd}")
  sh = _shape(arr)
  n = sh[axis]
  out_shape = np.broadcast_shapes(tuple(s if i != axis else 1 for i, s in enumerate(sh)),
                                  tuple(s if i != axis else 1 for i, s in enumerate(ind.shape)))
  out_shape = tuple(out_shape[i] if i != axis else ind.shape[axis] for i in range(nd))
  ind = lax.convert_element_type(broadcast_to(ind, out_shape), np.int32)
  ind = lax.select_n(lax.lt(ind, lax._scalar_like(0, ind)), ind,
                     lax.add(ind, lax._scalar_like(n, ind)))
  full = [ind if i == axis else shapes.broadcasted_iota(np.int32, out_shape, i)
          for i in range(nd)]
  arr = broadcast_to(arr, tuple(out_shape[i] if i != axis else n for i in range(nd)))
  idx = shapes.concatenate([shapes.expand_dims(f, (nd,)) for f in full], nd) if nd else ind
  dn = slicing.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=tuple(range(nd)),
                                      start_index_map=tuple(range(nd)))
  m = slicing.GatherScatterMode.FILL_OR_DROP if mode is None else mode
  return slicing.gather(arr, idx, dn, (1,) * nd, mode=m, fill_value=fill_value)


def diff(a, n=1, axis=-1, prepend=None, append=None):
  a = asarray(a)
  axis = canonicalize_axis(axis, ndim(a), "diff")
  parts = []
  for extra in (prepend, None, append):
    if extra is None:
      continue
    e = asarray(extra)
    if ndim(e) == 0:
      sh = list(_shape(a))
      sh[axis] = 1
      e = broadcast_to(e, tuple(sh))
    parts.append(e)
  if prepend is not None or append is not None:
    pieces = ([parts[0]] if prepend is not None else []) + [a] + \
        ([parts[-1]] if append is not None else [])
    a = concatenate(pieces, axis)
  for _ in range(int(n)):
    m = _shape(a)[axis]
    if m == 0:
      break
    hi = slicing.slice_in_dim(a, 1, m, 1, axis)
    lo = slicing.slice_in_dim(a, 0, m - 1, 1, axis)
    if dtypes.is_bool(core.get_aval(a).dtype):
      a = ufuncs.not_equal(hi, lo)
    else:
      a = ufuncs.subtract(hi, lo)
  return a


def pad(array, pad_width, mode="constant", **kwargs):
  a = asarray(array)
  nd = ndim(a)
  if nd == 0:
    return a
  pw = np.broadcast_to(np.asarray(pad_width, np.int64), (nd, 2))
  if (pw < 0).any():
    raise ValueError(f"pad: pad_width must be non-negative, got {pad_width}")
  if callable(mode):
    raise NotImplementedError("pad: callable modes are not supported")
  if mode == "constant":
    cv = np.broadcast_to(np.asarray(kwargs.get("constant_values", 0)), (nd, 2)) if nd else None
    dt = core.get_aval(a).dtype
    for ax in range(nd):
      for side in (0, 1):
        if pw[ax, side] == 0:
          continue
        v = lax.convert_element_type(lax.asarray_lax(np.asarray(cv[ax, side])), dt)
        cfg = [(0, 0, 0)] * nd
        cfg[ax] = (int(pw[ax, 0]), 0, 0) if side == 0 else (0, int(pw[ax, 1]), 0)
        a = shapes.pad(a, v, cfg)
    return a
  if mode not in ("edge", "reflect", "symmetric", "wrap"):
    raise NotImplementedError(f"pad: mode {mode!r} is not supported")
  for ax in range(nd):
    n = _shape(a)[ax]
    lo, hi = int(pw[ax, 0]), int(pw[ax, 1])
    if lo == 0 and hi == 0:
      continue
    if n == 0:
      raise ValueError(f"pad: can't extend empty axis {ax} using modes other than 'constant'")
    idx = np.arange(-lo, n + hi)
    if mode == "edge":
      idx = np.clip(idx, 0, n - 1)
    elif mode == "wrap":
      idx = idx % n
    elif mode == "reflect":
      if n == 1:
        idx = np.zeros_like(idx)
      else:
        p = 2 * (n - 1)
        idx = idx % p
        idx = np.where(idx >= n, p - idx, idx)
    else:  # symmetric
      p = 2 * n
      idx = idx % p
      idx = np.where(idx >= n, p - 1 - idx, idx)
    a = take(a, idx.astype(np.int32), axis=ax, mode="clip")
  return a


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
  a = asarray(arr)
  if axis is None:
    a = ravel(a)
    axis = 0
  axis = canonicalize_axis(axis, ndim(a), "delete")
  n = _shape(a)[axis]
  if isinstance(obj, builtins.slice):
    drop = np.arange(n)[obj]
  else:
    drop = np.asarray(obj)
    if drop.dtype == bool:
      drop = np.nonzero(drop)[0]
    drop = np.where(drop < 0, drop + n, drop)
  keep = np.setdiff1d(np.arange(n), drop)
  return take(a, keep.astype(np.int32), axis=axis)


def insert(arr, obj, values, axis=None):
  a = asarray(arr)
  if axis is None:
    a = ravel(a)
    axis = 0
  axis = canonicalize_axis(axis, ndim(a), "insert")
  n = _shape(a)[axis]
  scalar_obj = isinstance(obj, (int, np.integer))
  pos = np.arange(n + 1)[obj] if isinstance(obj, builtins.slice) else np.asarray(obj)
  pos = np.where(pos < 0, pos + n, pos).reshape(-1)
  v = asarray(values)
  v = lax.convert_element_type(v, core.get_aval(a).dtype)
  if scalar_obj:
    v = shapes.reshape(v, (1,) * (ndim(a) - ndim(v)) + _shape(v)) if ndim(v) < ndim(a) else v
    v = moveaxis(v, 0, axis)
    vsh = list(_shape(a))
    vsh[axis] = _shape(v)[axis]
  else:
    vsh = list(_shape(a))
    vsh[axis] = len(pos)
  v = broadcast_to(v, tuple(vsh))
  k = _shape(v)[axis]
  pos = np.broadcast_to(pos, (k,)) if len(pos) == 1 else pos
  # new order: stable merge of old positions and insertion points
  order = np.argsort(np.concatenate([2 * np.arange(n) + 1, 2 * pos]), kind="stable")
  both = concatenate([a, v], axis)
  return take(both, order.astype(np.int32), axis=axis)


def trim_zeros(filt, trim="fb"):
  f = np.asarray(filt)
  nz = np.nonzero(f)[0]
  if nz.size == 0:
    return slicing.slice_in_dim(asarray(filt), 0, 0)
  s = nz[0] if "f" in trim.lower() else 0
  e = nz[-1] + 1 if "b" in trim.lower() else len(f)
  return slicing.slice_in_dim(asarray(filt), int(s), int(e))



__all__ = ['reshape', 'ravel', 'ndim', 'shape', 'size', 'transpose', 'permute_dims',
           'matrix_transpose', 'moveaxis', 'swapaxes', 'expand_dims', 'squeeze', 'concatenate',
           'concat', 'stack', 'hstack', 'vstack', 'dstack', 'column_stack', 'split',
           'array_split', 'hsplit', 'vsplit', 'dsplit', 'unstack', 'tile', 'repeat', 'flip',
           'fliplr', 'flipud', 'roll', 'rot90', 'broadcast_to', 'broadcast_arrays',
           'broadcast_shapes', 'pad', 'take', 'take_along_axis', 'diff', 'atleast_1d',
           'atleast_2d', 'atleast_3d', 'trim_zeros', 'insert', 'delete']
