"""``lax.linalg``: the matrix decompositions and solvers (cholesky, lu, qr,
eigh, svd, triangular_solve, tridiagonal_solve, lu_pivots_to_permutation),
each one primitive with all its rules, after JAX's ``lax/linalg.py``.

Every primitive is batched over the leading dims of its operands (the Rust
kernels in ``rust/src/ops/linalg`` loop over them); the batching rule moves
the vmapped dim to the front. The JVP rules are JAX's, written with the
conjugate transposes ``_H``/``_conj``, which are the identity for real
dtypes, so complex dtypes slot in without new rules. float16/bfloat16 are
rejected at lowering with JAX's error (LAPACK has no such kernels).
"""
from __future__ import annotations

import enum

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lowering, reference
from rjax._src.lax import complex_ops, lax, matmul, reductions, shapes, slicing
from rjax._src.lax.utils import asarray_lax, check_dtype, export, standard_primitive

_inexact = ("float", "complex")


# ---------------------------------------------------------------------------
# Helpers (batch-polymorphic: every array is [..., rows, cols])


def _aval(x):
  return core.get_aval(x)


def _is_complex(dt) -> bool:
  return np.issubdtype(np.dtype(dt), np.complexfloating)


def _conj(x):
  """Complex conjugate; the identity for real dtypes."""
  return complex_ops.conj(x) if _is_complex(_aval(x).dtype) else x


def _real(x):
  return complex_ops.real(x) if _is_complex(_aval(x).dtype) else x


def _T(x):
  nd = _aval(x).ndim
  return shapes.transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def _H(x):
  return _conj(_T(x))


def _mm(a, b):
  """Batched matrix product of [..., m, k] and [..., k, n] (equal batch)."""
  nd = _aval(a).ndim
  batch = tuple(range(nd - 2))
  return matmul.dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)),
                            precision=matmul.Precision.HIGHEST)


def _scalar(x, v):
  return shapes.full((), v, _aval(x).dtype)


def _broadcast_mask(m, shape):
  """An [N, M] mask broadcast to [..., N, M] (JAX's ``_tril`` does the same:
  the iotas stay one matrix in size, which a batch of small matrices feels)."""
  nd = len(shape)
  return m if nd == 2 else shapes.broadcast_in_dim(m, shape, (nd - 2, nd - 1))


def _mask(shape, k: int = 0):
  """Boolean [..., N, M] mask of col <= row + k (the lower triangle)."""
  n, m = shape[-2:]
  r = shapes.broadcasted_iota(np.int32, (n, m), 0)
  c = shapes.broadcasted_iota(np.int32, (n, m), 1)
  return _broadcast_mask(lax.le(c, lax.add(r, shapes.full((), k, np.int32))), shape)


def _eye_mask(shape):
  n, m = shape[-2:]
  return _broadcast_mask(lax.eq(shapes.broadcasted_iota(np.int32, (n, m), 0),
                                shapes.broadcasted_iota(np.int32, (n, m), 1)), shape)


def _tril(x, k: int = 0):
  return lax.select(_mask(_aval(x).shape, k), x, shapes.full_like(x, 0))


def _triu(x, k: int = 0):
  return lax.select(_mask(_aval(x).shape, k - 1), shapes.full_like(x, 0), x)


def _eye(dtype, shape):
  return lax.convert_element_type(_eye_mask(tuple(shape)), dtype)


def _diag(x):
  """The diagonal of square [..., n, n] matrices (exact: a masked sum)."""
  nd = _aval(x).ndim
  return reductions.reduce_sum(lax.select(_eye_mask(_aval(x).shape), x, shapes.full_like(x, 0)),
                               (nd - 1,))


def _construct_diag(s):
  shape = _aval(s).shape
  n = shape[-1]
  full = shape[:-1] + (n, n)
  b = shapes.broadcast_in_dim(s, full, (*range(len(shape) - 1), len(shape)))
  return lax.select(_eye_mask(full), b, shapes.full_like(b, 0))


def _slice(x, axis_slices):
  """``x[..., a:b, c:d]`` on the trailing dims (``axis_slices`` per dim from the end)."""
  shape = _aval(x).shape
  nd = len(shape)
  starts, limits = [0] * nd, list(shape)
  for i, (lo, hi) in enumerate(axis_slices):
    d = nd - len(axis_slices) + i
    starts[d], limits[d] = lo, hi
  return slicing.slice(x, starts, limits)


def _pad_trailing(x, config):
  nd = _aval(x).ndim
  full = [(0, 0, 0)] * (nd - len(config)) + [(lo, hi, 0) for lo, hi in config]
  return shapes.pad(x, _scalar(x, 0), full)


def _int_to_float(x):
  """JAX's ``symmetrize`` divides by 2 with ``/``, which makes integers float."""
  dt = _aval(x).dtype
  if dtypes.is_float(dt) or _is_complex(dt):
    return x
  return lax.convert_element_type(x, dtypes.to_inexact_dtype(dt))


def symmetrize(x):
  """``(x + x^H) / 2``."""
  return lax.div(lax.add(x, _H(x)), _scalar(x, 2))


def _permute_rows(x, perm):
  """``x[..., perm[i], :]`` for every i: ``x`` [..., m, k] and int32
  permutations ``perm`` [..., m] with x's batch dims. One gather (O(m k)),
  not a product with the permutation matrix (O(m^2 k))."""
  shape = _aval(x).shape
  nb = len(shape) - 2
  if 0 in shape:
    return x
  batch = tuple(range(nb))
  dnums = slicing.GatherDimensionNumbers(
      offset_dims=(nb + 1,), collapsed_slice_dims=(nb,), start_index_map=(nb,),
      operand_batching_dims=batch, start_indices_batching_dims=batch)
  idx = shapes.expand_dims(perm, (nb + 1,))
  return slicing.gather(x, idx, dnums, (1,) * (nb + 1) + (shape[-1],),
                        indices_are_sorted=False, unique_indices=True, mode="promise_in_bounds")


def _inverse_permutation(perm):
  """The inverse of int32 permutations [..., m] along the last dim (JAX's
  sort of an iota keyed by the permutation)."""
  shape = _aval(perm).shape
  iota = shapes.broadcasted_iota(np.int32, shape, len(shape) - 1)
  return reductions.sort((perm, iota), dimension=len(shape) - 1, num_keys=1)[1]


def _zero_out(out):
  return ad.Zero(ad.tangent_aval(_aval(out)))


def _check_rank(name, i, x, rank):
  if x.ndim < rank:
    raise TypeError(f"Input {i} to {name} must have rank at least {rank}, but got "
                    f"shape={x.shape}")


def _check_same_batch(name, *xs_ranks):
  batches = [x.shape[:x.ndim - r] for x, r in xs_ranks]
  if any(len(b) != len(batches[0]) for b in batches):
    raise TypeError(f"All inputs to {name} must have the same number of batch dimensions, but "
                    f"got {[len(b) for b in batches]} batch dimensions for the inputs.")
  if any(b != batches[0] for b in batches):
    raise ValueError(f"All inputs to {name} must have the same batch dimensions, but got "
                     f"{batches}.")
  return batches[0]


def _check_same_dtypes(name, *xs):
  if any(x.dtype != xs[0].dtype for x in xs):
    raise TypeError(f"{name} requires arguments to have the same dtypes, got "
                    f"{', '.join(x.dtype.name for x in xs)}.")


