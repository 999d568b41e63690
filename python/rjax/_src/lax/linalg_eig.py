"""``lax.linalg.eig`` (the nonsymmetric eigendecomposition) and the
Hessenberg decomposition behind ``scipy.linalg.hessenberg``, each one
primitive with all its rules, after JAX's ``lax/linalg.py``.

The Rust kernels (``rust/src/ops/linalg/eig.rs``) run faer's Hessenberg
reduction and multishift QR, and normalise eigenvectors as LAPACK's
``geev`` does (unit 2-norm, largest-magnitude component real), so JAX's
eigenvector JVP (which differentiates through that normalisation) applies.
"""
from __future__ import annotations

import enum
import warnings

import numpy as np

from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, reference
from rjax._src.lax import complex_ops, lax, reductions, shapes
from rjax._src.lax.linalg import (_H, _T, _aval, _batch_front, _check_rank, _diag, _eye,
                                  _lowering, _mm, _per_matrix, lu_p, lu_solve)
from rjax._src.lax.utils import asarray_lax, check_dtype, export, standard_primitive

_inexact = ("float", "complex")


def _complex_dtype(dt) -> np.dtype:
  dt = np.dtype(dt)
  if np.issubdtype(dt, np.complexfloating):
    return dt
  return np.dtype(np.complex128) if dt == np.float64 else np.dtype(np.complex64)


def _solve(a, b):
  """a^-1 b for square a (LU with partial pivoting)."""
  lu_, _, perm = lu_p.bind(a)
  return lu_solve(lu_, perm, b)


class EigImplementation(enum.Enum):
  """The eig algorithm (``lax.linalg.EigImplementation``); rjax runs faer's
  (Hessenberg reduction and multishift QR, as LAPACK's ``geev``)."""
  LAPACK = "lapack"
  MAGMA = "magma"
  CUSOLVER = "cusolver"


export(EigImplementation)


# ---------------------------------------------------------------------------
# eig


def _eig_abstract_eval(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
                       enable_eigvec_derivs, implementation):
  check_dtype("eig", x, _inexact)
  _check_rank("eig", 0, x, 2)
  if x.shape[-1] != x.shape[-2]:
    raise ValueError(f"The input to eig must be a square matrix. Got shape {x.shape[-2:]}.")
  dt = _complex_dtype(x.dtype)
  count = bool(compute_left_eigenvectors) + bool(compute_right_eigenvectors)
  return [ShapedArray(x.shape[:-1], dt)] + [ShapedArray(x.shape, dt)] * count


def _eig_vec_jvp(w, v, da):
  """Non-degenerate perturbation theory (Giles 2008, sec. 3.1) under geev's
  normalisation, as JAX: the eigenvalue and eigenvector tangents."""
  nd = _aval(v).ndim
  n = _aval(w).shape[-1]
  shape = _aval(v).shape
  dt = _aval(v).dtype
  eye = shapes.broadcast_in_dim(_eye(dt, (n, n)), shape, (nd - 2, nd - 1))
  w_row = shapes.broadcast_in_dim(w, shape, (*range(nd - 2), nd - 1))
  w_col = shapes.broadcast_in_dim(w, shape, tuple(range(nd - 1)))
  fmat = lax.sub(lax.div(shapes.full_like(eye, 1), lax.add(eye, lax.sub(w_row, w_col))), eye)
  p = _mm(_solve(v, da), v)
  dw = _diag(p)
  u = _mm(v, lax.mul(fmat, p))
  # dv_j = u_j + c_j v_j; geev's two real constraints fix c_j:
  # c_j = -Re(v_j^H u_j) - i Im(u_kj) / v_kj with k = argmax_i |v_ij|
  k = reductions.argmax(lax.abs(v), nd - 2, np.int32)
  rows = shapes.broadcasted_iota(np.int32, shape, nd - 2)
  mask = lax.convert_element_type(
      lax.eq(rows, shapes.broadcast_in_dim(k, shape, (*range(nd - 2), nd - 1))), dt)
  col_sum = lambda x: reductions.reduce_sum(x, (nd - 2,))  # noqa: E731
  c = complex_ops.complex(
      lax.neg(complex_ops.real(col_sum(lax.mul(complex_ops.conj(v), u)))),
      lax.div(lax.neg(complex_ops.imag(col_sum(lax.mul(mask, u)))),
              complex_ops.real(col_sum(lax.mul(mask, v)))))
  c = shapes.broadcast_in_dim(c, shape, (*range(nd - 2), nd - 1))
  return dw, lax.add(u, lax.mul(v, c))


