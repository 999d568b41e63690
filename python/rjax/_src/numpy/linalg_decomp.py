"""``rjax.numpy.linalg``'s decompositions and solvers (JAX's
``jax/_src/numpy/linalg.py``): cholesky, qr, svd, svdvals, eig, eigvals, eigh, eigvalsh,
solve, inv, det, slogdet (with JAX's custom JVPs through LU), pinv, lstsq,
matrix_rank, matrix_power, multi_dot, cond, tensorsolve, tensorinv, cross,
all over ``lax.linalg``'s primitives. Complex inputs are the complex
branch's: the conjugations here are written for them already.
"""
from __future__ import annotations

import math
import operator
from typing import NamedTuple, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src import lax
from rjax._src.lax import linalg as lax_linalg
from rjax._src.lax import linalg_eig as lax_linalg_eig
from rjax._src.numpy import array_ops, creation, reductions, shape_ops, ufuncs
from rjax._src.numpy import linalg as np_linalg
from rjax._src.numpy.lax_numpy import asarray
from rjax._src.numpy.util import check_arraylike, promote_dtypes_inexact


class EigResult(NamedTuple):
  eigenvalues: object
  eigenvectors: object


class EighResult(NamedTuple):
  eigenvalues: object
  eigenvectors: object


class QRResult(NamedTuple):
  Q: object
  R: object


class SlogdetResult(NamedTuple):
  sign: object
  logabsdet: object


class SVDResult(NamedTuple):
  U: object
  S: object
  Vh: object


def _inexact(name, *xs):
  check_arraylike(name, *xs)
  return promote_dtypes_inexact(*[asarray(x) for x in xs])


def _shape(x):
  return core.get_aval(x).shape


def _mT(x):
  return shape_ops.swapaxes(x, -1, -2)


def _H(x):
  return ufuncs.conj(_mT(x)) if dtypes.issubdtype(x.dtype, np.complexfloating) else _mT(x)


def _mm(a, b):
  return np_linalg.matmul(a, b, precision=lax.Precision.HIGHEST)


def _check_float(name, x):
  dt = np.dtype(x.dtype)
  if dt == np.float16 or dt == dtypes.bfloat16:
    raise NotImplementedError(f"Unsupported dtype {dt.name}.")


def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True):
  """The Cholesky factor of Hermitian positive-definite ``a`` [..., n, n]:
  lower (L L^H = a) or, with ``upper``, U^H U = a; NaNs if not PD."""
  (a,) = _inexact("jnp.linalg.cholesky", a)
  L = lax_linalg.cholesky(a, symmetrize_input=symmetrize_input)
  return _H(L) if upper else L


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False,
        subset_by_index=None):
  """Singular value decomposition ``(U, S, Vh)`` (S descending) or S."""
  (a,) = _inexact("jnp.linalg.svd", a)
  if hermitian:
    v, w = lax_linalg.eigh(a, subset_by_index=subset_by_index)
    s = ufuncs.abs(w)
    if compute_uv:
      sign = ufuncs.sign(w)
      n = _shape(s)[-1]
      idxs = lax.broadcasted_iota(np.int32, _shape(s), len(_shape(s)) - 1)
      s, idxs, sign = lax.sort((s, idxs, sign), dimension=-1, num_keys=1)
      last = len(_shape(s)) - 1
      s, idxs, sign = (lax.rev(t, (last,)) for t in (s, idxs, sign))
      u = shape_ops.take_along_axis(v, idxs[..., None, :], axis=-1) if v.size else v
      vh = _H(u * sign[..., None, :].astype(u.dtype))
      return SVDResult(u, s, vh)
    return lax.rev(lax.sort(s, dimension=-1), (len(_shape(s)) - 1,))
  if compute_uv:
    u, s, vh = lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=True,
                              subset_by_index=subset_by_index)
    return SVDResult(u, s, vh)
  return lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=False,
                        subset_by_index=subset_by_index)


