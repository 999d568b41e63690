"""The linalg kernels' execution paths beyond the small shapes the other
linalg tests draw: one matrix of 128 columns or more (faer's own rayon
parallelism), a batch of many small matrices (one matrix per task, faer
sequential inside), and the row permutation of an LU solve (one gather of
the rows, the inverse permutation for the transposed solve), against NumPy
and JAX, with float64 gradients through the solve; the small-matrix kernels
and the ops the lowering folds into the kernels (cholesky's symmetrization,
lu_solve's row gather) against eager execution bit for bit and against JAX
on singular and NaN inputs."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
import rjax.scipy.linalg as rsl
from rjax._src.lax.linalg import lu_solve
from rjax.lax import linalg as rl
from rjax.test_util import check_grads
from util_linalg_decomp import (FLOATS, close, columns_match_up_to_sign, rand, spd, sym,
                                well_conditioned, x64_for)
from util_vs_jax import x64_in_both

jax.config.update("jax_platforms", "cpu")
L, JL = jnp.linalg, jjnp.linalg
seeds = st.integers(0, 2**31 - 1)

#: side lengths on either side of the sequential/parallel switch (128)
LARGE = [127, 128, 160]


def _eye(batch, k):
  return np.broadcast_to(np.eye(k), batch + (k, k))


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("n", LARGE)
def test_large_cholesky_solve_inv_match_numpy_and_jax(dt, n):
  a = spd(n, (), n, dt)
  b = rand(n + 1, (n, 3), dt)
  a64 = a.astype(np.float64)
  with x64_in_both():
    c = np.asarray(L.cholesky(a))
    x = np.asarray(L.solve(a, b))
    inv = np.asarray(L.inv(a))
    jc = np.asarray(JL.cholesky(a))
    jx = np.asarray(JL.solve(a, b))
  assert c.dtype == x.dtype == inv.dtype == dt
  close(np.triu(c, 1), np.zeros_like(c), dt)
  close(c, np.linalg.cholesky(a64), dt, scale=50)
  close(c, jc, dt, scale=50)
  close(x, np.linalg.solve(a64, b), dt, scale=50)
  close(x, jx, dt, scale=50)
  close(inv @ a64, np.eye(n), dt, scale=200)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("m,n", [(128, 128), (200, 130), (130, 200), (160, 160)])
@pytest.mark.parametrize("full", [False, True])
def test_large_qr(dt, m, n, full):
  a = rand(m * n, (m, n), dt)
  with x64_for(dt):
    q, r = (np.asarray(t) for t in rl.qr(a, full_matrices=full))
  k = m if full else min(m, n)
  assert q.shape == (m, k) and r.shape == (k, n)
  close(q @ r, a, dt, scale=100)
  close(q.T @ q, np.eye(k), dt, scale=100)
  close(np.tril(r, -1), np.zeros_like(r), dt)
  r_np = np.linalg.qr(a.astype(np.float64), mode="complete" if full else "reduced")[1]
  close(np.abs(r), np.abs(r_np), dt, scale=100)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("n", LARGE)
@pytest.mark.parametrize("lower", [True, False])
def test_large_eigh(dt, n, lower):
  a = sym(n, (), n, dt)
  a[np.triu_indices(n, 1) if lower else np.tril_indices(n, -1)] = 7.0   # never read
  with x64_for(dt):
    v, w = (np.asarray(t) for t in rl.eigh(a, lower=lower, symmetrize_input=False))
  h = np.tril(a) + np.tril(a, -1).T if lower else np.triu(a) + np.triu(a, 1).T
  h64 = h.astype(np.float64)
  close(w, np.linalg.eigvalsh(h64), dt, scale=100)
  close(v @ (w[:, None] * v.T), h64, dt, scale=200)
  close(v.T @ v, np.eye(n), dt, scale=200)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("m,n", [(128, 128), (200, 130), (130, 200)])
@pytest.mark.parametrize("full", [False, True])
def test_large_svd(dt, m, n, full):
  a = rand(m + 7 * n, (m, n), dt)
  k = min(m, n)
  with x64_for(dt):
    u, s, vh = (np.asarray(t) for t in rl.svd(a, full_matrices=full))
    s_only = np.asarray(rl.svd(a, compute_uv=False))
  ku, kv = (m, n) if full else (k, k)
  assert u.shape == (m, ku) and vh.shape == (kv, n) and s.shape == (k,)
  s_np = np.linalg.svd(a.astype(np.float64), compute_uv=False)
  close(s, s_np, dt, scale=100)
  close(s_only, s_np, dt, scale=100)
  close((u[:, :k] * s) @ vh[:k], a, dt, scale=200)
  close(u.T @ u, np.eye(ku), dt, scale=200)
  close(vh @ vh.T, np.eye(kv), dt, scale=200)


@pytest.mark.parametrize("dt", FLOATS)
def test_batch_of_small_matrices_equals_one_at_a_time(dt):
  # the GP / Bayesian case: many 8 x 8 matrices, one per task
  batch = (250, 4)
  a = spd(1, batch, 8, dt)
  b = rand(2, batch + (8, 2), dt)
  a64 = a.astype(np.float64)
  with x64_for(dt):
    c = np.asarray(L.cholesky(a))
    x = np.asarray(L.solve(a, b))
    inv = np.asarray(L.inv(a))
    q, r = (np.asarray(t) for t in L.qr(a))
    w, v = (np.asarray(t) for t in L.eigh(a))
    s = np.asarray(L.svd(a, compute_uv=False))
    one = [np.asarray(L.cholesky(a[i, j])) for i, j in [(0, 0), (123, 3), (249, 1)]]
  for (i, j), o in zip([(0, 0), (123, 3), (249, 1)], one):
    np.testing.assert_array_equal(c[i, j], o)   # batching changes no bits
  close(c, np.linalg.cholesky(a64), dt, scale=10)
  close(x, np.linalg.solve(a64, b), dt, scale=10)
  close(inv, np.linalg.inv(a64), dt, scale=10)
  close(q @ r, a64, dt, scale=100)
  close(np.abs(r), np.abs(np.linalg.qr(a64)[1]), dt, scale=100)
  close(w, np.linalg.eigvalsh(a64), dt, scale=100)
  columns_match_up_to_sign(v, np.linalg.eigh(a64)[1], dt, scale=1000)
  close(s, np.linalg.svd(a64, compute_uv=False), dt, scale=100)


@given(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 9), st.integers(1, 4),
       st.sampled_from(FLOATS), seeds)
def test_lu_solve_permutes_rows_like_jax(batch, m, k, dt, seed):
  # a random matrix pivots; trans 0, 1 and 2 against NumPy on the factors
  batch = tuple(batch)
  a = rand(seed, batch + (m, m), dt) + m * np.eye(m, dtype=dt) * 0.1
  b = rand(seed + 1, batch + (m, k), dt)
  with x64_for(dt):
    lu_, _, perm = rl.lu(a)
    xs = [np.asarray(lu_solve(lu_, perm, b, t)) for t in (0, 1, 2)]
    lu_np, perm_np = np.asarray(lu_), np.asarray(perm)
  l = np.tril(lu_np, -1) + np.eye(m)
  u = np.triu(lu_np)
  pa = np.take_along_axis(a.astype(np.float64), perm_np[..., None].astype(np.int64), -2)
  close(l @ u, pa, dt, scale=100)
  a64 = a.astype(np.float64)
  cond = np.linalg.cond(a64).max()
  if cond < 1e3:
    close(xs[0], np.linalg.solve(a64, b), dt, scale=cond * 10)
    close(xs[1], np.linalg.solve(np.swapaxes(a64, -1, -2), b), dt, scale=cond * 10)
    close(xs[2], xs[1], dt, scale=cond * 10)


@pytest.mark.parametrize("trans", [0, 1, 2])
def test_scipy_lu_solve_against_scipy_and_jax(trans):
  import jax.scipy.linalg as jsl
  import scipy.linalg as sl
  a = rand(11, (7, 7), np.float64)   # pivots
  b = rand(12, (7, 3), np.float64)
  with x64_in_both():
    got = np.asarray(rsl.lu_solve(rsl.lu_factor(a), b, trans=trans))
    want_jax = np.asarray(jsl.lu_solve(jsl.lu_factor(a), b, trans=trans))
  want = sl.lu_solve(sl.lu_factor(a), b, trans=trans)
  np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
  np.testing.assert_allclose(got, want_jax, rtol=1e-12, atol=1e-12)


def test_solve_gradients_through_the_permuted_lu():
  with x64_in_both():
    # well conditioned, with its rows shuffled so that the LU pivots
    a = (rand(5, (3, 6, 6), np.float64) + 4 * np.eye(6))[:, [3, 0, 5, 1, 4, 2], :]
    b = rand(6, (3, 6, 2), np.float64)
    check_grads(L.solve, (a, b), order=2, modes=["fwd", "rev"])
    check_grads(L.inv, (a,), order=1, modes=["fwd", "rev"])
    got = rjax.grad(lambda a, b: jnp.sum(jnp.sin(L.solve(a, b))), (0, 1))(a, b)
    want = jax.grad(lambda a, b: jjnp.sum(jjnp.sin(JL.solve(a, b))), (0, 1))(a, b)
    for g, w in zip(got, want):
      np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------
# the small-matrix kernels (n <= 16: Cholesky, triangular solves; LU panels)
# and the ops that the lowering folds into the kernels: cholesky's
# (a + a^H)/2 and lu_solve's row gather are read in place under jit, so jit
# must give eager's bits (eager runs them as separate ops), and both JAX's
# values and its NaN patterns.

#: sides on either side of the small kernels' bound (16) and of faer's
#: blocked paths
SIDES = [1, 3, 8, 16, 17, 24]


def _spd_or_broken(seed, batch, n, dt, kind):
  a = spd(seed, batch, n, dt)
  if kind == "indefinite" and n:
    a[..., n - 1, n - 1] = -1
  elif kind == "nan" and n:
    a[..., n // 2, 0] = np.nan   # lower triangle: the whole factor fails
  elif kind == "nan_upper" and n > 1:
    a[..., 0, n - 1] = np.nan    # symmetrized in; not read without symmetrizing
  return a


@given(st.lists(st.integers(0, 3), max_size=2), st.sampled_from(SIDES), st.sampled_from(FLOATS),
       st.sampled_from(["ok", "indefinite", "nan", "nan_upper"]), st.booleans(), seeds)
def test_cholesky_folded_symmetrize_equals_eager_and_jax(batch, n, dt, kind, sym_in, seed):
  a = _spd_or_broken(seed, tuple(batch), n, dt, kind)
  f = lambda x: rl.cholesky(x, symmetrize_input=sym_in)  # noqa: E731
  with x64_for(dt):
    eager = np.asarray(f(a))
    jitted = np.asarray(rjax.jit(f)(a))
    numpy_api = np.asarray(rjax.jit(L.cholesky)(a))
  np.testing.assert_array_equal(jitted, eager)   # the fold changes no bits
  if sym_in:
    np.testing.assert_array_equal(numpy_api, jitted)
  with x64_in_both():
    want = np.asarray(jax.lax.linalg.cholesky(a, symmetrize_input=sym_in))
  np.testing.assert_array_equal(np.triu(jitted, 1), np.zeros_like(jitted))
  if kind in ("nan", "nan_upper"):
    # LAPACK (OpenBLAS) lets a NaN flow through the factor where rjax, as
    # faer, fails the whole matrix: NaN wherever JAX has one
    assert np.isnan(jitted[np.isnan(want)]).all()
    return
  np.testing.assert_array_equal(np.isnan(jitted), np.isnan(want))   # NaN below, 0 above
  ok = ~np.isnan(want)
  close(jitted[ok], want[ok], dt, scale=50)


def test_complex_cholesky_folds_the_conjugate_transpose():
  r = np.random.default_rng(3)
  g = r.standard_normal((5, 6, 6)) + 1j * r.standard_normal((5, 6, 6))
  a = (g @ np.conj(np.swapaxes(g, -1, -2)) + 6 * np.eye(6)).astype(np.complex64)
  a[:, 1, 0] += 0.25j   # not Hermitian: (a + a^H)/2 differs from a's lower triangle
  got = np.asarray(rjax.jit(L.cholesky)(a))
  np.testing.assert_array_equal(got, np.asarray(L.cholesky(a)))
  np.testing.assert_allclose(got, np.asarray(JL.cholesky(a)), rtol=2e-5, atol=2e-5)
  # (a + a^T)/2 without the conjugate is not what the kernel computes: no fold
  h = lambda x: rl.cholesky((x + jnp.swapaxes(x, -1, -2)) / 2, symmetrize_input=False)  # noqa
  text = rjax.jit(h).lower(a).as_text()
  assert "symmetrize_input" not in text
  np.testing.assert_array_equal(np.asarray(rjax.jit(h)(a)), np.asarray(h(a)))


def test_the_folds_show_in_the_plan():
  a = spd(0, (3,), 8, np.float32)
  text = rjax.jit(L.cholesky).lower(a).as_text()
  assert "symmetrize_input=True" in text and "transpose" not in text.split("plan(")[1]
  lu_, _, perm = rl.lu(a)
  b = rand(1, (3, 8, 2), np.float32)
  text = rjax.jit(lambda l, p, b: lu_solve(l, p, b, 0)).lower(lu_, perm, b).as_text()
  assert "gather" not in text.split("plan(")[1]


@given(st.lists(st.integers(0, 3), max_size=2), st.sampled_from(SIDES), st.integers(0, 3),
       st.sampled_from(FLOATS), st.sampled_from(["ok", "singular", "nan"]), seeds)
def test_lu_and_lu_solve_paths_equal_eager_and_jax(batch, n, k, dt, kind, seed):
  batch = tuple(batch)
  a = rand(seed, batch + (n, n), dt)
  if kind == "singular" and n > 1:
    a[..., :, 1] = 0          # a zero column: getrf leaves it unscaled
    a[..., 2 % n, :] = a[..., 0, :]
  elif kind == "nan" and n:
    a[..., n - 1, 0] = np.nan
  b = rand(seed + 1, batch + (n, k), dt)
  with x64_for(dt):
    lu_, piv, perm = (np.asarray(t) for t in rl.lu(a))
    xs = [np.asarray(rjax.jit(lambda l, p, b: lu_solve(l, p, b, t))(lu_, perm, b))
          for t in (0, 1)]
    eager = [np.asarray(lu_solve(lu_, perm, b, t)) for t in (0, 1)]
  for x, e in zip(xs, eager):
    np.testing.assert_array_equal(x, e)   # the folded gather changes no bits
  with x64_in_both():
    jlu, jpiv, jperm = (np.asarray(t) for t in jax.lax.linalg.lu(a))
  np.testing.assert_array_equal(piv, jpiv)
  np.testing.assert_array_equal(perm, jperm)
  close(lu_, jlu, dt, scale=100)


@given(st.lists(st.integers(0, 3), max_size=2), st.sampled_from(SIDES), st.integers(0, 3),
       st.sampled_from(FLOATS), seeds)
def test_solve_with_a_matrix_rhs_matches_jax(batch, n, k, dt, seed):
  # k columns are one custom linear solve of the matrix (JAX vmaps the columns)
  batch = tuple(batch)
  a = well_conditioned(seed, batch, n, dt)
  b = rand(seed + 1, batch + (n, k), dt)
  with x64_in_both():
    got = np.asarray(rjax.jit(L.solve)(a, b))
    want = np.asarray(JL.solve(a, b))
    # a vector right-hand side (unambiguous without batch dims)
    vec = np.asarray(L.solve(a, b[..., 0])) if k and not batch else None
  assert got.shape == want.shape and got.dtype == want.dtype
  close(got, want, dt, scale=100)
  if vec is not None:
    close(vec, got[..., 0], dt, scale=10)


def test_small_triangular_solves_of_singular_and_nan_systems_like_jax():
  # a zero on the diagonal gives infinities and NaNs as LAPACK's trsm does
  a = np.array([[[2., 0., 0.], [1., 0., 0.], [1., 1., 4.]]] * 2, np.float32)
  b = np.array([[[1.], [1.], [1.]], [[1.], [np.nan], [1.]]], np.float32)
  for flags in [dict(left_side=True, lower=True), dict(left_side=True, lower=True, transpose_a=True),
                dict(left_side=False, lower=True)]:
    bb = b if flags["left_side"] else np.swapaxes(b, -1, -2)
    got = np.asarray(rjax.jit(lambda a, b: rl.triangular_solve(a, b, **flags))(a, bb))
    want = np.asarray(jax.lax.linalg.triangular_solve(a, bb, **flags))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-6)
