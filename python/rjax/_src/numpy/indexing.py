"""NumPy indexing (``x[idx]``) and functional updates (``x.at[idx].set(v)``).

Reads: basic indexing becomes slice/rev/squeeze/reshape; integer arrays
become one gather (whole rows are copied when the indexed dims lead), with
out-of-bounds indices clamped (JAX's default for reads). Updates: the index
is resolved on the (static) shape into flat positions with NumPy, then one
scatter into the flattened array; out-of-bounds updates are dropped by
default (JAX's default for writes).
"""
from __future__ import annotations

import builtins

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.errors import NonConcreteBooleanIndexError
from rjax._src.lax import lax, shapes, slicing
from rjax._src.lax.slicing import GatherDimensionNumbers, GatherScatterMode, \
    ScatterDimensionNumbers
from rjax._src.numpy import shape_ops, ufuncs


def _is_traced(x) -> bool:
  return isinstance(x, core.Tracer)


def _is_int_scalar(i) -> bool:
  return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def _as_index_array(i):
  """NumPy arrays and concrete rjax arrays -> NumPy arrays (tracers pass)."""
  if _is_traced(i):
    return i
  a = np.asarray(i)
  if a.dtype == object:
    raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and integer or "
                     f"boolean arrays are valid indices, got {i!r}")
  if a.size and a.dtype.kind not in "biu":
    raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                    f"{a.dtype}")
  if a.size == 0 and a.dtype.kind not in "biu":
    a = a.astype(np.int32)
  return a


def _check_python_int(i: int) -> None:
  """A Python int index must fit the default index type (JAX converts it)."""
  dt = dtypes.default_int_dtype()
  info = np.iinfo(dt)
  if not info.min <= i <= info.max:
    raise OverflowError(f"Python int {i} too large to convert to {dt.name}")


def _check_indexer(i) -> None:
  """JAX's rules for what may index an array (TypeError otherwise)."""
  if isinstance(i, (list,)):
    raise TypeError("Using a non-tuple sequence for multidimensional indexing is not allowed; "
                    "use `arr[array(seq)]` instead of `arr[seq]`.")
  if isinstance(i, (str, bytes, float, complex)) or \
      (isinstance(i, np.generic) and i.dtype.kind not in "biu"):
    raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                    f"{type(i).__name__}")


def _normalize(x_shape, idx):
  """Expand to a list of entries, one of: ('none',), ('int', i), ('slice', s),
  ('array', a) (NumPy or tracer); bool masks become integer arrays. Also returns
  the x dim each entry consumes (None for 'none')."""
  if not isinstance(idx, tuple):
    idx = (idx,)
  items = []
  for i in idx:
    _check_indexer(i)
    if type(i) is int:
      _check_python_int(i)
    if i is None or i is Ellipsis or isinstance(i, builtins.slice) or _is_int_scalar(i):
      items.append(i)
    elif isinstance(i, (bool, np.bool_)):
      items.append(np.asarray(i))
    elif _is_traced(i):
      aval = core.get_aval(i)
      if dtypes.is_bool(aval.dtype):
        raise NonConcreteBooleanIndexError(
            f"Array boolean indices must be concrete; got a traced boolean mask "
            f"{aval.str_short()}. Use rjax.numpy.where (or a static size= argument to "
            f"rjax.numpy.nonzero) instead.")
      if not dtypes.is_int(aval.dtype):
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                        f"{aval.dtype.name}")
      items.append(i if aval.ndim else i)
    else:
      a = _as_index_array(i)
      items.append(int(a) if a.ndim == 0 and a.dtype.kind in "iu" else a)
  n_ell = sum(1 for i in items if i is Ellipsis)
  if n_ell > 1:
    raise IndexError("an index can only have a single ellipsis ('...')")
  used = builtins.sum(1 if not isinstance(i, np.ndarray) or i.dtype != bool else i.ndim
                      for i in items if i is not None and i is not Ellipsis)
  if used > len(x_shape):
    raise IndexError(f"Too many indices: array is {len(x_shape)}-dimensional, but {used} were "
                     "indexed")
  out = []
  for i in items:
    if i is Ellipsis:
      out.extend([builtins.slice(None)] * (len(x_shape) - used))
    else:
      out.append(i)
  if n_ell == 0:
    out.extend([builtins.slice(None)] * (len(x_shape) - used))
  entries, dim = [], 0
  for i in out:
    if i is None:
      entries.append((("none",), None))
    elif isinstance(i, builtins.slice):
      entries.append((("slice", i), dim))
      dim += 1
    elif _is_int_scalar(i):
      entries.append((("int", int(i)), dim))
      dim += 1
    elif isinstance(i, np.ndarray) and i.dtype == bool:
      if i.ndim == 0:
        raise IndexError("rjax does not support scalar boolean indices")
      if i.shape != tuple(x_shape[dim:dim + i.ndim]):
        raise IndexError(f"boolean index of shape {i.shape} does not match the indexed "
                         f"dimensions {tuple(x_shape[dim:dim + i.ndim])}")
      for nz in np.nonzero(i):
        entries.append((("array", nz), dim))
        dim += 1
    else:
      entries.append((("array", i), dim))
      dim += 1
  return entries


