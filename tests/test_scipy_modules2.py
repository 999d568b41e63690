"""rjax.scipy's smaller modules against JAX 0.10.2 and SciPy: optimize
(BFGS), sparse.linalg (cg, bicgstab, gmres), ndimage.map_coordinates,
integrate.trapezoid, interpolate.RegularGridInterpolator,
spatial.transform (Rotation, Slerp), cluster.vq and fft (dct/idct)."""
import numpy as np
import pytest
import scipy.fft as sfft
import scipy.ndimage as sndi
from hypothesis import given, settings, strategies as st

import jax
import jax.scipy as jsp
import jax.scipy.cluster.vq  # noqa: F401  (JAX loads its submodules lazily)
import jax.scipy.fft  # noqa: F401
import jax.scipy.integrate  # noqa: F401
import jax.scipy.interpolate  # noqa: F401
import jax.scipy.ndimage  # noqa: F401
import jax.scipy.optimize  # noqa: F401
import jax.scipy.sparse.linalg  # noqa: F401
import jax.scipy.spatial.transform  # noqa: F401
import jax.scipy.signal  # noqa: F401

import rjax
import rjax.numpy as jnp
import rjax.scipy as rsp
from rjax.test_util import check_grads
from util import enable_x64, assert_matches, assert_trees_match


_close = assert_matches


def _both(got, want, **kw):
  assert_trees_match(got, want, _close, **kw)


# --- optimize ---------------------------------------------------------------------------------

def _rosenbrock(np_):
  return lambda x: np_.sum(100. * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _quadratic(np_):
  a = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]], np.float32)
  return lambda x, c: 0.5 * x @ a @ x - c @ x


def test_bfgs_matches_jax():
  # JAX's BFGS stops on Rosenbrock from here (its zoom gives up, status 3): rjax too
  x0 = np.float32([-1.2, 1.0, 0.5, -0.3])
  got = rsp.optimize.minimize(_rosenbrock(jnp), x0, method="BFGS")
  want = jsp.optimize.minimize(_rosenbrock(jax.numpy), x0, method="BFGS")
  assert isinstance(got, rsp.optimize.OptimizeResults)
  np.testing.assert_allclose(got.x, want.x, rtol=1e-3, atol=1e-3)
  for field in ("success", "status", "nit", "nfev", "njev"):
    assert int(getattr(got, field)) == int(getattr(want, field)), field
  c = np.float32([1.0, -2.0, 0.5])
  got = rsp.optimize.minimize(_quadratic(jnp), np.zeros(3, np.float32), (c,), method="bfgs",
                              options={"maxiter": 50})
  want = jsp.optimize.minimize(_quadratic(jax.numpy), np.zeros(3, np.float32), (c,),
                               method="bfgs", options={"maxiter": 50})
  _close(got.x, want.x, rtol=1e-4, atol=1e-4)
  _close(got.fun, want.fun, rtol=1e-5)
  assert got.hess_inv.shape == (3, 3)


