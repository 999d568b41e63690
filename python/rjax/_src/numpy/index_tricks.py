"""Index helpers: ``mgrid``/``ogrid``, ``r_``/``c_``/``s_``/``index_exp``,
``ix_``, the triangle and diagonal index functions, ``unravel_index``,
``ravel_multi_index`` and ``fill_diagonal`` (JAX's semantics: out-of-bound
indices clamp in ``unravel_index``; ``fill_diagonal`` returns a new array)."""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.errors import ConcretizationTypeError
from rjax._src.lax import lax, shapes, slicing
from rjax._src.numpy import creation, indexing, lax_numpy, shape_ops, sorting, ufuncs
from rjax._src.numpy.util import asarray, check_arraylike, promote_dtypes


def _aval(x):
  return core.get_aval(x)


def _static_int(v, what: str) -> int:
  if isinstance(v, core.Tracer):
    raise ConcretizationTypeError(f"{what} must be a concrete integer, got a traced value "
                                  f"{_aval(v).str_short()}")
  return operator.index(v)


def _static_scalar(v, what):
  if isinstance(v, core.Tracer):
    raise ConcretizationTypeError(f"{what} must be concrete, got a traced value "
                                  f"{_aval(v).str_short()}")
  return v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v


def _grid_from_slice(s: slice, op_name: str):
  start = _static_scalar(s.start, f"slice start of jnp.{op_name}") or 0
  stop = _static_scalar(s.stop, f"slice stop of jnp.{op_name}")
  step = _static_scalar(s.step, f"slice step of jnp.{op_name}") or 1
  if np.iscomplex(step):
    return creation.linspace(start, stop, int(abs(step)))
  return creation.arange(start, stop, step)


class _Mgrid:
  """``jnp.mgrid[slices]``: a dense grid, one array per slice, stacked (``np.mgrid``)."""

  def __getitem__(self, key):
    if isinstance(key, slice):
      return _grid_from_slice(key, "mgrid")
    out = promote_dtypes(*(_grid_from_slice(k, "mgrid") for k in key))
    if not out:
      return creation.arange(0)
    return shape_ops.stack(creation.meshgrid(*out, indexing="ij", sparse=False), 0)


class _Ogrid:
  """``jnp.ogrid[slices]``: an open (sparse) grid (``np.ogrid``)."""

  def __getitem__(self, key):
    if isinstance(key, slice):
      return _grid_from_slice(key, "ogrid")
    out = promote_dtypes(*(_grid_from_slice(k, "ogrid") for k in key))
    return creation.meshgrid(*out, indexing="ij", sparse=True)


mgrid = _Mgrid()
ogrid = _Ogrid()


class _AxisConcat:
  """Concatenation by indexing (``np.r_``/``np.c_``), with the string
  directives ``'r'``, ``'c'`` and ``'axis,ndmin,trans1d'``."""
  axis: int
  ndmin: int
  trans1d: int
  op_name: str

  def __getitem__(self, key):
    items = key if isinstance(key, tuple) else (key,)
    params = [self.axis, self.ndmin, self.trans1d, -1]
    directive = items[0] if items else None
    if isinstance(directive, str):
      items = items[1:]
      if directive == "r":
        params[-1] = 0
      elif directive == "c":
        params[-1] = 1
      else:
        vec: list[Any] = directive.split(",")
        k = len(vec)
        vec = vec + params[k:] if k < 4 else vec[:3] + [params[-1]]
        try:
          params = [int(v) for v in vec]
        except ValueError:
          raise ValueError(f"could not understand directive {directive!r}") from None
    axis, ndmin, trans1d, matrix = params
    out = []
    for item in items:
      if isinstance(item, slice):
        obj, item_ndim = _grid_from_slice(item, self.op_name), 0
      elif isinstance(item, str):
        raise ValueError("string directive must be placed at the beginning")
      else:
        obj = lax_numpy.array(item)
        item_ndim = obj.ndim
      obj = lax_numpy.array(obj, ndmin=ndmin)
      if trans1d != -1 and ndmin - item_ndim > 0:
        perm = tuple(range(ndmin))
        shift = ndmin - abs(ndmin + trans1d + 1) % ndmin
        obj = shape_ops.transpose(obj, perm[shift:] + perm[:shift])
      out.append(obj)
    res = shape_ops.concatenate(tuple(out), axis=axis)
    if matrix != -1 and res.ndim == 1:
      res = shape_ops.expand_dims(res, matrix)
    return res

  def __len__(self) -> int:
    return 0


class RClass(_AxisConcat):
  """``jnp.r_``: concatenate along the first axis."""
  axis, ndmin, trans1d, op_name = 0, 1, -1, "r_"