def _batch_front(prim):
  """vmap: move every batch dim to the front (broadcasting unbatched operands)."""
  def rule(vals, dims, **params):
    size = next(_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
    vals = [batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
    out = prim.bind(*vals, **params)
    return out, ([0] * len(out) if prim.multiple_results else 0)
  batching.primitive_batchers[prim] = rule


def _lowering_dtype_check(dt):
  dt = np.dtype(dt)
  if dt in (np.dtype(np.float16), dtypes.bfloat16):
    raise NotImplementedError(f"Unsupported dtype {dt.name}.")


def _lowering(prim, keys=()):
  """One Rust op named like the primitive, with the params in ``keys``;
  float16/bfloat16 are refused as JAX refuses them (no LAPACK kernel)."""
  def rule(ctx, *ids, avals_in, avals_out, **params):
    _lowering_dtype_check(avals_in[-1].dtype)
    return ctx.emit(prim.name, ids, avals_out, {k: params[k] for k in keys})
  rule.op_name = prim.name
  lowering.lowerings[prim] = rule


def _per_matrix(fn, x, core_rank=2):
  """Apply ``fn`` to each matrix of a NumPy stack (the references)."""
  x = np.asarray(x)
  batch = x.shape[:x.ndim - core_rank]
  flat = x.reshape((-1,) + x.shape[x.ndim - core_rank:])
  outs = [fn(m) for m in flat]
  if not isinstance(outs[0] if outs else None, tuple):
    return None if not outs else np.stack(outs).reshape(batch + np.shape(outs[0]))
  return [np.stack(o).reshape(batch + np.shape(o[0])) for o in zip(*outs)]


class EighImplementation(enum.Enum):
  """The eigh algorithm (``lax.linalg.EighImplementation``); rjax's CPU
  kernel is faer's (QR-based, like LAPACK's default)."""
  QR = "qr"
  JACOBI = "jacobi"
  QDWH = "qdwh"


class SvdAlgorithm(enum.Enum):
  """The SVD algorithm (``lax.linalg.SvdAlgorithm``); rjax runs faer's."""
  DEFAULT = "default"
  QR = "QR"
  JACOBI = "Jacobi"
  POLAR = "polar"


export(EighImplementation)
export(SvdAlgorithm)


# ---------------------------------------------------------------------------
# cholesky


def _cholesky_abstract_eval(x):
  check_dtype("cholesky", x, _inexact)
  _check_rank("cholesky", 0, x, 2)
  if x.shape[-1] != x.shape[-2]:
    raise ValueError(f"The input to cholesky must be a square matrix. Got shape {x.shape[-2:]}.")
  return ShapedArray(x.shape, x.dtype, x.weak_type)


def _cholesky_jvp(primals, tangents):
  """Murray (2016), as JAX: L_dot = L phi(L^-1 S_dot L^-H)."""
  (x,), (sigma_dot,) = primals, tangents
  L = cholesky_p.bind(x)
  if isinstance(sigma_dot, ad.Zero):
    return L, _zero_out(L)
  n = _aval(x).shape[-1]
  tmp = triangular_solve(L, sigma_dot, left_side=False, transpose_a=True, conjugate_a=True,
                         lower=True)
  inner = triangular_solve(L, tmp, left_side=True, transpose_a=False, lower=True)
  half = lax.add(_eye(_aval(x).dtype, (n, n)), _scalar(x, 1))
  phi = lax.div(_tril(inner), shapes.broadcast_in_dim(half, _aval(inner).shape,
                                                       (_aval(x).ndim - 2, _aval(x).ndim - 1)))
  return L, _mm(L, phi)


def _cholesky_ref(x):
  def one(m):
    try:
      return np.linalg.cholesky(np.tril(m) + np.tril(m, -1).conj().T)
    except np.linalg.LinAlgError:
      return np.where(np.tri(*m.shape, dtype=bool), np.nan, 0).astype(m.dtype)
  return _per_matrix(one, x).astype(np.asarray(x).dtype)


def _const_value(ctx, i):
  """The value of Program constant ``i`` if it is a scalar constant, else None."""
  k = i - len(ctx.in_avals)
  if not 0 <= k < len(ctx.consts):
    return None
  buf = ctx.consts[k]
  if list(buf.shape) or buf.dtype not in ("float32", "float64", "complex64", "complex128"):
    return None
  return np.asarray(buf.as_bytes()).view(buf.dtype)[0]


def _symmetrized_source(ctx, x, aval):
  """``a`` if value ``x`` is ``symmetrize(a)``, i.e. ``div(add(a, t), 2)``
  with ``t`` a's transpose of the last two dims (conjugated if complex),
  else None."""
  div = ctx.producer(x)
  if div is None or div[0] != "div" or _const_value(ctx, div[2][1]) != 2:
    return None
  add = ctx.producer(div[2][0])
  if add is None or add[0] != "add":
    return None
  a, t = add[2]
  prod = ctx.producer(t)
  if _is_complex(aval.dtype):
    if prod is None or prod[0] != "conj":
      return None
    prod = ctx.producer(prod[2][0])
  ndim = aval.ndim
  swap = [*range(ndim - 2), ndim - 1, ndim - 2]
  if prod is None or prod[0] != "transpose" or list(prod[1]["permutation"]) != swap \
      or prod[2][0] != a:
    return None
  return a


def _cholesky_lowering(ctx, x, *, avals_in, avals_out):
  """The Rust ``cholesky`` op. When its operand is ``(a + a^H) / 2``
  (``symmetrize_input``, JAX's default), the kernel reads ``a`` and
  symmetrizes the lower triangle as it loads it (the same roundings), and
  the transpose, add and div are left to dead-code elimination: on a batch
  of small matrices they cost more than the factorization."""
  _lowering_dtype_check(avals_in[0].dtype)
  src = _symmetrized_source(ctx, x, avals_in[0])
  if src is not None:
    return ctx.emit("cholesky", [src], avals_out, {"symmetrize_input": True})
  return ctx.emit("cholesky", [x], avals_out, {})


_cholesky_lowering.op_name = "cholesky"
# rjax's kernel writes zeros above the diagonal, also where it fails (NaNs
# on and below it): JAX's result after its mask. So, unlike JAX, the
# wrappers here bind cholesky_p with no trailing ``_tril`` select (their
# jaxprs lack it), which cost a batch of 8 x 8 matrices more than the
# factorization itself.
cholesky_p = standard_primitive("cholesky", _cholesky_abstract_eval, lower=False)
ad.primitive_jvps[cholesky_p] = _cholesky_jvp
_batch_front(cholesky_p)
lowering.lowerings[cholesky_p] = _cholesky_lowering
reference.register(cholesky_p, _cholesky_ref)


@export
def cholesky(x, *, symmetrize_input: bool = True):
  """The lower Cholesky factor L of A = L L^H ([..., n, n]); NaNs where A is
  not positive definite. ``symmetrize_input`` uses (A + A^H)/2, otherwise
  only the lower triangle is read."""
  x = asarray_lax(x)
  if symmetrize_input:
    x = symmetrize(_int_to_float(x))
  return cholesky_p.bind(x)


# ---------------------------------------------------------------------------
# triangular_solve


def _triangular_solve_abstract_eval(a, b, *, left_side, lower, transpose_a, conjugate_a,
                                    unit_diagonal):
  for i, x in enumerate((a, b)):
    check_dtype("triangular_solve", x, _inexact, "ab"[i])
  _check_same_dtypes("triangular_solve", a, b)
  _check_rank("triangular_solve", 0, a, 2)
  _check_rank("triangular_solve", 1, b, 2)
  _check_same_batch("triangular_solve", (a, 2), (b, 2))
  if a.shape[-1] != a.shape[-2]:
    raise ValueError("The first input to triangular_solve must be a square matrix. Got shape "
                     f"{a.shape[-2:]}.")
  common = -2 if left_side else -1
  if a.shape[-1] != b.shape[common]:
    raise ValueError(f"Incompatible shapes for arguments to triangular_solve: {a.shape[-2:]} "
                     f"and {b.shape[-2:]}.")
  return ShapedArray(b.shape, b.dtype, b.weak_type)


def _triangular_solve_jvp_a(g_a, ans, a, b, *, left_side, lower, transpose_a, conjugate_a,
                            unit_diagonal):
  m, n = _aval(b).shape[-2:]
  k = 1 if unit_diagonal else 0
  g_a = _tril(g_a, -k) if lower else _triu(g_a, k)
  g_a = lax.neg(g_a)
  g_a = _T(g_a) if transpose_a else g_a
  g_a = _conj(g_a) if conjugate_a else g_a
  kw = dict(left_side=left_side, lower=lower, transpose_a=transpose_a, conjugate_a=conjugate_a,
            unit_diagonal=unit_diagonal)

  def a_inverse(rhs):
    return triangular_solve_p.bind(a, rhs, **kw)

  if left_side:
    return a_inverse(_mm(g_a, ans)) if m > n else _mm(a_inverse(g_a), ans)
  return a_inverse(_mm(ans, g_a)) if m < n else _mm(ans, a_inverse(g_a))


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a,
                                unit_diagonal):
  assert not ad.is_undefined_primal(a) and ad.is_undefined_primal(b)
  if isinstance(ct, ad.Zero):
    return [None, ad.Zero(b.aval)]
  return [None, triangular_solve_p.bind(a, ct, left_side=left_side, lower=lower,
                                        transpose_a=not transpose_a, conjugate_a=conjugate_a,
                                        unit_diagonal=unit_diagonal)]


def _triangular_solve_batch(vals, dims, **params):
  (a, b), (da, db) = vals, dims
  if da is None:
    # one matrix for every batch member: fold the batch into b's free dim
    b = batching.moveaxis(b, db, -1 if params["left_side"] else -2)
    shape = _aval(b).shape
    if params["left_side"]:
      # [..., m, n, B] -> [..., m, n*B]
      flat = shapes.reshape(b, shape[:-2] + (shape[-2] * shape[-1],))
      out = triangular_solve_p.bind(a, flat, **params)
      return shapes.reshape(out, shape), len(shape) - 1
    flat = shapes.reshape(b, shape[:-3] + (shape[-3] * shape[-2], shape[-1]))
    out = triangular_solve_p.bind(a, flat, **params)
    return shapes.reshape(out, shape), len(shape) - 2
  size = _aval(a).shape[da]
  a = batching.bdim_at_front(a, da, size)
  b = batching.bdim_at_front(b, db, size)
  return triangular_solve_p.bind(a, b, **params), 0


def _triangular_solve_ref(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
  a, b = np.asarray(a), np.asarray(b)
  t = np.tril(a) if lower else np.triu(a)
  if unit_diagonal:
    t = t - t * np.eye(a.shape[-1]) + np.eye(a.shape[-1])
  if conjugate_a:
    t = t.conj()
  if transpose_a:
    t = np.swapaxes(t, -1, -2)
  if left_side:
    return np.linalg.solve(t, b).astype(b.dtype)
  return np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)),
                     -1, -2).astype(b.dtype)


