"""Reductions in rjax.numpy: sum, mean, var, std, max, ... with axis/keepdims/where.

Dtypes follow JAX: ``sum``/``prod`` of bool and small ints promote to the
default int/uint; ``mean``/``var``/``std`` of ints give the default float;
``max``/``min``/``cumsum`` keep the dtype (``cumsum`` of bool gives int).
"""
from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import complex_ops, lax, reductions as lr, shapes
from rjax._src.numpy import shape_ops
from rjax._src.numpy.util import asarray, canonicalize_axes, canonicalize_axis, check_arraylike

_any = builtins.any


def _aval(x):
  return core.get_aval(x)


def _check_out(name, out):
  if out is not None:
    raise NotImplementedError(f"{name}: the 'out' argument is not supported (arrays are immutable)")


def _arr(name, a):
  check_arraylike(name, a)
  return asarray(a)


def _cast(x, dt):
  return lax.convert_element_type(x, dt)


def _zeros_like_scalar(v, dt):
  return shapes.full((), v, dt)


def _bcast_to(x, shape):
  """NumPy-broadcast ``x`` to ``shape``."""
  x = asarray(x)
  s = _aval(x).shape
  if s == tuple(shape):
    return x
  try:
    np.broadcast_shapes(s, tuple(shape))
  except ValueError:
    raise ValueError(f"where: shape {s} cannot be broadcast to {tuple(shape)}") from None
  nd = len(shape)
  return shapes.broadcast_in_dim(x, tuple(shape), tuple(range(nd - len(s), nd)))


def _keepdims(y, shape, axes):
  return shapes.reshape(y, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _promote_integer(dt):
  if dtypes.is_bool(dt):
    return dtypes.default_int_dtype()
  if dtypes.is_unsigned(dt) and dt.itemsize < dtypes.default_uint_dtype().itemsize:
    return dtypes.default_uint_dtype()
  if dtypes.is_signed(dt) and dt.itemsize < dtypes.default_int_dtype().itemsize:
    return dtypes.default_int_dtype()
  return dt


def _identity(kind, dt):
  if kind == "sum":
    return 0
  if kind == "prod":
    return 1
  if kind in ("max", "min"):
    if dtypes.is_bool(dt):
      return kind == "min"
    if dtypes.is_float(dt):
      return -np.inf if kind == "max" else np.inf
    info = np.iinfo(dt)
    return int(info.min if kind == "max" else info.max)
  if kind == "and":
    return True
  return False


_LAX = {"sum": lr.reduce_sum, "prod": lr.reduce_prod, "max": lr.reduce_max,
        "min": lr.reduce_min, "and": lr.reduce_and, "or": lr.reduce_or}
_BIN = {"sum": lax.add, "prod": lax.mul, "max": lax.max, "min": lax.min}


def _reduction(name, kind, a, axis, dtype, keepdims, initial, where, promote=False,
               has_identity=True):
  a = _arr(name, a)
  av = _aval(a)
  axes = canonicalize_axes(axis, av.ndim, name)
  if dtype is not None:
    dt = dtypes.canonicalize_dtype(dtype)
  elif promote:
    dt = _promote_integer(av.dtype)
  else:
    dt = av.dtype
  if kind in ("and", "or"):
    dt = dtypes.bool_
    a = lax.ne(a, _zeros_like_scalar(0, av.dtype)) if not dtypes.is_bool(av.dtype) else a
  elif dtypes.is_bool(dt) and kind in ("sum", "prod"):
    # sum/prod with dtype=bool: compute in int, then cast (any/all semantics).
    pass
  if kind not in ("and", "or") and av.dtype != dt:
    a = _cast(a, dt if not dtypes.is_bool(dt) else dtypes.int32)
  cdt = _aval(a).dtype
  if not has_identity and initial is None and where is None:
    if _any(av.shape[i] == 0 for i in axes):
      raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
  if where is not None:
    if initial is None and not has_identity:
      raise ValueError(f"reduction operation '{name}' does not have an identity, so to use a "
                       f"where mask one has to specify 'initial'")
    w = _bcast_to(where, av.shape)
    if not dtypes.is_bool(_aval(w).dtype):
      w = lax.ne(w, _zeros_like_scalar(0, _aval(w).dtype))
    a = lax.select(w, a, shapes.full(av.shape, _identity(kind, cdt), cdt))
  y = _LAX[kind](a, axes)
  if initial is not None:
    y = _BIN[kind](y, shapes.full(_aval(y).shape, initial, cdt))
  if _aval(y).dtype != dt:
    y = _cast(y, dt)
  if keepdims:
    y = _keepdims(y, av.shape, axes)
  return y


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
        promote_integers=True):  # noqa: A001
  _check_out("sum", out)
  return _reduction("sum", "sum", a, axis, dtype, keepdims, initial, where,
                    promote=promote_integers)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
         promote_integers=True):
  _check_out("prod", out)
  return _reduction("prod", "prod", a, axis, dtype, keepdims, initial, where,
                    promote=promote_integers)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
  _check_out("max", out)
  return _reduction("max", "max", a, axis, None, keepdims, initial, where, has_identity=False)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
  _check_out("min", out)
  return _reduction("min", "min", a, axis, None, keepdims, initial, where, has_identity=False)


