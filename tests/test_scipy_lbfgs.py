"""minimize(method="l-bfgs-experimental-do-not-rely-on-this") against JAX
0.10.2: every OptimizeResults field on standard problems (Rosenbrock,
quadratics), eagerly and under jit, the stopping rules (maxiter,
maxfun, maxgrad, ftol, gtol, maxcor), and complex x reaching its solution."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jax
import jax.numpy as jjnp
import jax.scipy.optimize  # noqa: F401  (JAX loads its submodules lazily)

import rjax
import rjax.numpy as jnp
import rjax.scipy.optimize as ropt
from util import enable_x64
from util_vs_jax import x64_in_both

METHOD = "l-bfgs-experimental-do-not-rely-on-this"
jopt = jax.scipy.optimize




def _rosenbrock(np_):
  return lambda x: np_.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _quadratic(np_, a, c):
  return lambda x, s: 0.5 * x @ a @ x - s * (c @ x)


def _same_results(got, want, rtol, atol, counts=("success", "status", "nfev", "njev", "nit")):
  assert type(got).__name__ == "OptimizeResults"
  assert got._fields == want._fields
  for name in counts:
    assert np.asarray(getattr(got, name)) == np.asarray(getattr(want, name)), name
  assert got.hess_inv is None and want.hess_inv is None
  for name in ("x", "fun", "jac"):
    g, w = np.asarray(getattr(got, name)), np.asarray(getattr(want, name))
    assert g.dtype == w.dtype and g.shape == w.shape, name
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.2, 1.0, 0.5, -0.3, 2.0], [0.0, 0.0, 0.0]])
def test_rosenbrock_matches_jax_in_float64(x0):
  with x64_in_both():
    x0 = np.asarray(x0, np.float64)
    got = ropt.minimize(_rosenbrock(jnp), x0, method=METHOD)
    want = jopt.minimize(_rosenbrock(jjnp), x0, method=METHOD)
    _same_results(got, want, rtol=1e-7, atol=1e-9)
    if bool(want.success):  # JAX's line search may give up first (status 5): so does rjax's
      np.testing.assert_allclose(np.asarray(got.x), np.ones_like(x0), atol=1e-4)


def test_rosenbrock_float32_eager_and_jit():
  # float32 from this start: JAX's line search fails before convergence
  # (status 5) after 13 steps; rjax takes the same steps
  x0 = np.float32([-1.2, 1.0, 0.5, -0.3])
  got = ropt.minimize(_rosenbrock(jnp), x0, method=METHOD)
  want = jopt.minimize(_rosenbrock(jjnp), x0, method=METHOD)
  _same_results(got, want, rtol=1e-4, atol=5e-3)  # jac: float32 cancellation
  f = lambda m, np_: lambda x: m.minimize(_rosenbrock(np_), x, method=METHOD,  # noqa: E731
                                          options=dict(maxiter=30))
  got = rjax.jit(f(ropt, jnp))(x0)
  want = jax.jit(f(jopt, jjnp))(x0)
  _same_results(got, want, rtol=1e-4, atol=5e-3)  # jac: float32 cancellation


@settings(max_examples=5, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1), st.sampled_from([3, 10]))
def test_quadratics_with_args_match_jax_and_the_solution(n, seed, maxcor):
  rng = np.random.default_rng(seed)
  with x64_in_both():
    b = rng.standard_normal((n, n))
    a = b @ b.T + n * np.eye(n)
    c = rng.standard_normal(n)
    x0 = rng.standard_normal(n)
    # ftol=0: run until the gradient test or the line search stops it (or at
    # the solution to rounding, JAX's line search failing there: status 5)
    opts = dict(maxcor=maxcor, gtol=1e-6, ftol=0.0)
    got = ropt.minimize(_quadratic(jnp, a, c), x0, (2.0,), method=METHOD, options=opts)
    want = jopt.minimize(_quadratic(jjnp, a, c), x0, (2.0,), method=METHOD, options=opts)
    # the last line search decides its Wolfe tests on rounding-level values:
    # the evaluation counts may differ by one there
    _same_results(got, want, rtol=1e-7, atol=1e-9, counts=("success",))
    np.testing.assert_allclose(np.asarray(got.x), np.linalg.solve(a, 2.0 * c), rtol=1e-6,
                               atol=1e-6)
    jitted = rjax.jit(lambda x: ropt.minimize(_quadratic(jnp, a, c), x, (2.0,), method=METHOD,
                                              options=opts))(x0)
    _same_results(jitted, want, rtol=1e-7, atol=1e-9, counts=("success",))


@pytest.mark.parametrize("options", [dict(maxiter=3), dict(maxfun=5), dict(maxgrad=4),
                                     dict(ftol=1.0), dict(gtol=10.0), dict(maxls=1),
                                     dict(maxcor=1, norm=2), dict(norm=1, maxiter=50)])
def test_stopping_rules_match_jax(options):
  with x64_in_both():
    x0 = np.array([-1.2, 1.0, 0.7])
    got = ropt.minimize(_rosenbrock(jnp), x0, method=METHOD, options=options)
    want = jopt.minimize(_rosenbrock(jjnp), x0, method=METHOD, options=options)
    _same_results(got, want, rtol=1e-7, atol=1e-9)


def _complex_objectives(np_, c, w, z):
  """Real functions of complex x built from elementwise ops (no complex
  matmul): a coupled quadratic and a quartic."""
  return {
      "quadratic": lambda x: (np_.sum(w * np_.abs(x - c) ** 2)
                              + np_.sum(np_.abs(x[1:] - x[:-1] * z) ** 2)),
      "quartic": lambda x: np_.sum(w * np_.abs(x * x - c) ** 2),
  }


@pytest.mark.parametrize("seed,n", [(0, 2), (1, 4), (2, 6), (3, 3)])
@pytest.mark.parametrize("kind", ["quadratic", "quartic"])
def test_complex_variables_match_jax(kind, seed, n):
  # Sorber et al.'s complex L-BFGS: the same steps, evaluation counts and
  # result as JAX's
  rng = np.random.default_rng(seed)
  c = rng.standard_normal(n) + 1j * rng.standard_normal(n)
  w = rng.uniform(1, 3, n)
  z = complex(rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6))
  x0 = np.full(n, 0.3j) + rng.standard_normal(n) * 0.1
  with x64_in_both():
    got = ropt.minimize(_complex_objectives(jnp, c, w, z)[kind], x0, method=METHOD)
    want = jopt.minimize(_complex_objectives(jjnp, c, w, z)[kind], x0, method=METHOD)
    assert np.asarray(got.x).dtype == np.complex128
    _same_results(got, want, rtol=1e-7, atol=1e-9)


def test_complex_variables_reach_the_least_squares_solution():
  # a real function of complex x: |A x - b|^2, minimised at the least-squares
  # x. JAX's iterates differ from here on after its first step: along the
  # first direction the objective is exactly quadratic, so the line search's
  # cubic interpolant has a leading coefficient of pure rounding noise, and
  # rjax's complex matrix product (a different summation from XLA's, an ulp
  # apart) changes that noise, and with it which trial step the zoom takes.
  # The L-BFGS and line-search code take JAX's steps wherever the objective's
  # values agree to the bit (test_complex_variables_match_jax).
  rng = np.random.default_rng(1)
  with enable_x64():
    a = rng.standard_normal((5, 3)) + 1j * rng.standard_normal((5, 3))
    b = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    got = ropt.minimize(lambda x: jnp.sum(jnp.abs(a @ x - b) ** 2), np.zeros(3, np.complex128),
                        method=METHOD)
    assert np.asarray(got.x).dtype == np.complex128
    np.testing.assert_allclose(np.asarray(got.x), np.linalg.lstsq(a, b, rcond=None)[0],
                               atol=1e-5)
  with x64_in_both():
    # the same problem with the product summed elementwise (bit-equal
    # values in both libraries): JAX's steps, counts and solution
    f = lambda np_: lambda x: np_.sum(np_.abs(np_.sum(a * x[None, :], axis=1) - b) ** 2)  # noqa
    got = ropt.minimize(f(jnp), np.zeros(3, np.complex128), method=METHOD)
    want = jopt.minimize(f(jjnp), np.zeros(3, np.complex128), method=METHOD)
    _same_results(got, want, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(np.asarray(got.x), np.linalg.lstsq(a, b, rcond=None)[0],
                               atol=1e-5)


def test_bad_method_and_args_raise_like_jax():
  x0 = np.zeros(2, np.float32)
  for mod, np_ in ((ropt, jnp), (jopt, jjnp)):
    with pytest.raises(ValueError, match="not recognized"):
      mod.minimize(_rosenbrock(np_), x0, method="l-bfgs")
    with pytest.raises(TypeError, match="must be a tuple"):
      mod.minimize(_rosenbrock(np_), x0, [1.0], method=METHOD)
    with pytest.raises(TypeError):
      mod.minimize(_rosenbrock(np_), x0, method=METHOD, options=dict(tolerance=1.0))
