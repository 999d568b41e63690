"""The linalg kernels' execution paths beyond the small shapes the other
linalg tests draw: one matrix of 128 columns or more (faer's own rayon
parallelism), a batch of many small matrices (one matrix per task, faer
sequential inside), and the row permutation of an LU solve (one gather of
the rows, the inverse permutation for the transposed solve), against NumPy
and JAX, with float64 gradients through the solve."""
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
from util_linalg_decomp import FLOATS, close, columns_match_up_to_sign, rand, spd, sym, x64_for
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