def svdvals(x, /):
  """The singular values of ``x`` [..., m, n], descending."""
  check_arraylike("jnp.linalg.svdvals", x)
  return svd(x, compute_uv=False, hermitian=False)


def eig(a):
  """Eigenvalues and right eigenvectors of general square ``a``; always
  complex (complex64 for 32-bit input, complex128 for 64-bit), as JAX."""
  (a,) = _inexact("jnp.linalg.eig", a)
  w, v = lax_linalg_eig.eig(a, compute_left_eigenvectors=False)
  return EigResult(w, v)


def eigvals(a):
  """The eigenvalues of general square ``a`` (complex)."""
  (a,) = _inexact("jnp.linalg.eigvals", a)
  return lax_linalg_eig.eig(a, compute_left_eigenvectors=False,
                            compute_right_eigenvectors=False)[0]


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True):
  """Eigenvalues (ascending) and eigenvectors of Hermitian ``a``."""
  check_arraylike("jnp.linalg.eigh", a)
  if UPLO is None or UPLO == "L":
    lower = True
  elif UPLO == "U":
    lower = False
  else:
    raise ValueError(f"UPLO must be one of None, 'L', or 'U', got {UPLO}")
  (a,) = promote_dtypes_inexact(asarray(a))
  v, w = lax_linalg.eigh(a, lower=lower, symmetrize_input=symmetrize_input)
  return EighResult(w, v)


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):
  """The eigenvalues of Hermitian ``a``, ascending."""
  check_arraylike("jnp.linalg.eigvalsh", a)
  w, _ = eigh(a, UPLO, symmetrize_input=symmetrize_input)
  return w


def qr(a, mode: str = "reduced"):
  """QR decomposition: ``mode`` 'reduced', 'complete' or 'r'."""
  (a,) = _inexact("jnp.linalg.qr", a)
  if mode == "raw":
    raise NotImplementedError("jnp.linalg.qr: mode='raw' (geqrf) is not supported by rjax yet")
  if mode in ("reduced", "r", "full"):
    full_matrices = False
  elif mode == "complete":
    full_matrices = True
  else:
    raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
  q, r = lax_linalg.qr(a, pivoting=False, full_matrices=full_matrices)
  if mode == "r":
    return r
  return QRResult(q, r)


# -- solve -------------------------------------------------------------------


def _broadcasted_matvec(a, x):
  batch = tuple(np.broadcast_shapes(_shape(a)[:-2], _shape(x)[:-1]))
  a = shape_ops.broadcast_to(a, batch + _shape(a)[-2:])
  x = shape_ops.broadcast_to(x, batch + _shape(x)[-1:])
  nb = len(batch)
  return lax.dot_general(a, x, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))),
                                precision=lax.Precision.HIGHEST)


def _broadcasted_matmat(a, x):
  """``a @ x`` for ``a`` [..., m, m] and ``x`` [..., m, k] with a's batch dims."""
  nb = len(_shape(a)) - 2
  batch = tuple(range(nb))
  return lax.dot_general(a, x, (((nb + 1,), (nb,)), (batch, batch)),
                         precision=lax.Precision.HIGHEST)


