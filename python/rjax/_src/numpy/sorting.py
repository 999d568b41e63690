"""Sorting, searching and counting: sort, argsort, unique, searchsorted, bincount, ...

Until ``lax.rev``/gather land, reversal along an axis is a sort by a reversed
iota (``_rev``), and lookups use masked reductions. Functions whose output
shape depends on the data (``unique``, ``nonzero``, ...) need concrete input
(or a static ``size``) and read the data on the host, as JAX does.
"""
from __future__ import annotations

import operator

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import complex_ops, lax, reductions as lr, shapes, slicing
from rjax._src.numpy.util import asarray, canonicalize_axis, check_arraylike
from rjax._src.runtime.array import from_numpy
from rjax._src.base.errors import ConcretizationTypeError


def _aval(x):
  return core.get_aval(x)


def _arr(name, a):
  check_arraylike(name, a)
  return asarray(a)


def _ravel(a):
  return shapes.reshape(a, (_aval(a).size,))


def _rev(x, dim):
  """Reverse ``x`` along ``dim``."""
  return shapes.rev(x, (dim,)) if _aval(x).shape[dim] > 1 else x


def sort_complex(a):
  """``a`` sorted along its last axis (lexicographically: real part, then
  imaginary part), as a complex array (JAX's ``to_complex_dtype``)."""
  a = sort(a)
  dt = _aval(a).dtype
  # JAX's to_complex_dtype: 64-bit integers (under x64) give complex128
  wide = dt in (np.dtype(np.int64), np.dtype(np.uint64))
  cdt = dtypes.canonicalize_dtype(np.complex128) if wide else dtypes.complex_dtype(dt)
  return lax.convert_element_type(a, cdt)


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
  """Sorted copy of ``a`` along ``axis`` (NaNs last; first when descending)."""
  if kind is not None:
    raise TypeError("'kind' argument to sort is not supported. Use stable=True or "
                    "stable=False to specify sort stability.")
  if order is not None:
    raise TypeError("'order' argument to sort is not supported.")
  a = _arr("sort", a)
  if axis is None:
    a, axis = _ravel(a), 0
  dim = canonicalize_axis(axis, _aval(a).ndim, "sort")
  r = lr.sort(a, dimension=dim, is_stable=stable)
  return _rev(r, dim) if descending else r


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False, dtype=None):
  """Indices that sort ``a`` along ``axis``; ties keep their order."""
  if kind is not None:
    raise TypeError("'kind' argument to argsort is not supported. Use stable=True or "
                    "stable=False to specify sort stability.")
  if order is not None:
    raise TypeError("'order' argument to argsort is not supported.")
  a = _arr("argsort", a)
  if axis is None:
    a, axis = _ravel(a), 0
  dim = canonicalize_axis(axis, _aval(a).ndim, "argsort")
  idx_dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else dtypes.default_int_dtype()
  iota = shapes.broadcasted_iota(idx_dt, _aval(a).shape, dim)
  if descending:
    a, iota = _rev(a, dim), _rev(iota, dim)
  _, idx = lr.sort_key_val(a, iota, dimension=dim, is_stable=stable)
  return _rev(idx, dim) if descending else idx


def lexsort(keys, axis=-1):
  """Indices sorting by several keys; the last key is the primary one."""
  keys = tuple(keys)
  if not keys:
    raise TypeError("lexsort: need sequence of keys with len > 0 in lexsort")
  ks = [_arr("lexsort", k) for k in keys]
  if len({_aval(k).shape for k in ks}) != 1:
    raise ValueError("lexsort: all keys need to be the same shape")
  shape = _aval(ks[0]).shape
  if not shape:
    return shapes.full((), 0, dtypes.default_int_dtype())
  dim = canonicalize_axis(axis, len(shape), "lexsort")
  iota = shapes.broadcasted_iota(dtypes.default_int_dtype(), shape, dim)
  return lr.sort((*ks[::-1], iota), dimension=dim, num_keys=len(ks))[-1]


def _check_kth(name, a, kth, axis):
  n = _aval(a).shape[axis]
  kth = int(kth)
  if not -n <= kth < n:
    raise ValueError(f"{name}: kth={kth} out of bounds for axis of length {n}")


