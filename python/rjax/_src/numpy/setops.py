"""Set operations: unique (and unique_all/counts/inverse/values), isin,
union1d, intersect1d, setdiff1d, setxor1d.

The output size of each depends on the data. Without ``size=`` the input must
be concrete (its mask is read on the host, as in JAX); with a static ``size``
every step is a lax operation, so the function works under ``jit``, ``vmap``
and ``grad``, with the result padded (``fill_value``) or truncated to
``size`` exactly as JAX pads it.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, reductions as lr, shapes, slicing
from rjax._src.numpy import reductions, shape_ops, sorting, ufuncs
from rjax._src.numpy.sorting import concrete_or_error, static_size
from rjax._src.numpy.util import asarray, canonicalize_axis, check_arraylike, promote_dtypes

_HINT = ("To use it under jit or another transformation, pass a static `size=` argument "
         "(the output is then padded or truncated to that size).")


def _aval(x):
  return core.get_aval(x)


def _idt():
  return dtypes.default_int_dtype()


def _iota(n):
  return shapes.iota(_idt(), n)


def _int(v):
  return shapes.full((), v, _idt())


def _take0(x, idx):
  """``x[idx]`` along axis 0 (indices in bounds, or clamped)."""
  return shape_ops.take(x, idx, axis=0, mode="clip")


def _scatter1d(base, idx, vals, mode="drop"):
  """``base.at[idx].set(vals)`` for a 1-d ``base`` and 1-d ``idx``."""
  n = _aval(idx).shape[0]
  dn = slicing.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                       scatter_dims_to_operand_dims=(0,))
  return slicing.scatter(base, shapes.reshape(idx, (n, 1)), vals, dn, mode=mode)


def _where1(pred, x, fill):
  """``where(pred, x, fill)`` for a 1-d ``pred`` along the leading dim of ``x``."""
  xa = _aval(x)
  p = shapes.broadcast_in_dim(pred, xa.shape, (0,))
  f = lax.convert_element_type(asarray(fill), xa.dtype)
  return lax.select(p, x, shapes.broadcast_in_dim(f, xa.shape, tuple(range(xa.ndim - _aval(f).ndim,
                                                                       xa.ndim))))


def _neq(x, y, equal_nan):
  ne = lax.ne(x, y)
  if equal_nan and dtypes.is_float(_aval(x).dtype):
    both = lax.bitwise_and(lax.ne(x, x), lax.ne(y, y))
    ne = lax.bitwise_and(ne, lax.bitwise_not(both))
  return ne


def _unique_sorted_mask(ar, axis, equal_nan):
  """The slices of ``ar`` along ``axis`` sorted lexicographically (moved to
  axis 0), a mask of the first of each run of equal slices, and the sort
  permutation."""
  aux = shape_ops.moveaxis(ar, axis, 0)
  n, *rest = _aval(aux).shape
  m = math.prod(rest)
  if m == 0:
    n, perm = 1, shapes.full((1,), 0, _idt())
  elif m == 1:
    perm = sorting.argsort(shapes.reshape(aux, (n,)))
  else:
    flat = shapes.reshape(aux, (n, m))
    perm = sorting.lexsort([slicing.index_in_dim(flat, j, 1, keepdims=False)
                            for j in reversed(range(m))])
  aux = _take0(aux, perm) if _aval(aux).size else aux
  if _aval(aux).size:
    hi = slicing.slice_in_dim(aux, 1, n, 1, 0)
    lo = slicing.slice_in_dim(aux, 0, n - 1, 1, 0)
    step = _neq(hi, lo, equal_nan)
    if _aval(step).ndim > 1:
      step = lr.reduce_or(step, tuple(range(1, _aval(step).ndim)))
    mask = shapes.concatenate([shapes.full((1,), True, dtypes.bool_), step], 0)
  else:
    mask = shapes.full((n,), False, dtypes.bool_)
  return aux, mask, perm


def _unique(ar, axis, return_index=False, return_inverse=False, return_counts=False,
            equal_nan=True, size=None, fill_value=None, return_true_size=False):
  axis = canonicalize_axis(axis, _aval(ar).ndim, "unique")
  if _aval(ar).shape[axis] == 0 and size and fill_value is None:
    raise ValueError("jnp.unique: for zero-sized input with nonzero size argument, fill_value "
                     "must be specified")
  aux, mask, perm = _unique_sorted_mask(ar, axis, equal_nan)
  n_true = reductions.sum(mask, dtype=_idt())
  if size is None:
    ind = asarray(np.nonzero(concrete_or_error(mask, "unique", _HINT))[0].astype(_idt()))
  else:
    ind = sorting.nonzero(mask, size=size)[0]
  result = _take0(aux, ind) if _aval(aux).size else aux
  if size is not None and fill_value is not None:
    if _aval(result).shape[0]:
      result = _where1(lax.lt(_iota(size), n_true), result, fill_value)
    else:
      f = lax.convert_element_type(asarray(fill_value), _aval(result).dtype)
      shp = (size,) + _aval(result).shape[1:]
      result = shapes.broadcast_in_dim(f, shp, tuple(range(len(shp) - _aval(f).ndim, len(shp))))
  ret = [shape_ops.moveaxis(result, 0, axis)]
  if return_index:
    ret.append(_take0(perm, ind) if _aval(aux).size else perm)
  if return_inverse:
    if _aval(aux).size:
      imask = lax.sub(reductions.cumsum(mask, dtype=_idt()), _int(1))
      ret.append(_scatter1d(shapes.full(_aval(mask).shape, 0, _idt()), perm, imask))
    else:
      ret.append(shapes.full((_aval(ar).shape[axis],), 0, _idt()))
  if return_counts:
    nm = _aval(mask).shape[0]
    if _aval(aux).size:
      if size is None:
        idx = shape_ops.concatenate([ind, shapes.full((1,), nm, _idt())])
      else:
        idx = sorting.nonzero(mask, size=size + 1)[0]
        tail = slicing.slice_in_dim(idx, 1, size + 1)
        tail = lax.select(lax.ne(tail, _int(0)), tail, shapes.full((size,), nm, _idt()))
        idx = shapes.concatenate([slicing.slice_in_dim(idx, 0, 1), tail], 0)
      ret.append(shape_ops.diff(idx))
    elif _aval(ar).shape[axis]:
      ret.append(shapes.full((1,), _aval(ar).shape[axis], _idt()))
    else:
      ret.append(shapes.full((0,), 0, _idt()))
  if return_true_size:
    ret.append(n_true)
  return ret[0] if len(ret) == 1 else tuple(ret)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None, sorted=True):  # noqa: A002
  """Sorted unique values (or unique slices along ``axis``), and optionally
  the first indices, the inverse and the counts (JAX's ``jnp.unique``)."""
  del sorted
  check_arraylike("unique", ar)
  arr = asarray(ar)
  if size is None:
    concrete_or_error(arr, "unique", _HINT)
  else:
    size = static_size(size, "unique")
  arr_shape = _aval(arr).shape
  if axis is None:
    arr, ax = shapes.reshape(arr, (_aval(arr).size,)), 0
  else:
    ax = canonicalize_axis(axis, _aval(arr).ndim, "unique")
  result = _unique(arr, ax, return_index, return_inverse, return_counts, equal_nan=equal_nan,
                   size=size, fill_value=fill_value)
  if return_inverse and axis is None:
    i = 2 if return_index else 1
    result = (*result[:i], shapes.reshape(result[i], arr_shape), *result[i + 1:])
  return result


class _UniqueAllResult(NamedTuple):
  values: object
  indices: object
  inverse_indices: object
  counts: object


class _UniqueCountsResult(NamedTuple):
  values: object
  counts: object


class _UniqueInverseResult(NamedTuple):
  values: object
  inverse_indices: object


def unique_all(x, /, *, size=None, fill_value=None):
  """Array API ``unique_all``: values, indices, inverse_indices, counts (NaNs distinct)."""
  check_arraylike("unique_all", x)
  return _UniqueAllResult(*unique(x, return_index=True, return_inverse=True, return_counts=True,
                                  equal_nan=False, size=size, fill_value=fill_value))


def unique_counts(x, /, *, size=None, fill_value=None):
  check_arraylike("unique_counts", x)
  return _UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False, size=size,
                                     fill_value=fill_value))


