"""``jax.scipy.linalg`` for real dtypes: triangular, Cholesky and LU solves,
``solve`` (``assume_a``), inv, det, eigh, svd, qr, block_diag, toeplitz,
polar (through the SVD) and ``expm`` (scaling and squaring with JAX's Padé
approximants, differentiable through its matrix products and solve).
"""
from __future__ import annotations

import math

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.interpreters import ad
from rjax._src.lax import linalg as lax_linalg
from rjax._src.numpy import linalg as np_linalg
from rjax._src.numpy import linalg_decomp as jla
from rjax._src.numpy.util import check_arraylike, promote_dtypes, promote_dtypes_inexact


def _inexact(*xs):
  return promote_dtypes_inexact(*[jnp.asarray(x) for x in xs])


def _mm(a, b):
  return np_linalg.matmul(a, b, precision=lax.Precision.HIGHEST)


def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
  """The Cholesky factor: upper (U^H U = a) by default, as SciPy."""
  del overwrite_a, check_finite
  (a,) = _inexact(a)
  L = lax_linalg.cholesky(a)
  return L if lower else jla._H(L)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
  """``(c, lower)`` for :func:`cho_solve`."""
  del overwrite_a, check_finite
  return cholesky(a, lower=lower), lower


def _vec_solve(fn, a, b):
  """Apply ``fn(a, b2)`` with b as a matrix [..., n, k] (a vector b gets a
  trailing unit dim), broadcasting the batch dims."""
  vec = b.ndim == 1
  if vec:
    b = b[:, None]
  batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
  a = jnp.broadcast_to(a, batch + a.shape[-2:])
  b = jnp.broadcast_to(b, batch + b.shape[-2:])
  out = fn(a, b)
  return out[..., 0] if vec else out


def _check_square_rhs(name, a, b):
  if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
    raise ValueError(f"{name}: a must be a (batched) square matrix, got shape {a.shape}")
  n = a.shape[-1]
  if (b.ndim == 1 and b.shape[0] != n) or (b.ndim > 1 and b.shape[-2] != n):
    raise ValueError(f"{name}: incompatible shapes {a.shape} and {b.shape}")


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
  """Solve a x = b from ``cho_factor(a)``."""
  del overwrite_b, check_finite
  c, lower = c_and_lower
  c, b = _inexact(c, b)
  _check_square_rhs("cho_solve", c, b)

  def f(c, b):
    b = lax_linalg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower,
                                    conjugate_a=not lower)
    return lax_linalg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=lower,
                                       conjugate_a=lower)
  return _vec_solve(f, c, b)


def lu(a, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True):
  """``(p, l, u)`` with a = p l u (or ``(p l, u)`` with ``permute_l``)."""
  del overwrite_a, check_finite
  (a,) = _inexact(a)
  lu_, _, perm = lax_linalg.lu(a)
  m, n = a.shape[-2:]
  k = min(m, n)
  p = (perm[..., None, :] == jnp.arange(m, dtype=perm.dtype)[:, None]).astype(a.dtype)
  l = jnp.tril(lu_, -1)[..., :, :k] + jnp.eye(m, k, dtype=a.dtype)
  u = jnp.triu(lu_)[..., :k, :]
  if permute_l:
    return _mm(p, l), u
  return p, l, u


def lu_factor(a, overwrite_a: bool = False, check_finite: bool = True):
  """``(lu, piv)``: LAPACK's getrf (0-based pivots)."""
  del overwrite_a, check_finite
  (a,) = _inexact(a)
  lu_, pivots, _ = lax_linalg.lu(a)
  return lu_, pivots


def lu_solve(lu_and_piv, b, trans: int = 0, overwrite_b: bool = False, check_finite: bool = True):
  """Solve a x = b (trans 0), a^T x = b (1) or a^H x = b (2) from ``lu_factor``."""
  del overwrite_b, check_finite
  lu_, pivots = lu_and_piv
  lu_, b = _inexact(lu_, b)
  _check_square_rhs("lu_solve", lu_, b)
  perm = lax_linalg.lu_pivots_to_permutation(jnp.asarray(pivots), lu_.shape[-1])

  def f(lu_b, b):
    p = jnp.broadcast_to(perm, lu_b.shape[:-1])
    return lax_linalg.lu_solve(lu_b, p, b, trans)
  return _vec_solve(f, lu_, b)


