"""Array creation: zeros, ones, full, arange, linspace, eye, tri, meshgrid, diag, ...

Everything is built from lax primitives (iota, broadcast_in_dim, select_n,
comparisons, dot_general), so it also works under tracing; only sizes (and
arange's float values, as in JAX) need concrete arguments.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.errors import ConcretizationTypeError
from rjax._src.lax import lax, matmul as dot_mod, shapes
from rjax._src.numpy import linalg, ufuncs
from rjax._src.numpy.util import asarray, canonicalize_axis, check_arraylike


def _shape(shape, fun_name: str) -> tuple:
  if isinstance(shape, (int, np.integer)) or (hasattr(shape, "ndim") and shape.ndim == 0):
    shape = (shape,)
  for d in (shape if isinstance(shape, (tuple, list)) else ()):
    if isinstance(d, core.Tracer):
      raise core._tracer_error(
          "ConcretizationTypeError", d, f"{fun_name}: shapes must be concrete; got a traced "
          f"dimension in shape {tuple(shape)!r}: the conversion", "Pass the size as a "
          "static argument (static_argnums / static_argnames) or compute it from .shape.")
  try:
    out = tuple(operator.index(d) for d in shape)
  except TypeError:
    raise TypeError(f"{fun_name}: shape must be an int or a sequence of ints, got {shape!r}") \
        from None
  if any(d < 0 for d in out):
    raise TypeError(f"{fun_name}: negative dimensions are not allowed, got {out}")
  return out


def _dtype(dtype, default=None) -> np.dtype:
  if dtype is None:
    return dtypes.canonicalize_dtype(default if default is not None
                                     else dtypes.default_float_dtype())
  return dtypes.canonicalize_dtype(dtype)


def zeros(shape, dtype=None, *, device=None):
  return shapes.full(_shape(shape, "zeros"), 0, _dtype(dtype))


def ones(shape, dtype=None, *, device=None):
  return shapes.full(_shape(shape, "ones"), 1, _dtype(dtype))


def empty(shape, dtype=None, *, device=None):
  return zeros(shape, dtype)


def full(shape, fill_value, dtype=None, *, device=None):
  shape = _shape(shape, "full")
  check_arraylike("full", fill_value)
  v = asarray(fill_value)
  if dtype is not None:
    v = lax.convert_element_type(v, _dtype(dtype))
  return _broadcast_to(v, shape, "full")


def _broadcast_to(v, shape, fun_name):
  s = core.get_aval(v).shape
  try:
    if np.broadcast_shapes(s, shape) != tuple(shape):
      raise ValueError
  except ValueError:
    raise ValueError(f"{fun_name}: cannot broadcast shape {s} to {tuple(shape)}") from None
  nd = len(shape)
  return shapes.broadcast_in_dim(v, shape, tuple(range(nd - len(s), nd)))


def _like(fun_name, a, dtype, shape):
  check_arraylike(fun_name, a)
  aval = core.get_aval(a) if not isinstance(a, (list, tuple)) else core.get_aval(asarray(a))
  shape = aval.shape if shape is None else _shape(shape, fun_name)
  if dtype is None:
    return aval.dtype, aval.weak_type, shape
  return _dtype(dtype), False, shape


def _full_like(fun_name, a, fill_value, dtype, shape):
  dt, weak, shape = _like(fun_name, a, dtype, shape)
  v = lax.convert_element_type(asarray(fill_value), dt, weak_type=weak)
  if core.get_aval(v).ndim == 0:
    return shapes.broadcast_in_dim(v, shape, ())
  return _broadcast_to(v, shape, fun_name)


def zeros_like(a, dtype=None, shape=None, *, device=None):
  return _full_like("zeros_like", a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None, *, device=None):
  return _full_like("ones_like", a, 1, dtype, shape)


def empty_like(prototype, dtype=None, shape=None, *, device=None):
  return _full_like("empty_like", prototype, 0, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
  check_arraylike("full_like", fill_value)
  return _full_like("full_like", a, fill_value, dtype, shape)


def _concrete(x, fun_name, what):
  if isinstance(x, core.Tracer):
    raise ConcretizationTypeError(f"{fun_name}: {what} must be concrete (not traced)")
  return np.asarray(x).item() if hasattr(x, "shape") else x


def _inexact(dt) -> np.dtype:
  dt = np.dtype(dt)
  return dt if dtypes.is_float(dt) else dtypes.to_inexact_dtype(dt)


def arange(start, stop=None, step=None, dtype=None, *, device=None):
  """JAX's arange: the size from NumPy's formula, the values ``start + step *
  iota`` computed in the output dtype (in float32 for 16-bit floats), so
  float ranges have JAX's exact values; arguments must be concrete scalars."""
  args = [a for a in (start, stop, step) if a is not None]
  check_arraylike("arange", *args)
  names = ("stop" if stop is None and step is None else "start", "stop", "step")
  for name, v in zip(names, (start, stop, step)):
    if v is not None and np.ndim(v) != 0:
      raise ValueError(f"jax.numpy.arange: arguments must be scalars; got {name}={v}")
  dt = dtypes.result_type(*args) if dtype is None else _dtype(dtype)
  if dtypes.is_complex(dt):   # the real range, as complex values
    return lax.convert_element_type(arange(start, stop, step, dtypes.real_dtype(dt)), dt)
  start, stop, step = (_concrete(v, "arange", f"the argument '{n}'")
                       for n, v in zip(names, (start, stop, step)))
  if stop is None:
    start, stop = 0, start
  if step is not None:
    work = np.dtype(np.float32) if dtypes.is_float(dt) and dt.itemsize < 4 else dt
    size = max(0, int(np.ceil((stop - start) / step)))
    return lax.convert_element_type(
        lax.add(lax.convert_element_type(asarray(start), work),
                lax.mul(lax.convert_element_type(asarray(step), work),
                        shapes.broadcasted_iota(work, (size,), 0))), dt)
  if start == 0:
    return shapes.broadcasted_iota(dt, (max(0, int(np.ceil(stop))),), 0)
  size = max(0, int(np.ceil(stop - start)))
  return lax.add(lax.convert_element_type(asarray(start), dt), shapes.broadcasted_iota(dt, (size,), 0))