def _solve(a, b):
  """``a`` [..., m, m] and ``b`` [..., m] or [..., m, k] with a's batch dims:
  one LU of ``a`` (outside the differentiated solve) serves the primal and
  its transpose (JAX's custom linear solve).

  k right-hand sides are one custom linear solve of the matrix ``b`` (the
  operator ``x -> a @ x``), where JAX vmaps the vector solve over them:
  the same solves and derivatives, without the transposes, reshapes and
  the separate row gather that the vmap puts around the triangular solves
  (on a batch of 8 x 8 systems they cost more than the solves)."""
  lu_, _, perm = lax_linalg.lu(lax.stop_gradient(a))
  if a.ndim == b.ndim + 1:
    def solve(_, x):
      return lax_linalg.lu_solve(lu_, perm, x[..., None], 0)[..., 0]

    def transpose_solve(_, x):
      return lax_linalg.lu_solve(lu_, perm, x[..., None], 1)[..., 0]

    return lax.custom_linear_solve(lambda v: _broadcasted_matvec(a, v), b, solve=solve,
                                   transpose_solve=transpose_solve)
  return lax.custom_linear_solve(
      lambda v: _broadcasted_matmat(a, v), b,
      solve=lambda _, x: lax_linalg.lu_solve(lu_, perm, x, 0),
      transpose_solve=lambda _, x: lax_linalg.lu_solve(lu_, perm, x, 1))


def solve(a, b):
  """Solve a x = b for square ``a`` [..., m, m] and b [..., m] or
  [..., m, n] (batch dims broadcast)."""
  a, b = _inexact("jnp.linalg.solve", a, b)
  sa, sb = _shape(a), _shape(b)
  if len(sa) < 2:
    raise ValueError(f"left hand array must be at least two dimensional; got a.shape={sa!r}")
  if len(sb) > 1 and len(sa) == len(sb) + 1 and sa[-1] == sb[-1] and sa[-1] != sb[-2]:
    raise ValueError(f"Invalid shapes for solve: {sa}, {sb}. Prior to JAX v0.5.0, this would "
                     "have been treated as a batched 1-dimensional solve. To recover this "
                     "behavior, use solve(a, b[..., None]).squeeze(-1).")
  if sa[-1] != sa[-2]:
    raise ValueError(f"solve: a must be square, got a.shape={sa}")
  m = sa[-1]
  if len(sb) == 1:
    if sb[0] != m:
      raise ValueError(f"inconsistent size for core dimension 'm': {sb[0]} vs {m} on vectorized "
                       "function with excluded=frozenset() and signature='(m,m),(m)->(m)'")
    return _solve(a, shape_ops.broadcast_to(b, sa[:-2] + (m,)))
  if sb[-2] != m:
    raise ValueError(f"inconsistent size for core dimension 'm': {sb[-2]} vs {m} on vectorized "
                     "function with excluded=frozenset() and signature='(m,m),(m,n)->(m,n)'")
  batch = tuple(np.broadcast_shapes(sa[:-2], sb[:-2]))
  a = shape_ops.broadcast_to(a, batch + sa[-2:])
  b = shape_ops.broadcast_to(b, batch + sb[-2:])
  return _solve(a, b)


def inv(a):
  """The inverse of square ``a`` [..., n, n] (through LU)."""
  check_arraylike("jnp.linalg.inv", a)
  arr = asarray(a)
  s = _shape(arr)
  if len(s) < 2 or s[-1] != s[-2]:
    raise ValueError(f"Argument to inv must have shape [..., n, n], got {s}.")
  (arr,) = promote_dtypes_inexact(arr)
  eye = shape_ops.broadcast_to(creation.eye(s[-1], dtype=arr.dtype), s)
  return solve(arr, eye)


# -- det / slogdet (JAX's custom JVPs) ---------------------------------------


def _diag(x):
  return np_linalg.diagonal(x, 0, -2, -1)


def _slogdet_lu_impl(a):
  dt = a.dtype
  lu_, pivot, _ = lax_linalg.lu(a)
  diag = _diag(lu_)
  is_zero = reductions.any(diag == 0, axis=-1)
  n = _shape(a)[-1]
  parity = reductions.count_nonzero(pivot != creation.arange(n, dtype=pivot.dtype), axis=-1)
  if dtypes.issubdtype(dt, np.complexfloating):
    # the product of the pivots' phases
    sign = reductions.prod(diag / ufuncs.abs(diag).astype(dt), axis=-1)
  else:
    sign = asarray(1, dtype=dt)
    parity = parity + reductions.count_nonzero(diag < 0, axis=-1)
  sign = ufuncs.where(is_zero, asarray(0, dtype=dt),
                      sign * (-2 * (parity % 2) + 1).astype(dt))
  logdet = ufuncs.where(is_zero, asarray(-np.inf, dtype=dt),
                        reductions.sum(ufuncs.log(ufuncs.abs(diag)).astype(dt), axis=-1))
  return sign, ufuncs.real(logdet)