def solve_triangular(a, b, trans=0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, debug=None, check_finite: bool = True):
  """Solve op(a) x = b for triangular a; ``trans`` 0/'N', 1/'T', 2/'C'."""
  del overwrite_b, debug, check_finite
  if trans in (0, "N"):
    transpose_a, conjugate_a = False, False
  elif trans in (1, "T"):
    transpose_a, conjugate_a = True, False
  elif trans in (2, "C"):
    transpose_a, conjugate_a = True, True
  else:
    raise ValueError(f"Invalid 'trans' value {trans}")
  a, b = _inexact(a, b)
  _check_square_rhs("solve_triangular", a, b)
  return _vec_solve(lambda a, b: lax_linalg.triangular_solve(
      a, b, left_side=True, lower=lower, transpose_a=transpose_a, conjugate_a=conjugate_a,
      unit_diagonal=unit_diagonal), a, b)


def solve(a, b, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          debug: bool = False, check_finite: bool = True, assume_a: str = "gen"):
  """Solve a x = b; ``assume_a='pos'`` uses a Cholesky factorization."""
  del overwrite_a, overwrite_b, debug, check_finite
  valid = ["gen", "sym", "her", "pos"]
  if assume_a not in valid:
    raise ValueError(f"Expected assume_a to be one of {valid}; got {assume_a!r}")
  if assume_a != "pos":
    return jla.solve(a, b)
  a, b = _inexact(a, b)
  _check_square_rhs("solve", a, b)
  factors = cho_factor(lax.stop_gradient(a), lower=lower)

  def one(bv):
    return lax.custom_linear_solve(lambda x: jla._broadcasted_matvec(a, x), bv,
                                   solve=lambda _, x: cho_solve(factors, x[..., None])[..., 0],
                                   symmetric=True)
  if a.ndim == b.ndim + 1:
    return one(jnp.broadcast_to(b, a.shape[:-1]))
  batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
  b = jnp.broadcast_to(b, batch + b.shape[-2:])
  a_b = jnp.broadcast_to(a, batch + a.shape[-2:])
  factors = cho_factor(lax.stop_gradient(a_b), lower=lower)
  bt = jnp.moveaxis(b, -1, 0)
  outs = lax.custom_linear_solve(
      lambda x: jla._broadcasted_matvec(a_b, x), bt,
      solve=lambda _, x: jnp.moveaxis(cho_solve(factors, jnp.moveaxis(x, 0, -1)), -1, 0),
      symmetric=True)
  return jnp.moveaxis(outs, 0, -1)


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
  del overwrite_a, check_finite
  return jla.inv(a)


def det(a, overwrite_a: bool = False, check_finite: bool = True):
  del overwrite_a, check_finite
  return jla.det(a)


def eigh(a, b=None, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, type: int = 1, check_finite: bool = True, subset_by_index=None,
         subset_by_value=None, driver=None, symmetrize_input: bool = True):
  """Eigenvalues (and eigenvectors) of a symmetric matrix."""
  del overwrite_a, overwrite_b, type, check_finite, driver
  if b is not None:
    raise NotImplementedError("Only the b=None case of eigh is implemented")
  if subset_by_value is not None:
    raise NotImplementedError("subset_by_value is not implemented")
  (a,) = _inexact(a)
  v, w = lax_linalg.eigh(a, lower=lower, symmetrize_input=symmetrize_input,
                         subset_by_index=subset_by_index)
  return w if eigvals_only else (w, v)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd"):
  del overwrite_a, check_finite, lapack_driver
  (a,) = _inexact(a)
  return jla.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)


def qr(a, overwrite_a: bool = False, lwork=None, mode: str = "full", pivoting: bool = False,
       check_finite: bool = True):
  """QR with SciPy's modes 'full', 'r' and 'economic' (JAX has no 'raw'):
  ``(q, r)`` or ``(r,)``, and with ``pivoting`` also the int32 column
  permutation ``p`` (``a[..., p] = q r``): ``(q, r, p)`` or ``(r, p)``."""
  del overwrite_a, lwork, check_finite
  if mode in ("full", "r"):
    full_matrices = True
  elif mode == "economic":
    full_matrices = False
  else:
    raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
  (a,) = _inexact(a)
  q, r, *p = lax_linalg.qr(a, pivoting=bool(pivoting), full_matrices=full_matrices)
  if mode == "r":
    return (r, p[0]) if pivoting else (r,)
  return (q, r, p[0]) if pivoting else (q, r)