def _floor(x):
  return lax.floor(x)


def _recip(n: int, dt):
  """``1 / n`` rounded to ``dt`` (XLA turns a division by a constant into this product)."""
  return shapes.full((), 1, dt) if n == 1 else lax.div(shapes.full((), 1, dt),
                                                        shapes.full((), n, dt))


def linspace(start, stop, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype=None, axis: int = 0, *, device=None):
  """``num`` evenly spaced values from start to stop, computed with JAX's
  formula ``start * (1 - t) + stop * t`` with ``t = i * (1 / div)``, in the
  form XLA compiles it (so the points are JAX's, e.g. the middle of
  ``linspace(-0.9, 0.9, 7)`` is 2.98e-08, not 0)."""
  num = operator.index(_concrete(num, "linspace", "num"))
  if num < 0:
    raise ValueError(f"linspace: number of samples, {num}, must be non-negative.")
  check_arraylike("linspace", start, stop)
  dt = _inexact(dtypes.result_type(start, stop)) if dtype is None else _dtype(dtype)
  ct = _inexact(dt)
  start = lax.convert_element_type(asarray(start), ct)
  stop = lax.convert_element_type(asarray(stop), ct)
  bshape = np.broadcast_shapes(core.get_aval(start).shape, core.get_aval(stop).shape)
  start, stop = _broadcast_to(start, bshape, "linspace"), _broadcast_to(stop, bshape, "linspace")
  nd = len(bshape) + 1
  axis = canonicalize_axis(axis, nd, "linspace")
  other = tuple(d for d in range(nd) if d != axis)
  div = (num - 1) if endpoint else num
  if num > 1 and dtypes.is_complex(ct):
    # JAX: the steps in the real dtype, then complex products with them
    rt = dtypes.real_dtype(ct)
    delta = lax.div(lax.sub(stop, start), shapes.full(bshape, div, ct))
    shape = bshape[:axis] + (div,) + bshape[axis:]
    t = lax.convert_element_type(
        lax.mul(shapes.broadcasted_iota(rt, shape, axis), _bcast0(_recip(div, rt), shape)), ct)
    lo = lax.mul(shapes.broadcast_in_dim(start, shape, other),
                 lax.sub(shapes.full(shape, 1, ct), t))
    out = lax.add(lo, lax.mul(shapes.broadcast_in_dim(stop, shape, other), t))
    if endpoint:
      out = shapes.concatenate([out, shapes.expand_dims(stop, (axis,))], axis)
  elif num > 1:
    r = _recip(div, ct)
    delta = lax.mul(lax.sub(stop, start), _bcast0(r, bshape))
    shape = bshape[:axis] + (div,) + bshape[axis:]
    it = shapes.broadcasted_iota(ct, shape, axis)
    t = lax.mul(it, _bcast0(r, shape))
    lo = lax.mul(shapes.broadcast_in_dim(start, shape, other),
                 lax.sub(shapes.full(shape, 1, ct), t))
    if bshape:
      hi = lax.mul(shapes.broadcast_in_dim(stop, shape, other), t)
    else:  # XLA reassociates stop * (i * r) into i * (stop * r) for scalar bounds
      hi = lax.mul(it, shapes.broadcast_in_dim(lax.mul(stop, r), shape, ()))
    out = lax.add(lo, hi)
    if endpoint:
      out = shapes.concatenate([out, shapes.expand_dims(stop, (axis,))], axis)
  elif num == 1:
    delta = shapes.full((), np.nan, ct) if endpoint else lax.sub(stop, start)
    out = shapes.expand_dims(start, (axis,))
  else:
    delta = shapes.full((), np.nan, ct)
    out = shapes.full(bshape[:axis] + (0,) + bshape[axis:], 0, ct)
  if dtypes.is_int(dt) and not dtypes.is_int(core.get_aval(out).dtype):
    out = lax.floor(out)
  out = lax.convert_element_type(out, dt)
  return (out, delta) if retstep else out


