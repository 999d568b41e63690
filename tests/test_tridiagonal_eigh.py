"""``lax.linalg.tridiagonal_solve(perturb_singular=True)`` and
``scipy.linalg.eigh_tridiagonal`` against JAX (the same numbers: both follow
JAX's CPU kernel and JAX's bisection / inverse iteration), SciPy and the
dense eigensolver, under jit, vmap and grad."""
import jax
import jax.scipy.linalg as jsl
import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.lax import linalg as jl

import rjax
import rjax.scipy.linalg as rsl
from rjax._src.lax.linalg import sturm_count
from rjax.lax import linalg as rl
from rjax.test_util import check_grads
from util_vs_jax import x64_in_both

seeds = st.integers(0, 2**31 - 1)
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def _eps(dt):
  return np.finfo(np.dtype(dt)).eps


def _diags(rng, shape, dt):
  x = rng.standard_normal(shape)
  if np.issubdtype(dt, np.complexfloating):
    x = x + 1j * rng.standard_normal(shape)
  return x.astype(dt)


def _dense(dl, d, du):
  return np.diag(d) + np.diag(dl[1:], -1) + np.diag(du[:-1], 1)


# ---------------------------------------------------------------------------
# tridiagonal_solve(perturb_singular=True)


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 40), st.sampled_from(DTYPES), st.sampled_from([(), (2,), (2, 3)]),
       st.integers(1, 3), seeds)
def test_perturbed_solve_equals_jax_on_general_systems(n, dt, batch, k, seed):
  rng = np.random.default_rng(seed)
  dl, d, du = (_diags(rng, batch + (n,), dt) for _ in range(3))
  b = _diags(rng, batch + (n, k), dt)
  with x64_in_both():
    got = np.asarray(rl.tridiagonal_solve(dl, d, du, b, perturb_singular=True))
    want = np.asarray(jl.tridiagonal_solve(dl, d, du, b, perturb_singular=True))
    plain = np.asarray(rl.tridiagonal_solve(dl, d, du, b))
  assert got.dtype == want.dtype == np.dtype(dt) and got.shape == b.shape
  # the same operations in the same order: JAX's numbers to the last bit
  np.testing.assert_array_equal(got, want)
  # a regular system solves as without the flag (the pivots of a system with
  # condition number c are perturbed only when about c >= 1 / eps)
  for idx in np.ndindex(*batch):
    a = _dense(dl[idx], d[idx], du[idx]).astype(np.complex128)
    if np.linalg.cond(a) < 1e3:
      scale = np.abs(plain[idx]).max() + 1
      np.testing.assert_allclose(got[idx], plain[idx], rtol=0, atol=1e4 * _eps(dt) * scale)


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 40), st.sampled_from(DTYPES), seeds, st.booleans())
def test_perturbed_solve_of_singular_systems_is_finite_and_jax(n, dt, seed, exact_zero):
  """T - lambda I with lambda an eigenvalue of the symmetric T: inverse
  iteration's system. The answer is large and finite, along the
  eigenvector, and JAX's."""
  rng = np.random.default_rng(seed)
  real = np.finfo(np.dtype(dt)).dtype
  e = rng.standard_normal(n - 1).astype(real)
  d = rng.standard_normal(n).astype(real)
  if exact_zero:   # a zero row and column: exactly singular in any arithmetic
    i = int(rng.integers(n))
    d[i] = 0
    e[max(i - 1, 0):i + 1] = 0
    shift = np.zeros(n, real)
  else:
    w = np.linalg.eigvalsh(np.diag(d.astype(np.float64)) + np.diag(e.astype(np.float64), 1)
                           + np.diag(e.astype(np.float64), -1))
    shift = np.full(n, w[int(rng.integers(n))], real)
  dl, du = np.concatenate([[0], e]).astype(dt), np.concatenate([e, [0]]).astype(dt)
  ds = (d - shift).astype(dt)
  b = _diags(rng, (n, 2), dt)
  with x64_in_both():
    got = np.asarray(rl.tridiagonal_solve(dl, ds, du, b, perturb_singular=True))
    jit_got = np.asarray(rjax.jit(lambda *a: rl.tridiagonal_solve(*a, perturb_singular=True))(
        dl, ds, du, b))
    want = np.asarray(jl.tridiagonal_solve(dl, ds, du, b, perturb_singular=True))
    nan = np.asarray(rl.tridiagonal_solve(dl, ds, du, b))
  assert np.all(np.isfinite(got))
  np.testing.assert_array_equal(got, want)
  np.testing.assert_array_equal(jit_got, got)
  if exact_zero:
    assert np.all(np.isnan(nan))
  # the solution's direction is (close to) a null vector of T - lambda I
  a = _dense(dl, ds, du).astype(np.complex128)
  x = got[:, 0].astype(np.complex128)
  x = x / np.abs(x).max()
  x = x / np.linalg.norm(x)
  tnorm = np.abs(d).max() + 2 * (np.abs(e).max() if n > 1 else 0) + 1
  assert np.linalg.norm(a @ x) <= 1e3 * n * _eps(dt) * tnorm


