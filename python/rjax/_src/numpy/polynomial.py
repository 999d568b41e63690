"""Polynomials in coefficient arrays (highest power first): poly, polyval,
polyadd, polysub, polymul, polydiv, polyder, polyint, roots, polyfit, with
JAX's algorithms (``polyval`` is Horner's rule in a ``scan``, ``roots`` the
eigenvalues of the companion matrix, ``polyfit`` least squares on the
column-scaled Vandermonde matrix).
"""
from __future__ import annotations

import operator

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.errors import ConcretizationTypeError
from rjax._src.lax import lax, shapes, slicing
from rjax._src.lax import reductions as lax_reductions
from rjax._src.lax.utils import asarray_lax
from rjax._src.lax.control_flow import loops
from rjax._src.numpy import (creation, indexing, linalg, linalg_decomp, reductions, scalar_types,
                             shape_ops, signal, ufuncs)
from rjax._src.numpy.util import (asarray, check_arraylike, promote_dtypes,
                                  promote_dtypes_inexact)


def _aval(x):
  return core.get_aval(x)


def _static(v, what):
  if isinstance(v, core.Tracer):
    raise ConcretizationTypeError(f"{what} must be a concrete integer")
  return operator.index(v)


def poly(seq_of_zeros):
  """Coefficients of the monic polynomial with the given roots."""
  check_arraylike("poly", seq_of_zeros)
  (z,) = promote_dtypes_inexact(seq_of_zeros)
  z = shape_ops.atleast_1d(asarray(z))
  sh = _aval(z).shape
  if len(sh) == 2 and sh[0] == sh[1] and sh[0] != 0:
    z = linalg_decomp.eigvals(z)
    sh = _aval(z).shape
  if _aval(z).ndim != 1:
    raise ValueError("input must be 1d or non-empty square 2d array.")
  dt = _aval(z).dtype
  if sh[0] == 0:
    return shapes.full((), 1, dt)
  a = shapes.full((1,), 1, dt)
  zero = shapes.full((1,), 0, dt)
  for k in range(sh[0]):
    zk = slicing.slice_in_dim(z, k, k + 1)
    if dtypes.issubdtype(dt, np.complexfloating):
      # a * (x - z_k), as the convolution with [1, -z_k] (no complex conv kernel)
      a = lax.sub(shapes.concatenate([a, zero], 0),
                  lax.mul(zk, shapes.concatenate([zero, a], 0)))
    else:
      a = signal.convolve(a, shapes.concatenate([shapes.full((1,), 1, dt), lax.neg(zk)], 0),
                          mode="full")
  return a


def polyval(p, x, *, unroll: int = 16):
  """Evaluate the polynomial ``p`` at ``x`` (Horner's rule)."""
  check_arraylike("polyval", p, x)
  p, x = (asarray(v) for v in promote_dtypes(p, x))
  shape = shape_ops.broadcast_shapes(_aval(p).shape[1:], _aval(x).shape)
  y = shapes.full(shape, 0, _aval(x).dtype)

  def step(y, c):
    return ufuncs.add(ufuncs.multiply(y, x), c), None

  y, _ = loops.scan(step, y, p, unroll=unroll)
  return y


def polyadd(a1, a2):
  """Sum of two polynomials."""
  check_arraylike("polyadd", a1, a2)
  a1, a2 = (asarray(v) for v in promote_dtypes(a1, a2))
  if _aval(a2).shape[0] > _aval(a1).shape[0]:
    a1, a2 = a2, a1
  n1, n2 = _aval(a1).shape[0], _aval(a2).shape[0]
  return indexing._IndexUpdateRef(a1, slice(n1 - n2, n1)).add(a2)


def polysub(a1, a2):
  """Difference of two polynomials."""
  check_arraylike("polysub", a1, a2)
  a1, a2 = promote_dtypes(a1, a2)
  return polyadd(a1, ufuncs.negative(a2))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
  """Product of two polynomials (a full convolution)."""
  check_arraylike("polymul", a1, a2)
  a1, a2 = (asarray(v) for v in promote_dtypes_inexact(a1, a2))
  if trim_leading_zeros and (_aval(a1).shape[0] > 1 or _aval(a2).shape[0] > 1):
    a1, a2 = shape_ops.trim_zeros(a1, trim="f"), shape_ops.trim_zeros(a2, trim="f")
  if _aval(a1).shape[0] == 0:
    a1 = shapes.full((1,), 0, _aval(a2).dtype)
  if _aval(a2).shape[0] == 0:
    a2 = shapes.full((1,), 0, _aval(a1).dtype)
  return signal.convolve(a1, a2, mode="full")