triangular_solve_p = standard_primitive("triangular_solve", _triangular_solve_abstract_eval,
                                        lower=False)
ad.defjvp2(triangular_solve_p, _triangular_solve_jvp_a,
           lambda g_b, ans, a, b, **kw: triangular_solve_p.bind(a, g_b, **kw))
ad.primitive_transposes[triangular_solve_p] = _triangular_solve_transpose
batching.primitive_batchers[triangular_solve_p] = _triangular_solve_batch
def _value_aval(ctx, i):
  """``(dtype name, shape)`` of Program value ``i``."""
  n_in, n_c = len(ctx.in_avals), len(ctx.consts)
  if i < n_in:
    return lowering.aval_plain(ctx.in_avals[i])
  if i < n_in + n_c:
    buf = ctx.consts[i - n_in]
    return buf.dtype, list(buf.shape)
  nid = n_in + n_c
  for *_, outs in ctx.instrs:
    if i < nid + len(outs):
      return tuple(outs[i - nid])
    nid += len(outs)
  raise ValueError(f"no Program value {i}")


def _row_gather_source(ctx, b):
  """``(x, idx)`` if value ``b`` is ``_permute_rows(x, perm)``: a gather of
  whole rows of an ``x`` shaped like ``b``, by per-batch-item row indices
  ``idx`` [..., m, 1] of an integer dtype the kernel reads; else None."""
  g = ctx.producer(b)
  if g is None or g[0] != "gather":
    return None
  p, (x, idx) = g[1], g[2]
  _, shape = _value_aval(ctx, b)
  nb = len(shape) - 2
  batch = list(range(nb))
  if (list(p["offset_dims"]) != [nb + 1] or list(p["collapsed_slice_dims"]) != [nb]
      or list(p["start_index_map"]) != [nb] or list(p["operand_batching_dims"]) != batch
      or list(p["start_indices_batching_dims"]) != batch
      or list(p["slice_sizes"]) != [1] * (nb + 1) + [shape[-1]]
      or p["mode"] not in ("clip", "promise_in_bounds")):
    return None
  idx_dt, idx_shape = _value_aval(ctx, idx)
  if list(_value_aval(ctx, x)[1]) != list(shape) or idx_dt not in ("int32", "int64") \
      or list(idx_shape) != list(shape[:-1]) + [1]:
    return None
  return x, idx


_TRI_KEYS = ("left_side", "lower", "transpose_a", "conjugate_a", "unit_diagonal")


def _triangular_solve_lowering(ctx, a, b, *, avals_in, avals_out, **params):
  """The Rust ``triangular_solve`` op. A left solve of rows gathered in a
  permuted order (``lu_solve``'s ``b[perm]``) reads them in place: the
  kernel copies b into its output anyway, so it takes the gather's operand
  and indices and copies in their order (rjax's gather clamps indices, as
  does the kernel); the gather is left to dead-code elimination. On a batch
  of 8 x 8 systems the gather cost more than both solves."""
  _lowering_dtype_check(avals_in[-1].dtype)
  kw = {k: params[k] for k in _TRI_KEYS}
  src = _row_gather_source(ctx, b) if params["left_side"] else None
  if src is not None:
    return ctx.emit("triangular_solve", [a, *src], avals_out, kw)
  return ctx.emit("triangular_solve", [a, b], avals_out, kw)


_triangular_solve_lowering.op_name = "triangular_solve"
lowering.lowerings[triangular_solve_p] = _triangular_solve_lowering
reference.register(triangular_solve_p, _triangular_solve_ref)


@export
def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
  """Solve op(a) x = b (``left_side``) or x op(a) = b for triangular ``a``
  [..., m, m]; op is a transpose and/or conjugate. A ``b`` of one rank less
  than ``a`` is a vector."""
  a, b = asarray_lax(a), asarray_lax(b)
  conjugate_a = bool(conjugate_a) and _is_complex(_aval(a).dtype)
  singleton = _aval(b).ndim == _aval(a).ndim - 1
  if singleton:
    b = shapes.expand_dims(b, (_aval(b).ndim if left_side else _aval(b).ndim - 1,))
  out = triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                transpose_a=bool(transpose_a), conjugate_a=conjugate_a,
                                unit_diagonal=bool(unit_diagonal))
  if singleton:
    nd = _aval(out).ndim
    out = shapes.squeeze(out, (nd - 1 if left_side else nd - 2,))
  return out


# ---------------------------------------------------------------------------
# lu (partial pivoting) and lu_pivots_to_permutation


def _lu_abstract_eval(x):
  check_dtype("lu", x, _inexact)
  _check_rank("lu", 0, x, 2)
  *batch, m, n = x.shape
  batch = tuple(batch)
  return [ShapedArray(x.shape, x.dtype, x.weak_type),
          ShapedArray(batch + (min(m, n),), np.dtype(np.int32)),
          ShapedArray(batch + (m,), np.dtype(np.int32))]