def test_perturbed_solve_kernel_equals_the_numpy_reference():
  from rjax._src.lax.linalg import _tridiagonal_solve_ref
  rng = np.random.default_rng(0)
  for dt in DTYPES:
    for n in (1, 2, 3, 9):
      dl, d, du = (_diags(rng, (2, n), dt) for _ in range(3))
      d[1] = 0   # the second system: a zero diagonal
      dl[1, 1:] = 0
      b = _diags(rng, (2, n, 2), dt)
      with x64_in_both():
        got = np.asarray(rl.tridiagonal_solve(dl, d, du, b, perturb_singular=True))
      want = _tridiagonal_solve_ref(dl, d, du, b, perturb_singular=True)
      np.testing.assert_allclose(got, want, rtol=100 * _eps(dt), atol=0)
      assert np.all(np.isfinite(got))


def test_perturbed_solve_zero_size_and_errors():
  z = np.zeros((0,), np.float32)
  out = rl.tridiagonal_solve(z, z, z, np.zeros((0, 2), np.float32), perturb_singular=True)
  assert out.shape == (0, 2) and out.dtype == np.float32
  one = np.zeros(1, np.float32)
  x = np.asarray(rl.tridiagonal_solve(one, one, one, np.ones((1, 1), np.float32),
                                      perturb_singular=True))
  np.testing.assert_array_equal(
      x, jl.tridiagonal_solve(one, one, one, np.ones((1, 1), np.float32), perturb_singular=True))
  with pytest.raises(TypeError):
    rl.tridiagonal_solve(one, one, np.zeros(2, np.float32), np.ones((1, 1), np.float32),
                         perturb_singular=True)


@settings(deadline=None, max_examples=15)
@given(st.integers(1, 12), st.sampled_from([np.float32, np.complex64]), seeds)
def test_perturbed_solve_under_vmap_and_jit(n, dt, seed):
  rng = np.random.default_rng(seed)
  dl, d, du = (_diags(rng, (3, n), dt) for _ in range(3))
  b = _diags(rng, (3, n, 2), dt)
  f = lambda *a: rl.tridiagonal_solve(*a, perturb_singular=True)  # noqa: E731
  loop = np.stack([np.asarray(f(dl[i], d[i], du[i], b[i])) for i in range(3)])
  np.testing.assert_array_equal(np.asarray(rjax.vmap(f)(dl, d, du, b)), loop)
  np.testing.assert_array_equal(np.asarray(rjax.jit(rjax.vmap(f))(dl, d, du, b)), loop)
  # b alone batched: JAX's rule folds the batch into the right-hand sides,
  # which share each row's perturbation: compare with JAX's vmap
  got = np.asarray(rjax.vmap(f, in_axes=(None, None, None, 0))(dl[0], d[0], du[0], b))
  want = np.asarray(jax.vmap(f_j, in_axes=(None, None, None, 0))(dl[0], d[0], du[0], b))
  np.testing.assert_array_equal(got, want)


