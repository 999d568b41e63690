"""Array manipulation and calculus helpers of ``rjax.numpy``: append, block,
choose, compress, extract, place, put, put_along_axis, resize, rollaxis,
cross, matvec, vecmat, ediff1d, gradient, trapezoid, unwrap, interp and
spacing, each with JAX's semantics (``place``/``put``/``put_along_axis``
return a new array and require ``inplace=False``)."""
from __future__ import annotations

import math
import operator

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.errors import ConcretizationTypeError
from rjax._src.lax import lax, matmul as dot_mod, reductions as lr, shapes, slicing
from rjax._src.numpy import creation, functional, indexing, reductions, shape_ops, sorting, ufuncs
from rjax._src.numpy.util import (asarray, canonicalize_axis, check_arraylike, promote_dtypes,
                                  promote_dtypes_inexact)


def _aval(x):
  return core.get_aval(x)


def _ravel(x):
  x = asarray(x)
  return shapes.reshape(x, (_aval(x).size,))


def _tile_to_size(arr, size: int):
  """The 1-d ``arr`` repeated (or cut) to ``size`` entries."""
  n = _aval(arr).shape[0]
  if n < size:
    arr = shape_ops.tile(arr, -(-size // n))
  return slicing.slice_in_dim(arr, 0, size) if _aval(arr).shape[0] > size else arr


def append(arr, values, axis=None):
  """``arr`` with ``values`` appended (both flattened if ``axis`` is None)."""
  check_arraylike("append", arr, values)
  if axis is None:
    return shape_ops.concatenate([_ravel(arr), _ravel(values)], 0)
  return shape_ops.concatenate([arr, values], axis=axis)


def _atleast_nd(x, n):
  m = _aval(x).ndim
  return shapes.reshape(x, (1,) * (n - m) + _aval(x).shape) if m < n else x


def _block(xs):
  if isinstance(xs, tuple):
    raise ValueError(f"jax.numpy.block does not allow tuples, got {xs}")
  if isinstance(xs, list):
    if not xs:
      raise ValueError("jax.numpy.block does not allow empty list arguments")
    parts, depths = zip(*[_block(x) for x in xs])
    if any(d != depths[0] for d in depths[1:]):
      raise ValueError("Mismatched list depths in jax.numpy.block")
    rank = max(depths[0], max(_aval(x).ndim for x in parts))
    parts = [_atleast_nd(x, rank) for x in parts]
    return shape_ops.concatenate(parts, axis=-depths[0]), depths[0] + 1
  check_arraylike("block", xs)
  return asarray(xs), 1


def block(arrays):
  """Assemble an array from nested lists of blocks (``np.block``)."""
  return _block(arrays)[0]


def choose(a, choices, out=None, mode="raise"):
  """``choices[a[i]][i]`` elementwise; ``mode`` 'raise' needs a concrete ``a``."""
  if out is not None:
    raise NotImplementedError("The 'out' argument to jnp.choose is not supported.")
  check_arraylike("choose", a, *choices)
  a = asarray(a)
  if not dtypes.is_int(_aval(a).dtype):
    raise ValueError("`a` array must be integer typed")
  n = len(choices)
  if mode == "raise":
    if isinstance(a, core.Tracer):
      raise ConcretizationTypeError(
          "choose: `a` must be concrete with mode='raise' (jnp.choose was traced); use "
          "mode='wrap' or mode='clip' instead.")
    av = np.asarray(a)
    if np.any((av < 0) | (av >= n)):
      raise ValueError("invalid entry in choice array")
  elif mode == "wrap":
    a = ufuncs.remainder(a, n)
  elif mode == "clip":
    a = ufuncs.clip(a, 0, n - 1)
  else:
    raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
  arrs = shape_ops.broadcast_arrays(a, *promote_dtypes(*choices))
  which = lax.convert_element_type(arrs[0], dtypes.int32)
  return lax.select_n(which, *arrs[1:])


def compress(condition, a, axis=None, *, size=None, fill_value=0, out=None):
  """Slices of ``a`` along ``axis`` where ``condition`` is true (``size``
  makes it traceable: padded with ``fill_value``)."""
  check_arraylike("compress", condition, a, fill_value)
  if out is not None:
    raise NotImplementedError("The 'out' argument to jnp.compress is not supported.")
  cond = lax.convert_element_type(asarray(condition), dtypes.bool_)
  arr = asarray(a)
  if _aval(cond).ndim != 1:
    raise ValueError("condition must be a 1D array")
  if axis is None:
    axis, arr = 0, _ravel(arr)
  else:
    arr = shape_ops.moveaxis(arr, axis, 0)
  n = _aval(arr).shape[0]
  nc = _aval(cond).shape[0]
  extra = slicing.slice_in_dim(cond, min(n, nc), nc)
  cond = slicing.slice_in_dim(cond, 0, min(n, nc))
  arr = slicing.slice_in_dim(arr, 0, _aval(cond).shape[0])
  if size is None:
    c = sorting.concrete_or_error(cond, "compress")
    if np.any(sorting.concrete_or_error(extra, "compress")):
      raise ValueError("condition contains entries that are out of bounds")
    result = shape_ops.take(arr, np.nonzero(c)[0].astype(np.int32), axis=0)
  else:
    size = operator.index(size)
    if not 0 <= size <= _aval(arr).shape[0]:
      raise ValueError(f"size must be positive and not greater than the size of the array "
                       f"axis; got size={size!r} for a.shape[axis]={_aval(arr).shape[0]}")
    mask = shapes.broadcast_in_dim(cond, _aval(arr).shape, (0,))
    fill = lax.convert_element_type(asarray(fill_value), _aval(arr).dtype)
    arr = lax.select(mask, arr, shapes.broadcast_in_dim(fill, _aval(arr).shape, ()))
    order = sorting.argsort(cond, stable=True, descending=True)
    result = slicing.slice_in_dim(shape_ops.take(arr, order, axis=0), 0, size)
  return shape_ops.moveaxis(result, 0, axis)


def extract(condition, arr, *, size=None, fill_value=0):
  """Elements of ``arr`` where ``condition`` is true, both flattened."""
  check_arraylike("extract", condition, arr, fill_value)
  return compress(_ravel(condition), _ravel(arr), size=size, fill_value=fill_value)


def place(arr, mask, vals, *, inplace: bool = True):
  """``arr`` with the places where ``mask`` is true filled from ``vals`` (repeated)."""
  check_arraylike("place", arr, mask, vals)
  if inplace:
    raise ValueError("jax.numpy.place cannot modify arrays in-place, because JAX arrays are "
                     "immutable. Pass inplace=False to instead return an updated array.")
  data, m, v = asarray(arr), asarray(mask), _ravel(vals)
  if _aval(data).size != _aval(m).size:
    raise ValueError("place: arr and mask must be the same size")
  if not _aval(v).size:
    raise ValueError("Cannot place values from an empty array")
  if not _aval(data).size:
    return data
  size = _aval(m).size
  idx = sorting.nonzero(_ravel(m), size=size, fill_value=size)[0]
  v = lax.convert_element_type(_tile_to_size(v, size), _aval(data).dtype)
  flat = indexing._IndexUpdateRef(_ravel(data), idx).set(v, mode="drop")
  return shapes.reshape(flat, _aval(data).shape)


def put(a, ind, v, mode=None, *, inplace: bool = True):
  """``a`` with the flat positions ``ind`` set to ``v`` (repeated to fit)."""
  if inplace:
    raise ValueError("jax.numpy.put cannot modify arrays in-place, because JAX arrays are "
                     "immutable. Pass inplace=False to instead return an updated array.")
  check_arraylike("put", a, ind, v)
  arr, idx, vals = asarray(a), _ravel(ind), _ravel(v)
  size = _aval(arr).size
  if not size or not _aval(idx).size or not _aval(vals).size:
    return arr
  vals = lax.convert_element_type(_tile_to_size(vals, _aval(idx).shape[0]), _aval(arr).dtype)
  if mode is None:
    # as JAX (through unravel_index): past the end -> the last place, before -size -> the first
    q, r = ufuncs.divmod(idx, size)
    idx = ufuncs.where(ufuncs.greater(q, 0), size - 1, ufuncs.where(ufuncs.less(q, -1), 0, r))
  elif mode == "clip":
    idx = ufuncs.clip(idx, 0, size - 1)
  elif mode == "wrap":
    idx = ufuncs.remainder(idx, size)
  elif mode == "raise":
    raise NotImplementedError("The 'raise' mode to jnp.put is not supported.")
  else:
    raise ValueError(f"mode should be one of 'wrap' or 'clip'; got mode={mode!r}")
  flat = indexing._IndexUpdateRef(_ravel(arr), idx).set(vals, mode="drop")
  return shapes.reshape(flat, _aval(arr).shape)


def put_along_axis(arr, indices, values, axis, inplace: bool = True, *, mode=None):
  """``arr`` with ``values`` written at ``indices`` along ``axis`` (the
  inverse of ``take_along_axis``)."""
  if inplace:
    raise ValueError("jax.numpy.put_along_axis cannot modify arrays in-place, because JAX "
                     "arrays are immutable. Pass inplace=False to instead return an updated "
                     "array.")
  check_arraylike("put_along_axis", arr, indices, values)
  arr, ind, values = asarray(arr), asarray(indices), asarray(values)
  orig_axis, orig_shape = axis, _aval(arr).shape
  if axis is None:
    arr, axis = _ravel(arr), 0
  if _aval(arr).ndim != _aval(ind).ndim:
    raise ValueError(f"put_along_axis arguments 'arr' and 'indices' must have same ndim. Got "
                     f"arr.ndim={_aval(arr).ndim!r} and indices.ndim={_aval(ind).ndim!r}.")
  try:
    values = shape_ops.broadcast_to(values, _aval(ind).shape)
  except ValueError:
    raise ValueError(f"put_along_axis argument 'values' must be broadcastable to 'indices'. Got "
                     f"values.shape={_aval(values).shape!r} and indices.shape="
                     f"{_aval(ind).shape!r}.") from None
  axis = canonicalize_axis(axis, _aval(arr).ndim, "put_along_axis")
  idx = list(creation.indices(_aval(arr).shape, sparse=True))
  idx[axis] = ind
  idx = tuple(shape_ops.broadcast_to(i, _aval(ind).shape) for i in idx)
  result = indexing._IndexUpdateRef(arr, idx).set(values, mode=mode)
  return shapes.reshape(result, orig_shape) if orig_axis is None else result


def resize(a, new_shape):
  """``a`` flattened, repeated and cut to ``new_shape``."""
  check_arraylike("resize", a)
  new_shape = (operator.index(new_shape),) if np.ndim(new_shape) == 0 else \
      tuple(operator.index(d) for d in new_shape)
  if any(d < 0 for d in new_shape):
    raise ValueError("all elements of `new_shape` must be non-negative")
  arr = _ravel(a)
  new_size = math.prod(new_shape)
  if _aval(arr).size == 0 or new_size == 0:
    return shapes.full(new_shape, 0, _aval(arr).dtype)
  return shapes.reshape(_tile_to_size(arr, new_size), new_shape)


def rollaxis(a, axis: int, start: int = 0):
  """Move ``axis`` so it lies before position ``start`` (``np.rollaxis``)."""
  check_arraylike("rollaxis", a)
  a = asarray(a)
  nd = _aval(a).ndim
  start = operator.index(start)
  axis = canonicalize_axis(axis, nd, "rollaxis")
  if not -nd <= start <= nd:
    raise ValueError(f"start={start!r} must satisfy {-nd}<=start<={nd}")
  if start < 0:
    start += nd
  if start > axis:
    start -= 1
  return shape_ops.moveaxis(a, axis, start)


def _last(x, i):
  return slicing.index_in_dim(x, i, _aval(x).ndim - 1, keepdims=False)


def cross(a, b, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None):
  """Cross product of 2- or 3-vectors (2-d inputs give the z component)."""
  check_arraylike("cross", a, b)
  if axis is not None:
    axisa = axisb = axisc = axis
  a, b = promote_dtypes(a, b)
  a = shape_ops.moveaxis(asarray(a), axisa, -1)
  b = shape_ops.moveaxis(asarray(b), axisb, -1)
  if _aval(a).shape[-1] not in (2, 3) or _aval(b).shape[-1] not in (2, 3):
    raise ValueError("Dimension must be either 2 or 3 for cross product")
  mul, sub = ufuncs.multiply, ufuncs.subtract
  if _aval(a).shape[-1] == 2 and _aval(b).shape[-1] == 2:
    return sub(mul(_last(a, 0), _last(b, 1)), mul(_last(a, 1), _last(b, 0)))
  a0, a1, b0, b1 = _last(a, 0), _last(a, 1), _last(b, 0), _last(b, 1)
  a2 = _last(a, 2) if _aval(a).shape[-1] == 3 else creation.zeros_like(a0)
  b2 = _last(b, 2) if _aval(b).shape[-1] == 3 else creation.zeros_like(b0)
  c = shape_ops.stack(shape_ops.broadcast_arrays(sub(mul(a1, b2), mul(a2, b1)),
                                                 sub(mul(a2, b0), mul(a0, b2)),
                                                 sub(mul(a0, b1), mul(a1, b0))), 0)
  return shape_ops.moveaxis(c, 0, axisc)


def _matmul(x, y):
  x, y = promote_dtypes(x, y)
  return dot_mod.dot_general(x, y, (((_aval(x).ndim - 1,), (0,)), ((), ())))


def matvec(x1, x2, /):
  """Batched matrix-vector product ``x1 @ x2`` with broadcasting batch dims."""
  check_arraylike("matvec", x1, x2)
  return functional.vectorize(_matmul, signature="(n,m),(m)->(n)")(x1, x2)


def vecmat(x1, x2, /):
  """Batched vector-matrix product ``conj(x1) @ x2`` with broadcasting batch dims."""
  check_arraylike("vecmat", x1, x2)
  return functional.vectorize(_matmul, signature="(n),(n,m)->(m)")(ufuncs.conj(x1), x2)


def ediff1d(ary, to_end=None, to_begin=None):
  """Differences of consecutive elements of the flattened array."""
  check_arraylike("ediff1d", ary)
  arr = _ravel(ary)
  n = _aval(arr).shape[0]
  result = lax.sub(slicing.slice_in_dim(arr, 1, max(n, 1)), slicing.slice_in_dim(arr, 0, max(n - 1, 0)))
  dt = _aval(arr).dtype
  if to_begin is not None:
    check_arraylike("ediff1d", to_begin)
    result = shapes.concatenate([lax.convert_element_type(_ravel(to_begin), dt), result], 0)
  if to_end is not None:
    check_arraylike("ediff1d", to_end)
    result = shapes.concatenate([result, lax.convert_element_type(_ravel(to_end), dt)], 0)
  return result


def gradient(f, *varargs, axis=None, edge_order=None):
  """Second-order central differences inside, first-order at the edges."""
  if edge_order is not None:
    raise NotImplementedError("The 'edge_order' argument to jnp.gradient is not supported.")
  check_arraylike("gradient", f, *varargs)
  a, *spacing = promote_dtypes_inexact(f, *varargs)
  nd = _aval(a).ndim
  axes = tuple(range(nd)) if axis is None else \
      tuple(canonicalize_axis(i, nd, "gradient") for i in
            ((axis,) if isinstance(axis, (int, np.integer)) else axis))
  if not axes:
    return []
  if min(s for i, s in enumerate(_aval(a).shape) if i in axes) < 2:
    raise ValueError("Shape of array too small to calculate a numerical gradient, at least 2 "
                     "elements are required.")
  if not spacing:
    dx = [1.0] * len(axes)
  elif len(spacing) == 1:
    dx = list(spacing) * len(axes)
  elif len(spacing) == len(axes):
    dx = list(spacing)
  else:
    raise TypeError(f"Invalid number of spacing arguments {len(spacing)} for axis={axis!r}")
  sub, mul, div = ufuncs.subtract, ufuncs.multiply, ufuncs.true_divide

  def along(a, h, ax):
    n = _aval(a).shape[ax]

    def sl(x, s, e):
      return slicing.slice_in_dim(x, s, e, 1, ax)
    upper = sub(sl(a, 1, 2), sl(a, 0, 1))
    lower = sub(sl(a, n - 1, n), sl(a, n - 2, n - 1))
    hn = _aval(h).ndim if hasattr(h, "aval") else np.ndim(h)
    if hn == 0:
      inner = div(mul(sub(sl(a, 2, n), sl(a, 0, n - 2)), 0.5), h)
      upper, lower = div(upper, h), div(lower, h)
    elif hn == 1:
      h = asarray(h)
      if _aval(h).shape[0] != n:
        raise ValueError("Spacing arrays must have the same length as the dimension along "
                         "which the gradient is calculated.")
      hs = [1] * _aval(a).ndim
      hs[ax] = n
      h = shapes.reshape(h, tuple(hs))
      upper = div(upper, sub(sl(h, 1, 2), sl(h, 0, 1)))
      lower = div(lower, sub(sl(h, n - 1, n), sl(h, n - 2, n - 1)))
      dx1 = sub(sl(h, 1, n - 1), sl(h, 0, n - 2))
      dx2 = sub(sl(h, 2, n), sl(h, 1, n - 1))
      ca = div(ufuncs.negative(dx2), mul(dx1, ufuncs.add(dx1, dx2)))
      cb = div(sub(dx2, dx1), mul(dx1, dx2))
      cc = div(dx1, mul(dx2, ufuncs.add(dx1, dx2)))
      inner = ufuncs.add(ufuncs.add(mul(ca, sl(a, 0, n - 2)), mul(cb, sl(a, 1, n - 1))),
                         mul(cc, sl(a, 2, n)))
    else:
      raise ValueError("Spacing arrays must be 1D arrays or scalars.")
    return shape_ops.concatenate([upper, inner, lower], axis=ax)

  grads = [along(a, h, ax) for ax, h in zip(axes, dx)]
  return grads[0] if len(axes) == 1 else grads


def trapezoid(y, x=None, dx=1.0, axis: int = -1):
  """Integral of ``y`` by the trapezoidal rule along ``axis``."""
  if x is None:
    check_arraylike("trapezoid", y)
    (y,) = promote_dtypes_inexact(y)
    d = asarray(dx)
    if _aval(d).ndim > 0:
      d = shapes.reshape(d, (1,) * (_aval(y).ndim - _aval(d).ndim) + _aval(d).shape)
      d = shape_ops.moveaxis(d, axis, -1)
  else:
    check_arraylike("trapezoid", y, x)
    y, x = promote_dtypes_inexact(y, x)
    d = shape_ops.diff(x) if _aval(x).ndim == 1 else \
        shape_ops.moveaxis(shape_ops.diff(x, axis=axis), axis, -1)
  y = shape_ops.moveaxis(y, axis, -1)
  n = _aval(y).shape[-1]
  nd = _aval(y).ndim
  if _aval(d).ndim == 0 or _aval(d).shape[-1] == 1:
    dr = d if _aval(d).ndim == 0 else _last(d, 0)
    ends = ufuncs.multiply(0.5, ufuncs.add(_last(y, 0), _last(y, n - 1)))
    return ufuncs.multiply(dr, ufuncs.subtract(reductions.sum(y, -1), ends))
  mid = ufuncs.add(slicing.slice_in_dim(y, 1, n, 1, nd - 1), slicing.slice_in_dim(y, 0, n - 1, 1,
                                                                                 nd - 1))
  return ufuncs.multiply(0.5, reductions.sum(ufuncs.multiply(d, mid), -1))


def unwrap(p, discont=None, axis: int = -1, period=2 * np.pi):
  """Unwrap phase jumps larger than ``discont`` by multiples of ``period``."""
  check_arraylike("unwrap", p)
  p, period = promote_dtypes(p, period)
  p = asarray(p)
  ax = canonicalize_axis(axis, _aval(p).ndim, "unwrap")
  n = _aval(p).shape[ax]
  if n == 0:
    return p
  is_int = dtypes.is_int(_aval(p).dtype)
  if discont is None:
    discont = ufuncs.true_divide(period, 2)
  interval = ufuncs.floor_divide(period, 2) if is_int else ufuncs.true_divide(period, 2)
  dd = shape_ops.diff(p, axis=ax)
  ddmod = ufuncs.subtract(ufuncs.remainder(ufuncs.add(dd, interval), period), interval)
  ddmod = ufuncs.where(ufuncs.logical_and(ufuncs.equal(ddmod, ufuncs.negative(interval)),
                                          ufuncs.greater(dd, 0)), interval, ddmod)
  corr = ufuncs.where(ufuncs.less(ufuncs.abs(dd), discont), 0, ufuncs.subtract(ddmod, dd))
  rest = ufuncs.add(slicing.slice_in_dim(p, 1, n, 1, ax), reductions.cumsum(corr, axis=ax))
  return shape_ops.concatenate([slicing.slice_in_dim(p, 0, 1, 1, ax), rest], axis=ax)


def interp(x, xp, fp, left=None, right=None, period=None):
  """Piecewise-linear interpolation of ``(xp, fp)`` at ``x`` (``np.interp``);
  ``left``/``right`` may be ``'extrapolate'``."""
  check_arraylike("interp", x, xp, fp)
  if np.shape(xp) != np.shape(fp) or np.ndim(xp) != 1:
    raise ValueError("xp and fp must be one-dimensional arrays of equal size")
  x, xp = promote_dtypes_inexact(x, xp)
  (fp,) = promote_dtypes_inexact(fp)
  ext_left = ext_right = False
  if isinstance(left, str):
    if left != "extrapolate":
      raise ValueError(f"the only valid string value of `left` is 'extrapolate', but got: "
                       f"{left!r}")
    ext_left = True
  if isinstance(right, str):
    if right != "extrapolate":
      raise ValueError(f"the only valid string value of `right` is 'extrapolate', but got: "
                       f"{right!r}")
    ext_right = True
  if dtypes.is_complex(core.get_aval(x).dtype):
    raise ValueError("jnp.interp: complex x values not supported.")
  if period is not None:
    if np.ndim(period) != 0:
      raise ValueError(f"period must be a scalar; got {period}")
    period = ufuncs.abs(period)
    x, xp = ufuncs.remainder(x, period), ufuncs.remainder(xp, period)
    xp, fp = lr.sort_key_val(xp, fp)
    m = _aval(xp).shape[0]
    xp = shape_ops.concatenate([ufuncs.subtract(slicing.slice_in_dim(xp, m - 1, m), period), xp,
                                ufuncs.add(slicing.slice_in_dim(xp, 0, 1), period)])
    fp = shape_ops.concatenate([slicing.slice_in_dim(fp, m - 1, m), fp,
                                slicing.slice_in_dim(fp, 0, 1)])
  m = _aval(xp).shape[0]
  i = ufuncs.clip(sorting.searchsorted(xp, x, side="right"), 1, m - 1)
  im1 = ufuncs.subtract(i, 1)

  def at(v, j):
    return shape_ops.take(v, j, mode="clip")
  df = ufuncs.subtract(at(fp, i), at(fp, im1))
  dx = ufuncs.subtract(at(xp, i), at(xp, im1))
  delta = ufuncs.subtract(x, at(xp, im1))
  eps = float(np.spacing(dtypes.finfo(_aval(xp).dtype).eps))
  dx0 = ufuncs.less_equal(ufuncs.abs(dx), eps)
  f = ufuncs.where(dx0, at(fp, im1),
                   ufuncs.add(at(fp, im1),
                              ufuncs.multiply(ufuncs.true_divide(delta, ufuncs.where(dx0, 1, dx)),
                                              df)))
  if not ext_left and period is None:
    lv = slicing.index_in_dim(fp, 0, keepdims=False) if left is None else left
    f = ufuncs.where(ufuncs.less(x, slicing.index_in_dim(xp, 0, keepdims=False)), lv, f)
  if not ext_right and period is None:
    rv = slicing.index_in_dim(fp, m - 1, keepdims=False) if right is None else right
    f = ufuncs.where(ufuncs.greater(x, slicing.index_in_dim(xp, m - 1, keepdims=False)), rv, f)
  return f


def spacing(x, /):
  """Distance from ``x`` to the next representable number away from zero."""
  check_arraylike("spacing", x)
  (a,) = promote_dtypes_inexact(x)
  dt = _aval(a).dtype
  inf = lax._scalar_like(np.inf, a)
  if dt == np.float16:
    return lax.sub(lax.nextafter(a, shapes.broadcast_in_dim(inf, _aval(a).shape, ())), a)
  away = ufuncs.copysign(inf, a)
  result = lax.sub(lax.nextafter(a, away), a)
  tiny = ufuncs.copysign(lax._scalar_like(float(dtypes.finfo(dt).smallest_subnormal), a), a)
  return lax.select(lax.eq(result, lax._scalar_like(0, result)), tiny, result)


__all__ = ["append", "block", "choose", "compress", "extract", "place", "put", "put_along_axis",
           "resize", "rollaxis", "cross", "matvec", "vecmat", "ediff1d", "gradient", "trapezoid",
           "unwrap", "interp", "spacing"]