def _basic(x, entries):
  """Apply ints/slices/None (arrays are kept as full slices). Returns the
  result and, for each kept array entry, its dim in the result."""
  shape = core.get_aval(x).shape
  start, limit, step, revd, squeeze_dims, out_shape = [], [], [], [], [], []
  keep_arr = []
  for (e, d) in entries:
    if d is None:
      continue
    n = shape[d]
    if e[0] == "int":
      i = e[1]
      if n == 0:
        raise IndexError(f"index {i} is out of bounds for axis {d} with size 0")
      # Out-of-bounds static ints clamp, as JAX does for every read.
      i = min(max(i + n if i < 0 else i, 0), n - 1)
      start.append(i), limit.append(i + 1), step.append(1)
      squeeze_dims.append(d)
    elif e[0] == "slice":
      s, t, k = e[1].indices(n)
      cnt = len(range(s, t, k))
      if k < 0:
        revd.append(d)
        s = n - 1 - s if cnt else 0
        k = -k
      if cnt == 0:
        s = 0
      start.append(s), limit.append(s + (cnt - 1) * k + 1 if cnt else s), step.append(k)
    else:
      start.append(0), limit.append(n), step.append(1)
  if revd:
    x = shapes.rev(x, revd)
  x = slicing.slice(x, start, limit, step)
  x = shapes.squeeze(x, squeeze_dims) if squeeze_dims else x
  # insert None dims and find where the array-indexed dims are
  sh = core.get_aval(x).shape
  new_shape, pos, k = [], [], 0
  for (e, d) in entries:
    if e[0] == "none":
      new_shape.append(1)
    elif e[0] == "int" and d is not None:
      continue
    else:
      if e[0] == "array":
        pos.append(len(new_shape))
      new_shape.append(sh[k])
      k += 1
  x = shapes.reshape(x, new_shape)
  return x, pos


def _index_vector(arrays, sizes):
  """Broadcast the index arrays, wrap negatives and stack them on a last dim."""
  if all(isinstance(a, np.ndarray) for a in arrays):
    b = np.broadcast_arrays(*arrays)
    b = [np.where(a < 0, a + n, a) for a, n in zip(b, sizes)]
    idx = np.stack(b, -1) if b else np.zeros((0,), np.int32)
    big = idx.size and (idx.max() >= 2**31 or idx.min() < -2**31)
    return idx.astype(np.int64 if big else np.int32)
  arrs = [lax.asarray_lax(a) for a in arrays]
  arrs = [lax.convert_element_type(a, np.int32) for a in arrs]
  arrs = shape_ops.broadcast_arrays(*arrs)
  arrs = [lax.select(lax.lt(a, 0), lax.add(a, np.int32(n)), a) for a, n in zip(arrs, sizes)]
  return shape_ops.stack(arrs, -1)