def _slogdet_small_impl(a):
  n = _shape(a)[-1]
  if n == 1:
    det = a[..., 0, 0]
  else:
    det = a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
  return ufuncs.sign(det), ufuncs.real(ufuncs.log(ufuncs.abs(det)))


_slogdet_small = custom_jvp(_slogdet_small_impl)
_slogdet_lu = custom_jvp(_slogdet_lu_impl)


@_slogdet_small.defjvp
def _slogdet_small_jvp(primals, tangents):
  (x,), (g,) = primals, tangents
  sign, ans = _slogdet_small(x)
  if _shape(x)[-1] == 1:
    ans_dot = g[..., 0, 0] / x[..., 0, 0]
  else:
    det = x[..., 0, 0] * x[..., 1, 1] - x[..., 0, 1] * x[..., 1, 0]
    ans_dot = (g[..., 0, 0] * x[..., 1, 1] - g[..., 0, 1] * x[..., 1, 0]
               - g[..., 1, 0] * x[..., 0, 1] + g[..., 1, 1] * x[..., 0, 0]) / det
  return (sign, ans), _sign_and_logdet_dots(sign, ans_dot)


def _sign_and_logdet_dots(sign, ans_dot):
  """From d log det = trace(x^-1 dx): log|det|'s tangent is its real part;
  the sign's (zero for real x) is its imaginary part times the sign."""
  if dtypes.issubdtype(ans_dot.dtype, np.complexfloating):
    sign_dot = (ans_dot - ufuncs.real(ans_dot).astype(ans_dot.dtype)) * sign
    return sign_dot, ufuncs.real(ans_dot)
  return creation.zeros_like(sign), ans_dot


@_slogdet_lu.defjvp
def _slogdet_jvp(primals, tangents):
  (x,), (g,) = primals, tangents
  sign, ans = _slogdet_lu(x)
  ans_dot = np_linalg.trace(solve(x, g), 0, -1, -2)
  return (sign, ans), _sign_and_logdet_dots(sign, ans_dot)


def slogdet(a, *, method: str | None = None):
  """``(sign, logabsdet)`` of square ``a`` [..., n, n] (through LU)."""
  (a,) = _inexact("jnp.linalg.slogdet", a)
  s = _shape(a)
  if len(s) < 2 or s[-1] != s[-2]:
    raise ValueError(f"Argument to slogdet() must have shape [..., n, n], got {s}")
  if method is None or method == "lu":
    if s[-1] in (1, 2):
      return SlogdetResult(*_slogdet_small(a))
    return SlogdetResult(*_slogdet_lu(a))
  if method == "qr":
    raise NotImplementedError("slogdet: method='qr' (geqrf) is not supported by rjax yet")
  raise ValueError(f"Unknown slogdet method '{method}'. Supported methods are 'lu' (`None`), "
                   "and 'qr'.")


