"""QR with column pivoting (``lax.linalg.qr(x, pivoting=True)``,
``jax.scipy.linalg.qr``/``qr_multiply`` with ``pivoting=True``) against JAX
0.10.2 and SciPy (LAPACK's geqp3): the permutation equal to JAX's on
well-separated matrices, ``x[..., p] = q r`` with q orthonormal and |diag r|
non-increasing over hypothesis-drawn shapes (m < n, m > n, batches, empty),
jit, vmap, and derivatives against numerical differentiation."""
import jax
import jax.numpy as jjnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest
import scipy.linalg
from hypothesis import assume, given, settings, strategies as st

import rjax
import rjax.scipy.linalg as rsl
from rjax.lax import linalg as rl
from rjax.test_util import check_grads
from util import enable_x64
from util_linalg_decomp import shapes
from util_vs_jax import x64_in_both

jl = jax.lax.linalg
seeds = st.integers(0, 2**31 - 1)
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def _rand(seed, shape, dt):
  rng = np.random.default_rng(seed)
  a = rng.standard_normal(shape)
  if np.issubdtype(dt, np.complexfloating):
    a = a + 1j * rng.standard_normal(shape)
  # columns of different scales (as in rank-revealing uses)
  return (a * rng.uniform(0.1, 3.0, shape[-1:])).astype(dt)


def _pivot_margin(a):
  """The smallest relative gap, over geqp3's steps, between the norm of the
  chosen column and the next largest (float64 Gram-Schmidt): pivots are
  well separated when this is not tiny."""
  a = np.array(a, np.complex128)
  m, n = a.shape
  margin = np.inf
  for k in range(min(m, n)):
    norms = np.linalg.norm(a[k:, k:], axis=0)
    order = np.sort(norms)[::-1]
    if len(order) > 1 and order[0] > 0:
      margin = min(margin, (order[0] - order[1]) / order[0])
    j = k + int(np.argmax(norms))
    a[:, [k, j]] = a[:, [j, k]]
    v = a[k:, k] / np.linalg.norm(a[k:, k])
    a[k:, k:] -= np.outer(v, v.conj() @ a[k:, k:])
  return margin


def _check_factors(a, q, r, p, full, dt):
  batch, (m, n) = a.shape[:-2], a.shape[-2:]
  k = m if full else min(m, n)
  assert q.shape == batch + (m, k) and r.shape == batch + (k, n) and p.shape == batch + (n,)
  assert q.dtype == a.dtype and r.dtype == a.dtype and p.dtype == np.int32
  t = 2e-3 if np.dtype(dt) in (np.dtype(np.float32), np.dtype(np.complex64)) else 1e-9
  for idx in np.ndindex(*batch):
    np.testing.assert_array_equal(np.sort(p[idx]), np.arange(n))
    np.testing.assert_allclose(q[idx] @ r[idx], a[idx][:, p[idx]], rtol=t, atol=t)
    np.testing.assert_allclose(q[idx].conj().T @ q[idx], np.eye(k), rtol=t, atol=t)
    np.testing.assert_array_equal(np.tril(r[idx], -1), 0)
    d = np.abs(np.diagonal(r[idx]))
    assert np.all(np.diff(d) <= t * (1 + d[:-1])), d   # non-increasing
    if np.issubdtype(dt, np.complexfloating):
      np.testing.assert_array_equal(np.diagonal(r[idx]).imag, 0)   # LAPACK's convention


@settings(deadline=None)
@given(shapes(square=False, min_side=1, max_side=7), st.sampled_from(DTYPES), st.booleans(),
       seeds)
def test_pivoted_qr_values_and_jax_permutation(shape, dt, full, seed):
  batch, m, n = shape
  a = _rand(seed, batch + (m, n), dt)
  assume(all(_pivot_margin(a[idx]) > 1e-3 for idx in np.ndindex(*batch)))
  with x64_in_both():
    q, r, p = (np.asarray(v) for v in rl.qr(a, pivoting=True, full_matrices=full))
    jq, jr, jp = (np.asarray(v) for v in jl.qr(a, pivoting=True, full_matrices=full))
  _check_factors(a, q, r, p, full, dt)
  np.testing.assert_array_equal(p, jp)
  if a.size:
    # LAPACK's geqp3 through SciPy: the same permutation
    sp = np.stack([scipy.linalg.qr(a[idx], pivoting=True)[2] for idx in np.ndindex(*batch)]) \
        if batch else scipy.linalg.qr(a, pivoting=True)[2]
    np.testing.assert_array_equal(p, np.reshape(sp, p.shape))
  # the factors themselves are LAPACK's (complex: r's diagonal real)
  tol = 2e-4 if np.dtype(dt) in (np.dtype(np.float32), np.dtype(np.complex64)) else 1e-10
  np.testing.assert_allclose(q, jq, rtol=tol, atol=tol)
  np.testing.assert_allclose(r, jr, rtol=tol, atol=tol)


