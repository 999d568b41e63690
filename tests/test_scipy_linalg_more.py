"""jax.scipy.linalg's special matrices (against SciPy and JAX: values,
dtypes, batches, errors) and hessenberg, qr_multiply, eigh_tridiagonal,
rsf2csf (against SciPy), with jit = eager."""
import jax
import jax.scipy.linalg as jsl
import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.scipy.linalg as rsl
from util import enable_x64
from util_vs_jax import same_exception

seeds = st.integers(0, 2**31 - 1)


def _same(got, want, rtol=1e-6, atol=1e-6):
  got, want = np.asarray(got), np.asarray(want)
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  assert got.shape == want.shape, (got.shape, want.shape)
  np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# JAX's constructors jitted once per shape: eager, each call dispatches and
# compiles their ops one by one (most of this test's time before)
_jsl = {name: jax.jit(getattr(jsl, name), static_argnums=(1, 2) if name == "convolution_matrix"
                      else ())
        for name in ("circulant", "fiedler", "hankel", "companion", "leslie",
                     "fiedler_companion", "convolution_matrix")}


@given(st.integers(0, 6), st.sampled_from([np.int32, np.float32]), seeds)
def test_vector_constructors_like_scipy_and_jax(n, dt, seed):
  c = (np.random.default_rng(seed).integers(-5, 6, n)).astype(dt)
  _same(rsl.circulant(c), _jsl["circulant"](c))
  np.testing.assert_allclose(rsl.circulant(c), sl.circulant(c) if n else np.zeros((0, 0)))
  _same(rsl.fiedler(c), _jsl["fiedler"](c))
  for r in (None, c[::-1].copy(), c[:max(n - 2, 0)].copy()):
    if r is not None and r.size == 0:
      continue
    _same(rsl.hankel(c, r), _jsl["hankel"](c, r))
    if n:
      np.testing.assert_allclose(rsl.hankel(c, r), sl.hankel(c, r))
  if n >= 2:
    p = c.copy()
    p[0] = 2
    _same(rsl.companion(p), _jsl["companion"](p))
    np.testing.assert_allclose(rsl.companion(p), sl.companion(p), rtol=1e-6)
    _same(rsl.leslie(c, c[1:] + 0.5 * (dt == np.float32)), _jsl["leslie"](c, c[1:] + 0.5 * (dt == np.float32)))
  if n >= 1:
    p = c.copy()
    p[0] = 3
    if n >= 2:
      _same(rsl.fiedler_companion(p), _jsl["fiedler_companion"](p))
      np.testing.assert_allclose(rsl.fiedler_companion(p), sl.fiedler_companion(p), rtol=1e-6)
    for m in (1, 3, 7):
      for mode in ("full", "same", "valid"):
        _same(rsl.convolution_matrix(c, m, mode), _jsl["convolution_matrix"](c, m, mode))
        np.testing.assert_allclose(rsl.convolution_matrix(c, m, mode),
                                   sl.convolution_matrix(c, m, mode))


def test_vector_constructors_take_batches_like_jax():
  c = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
  _same(rsl.circulant(c), jsl.circulant(c))
  _same(rsl.companion(c), jsl.companion(c))
  _same(rsl.fiedler(c), jsl.fiedler(c))
  _same(rsl.fiedler_companion(c), jsl.fiedler_companion(c))
  _same(rsl.leslie(c, c[:, 1:]), jsl.leslie(c, c[:, 1:]))
  _same(rsl.hankel(c, c[:1, ::-1]), jsl.hankel(c, c[:1, ::-1]))
  _same(rsl.convolution_matrix(c, 3), jsl.convolution_matrix(c, 3))
  _same(rjax.jit(rsl.circulant)(c), jsl.circulant(c))
  _same(rjax.vmap(rsl.companion)(c), jsl.companion(c))


def test_constructor_errors_like_jax():
  v1, v2 = np.array([1.]), np.array([1., 2.])
  cases = [(lambda m: m.leslie(v1, np.zeros(0)),), (lambda m: m.leslie(v2, v2),),
           (lambda m: m.companion(v1),), (lambda m: m.fiedler_companion(np.zeros(0)),),
           (lambda m: m.convolution_matrix(v2, 0),),
           (lambda m: m.convolution_matrix(v2, 2, "bad"),),
           (lambda m: m.circulant([1., 2.]),),
           (lambda m: m.hankel(1.),), (lambda m: m.pascal(3, "bad"),),
           (lambda m: m.invpascal(3, "bad"),), (lambda m: m.dft(3, "bad"),)]
  for (f,) in cases:
    same_exception(lambda: f(rsl), lambda: f(jsl))