def _cofactor_solve(a, b):
  """``(det(a), det(a) * inv(a) @ b)``, finite for singular ``a`` (JAX's)."""
  s = _shape(a)
  if s[-1] == 1:
    return a[..., 0, 0], b
  lu_, pivots, permutation = lax_linalg.lu(a)
  dt = a.dtype
  diag = _diag(lu_)
  n = s[-1]
  parity = reductions.count_nonzero(pivots != creation.arange(n, dtype=pivots.dtype), axis=-1)
  sign = (-2 * (parity % 2) + 1).astype(dt)
  partial_det = reductions.cumprod(diag, axis=-1) * sign[..., None]
  last = (creation.arange(n) == n - 1)
  corner = last[:, None] & last[None, :]
  lu_ = ufuncs.where(corner, (1.0 / partial_det[..., -2])[..., None, None].astype(dt), lu_)
  ones = creation.ones(_shape(b)[:-1], dt)
  d = lax_linalg.triangular_solve(lu_, ones, left_side=True, lower=False)
  d = reductions.any(ufuncs.isnan(d) | ufuncs.isinf(d), axis=-1)
  d = shape_ops.broadcast_to(d[..., None, None], _shape(b))
  x = ufuncs.where(d, creation.zeros_like(b), b)
  x = lax_linalg._permute_rows(x, permutation)
  x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True)
  x = shape_ops.concatenate((x[..., :-1, :] * partial_det[..., -1, None, None], x[..., -1:, :]),
                            axis=-2)
  x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=False)
  x = ufuncs.where(d, creation.zeros_like(x), x)
  return partial_det[..., -1], x


def _det_impl(a):
  sign, logdet = slogdet(a)
  return sign * ufuncs.exp(logdet).astype(sign.dtype)


_det = custom_jvp(_det_impl)


@_det.defjvp
def _det_jvp(primals, tangents):
  (x,), (g,) = primals, tangents
  y, z = _cofactor_solve(x, g)
  return y, np_linalg.trace(z, 0, -1, -2)


def det(a):
  """The determinant of square ``a`` [..., n, n]."""
  (a,) = _inexact("jnp.linalg.det", a)
  s = _shape(a)
  if len(s) >= 2 and s[-1] == 2 and s[-2] == 2:
    return a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
  if len(s) >= 2 and s[-1] == 3 and s[-2] == 3:
    return (a[..., 0, 0] * a[..., 1, 1] * a[..., 2, 2] + a[..., 0, 1] * a[..., 1, 2] * a[..., 2, 0]
            + a[..., 0, 2] * a[..., 1, 0] * a[..., 2, 1] - a[..., 0, 2] * a[..., 1, 1] * a[..., 2, 0]
            - a[..., 0, 0] * a[..., 1, 2] * a[..., 2, 1] - a[..., 0, 1] * a[..., 1, 0] * a[..., 2, 2])
  if len(s) >= 2 and s[-1] == s[-2]:
    return _det(a)
  raise ValueError(f"Argument to _det() must have shape [..., n, n], got {s}")


# -- pinv, lstsq, rank, cond, powers ----------------------------------------