def partition(a, kth, axis=-1):
  """A partition of ``a`` around ``kth`` (here: the full sort, a valid one)."""
  a = _arr("partition", a)
  dim = canonicalize_axis(axis, _aval(a).ndim, "partition")
  _check_kth("partition", a, kth, dim)
  return lr.sort(a, dimension=dim)


def argpartition(a, kth, axis=-1):
  """Indices partitioning ``a`` around ``kth`` (here: the stable argsort)."""
  a = _arr("argpartition", a)
  dim = canonicalize_axis(axis, _aval(a).ndim, "argpartition")
  _check_kth("argpartition", a, kth, dim)
  return argsort(a, axis=dim)


def _lt_total(x, y):
  """``x < y`` in sort's total order (JAX's ``_sort_lt_comparator``): NaNs
  last; complex values by their real parts, then their imaginary parts."""
  if dtypes.is_complex(_aval(x).dtype):
    xr, yr = complex_ops.real(x), complex_ops.real(y)
    same_re = lax.select(lax.ne(xr, xr), lax.ne(yr, yr), lax.eq(xr, yr))
    return lax.select(same_re, _lt_total(complex_ops.imag(x), complex_ops.imag(y)),
                      _lt_total(xr, yr))
  lt = lax.lt(x, y)
  if dtypes.is_float(_aval(x).dtype):
    lt = lax.select(lax.ne(y, y), lax.eq(x, x), lt)
  return lt


def _take_perm(a, p):
  """``a[p]`` for a 1-d permutation ``p`` (two sorts)."""
  n = _aval(a).shape[0]
  inv = lr.sort_key_val(p, shapes.iota(_aval(p).dtype, n))[1]
  return lr.sort_key_val(inv, a)[1]


def searchsorted(a, v, side="left", sorter=None, *, method="scan"):
  """Insertion indices of ``v`` into the sorted 1-d ``a`` (``side`` 'left' or
  'right'), by JAX's algorithms: ``method='scan'`` (the default) and
  ``'scan_unrolled'`` are its binary search, ``ceil(log2(len(a) + 1))``
  halvings (so an unsorted ``a`` gives JAX's indices too); ``'compare_all'``
  and ``'sort'`` count the elements of ``a`` before each value (the same
  for a sorted ``a``). Comparisons are sort's total order."""
  a = _arr("searchsorted", a)
  v = _arr("searchsorted", v)
  if _aval(a).ndim != 1:
    raise ValueError("searchsorted: a should be 1-dimensional")
  if side not in ("left", "right"):
    raise ValueError(f"invalid argument side={side!r}, expected 'left' or 'right'")
  if method not in ("compare_all", "scan", "scan_unrolled", "sort"):
    raise ValueError(f"invalid argument method={method!r}, expected one of "
                     "['compare_all', 'scan', 'scan_unrolled', 'sort']")
  dt, _ = dtypes.result_type_and_weak(a, v)
  a, v = lax.convert_element_type(a, dt), lax.convert_element_type(v, dt)
  if sorter is not None:
    a = _take_perm(a, asarray(sorter))
  n = _aval(a).shape[0]
  vs = _aval(v).shape
  if method in ("scan", "scan_unrolled") and n:
    # go left where v <= a[mid] ('left') or v < a[mid] ('right')
    low, high = shapes.full(vs, 0, dtypes.int32), shapes.full(vs, n, dtypes.int32)
    for _ in range(int(np.ceil(np.log2(n + 1)))):
      mid = lax.add(low, lax.div(lax.sub(high, low), shapes.full(vs, 2, dtypes.int32)))
      dnums = slicing.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
                                             start_index_map=(0,))
      am = slicing.gather(a, shapes.expand_dims(mid, (len(vs),)), dnums, (1,),
                          mode="promise_in_bounds")
      left = _lt_total(v, am) if side == "right" else \
          lax.eq(_lt_total(am, v), shapes.full(vs, False, dtypes.bool_))
      low, high = lax.select(left, low, mid), lax.select(left, mid, high)
    return high
  full = vs + (n,)
  ab = shapes.broadcast_in_dim(a, full, (len(vs),))
  vb = shapes.broadcast_in_dim(v, full, tuple(range(len(vs))))
  hit = _lt_total(ab, vb) if side == "left" else lax.eq(_lt_total(vb, ab),
                                                         shapes.full((), False, dtypes.bool_))
  return lr.reduce_sum(lax.convert_element_type(hit, dtypes.int32), (len(vs),))