amax = max
amin = min


def any(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
  _check_out("any", out)
  return _reduction("any", "or", a, axis, None, keepdims, None, where)


def all(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
  _check_out("all", out)
  return _reduction("all", "and", a, axis, None, keepdims, None, where)


def _count(name, shape, axes, where, dt, keepdims):
  """Number of elements reduced (respecting ``where``) as ``dt``."""
  if where is None:
    n = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    out_shape = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keepdims else \
        tuple(d for i, d in enumerate(shape) if i not in axes)
    return shapes.full(out_shape, n, dt)
  w = _bcast_to(where, shape)
  return sum(w, axis=axes, dtype=dt, keepdims=keepdims)


def _float_dtype(name, a, dtype):
  if dtype is not None:
    return dtypes.canonicalize_dtype(dtype)
  dt = _aval(a).dtype
  return dtypes.to_inexact_dtype(dt)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
  _check_out("mean", out)
  a = _arr("mean", a)
  av = _aval(a)
  axes = canonicalize_axes(axis, av.ndim, "mean")
  dt = _float_dtype("mean", a, dtype)
  s = sum(a, axis=axes, dtype=dt, keepdims=keepdims, where=where)
  return lax.div(s, _count("mean", av.shape, axes, where, dt, keepdims))


def average(a, axis=None, weights=None, returned=False, keepdims=False):
  a = _arr("average", a)
  if weights is None:
    avg = mean(a, axis=axis, keepdims=keepdims)
    av = _aval(a)
    axes = canonicalize_axes(axis, av.ndim, "average")
    wsum = _count("average", av.shape, axes, None, _aval(avg).dtype, keepdims)
  else:
    w = _arr("average", weights)
    av, wv = _aval(a), _aval(w)
    dt, _ = dtypes.result_type_and_weak(a, w)
    dt = dtypes.to_inexact_dtype(dt)
    a, w = _cast(a, dt), _cast(w, dt)
    if wv.shape != av.shape:
      if axis is None or wv.ndim != 1:
        raise TypeError("average: axis must be specified when shapes of a and weights differ")
      ax = canonicalize_axis(axis, av.ndim, "average")
      if wv.shape[0] != av.shape[ax]:
        raise ValueError("average: length of weights not compatible with specified axis")
      w = shapes.broadcast_in_dim(w, av.shape, (ax,))
    wsum = sum(w, axis=axis, keepdims=keepdims)
    avg = lax.div(sum(lax.mul(a, w), axis=axis, keepdims=keepdims), wsum)
  if returned:
    if _aval(wsum).shape != _aval(avg).shape:
      wsum = shapes.broadcast_in_dim(wsum, _aval(avg).shape, ())
    return avg, wsum
  return avg


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
  _check_out("var", out)
  if correction is not None:
    if ddof != 0:
      raise ValueError("var: ddof and correction can't be provided simultaneously.")
    ddof = correction
  a = _arr("var", a)
  av = _aval(a)
  axes = canonicalize_axes(axis, av.ndim, "var")
  if dtypes.is_complex(av.dtype) and dtype is not None and \
     not dtypes.is_complex(dtypes.canonicalize_dtype(dtype)):
    raise ValueError("jax.numpy.var does not yet support real dtype parameters when computing "
                     "the variance of an array of complex values.")
  dt = _float_dtype("var", a, dtype)
  a = _cast(a, dt)
  m = mean(a, axis=axes, keepdims=True, where=where)
  c = lax.sub(a, m)
  out_dt = dt if dtype is not None else None
  if dtypes.is_complex(dt):
    # JAX: |c|^2 as real(c * conj(c)), then real arithmetic (a complex
    # ``dtype`` casts the real result back)
    sq = complex_ops.real(lax.mul(c, complex_ops.conj(c)))
    dt = dtypes.real_dtype(dt)
  else:
    sq = lax.mul(c, c)
  s = sum(sq, axis=axes, keepdims=keepdims, where=where)
  n = lax.sub(_count("var", av.shape, axes, where, dt, keepdims), shapes.full((), ddof, dt))
  r = _nan_where_nonpositive(lax.div(s, n), n)
  return r if out_dt is None or out_dt == dt else lax.convert_element_type(r, out_dt)


def _nan_where_nonpositive(r, n):
  """NaN where the normalizer ``n`` is <= 0 (JAX's var)."""
  shape, dt = _aval(r).shape, _aval(r).dtype
  if _aval(n).shape != shape:
    n = shapes.broadcast_in_dim(n, shape, ())
  return lax.select(lax.gt(n, shapes.full((), 0, dt)), r, shapes.full(shape, np.nan, dt))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
  _check_out("std", out)
  return lax.sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where,
                      correction=correction))