def _pinv_impl(a, rtol, hermitian):
  m, n = _shape(a)[-2:]
  if m == 0 or n == 0:
    return creation.empty(_shape(a)[:-2] + (n, m), a.dtype)
  arr = ufuncs.conj(a) if dtypes.issubdtype(a.dtype, np.complexfloating) else a
  if rtol is None:
    rtol = 10.0 * max(m, n) * asarray(np.finfo(arr.dtype).eps)
  rtol = asarray(rtol)
  u, s, vh = svd(arr, full_matrices=False, hermitian=hermitian)
  rtol = shape_ops.expand_dims(rtol[..., None], tuple(range(s.ndim - rtol.ndim - 1)))
  cutoff = rtol * s[..., 0:1]
  s = ufuncs.where(s > cutoff, s, np.inf).astype(u.dtype)
  res = _mm(_mT(vh), ufuncs.divide(_mT(u), s[..., None]))
  return res.astype(arr.dtype)


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
  """The Moore-Penrose pseudo-inverse (through the SVD), with JAX's JVP."""
  if rcond is not None:
    if rtol is not None:
      raise ValueError("pinv: only one of rtol and rcond may be specified.")
    rtol = rcond
  (a,) = _inexact("jnp.linalg.pinv", a)

  @custom_jvp
  def f(a):
    return _pinv_impl(a, rtol, hermitian)

  @f.defjvp
  def f_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    p = f(a)
    if hermitian:
      a, a_dot = (a + _H(a)) / 2, (a_dot + _H(a_dot)) / 2
    m, n = _shape(a)[-2:]
    if m >= n:
      s = _mm(_mm(p, _H(p)), _H(a_dot))
      t = _mm(_mm(_H(a_dot), _H(p)), p)
      p_dot = -_mm(_mm(p, a_dot), p) + s - _mm(_mm(s, a), p) + t - _mm(_mm(p, a), t)
    else:
      s = _mm(p, _mm(_H(p), _H(a_dot)))
      t = _mm(_H(a_dot), _mm(_H(p), p))
      p_dot = -_mm(p, _mm(a_dot, p)) + s - _mm(s, _mm(a, p)) + t - _mm(p, _mm(a, t))
    return p, p_dot

  return f(a)


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
  """Least squares through the SVD: ``(x, resid, rank, s)``."""
  a, b = _inexact("jnp.linalg.lstsq", a, b)
  if _shape(a)[0] != _shape(b)[0]:
    raise ValueError("Leading dimensions of input arrays must match")
  b_orig_ndim = b.ndim
  if b_orig_ndim == 1:
    b = b[:, None]
  if a.ndim != 2:
    raise TypeError(f"{a.ndim}-dimensional array given. Array must be two-dimensional")
  if b.ndim != 2:
    raise TypeError(f"{b.ndim}-dimensional array given. Array must be one or two-dimensional")
  m, n = _shape(a)
  dt = a.dtype
  if a.size == 0:
    s = creation.empty(0, dtype=dt)
    rank = asarray(0, dtype=dtypes.canonicalize_dtype(np.int64))
    x = creation.zeros((n, *_shape(b)[1:]), dtype=dt)
  else:
    if rcond is None:
      rcond = float(np.finfo(dt).eps) * max(n, m)
    else:
      rcond = ufuncs.where(asarray(rcond) < 0, np.finfo(dt).eps, rcond)
    u, s, vt = svd(a, full_matrices=False)
    mask = (s > 0) & (s >= asarray(rcond, dtype=s.dtype) * s[0])
    rank = reductions.sum(mask)
    safe_s = ufuncs.where(mask, s, 1).astype(dt)
    s_inv = ufuncs.where(mask, 1 / safe_s, 0)[:, None]
    uTb = _mm(_H(u), b)
    x = _mm(_H(vt), s_inv * uTb)
  if numpy_resid and (int(rank) < n or m <= n):
    resid = asarray([], dtype=dt)
  else:
    resid = np_linalg.norm(b - _mm(a, x), axis=0) ** 2
  if b_orig_ndim == 1:
    x = shape_ops.ravel(x)
  return x, resid, rank, s


def matrix_rank(M, rtol=None, *, hermitian: bool = False, tol=None):
  """The number of singular values above ``rtol`` times the largest."""
  check_arraylike("jnp.linalg.matrix_rank", M)
  if tol is not None:
    if rtol is not None:
      raise ValueError("matrix_rank: only one of tol or rtol may be specified.")
    rtol = tol
  (M,) = promote_dtypes_inexact(asarray(M))
  if M.ndim < 2:
    return reductions.any(M != 0).astype(np.int32)
  S = svd(M, full_matrices=False, compute_uv=False, hermitian=hermitian)
  if rtol is None:
    rtol = reductions.max(S, axis=-1) * np.asarray(max(_shape(M)[-2:])).astype(S.dtype) * \
        np.finfo(S.dtype).eps
  rtol = asarray(rtol)
  rtol = shape_ops.expand_dims(rtol, rtol.ndim)
  return reductions.sum(S > rtol, axis=-1)


