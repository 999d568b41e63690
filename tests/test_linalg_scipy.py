"""rjax.scipy.linalg against SciPy and JAX, and the samplers that use the
decompositions (random.multivariate_normal, random.orthogonal,
nn.initializers.orthogonal) against JAX for the same key."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
import rjax.scipy.linalg as rsl
from rjax.test_util import check_grads
from util import enable_x64
from util_linalg_decomp import FLOATS, close, rand, spd, well_conditioned, x64_for
from util_vs_jax import same_exception

jsl = jax.scipy.linalg
seeds = st.integers(0, 2**31 - 1)


@given(st.integers(1, 5), st.sampled_from(FLOATS), seeds, st.booleans(), st.booleans())
def test_solvers_against_scipy(n, dt, seed, lower, vec):
  a = well_conditioned(seed, (), n, dt)
  p = spd(seed, (), n, dt)
  b = rand(seed + 1, (n,) if vec else (n, 2), dt)
  a64, p64, b64 = a.astype(np.float64), p.astype(np.float64), b.astype(np.float64)
  with x64_for(dt):
    for trans in (0, 1, "T"):
      close(rsl.solve_triangular(a, b, trans=trans, lower=lower),
            sl.solve_triangular(a64, b64, trans=trans, lower=lower), dt, scale=10)
    c = rsl.cho_factor(p, lower=lower)
    close(rsl.cho_solve(c, b), sl.cho_solve(sl.cho_factor(p64, lower=lower), b64), dt, scale=10)
    close(rsl.cholesky(p, lower=lower), sl.cholesky(p64, lower=lower), dt, scale=10)
    luf = rsl.lu_factor(a)
    for trans in (0, 1):
      close(rsl.lu_solve(luf, b, trans=trans), sl.lu_solve(sl.lu_factor(a64), b64, trans=trans),
            dt, scale=10)
    for assume_a in ("gen", "sym", "pos"):
      m = p if assume_a != "gen" else a
      close(rsl.solve(m, b, assume_a=assume_a), sl.solve(m.astype(np.float64), b64), dt,
            scale=10)
    close(rsl.inv(a), sl.inv(a64), dt, scale=10)
    close(rsl.det(a), sl.det(a64), dt, scale=10 * abs(sl.det(a64)) + 10)


@given(st.integers(0, 5), st.integers(0, 5), st.sampled_from(FLOATS), seeds, st.booleans())
def test_lu_qr_svd_against_scipy(m, n, dt, seed, permute_l):
  a = rand(seed, (m, n), dt)
  a64 = a.astype(np.float64)
  with x64_for(dt):
    if permute_l:
      pl, u = rsl.lu(a, permute_l=True)
      close(np.asarray(pl) @ np.asarray(u), a, dt, scale=10)
    else:
      p, l, u = rsl.lu(a)
      if a.size:
        for g, w in zip((p, l, u), sl.lu(a64)):
          close(g, w, dt, scale=10)
    q, r = rsl.qr(a)
    close(np.asarray(q) @ np.asarray(r), a, dt, scale=10)
    q, r = rsl.qr(a, mode="economic")
    close(np.asarray(q) @ np.asarray(r), a, dt, scale=10)
    if a.size:
      close(rsl.svd(a, compute_uv=False), sl.svd(a64, compute_uv=False), dt, scale=10)
      w = rsl.eigh(a64[:min(m, n), :min(m, n)] + a64[:min(m, n), :min(m, n)].T,
                   eigvals_only=True)
      close(w, sl.eigh(a64[:min(m, n), :min(m, n)] + a64[:min(m, n), :min(m, n)].T,
                       eigvals_only=True), dt, scale=10)


@given(st.integers(1, 5), st.sampled_from(FLOATS), seeds, st.floats(0.01, 30))
def test_expm_against_scipy_and_jax(n, dt, seed, scale):
  a = (rand(seed, (n, n), np.float64) * scale / n).astype(dt)
  with x64_for(dt):
    got = np.asarray(rsl.expm(a))
  want = sl.expm(a.astype(np.float64))
  # float32 loses ~1e-4 relative to squaring; JAX's float32 result is the oracle there
  np.testing.assert_allclose(got, want, rtol=1e-3 if dt == np.float32 else 1e-9,
                             atol=1e-3 * np.abs(want).max() if dt == np.float32 else 1e-9)
  if dt == np.float32:
    # (each squaring doubles a one-ulp difference in the Padé step)
    np.testing.assert_allclose(got, np.asarray(jsl.expm(a)), rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())


def test_expm_batched_upper_triangular_and_grad():
  a = np.triu(rand(0, (2, 3, 3), np.float32))
  np.testing.assert_allclose(rsl.expm(a, upper_triangular=True), jsl.expm(a, upper_triangular=True),
                             rtol=1e-5, atol=1e-6)
  with enable_x64():
    x = jnp.asarray(rand(1, (3, 3), np.float64))
    check_grads(rsl.expm, (x,), order=1, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


def test_block_diag_toeplitz_polar():
  arrs = [np.ones((2, 2), np.float32), np.arange(3, dtype=np.float32), np.float32(5)]
  np.testing.assert_array_equal(rsl.block_diag(*arrs), jsl.block_diag(*arrs))
  np.testing.assert_array_equal(rsl.block_diag(), jsl.block_diag())
  c, r = np.arange(1, 4, dtype=np.float32), np.arange(10, 15, dtype=np.float32)
  np.testing.assert_array_equal(rsl.toeplitz(c, r), sl.toeplitz(c, r))
  np.testing.assert_array_equal(rsl.toeplitz(c), sl.toeplitz(c))
  a = rand(0, (4, 3), np.float64)
  for side in ("right", "left"):
    u, p = rsl.polar(a.astype(np.float32), side=side)
    uw, pw = sl.polar(a, side=side)
    np.testing.assert_allclose(u, uw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p, pw, rtol=1e-4, atol=1e-5)


def test_expm_frechet_and_special_matrices_match_jax():
  a, e = rand(0, (3, 3), np.float32), rand(1, (3, 3), np.float32)
  for g, w in zip(rsl.expm_frechet(a, e), jsl.expm_frechet(a, e)):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(rsl.expm_frechet(a, e, compute_expm=False),
                             sl.expm_frechet(a.astype(np.float64), e.astype(np.float64),
                                             compute_expm=False), rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(rsl.hilbert(4), jsl.hilbert(4), rtol=1e-7)
  for n in (1, 2, 8):
    np.testing.assert_array_equal(rsl.hadamard(n), jsl.hadamard(n))
  for full in (False, True):
    np.testing.assert_allclose(rsl.helmert(5, full=full), sl.helmert(5, full=full), rtol=1e-6)
  a = rand(2, (2, 3, 4), np.float32)
  c = rand(3, (2, 3, 3), np.float32)
  from rjax.lax import linalg as rl
  np.testing.assert_allclose(rl.symmetric_product(a, c, alpha=2., beta=.5, symmetrize_output=True),
                             jax.lax.linalg.symmetric_product(a, c, alpha=2., beta=.5,
                                                              symmetrize_output=True),
                             rtol=1e-5, atol=1e-5)


BAD = [
    lambda m: m.hadamard(3),
    lambda m: m.helmert(0),
    lambda m: m.expm_frechet(np.eye(2), np.eye(3)),
    lambda m: m.block_diag(np.ones((1, 1, 1))),
    lambda m: m.solve(np.eye(2), np.ones(2), assume_a="bad"),
    lambda m: m.solve_triangular(np.eye(2), np.ones(2), trans=5),
    lambda m: m.expm(np.ones((2, 3))),
    lambda m: m.polar(np.ones(3)),
    lambda m: m.polar(np.ones((2, 2)), side="up"),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_input_raises_jax_exception_type(i):
  same_exception(lambda: np.asarray(BAD[i](rsl)), lambda: np.asarray(BAD[i](jsl)))


# ---------------------------------------------------------------------------
# samplers: JAX's numbers for the same key


def test_multivariate_normal_cholesky_matches_jax():
  cov = spd(0, (), 4, np.float32)
  mean = np.arange(4, dtype=np.float32)
  got = rjax.random.multivariate_normal(rjax.random.key(3), mean, cov, (5,))
  want = jax.random.multivariate_normal(jax.random.key(3), mean, cov, (5,))
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["eigh", "svd"])
def test_multivariate_normal_eigh_svd_has_the_covariance(method):
  # The factor's columns have LAPACK's signs in JAX; here faer's: the samples
  # differ from JAX's by those signs, the distribution is the same.
  cov = spd(1, (), 3, np.float64)
  with enable_x64():
    z = np.asarray(rjax.random.multivariate_normal(rjax.random.key(0), np.zeros(3), cov,
                                                   (40000,), method=method))
  np.testing.assert_allclose(np.cov(z.T), cov, rtol=0.05, atol=0.05 * np.abs(cov).max())
  with enable_x64():
    f = np.asarray(rjax.random.multivariate_normal(rjax.random.key(0), np.zeros(3), cov, (2,),
                                                   method=method))
  assert np.isfinite(f).all()


def test_multivariate_normal_bad_method():
  same_exception(lambda: rjax.random.multivariate_normal(rjax.random.key(0), np.zeros(2),
                                                         np.eye(2), method="x"),
                 lambda: jax.random.multivariate_normal(jax.random.key(0), np.zeros(2),
                                                        np.eye(2), method="x"))


@pytest.mark.parametrize("n,m,shape", [(4, None, ()), (3, 5, (2,)), (5, 2, ()), (64, None, ())])
def test_orthogonal_matches_jax(n, m, shape):
  got = rjax.random.orthogonal(rjax.random.key(7), n, shape, m=m)
  want = jax.random.orthogonal(jax.random.key(7), n, shape, m=m)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_orthogonal_initializer_matches_jax():
  init_r = rjax.nn.initializers.orthogonal(scale=2.0)
  init_j = jax.nn.initializers.orthogonal(scale=2.0)
  for shape in [(3, 4), (5, 2), (2, 3, 4)]:
    np.testing.assert_allclose(np.asarray(init_r(rjax.random.key(1), shape)),
                               np.asarray(init_j(jax.random.key(1), shape)), rtol=1e-4,
                               atol=1e-5)


def test_orthogonal_512_builds_a_small_program():
  jaxpr = rjax.make_jaxpr(lambda k: rjax.random.orthogonal(k, 512))(rjax.random.key(0))
  assert len(str(jaxpr).splitlines()) < 200