def test_pivoted_qr_of_empty_matrices_like_jax():
  for shape in [(0, 3), (3, 0), (2, 0, 0), (0, 0), (2, 0, 4)]:
    for full in (True, False):
      a = np.ones(shape, np.float32)
      got = rl.qr(a, pivoting=True, full_matrices=full)
      want = jl.qr(a, pivoting=True, full_matrices=full)
      for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_pivoted_qr_takes_the_largest_column_first():
  a = np.array([[1., 3., 0.], [0., 4., 2.], [0., 0., 2.]], np.float32)
  q, r, p = rl.qr(a, pivoting=True)
  assert np.asarray(p)[0] == 1
  np.testing.assert_array_equal(np.asarray(p), np.asarray(jl.qr(a, pivoting=True)[2]))
  # a rank-deficient matrix: the zero column last, a zero at the end of diag(r)
  z = np.array([[1., 0., 2.], [2., 0., 4.], [0., 0., 1.]])
  with x64_in_both():
    _, r, p = rl.qr(z, pivoting=True)
    np.testing.assert_array_equal(np.asarray(p), np.asarray(jl.qr(z, pivoting=True)[2]))
  assert np.asarray(p)[-1] == 1 and abs(np.asarray(r)[-1, -1]) < 1e-12


def test_pivoted_qr_under_jit_and_vmap():
  rng = np.random.default_rng(3)
  a = rng.standard_normal((4, 5, 3)).astype(np.float32)
  eager = rl.qr(a, pivoting=True)
  jitted = rjax.jit(lambda x: rl.qr(x, pivoting=True))(a)
  mapped = rjax.vmap(lambda x: rl.qr(x, pivoting=True, full_matrices=False), in_axes=2)(
      np.moveaxis(a, 0, 2))
  for g, w in zip(jitted, eager):
    np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
  for g, w in zip(mapped, rl.qr(a, pivoting=True, full_matrices=False)):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6)
  np.testing.assert_array_equal(
      np.asarray(mapped[2]),
      np.asarray(jax.vmap(lambda x: jl.qr(x, pivoting=True)[2], in_axes=2)(np.moveaxis(a, 0, 2))))
  text = str(rjax.make_jaxpr(lambda x: rl.qr(x, pivoting=True))(a[0]))
  assert "pivoting=True" in text and "i32[3]" in text


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (1, 3), (3, 1), (2, 3, 4)])
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("dt", [np.float64, np.complex128])
def test_pivoted_qr_gradients(shape, full, dt):
  # (LAPACK's sign convention makes q and r jump where the real part of a
  # reflector's leading element crosses zero: a matrix near such a point,
  # like _rand(7, (3, 1), complex), fails JAX's own check_grads too)
  a = _rand(11, shape, dt)
  with enable_x64():
    f = lambda x: rl.qr(x, pivoting=True, full_matrices=full)[:2]  # noqa: E731
    check_grads(f, [rjax.numpy.asarray(a)], order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (3, 5)])
def test_pivoted_qr_jvp_against_jax(shape):
  # JAX's rule is the QR JVP of x[..., p]; for m < n it reads the columns
  # past m of the unpermuted x (x[..., m:]), so its dr there is not the
  # derivative (numerical differentiation disagrees). rjax reads x[..., p].
  rng = np.random.default_rng(5)
  a, da = rng.standard_normal(shape), rng.standard_normal(shape)
  with x64_in_both():
    f = lambda x: rl.qr(x, pivoting=True, full_matrices=False)  # noqa: E731
    (q, r, p), (dq, dr, _) = rjax.jvp(f, (a,), (da,))
    _, (jdq, jdr, _) = jax.jvp(lambda x: jl.qr(x, pivoting=True, full_matrices=False), (a,),
                               (da,))
    eps = 1e-6
    num = (np.asarray(f(a + eps * da)[1]) - np.asarray(f(a - eps * da)[1])) / (2 * eps)
  np.testing.assert_allclose(np.asarray(dq), np.asarray(jdq), rtol=1e-9, atol=1e-9)
  np.testing.assert_allclose(np.asarray(dr), num, rtol=1e-6, atol=1e-6)
  m = min(shape)
  np.testing.assert_allclose(np.asarray(dr)[:, :m], np.asarray(jdr)[:, :m], rtol=1e-9,
                             atol=1e-9)
  if shape[0] >= shape[1]:
    np.testing.assert_allclose(np.asarray(dr), np.asarray(jdr), rtol=1e-9, atol=1e-9)
  else:
    assert not np.allclose(np.asarray(jdr), num, atol=1e-3)   # JAX's differs