def _trim_zeros_tol(a, tol):
  v = np.asarray(a)
  nz = np.nonzero(np.abs(v) >= tol)[0]
  start = nz[0] if nz.size else v.shape[0]
  return slicing.slice_in_dim(a, int(start), v.shape[0])


def polydiv(u, v, *, trim_leading_zeros: bool = False):
  """Quotient and remainder of polynomial division."""
  check_arraylike("polydiv", u, v)
  u, v = (asarray(w) for w in promote_dtypes_inexact(u, v))
  m, n = _aval(u).shape[0] - 1, _aval(v).shape[0] - 1
  scale = ufuncs.true_divide(1.0, slicing.index_in_dim(v, 0, keepdims=False))
  q = shapes.full((max(m - n + 1, 1),), 0, _aval(u).dtype)
  for k in range(0, m - n + 1):
    d = ufuncs.multiply(scale, slicing.index_in_dim(u, k, keepdims=False))
    q = indexing._IndexUpdateRef(q, k).set(d)
    u = indexing._IndexUpdateRef(u, slice(k, k + n + 1)).add(
        ufuncs.multiply(ufuncs.negative(d), v))
  if trim_leading_zeros:
    u = _trim_zeros_tol(u, float(np.sqrt(dtypes.finfo(_aval(u).dtype).eps)))
  return q, u


def polyint(p, m: int = 1, k=None):
  """The ``m``-th antiderivative, with integration constants ``k``."""
  m = _static(m, "'m' argument of jnp.polyint")
  k = 0 if k is None else k
  check_arraylike("polyint", p, k)
  p, k = (asarray(v) for v in promote_dtypes_inexact(p, k))
  if m < 0:
    raise ValueError("Order of integral must be positive (see polyder)")
  k = shape_ops.atleast_1d(k)
  if _aval(k).shape[0] == 1:
    k = shapes.broadcast_in_dim(shapes.reshape(k, ()), (m,), ())
  if _aval(k).shape != (m,):
    raise ValueError("k must be a scalar or a rank-1 array of length 1 or m.")
  if m == 0:
    return p
  n = _aval(p).shape[0]
  dt = _aval(p).dtype
  grid = lax.sub(shapes.broadcasted_iota(dt, (m, n + m), 1), shapes.broadcasted_iota(dt, (m, n + m), 0))
  coeff = shapes.rev(reductions.prod(ufuncs.maximum(1, grid), axis=0), (0,))
  return ufuncs.true_divide(shapes.concatenate([p, k], 0), coeff)


def polyder(p, m: int = 1):
  """The ``m``-th derivative of the polynomial ``p``."""
  check_arraylike("polyder", p)
  m = _static(m, "'m' argument of jnp.polyder")
  (p,) = promote_dtypes_inexact(p)
  p = asarray(p)
  if m < 0:
    raise ValueError("Order of derivative must be positive")
  if m == 0:
    return p
  n = _aval(p).shape[0]
  dt = _aval(p).dtype
  cnt = max(n - m, 0)
  grid = lax.add(lax.sub(shapes.broadcasted_iota(dt, (m, cnt), 1),
                         shapes.broadcasted_iota(dt, (m, cnt), 0)), lax._scalar_like(m, p))
  coeff = reductions.prod(grid, axis=0)
  return ufuncs.multiply(slicing.slice_in_dim(p, 0, cnt), shapes.rev(coeff, (0,)))


__all__ = ["poly", "polyval", "polyadd", "polysub", "polymul", "polydiv", "polyint", "polyder", "roots",
           "polyfit"]


def _complex_dtype(dt):
  return np.dtype(np.complex128) if np.dtype(dt) in (np.float64, np.complex128) \
      else np.dtype(np.complex64)


def _roots_no_zeros(p):
  """The eigenvalues of ``p``'s companion matrix."""
  n = _aval(p).shape[0]
  dt = _aval(p).dtype
  if n < 2:
    return shapes.full((0,), 0, _complex_dtype(dt))
  a = creation.diag(shapes.full((n - 2,), 1, dt), -1)
  top = ufuncs.negative(ufuncs.true_divide(slicing.slice_in_dim(p, 1, n), p[0]))
  a = indexing._IndexUpdateRef(a, (0, slice(None))).set(top)
  return linalg_decomp.eigvals(a)


def _roots_with_zeros(p, num_leading_zeros):
  n = _aval(p).shape[0]
  # an all-zero p has no roots: give the eigensolver a harmless matrix
  p = ufuncs.where(ufuncs.equal(num_leading_zeros, n), shapes.full((), 1, _aval(p).dtype), p)
  # roll the leading zeros to the end (a traced shift: a gather)
  idx = ufuncs.remainder(ufuncs.add(creation.arange(n), num_leading_zeros), n)
  roots_ = _roots_no_zeros(p[idx])
  # zero roots to the end, then NaN for the roots of the leading zeros
  roots_ = lax_reductions.sort_key_val(ufuncs.equal(roots_, 0), roots_)[1]
  m = _aval(roots_).shape[0]
  nan = shapes.full((), complex(np.nan, np.nan), _aval(roots_).dtype)
  keep = ufuncs.less(creation.arange(m), ufuncs.subtract(m, num_leading_zeros))
  return ufuncs.where(keep, roots_, nan)


