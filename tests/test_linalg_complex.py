"""The decompositions and solvers on complex64/complex128 inputs: values
against NumPy/SciPy over hypothesis-drawn shapes, dtypes as JAX's, and the
JVPs (written with conjugate transposes) against float64 numerical
derivatives."""
import jax
import numpy as np
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
import rjax.scipy.linalg as rsl
from rjax.lax import linalg as rl
from rjax.test_util import check_grads
from util import enable_x64
from util_linalg_decomp import shapes, x64_for

seeds = st.integers(0, 2**31 - 1)
CDTYPES = [np.dtype(np.complex64), np.dtype(np.complex128)]
TOL = {np.dtype(np.complex64): 3e-4, np.dtype(np.complex128): 1e-10}


def _x64(dt):
  return x64_for(np.float64 if np.dtype(dt) == np.complex128 else np.float32)


def _c(seed, shape, dt):
  rng = np.random.default_rng(seed)
  return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)


def _hpd(seed, batch, n, dt):
  a = _c(seed, batch + (n, n), np.complex128)
  return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dt)


def _close(got, want, dt, scale=1.0):
  t = TOL[np.dtype(dt)] * scale
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=t, atol=t)


@settings(deadline=None)
@given(shapes(max_side=5), st.sampled_from(CDTYPES), seeds)
def test_complex_cholesky_inv_det_solve(shape, dt, seed):
  batch, n, _ = shape
  a = _hpd(seed, batch, n, dt)
  b = _c(seed + 1, batch + (n, 2), dt)
  a128 = a.astype(np.complex128)
  with _x64(dt):
    L = rl.cholesky(a)
    assert L.dtype == dt
    if a.size:
      _close(L, np.linalg.cholesky(a128), dt, 10)
      _close(jnp.linalg.inv(a), np.linalg.inv(a128), dt, 10)
      _close(jnp.linalg.det(a), np.linalg.det(a128), dt, 10 * (1 + np.abs(np.linalg.det(a128)).max()))
      _close(jnp.linalg.solve(a, b), np.linalg.solve(a128, b), dt, 10)
      sign, logdet = jnp.linalg.slogdet(a)
      ws, wl = np.linalg.slogdet(a128)
      _close(sign, ws, dt, 10)
      _close(logdet, wl, dt, 10)


@settings(deadline=None)
@given(shapes(square=False, max_side=5), st.sampled_from(CDTYPES), seeds)
def test_complex_qr_svd_lu(shape, dt, seed):
  batch, m, n = shape
  a = _c(seed, batch + (m, n), dt)
  with _x64(dt):
    q, r = rl.qr(a, full_matrices=False)
    assert q.dtype == r.dtype == dt
    _close(np.asarray(q) @ np.asarray(r), a, dt, 10)
    k = min(m, n)
    _close(np.conj(np.swapaxes(q, -1, -2)) @ np.asarray(q), np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), dt, 10)
    s = jnp.linalg.svd(a, compute_uv=False)
    assert s.dtype == np.finfo(dt).dtype
    if a.size:
      _close(s, np.linalg.svd(a.astype(np.complex128), compute_uv=False), dt, 10)
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    _close((np.asarray(u) * np.asarray(s)[..., None, :]) @ np.asarray(vh), a, dt, 10)
    lu, piv, perm = rl.lu(a)
    assert lu.dtype == dt
    for i in np.ndindex(*batch):
      if m and n:
        p, l, uu = scipy.linalg.lu(a[i].astype(np.complex128))
        lu_i = np.asarray(lu)[i]
        _close(np.tril(lu_i, -1)[:, :k] + np.eye(m, k), l, dt, 10)
        _close(np.triu(lu_i)[:k], uu, dt, 10)