def _bcast0(x, shape):
  return shapes.broadcast_in_dim(x, tuple(shape), ()) if tuple(shape) else x


def logspace(start, stop, num: int = 50, endpoint: bool = True, base=10.0, dtype=None,
             axis: int = 0):
  """``base ** linspace(start, stop)`` (JAX's formula)."""
  num = operator.index(_concrete(num, "logspace", "num"))
  axis = operator.index(axis)
  check_arraylike("logspace", start, stop)
  dt = _inexact(dtypes.result_type(start, stop)) if dtype is None else _dtype(dtype)
  ct = _inexact(dt)
  start = lax.convert_element_type(asarray(start), ct)
  stop = lax.convert_element_type(asarray(stop), ct)
  lin = linspace(start, stop, num, endpoint=endpoint, axis=axis)
  return lax.convert_element_type(ufuncs.power(base, lin), dt)


def geomspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0):
  """Geometric progression from start to stop (JAX's formula:
  ``sign * logspace(log10(start / sign), log10(stop / sign))``)."""
  num = operator.index(_concrete(num, "geomspace", "num"))
  axis = operator.index(axis)
  check_arraylike("geomspace", start, stop)
  dt = _inexact(dtypes.result_type(start, stop)) if dtype is None else _dtype(dtype)
  ct = _inexact(dt)
  start = lax.convert_element_type(asarray(start), ct)
  stop = lax.convert_element_type(asarray(stop), ct)
  sign = ufuncs.sign(start)
  res = ufuncs.multiply(sign, logspace(ufuncs.log10(ufuncs.true_divide(start, sign)),
                                       ufuncs.log10(ufuncs.true_divide(stop, sign)), num,
                                       endpoint=endpoint, base=10.0, dtype=ct, axis=0))
  nd = core.get_aval(res).ndim
  axis = canonicalize_axis(axis, nd, "geomspace")
  if axis != 0:
    res = shapes.transpose(res, tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, nd)))
  return lax.convert_element_type(res, dt)


def _index_diff_mask(n: int, m: int, k: int, cmp):
  """``cmp(col - row, k)`` over an (n, m) grid, as a bool array."""
  r = shapes.broadcasted_iota(dtypes.int32, (n, m), 0)
  c = shapes.broadcasted_iota(dtypes.int32, (n, m), 1)
  return cmp(lax.sub(c, r), shapes.full((), int(k), dtypes.int32))


def eye(N: int, M: int | None = None, k: int = 0, dtype=None, *, device=None):
  N = operator.index(N)
  M = N if M is None else operator.index(M)
  if N < 0 or M < 0:
    raise ValueError(f"eye: negative dimensions are not allowed, got N={N}, M={M}")
  return lax.convert_element_type(_index_diff_mask(N, M, operator.index(k), lax.eq), _dtype(dtype))


def identity(n: int, dtype=None):
  return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype=None):
  N = operator.index(N)
  M = N if M is None else operator.index(M)
  return lax.convert_element_type(_index_diff_mask(N, M, operator.index(k), lax.le), _dtype(dtype))


def _tri_select(fun_name, m, k, cmp, keep_if):
  check_arraylike(fun_name, m)
  m = asarray(m)
  aval = core.get_aval(m)
  if aval.ndim < 2:
    raise ValueError(f"{fun_name}: argument must be at least 2-d, got shape {aval.shape}")
  n_, m_ = aval.shape[-2:]
  mask = shapes.broadcast_in_dim(_index_diff_mask(n_, m_, operator.index(k), cmp), aval.shape,
                                 (aval.ndim - 2, aval.ndim - 1))
  z = shapes.full_like(m, 0)
  return lax.select(mask, m, z) if keep_if else lax.select(mask, z, m)


def tril(m, k: int = 0):
  return _tri_select("tril", m, k, lax.le, True)


def triu(m, k: int = 0):
  return _tri_select("triu", m, k, lax.lt, False)