class CClass(_AxisConcat):
  """``jnp.c_``: concatenate along the last axis, 1-d inputs as columns."""
  axis, ndmin, trans1d, op_name = -1, 2, 0, "c_"


r_ = RClass()
c_ = CClass()
s_ = np.s_
index_exp = np.index_exp


def ix_(*args):
  """Open mesh from 1-d integer sequences, for cross-product indexing."""
  check_arraylike("ix_", *args)
  arrs = [asarray(a) for a in args]
  n = len(arrs)
  out = []
  for i, a in enumerate(arrs):
    if _aval(a).ndim != 1:
      raise ValueError(f"Arguments to jax.numpy.ix_ must be 1-dimensional, got shape "
                       f"{_aval(a).shape}")
    if dtypes.is_bool(_aval(a).dtype):
      raise NotImplementedError("Boolean arguments to jax.numpy.ix_ are not implemented")
    shape = [1] * n
    shape[i] = _aval(a).shape[0]
    if _aval(a).size == 0:
      out.append(shapes.full(tuple(shape), 0, dtypes.canonicalize_dtype(np.intp)))
    else:
      out.append(shapes.broadcast_in_dim(a, tuple(shape), (i,)))
  return tuple(out)


def _index_pair(rows, cols):
  dt = dtypes.default_int_dtype()
  return asarray(rows.astype(dt)), asarray(cols.astype(dt))


def triu_indices(n, k=0, m=None):
  """Row and column indices of the upper triangle of an (n, m) array."""
  n = _static_int(n, "n argument of jnp.triu_indices")
  k = _static_int(k, "k argument of jnp.triu_indices")
  m = n if m is None else _static_int(m, "m argument of jnp.triu_indices")
  return _index_pair(*np.triu_indices(n, k, m))


def tril_indices(n, k=0, m=None):
  """Row and column indices of the lower triangle of an (n, m) array."""
  n = _static_int(n, "n argument of jnp.tril_indices")
  k = _static_int(k, "k argument of jnp.tril_indices")
  m = n if m is None else _static_int(m, "m argument of jnp.tril_indices")
  return _index_pair(*np.tril_indices(n, k, m))


def _shape_2d(arr, name):
  shape = arr.shape if hasattr(arr, "shape") else np.shape(arr)
  if len(shape) != 2:
    raise ValueError("Only 2-D inputs are accepted")
  return shape


def triu_indices_from(arr, k=0):
  n, m = _shape_2d(arr, "triu_indices_from")
  return triu_indices(n, k=k, m=m)


def tril_indices_from(arr, k=0):
  n, m = _shape_2d(arr, "tril_indices_from")
  return tril_indices(n, k=k, m=m)


def diag_indices(n, ndim=2):
  """``ndim`` copies of ``arange(n)``: the indices of the main diagonal."""
  n = _static_int(n, "'n' argument of jnp.diag_indices()")
  ndim = _static_int(ndim, "'ndim' argument of jnp.diag_indices()")
  if n < 0:
    raise ValueError(f"n argument to diag_indices must be nonnegative, got {n}")
  if ndim < 0:
    raise ValueError(f"ndim argument to diag_indices must be nonnegative, got {ndim}")
  dt = dtypes.default_int_dtype() if n < 2**31 else dtypes.canonicalize_dtype(np.int64)
  return (shapes.iota(dt, n),) * ndim


def diag_indices_from(arr):
  check_arraylike("diag_indices_from", arr)
  s = np.shape(arr) if not hasattr(arr, "aval") else _aval(arr).shape
  if len(s) < 2:
    raise ValueError("input array must be at least 2-d")
  if len(set(s)) != 1:
    raise ValueError("All dimensions of input must be of equal length")
  return diag_indices(s[0], ndim=len(s))


def mask_indices(n, mask_func: Callable, k=0, *, size=None):
  """Indices where ``mask_func(ones((n, n)), k)`` is non-zero."""
  i, j = sorting.nonzero(mask_func(creation.ones((n, n)), k), size=size)
  return i, j


def unravel_index(indices, shape):
  """Coordinates of flat ``indices`` in an array of ``shape``; out-of-bound
  indices clamp to the first or last element, as in JAX."""
  check_arraylike("unravel_index", indices)
  idx = asarray(indices)
  try:
    shape = list(shape)
  except TypeError:
    shape = [shape]
  if any(np.ndim(s) != 0 for s in shape):
    raise ValueError("unravel_index: shape should be a scalar or 1D sequence.")
  out: list[Any] = [0] * len(shape)
  for i, s in reversed(list(enumerate(shape))):
    idx, out[i] = ufuncs.divmod(idx, s)
  oob_pos = ufuncs.greater(idx, 0)
  oob_neg = ufuncs.less(idx, -1) if not dtypes.is_unsigned(_aval(idx).dtype) else \
      ufuncs.not_equal(idx, idx)
  return tuple(ufuncs.where(oob_pos, s - 1, ufuncs.where(oob_neg, 0, i))
               for s, i in zip(shape, out))