def test_perturbed_solve_gradients():
  rng = np.random.default_rng(1)
  n = 5
  dl, du = rng.standard_normal((2, n))
  d = rng.standard_normal(n) + 4
  b = rng.standard_normal((n, 2))
  with x64_in_both():
    f = lambda dl, d, du, b: rl.tridiagonal_solve(dl, d, du, b, perturb_singular=True)  # noqa
    check_grads(f, (dl, d, du, b), order=1, modes=("fwd", "rev"))
    check_grads(lambda b: f(dl, d, du, b), (b,), order=2, modes=("fwd", "rev"))
    g = rjax.grad(lambda d: rjax.numpy.sum(f(dl, d, du, b) ** 2))(d)
    gj = jax.grad(lambda d: jax.numpy.sum(f_j(dl, d, du, b) ** 2))(d)
    np.testing.assert_allclose(np.asarray(g), np.asarray(gj), rtol=1e-12)


def f_j(dl, d, du, b):
  return jl.tridiagonal_solve(dl, d, du, b, perturb_singular=True)


# ---------------------------------------------------------------------------
# eigh_tridiagonal


def _tri(d, e):
  """The Hermitian T of JAX's convention: e above the diagonal, conj(e)
  below."""
  return np.diag(d) + np.diag(e, 1) + np.diag(np.conj(e), -1)


def _orth(v):
  v = v.astype(np.complex128)
  return np.abs(v.conj().T @ v - np.eye(v.shape[1])).max()


def _check_vectors(d, e, w, v, dt, scale=1.0, jax_v=None):
  """T v = v w and v^H v = I; vectors of eigenvalues just outside a
  cluster's gap (sqrt(eps) |T|) are orthogonal only to about eps |T| / gap,
  in JAX as here: with ``jax_v``, no worse than JAX's."""
  t = _tri(d.astype(np.complex128), e.astype(np.complex128))
  v = v.astype(np.complex128)
  n = len(d)
  tnorm = np.abs(np.linalg.eigvalsh(t)).max() + 1
  tol = 50 * n * _eps(dt) * tnorm * scale
  assert np.abs(t @ v - v * w.astype(np.float64)).max() <= tol
  otol = 50 * n * _eps(dt) * scale
  if jax_v is not None:
    otol = max(otol, 2 * _orth(jax_v))
  assert _orth(v) <= otol


def _same_vectors_up_to_phase(v, vj, dt):
  ip = np.sum(np.conj(v) * vj, axis=0)
  ph = ip / np.abs(ip)
  np.testing.assert_allclose(v * ph, vj, rtol=0, atol=1e3 * _eps(dt))


# JAX's eigh_tridiagonal, jitted once per size and dtype: eager, it compiles
# its while loops again at each call (about 3 s each). One call gives both
# outputs: its eigenvalues are the same bisection's as eigvals_only's.
_jax_eigh_tridiagonal = jax.jit(jsl.eigh_tridiagonal)


@settings(deadline=None, max_examples=30)
@given(st.sampled_from([0, 1, 2, 3, 4, 7, 16, 33, 64]), st.sampled_from(DTYPES), seeds)
def test_eigh_tridiagonal_equals_jax(n, dt, seed):
  rng = np.random.default_rng(seed)
  d = _diags(rng, (n,), dt)
  d = (d.real if np.iscomplexobj(d) else d).astype(dt)
  e = _diags(rng, (max(n - 1, 0),), dt)
  with x64_in_both():
    w = np.asarray(rsl.eigh_tridiagonal(d, e, eigvals_only=True))
    wv, v = (np.asarray(x) for x in rsl.eigh_tridiagonal(d, e))
    wvj, vj = (np.asarray(x) for x in _jax_eigh_tridiagonal(d, e))
    wj = wvj
  real = np.finfo(np.dtype(dt)).dtype
  assert w.dtype == wv.dtype == real and v.dtype == np.dtype(dt) and v.shape == (n, n)
  # the same bisection: JAX's eigenvalues, bit for bit
  np.testing.assert_array_equal(w, wj)
  np.testing.assert_array_equal(wv, wvj)
  if n == 0:
    return
  dense = np.linalg.eigvalsh(_tri(d.astype(np.complex128), e.astype(np.complex128)))
  tnorm = np.abs(dense).max() + 1
  np.testing.assert_allclose(w, dense, rtol=0, atol=8 * n * _eps(dt) * tnorm)
  _check_vectors(d, e, wv, v, dt)
  # separated eigenvalues: JAX's vectors up to sign (phase)
  gaps = np.diff(w)
  if n == 1 or gaps.min() > 1e-2 * tnorm:
    _same_vectors_up_to_phase(v, vj, dt)