def _lu_jvp(primals, tangents):
  """De Hoog, Anderssen & Lukas, as JAX: L' = L tril(L^-1 P A' U^-1, -1),
  U' = triu(L^-1 P A' U^-1) U."""
  (a,), (a_dot,) = primals, tangents
  lu_, pivots, perm = lu_p.bind(a)
  outs = [lu_, pivots, perm]
  if isinstance(a_dot, ad.Zero):
    return outs, [_zero_out(o) for o in outs]
  *_, m, n = _aval(a).shape
  k = min(m, n)
  dt = _aval(a).dtype
  batch = _aval(a).shape[:-2]
  l = _pad_trailing(_tril(_slice(lu_, [(0, m), (0, k)]), -1), [(0, 0), (0, m - k)])
  l = lax.add(l, shapes.broadcast_in_dim(_eye(dt, (m, m)), batch + (m, m),
                                         (len(batch), len(batch) + 1)))
  u_eye = _pad_trailing(_eye(dt, (n - k, n - k)), [(k, 0), (k, 0)])
  u = _pad_trailing(_triu(_slice(lu_, [(0, k), (0, n)])), [(0, n - k), (0, 0)])
  u = lax.add(u, shapes.broadcast_in_dim(u_eye, batch + (n, n), (len(batch), len(batch) + 1)))
  pa = _permute_rows(a_dot, perm)
  la = triangular_solve(l, pa, left_side=True, lower=True, unit_diagonal=True)
  lau = triangular_solve(u, la, left_side=False, lower=False)
  lu_dot = lax.add(_mm(l, _tril(lau, -1)), _mm(_triu(lau), u))
  return outs, [lu_dot, _zero_out(pivots), _zero_out(perm)]


def _lu_ref(x):
  def one(a):
    a = a.copy()
    m, n = a.shape
    piv = np.zeros(min(m, n), np.int32)
    for j in range(min(m, n)):
      p = j + int(np.argmax(np.abs(a[j:, j])))
      piv[j] = p
      a[[j, p]] = a[[p, j]]
      if a[j, j] != 0:
        a[j + 1:, j] /= a[j, j]
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    perm = np.arange(m, dtype=np.int32)
    for i, p in enumerate(piv):
      perm[[i, p]] = perm[[p, i]]
    return a, piv, perm
  x = np.asarray(x)
  if x.size == 0 or x.ndim == 2:
    pass
  return _per_matrix(one, x)


lu_p = standard_primitive("lu", _lu_abstract_eval, multiple_results=True, lower=False)
ad.primitive_jvps[lu_p] = _lu_jvp
_batch_front(lu_p)
_lowering(lu_p)
reference.register(lu_p, _lu_ref)


@export
def lu(x):
  """LU decomposition with partial pivoting, P A = L U: returns
  ``(lu, pivots, permutation)``, L's strict lower triangle (unit diagonal)
  and U in ``lu``, 0-based row swaps in ``pivots`` and the permutation."""
  return tuple(lu_p.bind(asarray_lax(x)))


def _lu_pivots_to_permutation_abstract_eval(pivots, *, permutation_size):
  if pivots.dtype != np.int32:
    raise TypeError(f"lu_pivots_to_permutation does not accept dtype {pivots.dtype.name}; "
                    "it accepts int32")
  _check_rank("lu_pivots_to_permutation", 0, pivots, 1)
  k = pivots.shape[-1]
  if not permutation_size >= k:
    raise ValueError(f"Output permutation size {permutation_size} has to exceed the trailing "
                     f"dimension of the pivots. Got pivots size {k}")
  return ShapedArray(pivots.shape[:-1] + (permutation_size,), np.dtype(np.int32))


def _lu_pivots_to_permutation_ref(pivots, *, permutation_size):
  def one(p):
    perm = np.arange(permutation_size, dtype=np.int32)
    m = permutation_size
    for i, j in enumerate(p):
      j = int(j) + m if j < 0 else int(j)
      y = perm[min(max(j, 0), m - 1)]
      x = perm[i]
      perm[i] = y
      if 0 <= j < m:
        perm[j] = x
    return perm
  pivots = np.asarray(pivots)
  out = [one(p) for p in pivots.reshape(-1, pivots.shape[-1])]
  return np.asarray(out, np.int32).reshape(pivots.shape[:-1] + (permutation_size,))


lu_pivots_to_permutation_p = standard_primitive(
    "lu_pivots_to_permutation", _lu_pivots_to_permutation_abstract_eval, lower=False)
ad.defnondiff(lu_pivots_to_permutation_p)
_batch_front(lu_pivots_to_permutation_p)
_lowering(lu_pivots_to_permutation_p, ("permutation_size",))
reference.register(lu_pivots_to_permutation_p, _lu_pivots_to_permutation_ref)


@export
def lu_pivots_to_permutation(pivots, permutation_size: int):
  """The permutation (int32 [..., permutation_size]) that LU's row swaps
  ``pivots`` [..., k] make of ``iota(permutation_size)``."""
  return lu_pivots_to_permutation_p.bind(asarray_lax(pivots),
                                         permutation_size=int(permutation_size))


def lu_solve(lu_, permutation, b, trans: int = 0):
  """Solve A x = b (trans 0), A^T x = b (1) or A^H x = b (2) from A's LU
  factors; ``lu_`` [..., m, m], ``permutation`` [..., m], ``b`` [..., m, k]
  with the same batch dims."""
  if trans == 0:
    x = _permute_rows(b, permutation)
    x = triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True)
    return triangular_solve(lu_, x, left_side=True, lower=False)
  if trans in (1, 2):
    conj = trans == 2
    x = triangular_solve(lu_, b, left_side=True, lower=False, transpose_a=True, conjugate_a=conj)
    x = triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True,
                         transpose_a=True, conjugate_a=conj)
    return _permute_rows(x, _inverse_permutation(permutation))
  raise ValueError(f"'trans' value must be 0, 1, or 2, got {trans}")


# ---------------------------------------------------------------------------
# qr


def _qr_abstract_eval(x, *, pivoting, full_matrices, use_magma):
  check_dtype("qr", x, _inexact)
  _check_rank("qr", 0, x, 2)
  *batch, m, n = x.shape
  batch = tuple(batch)
  k = m if full_matrices else min(m, n)
  out = [ShapedArray(batch + (m, k), x.dtype, x.weak_type),
         ShapedArray(batch + (k, n), x.dtype, x.weak_type)]
  if pivoting:
    out.append(ShapedArray(batch + (n,), np.dtype(np.int32)))
  return out


def _thin_qr_jvp(q, r, dx):
  """JVP of the QR of [..., m, n] matrices with m >= n (J. Townsend)."""
  dx_rinv = triangular_solve(r, dx)
  qt_dx_rinv = _mm(_H(q), dx_rinv)
  low = _tril(qt_dx_rinv, -1)
  do = lax.sub(low, _H(low))
  if _is_complex(_aval(do).dtype):
    n = _aval(r).shape[-1]
    eye = shapes.broadcast_in_dim(_eye(_aval(do).dtype, (n, n)), _aval(do).shape,
                                  (_aval(do).ndim - 2, _aval(do).ndim - 1))
    im = lax.sub(qt_dx_rinv, lax.convert_element_type(_real(qt_dx_rinv), _aval(do).dtype))
    do = lax.add(do, lax.mul(eye, im))
  dq = lax.add(_mm(q, lax.sub(do, qt_dx_rinv)), dx_rinv)
  dr = _mm(lax.sub(qt_dx_rinv, do), r)
  return dq, dr


