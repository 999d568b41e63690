"""``jax.scipy.linalg``'s further decompositions and matrix functions:
schur, hessenberg, qr_multiply, eigh_tridiagonal, rsf2csf, sqrtm, funm and
solve_sylvester.

``sqrtm`` and ``funm`` work on the complex Schur form ``T``: the upper
triangle of ``f(T)`` follows from its diagonal one superdiagonal at a time
(Parlett's recurrence, Golub & Van Loan alg. 11.1.1; for the square root,
Higham's), each superdiagonal from one matrix product of the triangles
found so far. ``solve_sylvester`` is Bartels-Stewart: both Schur forms,
then the triangular equation one column at a time.

``hessenberg`` is one Rust kernel (faer's blocked Householder reduction);
``eigh_tridiagonal`` is JAX's algorithm (Sturm-count bisection for the
eigenvalues, inverse iteration with the perturbed tridiagonal solve for
the vectors), O(n^2) work per bisection step and no dense matrix;
``rsf2csf`` is SciPy's Givens sweep over the 2x2 blocks, as a
``fori_loop`` so that its trace does not grow with n.
"""
from __future__ import annotations

import functools

import numpy as np

from rjax._src import lax
from rjax._src import random
from rjax._src import numpy as jnp
from rjax._src.lax import linalg as lax_linalg
from rjax._src.lax import linalg_eig
from rjax._src.lax.control_flow import loops
from rjax._src.numpy import functional
from rjax._src.numpy import linalg_decomp as jla
from rjax._src.numpy.util import check_arraylike, promote_dtypes_inexact
from rjax._src.transforms.jit import jit


def hessenberg(a, *, calc_q: bool = False, overwrite_a: bool = False, check_finite: bool = True):
  """The upper Hessenberg form ``h`` of square ``a`` ([..., n, n]), and with
  ``calc_q`` the unitary ``q`` with ``a = q h q^H``."""
  del overwrite_a, check_finite
  check_arraylike("hessenberg", a)
  (a,) = promote_dtypes_inexact(jnp.asarray(a))
  h, q = linalg_eig.hessenberg_q(a)
  return (h, q) if calc_q else h


def qr_multiply(a, c, mode: str = "right", pivoting: bool = False, conjugate: bool = False,
                overwrite_a: bool = False, overwrite_c: bool = False):
  """``(c @ q, r)`` (mode 'right', ``c`` [..., p, m]) or ``(q @ c, r)`` (mode
  'left', ``c`` [..., k, p]), with ``q, r`` the economic QR of ``a`` [..., m,
  n] and ``k = min(m, n)``; ``conjugate`` uses ``conj(q)``. A 1-d ``c`` is a
  row (right) or a column (left). With ``pivoting``, ``q, r`` are the
  column-pivoted QR (``a[..., p] = q r``) and ``p`` (int32) comes third."""
  del overwrite_a, overwrite_c
  check_arraylike("qr_multiply", a, c)
  a, c = promote_dtypes_inexact(jnp.asarray(a), jnp.asarray(c))
  if mode not in ("right", "left"):
    raise ValueError(f"mode must be 'right' or 'left', got {mode!r}")
  if a.ndim < 2:
    raise ValueError(f"qr_multiply: a must be at least 2-dimensional, got shape {a.shape}")
  onedim = c.ndim == 1
  if onedim:
    c = c[:, None] if mode == "left" else c[None, :]
  m, n = a.shape[-2:]
  k = min(m, n)
  if mode == "left" and c.shape[-2] != k:
    raise ValueError(f"qr_multiply: for mode='left', c must have {k} rows (min(M, N)), got "
                     f"shape {c.shape}")
  if mode == "right" and c.shape[-1] != m:
    raise ValueError(f"qr_multiply: for mode='right', c must have {m} columns (M), got shape "
                     f"{c.shape}")
  q, r, *p = lax_linalg.qr(a, pivoting=bool(pivoting), full_matrices=False)
  if conjugate:
    q = jnp.conj(q)
  hi = lax.Precision.HIGHEST
  cq = jnp.matmul(c, q, precision=hi) if mode == "right" else jnp.matmul(q, c, precision=hi)
  if onedim:
    cq = cq.ravel()
  return (cq, r, p[0]) if pivoting else (cq, r)