def ptp(a, axis=None, out=None, keepdims=False):
  _check_out("ptp", out)
  return lax.sub(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


def count_nonzero(a, axis=None, keepdims=False):
  a = _arr("count_nonzero", a)
  nz = lax.ne(a, _zeros_like_scalar(0, _aval(a).dtype))
  return sum(nz, axis=axis, dtype=dtypes.default_int_dtype(), keepdims=keepdims)


def _argext(name, p, a, axis):
  """Index of the extreme along ``axis`` (flattened if None), int32/int64."""
  if axis is None:
    a = shapes.reshape(a, (_aval(a).size,))
    ax = 0
  else:
    ax = canonicalize_axis(axis, _aval(a).ndim, name)
  if _aval(a).shape[ax] == 0:
    raise ValueError(f"attempt to get {name} of an empty sequence")
  return p(a, ax, dtypes.default_int_dtype())


def argmax(a, axis=None, out=None, keepdims=None):
  _check_out("argmax", out)
  return _argext_kd("argmax", lr.argmax, a, axis, keepdims)


def argmin(a, axis=None, out=None, keepdims=None):
  _check_out("argmin", out)
  return _argext_kd("argmin", lr.argmin, a, axis, keepdims)


def _argext_kd(name, p, a, axis, keepdims):
  a = _arr(name, a)
  nd = _aval(a).ndim
  y = _argext(name, p, a, axis)
  if keepdims:
    y = shapes.reshape(y, (1,) * nd) if axis is None else \
        _keepdims(y, _aval(a).shape, (canonicalize_axis(axis, nd, name),))
  return y


# ---------------------------------------------------------------------------
# NaN-aware reductions


def _isnan(x):
  return lax.ne(x, x)


def _nan_to(x, v):
  """``x`` with NaNs replaced by ``v`` (no-op for non-floats)."""
  av = _aval(x)
  if not dtypes.is_float(av.dtype):
    return x
  return lax.select(_isnan(x), shapes.full(av.shape, v, av.dtype), x)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
  _check_out("nansum", out)
  a = _arr("nansum", a)
  return sum(_nan_to(a, 0), axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
             where=where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
  _check_out("nanprod", out)
  a = _arr("nanprod", a)
  return prod(_nan_to(a, 1), axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
              where=where)


def _nanext(name, fn, kind, a, axis, keepdims, initial, where):
  a = _arr(name, a)
  av = _aval(a)
  if not dtypes.is_float(av.dtype):
    return fn(a, axis=axis, keepdims=keepdims, initial=initial, where=where)
  y = fn(_nan_to(a, -np.inf if kind == "max" else np.inf), axis=axis, keepdims=keepdims,
         initial=initial, where=where)
  allnan = all(_isnan(a), axis=axis, keepdims=keepdims)
  return lax.select(allnan, shapes.full(_aval(y).shape, np.nan, _aval(y).dtype), y)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
  _check_out("nanmax", out)
  return _nanext("nanmax", max, "max", a, axis, keepdims, initial, where)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
  _check_out("nanmin", out)
  return _nanext("nanmin", min, "min", a, axis, keepdims, initial, where)


def _nanarg(name, fn, v, a, axis, keepdims):
  a = _arr(name, a)
  if not dtypes.is_float(_aval(a).dtype):
    return fn(a, axis=axis, keepdims=keepdims)
  y = fn(_nan_to(a, v), axis=axis, keepdims=keepdims)
  allnan = all(_isnan(a), axis=axis, keepdims=keepdims)
  return lax.select(allnan, shapes.full(_aval(y).shape, -1, _aval(y).dtype), y)


def nanargmax(a, axis=None, out=None, keepdims=None):
  _check_out("nanargmax", out)
  return _nanarg("nanargmax", argmax, -np.inf, a, axis, keepdims)


def nanargmin(a, axis=None, out=None, keepdims=None):
  _check_out("nanargmin", out)
  return _nanarg("nanargmin", argmin, np.inf, a, axis, keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
  _check_out("nanmean", out)
  a = _arr("nanmean", a)
  av = _aval(a)
  if not dtypes.is_float(av.dtype):
    return mean(a, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
  dt = _float_dtype("nanmean", a, dtype)
  ok = lax.bitwise_not(_isnan(a)) if hasattr(lax, "bitwise_not") else lax.eq(a, a)
  if where is not None:
    ok = lax.select(_bcast_to(where, av.shape), ok, shapes.full(av.shape, False, dtypes.bool_))
  s = sum(_nan_to(a, 0), axis=axis, dtype=dt, keepdims=keepdims, where=ok)
  n = sum(ok, axis=axis, dtype=dt, keepdims=keepdims)
  return lax.div(s, n)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None,
           correction=None):
  _check_out("nanvar", out)
  if correction is not None:
    ddof = correction
  a = _arr("nanvar", a)
  av = _aval(a)
  dt = _float_dtype("nanvar", a, dtype)
  a = _cast(a, dt)
  ok = lax.eq(a, a)
  if where is not None:
    ok = lax.select(_bcast_to(where, av.shape), ok, shapes.full(av.shape, False, dtypes.bool_))
  m = nanmean(a, axis=axis, keepdims=True, where=ok)
  c = _nan_to(lax.sub(a, m), 0)
  s = sum(lax.mul(c, c), axis=axis, keepdims=keepdims, where=ok)
  n = lax.sub(sum(ok, axis=axis, dtype=dt, keepdims=keepdims), shapes.full((), ddof, dt))
  return _nan_where_nonpositive(lax.div(s, n), n)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None,
           correction=None):
  _check_out("nanstd", out)
  return lax.sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where,
                         correction=correction))