def _qr_jvp(primals, tangents, *, pivoting, full_matrices, use_magma):
  """JAX's ``qr_jvp_rule``: with pivoting, the JVP of the QR of
  ``x[..., p]`` (the permutation's tangent is zero)."""
  (x,), (dx,) = primals, tangents
  outs = qr_p.bind(x, pivoting=pivoting, full_matrices=full_matrices, use_magma=use_magma)
  q, r = outs[0], outs[1]
  zero_p = [_zero_out(outs[2])] if pivoting else []
  if isinstance(dx, ad.Zero):
    return outs, [_zero_out(q), _zero_out(r)] + zero_p
  *_, m, n = _aval(x).shape
  if pivoting:
    # the columns of dx in the order of p (x's own columns in that order are
    # q r; the rule below reads x only as x[..., m:], which is then x[..., p][..., m:])
    dx = _T(_permute_rows(_T(dx), outs[2]))
    x = _T(_permute_rows(_T(x), outs[2]))
  if m < n:
    x2 = _slice(x, [(0, m), (m, n)])
    dx1, dx2 = _slice(dx, [(0, m), (0, m)]), _slice(dx, [(0, m), (m, n)])
    r1 = _slice(r, [(0, m), (0, m)])
    dq, dr1 = _thin_qr_jvp(q, r1, dx1)
    dr2 = lax.add(_mm(_H(dq), x2), _mm(_H(q), dx2))
    return outs, [dq, shapes.concatenate([dr1, dr2], _aval(dr1).ndim - 1)] + zero_p
  q_mn = _slice(q, [(0, m), (0, n)]) if full_matrices else q
  r_nn = _slice(r, [(0, n), (0, n)]) if full_matrices else r
  dq_mn, dr_nn = _thin_qr_jvp(q_mn, r_nn, dx)
  if not full_matrices or m == n:
    return outs, [dq_mn, dr_nn] + zero_p
  # the full-matrices completion (arXiv:2409.13374, eqs. 32-33)
  q_nn, q_pn = _slice(q_mn, [(0, n), (0, n)]), _slice(q_mn, [(n, m), (0, n)])
  q_mp = _slice(q, [(0, m), (n, m)])
  dq_nn, dq_pn = _slice(dq_mn, [(0, n), (0, n)]), _slice(dq_mn, [(n, m), (0, n)])
  batch = _aval(q_nn).shape[:-2]
  eye = shapes.broadcast_in_dim(_eye(_aval(q).dtype, (n, n)), batch + (n, n),
                                (len(batch), len(batch) + 1))
  lu_f, _, perm = lu(lax.sub(q_nn, eye))
  z_pn_h = lu_solve(lu_f, perm, _H(q_pn), trans=2)
  z_pn = _H(z_pn_h)
  dq_mp = lax.sub(_mm(dq_mn, z_pn_h),
                  _mm(lax.add(q_mn, _mm(q_mp, z_pn)), _H(lax.sub(dq_pn, _mm(z_pn, dq_nn)))))
  dq = shapes.concatenate([dq_mn, dq_mp], _aval(dq_mn).ndim - 1)
  zeros = shapes.full(batch + (m - n, n), 0, _aval(dr_nn).dtype)
  dr = shapes.concatenate([dr_nn, zeros], _aval(dr_nn).ndim - 2)
  return outs, [dq, dr] + zero_p


def _qr_ref(x, *, pivoting, full_matrices, use_magma):
  """NumPy's QR; with pivoting SciPy's (LAPACK's ``geqp3``)."""
  mode = "full" if full_matrices else "economic"
  import scipy.linalg  # test-time oracle only

  def one(a):
    if pivoting:
      if a.size == 0:
        k = a.shape[0] if full_matrices else min(a.shape)
        return (np.eye(a.shape[0], k, dtype=a.dtype), np.zeros((k, a.shape[1]), a.dtype),
                np.zeros(a.shape[1], np.int32))
      q, r, p = scipy.linalg.qr(a, mode=mode, pivoting=True)
      return q.astype(a.dtype), r.astype(a.dtype), p.astype(np.int32)
    q, r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return q.astype(a.dtype), r.astype(a.dtype)
  return _per_matrix(one, x)


qr_p = standard_primitive("qr", _qr_abstract_eval, multiple_results=True, lower=False)
ad.primitive_jvps[qr_p] = _qr_jvp
_batch_front(qr_p)
_lowering(qr_p, ("full_matrices", "pivoting"))
reference.register(qr_p, _qr_ref)


@export
def qr(x, *, pivoting: bool = False, full_matrices: bool = True, use_magma=None):
  """QR decomposition (Householder): ``(q, r)``, q [..., m, m] and r
  [..., m, n] with ``full_matrices``, else [..., m, k] and [..., k, n].
  With ``pivoting``, ``(q, r, p)``: the column-pivoted QR ``x[..., p] =
  q r`` (LAPACK's ``geqp3``: the column of largest remaining norm first,
  so ``|diag(r)|`` does not increase), ``p`` int32 [..., n]."""
  outs = qr_p.bind(asarray_lax(x), pivoting=bool(pivoting), full_matrices=bool(full_matrices),
                   use_magma=use_magma)
  return tuple(outs)


# ---------------------------------------------------------------------------
# eigh


def _eigh_abstract_eval(x, *, lower, sort_eigenvalues, subset_by_index, algorithm):
  check_dtype("eigh", x, _inexact)
  _check_rank("eigh", 0, x, 2)
  n = x.shape[-1]
  if x.shape[-2] != n:
    raise ValueError("Argument to symmetric eigendecomposition must have shape [..., n, n], "
                     f"got shape {x.shape[-2:]}")
  if subset_by_index is not None and tuple(subset_by_index) != (0, n):
    raise NotImplementedError("eigh: subset_by_index is not supported by rjax yet")
  real = np.dtype(np.float64) if x.dtype == np.complex128 else \
      np.dtype(np.float32) if x.dtype == np.complex64 else x.dtype
  return [ShapedArray(x.shape, x.dtype, x.weak_type),
          ShapedArray(x.shape[:-1], real, x.weak_type)]


def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues, subset_by_index, algorithm):
  """Non-degenerate perturbation theory, as JAX (Giles 2008)."""
  (a,), (a_dot,) = primals, tangents
  v, w_real = eigh_p.bind(symmetrize(a), lower=lower, sort_eigenvalues=sort_eigenvalues,
                          subset_by_index=subset_by_index, algorithm=algorithm)
  if isinstance(a_dot, ad.Zero):
    return [v, w_real], [_zero_out(v), _zero_out(w_real)]
  dt = _aval(a).dtype
  n = _aval(a).shape[-1]
  nd = _aval(a).ndim
  w = lax.convert_element_type(w_real, dt)
  shape = _aval(a).shape
  eye = shapes.broadcast_in_dim(_eye(dt, (n, n)), shape, (nd - 2, nd - 1))
  w_row = shapes.broadcast_in_dim(w, shape, (*range(nd - 2), nd - 1))
  w_col = shapes.broadcast_in_dim(w, shape, tuple(range(nd - 1)))
  fmat = lax.sub(lax.integer_pow(lax.add(eye, lax.sub(w_row, w_col)), -1), eye)
  vdag_adot_v = _mm(_mm(_H(v), a_dot), v)
  dv = _mm(v, lax.mul(fmat, vdag_adot_v))
  dw = _diag(_real(vdag_adot_v))
  return [v, w_real], [dv, dw]


def _eigh_ref(x, *, lower, sort_eigenvalues, subset_by_index, algorithm):
  def one(a):
    if not np.all(np.isfinite(a)):
      return np.full_like(a, np.nan), np.full(a.shape[-1], np.nan, a.real.dtype)
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return v.astype(a.dtype), w.astype(a.real.dtype)
  return _per_matrix(one, x)