def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors,
             enable_eigvec_derivs, implementation):
  (a,), (da,) = primals, tangents
  left, right = compute_left_eigenvectors, compute_right_eigenvectors
  if (left or right) and not enable_eigvec_derivs:
    raise NotImplementedError(
        "Derivatives of non-symmetric eigenvectors are only valid under assumptions on the "
        "input that JAX cannot check (see the enable_eigvec_derivs argument to "
        "jax.lax.linalg.eig). Pass enable_eigvec_derivs=True to jax.lax.linalg.eig to opt in. "
        "See https://github.com/jax-ml/jax/issues/2748 for discussion.")
  outs = eig_p.bind(a, compute_left_eigenvectors=left, compute_right_eigenvectors=True,
                    enable_eigvec_derivs=enable_eigvec_derivs, implementation=implementation)
  w, vr = outs[0], outs[-1]
  if isinstance(da, ad.Zero):
    primal = [w] + ([outs[1]] if left else []) + ([vr] if right else [])
    return primal, [ad.Zero(ad.tangent_aval(_aval(o))) for o in primal]
  da = lax.convert_element_type(da, _aval(vr).dtype)
  if not (left or right):
    dw = reductions.reduce_sum(lax.mul(_solve(vr, da), _T(vr)), (_aval(vr).ndim - 1,))
    return [w], [dw]
  dw, dvr = _eig_vec_jvp(w, vr, da)
  primal, tangent = [w], [dw]
  if left:
    _, dvl = _eig_vec_jvp(complex_ops.conj(w), outs[1], _H(da))
    primal.append(outs[1])
    tangent.append(dvl)
  if right:
    primal.append(vr)
    tangent.append(dvr)
  return primal, tangent


def _eig_ref(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
             enable_eigvec_derivs, implementation):
  dt = _complex_dtype(np.asarray(x).dtype)

  def one(a):
    n = a.shape[-1]
    if not np.all(np.isfinite(a)):
      w = np.full(n, np.nan, dt)
      vl = vr = np.full((n, n), np.nan, dt)
    else:
      w, vr = np.linalg.eig(a)
      vl = np.linalg.inv(vr).conj().T
      vl = vl / np.linalg.norm(vl, axis=0, keepdims=True)
    out = (w.astype(dt),)
    if compute_left_eigenvectors:
      out += (vl.astype(dt),)
    if compute_right_eigenvectors:
      out += (vr.astype(dt),)
    return out
  return _per_matrix(one, x)


eig_p = standard_primitive("eig", _eig_abstract_eval, multiple_results=True, lower=False)
ad.primitive_jvps[eig_p] = _eig_jvp
_batch_front(eig_p)
_lowering(eig_p, ("compute_left_eigenvectors", "compute_right_eigenvectors"))
reference.register(eig_p, _eig_ref)


@export
def eig(x, *, compute_left_eigenvectors: bool = True, compute_right_eigenvectors: bool = True,
        enable_eigvec_derivs: bool = False, implementation=None, use_magma=None):
  """Eigendecomposition of general square matrices ([..., n, n]): ``[w]``,
  then ``vl`` and ``vr`` when asked for, all complex. ``vl[..., :, j]^H x =
  w[j] vl[..., :, j]^H`` and ``x vr[..., :, j] = w[j] vr[..., :, j]``, each
  vector of unit norm with its largest component real (LAPACK's ``geev``).
  A decomposition that fails gives NaNs for its batch element."""
  if use_magma is not None:
    warnings.warn("use_magma is deprecated, please use implementation=EigImplementation.MAGMA "
                  "instead.", DeprecationWarning, stacklevel=2)
  x = asarray_lax(x)
  return eig_p.bind(x, compute_left_eigenvectors=bool(compute_left_eigenvectors),
                    compute_right_eigenvectors=bool(compute_right_eigenvectors),
                    enable_eigvec_derivs=bool(enable_eigvec_derivs),
                    implementation=implementation)