def block_diag(*arrs):
  """The block-diagonal matrix of the (at most 2-d) arguments."""
  if len(arrs) == 0:
    arrs = (jnp.zeros((1, 0)),)
  check_arraylike("block_diag", *arrs)
  arrs = tuple(promote_dtypes(*[jnp.asarray(a) for a in arrs]))
  bad = [i for i, a in enumerate(arrs) if a.ndim > 2]
  if bad:
    raise ValueError("Arguments to jax.scipy.linalg.block_diag must have at most 2 dimensions, "
                     f"got {arrs[bad[0]]} at argument {bad[0]}.")
  arrs = [jnp.atleast_2d(a) for a in arrs]
  total = sum(a.shape[1] for a in arrs)
  rows, col = [], 0
  for a in arrs:
    rows.append(jnp.pad(a, ((0, 0), (col, total - a.shape[1] - col))))
    col += a.shape[1]
  return jnp.concatenate(rows, axis=0)


def toeplitz(c, r=None):
  """The Toeplitz matrix with first column ``c`` and first row ``r``."""
  if r is None:
    check_arraylike("toeplitz", c)
    r = jnp.conjugate(jnp.asarray(c))
  else:
    check_arraylike("toeplitz", c, r)
  c, r = jnp.atleast_1d(jnp.asarray(c)), jnp.atleast_1d(jnp.asarray(r))
  c, r = promote_dtypes(c, r)
  m, n = c.shape[-1], r.shape[-1]
  vals = jnp.concatenate([jnp.flip(c, -1), r[..., 1:]], axis=-1)   # c[m-1..0], r[1..]
  idx = (m - 1) - jnp.arange(m)[:, None] + jnp.arange(n)[None, :]
  return jnp.take(vals, idx, axis=-1)


def polar(a, side: str = "right", *, method: str = "qdwh", eps=None, max_iterations=None):
  """``(u, p)`` with a = u p ('right') or p u ('left'), through the SVD
  (rjax's only method; JAX's 'qdwh' gives the same factors)."""
  arr = jnp.asarray(a)
  if arr.ndim < 2:
    raise ValueError("The input `a` must be at least a 2-D array.")
  if side not in ("right", "left"):
    raise ValueError("The argument `side` must be either 'right' or 'left'.")
  if method not in ("qdwh", "svd"):
    raise ValueError(f"Unknown polar decomposition method {method}.")
  (arr,) = _inexact(arr)
  u_svd, s, vh = jla.svd(arr, full_matrices=False)
  u = _mm(u_svd, vh)
  if side == "right":
    p = _mm(jla._H(vh) * s[..., None, :].astype(arr.dtype), vh)
  else:
    p = _mm(u_svd * s[..., None, :].astype(arr.dtype), jla._H(u_svd))
  return u, p


# -- expm (Higham 2005, as JAX) ----------------------------------------------

_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}