@pytest.mark.parametrize("n", [0, 1, 4, 7])
def test_order_constructors_like_scipy(n):
  np.testing.assert_allclose(rsl.invhilbert(n), sl.invhilbert(n), rtol=1e-6)
  assert rsl.invhilbert(n).dtype == jsl.invhilbert(n).dtype
  for kind in (None, "symmetric", "lower", "upper"):
    kw = {} if kind is None else {"kind": kind}
    np.testing.assert_allclose(rsl.pascal(n, **kw), sl.pascal(n, **kw), rtol=1e-6)
    np.testing.assert_allclose(rsl.invpascal(n, **kw), sl.invpascal(n, **kw), rtol=1e-6)
    assert rsl.pascal(n, **kw).dtype == jsl.pascal(n, **kw).dtype
    np.testing.assert_allclose(rsl.pascal(n, **kw), jsl.pascal(n, **kw), rtol=1e-5, atol=1e-5)
  for scale in (None, "n", "sqrtn"):
    _same(rsl.dft(n, scale), jsl.dft(n, scale), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rsl.dft(n, scale), sl.dft(n, scale) if n else np.zeros((0, 0)),
                               rtol=1e-5, atol=1e-6)
  with enable_x64():
    np.testing.assert_allclose(rsl.invhilbert(n), sl.invhilbert(n), rtol=1e-12)
    np.testing.assert_allclose(rsl.dft(n), sl.dft(n) if n else np.zeros((0, 0)), rtol=1e-12,
                               atol=1e-12)


@settings(deadline=None)
@given(st.integers(0, 7), st.sampled_from([np.float64, np.complex128]), seeds)
def test_hessenberg_like_scipy(n, dt, seed):
  rng = np.random.default_rng(seed)
  a = rng.standard_normal((n, n)).astype(dt)
  if np.dtype(dt).kind == "c":
    a = a + 1j * rng.standard_normal((n, n))
  with enable_x64():
    h, q = (np.asarray(x) for x in rsl.hessenberg(a, calc_q=True))
    h_only = np.asarray(rsl.hessenberg(a))
  assert h.dtype == q.dtype == np.dtype(dt)
  np.testing.assert_array_equal(h, h_only)
  np.testing.assert_allclose(q @ h @ np.conj(q.T), a, atol=1e-10)
  np.testing.assert_allclose(np.conj(q.T) @ q, np.eye(n), atol=1e-10)
  assert np.all(np.tril(h, -2) == 0)
  hs = sl.hessenberg(a)
  # unique up to the signs (phases) of the reflections: same moduli
  np.testing.assert_allclose(np.abs(h), np.abs(hs), atol=1e-9)


def test_hessenberg_batches_and_float32():
  a = np.random.default_rng(0).standard_normal((3, 5, 5)).astype(np.float32)
  h, q = rsl.hessenberg(a, calc_q=True)
  assert h.dtype == np.float32
  for i in range(3):
    np.testing.assert_allclose(np.asarray(q[i]) @ np.asarray(h[i]) @ np.asarray(q[i]).T, a[i],
                               atol=1e-5)
  with pytest.raises(ValueError):
    rsl.hessenberg(np.ones((2, 3)))