eigh_p = standard_primitive("eigh", _eigh_abstract_eval, multiple_results=True, lower=False)
ad.primitive_jvps[eigh_p] = _eigh_jvp
_batch_front(eigh_p)
_lowering(eigh_p, ("lower", "sort_eigenvalues"))
reference.register(eigh_p, _eigh_ref)


@export
def eigh(x, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index=None, implementation=None):
  """Eigendecomposition of Hermitian (symmetric) matrices: ``(v, w)``, the
  eigenvalues ``w`` ascending and ``v[..., :, i]`` the eigenvector of
  ``w[..., i]``."""
  x = asarray_lax(x)
  if symmetrize_input:
    x = symmetrize(_int_to_float(x))
  v, w = eigh_p.bind(x, lower=bool(lower), sort_eigenvalues=bool(sort_eigenvalues),
                     subset_by_index=None if subset_by_index is None else tuple(subset_by_index),
                     algorithm=implementation)
  return v, w


# ---------------------------------------------------------------------------
# svd


def _svd_abstract_eval(x, *, full_matrices, compute_uv, subset_by_index, algorithm):
  check_dtype("svd", x, _inexact)
  _check_rank("svd", 0, x, 2)
  *batch, m, n = x.shape
  batch = tuple(batch)
  k = min(m, n)
  if subset_by_index is not None and tuple(subset_by_index) != (0, k):
    if full_matrices:
      raise ValueError("full_matrices and subset_by_index cannot both be set")
    raise NotImplementedError("svd: subset_by_index is not supported by rjax yet")
  real = np.dtype(np.float64) if x.dtype == np.complex128 else \
      np.dtype(np.float32) if x.dtype == np.complex64 else x.dtype
  s = ShapedArray(batch + (k,), real, x.weak_type)
  if not compute_uv:
    return [s]
  return [s, ShapedArray(batch + (m, m if full_matrices else k), x.dtype, x.weak_type),
          ShapedArray(batch + (n if full_matrices else k, n), x.dtype, x.weak_type)]


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv, subset_by_index, algorithm):
  (A,), (dA,) = primals, tangents
  outs = svd_p.bind(A, full_matrices=full_matrices, compute_uv=compute_uv,
                    subset_by_index=subset_by_index, algorithm=algorithm)
  if isinstance(dA, ad.Zero):
    return outs, [_zero_out(o) for o in outs]
  s, U, Vt = svd_p.bind(A, full_matrices=False, compute_uv=True, subset_by_index=subset_by_index,
                        algorithm=algorithm)
  *_, m, n = _aval(A).shape
  if compute_uv and full_matrices and m != n:
    raise NotImplementedError(
        "Singular value decomposition JVP not implemented for full matrices")
  dt = _aval(A).dtype
  Ut, V = _H(U), _H(Vt)
  nd = _aval(A).ndim
  k = _aval(s).shape[-1]
  kk = _aval(s).shape[:-1] + (k, k)
  s_dim = shapes.broadcast_in_dim(s, kk, (*range(nd - 2), nd - 1))   # s[..., None, :]
  dS = _mm(_mm(Ut, dA), V)
  ds = _diag(_real(dS))
  if not compute_uv:
    return outs, [ds]
  s_diffs = lax.mul(lax.add(s_dim, _T(s_dim)), lax.sub(s_dim, _T(s_dim)))
  eye = shapes.broadcast_in_dim(_eye(_aval(s).dtype, (k, k)), kk, (nd - 2, nd - 1))
  one = _scalar(s, 1)
  F = lax.sub(lax.div(one, lax.add(s_diffs, eye)), eye)
  s_dt = lax.convert_element_type(s_dim, dt)
  dSS = lax.mul(s_dt, dS)
  SdS = lax.mul(_T(s_dt), dS)
  s_zeros = lax.convert_element_type(lax.eq(s, _scalar(s, 0)), _aval(s).dtype)
  s_inv = lax.sub(lax.div(one, lax.add(s, s_zeros)), s_zeros)
  s_inv_mat = lax.convert_element_type(_construct_diag(s_inv), dt)
  dUdV_diag = lax.mul(lax.mul(_scalar(dS, 0.5), lax.sub(dS, _H(dS))), s_inv_mat)
  F_dt = lax.convert_element_type(F, dt)
  dU = _mm(U, lax.add(lax.mul(F_dt, lax.add(dSS, _H(dSS))), dUdV_diag))
  dV = _mm(V, lax.mul(F_dt, lax.add(SdS, _H(SdS))))
  if m > n:
    dAV = _mm(dA, V)
    s_m = shapes.broadcast_in_dim(lax.convert_element_type(s, dt), _aval(dAV).shape,
                                  (*range(nd - 2), nd - 1))
    dU = lax.add(dU, lax.div(lax.sub(dAV, _mm(U, _mm(Ut, dAV))), s_m))
  if n > m:
    dAHU = _mm(_H(dA), U)
    s_n = shapes.broadcast_in_dim(lax.convert_element_type(s, dt), _aval(dAHU).shape,
                                  (*range(nd - 2), nd - 1))
    dV = lax.add(dV, lax.div(lax.sub(dAHU, _mm(V, _mm(Vt, dAHU))), s_n))
  return outs, [ds, dU, _H(dV)]


def _svd_ref(x, *, full_matrices, compute_uv, subset_by_index, algorithm):
  def one(a):
    real = a.real.dtype
    if not np.all(np.isfinite(a)):
      k = min(a.shape)
      nan = np.full(k, np.nan, real)
      if not compute_uv:
        return (nan,)
      m, n = a.shape
      ku, kv = (m, n) if full_matrices else (k, k)
      return nan, np.full((m, ku), np.nan, a.dtype), np.full((kv, n), np.nan, a.dtype)
    if not compute_uv:
      return (np.linalg.svd(a, compute_uv=False).astype(real),)
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return s.astype(real), u.astype(a.dtype), vh.astype(a.dtype)
  return _per_matrix(one, x)


svd_p = standard_primitive("svd", _svd_abstract_eval, multiple_results=True, lower=False)
ad.primitive_jvps[svd_p] = _svd_jvp
_batch_front(svd_p)
_lowering(svd_p, ("full_matrices", "compute_uv"))
reference.register(svd_p, _svd_ref)


@export
def svd(x, *, full_matrices: bool = True, compute_uv: bool = True, subset_by_index=None,
        algorithm=None):
  """Singular value decomposition: ``(u, s, vh)`` (s descending), or ``s``
  alone without ``compute_uv``."""
  outs = svd_p.bind(asarray_lax(x), full_matrices=bool(full_matrices),
                    compute_uv=bool(compute_uv),
                    subset_by_index=None if subset_by_index is None else tuple(subset_by_index),
                    algorithm=algorithm)
  if compute_uv:
    s, u, vh = outs
    return u, s, vh
  return outs[0]


# ---------------------------------------------------------------------------
# tridiagonal_solve


def _tridiagonal_solve_abstract_eval(dl, d, du, b, *, perturb_singular):
  for i, x in enumerate((dl, d, du, b)):
    check_dtype("tridiagonal_solve", x, _inexact)
  _check_same_dtypes("tridiagonal_solve", dl, d, du, b)
  for i, (x, r) in enumerate(((dl, 1), (d, 1), (du, 1), (b, 2))):
    _check_rank("tridiagonal_solve", i, x, r)
  if dl.shape != d.shape or dl.shape != du.shape:
    raise TypeError("tridiagonal_solve requires that all diagonal arguments have the same "
                    "shape.")
  if dl.shape != b.shape[:-1]:
    raise TypeError("tridiagonal_solve requires that the leading ndim-1 dimensions of b equal "
                    "the dimensions of the diagonal arguments.")
  return ShapedArray(b.shape, b.dtype, b.weak_type)