def _abs2_fused(z):
  """``real(z * conj(z))`` as XLA's CPU backend rounds it: ``fma(re, re,
  im * im)`` (it contracts the complex product into a fused multiply-add),
  from Dekker's exact square of ``re`` and an exact sum; the plain sum where
  the splitting overflows."""
  re, im = jnp.real(z), jnp.imag(z)
  q = im * im
  p = re * re
  c = re * np.array(4097.0 if re.dtype == np.float32 else 134217729.0, re.dtype)
  hi = c - (c - re)
  lo = re - hi
  err = ((hi * hi - p) + 2 * (hi * lo)) + lo * lo
  s = p + q
  bb = s - p
  t = (p - (s - bb)) + (q - bb)
  out = s + (t + err)
  return jnp.where(jnp.isfinite(out), out, s)


def _inverse_iteration(alpha, beta, eigvals, key):
  """The eigenvectors (rows) for ``eigvals`` by inverse iteration on
  ``T - w I`` (``tridiagonal_solve`` with ``perturb_singular``) from
  normal start vectors, the vectors of each cluster of eigenvalues closer
  than sqrt(eps) * |T| orthonormalized by QR after each step; at most five
  steps, until no norm grows by 10% (LAPACK's xSTEIN, as JAX)."""
  n, k = alpha.shape[0], eigvals.shape[0]
  dl = jnp.pad(jnp.conj(beta), (1, 0))
  du = jnp.pad(beta, (0, 1))
  gap = eigvals[1:] - eigvals[:-1]
  eps = np.finfo(eigvals.dtype).eps
  t_norm = jnp.maximum(jnp.abs(eigvals[0]), jnp.abs(eigvals[-1]))
  close = gap < jnp.sqrt(eps) * t_norm
  left_close = jnp.pad(close, (1, 0), constant_values=False)
  right_close = jnp.pad(close, (0, 1), constant_values=False)
  starts = jnp.nonzero(jnp.logical_and(jnp.logical_not(left_close), right_close),
                       size=k // 2 + 1)[0]
  ends = jnp.nonzero(jnp.logical_and(left_close, jnp.logical_not(right_close)),
                     size=k // 2 + 1)[0] + 1
  num_clusters = jnp.sum(jnp.logical_and(jnp.logical_not(left_close), right_close))
  arange_k = jnp.arange(k)
  solve_dtype = np.result_type(alpha.dtype, beta.dtype)
  base_dtype = np.finfo(solve_dtype).dtype
  v = random.normal(key, (k, n), dtype=base_dtype).astype(solve_dtype)
  v = v / jnp.linalg.norm(v, axis=-1, keepdims=True).astype(solve_dtype)

  def orthogonalize_cluster(i, ev):
    start, end = starts[i], ends[i]
    mask = (arange_k < end - start).astype(ev.dtype)
    block = lax.dynamic_slice(jnp.pad(ev, ((0, k), (0, 0))), (start, 0), (k, n))
    q, _ = jla.qr((block * mask[:, None]).T)
    update = lax.dynamic_update_slice(jnp.zeros((2 * k, n), ev.dtype), q.T * mask[:, None],
                                      (start, 0))[:k, :]
    inside = (arange_k >= start) & (arange_k < end)
    return jnp.where(inside[:, None], update, ev)

  alpha_shifted = (alpha[None, :] - eigvals[:, None]).astype(solve_dtype)
  dl_k = jnp.broadcast_to(dl[None, :], (k, n)).astype(solve_dtype)
  du_k = jnp.broadcast_to(du[None, :], (k, n)).astype(solve_dtype)

  def body(state):
    i, v, nrm_v, _ = state
    v_new = lax_linalg.tridiagonal_solve(dl_k, alpha_shifted, du_k,
                                         v[:, :, None].astype(solve_dtype),
                                         perturb_singular=True)[..., 0]
    nrm = jnp.linalg.norm(v_new, axis=-1, keepdims=True)
    v_new = v_new / nrm.astype(v_new.dtype)
    v_new = loops.fori_loop(0, num_clusters, orthogonalize_cluster, v_new)
    return i + 1, v_new, nrm[:, 0], nrm_v

  def cond(state):
    i, _, nrm_v, nrm_v_old = state
    return jnp.logical_and(i < 5, jnp.any(nrm_v >= 1.1 * nrm_v_old))

  init = (0, v, jnp.ones(k, eigvals.dtype), jnp.zeros(k, eigvals.dtype))
  return loops.while_loop(cond, body, init)[1]


@functools.partial(jit, static_argnames=("eigvals_only", "select", "select_range"))
def eigh_tridiagonal(d, e, *, eigvals_only: bool = False, select: str = "a",
                     select_range=None, tol=None, key=None):
  """Eigenvalues (ascending), and unless ``eigvals_only`` the eigenvectors
  (columns), of the symmetric (Hermitian) tridiagonal matrix with diagonal
  ``d`` [n] and off-diagonal ``e`` [n - 1], float32/float64 or complex;
  ``select`` 'a' (all) or 'i' (the indices in ``select_range``, inclusive).

  JAX's algorithm: bisection on Sturm counts, all eigenvalues at once,
  from the Gershgorin interval until ``tol`` (at least eps * |T|) or
  nmant + 1 steps, so the eigenvalues are JAX's bit for bit (the counts
  come from one kernel, ``lax.linalg.sturm_count``, where JAX unrolls lax
  steps in a while loop: O(n k) per bisection step); the eigenvectors by
  inverse iteration (``tridiagonal_solve(perturb_singular=True)``) from
  ``random.normal(key)`` start vectors, ``key`` ``random.key(42)`` by
  default, clusters orthonormalized by QR."""
  if not eigvals_only and key is None:
    key = random.key(42)
  check_arraylike("eigh_tridiagonal", d, e)
  alpha, beta = jnp.asarray(d), jnp.asarray(e)
  supported = (np.float32, np.float64, np.complex64, np.complex128)
  if alpha.dtype != beta.dtype:
    raise TypeError("diagonal and off-diagonal values must have same dtype, "
                    f"got {alpha.dtype} and {beta.dtype}")
  if alpha.dtype not in supported:
    raise TypeError("Only float32 and float64 inputs are supported as inputs to "
                    "jax.scipy.linalg.eigh_tridiagonal, got "
                    f"{alpha.dtype} and {beta.dtype}")
  if alpha.ndim != 1 or beta.ndim != 1:
    raise ValueError(f"eigh_tridiagonal: d and e must be 1-d, got shapes {alpha.shape}, "
                     f"{beta.shape}")
  n = alpha.shape[0]
  if beta.shape[0] != max(n - 1, 0):
    raise ValueError(f"eigh_tridiagonal: e must have length n - 1 = {n - 1}, got "
                     f"{beta.shape[0]}")
  if n <= 1:
    return jnp.real(alpha) if eigvals_only else (jnp.real(alpha), jnp.eye(n, dtype=alpha.dtype))
  if np.issubdtype(alpha.dtype, np.complexfloating):
    alpha = jnp.real(alpha)
    beta_sq = _abs2_fused(beta)
    beta_abs = jnp.sqrt(beta_sq)
  else:
    beta_abs = jnp.abs(beta)
    beta_sq = jnp.square(beta)
  # the Gershgorin bounds on the spectrum
  row_sum = jnp.concatenate([beta_abs[:1], beta_abs[:-1] + beta_abs[1:], beta_abs[-1:]], axis=0)
  lambda_max = jnp.amax(alpha + row_sum)
  lambda_min = jnp.amin(alpha - row_sum)
  t_norm = jnp.maximum(jnp.abs(lambda_min), jnp.abs(lambda_max))
  # the smallest pivot the Sturm recurrence may meet, against overflow
  finfo = np.finfo(alpha.dtype)
  one = np.ones([], alpha.dtype)
  safemin = np.maximum(one / finfo.max, (one + finfo.eps) * finfo.tiny)
  pivmin = safemin * jnp.maximum(1, jnp.amax(beta_sq))
  alpha0_perturbation = jnp.square(finfo.eps * beta_abs[0])
  abs_tol = finfo.eps * t_norm
  if tol is not None:
    abs_tol = jnp.maximum(tol, abs_tol)
  max_it = finfo.nmant + 1
  if select == "a":
    target_counts = jnp.arange(n, dtype=np.int32)
  elif select == "i":
    if select_range is None:
      raise ValueError("for select='i', select_range must be specified.")
    if select_range[0] > select_range[1]:
      raise ValueError("Got empty index range in select_range.")
    target_counts = jnp.arange(select_range[0], select_range[1] + 1, dtype=np.int32)
  elif select == "v":
    raise NotImplementedError("eigh_tridiagonal(..., select='v') is not implemented")
  else:
    raise ValueError("'select must have a value in {'a', 'i', 'v'}.")
  # bisection for all the targets at once, from a slightly widened interval
  fudge = 2.1
  norm_slack = jnp.array(n, alpha.dtype) * fudge * finfo.eps * t_norm
  shape = np.shape(target_counts)
  lower = jnp.broadcast_to(lambda_min - norm_slack - 2 * fudge * pivmin, shape)
  upper = jnp.broadcast_to(lambda_max + norm_slack + fudge * pivmin, shape)
  mid = 0.5 * (upper + lower)
  pivmin = jnp.broadcast_to(pivmin, shape)
  alpha0_perturbation = jnp.broadcast_to(alpha0_perturbation, shape)

  def cond(args):
    i, lower, _, upper = args
    return jnp.logical_and(i < max_it, abs_tol < jnp.amax(upper - lower))

  def body(args):
    i, lower, mid, upper = args
    # JAX's Sturm recurrence (unrolled lax steps in a while loop there), one
    # kernel here: the same operations, so the same counts
    counts = lax_linalg.sturm_count(alpha, beta_sq, pivmin, alpha0_perturbation, mid)
    lower = jnp.where(counts <= target_counts, mid, lower)
    upper = jnp.where(counts > target_counts, mid, upper)
    return i + 1, lower, 0.5 * (lower + upper), upper

  _, _, mid, _ = loops.while_loop(cond, body, (0, lower, mid, upper))
  if eigvals_only:
    return mid
  return mid, _inverse_iteration(alpha, beta, mid, key).T


def _rsf2csf_step(m, tz, eps):
  """Zero the subdiagonal entry (m, m-1) of the complex Schur form by a
  Givens rotation built from the 2x2 block's eigenvalue (SciPy's sweep)."""
  t, z = tz
  n = t.shape[-1]
  dt = t.dtype
  blk = lax.dynamic_slice(t, (m - 1, m - 1), (2, 2))
  a, b, c, d = blk[0, 0], blk[0, 1], blk[1, 0], blk[1, 1]
  big = jnp.abs(c) > eps * (jnp.abs(a) + jnp.abs(d))
  # the block's first eigenvalue (LAPACK's order: positive imaginary part
  # first) minus t[m, m]
  half = (a - d) / 2
  mu = half + jnp.sqrt(half * half + b * c)
  r = jnp.sqrt(jnp.abs(mu) ** 2 + jnp.abs(c) ** 2)
  safe = big & (r > 0)
  r = jnp.where(safe, r, jnp.ones((), r.dtype))
  cs = jnp.where(safe, mu / r, jnp.ones((), dt))
  sn = jnp.where(safe, c / r, jnp.zeros((), dt))
  g = jnp.stack([jnp.stack([jnp.conj(cs), sn]), jnp.stack([-sn, cs])])
  gh = jnp.conj(g.T)
  hi = lax.Precision.HIGHEST
  idx = jnp.arange(n)
  # rows m-1, m from column m-1 on
  rows = lax.dynamic_slice(t, (m - 1, 0), (2, n))
  rows = jnp.where(idx[None, :] >= m - 1, jnp.matmul(g, rows, precision=hi), rows)
  t = lax.dynamic_update_slice(t, rows, (m - 1, 0))
  # columns m-1, m down to row m
  cols = lax.dynamic_slice(t, (0, m - 1), (n, 2))
  cols = jnp.where(idx[:, None] <= m, jnp.matmul(cols, gh, precision=hi), cols)
  t = lax.dynamic_update_slice(t, cols, (0, m - 1))
  zc = lax.dynamic_slice(z, (0, m - 1), (n, 2))
  z = lax.dynamic_update_slice(z, jnp.matmul(zc, gh, precision=hi), (0, m - 1))
  t = t.at[m, m - 1].set(jnp.zeros((), dt))
  return t, z


def rsf2csf(T, Z, check_finite: bool = True):
  """Convert a real Schur form ``(T, Z)`` ([..., n, n]) to the complex Schur
  form: ``T`` upper triangular and ``Z`` unitary, ``Z T Z^H`` unchanged."""
  del check_finite
  check_arraylike("rsf2csf", T, Z)
  T, Z = promote_dtypes_inexact(jnp.asarray(T), jnp.asarray(Z))
  if T.ndim < 2 or T.shape[-1] != T.shape[-2]:
    raise ValueError(f"Input 'T' must be square, got shape {T.shape}.")
  if Z.shape != T.shape:
    raise ValueError(f"Input 'Z' must have the shape of 'T', got {Z.shape} and {T.shape}.")
  cdt = np.result_type(T.dtype, np.complex64)
  T, Z = T.astype(cdt), Z.astype(cdt)
  n = T.shape[-1]
  eps = float(np.finfo(cdt).eps)

  if n < 2:
    return T, Z

  def one(t, z):
    return tuple(loops.fori_loop(0, max(n - 1, 0),
                                 lambda i, tz: _rsf2csf_step(n - 1 - i, tz, eps), (t, z)))

  return functional.vectorize(one, signature="(n,n),(n,n)->(n,n),(n,n)")(T, Z)


def schur(a, output: str = "real"):
  """``(t, z)`` with ``a = z t z^H``: ``output='real'`` keeps a real ``a``
  real (quasi-triangular ``t``), ``'complex'`` gives triangular ``t``."""
  if output not in ("real", "complex"):
    raise ValueError(f"Expected 'output' to be either 'real' or 'complex', got output={output}.")
  check_arraylike("schur", a)
  (a,) = promote_dtypes_inexact(jnp.asarray(a))
  if output == "complex":
    a = a.astype(np.result_type(a.dtype, np.complex64))
  return tuple(linalg_eig.schur(a))


def _complex_schur(a):
  a = a.astype(np.result_type(a.dtype, np.complex64))
  return linalg_eig.schur(a)


def _by_superdiagonals(t, f_diag, entry):
  """Fill the strict upper triangle of ``f`` (diagonal ``f_diag``) one
  superdiagonal ``d`` at a time: ``f[i, i+d] = entry(t, f, p)[i, i+d]``, where
  ``f`` holds the superdiagonals below ``d`` (zero above)."""
  n = t.shape[-1]
  i, j = jnp.arange(n)[:, None], jnp.arange(n)[None, :]

  def step(d, f):
    return jnp.where(j - i == d, entry(f), f)

  return loops.fori_loop(1, n, step, jnp.diag(f_diag)) if n > 1 else jnp.diag(f_diag)


def _sqrtm_2d(a):
  t, z = _complex_schur(a)
  hi = lax.Precision.HIGHEST
  d = jnp.sqrt(jnp.diag(t))
  den = d[:, None] + d[None, :]

  def entry(r):
    strict = jnp.triu(r, 1)
    return (t - jnp.matmul(strict, strict, precision=hi)) / den

  r = _by_superdiagonals(t, d, entry)
  return jnp.matmul(jnp.matmul(z, r, precision=hi), jnp.conj(z.T), precision=hi)


def sqrtm(A, blocksize: int = 1):
  """The principal square root of square ``A`` (complex), through its
  complex Schur form."""
  if blocksize > 1:
    raise NotImplementedError("Blocked version is not implemented yet.")
  check_arraylike("sqrtm", A)
  (A,) = promote_dtypes_inexact(jnp.asarray(A))
  if A.ndim != 2 or A.shape[0] != A.shape[1]:
    raise ValueError(f"sqrtm: expected a square matrix, got shape {A.shape}")
  return _sqrtm_2d(A)


def funm(A, func, disp: bool = True):
  """``func`` applied to square ``A`` as a matrix function (``func`` maps
  an array of eigenvalues elementwise), through the complex Schur form and
  Parlett's recurrence. With ``disp=False`` also SciPy's error estimate."""
  A = jnp.asarray(A)
  if A.ndim != 2 or A.shape[0] != A.shape[1]:
    raise ValueError("expected square array_like input")
  (A,) = promote_dtypes_inexact(A)
  t, z = _complex_schur(A)
  hi = lax.Precision.HIGHEST
  td = jnp.diag(t)
  fd = jnp.asarray(func(td)).astype(t.dtype)
  den = td[None, :] - td[:, None]
  safe = jnp.where(den == 0, jnp.ones((), den.dtype), den)
  tu = jnp.triu(t, 1)

  def entry(f):
    fu = jnp.triu(f, 1)
    s = t * (fd[None, :] - fd[:, None]) + jnp.matmul(tu, fu, precision=hi) - \
        jnp.matmul(fu, tu, precision=hi)
    return s / safe

  f = _by_superdiagonals(t, fd, entry)
  out = jnp.matmul(jnp.matmul(z, f, precision=hi), jnp.conj(z.T), precision=hi)
  if disp:
    return out
  n = t.shape[-1]
  tol = float(np.finfo(out.dtype).eps)
  upper = jnp.arange(n)[:, None] < jnp.arange(n)[None, :]
  minden = jnp.min(jnp.where(upper, jnp.abs(den), jnp.inf)) if n > 1 else jnp.inf
  minden = jnp.minimum(minden, jnp.abs(t[0, 0])) if n else jnp.asarray(tol)
  minden = jnp.where(minden == 0, tol, minden)
  norm1 = jnp.max(jnp.sum(jnp.abs(tu), axis=0)) if n else 0.
  err = jnp.where(jnp.any(jnp.isinf(out)), np.inf,
                  jnp.minimum(1, jnp.maximum(tol, (tol / minden) * norm1)))
  return out, err


def _sylvester_triangular(r, s, f):
  """Y with r Y + Y s = f, r upper and s lower triangular (complex): column
  k of Y from (r + s[k, k]) y_k = f_k - Y[:, k+1:] s[k+1:, k], last column
  first."""
  m, n = f.shape
  hi = lax.Precision.HIGHEST
  eye = jnp.eye(m, dtype=f.dtype)
  cols = jnp.arange(n)

  def step(i, y):
    k = n - 1 - i
    s_col = jnp.where(cols > k, s[:, k], jnp.zeros((), f.dtype))
    rhs = f[:, k] - jnp.matmul(y, s_col, precision=hi)
    yk = lax_linalg.triangular_solve(r + s[k, k] * eye, rhs[:, None], left_side=True,
                                     lower=False)[:, 0]
    return jnp.where(cols[None, :] == k, yk[:, None], y)

  return loops.fori_loop(0, n, step, jnp.zeros((m, n), f.dtype))


def solve_sylvester(A, B, C, *, method: str = "schur", tol: float = 1e-8):
  """X with ``A X + X B = C`` (Bartels-Stewart through both complex Schur
  forms, or ``method='eigen'`` through eigendecompositions); NaNs when an
  eigenvalue of ``A`` plus one of ``B`` is within ``tol`` of zero."""
  check_arraylike("solve_sylvester", A, B, C)
  A, B, C = promote_dtypes_inexact(jnp.asarray(A), jnp.asarray(B), jnp.asarray(C))
  if A.ndim != 2 or A.shape[0] != A.shape[1] or B.ndim != 2 or B.shape[0] != B.shape[1]:
    raise ValueError(f"solve_sylvester: A and B must be square, got shapes {A.shape} and "
                     f"{B.shape}")
  m, n = A.shape[0], B.shape[0]
  if C.shape != (m, n):
    raise ValueError(f"solve_sylvester: C must have shape {(m, n)}, got {C.shape}")
  hi = lax.Precision.HIGHEST
  mm = lambda x, y: jnp.matmul(x, y, precision=hi)  # noqa: E731
  if method == "schur":
    r, u = _complex_schur(A)
    s, v = _complex_schur(jnp.conj(B.T))
    f = mm(mm(jnp.conj(u.T), C.astype(r.dtype)), v)
    y = _sylvester_triangular(r, jnp.conj(s.T), f)
    x = mm(mm(u, y), jnp.conj(v.T))
  elif method == "eigen":
    wa, ua = linalg_eig.eig(A, compute_left_eigenvectors=False)
    wb, ub = linalg_eig.eig(B, compute_left_eigenvectors=False)
    f = jla.solve(ua, mm(C.astype(wa.dtype), ub))
    y = f / (wa[:, None] + wb[None, :])
    x = mm(mm(ua, y), jla.inv(ub))
  else:
    raise ValueError(f"Unrecognized method {method}. The two valid methods are either "
                     "\"schur\" or \"eigen\".")
  if not np.issubdtype(C.dtype, np.complexfloating):
    x = jnp.real(x)
  wa = linalg_eig.eig(A, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]
  wb = linalg_eig.eig(B, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]
  bad = jnp.any(jnp.abs(wa[:, None] + wb[None, :]) < tol)
  return jnp.where(bad, jnp.full_like(x, np.nan), x)


__all__ = ["eigh_tridiagonal", "funm", "hessenberg", "qr_multiply", "rsf2csf", "schur",
           "solve_sylvester", "sqrtm"]