@pytest.mark.parametrize("mode", ["right", "left"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
@pytest.mark.parametrize("conjugate", [False, True])
def test_qr_multiply_like_scipy(mode, shape, conjugate):
  rng = np.random.default_rng(1)
  a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
  m, n = shape
  k = min(m, n)
  for c in ((rng.standard_normal((2, m)) if mode == "right" else rng.standard_normal((k, 2))),
            rng.standard_normal(m if mode == "right" else k)):
    with enable_x64():
      cq, r = rsl.qr_multiply(a, c, mode=mode, conjugate=conjugate)
    cqs, rs = sl.qr_multiply(a, c, mode=mode, conjugate=conjugate)
    assert cq.shape == cqs.shape and r.shape == rs.shape
    assert cq.dtype == np.complex128
    # Q and R are unique up to column phases: |R| and |c Q| are SciPy's
    np.testing.assert_allclose(np.abs(np.asarray(r)), np.abs(rs), atol=1e-10)
    if mode == "right":
      np.testing.assert_allclose(np.abs(np.asarray(cq)), np.abs(cqs), atol=1e-10)
    with enable_x64():
      q = np.asarray(rsl.qr(a, mode="economic")[0])
    q = np.conj(q) if conjugate else q
    want = c @ q if mode == "right" else q @ c
    np.testing.assert_allclose(np.asarray(cq), want, atol=1e-10)
  with pytest.raises(ValueError):
    rsl.qr_multiply(a, np.ones(m + 1), mode=mode)


@settings(deadline=None)
@given(st.integers(1, 8), seeds)
def test_eigh_tridiagonal_like_scipy(n, seed):
  rng = np.random.default_rng(seed)
  d, e = rng.standard_normal(n), rng.standard_normal(n - 1)
  with enable_x64():
    w = rsl.eigh_tridiagonal(d, e, eigvals_only=True)
    wv, v = rsl.eigh_tridiagonal(d, e)
    wi = rsl.eigh_tridiagonal(d, e, eigvals_only=True, select="i", select_range=(0, n // 2))
    wj = jsl.eigh_tridiagonal(d, e, eigvals_only=True)
  np.testing.assert_allclose(w, sl.eigh_tridiagonal(d, e, eigvals_only=True), atol=1e-10)
  np.testing.assert_allclose(w, np.asarray(wj), atol=1e-5)  # JAX bisects in float32 here
  t = np.diag(d) + np.diag(e, 1) + np.diag(e, -1)
  np.testing.assert_allclose(t @ np.asarray(v), np.asarray(v) * np.asarray(wv), atol=1e-10)
  np.testing.assert_allclose(wi, np.asarray(w)[:n // 2 + 1])
  assert w.dtype == np.float64
  if n == 1:   # JAX returns d before it looks at select
    return
  with pytest.raises(NotImplementedError):
    rsl.eigh_tridiagonal(d, e, select="v", select_range=(0., 1.))
  with pytest.raises(ValueError):
    rsl.eigh_tridiagonal(d, e, select="i")


@settings(deadline=None)
@given(st.integers(1, 7), seeds)
def test_rsf2csf_like_scipy(n, seed):
  a = np.random.default_rng(seed).standard_normal((n, n))
  t, z = sl.schur(a)
  with enable_x64():
    tc, zc = (np.asarray(x) for x in rsl.rsf2csf(t, z))
  ts, zs = sl.rsf2csf(t, z)
  assert tc.dtype == zc.dtype == np.complex128
  np.testing.assert_allclose(tc, ts, atol=1e-10)
  np.testing.assert_allclose(zc, zs, atol=1e-10)
  assert np.all(np.tril(tc, -1) == 0)


def test_rsf2csf_batches_and_float32():
  a = np.random.default_rng(3).standard_normal((2, 4, 4))
  tz = [sl.schur(m) for m in a]
  t = np.stack([x[0] for x in tz]).astype(np.float32)
  z = np.stack([x[1] for x in tz]).astype(np.float32)
  tc, zc = rsl.rsf2csf(t, z)
  assert tc.dtype == np.complex64
  for i in range(2):
    ts, zs = sl.rsf2csf(t[i].astype(np.float64), z[i].astype(np.float64))
    np.testing.assert_allclose(np.asarray(tc[i]), ts, atol=1e-4)
  _ = jax


# ---------------------------------------------------------------------------
# schur and the functions built on it


def _rand(seed, shape, dt):
  rng = np.random.default_rng(seed)
  a = rng.standard_normal(shape)
  if np.dtype(dt).kind == "c":
    a = a + 1j * rng.standard_normal(shape)
  return a.astype(dt)


@settings(deadline=None)
@given(st.integers(0, 7), st.sampled_from([np.float64, np.complex128]),
       st.sampled_from(["real", "complex"]), seeds)
def test_schur_like_scipy(n, dt, output, seed):
  a = _rand(seed, (n, n), dt)
  with enable_x64():
    t, z = (np.asarray(x) for x in rsl.schur(a, output=output))
  ts, _ = sl.schur(a, output=output)
  assert t.dtype == z.dtype == ts.dtype
  np.testing.assert_allclose(z @ t @ np.conj(z.T), a, atol=1e-9)
  np.testing.assert_allclose(np.conj(z.T) @ z, np.eye(n), atol=1e-10)
  if np.iscomplexobj(t):
    assert np.all(np.tril(t, -1) == 0)
  else:
    assert np.all(np.tril(t, -2) == 0)
    sub = np.diag(t, -1)
    assert not np.any((sub[:-1] != 0) & (sub[1:] != 0))  # 2x2 blocks do not overlap
  np.testing.assert_allclose(np.sort_complex(np.round(np.linalg.eigvals(t) if n else [], 8)),
                             np.sort_complex(np.round(np.linalg.eigvals(a) if n else [], 8)),
                             atol=1e-6)


def test_lax_schur_flags_batches_and_errors_like_jax():
  a = _rand(0, (2, 4, 4), np.float32)
  t, z = rjax.lax.linalg.schur(a)
  (t_only,) = rjax.lax.linalg.schur(a, compute_schur_vectors=False)
  np.testing.assert_array_equal(np.asarray(t), np.asarray(t_only))
  for i in range(2):
    np.testing.assert_allclose(np.asarray(z[i]) @ np.asarray(t[i]) @ np.asarray(z[i]).T, a[i],
                               atol=1e-4)
  same_exception(lambda: rjax.lax.linalg.schur(np.ones((2, 3))),
                 lambda: jax.lax.linalg.schur(np.ones((2, 3))))
  same_exception(lambda: rsl.schur(a[0], output="bad"), lambda: jsl.schur(a[0], output="bad"))
  nan = np.full((2, 2), np.nan, np.float32)
  assert np.isnan(np.asarray(rjax.lax.linalg.schur(nan)[0])).all()


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex128])
def test_sqrtm_like_scipy_and_jax(dt):
  a = _rand(1, (5, 5), dt)
  a = a @ np.conj(a.T) + np.eye(5)  # a positive definite matrix
  a[0, 1] += 0.5   # not symmetric any more
  with enable_x64(np.dtype(dt) != np.float32):
    r = np.asarray(rsl.sqrtm(a))
  if dt == np.float32:
    assert r.dtype == np.asarray(jsl.sqrtm(a)).dtype == np.complex64
  else:
    assert r.dtype == np.complex128
  tol = 1e-4 if dt == np.float32 else 1e-9
  np.testing.assert_allclose(r @ r, a, rtol=tol, atol=tol * 10)
  np.testing.assert_allclose(r, sl.sqrtm(a.astype(np.complex128)), rtol=tol, atol=tol)
  with pytest.raises(NotImplementedError):
    rsl.sqrtm(a, blocksize=2)


def test_sqrtm_of_a_matrix_with_complex_eigenvalues():
  a = np.array([[1., -2., 0.], [2., 1., 0.], [0., 0., 4.]])
  with enable_x64():
    r = np.asarray(rsl.sqrtm(a))
  np.testing.assert_allclose(r, sl.sqrtm(a), atol=1e-12)


@pytest.mark.parametrize("func", ["exp", "sin", "square"])
def test_funm_like_scipy(func):
  a = _rand(2, (4, 4), np.float64)
  f = {"exp": rjax.numpy.exp, "sin": rjax.numpy.sin, "square": lambda x: x * x}[func]
  fs = {"exp": np.exp, "sin": np.sin, "square": lambda x: x * x}[func]
  with enable_x64():
    got = np.asarray(rsl.funm(a, f))
    got2, err = rsl.funm(a, f, disp=False)
  want, errs = sl.funm(a, fs, disp=False)
  assert got.dtype == np.complex128
  assert np.asarray(rsl.funm(a.astype(np.float32), f)).dtype == np.asarray(
      jsl.funm(a.astype(np.float32), jax.numpy.exp)).dtype == np.complex64
  np.testing.assert_allclose(got, want, atol=1e-9)
  np.testing.assert_allclose(np.asarray(got2), want, atol=1e-9)
  np.testing.assert_allclose(float(err), errs, rtol=1e-6)
  if func == "exp":
    np.testing.assert_allclose(got, sl.expm(a), atol=1e-9)
  with pytest.raises(ValueError):
    rsl.funm(np.ones((2, 3)), f)


@pytest.mark.parametrize("method", ["schur", "eigen"])
@pytest.mark.parametrize("dt", [np.float64, np.complex128])
def test_solve_sylvester_like_scipy(method, dt):
  a = _rand(3, (4, 4), dt) + 3 * np.eye(4)
  b = _rand(4, (3, 3), dt) + 3 * np.eye(3)
  c = _rand(5, (4, 3), dt)
  with enable_x64():
    x = np.asarray(rsl.solve_sylvester(a, b, c, method=method))
  assert x.dtype == np.dtype(dt)
  np.testing.assert_allclose(a @ x + x @ b, c, atol=1e-9)
  np.testing.assert_allclose(x, sl.solve_sylvester(a, b, c), atol=1e-9)
  # A and -A share eigenvalues: no unique solution, NaNs as JAX
  with enable_x64():
    bad = np.asarray(rsl.solve_sylvester(a, -a, c[:, :1].repeat(4, 1), method=method))
  assert np.isnan(bad).all()
  same_exception(lambda: rsl.solve_sylvester(a, b, c, method="bad"),
                 lambda: jsl.solve_sylvester(a, b, c, method="bad"))


def test_every_jax_scipy_linalg_name_exists():
  missing = [n for n in dir(jsl) if not n.startswith("_") and not hasattr(rsl, n)]
  assert missing == []