def roots(p, *, strip_zeros: bool = True):
  """The roots of the polynomial ``p`` (complex), as the eigenvalues of its
  companion matrix. Leading zeros are stripped (they must then be
  concrete); with ``strip_zeros=False`` their roots are NaN instead."""
  check_arraylike("roots", p)
  (p,) = promote_dtypes_inexact(p)
  p = shape_ops.atleast_1d(asarray(p))
  if _aval(p).ndim != 1:
    raise ValueError("Input must be a rank-1 array.")
  n = _aval(p).shape[0]
  if n < 2:
    return shapes.full((0,), 0, _complex_dtype(_aval(p).dtype))
  is_zero = ufuncs.equal(p, 0)
  num = ufuncs.where(reductions.all(is_zero), n, reductions.argmin(is_zero))
  if strip_zeros:
    if isinstance(num, core.Tracer):
      raise ConcretizationTypeError(
          "The error occurred in the jnp.roots() function. To use this within a JIT-compiled "
          "context, pass strip_zeros=False, but be aware that leading zeros will result in some "
          "returned roots being set to NaN.")
    k = int(num)
    return _roots_no_zeros(slicing.slice_in_dim(p, k, n))
  return _roots_with_zeros(p, num)


def polyfit(x, y, deg: int, rcond=None, full: bool = False, w=None, cov=False):
  """Least-squares polynomial fit of degree ``deg`` (highest power first);
  with ``full``, also ``(residuals, rank, singular_values, rcond)``; with
  ``cov``, also the coefficients' covariance."""
  if w is None:
    check_arraylike("polyfit", x, y)
  else:
    check_arraylike("polyfit", x, y, w)
  x, y = asarray(x), asarray(y)
  deg = _static(deg, "deg must be int")
  order = deg + 1
  if deg < 0:
    raise ValueError("expected deg >= 0")
  if _aval(x).ndim != 1:
    raise TypeError("expected 1D vector for x")
  if _aval(x).shape[0] == 0:
    raise TypeError("expected non-empty vector for x")
  if _aval(y).ndim < 1 or _aval(y).ndim > 2:
    raise TypeError("expected 1D or 2D array for y")
  if _aval(x).shape[0] != _aval(y).shape[0]:
    raise TypeError("expected x and y to have same length")
  npts = _aval(x).shape[0]
  if rcond is None:
    rcond = npts * float(scalar_types.finfo(_aval(x).dtype).eps)
  if isinstance(rcond, core.Tracer):
    raise ConcretizationTypeError("rcond must be float")
  rcond = float(rcond)
  lhs = signal.vander(x, order)
  rhs = y
  if w is not None:
    (w,) = promote_dtypes_inexact(w)
    w = asarray(w)
    if _aval(w).ndim != 1:
      raise TypeError("expected a 1-d array for weights")
    if _aval(w).shape[0] != _aval(y).shape[0]:
      raise TypeError("expected w and y to have the same length")
    lhs = ufuncs.multiply(lhs, w[:, None])
    rhs = ufuncs.multiply(rhs, w[:, None] if _aval(rhs).ndim == 2 else w)
  # scale the columns to improve the condition number, then solve
  scale = ufuncs.sqrt(reductions.sum(ufuncs.multiply(lhs, lhs), axis=0))
  lhs = ufuncs.true_divide(lhs, scale[None, :])
  c, resids, rank, s = linalg_decomp.lstsq(lhs, rhs, rcond)
  if _aval(c).ndim > 1:
    c = ufuncs.true_divide(c.T, scale[None, :]).T
  else:
    c = ufuncs.true_divide(c, scale)
  if full:
    return c, resids, rank, s, asarray_lax(rcond)
  if cov:
    vbase = linalg_decomp.inv(linalg.dot(lhs.T, lhs))
    vbase = ufuncs.true_divide(vbase, linalg.outer(scale, scale))
    if cov == "unscaled":
      fac = asarray(1.0)
    else:
      if npts <= order:
        raise ValueError("the number of data points must exceed order to scale the covariance "
                         "matrix")
      fac = ufuncs.true_divide(resids, npts - order)
    if _aval(y).ndim == 1:
      return c, ufuncs.multiply(vbase, shape_ops.atleast_1d(fac)[None])
    return c, ufuncs.multiply(vbase[:, :, None], shape_ops.atleast_1d(fac)[None, None, :])
  return c
