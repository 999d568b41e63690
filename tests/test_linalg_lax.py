"""rjax.lax.linalg's primitives: values against NumPy/SciPy and JAX over
hypothesis-drawn shapes (batches, empty matrices) and float32/float64,
degenerate inputs as JAX gives them, exception types as JAX's, jit = eager,
vmap = a Python loop, and float64 numerical gradients."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.lax import linalg as rl
from rjax.test_util import check_grads
from util import enable_x64
from util_linalg_decomp import (FLOATS, close, columns_match_up_to_sign, rand, shapes, spd, sym,
                                well_conditioned, x64_for)
from util_vs_jax import same_exception, x64_in_both

jl = jax.lax.linalg
seeds = st.integers(0, 2**31 - 1)


# ---------------------------------------------------------------------------
# values over shapes and dtypes


@given(shapes(), st.sampled_from(FLOATS), seeds)
def test_cholesky_values(shape, dt, seed):
  batch, n, _ = shape
  a = spd(seed, batch, n, dt)
  with x64_for(dt):
    L = np.asarray(rl.cholesky(a))
  assert L.dtype == dt and L.shape == a.shape
  close(L, np.linalg.cholesky(a.astype(np.float64)) if a.size else a, dt)
  close(np.triu(L, 1), np.zeros_like(L), dt)


def test_cholesky_not_positive_definite_is_nan_like_jax():
  a = np.array([[[1., 2.], [2., 1.]], [[4., 2.], [2., 5.]]], np.float32)
  got, want = np.asarray(rl.cholesky(a)), np.asarray(jl.cholesky(a))
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  assert np.isnan(got[0]).sum() == 3   # NaN factor, zero upper triangle
  np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
  nan = np.array([[np.nan, 0.], [0., 1.]], np.float32)
  assert np.isnan(np.asarray(rl.cholesky(nan))).all() == np.isnan(np.asarray(jl.cholesky(nan))).all()


def test_cholesky_symmetrize_input_false_reads_the_lower_triangle():
  a = np.array([[4., 100.], [2., 5.]], np.float32)
  np.testing.assert_allclose(rl.cholesky(a, symmetrize_input=False),
                             jl.cholesky(a, symmetrize_input=False), rtol=1e-6)


@given(shapes(square=False, max_side=6), st.sampled_from(FLOATS), seeds)
def test_lu_values(shape, dt, seed):
  batch, m, n = shape
  a = rand(seed, batch + (m, n), dt)
  with x64_for(dt):
    lu_, piv, perm = (np.asarray(t) for t in rl.lu(a))
  assert piv.dtype == np.int32 and perm.dtype == np.int32
  assert lu_.shape == a.shape and piv.shape == batch + (min(m, n),) and perm.shape == batch + (m,)
  k = min(m, n)
  for idx in np.ndindex(*batch):
    l = np.tril(lu_[idx], -1)[:, :k] + np.eye(m, k)
    u = np.triu(lu_[idx])[:k, :]
    close(l @ u, a[idx][perm[idx]], dt, scale=10)
    p_sc, l_sc, u_sc = scipy.linalg.lu(a[idx].astype(np.float64)) if a[idx].size else (0, 0, 0)
    if a[idx].size:   # the same pivots as LAPACK (well separated for random input)
      np.testing.assert_array_equal(perm[idx], np.argmax(p_sc.T, axis=1))
  # pivots and permutation agree
  with x64_for(dt):
    np.testing.assert_array_equal(rl.lu_pivots_to_permutation(piv, m), perm)


def test_lu_singular_like_jax():
  for a in [np.zeros((3, 3), np.float32), np.array([[1., 2.], [2., 4.]], np.float32),
            np.array([[0., 1.], [0., 2.]], np.float32)]:
    for g, w in zip(rl.lu(a), jl.lu(a)):
      np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)


@given(st.lists(st.integers(-4, 6), min_size=0, max_size=4), st.integers(4, 6))
def test_lu_pivots_to_permutation_matches_jax(piv, size):
  piv = np.array(piv, np.int32)
  np.testing.assert_array_equal(rl.lu_pivots_to_permutation(piv, size),
                                jl.lu_pivots_to_permutation(piv, size))


@given(shapes(square=False, max_side=6), st.sampled_from(FLOATS), st.booleans(), seeds)
def test_qr_values(shape, dt, full, seed):
  batch, m, n = shape
  a = rand(seed, batch + (m, n), dt)
  with x64_for(dt):
    q, r = (np.asarray(t) for t in rl.qr(a, full_matrices=full))
  k = m if full else min(m, n)
  assert q.shape == batch + (m, k) and r.shape == batch + (k, n)
  close(q @ r, a, dt, scale=10)
  close(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(k), batch + (k, k)), dt, scale=10)
  close(np.tril(r, -1), np.zeros_like(r), dt)
  if a.size:   # |R| as LAPACK's (signs are a convention)
    r_np = np.linalg.qr(a.astype(np.float64), mode="complete" if full else "reduced")[1]
    close(np.abs(r), np.abs(r_np), dt, scale=10)


@settings(deadline=None)
@given(st.integers(1, 3), st.integers(1, 70), st.integers(1, 70),
       st.sampled_from(FLOATS + [np.dtype(np.complex64), np.dtype(np.complex128)]), st.booleans(),
       st.sampled_from(["plain", "zero_column", "repeated_column", "tiny"]), seeds)
def test_qr_is_jaxs_signs_included(batch, m, n, dt, full, kind, seed):
  """q and r as JAX's (LAPACK's Householder conventions: r's diagonal real,
  of the sign opposite to the pivot column's head), not only up to signs:
  the unblocked path below 64 columns and faer's above, real and complex,
  with zero, repeated and tiny columns (a zero column's reflector is the
  identity)."""
  r = np.random.default_rng(seed)
  a = r.standard_normal((batch, m, n))
  if dt.kind == "c":
    a = a + 1j * r.standard_normal((batch, m, n))
  if kind == "zero_column":
    a[..., r.integers(n)] = 0
  elif kind == "repeated_column" and n > 1:
    a[..., 1] = a[..., 0]
  elif kind == "tiny":
    a = a * 1e-30 if dt in (np.float32, np.complex64) else a * 1e-300
  a = a.astype(dt)
  with x64_in_both():
    q, rr = (np.asarray(t) for t in rl.qr(a, full_matrices=full))
    jq, jr = (np.asarray(t) for t in jl.qr(a, full_matrices=full))
  assert q.dtype == jq.dtype and q.shape == jq.shape and rr.shape == jr.shape
  scale = np.abs(a).max() or 1.0
  tol = 50 * max(m, n) * np.finfo(dt).eps
  # after a rank deficiency (a diagonal of r at rounding level) the next
  # reflectors are made from rounding errors, in LAPACK too: compare the
  # rows of r and columns of q of the diagonal entries above it
  d = np.abs(np.diagonal(jr, axis1=-2, axis2=-1)) > 1e-3 * scale
  d = np.cumprod(d, axis=-1).astype(bool)
  k = d.shape[-1]
  rows = np.concatenate([d, np.zeros(d.shape[:-1] + (rr.shape[-2] - k,), bool)], -1)
  np.testing.assert_allclose(np.where(rows[..., :, None], rr, 0) / scale,
                             np.where(rows[..., :, None], jr, 0) / scale, rtol=0, atol=tol)
  cols = np.concatenate([d, np.zeros(d.shape[:-1] + (q.shape[-1] - k,), bool)], -1)
  np.testing.assert_allclose(np.where(cols[..., None, :], q, 0), np.where(cols[..., None, :], jq, 0),
                             rtol=0, atol=tol * 10)


def test_qr_of_empty_matrices_like_jax():
  for shape in [(0, 3), (3, 0), (2, 0, 0)]:
    for full in (True, False):
      a = np.ones(shape, np.float32)
      for g, w in zip(rl.qr(a, full_matrices=full), jl.qr(a, full_matrices=full)):
        assert g.shape == w.shape
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@given(shapes(max_side=6), st.sampled_from(FLOATS), st.booleans(), seeds)
def test_eigh_values(shape, dt, lower, seed):
  batch, n, _ = shape
  a = sym(seed, batch, n, dt)
  with x64_for(dt):
    v, w = (np.asarray(t) for t in rl.eigh(a, lower=lower))
  assert v.shape == a.shape and w.shape == batch + (n,)
  close(w, np.linalg.eigvalsh(a.astype(np.float64)) if a.size else w, dt, scale=10)
  assert np.all(np.diff(w, axis=-1) >= -TOL_F(dt))   # ascending, as JAX
  close(v @ (w[..., :, None] * np.swapaxes(v, -1, -2)), a, dt, scale=10)
  close(np.swapaxes(v, -1, -2) @ v, np.broadcast_to(np.eye(n), a.shape), dt, scale=10)
  if a.size:
    columns_match_up_to_sign(v, np.linalg.eigh(a.astype(np.float64))[1], dt, scale=100)


def TOL_F(dt):
  return 1e-5 if dt == np.float32 else 1e-12


def test_eigh_symmetrize_input_false_reads_one_triangle():
  a = np.array([[2., 7.], [1., 3.]], np.float32)
  for lower in (True, False):
    w = np.asarray(rl.eigh(a, lower=lower, symmetrize_input=False)[1])
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a, UPLO="L" if lower else "U"), rtol=1e-5)


@given(shapes(square=False, max_side=6), st.sampled_from(FLOATS), st.booleans(), seeds)
def test_svd_values(shape, dt, full, seed):
  batch, m, n = shape
  a = rand(seed, batch + (m, n), dt)
  k = min(m, n)
  with x64_for(dt):
    u, s, vh = (np.asarray(t) for t in rl.svd(a, full_matrices=full))
    s_only = np.asarray(rl.svd(a, compute_uv=False))
  ku, kv = (m, n) if full else (k, k)
  assert u.shape == batch + (m, ku) and vh.shape == batch + (kv, n) and s.shape == batch + (k,)
  close(s_only, s, dt, scale=10)
  if a.size:
    close(s, np.linalg.svd(a.astype(np.float64), compute_uv=False), dt, scale=10)
  close((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, dt, scale=10)
  close(np.swapaxes(u, -1, -2) @ u, np.broadcast_to(np.eye(ku), batch + (ku, ku)), dt, scale=10)
  close(vh @ np.swapaxes(vh, -1, -2), np.broadcast_to(np.eye(kv), batch + (kv, kv)), dt,
        scale=10)


def test_svd_of_empty_matrices_like_jax():
  for shape in [(0, 3), (3, 0), (2, 0, 0)]:
    for full in (True, False):
      a = np.ones(shape, np.float32)
      for g, w in zip(rl.svd(a, full_matrices=full), jl.svd(a, full_matrices=full)):
        assert g.shape == w.shape
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@given(shapes(max_side=5), st.integers(0, 3), st.sampled_from(FLOATS), seeds,
       st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_triangular_solve_values(shape, k, dt, seed, left, lower, trans, unit):
  batch, m, _ = shape
  a = well_conditioned(seed, batch, m, dt)
  b = rand(seed + 1, batch + ((m, k) if left else (k, m)), dt)
  with x64_for(dt):
    x = np.asarray(rl.triangular_solve(a, b, left_side=left, lower=lower, transpose_a=trans,
                                       unit_diagonal=unit))
  t = np.tril(a) if lower else np.triu(a)
  if unit:
    t = t - t * np.eye(m) + np.eye(m)
  if trans:
    t = np.swapaxes(t, -1, -2)
  close(t @ x if left else x @ t, b, dt, scale=10)
  want = jl.triangular_solve(a, b, left_side=left, lower=lower, transpose_a=trans,
                             unit_diagonal=unit)   # JAX computes in float32 (x64 off)
  close(x, want, np.float32, scale=10)


def test_triangular_solve_vector_rhs():
  a = np.array([[2., 0.], [1., 4.]], np.float32)
  b = np.array([2., 9.], np.float32)
  for left in (True, False):
    np.testing.assert_allclose(rl.triangular_solve(a, b, left_side=left, lower=True),
                               jl.triangular_solve(a, b, left_side=left, lower=True), rtol=1e-6)


@given(st.lists(st.integers(0, 2), max_size=2), st.integers(0, 6), st.integers(1, 3),
       st.sampled_from(FLOATS), seeds)
def test_tridiagonal_solve_values(batch, m, k, dt, seed):
  batch = tuple(batch)
  r = np.random.default_rng(seed)
  dl, d, du = (r.standard_normal(batch + (m,)).astype(dt) for _ in range(3))
  b = r.standard_normal(batch + (m, k)).astype(dt)
  with x64_for(dt):
    x = np.asarray(rl.tridiagonal_solve(dl, d, du, b))
  assert x.shape == b.shape
  for idx in np.ndindex(*batch):
    a = np.diag(d[idx]) + np.diag(dl[idx][1:], -1) + np.diag(du[idx][:-1], 1)
    if m and abs(np.linalg.det(a.astype(np.float64))) > 1e-3:
      close(a @ x[idx], b[idx], dt, scale=1e3)


def test_tridiagonal_solve_singular_is_nan_like_jax():
  z = np.zeros(3, np.float32)
  b = np.ones((3, 1), np.float32)
  got, want = rl.tridiagonal_solve(z, z, z, b), jl.tridiagonal_solve(z, z, z, b)
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  # pivoting: a zero on the diagonal with a nonzero below is not singular
  dl, d, du = (np.array(v, np.float32) for v in ([0, 1, 1], [0, 0, 2], [1, 1, 0]))
  np.testing.assert_allclose(rl.tridiagonal_solve(dl, d, du, b),
                             jl.tridiagonal_solve(dl, d, du, b), rtol=1e-6)


def test_cholesky_update_matches_jax():
  a = spd(3, (), 4, np.float32)
  r = np.linalg.cholesky(a).T
  w = np.arange(4, dtype=np.float32) - 1.5
  np.testing.assert_allclose(rl.cholesky_update(r, w), jl.cholesky_update(r, w), rtol=1e-5,
                             atol=1e-6)


def test_nonfinite_input_gives_nan_decompositions():
  a = np.array([[1., np.nan], [np.nan, 1.]], np.float32)
  for out in rl.eigh(a) + rl.svd(a):
    assert np.isnan(np.asarray(out)).all()


# ---------------------------------------------------------------------------
# dtypes and errors as JAX's


BAD = [
    lambda m: m.cholesky(np.ones(3, np.float32)),
    lambda m: m.cholesky(np.ones((2, 3), np.float32), symmetrize_input=False),
    lambda m: m.cholesky(np.eye(2, dtype=np.float16)),
    lambda m: m.eigh(np.ones((2, 3), np.float32), symmetrize_input=False),
    lambda m: m.lu(np.ones(3, np.float32)),
    lambda m: m.lu(np.ones((2, 2), np.int32)),
    lambda m: m.qr(np.ones(3, np.float32)),
    lambda m: m.svd(np.ones(3, np.float32)),
    lambda m: m.triangular_solve(np.eye(2, dtype=np.float32), np.ones((3, 2, 2), np.float32)),
    lambda m: m.triangular_solve(np.ones((4, 2, 2), np.float32), np.ones((3, 2, 2), np.float32)),
    lambda m: m.triangular_solve(np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)),
    lambda m: m.triangular_solve(np.eye(2, dtype=np.float32), np.ones((3, 3), np.float32),
                                 left_side=True),
    lambda m: m.tridiagonal_solve(*[np.zeros(3, np.float32)] * 3, np.ones(3, np.float32)),
    lambda m: m.tridiagonal_solve(np.zeros(2, np.float32), *[np.zeros(3, np.float32)] * 2,
                                  np.ones((3, 1), np.float32)),
    lambda m: m.tridiagonal_solve(*[np.zeros(3, np.float32)] * 3, np.ones((4, 1), np.float32)),
    lambda m: m.lu_pivots_to_permutation(np.array([2, 2, 2], np.int32), 2),
    lambda m: m.cholesky_update(np.eye(3, dtype=np.float32), np.ones(2, np.float32)),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_input_raises_jax_exception_type(i):
  same_exception(lambda: np.asarray(BAD[i](rl)), lambda: np.asarray(BAD[i](jl)))


def test_primitives_live_in_lax_linalg_only():
  assert hasattr(rl, "cholesky_p") and not hasattr(lax, "cholesky_p")
  assert not hasattr(lax, "cholesky")


# ---------------------------------------------------------------------------
# jit, vmap, fusion plan


def _ops():
  a = spd(1, (2,), 4, np.float32)
  g = rand(2, (2, 4, 3), np.float32)
  b = rand(3, (2, 4, 2), np.float32)
  tri = (rand(4, (2, 4), np.float32),) * 0
  return [
      (lambda x: rl.cholesky(x), (a,)),
      (lambda x: rl.lu(x)[0], (g,)),
      (lambda x: rl.qr(x)[1], (g,)),
      (lambda x: rl.eigh(x)[1], (a,)),
      (lambda x: rl.svd(x, compute_uv=False), (g,)),
      (lambda x, y: rl.triangular_solve(x, y, left_side=True, lower=True), (a, b)),
      (lambda x, y: rl.tridiagonal_solve(x[..., 0], x[..., 1] + 4, x[..., 2], y),
       (a, b)),
  ] + list(tri)


@pytest.mark.parametrize("i", range(7))
def test_jit_equals_eager_and_vmap_equals_loop(i):
  f, args = _ops()[i]
  eager = np.asarray(f(*args))
  np.testing.assert_allclose(np.asarray(rjax.jit(f)(*args)), eager, rtol=1e-6, atol=1e-6)
  loop = np.stack([np.asarray(f(*[x[j] for x in args])) for j in range(2)])
  np.testing.assert_allclose(np.asarray(rjax.vmap(f)(*args)), loop, rtol=1e-5, atol=1e-5)
  # a mapped axis that is not the first one
  moved = [np.moveaxis(x, 0, -1) for x in args]
  np.testing.assert_allclose(np.asarray(rjax.vmap(f, in_axes=-1)(*moved)), loop, rtol=1e-5,
                             atol=1e-5)


def test_vmap_with_unbatched_matrix_folds_into_the_rhs():
  a = well_conditioned(0, (), 3, np.float32)
  bs = rand(1, (5, 3, 2), np.float32)
  for left in (True, False):
    b = bs if left else np.swapaxes(bs, -1, -2)
    f = lambda y: rl.triangular_solve(a, y, left_side=left, lower=True)  # noqa: E731
    got = rjax.vmap(f)(b)
    want = np.stack([np.asarray(f(y)) for y in b])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
  dl, d, du = (rand(i, (3,), np.float32) + (4 if i == 1 else 0) for i in range(3))
  f = lambda y: rl.tridiagonal_solve(dl, d, du, y)  # noqa: E731
  np.testing.assert_allclose(np.asarray(rjax.vmap(f)(bs)),
                             np.stack([np.asarray(f(y)) for y in bs]), rtol=1e-5, atol=1e-6)


def test_linalg_ops_are_their_own_plan_nodes():
  a = spd(0, (), 4, np.float32)
  text = rjax.jit(lambda x: jnp.sin(rl.cholesky(x * 2.0)) + 1.0).lower(a).as_text()
  assert "cholesky" in text
  got = rjax.jit(lambda x: jnp.sin(rl.cholesky(x * 2.0)) + 1.0)(a)
  np.testing.assert_allclose(np.asarray(got), np.sin(np.linalg.cholesky(2 * a)) + 1, rtol=1e-5)


def test_pmap_runs_through_the_lowering():
  a = spd(0, (2,), 3, np.float32)
  got = rjax.pmap(lambda x: rl.cholesky(x))(a)
  np.testing.assert_allclose(np.asarray(got), np.linalg.cholesky(a), rtol=1e-5)


def test_inputs_are_not_mutated():
  a = spd(0, (), 4, np.float64)
  keep = a.copy()
  with enable_x64():
    rl.cholesky(a), rl.lu(a), rl.qr(a), rl.eigh(a), rl.svd(a)
    rl.triangular_solve(a, a, left_side=True, lower=True)
  np.testing.assert_array_equal(a, keep)


# ---------------------------------------------------------------------------
# gradients (float64 numerical differentiation)


def _sym_input(f):
  return lambda x: f((x + x.T) / 2)


GRADS = {
    "cholesky": (lambda x: rl.cholesky(x @ x.T + 3 * jnp.eye(3)), (3, 3)),
    "lu": (lambda x: rl.lu(x)[0], (3, 3)),
    "lu_wide": (lambda x: rl.lu(x)[0], (2, 4)),
    "lu_tall": (lambda x: rl.lu(x)[0], (4, 2)),
    "qr_square": (lambda x: rl.qr(x)[0] + rl.qr(x)[1], (3, 3)),
    "qr_thin": (lambda x: jnp.sum(rl.qr(x, full_matrices=False)[0]) + rl.qr(x, full_matrices=False)[1], (4, 3)),
    "qr_full": (lambda x: jnp.sum(rl.qr(x, full_matrices=True)[0]) + jnp.sum(rl.qr(x)[1]), (4, 2)),
    "qr_wide": (lambda x: rl.qr(x)[1], (2, 4)),
    "eigh_w": (lambda x: rl.eigh(x)[1], (3, 3)),
    "eigh_v": (lambda x: jnp.abs(rl.eigh(x)[0]), (3, 3)),
    "svd_s": (lambda x: rl.svd(x, compute_uv=False), (3, 4)),
    "svd_uv": (lambda x: jnp.sum(jnp.abs(rl.svd(x, full_matrices=False)[0]))
               + jnp.sum(jnp.abs(rl.svd(x, full_matrices=False)[2])), (4, 3)),
    "svd_uv_wide": (lambda x: jnp.abs(rl.svd(x, full_matrices=False)[2]), (2, 3)),
    "triangular_solve_a": (lambda x: rl.triangular_solve(x + 4 * jnp.eye(3), jnp.ones((3, 2)),
                                                          left_side=True, lower=True), (3, 3)),
    "triangular_solve_b": (lambda x: rl.triangular_solve(
        jnp.array([[2., 0, 0], [1, 3, 0], [1, 1, 4]]), x, left_side=False, transpose_a=True,
        lower=True), (2, 3)),
    "tridiagonal_solve": (lambda x: rl.tridiagonal_solve(x[0], x[1] + 4, x[2], x[:, :2]),
                          (3, 3)),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_numerically(name):
  f, shape = GRADS[name]
  with enable_x64():
    x = jnp.asarray(np.random.default_rng(0).standard_normal(shape))
    if name.startswith("eigh"):
      x = (x + x.T) / 2
      f = _sym_input(f)
    check_grads(f, (x,), order=1 if name.startswith(("qr_full", "svd", "eigh_v")) else 2,
                modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


def test_triangular_solve_transpose_is_linear_in_b():
  a = jnp.asarray(well_conditioned(0, (), 3, np.float32))
  f = lambda b: rl.triangular_solve(a, b, left_side=True, lower=True)  # noqa: E731
  b = jnp.ones((3, 2), np.float32)
  ct = jnp.arange(6.0, dtype=np.float32).reshape(3, 2)
  _, vjp = rjax.vjp(f, b)
  jb = jjnp.asarray(np.asarray(b))
  _, jvjp = jax.vjp(lambda b: jl.triangular_solve(np.asarray(a), b, left_side=True, lower=True), jb)
  np.testing.assert_allclose(np.asarray(vjp(ct)[0]), np.asarray(jvjp(np.asarray(ct))[0]),
                             rtol=1e-5)
