"""lax.linalg.eig, jnp.linalg.eig/eigvals, jnp.roots/polyfit/poly: values
against NumPy and JAX over hypothesis-drawn shapes and dtypes (real and
complex), LAPACK's eigenvector normalisation, degenerate inputs, exception
types, jit = eager, vmap = a loop, and float64 numerical derivatives."""

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax.lax import linalg as rl
from rjax.test_util import check_grads
from util import enable_x64
from util_linalg_decomp import shapes, x64_for
from util_vs_jax import same_exception, x64_in_both

jl = jax.lax.linalg



seeds = st.integers(0, 2**31 - 1)
DTYPES = [np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128)]
TOL = {"f": 2e-3, "d": 1e-9, "F": 2e-3, "D": 1e-9}


def _x64(dt):
  return x64_for(np.float64 if np.dtype(dt).char in "dD" else np.float32)


def _mat(seed, shape, dt):
  rng = np.random.default_rng(seed)
  a = rng.standard_normal(shape)
  if np.dtype(dt).kind == "c":
    a = a + 1j * rng.standard_normal(shape)
  return a.astype(dt)


def _sorted(w):
  w = np.asarray(w)
  return np.sort_complex(np.round(w, 6)) if w.size else w


def _cdt(dt):
  return np.dtype(np.complex128 if np.dtype(dt).char in "dD" else np.complex64)


@settings(deadline=None)
@given(shapes(max_side=6), st.sampled_from(DTYPES), seeds)
def test_eig_values_vectors_and_normalisation(shape, dt, seed):
  batch, n, _ = shape
  a = _mat(seed, batch + (n, n), dt)
  tol = TOL[np.dtype(dt).char]
  with _x64(dt):
    w, vl, vr = (np.asarray(x) for x in rl.eig(a))
  assert w.dtype == vl.dtype == vr.dtype == _cdt(dt)
  assert w.shape == batch + (n,) and vl.shape == vr.shape == a.shape
  a64 = a.astype(np.complex128)
  scale = 1 + np.abs(a64).sum(axis=(-2, -1), keepdims=True)
  # a vr = vr diag(w); vl^H a = diag(w) vl^H
  np.testing.assert_allclose(a64 @ vr, vr * w[..., None, :], atol=tol * scale.max() * 10)
  np.testing.assert_allclose(np.conj(np.swapaxes(vl, -1, -2)) @ a64,
                             w[..., :, None] * np.conj(np.swapaxes(vl, -1, -2)),
                             atol=tol * scale.max() * 10)
  # unit norm, largest component real (LAPACK's geev)
  for v in (vl, vr):
    if v.size:
      np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1, rtol=tol)
      k = np.argmax(np.abs(v), axis=-2)[..., None, :]
      assert np.all(np.abs(np.take_along_axis(v, k, -2).imag) <= tol)
  for i in np.ndindex(*batch):
    np.testing.assert_allclose(_sorted(w[i]), _sorted(np.linalg.eigvals(a64[i])),
                               atol=tol * scale.max() * 10)


def test_eig_of_a_real_matrix_gives_exact_conjugate_pairs():
  a = np.array([[0., -1., 0.], [1., 0., 0.], [0., 0., 2.]], np.float32)
  w = np.asarray(rl.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0])
  wj = np.asarray(jl.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0])
  assert w.dtype == np.complex64
  np.testing.assert_allclose(w, wj, atol=1e-6)
  real = w[np.isreal(w)]
  assert real.size == 1 and real[0] == 2
  pair = w[~np.isreal(w)]
  assert pair[0] == np.conj(pair[1])


def test_eig_flags_select_the_outputs_like_jax():
  a = _mat(0, (3, 3), np.float32)
  for left in (False, True):
    for right in (False, True):
      got = rl.eig(a, compute_left_eigenvectors=left, compute_right_eigenvectors=right)
      want = jl.eig(a, compute_left_eigenvectors=left, compute_right_eigenvectors=right)
      assert len(got) == len(want)
      assert [x.shape for x in got] == [x.shape for x in want]
      assert [x.dtype for x in got] == [x.dtype for x in want]