# ---------------------------------------------------------------------------
# hessenberg_q: (h, q) with a = q h q^H (scipy.linalg.hessenberg's outputs;
# JAX's lax.linalg.hessenberg returns LAPACK's packed reflectors instead)


def _hessenberg_q_abstract_eval(x):
  check_dtype("hessenberg", x, _inexact)
  _check_rank("hessenberg", 0, x, 2)
  if x.shape[-1] != x.shape[-2]:
    raise ValueError("hessenberg requires a square matrix, got shape "
                     f"{x.shape[-2:]}")
  return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape, x.dtype)]


def _hessenberg_q_jvp(primals, tangents):
  raise NotImplementedError("Differentiation rule for 'hessenberg' not implemented")


def _hessenberg_q_ref(x):
  import scipy.linalg
  return _per_matrix(lambda a: scipy.linalg.hessenberg(a, calc_q=True), x)


hessenberg_q_p = standard_primitive("hessenberg_q", _hessenberg_q_abstract_eval,
                                    multiple_results=True, lower=False)
ad.primitive_jvps[hessenberg_q_p] = _hessenberg_q_jvp
_batch_front(hessenberg_q_p)
_lowering(hessenberg_q_p)
reference.register(hessenberg_q_p, _hessenberg_q_ref)


def hessenberg_q(x):
  """``(h, q)``: the upper Hessenberg form of [..., n, n] matrices, ``x = q
  h q^H`` with ``q`` unitary."""
  return hessenberg_q_p.bind(asarray_lax(x))


# ---------------------------------------------------------------------------
# schur: (t, z?) with x = z t z^H; t quasi-triangular (1x1 and 2x2 blocks)
# for real x, triangular for complex x. JAX defines no derivative.


def _schur_abstract_eval(x, *, compute_schur_vectors, sort_eig_vals, select_callable):
  check_dtype("schur", x, _inexact)
  _check_rank("schur", 0, x, 2)
  if x.shape[-1] != x.shape[-2]:
    raise ValueError(f"The input to schur must be a square matrix. Got shape {x.shape[-2:]}.")
  out = ShapedArray(x.shape, x.dtype)
  return [out, out] if compute_schur_vectors else [out]


def _schur_jvp(primals, tangents, **params):
  raise NotImplementedError("Differentiation rule for 'schur' not implemented")


def _schur_ref(x, *, compute_schur_vectors, sort_eig_vals, select_callable):
  import scipy.linalg
  out = "complex" if np.iscomplexobj(x) else "real"

  def one(a):
    t, z = scipy.linalg.schur(a, output=out)
    return (t, z) if compute_schur_vectors else (t,)
  return _per_matrix(one, x)


schur_p = standard_primitive("schur", _schur_abstract_eval, multiple_results=True, lower=False)
ad.primitive_jvps[schur_p] = _schur_jvp
_batch_front(schur_p)
_lowering(schur_p, ("compute_schur_vectors",))
reference.register(schur_p, _schur_ref)


@export
def schur(x, *, compute_schur_vectors: bool = True, sort_eig_vals: bool = False,
          select_callable=None):
  """Schur decomposition of [..., n, n] matrices: ``(t, z)`` (or ``(t,)``)
  with ``x = z t z^H``, ``z`` unitary, ``t`` upper triangular (complex) or
  quasi-triangular (real: 2x2 blocks for complex eigenvalue pairs)."""
  if sort_eig_vals:
    raise NotImplementedError("The sort feature of LAPACK's gees routine is not implemented.")
  x = asarray_lax(x)
  return schur_p.bind(x, compute_schur_vectors=bool(compute_schur_vectors),
                      sort_eig_vals=False, select_callable=select_callable)