def getitem(x, idx, mode=None, fill_value=None):
  """``x[idx]`` with NumPy's semantics (out-of-bounds array indices clamp)."""
  x = lax.asarray_lax(x)
  entries = _normalize(core.get_aval(x).shape, idx)
  arr_entries = [(e, d) for e, d in entries if e[0] == "array" and d is not None]
  y, pos = _basic(x, entries)
  if not arr_entries:
    return y
  yshape = core.get_aval(y).shape
  idx_vec = _index_vector([e[1] for e, _ in arr_entries], [yshape[p] for p in pos])
  ishape = core.get_aval(lax.asarray_lax(idx_vec)).shape if not isinstance(idx_vec, np.ndarray) \
      else idx_vec.shape
  bshape = ishape[:-1]
  if any(yshape[p] == 0 for p in pos):
    if int(np.prod(bshape)):
      raise IndexError("index is out of bounds for an axis of size 0")
    idx_vec = np.zeros(ishape, np.int32)
    y = shapes.pad(y, lax.convert_element_type(lax.asarray_lax(np.asarray(0)), core.get_aval(y).dtype),
                   [(0, 1 if d in pos else 0, 0) for d in range(len(yshape))])
    yshape = core.get_aval(y).shape
  # NumPy: adjacent advanced indices keep their place; separated ones go first.
  adv_positions = [i for i, (e, d) in enumerate(entries)
                   if e[0] == "int" or (e[0] == "array" and d is not None)]
  adjacent = adv_positions == list(range(adv_positions[0], adv_positions[-1] + 1))
  rest = [d for d in range(len(yshape)) if d not in pos]
  q = builtins.sum(1 for d in rest if d < min(pos)) if adjacent else 0
  nb = len(bshape)
  offset_dims = tuple(list(range(q)) + list(range(q + nb, nb + len(rest))))
  sizes = tuple(1 if d in pos else yshape[d] for d in range(len(yshape)))
  dn = GatherDimensionNumbers(offset_dims=offset_dims, collapsed_slice_dims=tuple(sorted(pos)),
                              start_index_map=tuple(pos))
  if mode is None:
    mode = GatherScatterMode.CLIP
  return slicing.gather(y, idx_vec, dn, sizes, mode=mode, fill_value=fill_value)


# ---------------------------------------------------------------------------
# .at[] updates


def _flat_positions(shape, idx, mode):
  """Flat positions selected by ``idx`` on an array of ``shape``, in the shape
  of ``x[idx]``; out-of-bounds array entries map to ``size`` (dropped by the
  scatter) unless ``mode`` clips."""
  entries = _normalize(shape, idx)
  size = int(np.prod(shape, dtype=np.int64))
  if any(e[0] == "array" and not isinstance(e[1], np.ndarray) for e, _ in entries):
    raise NotImplementedError(".at[] with traced index arrays is not supported yet")
  adv = sorted({d for e, d in entries if d is not None and e[0] in ("array", "int")})
  pad = [(0, 1) if d in adv else (0, 0) for d in range(len(shape))]
  pos = np.pad(np.arange(size, dtype=np.int64).reshape(shape), pad, constant_values=size)
  np_idx = []
  for e, d in entries:
    if e[0] == "none":
      np_idx.append(None)
    elif e[0] == "slice":
      np_idx.append(e[1])
    elif d is None:
      np_idx.append(e[1])
    else:
      n = shape[d]
      a = np.asarray(e[1], np.int64)
      a = np.where(a < 0, a + n, a)
      a = np.clip(a, 0, n - 1) if mode == GatherScatterMode.CLIP else \
          np.where((a < 0) | (a >= n), n, a)
      np_idx.append(a if e[0] == "array" else int(a))
  return pos[tuple(np_idx)], size


def _leading_index(shape, idx):
  """For indices made of ints/integer arrays on the leading dims followed by
  full slices (``x.at[i]``, ``x.at[rows]``, ``x.at[i, j]``): the broadcast
  index vector, else None."""
  try:
    entries = _normalize(shape, idx)
  except IndexError:
    return None
  k = 0
  for e, d in entries:
    if e[0] in ("int", "array") and k == d:
      k += 1
    elif e[0] == "slice" and e[1] == builtins.slice(None):
      continue
    else:
      return None
  if k == 0 or any(e[0] != "slice" for e, _ in entries[k:]):
    return None
  return _index_vector([np.asarray(e[1], np.int64) if e[0] == "int" else e[1]
                        for e, _ in entries[:k]], shape[:k])