def test_eig_of_a_matrix_with_distinct_real_eigenvalues_like_numpy():
  a = np.array([[4., 1., 2.], [0.5, 3., 1.], [0.2, 0.1, 1.]], np.float64)
  with enable_x64():
    w, vr = (np.asarray(x) for x in rl.eig(a, compute_left_eigenvectors=False))
  wn, vn = np.linalg.eig(a)
  assert np.all(w.imag == 0) and np.all(vr.imag == 0)
  order, order_n = np.argsort(w.real), np.argsort(wn)
  np.testing.assert_allclose(w.real[order], wn[order_n], rtol=1e-12)
  # real eigenvectors: LAPACK's up to sign
  np.testing.assert_allclose(np.abs(vr.real[:, order]), np.abs(vn[:, order_n]), rtol=1e-10)


def test_eig_degenerate_inputs_like_jax():
  for a in (np.zeros((0, 0), np.float32), np.zeros((2, 0, 0), np.float32)):
    got, want = rl.eig(a), jl.eig(a)
    assert [(x.shape, x.dtype) for x in got] == [(x.shape, x.dtype) for x in want]
  nan = np.array([[[np.nan, 1.], [0., 1.]], [[2., 0.], [0., 3.]]], np.float32)
  w, vl, vr = (np.asarray(x) for x in rl.eig(nan))
  assert np.isnan(w[0]).all() and np.isnan(vl[0]).all() and np.isnan(vr[0]).all()
  np.testing.assert_allclose(np.sort(w[1].real), [2, 3])
  np.testing.assert_allclose(rl.eig(np.eye(3, dtype=np.float32))[0], np.ones(3))


def test_eig_errors_like_jax():
  for a in (np.ones((2, 3), np.float32), np.ones((3,), np.float32), np.ones((2, 2), np.int32)):
    same_exception(lambda: rl.eig(a), lambda: jl.eig(a))


def test_eig_jit_and_vmap():
  a = _mat(1, (4, 3, 3), np.float32)
  eager = rl.eig(a)
  jitted = rjax.jit(rl.eig)(a)
  for x, y in zip(eager, jitted):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  mapped = rjax.vmap(lambda m: jnp.linalg.eigvals(m), in_axes=1)(np.swapaxes(a, 0, 1))
  loop = np.stack([np.asarray(jnp.linalg.eigvals(m)) for m in a])
  np.testing.assert_allclose(np.asarray(mapped), loop, rtol=1e-6)


@pytest.mark.parametrize("dt", [np.float64, np.complex128])
def test_eigvals_jvp_against_jax_and_numerical(dt):
  a = _mat(3, (4, 4), dt)
  da = _mat(4, (4, 4), dt)
  with x64_in_both():
    w, dw = rjax.jvp(jnp.linalg.eigvals, (a,), (da,))
    wj, dwj = jax.jvp(jjnp.linalg.eigvals, (a,), (da,))
    order, order_j = np.argsort(np.asarray(w).real), np.argsort(np.asarray(wj).real)
    np.testing.assert_allclose(np.asarray(w)[order], np.asarray(wj)[order_j], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(dw)[order], np.asarray(dwj)[order_j], rtol=1e-8,
                               atol=1e-10)
    # a real function of the eigenvalues (invariant to their order)
    # a real function of the eigenvalues (invariant to their order), of real
    # inputs (the real and imaginary parts for a complex matrix)
    f = lambda re, im: jnp.sum(jnp.abs(jnp.linalg.eigvals(re + 1j * im)) ** 2)  # noqa: E731
    check_grads(f, (a.real.copy(), a.imag.copy()), order=1, modes=("fwd", "rev"), atol=1e-5,
                rtol=1e-5)


