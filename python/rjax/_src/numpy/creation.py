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
from rjax._src.numpy import linalg
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
    raise ValueError(f"{fun_name}: negative dimensions are not allowed, got {out}")
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


def arange(start, stop=None, step=None, dtype=None, *, device=None):
  """JAX's arange: int32 for integer args, float32 for float args (x64 off)."""
  args = [a for a in (start, stop, step) if a is not None]
  check_arraylike("arange", *args)
  if dtype is None:
    dt = dtypes.result_type(*args)
  else:
    dt = _dtype(dtype)
  vals = [_concrete(a, "arange", "arguments") for a in (start, stop, step)]
  if vals[1] is None and vals[2] is None:
    n = max(int(math.ceil(vals[0])), 0)
    return shapes.broadcasted_iota(dt, (n,), 0) if dt != dtypes.bool_ else \
        asarray(np.arange(vals[0], dtype=dt))
  return asarray(np.arange(*[v for v in vals], dtype=dt))


def _floor(x):
  t = lax.convert_element_type(x, dtypes.int64 if dtypes.x64_enabled() else dtypes.int32)
  back = lax.convert_element_type(t, core.get_aval(x).dtype)
  return lax.sub(back, lax.convert_element_type(lax.gt(back, x), core.get_aval(x).dtype))


def linspace(start, stop, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype=None, axis: int = 0, *, device=None):
  """``num`` evenly spaced values from start to stop (inclusive if endpoint)."""
  num = operator.index(_concrete(num, "linspace", "num"))
  if num < 0:
    raise ValueError(f"linspace: number of samples, {num}, must be non-negative.")
  check_arraylike("linspace", start, stop)
  dt = _dtype(dtype, dtypes.result_type(start, stop, dtypes.default_float_dtype()))
  ct = dt if dtypes.is_float(dt) else dtypes.default_float_dtype()
  start = lax.convert_element_type(asarray(start), ct)
  stop = lax.convert_element_type(asarray(stop), ct)
  bshape = np.broadcast_shapes(core.get_aval(start).shape, core.get_aval(stop).shape)
  start, stop = _broadcast_to(start, bshape, "linspace"), _broadcast_to(stop, bshape, "linspace")
  nd = len(bshape) + 1
  axis = canonicalize_axis(axis, nd, "linspace")
  out_shape = bshape[:axis] + (num,) + bshape[axis:]
  other = tuple(d for d in range(nd) if d != axis)
  bstart = shapes.broadcast_in_dim(start, out_shape, other)
  bstop = shapes.broadcast_in_dim(stop, out_shape, other)
  div = (num - 1) if endpoint else num
  diff = lax.sub(stop, start)
  if div > 0:
    delta = lax.div(diff, shapes.full(core.get_aval(diff).shape, div, ct))
    it = shapes.broadcasted_iota(ct, out_shape, axis)
    out = lax.add(bstart, lax.mul(it, shapes.broadcast_in_dim(delta, out_shape, other)))
  else:
    delta = lax.mul(diff, shapes.full(core.get_aval(diff).shape, np.nan, ct))
    out = bstart
  if endpoint and num > 1:
    last = lax.eq(shapes.broadcasted_iota(dtypes.int32, out_shape, axis),
                  shapes.full((), num - 1, dtypes.int32))
    out = lax.select(last, bstop, out)
  if dtypes.is_int(dt) or dtypes.is_bool(dt):
    out = _floor(out) if dtypes.is_int(dt) else out
  out = lax.convert_element_type(out, dt)
  if retstep:
    return out, delta
  return out


def logspace(start, stop, num: int = 50, endpoint: bool = True, base=10.0, dtype=None,
             axis: int = 0):
  dt = _dtype(dtype, dtypes.result_type(start, stop, dtypes.default_float_dtype()))
  ct = dt if dtypes.is_float(dt) else dtypes.default_float_dtype()
  lin = linspace(start, stop, num, endpoint=endpoint, dtype=ct, axis=axis)
  logb = lax.log(lax.convert_element_type(asarray(base), ct))
  logb = shapes.broadcast_in_dim(logb, core.get_aval(lin).shape, ()) \
      if core.get_aval(logb).ndim == 0 else logb
  return lax.convert_element_type(lax.exp(lax.mul(lin, logb)), dt)


def geomspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0):
  dt = _dtype(dtype, dtypes.result_type(start, stop, dtypes.default_float_dtype()))
  ct = dt if dtypes.is_float(dt) else dtypes.default_float_dtype()
  s = lax.convert_element_type(asarray(start), ct)
  e = lax.convert_element_type(asarray(stop), ct)
  sign = lax.select(lax.lt(s, shapes.full_like(s, 0)), shapes.full_like(s, -1), shapes.full_like(s, 1))
  ls = lax.log(lax.mul(s, sign))
  le = lax.log(lax.mul(e, sign))
  out = lax.exp(linspace(ls, le, num, endpoint=endpoint, dtype=ct, axis=axis))
  sign = shapes.broadcast_in_dim(sign, core.get_aval(out).shape, ()) \
      if core.get_aval(sign).ndim == 0 else sign
  out = lax.mul(out, sign)
  if num > 0:  # exact endpoints, as NumPy
    it = shapes.broadcasted_iota(dtypes.int32, core.get_aval(out).shape, axis)
    first = lax.eq(it, shapes.full((), 0, dtypes.int32))
    out = lax.select(first, shapes.full(core.get_aval(out).shape, s, None)
                     if core.get_aval(s).ndim == 0 else out, out)
    if endpoint:
      lastm = lax.eq(it, shapes.full((), num - 1, dtypes.int32))
      out = lax.select(lastm, shapes.full(core.get_aval(out).shape, e, None)
                       if core.get_aval(e).ndim == 0 else out, out)
  return lax.convert_element_type(out, dt)


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