@settings(deadline=None)
@given(shapes(max_side=5), st.sampled_from(CDTYPES), seeds)
def test_complex_eigh(shape, dt, seed):
  batch, n, _ = shape
  a = _c(seed, batch + (n, n), dt)
  a = (a + np.conj(np.swapaxes(a, -1, -2))) / 2
  with _x64(dt):
    v, w = rl.eigh(a)
    assert v.dtype == dt and w.dtype == np.finfo(dt).dtype
    if a.size:
      _close(w, np.linalg.eigvalsh(a.astype(np.complex128)), dt, 10)
      _close(a @ np.asarray(v), np.asarray(v) * np.asarray(w)[..., None, :], dt, 20)


def test_complex_eigh_ignores_the_imaginary_part_of_the_diagonal():
  a = np.array([[2 + 5j, 1 - 1j], [1 + 1j, 3 - 7j]], np.complex64)
  w = np.asarray(rl.eigh(a, symmetrize_input=False)[1])
  np.testing.assert_allclose(w, np.linalg.eigvalsh(a), rtol=1e-5)
  wj = np.asarray(jax.lax.linalg.eigh(a, symmetrize_input=False)[1])
  np.testing.assert_allclose(w, wj, rtol=1e-5)


@given(st.sampled_from(CDTYPES), st.booleans(), st.booleans(), st.booleans(), seeds)
def test_complex_triangular_solve(dt, left, lower, conj, seed):
  n = 4
  a = _c(seed, (n, n), dt) + 4 * np.eye(n)
  b = _c(seed + 1, (n, 3) if left else (3, n), dt)
  with _x64(dt):
    for trans in (0, 1, 2):
      got = rsl.solve_triangular(a, b, trans=trans, lower=lower) if left else None
      if left:
        op = a.T if trans == 1 else np.conj(a.T) if trans == 2 else a
        tri = np.tril(a) if lower else np.triu(a)
        op = tri.T if trans == 1 else np.conj(tri.T) if trans == 2 else tri
        _close(got, np.linalg.solve(op.astype(np.complex128), b), dt, 10)
    x = rl.triangular_solve(a, b, left_side=left, lower=lower, transpose_a=True, conjugate_a=conj)
    tri = np.tril(a) if lower else np.triu(a)
    op = np.conj(tri.T) if conj else tri.T
    want = np.linalg.solve(op, b) if left else np.linalg.solve(op.T, b.T).T
    _close(x, want, dt, 10)


def test_complex_jvps_against_numerical_derivatives():
  a = _hpd(0, (), 3, np.complex128)
  g = _c(1, (3, 3), np.complex128)
  with enable_x64():
    check_grads(lambda m: jnp.linalg.inv(m), (a,), order=1, modes=("fwd",), atol=1e-5,
                rtol=1e-5)
    # reverse mode through a real function of the real and imaginary parts
    check_grads(lambda re, im: jnp.sum(jnp.abs(jnp.linalg.inv(re + 1j * im)) ** 2),
                (a.real.copy(), a.imag.copy()), order=1, modes=("rev",), atol=1e-5, rtol=1e-5)
    check_grads(lambda m: jnp.linalg.det(m), (a + 0.1 * g,), order=1, modes=("fwd",),
                atol=1e-5, rtol=1e-5)
    check_grads(lambda m: rl.cholesky(m), (a,), order=1, modes=("fwd",), atol=1e-5,
                rtol=1e-5)
    check_grads(lambda m: jnp.linalg.solve(m, g), (a,), order=1, modes=("fwd",),
                atol=1e-5, rtol=1e-5)
    check_grads(lambda m: jnp.linalg.slogdet(m)[1], (a + 0.1 * g,), order=1, modes=("fwd",),
                atol=1e-5, rtol=1e-5)
    check_grads(lambda m: jnp.linalg.eigh(m)[0], (a,), order=1, modes=("fwd",), atol=1e-5,
                rtol=1e-5)


def test_complex_vmap_and_jit():
  a = _hpd(2, (4,), 3, np.complex64)
  loop = np.stack([np.asarray(jnp.linalg.inv(m)) for m in a])
  np.testing.assert_allclose(np.asarray(rjax.vmap(jnp.linalg.inv)(a)), loop, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(np.asarray(rjax.jit(rl.cholesky)(a)), np.asarray(rl.cholesky(a)))