@pytest.mark.parametrize("mode", ["full", "r", "economic"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_scipy_qr_pivoting_modes_like_jax(mode, shape):
  a = _rand(11, shape, np.float64)
  with x64_in_both():
    got = rsl.qr(a, mode=mode, pivoting=True)
    want = jsl.qr(a, mode=mode, pivoting=True)
    assert len(got) == len(want)
    for g, w in zip(got, want):
      assert g.shape == w.shape and g.dtype == w.dtype
      np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-10, atol=1e-10)
    ws = scipy.linalg.qr(a, mode=mode, pivoting=True)
    np.testing.assert_array_equal(np.asarray(got[-1]), ws[-1])
    # without pivoting, the modes as before
    assert len(rsl.qr(a, mode=mode)) == len(jsl.qr(a, mode=mode))
  for m in (rsl, jsl):
    with pytest.raises(ValueError, match="Unsupported QR decomposition mode"):
      m.qr(a, mode="raw")


@pytest.mark.parametrize("mode", ["right", "left"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
@pytest.mark.parametrize("conjugate", [False, True])
def test_qr_multiply_pivoting(mode, shape, conjugate):
  rng = np.random.default_rng(2)
  m, n = shape
  k = min(m, n)
  for dt in (np.float64, np.complex128):
    a = _rand(13, shape, dt)
    for c in ((rng.standard_normal((2, m)) if mode == "right" else rng.standard_normal((k, 2))),
              rng.standard_normal(m if mode == "right" else k)):
      with x64_in_both():
        cq, r, p = rsl.qr_multiply(a, c, mode=mode, pivoting=True, conjugate=conjugate)
        jcq, jr, jp = jsl.qr_multiply(a, c, mode=mode, pivoting=True, conjugate=conjugate)
        q = np.asarray(rsl.qr(a, mode="economic", pivoting=True)[0])
      assert cq.shape == jcq.shape and r.shape == jr.shape and p.dtype == jp.dtype == np.int32
      np.testing.assert_array_equal(np.asarray(p), np.asarray(jp))
      q = np.conj(q) if conjugate else q
      np.testing.assert_allclose(np.asarray(cq), c @ q if mode == "right" else q @ c,
                                 atol=1e-10)
      np.testing.assert_allclose(np.asarray(cq), np.asarray(jcq), atol=1e-10)
      np.testing.assert_allclose(np.asarray(r), np.asarray(jr), atol=1e-10)


@pytest.mark.parametrize("pivoting", [False, True])
@pytest.mark.parametrize("shape", [(70, 40), (40, 70), (33, 33), (2, 65, 34)])
@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
def test_complex_qr_factors_are_lapacks(shape, dt, pivoting):
  # complex QR (with or without pivoting) runs LAPACK's blocked Householder
  # QR: JAX's q and r, over several panels of 32 columns
  a = _rand(3, shape, dt)
  tol = 2e-4 if dt == np.complex64 else 1e-12
  with x64_in_both():
    for full in (True, False):
      got = rl.qr(a, pivoting=pivoting, full_matrices=full)
      want = jl.qr(a, pivoting=pivoting, full_matrices=full)
      for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
def test_complex_qr_gradients_without_pivoting(shape):
  # faer's complex R had a complex diagonal, which the JVP rule (JAX's, for
  # LAPACK's real diagonal) did not describe; LAPACK's factors fix that
  a = _rand(11, shape, np.complex128)
  with enable_x64():
    for full in (True, False):
      check_grads(lambda x: rl.qr(x, full_matrices=full), [rjax.numpy.asarray(a)], order=2,
                  modes=("fwd", "rev"))
