"""rjax.numpy.linalg's decompositions and solvers against NumPy and JAX:
values over hypothesis shapes/dtypes, singular and ill-conditioned inputs
as JAX gives them, exception types, jit/vmap, and float64 gradients."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax.test_util import check_grads
from util import enable_x64
from util_linalg_decomp import (FLOATS, close, rand, shapes, spd, sym, well_conditioned, x64_for)
from util_vs_jax import same_exception

seeds = st.integers(0, 2**31 - 1)
L, JL = jnp.linalg, jjnp.linalg


@given(shapes(), st.sampled_from(FLOATS), seeds, st.booleans())
def test_solve_inv_det_slogdet(shape, dt, seed, vec):
  batch, n, _ = shape
  a = well_conditioned(seed, batch, n, dt)
  b = rand(seed + 1, (n,) if vec else batch + (n, 2), dt)   # a vector b broadcasts
  a64 = a.astype(np.float64)
  with x64_for(dt):
    x = np.asarray(L.solve(a, b))
    inv = np.asarray(L.inv(a))
    det = np.asarray(L.det(a))
    sign, logdet = (np.asarray(t) for t in L.slogdet(a))
  assert x.dtype == dt and inv.dtype == dt and det.dtype == dt
  want = np.linalg.solve(a64, b) if a.size else np.zeros(x.shape)
  close(x, want, dt, scale=10)
  close(inv, np.linalg.inv(a64) if a.size else a, dt, scale=10)
  s_np, l_np = np.linalg.slogdet(a64)
  close(sign, s_np, dt)
  close(logdet, l_np, dt, scale=10)
  close(det, np.linalg.det(a64), dt, scale=100 * max(1, np.max(np.abs(np.linalg.det(a64)), initial=1)))


def test_singular_matrices_like_jax():
  for a in [np.zeros((2, 2), np.float32), np.zeros((4, 4), np.float32),
            np.array([[1., 2, 3], [2, 4, 6], [1, 0, 1]], np.float32)]:
    for f in (lambda m: m.det(a), lambda m: m.slogdet(a), lambda m: m.inv(a),
              lambda m: m.solve(a, np.ones(a.shape[0], np.float32))):
      got, want = f(L), f(JL)
      for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(np.isfinite(g), np.isfinite(w))
        np.testing.assert_allclose(g[np.isfinite(g)], w[np.isfinite(w)], rtol=1e-4, atol=1e-5)


@given(shapes(square=False, max_side=6), st.sampled_from(FLOATS), seeds)
def test_pinv_lstsq_rank_svdvals_norms(shape, dt, seed):
  batch, m, n = shape
  a = rand(seed, batch + (m, n), dt)
  a64 = a.astype(np.float64)
  with x64_for(dt):
    close(L.pinv(a), np.linalg.pinv(a64) if a.size else np.zeros(batch + (n, m)), dt, scale=100)
    close(L.svdvals(a), np.linalg.svd(a64, compute_uv=False) if a.size else
          np.zeros(batch + (min(m, n),)), dt, scale=10)
    if a.size:
      np.testing.assert_array_equal(L.matrix_rank(a), np.linalg.matrix_rank(a64))
      for ordr in (2, -2, "nuc"):
        close(L.norm(a, ord=ordr, axis=(-2, -1)), np.linalg.norm(a64, ord=ordr, axis=(-2, -1)),
              dt, scale=10)
    if not batch and a.size:
      b = rand(seed + 1, (m,), dt)
      x, resid, rank, s = L.lstsq(a, b)
      xw, rw, rankw, sw = np.linalg.lstsq(a64, b.astype(np.float64), rcond=None)
      close(x, xw, dt, scale=100)
      assert int(rank) == rankw


def test_rank_deficient_and_cond_like_jax():
  a = np.array([[1., 2], [2, 4]], np.float32)
  assert int(L.matrix_rank(a)) == int(JL.matrix_rank(a)) == 1
  np.testing.assert_allclose(L.cond(rand(0, (3, 3), np.float32)),
                             JL.cond(rand(0, (3, 3), np.float32)), rtol=1e-4)
  assert np.isinf(np.asarray(L.cond(np.zeros((2, 2), np.float32), p=1))) == \
      np.isinf(np.asarray(JL.cond(np.zeros((2, 2), np.float32), p=1)))


@given(shapes(max_side=5), st.sampled_from(FLOATS), seeds)
def test_eigh_cholesky_qr_svd_wrappers(shape, dt, seed):
  batch, n, _ = shape
  a = sym(seed, batch, n, dt)
  p = spd(seed, batch, n, dt)
  with x64_for(dt):
    w, v = L.eigh(a)
    close(L.eigvalsh(a), w, dt)
    close(np.asarray(v) @ (np.asarray(w)[..., :, None] * np.swapaxes(np.asarray(v), -1, -2)), a,
          dt, scale=10)
    close(np.asarray(L.cholesky(p, upper=True)), np.swapaxes(np.asarray(L.cholesky(p)), -1, -2),
          dt)
    q, r = L.qr(a)
    close(np.asarray(q) @ np.asarray(r), a, dt, scale=10)
    assert L.qr(a, mode="r").shape == r.shape
    u, s, vh = L.svd(a, hermitian=True)
    close(s, np.abs(np.linalg.eigvalsh(a.astype(np.float64)))[..., ::-1].copy().__array__()
          if False else np.sort(np.abs(np.asarray(w)), axis=-1)[..., ::-1], dt, scale=10)
    close((np.asarray(u) * np.asarray(s)[..., None, :]) @ np.asarray(vh), a, dt, scale=10)


@given(st.integers(-3, 6), st.sampled_from(FLOATS), seeds)
def test_matrix_power(k, dt, seed):
  a = well_conditioned(seed, (2,), 3, dt) / 4
  with x64_for(dt):
    close(L.matrix_power(a, k), np.linalg.matrix_power(a.astype(np.float64), k), dt, scale=100)


def test_multi_dot_tensorsolve_tensorinv_cross():
  arrs = [rand(i, s, np.float32) for i, s in enumerate([(3,), (3, 4), (4, 5), (5,)])]
  np.testing.assert_allclose(L.multi_dot(arrs), np.linalg.multi_dot(arrs), rtol=1e-5)
  arrs2 = [rand(i, s, np.float32) for i, s in enumerate([(2, 3), (3, 4), (4, 2)])]
  np.testing.assert_allclose(L.multi_dot(arrs2), np.linalg.multi_dot(arrs2), rtol=1e-5)
  a = well_conditioned(0, (), 6, np.float32).reshape(2, 3, 6)
  b = rand(1, (2, 3), np.float32)
  np.testing.assert_allclose(L.tensorsolve(a, b), np.linalg.tensorsolve(a, b), rtol=1e-4,
                             atol=1e-5)
  t = well_conditioned(0, (), 6, np.float32).reshape(6, 2, 3)
  np.testing.assert_allclose(L.tensorinv(t, ind=1), np.linalg.tensorinv(t, ind=1), rtol=1e-4,
                             atol=1e-5)
  x, y = rand(0, (4, 3), np.float32), rand(1, (4, 3), np.float32)
  np.testing.assert_allclose(L.cross(x, y), np.cross(x, y), rtol=1e-6)


BAD = [
    lambda m: m.linalg.solve(np.ones((2, 3), np.float32), np.ones(2, np.float32)),
    lambda m: m.linalg.solve(np.ones(2, np.float32), np.ones(2, np.float32)),
    lambda m: m.linalg.solve(np.eye(3, dtype=np.float32), np.ones(2, np.float32)),
    lambda m: m.linalg.inv(np.ones((2, 3), np.float32)),
    lambda m: m.linalg.inv(np.eye(2, dtype=np.float16)),
    lambda m: m.linalg.det(np.ones((2, 3), np.float32)),
    lambda m: m.linalg.slogdet(np.ones(3, np.float32)),
    lambda m: m.linalg.matrix_power(np.ones((2, 3), np.float32), 2),
    lambda m: m.linalg.matrix_power(np.ones((2, 2), np.float32), 1.5),
    lambda m: m.linalg.eigh(np.eye(2, dtype=np.float32), UPLO="X"),
    lambda m: m.linalg.qr(np.eye(2, dtype=np.float32), mode="bad"),
    lambda m: m.linalg.multi_dot([np.ones(2, np.float32)]),
    lambda m: m.linalg.cond(np.ones(3, np.float32)),
    lambda m: m.linalg.tensorinv(np.ones((2, 3), np.float32), ind=1),
    lambda m: m.linalg.lstsq(np.ones((3, 2), np.float32), np.ones(2, np.float32)),
    lambda m: m.linalg.norm(np.ones((2, 2), np.float32), ord=3),
    lambda m: m.linalg.pinv(np.ones((2, 2), np.float32), rtol=0.1, rcond=0.1),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_input_raises_jax_exception_type(i):
  same_exception(lambda: np.asarray(BAD[i](jnp)), lambda: np.asarray(BAD[i](jjnp)))


def test_jit_and_vmap():
  a = well_conditioned(0, (3,), 4, np.float32)
  b = rand(1, (3, 4), np.float32)
  for f in (L.solve, lambda x, y: L.inv(x) @ y, lambda x, y: L.det(x) * y,
            lambda x, y: L.slogdet(x)[1] * y, lambda x, y: L.pinv(x) @ y,
            lambda x, y: L.eigh(x + x.T)[0] * y, lambda x, y: L.svd(x)[1] * y):
    loop = np.stack([np.asarray(f(a[i], b[i])) for i in range(3)])
    jitted = np.stack([np.asarray(rjax.jit(f)(a[i], b[i])) for i in range(3)])
    np.testing.assert_allclose(jitted, loop, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(rjax.vmap(f)(a, b)), loop, rtol=1e-4, atol=1e-5)


GRADS = {
    "solve_a": (lambda x: L.solve(x + 4 * jnp.eye(3), jnp.arange(3.0)), (3, 3)),
    "solve_b": (lambda x: L.solve(jnp.array([[3., 1, 0], [1, 4, 1], [0, 1, 5]]), x), (3, 2)),
    "inv": (lambda x: L.inv(x + 4 * jnp.eye(3)), (3, 3)),
    "det2": (L.det, (2, 2)),
    "det3": (L.det, (3, 3)),
    "det5": (L.det, (5, 5)),
    "slogdet": (lambda x: L.slogdet(x + 5 * jnp.eye(4))[1], (4, 4)),
    "slogdet2": (lambda x: L.slogdet(x + 3 * jnp.eye(2))[1], (2, 2)),
    "pinv": (L.pinv, (4, 3)),
    "pinv_wide": (L.pinv, (2, 3)),
    "cholesky": (lambda x: L.cholesky(x @ x.T + 3 * jnp.eye(3)), (3, 3)),
    "eigvalsh": (lambda x: L.eigvalsh(x + x.T), (3, 3)),
    "svdvals": (L.svdvals, (3, 4)),
    "norm2": (lambda x: L.norm(x, 2), (3, 4)),
    "nuc": (lambda x: L.norm(x, "nuc"), (3, 2)),
    "lstsq": (lambda x: L.lstsq(x, jnp.arange(4.0))[0], (4, 2)),
    "matrix_power": (lambda x: L.matrix_power(x + 3 * jnp.eye(3), -2), (3, 3)),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_numerically(name):
  f, shape = GRADS[name]
  with enable_x64():
    x = jnp.asarray(np.random.default_rng(1).standard_normal(shape))
    order = 1 if name in ("pinv", "pinv_wide", "lstsq", "svdvals", "norm2", "nuc") else 2
    check_grads(f, (x,), order=order, modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


def test_det_of_a_singular_matrix_has_jax_gradient():
  a = np.array([[1., 2, 3, 0], [2, 4, 6, 0], [1, 0, 1, 0], [0, 0, 0, 1]], np.float32)
  np.testing.assert_allclose(np.asarray(rjax.grad(L.det)(jnp.asarray(a))),
                             np.asarray(jax.grad(JL.det)(jjnp.asarray(a))), rtol=1e-4, atol=1e-5)