def unique_inverse(x, /, *, size=None, fill_value=None):
  check_arraylike("unique_inverse", x)
  return _UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False, size=size,
                                      fill_value=fill_value))


def unique_values(x, /, *, size=None, fill_value=None):
  check_arraylike("unique_values", x)
  return unique(x, equal_nan=False, size=size, fill_value=fill_value)


# ---------------------------------------------------------------------------
# Membership and set algebra


def _ravel(x):
  return shapes.reshape(x, (_aval(x).size,))


def _in1d(ar1, ar2, invert, method="auto", assume_unique=False):
  a1, a2 = promote_dtypes(ar1, ar2)
  a1, a2 = _ravel(asarray(a1)), _ravel(asarray(a2))
  n1, n2 = _aval(a1).shape[0], _aval(a2).shape[0]
  if n1 == 0 or n2 == 0:
    return shapes.full((n1,), bool(invert), dtypes.bool_)
  if method in ("auto", "compare_all"):
    full = (n1, n2)
    eq = lax.eq(shapes.broadcast_in_dim(a1, full, (0,)), shapes.broadcast_in_dim(a2, full, (1,)))
    if invert:
      return lr.reduce_and(lax.bitwise_not(eq), (1,))
    return lr.reduce_or(eq, (1,))
  if method == "binary_search":
    s2 = sorting.sort(a2)
    ind = lax.min(sorting.searchsorted(s2, a1), _int(n2 - 1))
    hit = _take0(s2, ind)
    return lax.ne(a1, hit) if invert else lax.eq(a1, hit)
  if method == "sort":
    if assume_unique:
      ind_out = None
    else:
      a1, ind_out = unique(a1, size=n1, return_inverse=True, fill_value=lr.reduce_max(a2, (0,)))
    both = shapes.concatenate([a1, a2], 0)
    aux, ind = lr.sort_key_val(both, _iota(n1 + n2))
    hi, lo = slicing.slice_in_dim(aux, 1, n1 + n2), slicing.slice_in_dim(aux, 0, n1 + n2 - 1)
    base = shapes.full((n1,), bool(invert), dtypes.bool_)
    out = _scatter1d(base, slicing.slice_in_dim(ind, 0, n1 + n2 - 1),
                     lax.ne(hi, lo) if invert else lax.eq(hi, lo), mode="drop")
    return out if ind_out is None else _take0(out, ind_out)
  raise ValueError(f"method={method!r} is not implemented; options are 'compare_all', "
                   "'binary_search', 'sort', and 'auto'")