def meshgrid(*xi, copy: bool = True, sparse: bool = False, indexing: str = "xy"):
  check_arraylike("meshgrid", *xi)
  if indexing not in ("xy", "ij"):
    raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
  args = [asarray(x) for x in xi]
  for a in args:
    if core.get_aval(a).ndim != 1:
      raise ValueError(f"meshgrid: arguments must be 1-d, got shape {core.get_aval(a).shape}")
  shape = [core.get_aval(a).shape[0] for a in args]
  if indexing == "xy" and len(args) >= 2:
    shape[0], shape[1] = shape[1], shape[0]
  out = []
  for i, a in enumerate(args):
    d = i
    if indexing == "xy" and len(args) >= 2 and i < 2:
      d = 1 - i
    if sparse:
      s = [1] * len(args)
      s[d] = shape[d]
      out.append(shapes.reshape(a, s))
    else:
      out.append(shapes.broadcast_in_dim(a, tuple(shape), (d,)))
  return out


def _diag_1d(v, k: int):
  """(n+|k|, n+|k|) matrix with ``v`` on diagonal ``k``."""
  n = core.get_aval(v).shape[0]
  size = n + abs(k)
  # v indexed by the row (k >= 0) or the column (k < 0) of an (size, size) grid: place v
  # into a length-`size` vector first (zeros elsewhere; those entries are masked out).
  ext = _pad_end(v, size - n)
  idx_dim = 0 if k >= 0 else 1
  vals = shapes.broadcast_in_dim(ext, (size, size), (idx_dim,))
  mask = _index_diff_mask(size, size, k, lax.eq)
  return lax.select(mask, vals, shapes.full_like(vals, 0))


def _pad_end(v, extra: int):
  """``v`` (1-d) followed by ``extra`` zeros. Uses lax.pad when available;
  otherwise a select over a broadcast (the extra values are arbitrary copies of
  v[0] masked to zero)."""
  if extra == 0:
    return v
  n = core.get_aval(v).shape[0]
  pad = getattr(shapes, "pad", None) or getattr(__import__("rjax._src.lax.slicing",
                                                           fromlist=["pad"]), "pad", None)
  if pad is not None:
    return pad(v, shapes.full((), 0, core.get_aval(v).dtype), [(0, extra, 0)])
  # Fallback without pad: out[i] = sum_j (i == j) ? v[j] : 0 via select + dot_general.
  size = n + extra
  sel = lax.eq(shapes.broadcasted_iota(dtypes.int32, (size, n), 0),
               shapes.broadcasted_iota(dtypes.int32, (size, n), 1))
  vb = shapes.broadcast_in_dim(v, (size, n), (1,))
  m = lax.select(sel, vb, shapes.full_like(vb, 0))
  ones_ = shapes.full((n,), 1, core.get_aval(v).dtype)
  return dot_mod.dot_general(m, ones_, (((1,), (0,)), ((), ())))


def diag(v, k: int = 0):
  check_arraylike("diag", v)
  v = asarray(v)
  k = operator.index(k)
  nd = core.get_aval(v).ndim
  if nd == 1:
    return _diag_1d(v, k)
  if nd == 2:
    return linalg.diagonal(v, offset=k)
  raise ValueError(f"diag: input must be 1-d or 2-d, got shape {core.get_aval(v).shape}")


def diagflat(v, k: int = 0):
  check_arraylike("diagflat", v)
  v = asarray(v)
  return _diag_1d(shapes.reshape(v, (core.get_aval(v).size,)), operator.index(k))


def indices(dimensions: Sequence[int], dtype=None, sparse: bool = False):
  dims = _shape(dimensions, "indices")
  dt = _dtype(dtype, dtypes.default_int_dtype())
  n = len(dims)
  if sparse:
    return tuple(shapes.reshape(shapes.broadcasted_iota(dt, (d,), 0),
                                tuple(d if j == i else 1 for j in range(n)))
                 for i, d in enumerate(dims))
  shape = (n,) + dims
  if n == 0:
    return zeros((0,), dt)
  if n == 1:
    return shapes.broadcasted_iota(dt, shape, 1)
  which = shapes.broadcasted_iota(dtypes.int32, shape, 0)
  return lax.select_n(which, *[shapes.broadcasted_iota(dt, shape, i + 1) for i in range(n)])


def fromfunction(function, shape, *, dtype=float, **kwargs):
  shape = _shape(shape, "fromfunction")
  dt = _dtype(dtype)
  return function(*[shapes.broadcasted_iota(dt, shape, i) for i in range(len(shape))], **kwargs)


def copy(a, order=None):
  check_arraylike("copy", a)
  return asarray(a)


__all__ = ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
           "arange", "linspace", "logspace", "geomspace", "eye", "identity", "tri", "tril", "triu",
           "meshgrid", "diag", "diagflat", "indices", "fromfunction", "copy"]