@settings(deadline=None, max_examples=20)
@given(st.integers(2, 30), st.sampled_from([np.float32, np.float64]), seeds, st.data())
def test_eigh_tridiagonal_select_index_range(n, dt, seed, data):
  rng = np.random.default_rng(seed)
  d, e = rng.standard_normal(n).astype(dt), rng.standard_normal(n - 1).astype(dt)
  lo = data.draw(st.integers(0, n - 1))
  hi = data.draw(st.integers(lo, n - 1))
  with x64_in_both():
    w = np.asarray(rsl.eigh_tridiagonal(d, e, eigvals_only=True, select="i",
                                        select_range=(lo, hi)))
    wj = np.asarray(jsl.eigh_tridiagonal(d, e, eigvals_only=True, select="i",
                                         select_range=(lo, hi)))
    wv, v = (np.asarray(x) for x in rsl.eigh_tridiagonal(d, e, select="i",
                                                          select_range=(lo, hi)))
  np.testing.assert_array_equal(w, wj)
  np.testing.assert_array_equal(wv, wj)
  assert v.shape == (n, hi - lo + 1)
  ws = sl.eigh_tridiagonal(d.astype(np.float64), e.astype(np.float64), eigvals_only=True)
  np.testing.assert_allclose(w, ws[lo:hi + 1], rtol=0, atol=8 * n * _eps(dt) * (np.abs(ws).max()
                                                                                 + 1))
  _check_vectors(d, e, wv, v, dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("case", ["diagonal_repeats", "wilkinson", "constant", "split"])
def test_eigh_tridiagonal_clusters(case, dt):
  """Repeated and clustered eigenvalues: the eigenvalues are JAX's, the
  vectors of a cluster are orthonormalized (QR) and still eigenvectors."""
  n = 21
  real = np.finfo(np.dtype(dt)).dtype
  if case == "diagonal_repeats":   # e = 0: T is diagonal, with repeats
    d, e = np.array([1, 2, 1, 3, 2, 1, 0] * 3, real), np.zeros(n - 1, real)
  elif case == "wilkinson":        # W21+: pairs equal to many digits
    d, e = np.abs(np.arange(n) - 10).astype(real), np.ones(n - 1, real)
  elif case == "constant":         # tiny coupling: a tight cluster
    d, e = np.full(n, 2.0, real), np.full(n - 1, 1e-9, real)
  else:                            # two blocks with the same spectrum
    b = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], real)
    d, e = np.concatenate([b, [0.5], b]), np.concatenate([np.ones(9), [0, 0], np.ones(9)])
  d, e = d.astype(dt), e.astype(real).astype(dt)
  with x64_in_both():
    w = np.asarray(rsl.eigh_tridiagonal(d, e, eigvals_only=True))
    wv, v = (np.asarray(x) for x in rsl.eigh_tridiagonal(d, e))
    wj, vj = (np.asarray(x) for x in jsl.eigh_tridiagonal(d, e))
  np.testing.assert_array_equal(w, wj)
  np.testing.assert_array_equal(wv, wj)
  _check_vectors(d.real, e, wv, v, dt, scale=4, jax_v=vj)
  # the cluster's subspace, whatever basis: the projectors agree with JAX's
  np.testing.assert_allclose(v @ v.conj().T, vj @ vj.conj().T, rtol=0,
                             atol=100 * n * _eps(dt))