def digitize(x, bins, right=False):
  """Indices of the bins (monotonic ``bins``) into which each ``x`` falls."""
  x = _arr("digitize", x)
  bins = _arr("digitize", bins)
  if _aval(bins).ndim != 1:
    raise ValueError(f"digitize: bins must be a 1-dimensional array; got {_aval(bins).shape}")
  n = _aval(bins).shape[0]
  if n == 0:
    return shapes.full(_aval(x).shape, 0, dtypes.int32)
  side = "left" if right else "right"
  up = searchsorted(bins, x, side=side)
  down = lax.sub(shapes.full((), n, dtypes.int32), searchsorted(_rev(bins, 0), x, side=side))
  first, last = (_pick1(bins, 0), _pick1(bins, n - 1))
  return lax.select(shapes.broadcast_in_dim(lax.ge(last, first), _aval(up).shape, ()), up, down)


def _pick1(a, i):
  """``a[i]`` of a 1-d array as a 0-d array."""
  return slicing.dynamic_index_in_dim(a, shapes.full((), i, dtypes.int32), 0, keepdims=False)


def bincount(x, weights=None, minlength=0, *, length=None):
  """Counts (or summed ``weights``) of each non-negative int in ``x``.
  Without ``length`` the input must be concrete."""
  x = _arr("bincount", x)
  if not dtypes.is_int(_aval(x).dtype) and not dtypes.is_bool(_aval(x).dtype):
    raise TypeError(f"bincount: x argument must have an integer type; got {_aval(x).dtype}")
  if _aval(x).ndim != 1:
    raise ValueError("bincount: only 1-dimensional input supported.")
  if length is None:
    if isinstance(x, core.Tracer):
      raise TypeError("bincount: the length argument must be specified for traced input")
    xv = np.asarray(x)
    length = builtins_max(int(minlength), int(xv.max()) + 1 if xv.size else 0)
  else:
    length = int(length)
  n = _aval(x).shape[0]
  xi = lax.convert_element_type(x, dtypes.int32)
  full = (length, n)
  hit = lax.eq(shapes.broadcasted_iota(dtypes.int32, full, 0),
               shapes.broadcast_in_dim(xi, full, (1,)))
  if weights is None:
    return lr.reduce_sum(lax.convert_element_type(hit, dtypes.default_int_dtype()), (1,))
  w = _arr("bincount", weights)
  wdt, _ = dtypes.result_type_and_weak(w)
  wdt = dtypes.canonicalize_dtype(wdt)
  if dtypes.is_bool(wdt):
    wdt = dtypes.default_int_dtype()
  w = lax.convert_element_type(w, wdt)
  wb = shapes.broadcast_in_dim(w, full, (1,))
  return lr.reduce_sum(lax.select(hit, wb, shapes.full(full, 0, wdt)), (1,))


def builtins_max(a, b):
  return a if a >= b else b


# ---------------------------------------------------------------------------
# Data-dependent shapes: concrete input, or a static ``size`` (then traceable,
# as in JAX: the result is padded or truncated to ``size``).


def concrete_or_error(x, name: str, hint: str = ""):
  """``x`` as a NumPy array; a traced ``x`` raises ConcretizationTypeError."""
  if isinstance(x, core.Tracer):
    hint = hint or "Pass a static `size=` argument to use it under jit or another transformation."
    raise ConcretizationTypeError(
        f"{name}: the input must be concrete (its output shape depends on its values), got "
        f"a traced array {_aval(x).str_short()}. {hint}")
  return np.asarray(x)


def static_size(size, name: str):
  """A ``size=`` argument as a Python int (it fixes an output shape)."""
  if isinstance(size, core.Tracer):
    raise ConcretizationTypeError(f"{name}: the size argument must be a static int, got a "
                                  f"traced value {_aval(size).str_short()}")
  s = operator.index(size)
  if s < 0:
    raise ValueError(f"{name}: size must be non-negative, got {s}")
  return s