def isin(element, test_elements, assume_unique=False, invert=False, *, method="auto"):
  """Whether each element of ``element`` is in ``test_elements`` (same shape as ``element``)."""
  check_arraylike("isin", element, test_elements)
  element = asarray(element)
  out = _in1d(element, asarray(test_elements), invert, method, assume_unique)
  return shapes.reshape(out, _aval(element).shape)


def _filled(x, n_valid, fill_value, size):
  """Entries past ``n_valid`` set to ``fill_value``, or by default to the
  smallest valid entry (JAX's default fill of the set operations)."""
  valid = lax.lt(_iota(size), n_valid)
  if fill_value is not None:
    return _where1(valid, x, fill_value)
  if not size:   # (JAX takes the max of the empty result)
    raise ValueError("zero-size array to reduction operation max which has no identity: pass "
                     "a fill_value with size=0")
  x = _where1(valid, x, lr.reduce_max(x, (0,)))
  return _where1(valid, x, lr.reduce_min(x, (0,)))


def union1d(ar1, ar2, *, size=None, fill_value=None):
  """Sorted unique values in either array."""
  check_arraylike("union1d", ar1, ar2)
  if size is None:
    concrete_or_error(asarray(ar1), "union1d", _HINT)
    concrete_or_error(asarray(ar2), "union1d", _HINT)
  a1, a2 = (_ravel(asarray(a)) for a in promote_dtypes(ar1, ar2))
  return unique(shapes.concatenate([a1, a2], 0), size=size, fill_value=fill_value)