def test_eigh_tridiagonal_tol_and_key():
  rng = np.random.default_rng(5)
  d, e = rng.standard_normal(30).astype(np.float32), rng.standard_normal(29).astype(np.float32)
  for tol in (1e-3, 0.5):
    w = np.asarray(rsl.eigh_tridiagonal(d, e, eigvals_only=True, tol=tol))
    np.testing.assert_array_equal(w, jsl.eigh_tridiagonal(d, e, eigvals_only=True, tol=tol))
  ws = sl.eigh_tridiagonal(d.astype(np.float64), e.astype(np.float64), eigvals_only=True)
  assert np.abs(np.asarray(rsl.eigh_tridiagonal(d, e, eigvals_only=True, tol=1e-3)) - ws).max() \
      <= 1e-3
  # another key: other start vectors, and JAX's vectors for that key
  w, v = rsl.eigh_tridiagonal(d, e, key=rjax.random.key(7))
  wj, vj = jsl.eigh_tridiagonal(d, e, key=jax.random.key(7))
  np.testing.assert_array_equal(np.asarray(w), np.asarray(wj))
  _same_vectors_up_to_phase(np.asarray(v), np.asarray(vj), np.float32)


def test_eigh_tridiagonal_under_jit_equals_eager():
  rng = np.random.default_rng(2)
  d, e = rng.standard_normal(12).astype(np.float32), rng.standard_normal(11).astype(np.float32)
  f = rjax.jit(lambda d, e: rsl.eigh_tridiagonal(d, e, select="i", select_range=(2, 7)))
  for got, want in zip(f(d, e), rsl.eigh_tridiagonal(d, e, select="i", select_range=(2, 7))):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  # scaled inputs reuse the compiled function (one trace per shape/dtype)
  w2 = np.asarray(f(2 * d, 2 * e)[0])
  np.testing.assert_array_equal(
      w2, jsl.eigh_tridiagonal(2 * d, 2 * e, eigvals_only=True, select="i", select_range=(2, 7)))


def test_eigh_tridiagonal_under_vmap_equals_jax():
  rng = np.random.default_rng(4)
  d, e = rng.standard_normal((3, 9)).astype(np.float32), rng.standard_normal((3, 8)).astype(
      np.float32)
  w = rjax.vmap(lambda d, e: rsl.eigh_tridiagonal(d, e, eigvals_only=True))(d, e)
  wj = jax.vmap(lambda d, e: jsl.eigh_tridiagonal(d, e, eigvals_only=True))(d, e)
  np.testing.assert_array_equal(np.asarray(w), np.asarray(wj))
  w, v = rjax.vmap(rsl.eigh_tridiagonal)(d, e)
  wj, vj = jax.vmap(jsl.eigh_tridiagonal)(d, e)
  np.testing.assert_array_equal(np.asarray(w), np.asarray(wj))
  for i in range(3):
    _same_vectors_up_to_phase(np.asarray(v[i]), np.asarray(vj[i]), np.float32)
    _check_vectors(d[i], e[i], np.asarray(w[i]), np.asarray(v[i]), np.float32)


@pytest.mark.parametrize("n", [0, 1])
@pytest.mark.parametrize("dt", [np.float32, np.complex64])
def test_eigh_tridiagonal_small(n, dt):
  d, e = np.full(n, 3, dt), np.zeros(0, dt)
  w, v = rsl.eigh_tridiagonal(d, e)
  wj, vj = jsl.eigh_tridiagonal(d, e)
  for got, want in ((w, wj), (v, vj)):
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  np.testing.assert_array_equal(np.asarray(rsl.eigh_tridiagonal(d, e, eigvals_only=True)),
                                np.asarray(wj))


@pytest.mark.parametrize("args, kwargs", [
    ((np.ones(3, np.float32), np.ones(2, np.float64)), {}),
    ((np.ones(3, np.int32), np.ones(2, np.int32)), {}),
    ((np.ones(3, np.float32), np.ones(2, np.float32)), {"select": "v", "select_range": (0., 1.)}),
    ((np.ones(3, np.float32), np.ones(2, np.float32)), {"select": "i", "select_range": (2, 1)}),
    ((np.ones(3, np.float32), np.ones(2, np.float32)), {"select": "i"}),
    ((np.ones(3, np.float32), np.ones(2, np.float32)), {"select": "x"}),
])
def test_eigh_tridiagonal_errors_like_jax(args, kwargs):
  with x64_in_both():
    with pytest.raises(Exception) as want:
      jsl.eigh_tridiagonal(*args, **kwargs)
    with pytest.raises(type(want.value)):
      rsl.eigh_tridiagonal(*args, **kwargs)