def test_eig_eigenvector_jvp_needs_opt_in_and_matches_numerical():
  a = _mat(5, (3, 3), np.float64) + np.diag([0., 3., 6.])
  with enable_x64():
    with pytest.raises(NotImplementedError, match="enable_eigvec_derivs"):
      rjax.jvp(lambda m: rl.eig(m)[2], (a,), (a,))

    def f(m):
      w, vr = rl.eig(m, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
      return jnp.abs(vr) ** 2 + jnp.real(w)[None, :]
    check_grads(f, (a,), order=1, modes=("fwd",), atol=1e-5, rtol=1e-5)


def test_jnp_linalg_eig_and_eigvals_like_jax():
  a = np.array([[1, 2], [3, 4]], np.int32)
  w, v = jnp.linalg.eig(a)
  wj, vj = jjnp.linalg.eig(a)
  assert w.dtype == wj.dtype and v.dtype == vj.dtype
  np.testing.assert_allclose(np.sort_complex(np.asarray(w)), np.sort_complex(np.asarray(wj)),
                             rtol=1e-5)
  assert type(jnp.linalg.eig(a)).__name__ == "EigResult"
  np.testing.assert_allclose(np.sort_complex(np.asarray(jnp.linalg.eigvals(a))),
                             np.sort_complex(np.asarray(jjnp.linalg.eigvals(a))), rtol=1e-5)


# ---------------------------------------------------------------------------
# roots, polyfit, poly


@settings(deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=0, max_size=7), st.integers(0, 2))
def test_roots_like_numpy_and_jax(coefs, zeros):
  p = np.array([0] * zeros + coefs, np.float32)
  got = np.asarray(jnp.roots(p))
  want = np.asarray(jjnp.roots(p))
  assert got.dtype == want.dtype and got.shape == want.shape
  if got.size and np.all(np.isfinite(want)):
    np.testing.assert_allclose(_sorted(got), _sorted(want), atol=2e-2 * (1 + np.abs(want).max()))
  nz = np.asarray(jnp.roots(p, strip_zeros=False))
  nzj = np.asarray(jjnp.roots(p, strip_zeros=False))
  assert nz.shape == nzj.shape and nz.dtype == nzj.dtype
  np.testing.assert_array_equal(np.isnan(nz), np.isnan(nzj))


def test_roots_under_jit_needs_strip_zeros_false():
  p = np.array([0., 1., -3., 2.], np.float32)
  with pytest.raises(rjax.errors.ConcretizationTypeError):
    rjax.jit(jnp.roots)(p)
  got = rjax.jit(lambda p: jnp.roots(p, strip_zeros=False))(p)
  want = jjnp.roots(p, strip_zeros=False)
  np.testing.assert_array_equal(np.isnan(np.asarray(got)), np.isnan(np.asarray(want)))
  np.testing.assert_allclose(np.sort(np.asarray(got)[:2].real), [1, 2], rtol=1e-5)
  with pytest.raises(ValueError):
    jnp.roots(np.ones((2, 2)))


@pytest.mark.parametrize("deg", [0, 1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_polyfit_like_numpy(deg, weighted):
  rng = np.random.default_rng(deg)
  x = np.linspace(-1, 1, 12)
  y = np.stack([np.polyval(rng.standard_normal(deg + 1), x) + 0.01 * rng.standard_normal(12),
                x ** 2], axis=1)
  w = rng.uniform(0.5, 2, 12) if weighted else None
  with x64_in_both():
    for yy in (y[:, 0], y):
      got = jnp.polyfit(x, yy, deg, w=w)
      np.testing.assert_allclose(got, np.polyfit(x, yy, deg, w=w), rtol=1e-8, atol=1e-10)
      c, res, rank, sv, rcond = jnp.polyfit(x, yy, deg, w=w, full=True)
      cn, resn, rankn, svn, rcondn = np.polyfit(x, yy, deg, w=w, full=True)
      np.testing.assert_allclose(c, cn, rtol=1e-8, atol=1e-10)
      np.testing.assert_allclose(res, resn, rtol=1e-6, atol=1e-12)
      assert int(rank) == rankn
      np.testing.assert_allclose(rcond, rcondn)
      c, cov = jnp.polyfit(x, yy, deg, w=w, cov=True)
      cj, covj = jax.jit(jjnp.polyfit, static_argnames=("deg", "cov"))(x, yy, deg=deg, cov=True,
                                                                      w=w)
      np.testing.assert_allclose(cov, covj, rtol=1e-6, atol=1e-12)
      c, cov = jnp.polyfit(x, yy, deg, w=w, cov="unscaled")
      np.testing.assert_allclose(cov, np.polyfit(x, yy, deg, w=w, cov="unscaled")[1], rtol=1e-6,
                                 atol=1e-12)


def test_polyfit_errors_like_jax():
  x = np.arange(4.)
  for args in ((x, x, -1), (x[:, None], x, 1), (np.zeros(0), np.zeros(0), 1),
               (x, np.zeros((4, 1, 1)), 1), (x, x[:3], 1)):
    same_exception(lambda: jnp.polyfit(*args), lambda: jjnp.polyfit(*args))


def test_poly_of_a_square_matrix_uses_its_eigenvalues():
  a = np.array([[1., 2.], [3., 4.]], np.float32)
  np.testing.assert_allclose(jnp.poly(a), np.poly(a), rtol=1e-5)
  assert jnp.poly(a).dtype == jjnp.poly(a).dtype