def setdiff1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
  """Sorted unique values of ``ar1`` that are not in ``ar2``."""
  check_arraylike("setdiff1d", ar1, ar2)
  a1, a2 = _ravel(asarray(ar1)), _ravel(asarray(ar2))
  if size is None:
    concrete_or_error(a1, "setdiff1d", _HINT)
  else:
    size = static_size(size, "setdiff1d")
  fill = lax.convert_element_type(asarray(0 if fill_value is None else fill_value),
                                  _aval(a1).dtype)
  n1 = _aval(a1).shape[0]
  if n1 == 0:
    return shapes.broadcast_in_dim(fill, (size or 0,), ())
  if size == 0:   # (JAX indexes the empty unique() result here)
    raise IndexError("setdiff1d: size=0 with a non-empty ar1: index is out of bounds for axis 0 "
                     "with size 0")
  if not assume_unique:
    a1 = unique(a1, size=size and n1)
  mask = _in1d(a1, a2, invert=True, assume_unique=assume_unique)
  if size is None:
    keep = np.nonzero(concrete_or_error(mask, "setdiff1d", _HINT))[0]
    return _take0(a1, asarray(keep.astype(_idt())))
  if not assume_unique:
    # the padding of unique() repeats its first value: only the first n_unique count
    n_unique = lax.sub(_int(n1 + 1), reductions.sum(lax.eq(a1, _take0(a1, _int(0))),
                                                        dtype=_idt()))
    mask = lax.bitwise_and(mask, lax.lt(_iota(n1), n_unique))
  picked = _take0(a1, sorting.nonzero(mask, size=size)[0])
  return _where1(lax.lt(_iota(size), reductions.sum(mask, dtype=_idt())), picked, fill)


def _concat_unique(a1, a2):
  """Unique values of each array, packed one after the other, and how many there are."""
  a1, n1 = _unique(a1, 0, size=_aval(a1).size, return_true_size=True)
  a2, n2 = _unique(a2, 0, size=_aval(a2).size, return_true_size=True)
  dt = _aval(a1).dtype
  arr = shapes.full((_aval(a1).size + _aval(a2).size,), 0, dt)
  arr = slicing.dynamic_update_slice(arr, a1, (_int(0),))
  arr = slicing.dynamic_update_slice(arr, a2, (n1,))
  return arr, lax.add(n1, n2)


def _bool_scalar_vec(v):
  return shapes.full((1,), bool(v), dtypes.bool_)


def setxor1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
  """Sorted values that are in exactly one of the arrays."""
  check_arraylike("setxor1d", ar1, ar2)
  a1, a2 = (_ravel(asarray(a)) for a in promote_dtypes(ar1, ar2))
  if size is not None:
    return _setxor1d_size(a1, a2, fill_value, assume_unique, static_size(size, "setxor1d"))
  concrete_or_error(a1, "setxor1d", _HINT)
  concrete_or_error(a2, "setxor1d", _HINT)
  if not assume_unique:
    a1, a2 = unique(a1), unique(a2)
  aux = shapes.concatenate([a1, a2], 0)
  n = _aval(aux).shape[0]
  if n == 0:
    return aux
  aux = sorting.sort(aux)
  step = lax.ne(slicing.slice_in_dim(aux, 1, n), slicing.slice_in_dim(aux, 0, n - 1))
  flag = shapes.concatenate([_bool_scalar_vec(True), step, _bool_scalar_vec(True)], 0)
  keep = lax.bitwise_and(slicing.slice_in_dim(flag, 1, n + 1), slicing.slice_in_dim(flag, 0, n))
  idx = np.nonzero(np.asarray(keep))[0].astype(_idt())
  return _take0(aux, asarray(idx))