# ---------------------------------------------------------------------------
# sturm_count: the kernel under eigh_tridiagonal's bisection


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 40), st.integers(1, 600), st.sampled_from([np.float32, np.float64]),
       seeds)
def test_sturm_count_equals_reference_and_dense_inertia(n, k, dt, seed):
  rng = np.random.default_rng(seed)
  alpha = rng.standard_normal(n).astype(dt)
  beta = rng.standard_normal(n - 1).astype(dt)
  if n > 2:
    beta[int(rng.integers(n - 1))] = 0   # a split: a zero pivot's neighbour
  beta_sq = (beta * beta).astype(dt)
  x = rng.uniform(-4, 4, k).astype(dt)
  x[: min(k, n)] = alpha[: min(k, n)]     # x == alpha[i]: exact zeros in the recurrence
  pivmin = np.full(k, np.finfo(dt).tiny * max(1, beta_sq.max(initial=0)), dt)
  a0 = np.full(k, (np.finfo(dt).eps * (abs(beta[0]) if n > 1 else 0)) ** 2, dt)
  with x64_in_both():
    got = np.asarray(sturm_count(alpha, beta_sq, pivmin, a0, x))
    jit_got = np.asarray(rjax.jit(sturm_count)(alpha, beta_sq, pivmin, a0, x))
  from rjax._src.lax.linalg import _sturm_count_ref
  want = _sturm_count_ref(alpha, beta_sq, pivmin, a0, x)
  assert got.dtype == np.int32 and got.shape == (k,)
  np.testing.assert_array_equal(got, want)
  np.testing.assert_array_equal(jit_got, got)
  # the count of eigenvalues below x, where x is not too close to one
  w = np.linalg.eigvalsh(_tri(alpha.astype(np.float64), beta.astype(np.float64)))
  far = np.abs(x[:, None] - w[None, :]).min(axis=1) > 1e-3
  np.testing.assert_array_equal(got[far], np.sum(w[None, :] < x[far, None], axis=1))


def test_sturm_count_vmap_and_errors():
  rng = np.random.default_rng(3)
  alpha, beta_sq = rng.standard_normal((3, 6)).astype(np.float32), \
      rng.uniform(0, 1, (3, 5)).astype(np.float32)
  x = rng.standard_normal((3, 4)).astype(np.float32)
  p = np.full((3, 4), 1e-30, np.float32)
  loop = np.stack([np.asarray(sturm_count(alpha[i], beta_sq[i], p[i], p[i], x[i]))
                   for i in range(3)])
  np.testing.assert_array_equal(np.asarray(rjax.vmap(sturm_count)(alpha, beta_sq, p, p, x)),
                                loop)
  shared = rjax.vmap(sturm_count, in_axes=(None, None, 0, 0, 0))(alpha[0], beta_sq[0], p, p, x)
  np.testing.assert_array_equal(
      np.asarray(shared),
      np.stack([np.asarray(sturm_count(alpha[0], beta_sq[0], p[i], p[i], x[i]))
                for i in range(3)]))
  # the counts are integers: no tangent flows through them
  g = rjax.grad(lambda x: rjax.numpy.sum(
      sturm_count(alpha[0], beta_sq[0], p[0], p[0], x).astype(np.float32) * x))(x[0])
  np.testing.assert_array_equal(
      np.asarray(g), np.asarray(sturm_count(alpha[0], beta_sq[0], p[0], p[0], x[0])))
  with pytest.raises(TypeError):
    sturm_count(alpha[0], beta_sq[0, :4], p[0], p[0], x[0])
  with pytest.raises(TypeError):
    sturm_count(alpha[0], beta_sq[0], p[0, :3], p[0], x[0])
  with pytest.raises(TypeError):
    sturm_count(alpha[0].astype(np.int32), beta_sq[0], p[0], p[0], x[0])