def test_bfgs_with_complex_x0_matches_jax():
  """A complex x0 runs as in JAX (its gradient is the conjugate one, so JAX's
  BFGS stops after one step with status 3; rjax gives the same result)."""
  x0 = np.array([0j, 1 + 1j], np.complex64)

  def f(np_):
    return lambda x: np_.sum(np_.abs(x - (1 + 2j)) ** 2)
  want = jsp.optimize.minimize(f(jax.numpy), x0, method="BFGS")
  for got in (rsp.optimize.minimize(f(jnp), x0, method="BFGS"),
              rjax.jit(lambda x0: rsp.optimize.minimize(f(jnp), x0, method="BFGS"))(x0)):
    assert got.x.dtype == want.x.dtype
    np.testing.assert_allclose(np.asarray(got.x), np.asarray(want.x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(got.fun), float(want.fun), rtol=1e-5)
    for field in ("success", "status", "nit", "nfev", "njev"):
      assert int(getattr(got, field)) == int(getattr(want, field)), field


def test_bfgs_float64_solves_under_jit():
  a = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
  c = np.array([1.0, -2.0, 0.5])
  with enable_x64():
    solve = rjax.jit(lambda x0: rsp.optimize.minimize(
        lambda x: 0.5 * x @ a @ x - c @ x + jnp.sum(jnp.cosh(x - 0.3)), x0, method="BFGS"))
    res = solve(np.zeros(3))
    assert bool(res.success) and res.x.dtype == np.float64
    grad = a @ np.asarray(res.x) - c + np.sinh(np.asarray(res.x) - 0.3)
    np.testing.assert_allclose(grad, 0, atol=1e-5)


def test_minimize_rejects_bad_arguments_like_jax():
  for mod, np_ in ((rsp, jnp), (jsp, jax.numpy)):
    with pytest.raises(TypeError):
      mod.optimize.minimize(_rosenbrock(np_), np.zeros(2, np.float32), args=[1], method="BFGS")
    with pytest.raises(ValueError):
      mod.optimize.minimize(_rosenbrock(np_), np.zeros(2, np.float32), method="nelder-mead")


# --- sparse.linalg ----------------------------------------------------------------------------

def _spd(n, seed=0):
  rng = np.random.default_rng(seed)
  a = rng.normal(size=(n, n)).astype(np.float32)
  return a @ a.T + n * np.eye(n, dtype=np.float32), rng.normal(size=n).astype(np.float32)


@pytest.mark.parametrize("solver", ["cg", "bicgstab", "gmres"])
def test_krylov_solvers_match_jax_and_solve(solver):
  a, b = _spd(6)
  kwargs = [{}] if solver != "gmres" else [{"solve_method": "batched"},
                                            {"solve_method": "incremental", "restart": 3}]
  for kw in kwargs:
    got, info = getattr(rsp.sparse.linalg, solver)(a, b, tol=1e-6, **kw)
    want, _ = getattr(jsp.sparse.linalg, solver)(a, b, tol=1e-6, **kw)
    _close(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a @ np.asarray(got), b, rtol=1e-3, atol=1e-4)
    if solver == "gmres":
      assert int(info) == 0
  # a function as the operator, a preconditioner, and pytrees
  fun = lambda v: jnp.dot(a, v)
  got, _ = getattr(rsp.sparse.linalg, solver)(fun, b, M=np.diag(1 / np.diag(a)), tol=1e-6)
  np.testing.assert_allclose(a @ np.asarray(got), b, rtol=1e-3, atol=1e-4)
  tree_b = {"u": b[:3], "v": b[3:]}
  tree_a = lambda t: {"u": a[:3, :3] @ t["u"] + a[:3, 3:] @ t["v"],
                      "v": a[3:, :3] @ t["u"] + a[3:, 3:] @ t["v"]}
  got, _ = getattr(rsp.sparse.linalg, solver)(tree_a, tree_b, tol=1e-6)
  np.testing.assert_allclose(np.concatenate([got["u"], got["v"]]), np.linalg.solve(a, b),
                             rtol=1e-3, atol=1e-4)


def test_cg_gradient_is_a_solve():
  a, b = _spd(4, seed=1)
  with enable_x64():
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    f = lambda bb: rsp.sparse.linalg.cg(a64, bb, tol=1e-12)[0].sum()
    check_grads(f, (b64,), order=1, modes=["fwd", "rev"], atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(rjax.grad(f)(b64), np.linalg.solve(a64.T, np.ones(4)), rtol=1e-8)


def test_krylov_solvers_reject_bad_input_like_jax():
  a, b = _spd(3)
  for mod in (rsp, jsp):
    with pytest.raises(ValueError):
      mod.sparse.linalg.cg(np.ones((2, 3), np.float32), b)
    with pytest.raises(ValueError):
      mod.sparse.linalg.cg(a, b, x0=np.zeros(2, np.float32))
    with pytest.raises(TypeError):
      mod.sparse.linalg.bicgstab("a", b)
    with pytest.raises(ValueError):
      mod.sparse.linalg.gmres(a, b, solve_method="nope")


# --- ndimage, integrate, interpolate, cluster -------------------------------------------------

@pytest.mark.parametrize("mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
@pytest.mark.parametrize("order", [0, 1])
def test_map_coordinates_matches_jax_and_scipy(mode, order):
  rng = np.random.default_rng(2)
  img = rng.normal(size=(5, 7)).astype(np.float32)
  coords = [rng.uniform(-3, 8, (4, 3)).astype(np.float32), rng.uniform(-3, 10, (4, 3))
            .astype(np.float32)]
  got = rsp.ndimage.map_coordinates(img, coords, order, mode=mode, cval=1.5)
  _close(got, jsp.ndimage.map_coordinates(img, coords, order, mode=mode, cval=1.5), rtol=1e-6)
  if mode in ("nearest", "mirror", "reflect") and order == 1:  # JAX's own constant/wrap
    want = sndi.map_coordinates(img.astype(np.float64), np.asarray(coords, np.float64),
                                order=order, mode=mode, cval=1.5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  ints = np.arange(12, dtype=np.int32).reshape(3, 4)
  _close(rsp.ndimage.map_coordinates(ints, [np.float32([0.5, 1.7]), np.float32([2.5, 0.2])],
                                     order, mode=mode),
         jsp.ndimage.map_coordinates(ints, [np.float32([0.5, 1.7]), np.float32([2.5, 0.2])],
                                     order, mode=mode))


def test_map_coordinates_errors_and_gradient():
  img = np.ones((3, 3), np.float32)
  for mod in (rsp, jsp):
    with pytest.raises(NotImplementedError):
      mod.ndimage.map_coordinates(img, [np.zeros(2), np.zeros(2)], 3)
    with pytest.raises(NotImplementedError):
      mod.ndimage.map_coordinates(img, [np.zeros(2), np.zeros(2)], 1, mode="grid-wrap")
    with pytest.raises(ValueError):
      mod.ndimage.map_coordinates(img, [np.zeros(2)], 1)
  with enable_x64():
    im = np.arange(16.0).reshape(4, 4) ** 1.5
    check_grads(lambda c: rsp.ndimage.map_coordinates(im, [c, c + 0.3], 1),
                (np.array([0.4, 1.3, 2.2]),), order=1, modes=["fwd", "rev"])


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 6), st.booleans(), st.sampled_from([0, 1, -1]))
def test_trapezoid_matches_jax(n, with_x, axis):
  rng = np.random.default_rng(n)
  y = rng.normal(size=(n, 3)).astype(np.float32)
  x = np.cumsum(rng.uniform(0.1, 1, y.shape[axis])).astype(np.float32) if with_x else None
  _close(rsp.integrate.trapezoid(y, x, axis=axis), jsp.integrate.trapezoid(y, x, axis=axis),
         rtol=1e-5, atol=1e-6)
  _close(rsp.integrate.trapezoid(y, dx=0.5, axis=axis),
         jsp.integrate.trapezoid(y, dx=0.5, axis=axis), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["linear", "nearest"])
def test_regular_grid_interpolator_matches_jax(method):
  rng = np.random.default_rng(3)
  grid = (np.float32([0.0, 0.5, 1.5, 3.0]), np.float32([-1.0, 0.0, 2.0]))
  values = rng.normal(size=(4, 3, 2)).astype(np.float32)
  pts = rng.uniform(-1.5, 3.5, (7, 2)).astype(np.float32)
  for fill in (np.nan, None, 0.5):
    r = rsp.interpolate.RegularGridInterpolator(grid, values, method=method, fill_value=fill)
    j = jsp.interpolate.RegularGridInterpolator(grid, values, method=method, fill_value=fill)
    _close(r(pts), j(pts), rtol=1e-5)
    _close(r((pts[:, 0], pts[:, 1])), j((pts[:, 0], pts[:, 1])), rtol=1e-5)
  r = rsp.interpolate.RegularGridInterpolator(grid, values[..., 0], method=method)
  _close(rjax.jit(lambda itp, p: itp(p))(r, pts), r(pts), rtol=1e-6)
  for mod in (rsp, jsp):
    with pytest.raises(ValueError):
      mod.interpolate.RegularGridInterpolator(grid, values, method="cubic")
    with pytest.raises(NotImplementedError):
      mod.interpolate.RegularGridInterpolator(grid, values, bounds_error=True)


def test_vq_matches_jax():
  rng = np.random.default_rng(4)
  obs = rng.normal(size=(9, 3)).astype(np.float32)
  book = rng.normal(size=(4, 3)).astype(np.float32)
  _both(rsp.cluster.vq.vq(obs, book), jsp.cluster.vq.vq(obs, book), rtol=1e-6)
  _both(rsp.cluster.vq.vq(obs[:, 0], book[:, 0]), jsp.cluster.vq.vq(obs[:, 0], book[:, 0]))
  for mod in (rsp, jsp):
    with pytest.raises(ValueError):
      mod.cluster.vq.vq(obs, book[:, 0])
    with pytest.raises(ValueError):
      mod.cluster.vq.vq(obs[None], book[None])


# --- spatial.transform ------------------------------------------------------------------------

def test_rotations_match_jax():
  rng = np.random.default_rng(5)
  quats = rng.normal(size=(5, 4)).astype(np.float32)
  R, J = jsp.spatial.transform.Rotation, rsp.spatial.transform.Rotation
  r, j = J.from_quat(quats), R.from_quat(quats)
  vecs = rng.normal(size=(5, 3)).astype(np.float32)
  for name in ("as_matrix", "as_mrp", "as_rotvec", "magnitude"):
    _close(getattr(r, name)(), getattr(j, name)(), rtol=1e-5, atol=1e-6)
  _close(r.as_quat(canonical=True, scalar_first=True), j.as_quat(canonical=True,
                                                                   scalar_first=True))
  for seq in ("xyz", "ZXZ", "zyx", "XYX"):
    _close(r.as_euler(seq), j.as_euler(seq), rtol=1e-4, atol=1e-5)
    angles = rng.uniform(-3, 3, (5, 3)).astype(np.float32)
    _close(J.from_euler(seq, angles).quat, R.from_euler(seq, angles).quat, rtol=1e-5, atol=1e-6)
  _close(J.from_euler("x", np.float32(30.0), degrees=True).quat,
         R.from_euler("x", np.float32(30.0), degrees=True).quat)
  _close(r.apply(vecs), j.apply(vecs), rtol=1e-5, atol=1e-5)
  _close(r.apply(vecs, inverse=True), j.apply(vecs, inverse=True), rtol=1e-5, atol=1e-5)
  _close((r * r.inv()).as_matrix(), (j * j.inv()).as_matrix(), rtol=1e-5, atol=1e-5)
  _close(J.from_matrix(j.as_matrix()).quat, R.from_matrix(j.as_matrix()).quat, atol=1e-5)
  _close(J.from_rotvec(j.as_rotvec()).quat, R.from_rotvec(j.as_rotvec()).quat, atol=1e-5)
  _close(J.from_mrp(j.as_mrp()).quat, R.from_mrp(j.as_mrp()).quat, atol=1e-5)
  _close(r.mean().as_matrix(), j.mean().as_matrix(), rtol=1e-4, atol=1e-5)
  _close(J.concatenate([r, r[:2]]).quat, R.concatenate([j, j[:2]]).quat)
  _close(J.identity().quat, R.identity().quat)
  assert len(r) == 5 and r[1].single
  for mod in (J, R):
    with pytest.raises(TypeError):
      len(mod.identity())
    with pytest.raises(ValueError):
      mod.from_euler("xxy", np.zeros(3))
    with pytest.raises(ValueError):
      mod.from_quat(quats).as_euler("xy")


def test_slerp_matches_jax():
  rng = np.random.default_rng(6)
  quats = rng.normal(size=(4, 4)).astype(np.float32)
  times = np.float32([0.0, 1.0, 2.5, 4.0])
  r = rsp.spatial.transform.Slerp.init(times, rsp.spatial.transform.Rotation.from_quat(quats))
  j = jsp.spatial.transform.Slerp.init(times, jsp.spatial.transform.Rotation.from_quat(quats))
  t = np.float32([0.0, 0.3, 1.7, 3.9])
  _close(r(t).as_matrix(), j(t).as_matrix(), rtol=1e-4, atol=1e-5)
  _close(r(np.float32(2.0)).quat, j(np.float32(2.0)).quat, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError):
    rsp.spatial.transform.Slerp.init(times[:2], rsp.spatial.transform.Rotation.from_quat(quats))


# --- fft --------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm", [None, "ortho", "backward"])
def test_dct_family_matches_jax_and_scipy(norm):
  rng = np.random.default_rng(7)
  x = rng.normal(size=(4, 6, 5)).astype(np.float32)
  for axis in (0, 1, -1):
    _close(rsp.fft.dct(x, axis=axis, norm=norm), jsp.fft.dct(x, axis=axis, norm=norm),
           rtol=1e-4, atol=1e-4)
    _close(rsp.fft.idct(x, axis=axis, norm=norm), jsp.fft.idct(x, axis=axis, norm=norm),
           rtol=1e-4, atol=1e-4)
    _close(rsp.fft.dct(x, n=8, axis=axis, norm=norm), jsp.fft.dct(x, n=8, axis=axis, norm=norm),
           rtol=1e-4, atol=1e-4)
  for axes, s in ((None, None), ((0, 2), None), ((1,), (7,)), (None, (3, 4)), ((0, 1, 2), None)):
    _close(rsp.fft.dctn(x, s=s, axes=axes, norm=norm), jsp.fft.dctn(x, s=s, axes=axes, norm=norm),
           rtol=1e-4, atol=1e-4)
    _close(rsp.fft.idctn(x, s=s, axes=axes, norm=norm),
           jsp.fft.idctn(x, s=s, axes=axes, norm=norm), rtol=1e-4, atol=1e-4)
  with enable_x64():
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(rsp.fft.dct(x64, norm=norm), sfft.dct(x64, norm=norm), rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(rsp.fft.idctn(x64, norm=norm), sfft.idctn(x64, norm=norm),
                               rtol=1e-10, atol=1e-10)
  z = (x + 1j * x[::-1]).astype(np.complex64)
  _close(rsp.fft.dct(z, norm=norm), jsp.fft.dct(z, norm=norm), rtol=1e-4, atol=1e-4)


def test_dct_errors_and_gradient():
  x = np.ones((3, 4), np.float32)
  for mod in (rsp, jsp):
    with pytest.raises(NotImplementedError):
      mod.fft.dct(x, type=3)
    with pytest.raises(ValueError):
      mod.fft.dctn(x, norm="forward")
    with pytest.raises(ValueError):
      mod.fft.idctn(x, s=(1, 2, 3))
  with enable_x64():
    check_grads(lambda v: rsp.fft.dct(v, norm="ortho"), (np.arange(5.0) ** 1.3,), order=1,
                modes=["fwd", "rev"])


# --- signal: the 2-d forms, FFT convolution, detrend --------------------------------------------

@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_signal_2d_and_fft_convolutions_match_jax(mode):
  rng = np.random.default_rng(8)
  a = rng.normal(size=(5, 6)).astype(np.float32)
  for b in (rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(6, 7)).astype(np.float32)):
    for name in ("convolve2d", "correlate2d", "fftconvolve"):
      _close(getattr(rsp.signal, name)(a, b, mode), getattr(jsp.signal, name)(a, b, mode),
             rtol=1e-4, atol=1e-4)
    _close(rsp.signal.convolve(a, b, mode, method="fft"),
           jsp.signal.convolve(a, b, mode, method="fft"), rtol=1e-4, atol=1e-4)
  x = rng.normal(size=(4, 20)).astype(np.float32)
  _close(rsp.signal.fftconvolve(x, x[:, :5], mode, axes=1),
         jsp.signal.fftconvolve(x, x[:, :5], mode, axes=1), rtol=1e-4, atol=1e-4)
  z = (a + 1j * a[::-1]).astype(np.complex64)
  _close(rsp.signal.fftconvolve(z, a[:2, :3], mode), jsp.signal.fftconvolve(z, a[:2, :3], mode),
         rtol=1e-4, atol=1e-4)


def test_detrend_matches_jax_and_signal_errors():
  rng = np.random.default_rng(9)
  x = rng.normal(size=(4, 20)).astype(np.float32)
  for kind in ("linear", "constant"):
    for kw in ({}, {"axis": 0}, {"bp": [5, 12]}):
      _close(rsp.signal.detrend(x, type=kind, **kw), jsp.signal.detrend(x, type=kind, **kw),
             rtol=1e-4, atol=1e-4)
  a = np.ones((3, 3), np.float32)
  for mod in (rsp, jsp):
    with pytest.raises(ValueError):
      mod.signal.detrend(x, type="quadratic")
    with pytest.raises(NotImplementedError):
      mod.signal.convolve2d(a, a, boundary="wrap")
    with pytest.raises(ValueError):
      mod.signal.correlate2d(a[0], a[0])
    with pytest.raises(ValueError):
      mod.signal.fftconvolve(a, a[0])