def _pade(A, deg):
  b = _PADE[deg]
  ident = jnp.eye(A.shape[-1], dtype=A.dtype)
  A2 = _mm(A, A)
  if deg == 13:
    A4 = _mm(A2, A2)
    A6 = _mm(A4, A2)
    U = _mm(A, _mm(A6, b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4
            + b[3] * A2 + b[1] * ident)
    V = _mm(A6, b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
        + b[0] * ident
    return U, V
  powers = [ident, A2]
  while len(powers) < (deg + 1) // 2:
    powers.append(_mm(powers[-1], A2))
  U = _mm(A, sum(b[2 * i + 1] * p for i, p in enumerate(powers)))
  V = sum(b[2 * i] * p for i, p in enumerate(powers))
  return U, V


def _expm_2d(A, upper_triangular, max_squarings):
  A_L1 = np_linalg.norm(A, 1)
  if A.dtype == np.float64:
    maxnorm = 5.371920351148152
    conds = (0.01495585217958292, 0.253939833006323, 0.9504178996162932, 2.097847961257068)
    degs = (3, 5, 7, 9, 13)
  elif A.dtype == np.float32:
    maxnorm = 3.92572478313866
    conds = (0.4258730016922831, 1.880152677804762)
    degs = (3, 5, 7)
  else:
    raise TypeError(f"A.dtype={A.dtype} is not supported.")
  n_squarings = jnp.maximum(0, jnp.floor(jnp.log2(A_L1 / maxnorm)))
  A = A / (2 ** n_squarings.astype(A.dtype))
  idx = jnp.digitize(A_L1, jnp.array(conds, dtype=A_L1.dtype))
  U, V = lax.switch(idx, [lambda A, d=d: _pade(A, d) for d in degs], A)
  P, Q = U + V, -U + V
  if upper_triangular:
    R = solve_triangular(Q, P)
  else:
    R = jla.solve(Q, P)

  def body(i, R):
    return jnp.where(i < n_squarings, _mm(R, R), R)
  R = lax.fori_loop(0, max_squarings, body, R)
  return jnp.where(n_squarings > max_squarings, jnp.full_like(R, np.nan), R)


def expm(A, *, upper_triangular: bool = False, max_squarings: int = 16):
  """The matrix exponential (scaling and squaring, Padé degree by the norm)."""
  (A,) = _inexact(A)
  if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
    raise ValueError(f"Expected A to be a (batched) square matrix, got A.shape={A.shape!r}.")
  if A.ndim > 2:
    flat = A.reshape((-1,) + A.shape[-2:])
    outs = [_expm_2d(flat[i], upper_triangular, max_squarings) for i in range(flat.shape[0])]
    return jnp.stack(outs).reshape(A.shape) if outs else A
  return _expm_2d(A, upper_triangular, max_squarings)


def expm_frechet(A, E, *, method=None, compute_expm: bool = True):
  """The Frechet derivative of expm at A in the direction E (its JVP, as JAX)."""
  del method
  A_arr, E_arr = jnp.asarray(A), jnp.asarray(E)
  if A_arr.ndim < 2 or A_arr.shape[-2] != A_arr.shape[-1]:
    raise ValueError(f"expected A to be a (batched) square matrix, got A.shape={A_arr.shape}")
  if E_arr.ndim < 2 or E_arr.shape[-2] != E_arr.shape[-1]:
    raise ValueError(f"expected E to be a (batched) square matrix, got E.shape={E_arr.shape}")
  if A_arr.shape != E_arr.shape:
    raise ValueError(f"expected A and E to be the same shape, got A.shape={A_arr.shape} "
                     f"E.shape={E_arr.shape}")
  expm_A, frechet = ad.jvp(lambda a: expm(a), (A_arr,), (E_arr,))
  return (expm_A, frechet) if compute_expm else frechet


def hilbert(n: int):
  """The n x n Hilbert matrix 1 / (i + j + 1)."""
  a = jnp.arange(n, dtype=float)[:, None]
  return 1 / (a + a.T + 1)


def hadamard(n: int, dtype=int):
  """The n x n Hadamard matrix (n a power of 2), Sylvester's construction."""
  if n < 1 or not math.log2(n).is_integer():
    raise ValueError(f"n must be a positive power of 2; got {n}.")
  H = jnp.ones((1, 1), dtype=dtype)
  for _ in range(int(math.log2(n))):
    H = jnp.concatenate([jnp.concatenate([H, H], axis=1), jnp.concatenate([H, -H], axis=1)],
                        axis=0)
  return H


def helmert(n: int, full: bool = False):
  """The (n-1) x n (or n x n with ``full``) Helmert matrix."""
  if n < 1:
    raise ValueError(f"n must be a positive integer; got {n}.")
  i = jnp.arange(n - 1)[:, None]
  j = jnp.arange(n)[None, :]
  k_f = (i + 1).astype(jnp.zeros(()).dtype)
  denom = jnp.sqrt(k_f * (k_f + 1))
  H = jnp.where(j <= i, 1.0 / denom, jnp.where(j == i + 1, -k_f / denom, jnp.zeros_like(denom)))
  if full:
    H = jnp.concatenate([jnp.full((1, n), 1.0 / np.sqrt(n), dtype=H.dtype), H], axis=0)
  return H


__all__ = ["expm_frechet", "hilbert", "hadamard", "helmert", "block_diag", "cho_factor", "cho_solve", "cholesky", "det", "eigh", "expm", "inv",
           "lu", "lu_factor", "lu_solve", "polar", "qr", "solve", "solve_triangular", "svd",
           "toeplitz"]