def _setxor1d_size(a1, a2, fill_value, assume_unique, size):
  if assume_unique:
    aux = sorting.sort(shapes.concatenate([a1, a2], 0))
    n = _aval(aux).shape[0]
    step = lax.ne(slicing.slice_in_dim(aux, 1, n), slicing.slice_in_dim(aux, 0, n - 1)) \
        if n else shapes.full((0,), False, dtypes.bool_)
    flag = shapes.concatenate([_bool_scalar_vec(bool(n)), step, _bool_scalar_vec(True)], 0)
  else:
    arr, num_unique = _concat_unique(a1, a2)
    n = _aval(arr).shape[0]
    mask = lax.lt(_iota(n + 1), lax.add(num_unique, _int(1)))
    _, aux = lr.sort((lax.bitwise_not(slicing.slice_in_dim(mask, 1, n + 1)), arr),
                     dimension=0, is_stable=True, num_keys=2)
    step = lax.ne(slicing.slice_in_dim(aux, 1, n), slicing.slice_in_dim(aux, 0, n - 1)) \
        if n else shapes.full((0,), False, dtypes.bool_)
    flag = shapes.concatenate([_bool_scalar_vec(bool(n)), step, _bool_scalar_vec(False)], 0)
    flag = _scatter1d(flag, shapes.reshape(num_unique, (1,)), _bool_scalar_vec(True))
    flag = lax.bitwise_and(mask, flag)
  aux_mask = lax.bitwise_and(slicing.slice_in_dim(flag, 1, n + 1),
                             slicing.slice_in_dim(flag, 0, n))
  num_results = reductions.sum(aux_mask, dtype=_idt())
  if n:
    idx = sorting.nonzero(aux_mask, size=size, fill_value=n)[0]
    vals = slicing.gather(aux, shapes.reshape(idx, (size, 1)),
                          slicing.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
                                                         start_index_map=(0,)),
                          (1,), mode=slicing.GatherScatterMode.FILL_OR_DROP, fill_value=0)
  else:
    vals = shapes.full((size,), 0, _aval(aux).dtype)
  return _filled(vals, num_results, fill_value, size)


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None,
                fill_value=None):
  """Sorted values in both arrays (and, optionally, where they first occur in each)."""
  check_arraylike("intersect1d", ar1, ar2)
  a1, a2 = (_ravel(asarray(a)) for a in promote_dtypes(ar1, ar2))
  if size is not None:
    return _intersect1d_size(a1, a2, fill_value, assume_unique, static_size(size, "intersect1d"),
                             return_indices)
  concrete_or_error(a1, "intersect1d", _HINT)
  concrete_or_error(a2, "intersect1d", _HINT)
  ind1 = ind2 = None
  if not assume_unique:
    if return_indices:
      a1, ind1 = unique(a1, return_index=True)
      a2, ind2 = unique(a2, return_index=True)
    else:
      a1, a2 = unique(a1), unique(a2)
  n1 = _aval(a1).shape[0]
  arr = shapes.concatenate([a1, a2], 0)
  n = _aval(arr).shape[0]
  if return_indices:
    aux, order = lr.sort_key_val(arr, _iota(n))
  else:
    aux, order = sorting.sort(arr), None
  mask = np.asarray(lax.eq(slicing.slice_in_dim(aux, 1, n), slicing.slice_in_dim(aux, 0, n - 1))) \
      if n else np.zeros((0,), bool)
  keep = asarray(np.nonzero(mask)[0].astype(_idt()))
  out = _take0(slicing.slice_in_dim(aux, 0, max(n - 1, 0)), keep) if n else aux
  if not return_indices:
    return out
  i1 = _take0(slicing.slice_in_dim(order, 0, max(n - 1, 0)), keep) if n else order
  i2 = lax.sub(_take0(slicing.slice_in_dim(order, 1, n), keep), _int(n1)) if n else order
  if not assume_unique:
    i1, i2 = _take0(ind1, i1), _take0(ind2, i2)
  return out, i1, i2