def _tridiagonal_product(dl, d, du, b):
  """A @ b for the tridiagonal A given by its diagonals (b [..., m, k])."""
  nd = _aval(b).ndim
  m = _aval(b).shape[-2]
  shape = _aval(b).shape
  col = lambda v: shapes.broadcast_in_dim(v, shape, tuple(range(nd - 1)))  # noqa: E731
  y = lax.mul(col(d), b)
  if m > 1:
    lo = lax.mul(_slice(col(dl), [(1, m), (0, shape[-1])]), _slice(b, [(0, m - 1), (0, shape[-1])]))
    up = lax.mul(_slice(col(du), [(0, m - 1), (0, shape[-1])]), _slice(b, [(1, m), (0, shape[-1])]))
    y = lax.add(y, _pad_trailing(lo, [(1, 0), (0, 0)]))
    y = lax.add(y, _pad_trailing(up, [(0, 1), (0, 0)]))
  return y


def _tridiagonal_solve_jvp(primals, tangents, *, perturb_singular):
  *diags, b = primals
  *diags_dot, b_dot = tangents
  ans = tridiagonal_solve_p.bind(*primals, perturb_singular=perturb_singular)
  if all(isinstance(t, ad.Zero) for t in tangents):
    return ans, _zero_out(ans)
  if all(isinstance(t, ad.Zero) for t in diags_dot):
    rhs = ad.instantiate_zeros(b_dot)
  else:
    matvec_dot = _tridiagonal_product(*map(ad.instantiate_zeros, diags_dot), ans)
    rhs = lax.neg(matvec_dot) if isinstance(b_dot, ad.Zero) else lax.sub(b_dot, matvec_dot)
  return ans, tridiagonal_solve_p.bind(*diags, rhs, perturb_singular=perturb_singular)


def _tridiagonal_solve_transpose(ct, dl, d, du, b, *, perturb_singular):
  assert not any(ad.is_undefined_primal(x) for x in (dl, d, du)) and ad.is_undefined_primal(b)
  if isinstance(ct, ad.Zero):
    return [None, None, None, ad.Zero(b.aval)]
  m = _aval(du).shape[-1]
  nd = _aval(du).ndim
  zero = shapes.full(_aval(du).shape[:-1] + (1,), 0, _aval(du).dtype)
  dl_t = shapes.concatenate([zero, _slice(du, [(0, m - 1)])], nd - 1)
  du_t = shapes.concatenate([_slice(dl, [(1, m)]), zero], nd - 1)
  return [None, None, None,
          tridiagonal_solve_p.bind(dl_t, d, du_t, ct, perturb_singular=perturb_singular)]


def _tridiagonal_solve_batch(vals, dims, *, perturb_singular):
  dl, d, du, b = vals
  bdl, bd, bdu, bb = dims
  if bdl is None and bd is None and bdu is None:
    b = batching.moveaxis(b, bb, -2)
    shape = _aval(b).shape
    flat = shapes.reshape(b, shape[:-3] + (shape[-3], shape[-2] * shape[-1]))
    out = tridiagonal_solve_p.bind(dl, d, du, flat, perturb_singular=perturb_singular)
    return shapes.reshape(out, shape), len(shape) - 2
  size = next(_aval(v).shape[i] for v, i in zip(vals, dims) if i is not None)
  vals = [batching.bdim_at_front(v, i, size) for v, i in zip(vals, dims)]
  return tridiagonal_solve_p.bind(*vals, perturb_singular=perturb_singular), 0


def _perturbed_pivot(p, row, perturb):
  """xLAGTS's nudge of a small pivot ``p`` for its right-hand-side ``row``."""
  real = np.finfo(np.asarray(p).dtype)
  safemin = real.tiny
  bignum = real.dtype.type(1) / safemin
  one = real.dtype.type(1)
  if abs(p) >= one:
    return p, row
  perturb = np.copysign(max(abs(perturb), safemin), np.real(p)).astype(real.dtype)
  max_row = np.max(np.abs(row)) if row.size else real.dtype.type(0)
  while abs(p) < one:
    if abs(p) < safemin:
      if abs(p) == 0 or max_row * safemin > abs(p):
        p, perturb = p + perturb, perturb * 2
      else:
        return p * bignum, row * bignum
    elif max_row > abs(p) * bignum:
      p, perturb = p + perturb, perturb * 2
    else:
      break
  return p, row


def _tridiagonal_solve_perturbed_ref(dl, d, du, b):
  """JAX's CPU kernel for ``perturb_singular=True`` (xLAGTF + xLAGTS), one
  system: pivoted LU with the forward solve fused, then back substitution
  with small pivots perturbed by multiples of eps * max|U|."""
  n = d.shape[0]
  x = b.copy()
  eps = np.finfo(d.dtype).eps
  if n == 0:
    return x
  if n == 1:
    p, row = _perturbed_pivot(d[0], x[0], eps * abs(d[0]))
    return (row / p)[None]
  u = np.zeros((n, 3), d.dtype)
  u[0, 0], u[0, 1] = d[0], du[0]
  max_u = max(abs(u[0, 0]), abs(u[0, 1]))
  scale1 = abs(u[0, 0]) + abs(u[0, 1])
  for k in range(n - 1):
    u[k + 1, 0] = d[k + 1]
    scale2 = abs(dl[k + 1]) + abs(u[k + 1, 0]) + (abs(du[k + 1]) if k < n - 2 else 0)
    if dl[k + 1] == 0:
      scale1, u[k + 1, 1], u[k, 2] = scale2, du[k + 1], 0
    else:
      piv1 = 0 if u[k, 0] == 0 else abs(u[k, 0]) / scale1
      if abs(dl[k + 1]) / scale2 <= piv1:
        scale1 = scale2
        f = dl[k + 1] / u[k, 0]
        u[k + 1, 0] -= f * u[k, 1]
        u[k + 1, 1], u[k, 2] = du[k + 1], 0
        x[k + 1] = x[k + 1] - f * x[k]
      else:
        f = u[k, 0] / dl[k + 1]
        ut = u[k, 1]
        u[k, 0], u[k + 1, 0], u[k, 1] = dl[k + 1], ut - f * d[k + 1], d[k + 1]
        if k < n - 2:
          u[k, 2], u[k + 1, 1] = du[k + 1], -f * du[k + 1]
        x[k], x[k + 1] = x[k + 1].copy(), x[k] - f * x[k + 1]
        scale1 = abs(u[k + 1, 0]) + abs(u[k + 1, 1])
    if k < n - 2:
      max_u = max(max_u, *np.abs(u[k]))
  max_u = max(max_u, abs(u[n - 1, 0]))
  for k in range(n - 1, -1, -1):
    row = x[k] - (u[k, 1] * x[k + 1] if k + 1 < n else 0) - (u[k, 2] * x[k + 2] if k + 2 < n else 0)
    p, row = _perturbed_pivot(u[k, 0], row, eps * max_u)
    x[k] = row * (1 / p)
  return x


def _tridiagonal_solve_ref(dl, d, du, b, *, perturb_singular):
  dl, d, du, b = map(np.asarray, (dl, d, du, b))

  def one(i):
    if perturb_singular:
      return _tridiagonal_solve_perturbed_ref(dl[i], d[i], du[i], b[i])
    m = d.shape[-1]
    a = np.diag(d[i]) + np.diag(dl[i][1:], -1) + np.diag(du[i][:-1], 1) if m else \
        np.zeros((0, 0), b.dtype)
    try:
      return np.linalg.solve(a, b[i]).astype(b.dtype)
    except np.linalg.LinAlgError:
      return np.full_like(b[i], np.nan)
  batch = d.shape[:-1]
  dl, d, du = (v.reshape((-1, v.shape[-1])) for v in (dl, d, du))
  b2 = b.reshape((-1,) + b.shape[-2:])
  b = b2
  return np.stack([one(i) for i in range(len(b2))]).reshape(batch + b.shape[-2:]) if len(b2) \
      else b.reshape(batch + b.shape[-2:])