def matrix_power(a, n: int):
  """``a`` [..., m, m] to the integer power ``n`` (repeated squaring;
  negative powers through ``inv``)."""
  check_arraylike("jnp.linalg.matrix_power", a)
  arr = asarray(a)
  if arr.ndim < 2:
    raise TypeError(f"{arr.ndim}-dimensional array given. Array must be at least "
                    "two-dimensional")
  if _shape(arr)[-2] != _shape(arr)[-1]:
    raise TypeError("Last 2 dimensions of the array must be square")
  try:
    n = operator.index(n)
  except TypeError as err:
    raise TypeError(f"exponent must be an integer, got {n}") from err
  if n == 0:
    return shape_ops.broadcast_to(creation.eye(_shape(arr)[-2], dtype=arr.dtype), _shape(arr))
  if n < 0:
    arr = inv(arr)
    n = abs(n)
  if n == 1:
    return arr
  if n == 2:
    return np_linalg.matmul(arr, arr)
  if n == 3:
    return np_linalg.matmul(np_linalg.matmul(arr, arr), arr)
  z = result = None
  while n > 0:
    z = arr if z is None else np_linalg.matmul(z, z)
    n, bit = divmod(n, 2)
    if bit:
      result = z if result is None else np_linalg.matmul(result, z)
  return result


def multi_dot(arrays: Sequence, *, precision=None):
  """The product of a chain of matrices (einsum with an optimized order)."""
  check_arraylike("jnp.linalg.multi_dot", *arrays)
  arrs = [asarray(a) for a in arrays]
  if len(arrs) < 2:
    raise ValueError(f"multi_dot requires at least two arrays; got len(arrays)={len(arrs)}")
  if not (arrs[0].ndim in (1, 2) and arrs[-1].ndim in (1, 2)
          and all(a.ndim == 2 for a in arrs[1:-1])):
    raise ValueError("multi_dot: input arrays must all be two-dimensional, except for the first "
                     "and last array which may be 1 or 2 dimensional. Got array shapes "
                     f"{[_shape(a) for a in arrs]}")
  if any(_shape(a)[-1] != _shape(b)[0] for a, b in zip(arrs[:-1], arrs[1:])):
    raise ValueError("multi_dot: last dimension of each array must match first dimension of "
                     f"following array. Got array shapes {[_shape(a) for a in arrs]}")
  letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
  if len(arrs) + 1 > len(letters):
    out = arrs[0]
    for a in arrs[1:]:
      out = np_linalg.matmul(out, a, precision=precision)
    return out
  subs = [letters[i] + letters[i + 1] for i in range(len(arrs))]
  if arrs[0].ndim == 1:
    subs[0] = subs[0][1:]
  if arrs[-1].ndim == 1:
    subs[-1] = subs[-1][:1]
  out = subs[0][:1] if arrs[0].ndim == 2 else ""
  out += subs[-1][-1:] if arrs[-1].ndim == 2 else ""
  return np_linalg.einsum(",".join(subs) + "->" + out, *arrs, optimize="greedy",
                          precision=precision)


def cond(x, p=None):
  """The condition number of ``x`` in the norm ``p`` (None/2/-2 by SVD)."""
  check_arraylike("cond", x)
  arr = asarray(x)
  if arr.ndim < 2:
    raise ValueError(f"jnp.linalg.cond: input array must be at least 2D; got "
                     f"arr.shape={_shape(arr)!r}")
  if _shape(arr)[-1] == 0 or _shape(arr)[-2] == 0:
    raise ValueError(f"jnp.linalg.cond: input array must not be empty; got "
                     f"arr.shape={_shape(arr)!r}")
  if p is None or p == 2:
    s = svdvals(arr)
    return s[..., 0] / s[..., -1]
  if p == -2:
    s = svdvals(arr)
    r = s[..., -1] / s[..., 0]
  else:
    if _shape(arr)[-2] != _shape(arr)[-1]:
      raise ValueError(f"jnp.linalg.cond: for p={p!r}, array must be square; got "
                       f"arr.shape={_shape(arr)!r}")
    r = np_linalg.norm(arr, ord=p, axis=(-2, -1)) * np_linalg.norm(inv(arr), ord=p,
                                                                   axis=(-2, -1))
  return ufuncs.where(ufuncs.isnan(r) & ~reductions.any(ufuncs.isnan(arr), axis=(-2, -1)),
                      np.inf, r)