def ravel_multi_index(multi_index: Sequence, dims: Sequence[int], mode: str = "raise",
                      order: str = "C", *, dtype=None):
  """Flat indices from a tuple of coordinate arrays (``mode`` 'raise' needs
  concrete indices; 'wrap', 'clip' and 'ignore' trace)."""
  if len(multi_index) != len(dims):
    raise ValueError(f"ravel_multi_index: len(multi_index)={len(multi_index)} != "
                     f"len(dims)={len(dims)}")
  dims = tuple(_static_int(d, "in `dims` argument of ravel_multi_index()") for d in dims)
  check_arraylike("ravel_multi_index", *multi_index)
  idx = [asarray(i) for i in multi_index]
  if dtype is None:
    dt = dtypes.result_type(*idx, dtypes.default_int_dtype())
  else:
    dt = dtypes.canonicalize_dtype(dtype)
  if not dtypes.is_int(dt):
    raise ValueError(f"dtype={dt!r} is not an integer type.")
  if math.prod(dims) - 1 > np.iinfo(dt).max:
    raise ValueError(f"jnp.ravel_multi_index: dtype={dt!r} not large enough to hold flattened "
                     f"index for dims={dims!r}. Use the dtype argument to pass a suitable dtype.")
  for i in idx:
    if mode == "raise" and isinstance(i, core.Tracer):
      raise ConcretizationTypeError(
          "ravel_multi_index: indices must be concrete with mode='raise'. Use mode='wrap' or "
          "mode='clip' under jit.")
    if not dtypes.is_int(_aval(i).dtype):
      raise TypeError("only int indices permitted")
  if mode == "raise":
    if any(bool(np.any((np.asarray(i) < 0) | (np.asarray(i) >= d))) for i, d in zip(idx, dims)):
      raise ValueError("invalid entry in coordinates array")
  elif mode == "clip":
    idx = [ufuncs.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
  elif mode == "wrap":
    idx = [ufuncs.remainder(i, d) for i, d in zip(idx, dims)]
  elif mode != "ignore":
    raise ValueError(f"invalid mode={mode!r}. Expected 'raise', 'wrap', 'clip', or 'ignore'.")
  if order == "F":
    strides = np.cumprod((1,) + dims[:-1])
  elif order == "C":
    strides = np.cumprod((1,) + dims[1:][::-1])[::-1]
  else:
    raise ValueError(f"invalid order={order!r}. Expected 'C' or 'F'")
  result = asarray(np.zeros((), dt))
  for i, s in zip(idx, strides):
    result = ufuncs.add(result, ufuncs.multiply(lax.convert_element_type(i, dt), int(s)))
  return result


def fill_diagonal(a, val, wrap: bool = False, *, inplace: bool = True):
  """``a`` with its main diagonal set to ``val`` (JAX needs ``inplace=False``)."""
  if inplace:
    raise NotImplementedError("JAX arrays are immutable, must use inplace=False")
  if wrap:
    raise NotImplementedError("wrap=True is not implemented, must use wrap=False")
  check_arraylike("fill_diagonal", a, val)
  a, val = asarray(a), asarray(val)
  sh = _aval(a).shape
  if len(sh) < 2:
    raise ValueError("array must be at least 2-d")
  if len(sh) > 2 and not all(n == sh[0] for n in sh[1:]):
    raise ValueError("All dimensions of input must be of equal length")
  n = min(sh)
  idx = diag_indices(n, len(sh))
  if _aval(val).ndim:
    flat = shape_ops.ravel(val)
    k = _aval(flat).shape[0]
    if k == 0:   # (JAX divides by the size of val here)
      raise ZeroDivisionError("fill_diagonal: val is empty, nothing to fill the diagonal with")
    val = slicing.slice_in_dim(shape_ops.tile(flat, -(-n // k)), 0, n) if k != n else flat
  return indexing._IndexUpdateRef(a, idx).set(val)


__all__ = ["mgrid", "ogrid", "r_", "c_", "s_", "index_exp", "ix_", "triu_indices",
           "tril_indices", "triu_indices_from", "tril_indices_from", "diag_indices",
           "diag_indices_from", "mask_indices", "unravel_index", "ravel_multi_index",
           "fill_diagonal"]