tridiagonal_solve_p = standard_primitive("tridiagonal_solve", _tridiagonal_solve_abstract_eval,
                                         lower=False)
ad.primitive_jvps[tridiagonal_solve_p] = _tridiagonal_solve_jvp
ad.primitive_transposes[tridiagonal_solve_p] = _tridiagonal_solve_transpose
batching.primitive_batchers[tridiagonal_solve_p] = _tridiagonal_solve_batch
_lowering(tridiagonal_solve_p, ("perturb_singular",))
reference.register(tridiagonal_solve_p, _tridiagonal_solve_ref)


@export
def tridiagonal_solve(dl, d, du, b, *, perturb_singular: bool = False):
  """Solve A x = b for the tridiagonal A with sub-, main and super-diagonals
  ``dl``, ``d``, ``du`` [..., m] (``dl[0]`` and ``du[-1]`` unused) and
  b [..., m, k]; NaNs for a singular A, or with ``perturb_singular`` finite
  (large) solutions, from an LU whose tiny pivots are perturbed by about
  eps * max|U| (JAX's CPU kernel, LAPACK's xLAGTF/xLAGTS: what inverse
  iteration needs for T - lambda I with lambda an eigenvalue)."""
  return tridiagonal_solve_p.bind(asarray_lax(dl), asarray_lax(d), asarray_lax(du),
                                  asarray_lax(b), perturb_singular=bool(perturb_singular))


# ---------------------------------------------------------------------------
# sturm_count (rjax's own: the inner loop of eigh_tridiagonal's bisection)


def _sturm_count_abstract_eval(alpha, beta_sq, pivmin, alpha0_perturbation, x):
  for v in (alpha, beta_sq, pivmin, alpha0_perturbation, x):
    check_dtype("sturm_count", v, "float")
  _check_same_dtypes("sturm_count", alpha, beta_sq, pivmin, alpha0_perturbation, x)
  *batch, n = alpha.shape
  if n < 1 or beta_sq.shape != (*batch, n - 1):
    raise TypeError(f"sturm_count: alpha {alpha.shape} and beta_sq {beta_sq.shape} must be "
                    "[..., n] and [..., n - 1] with n >= 1")
  if not (pivmin.shape == alpha0_perturbation.shape == x.shape) or \
     x.shape[:-1] != tuple(batch):
    raise TypeError("sturm_count: pivmin, alpha0_perturbation and x must have one shape "
                    f"[..., k] with alpha's batch dims, got {pivmin.shape}, "
                    f"{alpha0_perturbation.shape}, {x.shape}")
  return ShapedArray(x.shape, np.dtype(np.int32))


def _sturm_count_ref(alpha, beta_sq, pivmin, alpha0_perturbation, x):
  alpha, beta_sq, pivmin, a0, x = map(np.asarray, (alpha, beta_sq, pivmin,
                                                   alpha0_perturbation, x))
  q = alpha[..., :1] - x
  count = (q < 0).astype(np.int32)
  q = np.where(alpha[..., :1] == x, a0, q)
  with np.errstate(divide="ignore", invalid="ignore"):   # 0 / 0 as the kernel (and JAX)
    for i in range(1, alpha.shape[-1]):
      q = alpha[..., i:i + 1] - beta_sq[..., i - 1:i] / q - x
      neg = q <= pivmin
      count = count + neg
      q = np.where(neg, np.minimum(q, -pivmin), q)
  return count.astype(np.int32)


sturm_count_p = standard_primitive("sturm_count", _sturm_count_abstract_eval, lower=False)
ad.defnondiff(sturm_count_p)
_batch_front(sturm_count_p)
_lowering(sturm_count_p)
reference.register(sturm_count_p, _sturm_count_ref)


def sturm_count(alpha, beta_sq, pivmin, alpha0_perturbation, x):
  """rjax's own, not exported (JAX has no such function). For each ``x`` [..., k], how many eigenvalues of the symmetric
  tridiagonal T with diagonal ``alpha`` [..., n] and squared off-diagonal
  ``beta_sq`` [..., n - 1] lie below it: JAX's Sturm recurrence in
  ``eigh_tridiagonal`` (pivots clamped to -``pivmin`` [..., k], the first
  pivot ``alpha0_perturbation`` where ``x == alpha[0]``), as one kernel."""
  return sturm_count_p.bind(*map(asarray_lax, (alpha, beta_sq, pivmin, alpha0_perturbation, x)))


# ---------------------------------------------------------------------------
# Composites


@export
def cholesky_update(r_matrix, w_vector):
  """The upper Cholesky factor of R^T R + w w^T from the upper factor R
  [n, n] (Givens rotations, O(n^2), as JAX)."""
  r, w = asarray_lax(r_matrix), asarray_lax(w_vector)
  ra, wa = _aval(r), _aval(w)
  if ra.ndim != 2 or wa.ndim != 1 or ra.shape[0] != ra.shape[1] or wa.shape[0] != ra.shape[1]:
    raise ValueError("Rank-1 update to Cholesky decomposition takes a square matrix and a "
                     f"vector of the same size as input. Got shapes {ra.shape} and {wa.shape} "
                     "instead")
  n = ra.shape[0]
  for k in range(n):
    x = shapes.reshape(_slice(r, [(k, k + 1), (k, k + 1)]), ())
    y = shapes.reshape(_slice(w, [(k, k + 1)]), ())
    # JAX's drotg: c = x / h, s = -y / h, scaled by max(|x|, |y|); (1, 0) for y == 0
    ax, ay = lax.abs(x), lax.abs(y)
    den = lax.select(lax.gt(ax, ay), ax, ay)
    xs, ys = lax.div(x, den), lax.div(y, den)
    rh = lax.div(_scalar(x, 1), lax.sqrt(lax.add(lax.mul(xs, xs), lax.mul(ys, ys))))
    zero_y = lax.eq(y, _scalar(y, 0))
    c = lax.select(zero_y, _scalar(x, 1), lax.mul(xs, rh))
    s = lax.select(zero_y, _scalar(x, 0), lax.neg(lax.mul(ys, rh)))
    row = shapes.reshape(_slice(r, [(k, k + 1), (0, n)]), (n,))
    new_row = lax.sub(lax.mul(c, row), lax.mul(s, w))
    w = lax.add(lax.mul(c, w), lax.mul(s, row))
    r = slicing.dynamic_update_slice(r, shapes.reshape(new_row, (1, n)),
                                     (np.int32(k), np.int32(0)))
  return r


@export
def symmetric_product(a_matrix, c_matrix, *, alpha: float = 1., beta: float = 0.,
                      symmetrize_output: bool = False):
  """``alpha * a @ a^T + beta * c`` for a [..., m, n] and symmetric c
  [..., m, m] (the whole result is computed, so it is symmetric already)."""
  a, c = asarray_lax(a_matrix), asarray_lax(c_matrix)
  aa, ca = _aval(a), _aval(c)
  if aa.ndim < 2 or ca.ndim < 2 or ca.shape[-1] != ca.shape[-2] or \
     aa.shape[-2] != ca.shape[-1] or aa.shape[:-2] != ca.shape[:-2]:
    raise ValueError("symmetric_product requires a [..., m, n] and c [..., m, m] with the same "
                     f"batch dims; got shapes {aa.shape} and {ca.shape}")
  out = lax.add(lax.mul(_scalar(a, alpha), _mm(a, _T(a))), lax.mul(_scalar(c, beta), c))
  if symmetrize_output:
    out = lax.add(_tril(out), _T(_tril(out, -1)))
  return out