def tensorinv(a, ind: int = 2):
  """The inverse of ``a`` seen as a map from its last dims to its first ``ind``."""
  check_arraylike("tensorinv", a)
  arr = asarray(a)
  ind = operator.index(ind)
  if ind <= 0:
    raise ValueError(f"ind must be a positive integer; got ind={ind!r}")
  contracting, batch = _shape(arr)[:ind], _shape(arr)[ind:]
  flat = (math.prod(contracting), math.prod(batch))
  if flat[0] != flat[1]:
    raise ValueError("tensorinv is only possible when the product of the first `ind` dimensions "
                     f"equals that of the remaining dimensions. got arr.shape={_shape(arr)!r} "
                     f"with ind={ind!r}.")
  return shape_ops.reshape(inv(shape_ops.reshape(arr, flat)), (*batch, *contracting))


def tensorsolve(a, b, axes=None):
  """Solve ``tensordot(a, x, x.ndim) = b`` for x."""
  check_arraylike("tensorsolve", a, b)
  a_arr, b_arr = asarray(a), asarray(b)
  if axes is not None:
    a_arr = shape_ops.moveaxis(a_arr, axes, len(axes) * (a_arr.ndim - 1,))
  out_shape = _shape(a_arr)[b_arr.ndim:]
  if _shape(a_arr)[:b_arr.ndim] != _shape(b_arr):
    raise ValueError("After moving axes to end, leading shape of a must match shape of b. got "
                     f"a.shape={_shape(a_arr)}, b.shape={_shape(b_arr)}")
  if b_arr.size != math.prod(out_shape):
    raise ValueError("Input arrays must have prod(a.shape[:b.ndim]) == prod(a.shape[b.ndim:]); "
                     f"got a.shape={_shape(a_arr)}, b.ndim={b_arr.ndim}.")
  a_arr = shape_ops.reshape(a_arr, (b_arr.size, math.prod(out_shape)))
  return shape_ops.reshape(solve(a_arr, shape_ops.ravel(b_arr)), out_shape)


def cross(x1, x2, /, *, axis=-1):
  """The cross product of 3-vectors along ``axis`` (the array-API one)."""
  check_arraylike("jnp.linalg.cross", x1, x2)
  x1, x2 = asarray(x1), asarray(x2)
  if _shape(x1)[axis] != 3 or _shape(x2)[axis] != 3:
    raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors, but they "
                     f"have shape[axis] = {_shape(x1)[axis]} and {_shape(x2)[axis]}")
  return array_ops.cross(x1, x2, axis=axis)


def matrix_norm_svd(x, ord, axes, keepdims):
  """``norm`` for ord 2, -2 and 'nuc' over the two ``axes``."""
  x = shape_ops.moveaxis(x, axes, (-2, -1))
  s = svd(x, compute_uv=False)
  if ord == 2:
    r = reductions.max(s, axis=-1)
  elif ord == -2:
    r = reductions.min(s, axis=-1)
  else:
    r = reductions.sum(s, axis=-1)
  if keepdims:
    r = shape_ops.expand_dims(r, tuple(sorted(axes)))
  return r


__all__ = ["cholesky", "svd", "svdvals", "eig", "eigvals", "EigResult", "eigh", "eigvalsh", "qr", "solve", "inv", "det",
           "slogdet", "pinv", "lstsq", "matrix_rank", "matrix_power", "multi_dot", "cond",
           "tensorinv", "tensorsolve", "cross", "EighResult", "QRResult", "SlogdetResult",
           "SVDResult"]