def _fill_gather(x, idx, size, fill):
  """``x.at[idx].get(mode='fill', fill_value=fill)`` for 1-d ``x`` and ``idx``."""
  dn = slicing.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
                                      start_index_map=(0,))
  return slicing.gather(x, shapes.reshape(idx, (size, 1)), dn, (1,),
                        mode=slicing.GatherScatterMode.FILL_OR_DROP, fill_value=fill)


def _intersect1d_size(a1, a2, fill_value, assume_unique, size, return_indices):
  s1, s2 = _aval(a1).size, _aval(a2).size
  if assume_unique:
    ind1, n1 = _iota(s1), _int(s1)
    ind2 = _iota(s2)
    arr = shapes.concatenate([a1, a2], 0)
    n = s1 + s2
    aux, aux_idx = lr.sort((arr, _iota(n)), dimension=0, is_stable=True, num_keys=1)
    mask = shapes.full((n,), True, dtypes.bool_)
  else:
    a1, ind1, n1 = _unique(a1, 0, size=s1, return_index=True, return_true_size=True,
                           fill_value=0)
    a2, ind2, n2 = _unique(a2, 0, size=s2, return_index=True, return_true_size=True,
                           fill_value=0)
    n = s1 + s2
    arr = shapes.full((n,), 0, _aval(a1).dtype)
    arr = slicing.dynamic_update_slice(arr, a1, (_int(0),))
    arr = slicing.dynamic_update_slice(arr, a2, (n1,))
    mask = lax.lt(_iota(n), lax.add(n1, n2))
    _, aux, aux_idx = lr.sort((lax.bitwise_not(mask), arr, _iota(n)), dimension=0,
                              is_stable=True, num_keys=2)
  if n:
    aux_mask = lax.bitwise_and(
        lax.eq(slicing.slice_in_dim(aux, 1, n), slicing.slice_in_dim(aux, 0, n - 1)),
        slicing.slice_in_dim(mask, 1, n))
  else:
    aux_mask = shapes.full((0,), False, dtypes.bool_)
  num_results = reductions.sum(aux_mask, dtype=_idt())
  if n:
    val_idx = sorting.nonzero(aux_mask, size=size, fill_value=n)[0]
    vals = _fill_gather(aux, val_idx, size, 0)
  else:
    val_idx = shapes.full((size,), 0, _idt())
    vals = shapes.full((size,), 0, _aval(aux).dtype)
  vals = _filled(vals, num_results, fill_value, size)
  if not return_indices:
    return vals
  if not n:   # (JAX: empty index arrays, whatever the size)
    empty = shapes.full((0,), 0, _idt())
    return vals, empty, empty
  valid = lax.lt(_iota(size), num_results)
  i1 = _fill_gather(aux_idx, val_idx, size, s1)
  i1 = _where1(valid, i1, s1)
  i2 = lax.sub(_fill_gather(aux_idx, lax.add(val_idx, _int(1)), size, s2), n1)
  i2 = _where1(valid, i2, s2)
  if not assume_unique:
    i1 = _fill_gather(ind1, i1, size, _aval(ind1).size)
    i2 = _fill_gather(ind2, i2, size, _aval(ind2).size)
  return vals, i1, i2


__all__ = ["unique", "unique_all", "unique_counts", "unique_inverse", "unique_values", "isin",
           "union1d", "intersect1d", "setdiff1d", "setxor1d"]