def _scatter_update(x, idx, values, scatter_fn, mode, indices_are_sorted, unique_indices):
  x = lax.asarray_lax(x)
  aval = core.get_aval(x)
  mode = GatherScatterMode.from_any(mode)
  if mode == GatherScatterMode.PROMISE_IN_BOUNDS:
    mode = GatherScatterMode.FILL_OR_DROP
  vec = _leading_index(aval.shape, idx) if aval.size else None
  if vec is not None:
    # Fast path: whole rows are written, no flattening.
    vshape = core.get_aval(vec).shape if _is_traced(vec) else vec.shape
    k = vshape[-1]
    nb = len(vshape) - 1
    v = _cast_to(values, x)
    v = shape_ops.broadcast_to(v, vshape[:-1] + aval.shape[k:])
    dn = ScatterDimensionNumbers(update_window_dims=tuple(range(nb, nb + aval.ndim - k)),
                                 inserted_window_dims=tuple(range(k)),
                                 scatter_dims_to_operand_dims=tuple(range(k)))
    return scatter_fn(x, vec, v, dn, indices_are_sorted=indices_are_sorted,
                      unique_indices=unique_indices, mode=mode)
  pos, size = _flat_positions(aval.shape, idx, mode)
  if size == 0 or pos.size == 0:
    shape_ops.broadcast_to(values, pos.shape)  # still check the values' shape
    return x
  v = lax.asarray_lax(values) if not isinstance(values, (bool, int, float)) else values
  v = lax.convert_element_type(v, aval.dtype) if not isinstance(v, (bool, int, float)) else \
      lax._scalar_like(v, x)
  v = shape_ops.broadcast_to(v, pos.shape)
  flat = shapes.reshape(x, (size,))
  idx_arr = pos.reshape(pos.shape + (1,)).astype(np.int64 if size >= 2**31 else np.int32)
  dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                               scatter_dims_to_operand_dims=(0,))
  out = scatter_fn(flat, idx_arr, v, dn, indices_are_sorted=indices_are_sorted,
                   unique_indices=unique_indices, mode=mode)
  return shapes.reshape(out, aval.shape)


class _IndexUpdateHelper:
  """``x.at``: ``x.at[idx]`` returns an :class:`_IndexUpdateRef`."""

  __slots__ = ("array",)

  def __init__(self, array):
    self.array = array

  def __getitem__(self, index):
    return _IndexUpdateRef(self.array, index)

  def __repr__(self):
    return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
  """``x.at[idx]``: functional updates of ``x`` at ``idx`` (JAX's API)."""

  __slots__ = ("array", "index")

  def __init__(self, array, index):
    self.array = array
    self.index = index

  def __repr__(self):
    return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

  def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None):
    m = GatherScatterMode.from_any(mode) if mode is not None else None
    if m == GatherScatterMode.FILL_OR_DROP:
      aval = core.get_aval(self.array)
      pos, size = _flat_positions(aval.shape, self.index, m)
      flat = shapes.reshape(self.array, (size,))
      dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
                                  start_index_map=(0,))
      return slicing.gather(flat, pos[..., None].astype(np.int32 if size < 2**31 else np.int64),
                            dn, (1,), mode=m, fill_value=fill_value)
    return getitem(self.array, self.index)

  def _do(self, fn, values, indices_are_sorted, unique_indices, mode):
    return _scatter_update(self.array, self.index, values, fn, mode, indices_are_sorted,
                           unique_indices)

  def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    return self._do(slicing.scatter, values, indices_are_sorted, unique_indices, mode)

  def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    return self._do(slicing.scatter_add, values, indices_are_sorted, unique_indices, mode)

  def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    v = ufuncs.negative(_cast_to(values, self.array))
    return self._do(slicing.scatter_add, v, indices_are_sorted, unique_indices, mode)

  def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    return self._do(slicing.scatter_mul, values, indices_are_sorted, unique_indices, mode)

  mul = multiply

  def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    ones = shapes.full_like(self.array, 1)
    d = _IndexUpdateRef(ones, self.index).multiply(values, indices_are_sorted=indices_are_sorted,
                                                    unique_indices=unique_indices, mode=mode)
    return ufuncs.divide(self.array, d)

  def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    ones = shapes.full_like(self.array, 1)
    e = _IndexUpdateRef(ones, self.index).multiply(values, indices_are_sorted=indices_are_sorted,
                                                    unique_indices=unique_indices, mode=mode)
    return ufuncs.power(self.array, e)

  def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    return self._do(slicing.scatter_min, values, indices_are_sorted, unique_indices, mode)

  def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
    return self._do(slicing.scatter_max, values, indices_are_sorted, unique_indices, mode)

  def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
    """``x[idx] = func(x[idx])`` (each selected element once)."""
    cur = self.get(mode="clip")
    return self.set(func(cur), indices_are_sorted=indices_are_sorted,
                    unique_indices=unique_indices, mode=mode)


def _cast_to(values, x):
  dt = core.get_aval(x).dtype
  if isinstance(values, (bool, int, float)):
    return lax._scalar_like(values, x)
  return lax.convert_element_type(lax.asarray_lax(values), dt)


__all__: list[str] = []