# ---------------------------------------------------------------------------
# Cumulative reductions


def _cumulative(name, p, a, axis, dtype, nan_value=None):
  a = _arr(name, a)
  if axis is None:
    a = shapes.reshape(a, (_aval(a).size,))
    axis = 0
  ax = canonicalize_axis(axis, _aval(a).ndim, name)
  if nan_value is not None:
    a = _nan_to(a, nan_value)
  if dtype is not None:
    dt = dtypes.canonicalize_dtype(dtype)
  else:
    dt = _aval(a).dtype
    if dtypes.is_bool(dt):
      dt = dtypes.default_int_dtype()
  a = _cast(a, dt)
  return p(a, ax)


def cumsum(a, axis=None, dtype=None, out=None):
  _check_out("cumsum", out)
  return _cumulative("cumsum", lr.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
  _check_out("cumprod", out)
  return _cumulative("cumprod", lr.cumprod, a, axis, dtype)


def nancumsum(a, axis=None, dtype=None, out=None):
  _check_out("nancumsum", out)
  return _cumulative("nancumsum", lr.cumsum, a, axis, dtype, nan_value=0)


def nancumprod(a, axis=None, dtype=None, out=None):
  _check_out("nancumprod", out)
  return _cumulative("nancumprod", lr.cumprod, a, axis, dtype, nan_value=1)


def _cumulative_new(name, p, x, axis, dtype, include_initial, init):
  x = _arr(name, x)
  nd = _aval(x).ndim
  if nd == 0:
    raise ValueError(f"{name}: the input must be non-scalar to take a cumulative sum")
  if axis is None:
    if nd > 1:
      raise ValueError(f"{name}: the input array has more than 1 dimension, so "
                       f"the axis argument must be specified")
    axis = 0
  y = _cumulative(name, p, x, axis, dtype)
  if include_initial:
    ax = canonicalize_axis(axis, nd, name)
    raise NotImplementedError(f"{name}: include_initial=True needs concatenate (axis {ax})")
  return y


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
  return _cumulative_new("cumulative_sum", lr.cumsum, x, axis, dtype, include_initial, 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
  return _cumulative_new("cumulative_prod", lr.cumprod, x, axis, dtype, include_initial, 1)


# ---------------------------------------------------------------------------
# Order statistics: sort along the axis, then pick elements with a masked sum
# (gather/slice arrive with the indexing work).


def _pick(sorted_x, idx, axis):
  """``sorted_x`` at integer positions ``idx`` (keepdims-shaped, int32) along
  ``axis``, reduced over ``axis`` (a gather of one element per row)."""
  sv = _aval(sorted_x)
  idx = shapes.broadcast_in_dim(idx, sv.shape[:axis] + (1,) + sv.shape[axis + 1:],
                                tuple(range(sv.ndim))) if _aval(idx).shape != \
      sv.shape[:axis] + (1,) + sv.shape[axis + 1:] else idx
  out = shape_ops.take_along_axis(sorted_x, idx, axis)
  return shapes.reshape(out, sv.shape[:axis] + sv.shape[axis + 1:])


def _quantile(name, a, q, axis, method, keepdims, ignore_nan):
  a = _arr(name, a)
  if method not in ("linear", "lower", "higher", "midpoint", "nearest"):
    raise ValueError(f"{name}: method can only be 'linear', 'lower', 'higher', 'midpoint', "
                     f"or 'nearest', got {method!r}")
  if dtypes.is_complex(_aval(a).dtype):
    raise ValueError("quantile does not support complex input, as the operation is poorly "
                     "defined.")
  if isinstance(q, core.Tracer):
    raise NotImplementedError(f"{name}: q must be concrete")
  qs = np.asarray(q, dtype=np.float64)
  if qs.ndim > 1:
    raise ValueError(f"{name}: q must be a scalar or a 1-d array")
  if np.any((qs < 0) | (qs > 1)):
    raise ValueError(f"{name}: quantiles must be in the range [0, 1]")
  av = _aval(a)
  dt = av.dtype if dtypes.is_float(av.dtype) else dtypes.to_inexact_dtype(av.dtype)
  a = _cast(a, dt)
  if axis is None:
    a = shapes.reshape(a, (av.size,))
    axes_kd = tuple(range(av.ndim))
    ax = 0
  else:
    ax = canonicalize_axis(axis, av.ndim, name)
    axes_kd = (ax,)
  n = _aval(a).shape[ax]
  s = lr.sort(a, dimension=ax)
  kshape = tuple(1 if i == ax else d for i, d in enumerate(_aval(a).shape))
  if ignore_nan:
    cnt = sum(lax.eq(a, a), axis=ax, dtype=dt, keepdims=True)
    nm1 = lax.sub(cnt, shapes.full((), 1, dt))
  else:
    nm1 = shapes.full(kshape, n - 1, dt)
  outs = []
  for qv in qs.reshape(-1):
    pos = lax.mul(nm1, shapes.full((), qv, dt))
    pos = lax.max(pos, shapes.full((), 0, dt))
    lo = lax.convert_element_type(pos, dtypes.int32)        # floor (pos >= 0)
    lof = _cast(lo, dt)
    hi = lax.convert_element_type(lax.min(lax.add(lof, shapes.full((), 1, dt)),
                                          lax.max(nm1, shapes.full((), 0, dt))), dtypes.int32)
    frac = lax.sub(pos, lof)
    vlo, vhi = _pick(s, lo, ax), _pick(s, hi, ax)
    fr = shapes.reshape(frac, _aval(vlo).shape)
    if method == "linear":
      r = lax.add(vlo, lax.mul(lax.sub(vhi, vlo), fr))
    elif method == "lower":
      r = vlo
    elif method == "higher":
      r = lax.select(lax.gt(fr, shapes.full(_aval(fr).shape, 0, dt)), vhi, vlo)
    elif method == "midpoint":
      mid = lax.mul(lax.add(vlo, vhi), shapes.full((), 0.5, dt))
      r = lax.select(lax.gt(fr, shapes.full(_aval(fr).shape, 0, dt)), mid, vlo)
    else:  # nearest, as JAX: the lower one unless frac > 0.5
      r = lax.select(lax.gt(fr, shapes.full(_aval(fr).shape, 0.5, dt)), vhi, vlo)
    if not ignore_nan:
      anynan = any(_isnan(a), axis=ax)
      r = lax.select(anynan, shapes.full(_aval(r).shape, np.nan, dt), r)
    else:
      empty = lax.lt(shapes.reshape(nm1, _aval(r).shape), shapes.full((), 0, dt))
      r = lax.select(empty, shapes.full(_aval(r).shape, np.nan, dt), r)
    if keepdims:
      r = _keepdims(r, av.shape, axes_kd) if axis is not None else \
          shapes.reshape(r, (1,) * av.ndim)
    outs.append(r)
  if qs.ndim == 0:
    return outs[0]
  rs = _aval(outs[0]).shape
  full_shape = (len(outs),) + rs
  io = shapes.broadcasted_iota(dtypes.int32, full_shape, 0)
  res = shapes.full(full_shape, 0, dt)
  for i, r in enumerate(outs):
    rb = shapes.broadcast_in_dim(r, full_shape, tuple(range(1, len(full_shape))))
    res = lax.select(lax.eq(io, shapes.full((), i, dtypes.int32)), rb, res)
  return res


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False):
  _check_out("quantile", out)
  return _quantile("quantile", a, q, axis, method, keepdims, False)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False):
  _check_out("nanquantile", out)
  return _quantile("nanquantile", a, q, axis, method, keepdims, True)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False):
  _check_out("percentile", out)
  return _quantile("percentile", a, np.asarray(q, np.float64) / 100, axis, method, keepdims,
                   False)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False):
  _check_out("nanpercentile", out)
  return _quantile("nanpercentile", a, np.asarray(q, np.float64) / 100, axis, method, keepdims,
                   True)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
  _check_out("median", out)
  return _quantile("median", a, 0.5, axis, "linear", keepdims, False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
  _check_out("nanmedian", out)
  return _quantile("nanmedian", a, 0.5, axis, "linear", keepdims, True)


__all__ = ["sum", "prod", "max", "amax", "min", "amin", "any", "all", "mean", "average", "var",
           "std", "ptp", "count_nonzero", "argmax", "argmin", "nansum", "nanprod", "nanmax",
           "nanmin", "nanargmax", "nanargmin", "nanmean", "nanvar", "nanstd", "cumsum",
           "cumprod", "nancumsum", "nancumprod", "cumulative_sum", "cumulative_prod",
           "quantile", "nanquantile", "percentile", "nanpercentile", "median", "nanmedian"]