def _flat_nonzero_static(mask, size: int):
  """Flat positions of the True entries of the 1-d bool ``mask``, in order,
  padded with 0 (or truncated) to ``size``; and how many there are."""
  n = _aval(mask).shape[0]
  idt = dtypes.default_int_dtype()
  count = lr.reduce_sum(lax.convert_element_type(mask, idt), (0,))
  if size == 0 or n == 0:
    return shapes.full((size,), 0, idt), count
  rank = lax.sub(lr.cumsum(lax.convert_element_type(mask, idt), 0), shapes.full((), 1, idt))
  dest = lax.select(mask, rank, shapes.full((n,), size, idt))   # size: dropped
  dn = slicing.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                       scatter_dims_to_operand_dims=(0,))
  out = slicing.scatter(shapes.full((size,), 0, idt), shapes.reshape(dest, (n, 1)),
                        shapes.iota(idt, n), dn, indices_are_sorted=True, unique_indices=True,
                        mode=slicing.GatherScatterMode.FILL_OR_DROP)
  return out, count


def _fill_tail(x, count, fill, size):
  """``x`` (leading dim ``size``) with entries at positions >= ``count`` set to ``fill``."""
  xa = _aval(x)
  tail = lax.ge(shapes.broadcasted_iota(dtypes.default_int_dtype(), xa.shape, 0),
                shapes.broadcast_in_dim(count, xa.shape, ()))
  f = lax.convert_element_type(asarray(fill), xa.dtype)
  if _aval(f).shape != xa.shape:
    f = shapes.broadcast_in_dim(f, xa.shape, tuple(range(xa.ndim - _aval(f).ndim, xa.ndim)))
  return lax.select(tail, f, x)


def _as_mask(x):
  return x if dtypes.is_bool(_aval(x).dtype) else lax.ne(x, shapes.full((), 0, _aval(x).dtype))


def nonzero(a, *, size=None, fill_value=None):
  """Indices of the non-zero elements, one array per dimension. With a
  static ``size`` it is traceable: padded with ``fill_value`` (default 0) or
  truncated to ``size`` entries."""
  x = _arr("nonzero", a)
  if _aval(x).ndim == 0:
    raise ValueError("Calling nonzero on 0d arrays is not allowed. Use jnp.atleast_1d(scalar)"
                     ".nonzero() instead.")
  shape = _aval(x).shape
  idt = dtypes.default_int_dtype()
  if size is None:
    xv = concrete_or_error(x, "nonzero")
    return tuple(from_numpy(r, idt) for r in np.nonzero(xv))
  size = static_size(size, "nonzero")
  if size == 0 or _aval(x).size == 0:   # as JAX: zeros, whatever the fill value
    return tuple(shapes.full((size,), 0, idt) for _ in shape)
  fills = fill_value if isinstance(fill_value, tuple) else (fill_value,) * len(shape)
  if len(fills) != len(shape) or any(f is not None and np.shape(f) != () for f in fills):
    raise ValueError(f"nonzero: fill_value must be a scalar or a tuple of length {len(shape)}; "
                     f"got {fill_value!r}")
  flat, count = _flat_nonzero_static(_ravel(_as_mask(x)), size)
  out = []
  stride = int(np.prod(shape, dtype=np.int64))
  for k, (d, f) in enumerate(zip(shape, fills)):
    stride //= d if d else 1
    i = flat if stride == 1 else lax.div(flat, shapes.full((), stride, idt))
    i = lax.rem(i, shapes.full((), d, idt)) if k else i
    out.append(i if f is None else _fill_tail(i, count, f, size))
  return tuple(out)


def flatnonzero(a, *, size=None, fill_value=None):
  x = _arr("flatnonzero", a)
  return nonzero(_ravel(x), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
  """``(N, ndim)`` indices of the non-zero elements (``N = size`` if given)."""
  x = _arr("argwhere", a)
  nd = _aval(x).ndim
  x1 = shapes.reshape(x, (1,)) if nd == 0 else x
  cols = nonzero(x1, size=size, fill_value=fill_value)
  n = _aval(cols[0]).shape[0]
  out = shapes.concatenate([shapes.reshape(c, (n, 1)) for c in cols], 1)
  return slicing.slice(out, (0, 0), (n, 0)) if nd == 0 else out


__all__ = ["sort", "sort_complex", "argsort", "lexsort", "partition", "argpartition", "searchsorted",
           "digitize", "bincount", "nonzero", "flatnonzero", "argwhere"]
