"""rjax.scipy (special, stats.norm, signal) against JAX 0.10.2 itself: values
(special values included), dtypes, shapes, the exception types of bad input,
gradients (JAX's custom JVPs) and the same under jit and vmap."""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jax
import jax.scipy as jsp
import jax.scipy.signal as jsig
import jax.scipy.special as jspec
import jax.scipy.stats.norm as jnorm

from util import assert_matches, assert_trees_match

import rjax
import rjax.numpy as jnp
import rjax.scipy as rsp
import rjax.scipy.signal as rsig
import rjax.scipy.special as rspec
import rjax.scipy.stats.norm as rnorm
from rjax.test_util import check_grads

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -7.0, 30.0, -30.0, 1e-3, 0.999, -0.999,
           1e-30, np.inf, -np.inf, np.nan]
PROBS = [0.0, 1.0, 0.5, 1e-3, 1 - 1e-3, 0.1, 0.9, 1e-30, 0.2, 0.13, 0.87, -0.1, 1.1, np.nan]

floats = st.floats(-40, 40, allow_subnormal=False, width=32)
probs = st.floats(0, 1, allow_subnormal=False, width=32)
values = st.lists(st.one_of(st.sampled_from(SPECIAL), floats), min_size=0, max_size=24)
prob_values = st.lists(st.one_of(st.sampled_from(PROBS), probs), min_size=0, max_size=24)

# name -> (rtol, atol): XLA's lgamma differs from rjax's near its zeros by
# ~2e-6 absolute (gammaln(1) is 4.8e-7 in JAX, 0 here); XLA flushes
# subnormal results to 0 (i1e(1.2e-38)), rjax keeps them (atol 1e-30)
UNARY = {"expit": (2e-6, 1e-30), "logit": (2e-6, 1e-6), "erf": (2e-6, 1e-30), "erfc": (2e-6, 1e-30),
         "erfinv": (2e-6, 1e-30), "gammaln": (2e-6, 3e-6), "digamma": (2e-6, 1e-6),
         "entr": (2e-6, 1e-30), "i0e": (2e-6, 1e-30), "i1e": (2e-6, 1e-30), "i0": (2e-6, 1e-30),
         "i1": (2e-6, 1e-30), "ndtr": (1e-5, 1e-30), "log_ndtr": (1e-5, 1e-30), "ndtri": (2e-6, 1e-30)}


def _fixed(xs, n=24):
  """``xs`` padded with 0.5 to ``n`` float32s: one shape, so JAX compiles each op once."""
  return np.asarray(list(xs)[:n] + [0.5] * (n - len(xs[:n])), np.float32)


def _close(got, want, rtol=2e-6, atol=1e-6):
  assert_matches(got, want, rtol, atol)


def _both(got, want, **kw):
  assert_trees_match(got, want, _close, **kw)


# --- the package's face -----------------------------------------------------------------------

def test_the_public_modules_import_like_jaxs():
  assert rsp.special is rspec and rsp.signal is rsig and rsp.stats.norm is rnorm
  norm = importlib.import_module("rjax.scipy.stats.norm")
  assert norm.logpdf is rnorm.logpdf
  stats = importlib.import_module("rjax.scipy.stats")
  assert stats.norm is rnorm
  for name in UNARY:
    assert callable(getattr(rspec, name)) and callable(getattr(jspec, name))
  for name in ["logsumexp", "softmax", "log_softmax", "xlogy", "xlog1py", "betaln"]:
    assert callable(getattr(rspec, name))
  linalg = importlib.import_module("rjax.scipy.linalg")
  assert rsp.linalg is linalg and callable(linalg.expm)


# --- unary special functions ------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=4)
@given(xs=values, ps=prob_values)
def test_unary_values_match_jax(name, xs, ps):
  rtol, atol = UNARY[name]
  for arr in (_fixed(xs), _fixed(ps)):
    _close(getattr(rspec, name)(arr), getattr(jspec, name)(arr), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_special_values_and_shapes(name):
  rtol, atol = UNARY[name]
  x = np.asarray(SPECIAL + PROBS, np.float32).reshape(1, -1, 1)
  _close(getattr(rspec, name)(x), getattr(jspec, name)(x), rtol=rtol, atol=atol)
  empty = np.zeros((0, 3), np.float32)
  _close(getattr(rspec, name)(empty), getattr(jspec, name)(empty))


PROMOTING = sorted(set(UNARY) - {"ndtr", "ndtri", "log_ndtr"})


@pytest.mark.parametrize("name", PROMOTING)
def test_unary_dtype_promotion_is_jaxs(name):
  for x in (np.array([1, 2, 3], np.int32), np.float16([0.25, 0.5]), 2):
    got, want = getattr(rspec, name)(x), getattr(jspec, name)(x)
    assert got.dtype == want.dtype, (x, got.dtype, want.dtype)
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                               rtol=2e-3, atol=2e-3, equal_nan=True)


@pytest.mark.parametrize("name", ["ndtr", "ndtri", "log_ndtr"])
@pytest.mark.parametrize("x", [np.array([1, 2], np.int32), np.float16([0.5])])
def test_normal_functions_reject_other_dtypes_like_jax(name, x):
  with pytest.raises(TypeError):
    getattr(jspec, name)(x)
  with pytest.raises(TypeError, match="not supported"):
    getattr(rspec, name)(x)


def test_log_ndtr_series_order_checks_like_jax():
  x = np.float32(-12.0)
  for order in (0, 1, 5, 30):
    _close(rspec.log_ndtr(x, series_order=order), jspec.log_ndtr(x, series_order=order))
  for bad, exc in ((1.5, TypeError), (-1, ValueError), (31, ValueError)):
    with pytest.raises(exc):
      jspec.log_ndtr(x, series_order=bad)
    with pytest.raises(exc):
      rspec.log_ndtr(x, series_order=bad)


# where JAX's and rjax's lax derivative rules agree (digamma's at ±inf and
# i1e's at NaN differ in lax, not here)
GRAD_POINTS = np.array([-7.5, -2.5, -0.999, -0.3, 1e-3, 0.2, 0.5, 0.999, 2.5, 7.5, 30.0],
                       np.float32)
GRAD_DOMAIN = {"logit": (0.01, 0.99), "erfinv": (-0.99, 0.99), "ndtri": (0.01, 0.99),
               "gammaln": (0.05, 40), "digamma": (0.05, 40), "entr": (1e-3, 40)}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients_match_jax(name):
  lo, hi = GRAD_DOMAIN.get(name, (-40, 40))
  x = GRAD_POINTS[(GRAD_POINTS > lo) & (GRAD_POINTS < hi)]
  if name in GRAD_DOMAIN:
    x = np.concatenate([x, np.linspace(lo, hi, 5, dtype=np.float32)[1:-1]])
  got = rjax.vmap(rjax.grad(getattr(rspec, name)))(x)
  want = jax.vmap(jax.grad(getattr(jspec, name)))(x)
  _close(got, want, rtol=2e-5, atol=1e-6)
  got_jit = rjax.jit(rjax.vmap(rjax.grad(getattr(rspec, name))))(x)
  _close(got_jit, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name,x", [("logit", 0.3), ("expit", -1.2), ("erf", 0.4),
                                    ("erfinv", 0.3), ("gammaln", 2.5), ("digamma", 1.7),
                                    ("entr", 0.6), ("i0e", 1.3), ("i1e", -0.8),
                                    ("ndtr", -0.7), ("log_ndtr", -3.0), ("ndtri", 0.2)])
def test_unary_gradients_are_numerically_right(name, x):
  check_grads(getattr(rspec, name), (np.float32(x),), order=2, modes=["fwd", "rev"],
              atol=3e-2, rtol=3e-2)


def test_log_ndtr_gradient_in_the_far_tails_is_jaxs():
  # the custom JVP exp(logpdf(x) - log_ndtr(x)) stays finite where ndtr underflows
  x = np.array([-60.0, -25.0, -12.0, -9.0, 0.0, 4.0, 6.0, 12.0], np.float32)
  _close(rjax.vmap(rjax.grad(rspec.log_ndtr))(x), jax.vmap(jax.grad(jspec.log_ndtr))(x),
         rtol=1e-5)


# --- x log y and entropy ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "betaln"])
@settings(max_examples=8)
@given(xs=values, ys=values)
def test_binary_values_match_jax(name, xs, ys):
  x, y = _fixed(xs), _fixed(ys)
  _close(getattr(rspec, name)(x, y), getattr(jspec, name)(x, y), rtol=5e-6, atol=BINARY_ATOL[name])


# XLA's lgamma is off by ~2e-6 near 1 (betaln(1, 0.999): JAX 0.0010023, exact 0.0010005)
# and for negative arguments betaln subtracts lgammas of ~60 (f32 rounding: atol 3e-5)
BINARY_ATOL = {"xlogy": 1e-6, "xlog1py": 1e-6, "betaln": 3e-5}


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "betaln"])
def test_binary_special_values_broadcast_and_promote(name):
  s = np.asarray(SPECIAL, np.float32)
  _close(getattr(rspec, name)(s[:, None], s[None]), getattr(jspec, name)(s[:, None], s[None]),
         rtol=5e-6, atol=BINARY_ATOL[name])
  for x, y in ((np.int32(2), np.float16(3.0)), (np.array([0, 1, 2]), 2.0), (1, 3)):
    got, want = getattr(rspec, name)(x, y), getattr(jspec, name)(x, y)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                               rtol=2e-3)


def test_xlogy_zero_conventions():
  # 0 * log(0) is 0, but NaN in y propagates; 0 * log1p(-1) is 0
  assert float(rspec.xlogy(0.0, 0.0)) == 0.0 and np.isnan(rspec.xlogy(0.0, np.nan))
  assert float(rspec.xlog1py(0.0, -1.0)) == 0.0 and np.isnan(rspec.xlog1py(0.0, np.nan))
  assert float(rspec.entr(0.0)) == 0.0 and float(rspec.entr(-1.0)) == -np.inf


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_gradients_are_jaxs_custom_jvp(name):
  x = np.array([0.0, 0.0, 0.5, 2.0, -1.0, 3.0], np.float32)
  y = np.array([0.0, 1.0, 0.25, 3.0, 2.0, np.inf], np.float32)
  for argnums in (0, 1, (0, 1)):
    got = rjax.vmap(rjax.grad(getattr(rspec, name), argnums))(x, y)
    want = jax.vmap(jax.grad(getattr(jspec, name), argnums))(x, y)
    _both(got, want, rtol=1e-6)
  check_grads(getattr(rspec, name), (np.float32(0.7), np.float32(1.3)), order=2,
              modes=["fwd", "rev"], atol=3e-2, rtol=3e-2)


def test_entr_gradient_is_jaxs():
  # d/dx -x log x = -(log x + 1): +inf at 0 (JAX's custom JVP of x log x)
  x = np.array([0.0, 1e-3, 0.5, 1.0, 4.0], np.float32)
  _close(rjax.vmap(rjax.grad(rspec.entr))(x), jax.vmap(jax.grad(jspec.entr))(x))
  _close(rjax.jit(rjax.vmap(rjax.grad(rspec.entr)))(x), jax.vmap(jax.grad(jspec.entr))(x))


# --- logsumexp and softmax --------------------------------------------------------------------

LSE_A = np.array([[1., -np.inf, 3.], [np.inf, 2., np.nan], [-np.inf, -np.inf, -np.inf],
                  [np.inf, -np.inf, 0.]], np.float32)
LSE_B = np.array([[1., -1., 2.], [0., 1., 1.], [1., 1., 0.], [1., 1., 1.]], np.float32)
LSE_W = np.array([[True, False, True], [False, True, True], [False, False, False],
                  [True, True, False]])
FINITE_A = np.array([[1., 2., 3.], [0.5, -1., 2.], [4., 4., 4.], [0., 1., 2.]], np.float32)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (1,)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("return_sign", [False, True])
def test_logsumexp_matches_jax_with_infinities_nans_b_and_where(axis, keepdims, return_sign):
  for b in (None, LSE_B):
    for where in (None, LSE_W):
      _both(rspec.logsumexp(LSE_A, axis, b, keepdims, return_sign, where),
            jspec.logsumexp(LSE_A, axis, b, keepdims, return_sign, where))


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
def test_logsumexp_gradients_match_jax(axis):
  for b in (None, LSE_B):
    for where in (None, LSE_W):
      for a in (FINITE_A, LSE_A):
        def f(lse):
          return lambda x: lse(x, axis, b, False, False, where).sum()
        _both(rjax.grad(f(rspec.logsumexp))(a), jax.grad(f(jspec.logsumexp))(a))
  check_grads(lambda x: rspec.logsumexp(x, axis), (FINITE_A,), order=2, modes=["fwd", "rev"],
              atol=3e-2, rtol=3e-2)


@settings(max_examples=8)
@given(st.lists(st.one_of(st.sampled_from(SPECIAL), floats), min_size=0, max_size=12),
       st.integers(1, 3))
def test_logsumexp_hypothesis(xs, cols):
  a = _fixed(xs, 12).reshape(-1, cols)
  for axis in (None, 0, 1):
    _both(rspec.logsumexp(a, axis=axis), jspec.logsumexp(a, axis=axis))
    _both(rspec.logsumexp(a, axis=axis, b=np.float32(-2.0), return_sign=True),
          jspec.logsumexp(a, axis=axis, b=np.float32(-2.0), return_sign=True))


def test_logsumexp_dtypes_empty_jit_and_vmap():
  for a in (np.arange(5), np.arange(5, dtype=np.float16), np.array([True, False]),
            np.zeros((0, 3), np.float32), np.zeros((0,), np.float32)):
    _both(rspec.logsumexp(a), jspec.logsumexp(a), rtol=1e-3)
    _both(rspec.logsumexp(a, axis=0), jspec.logsumexp(a, axis=0), rtol=1e-3)
  f = lambda x, b: rspec.logsumexp(x, axis=1, b=b, return_sign=True)  # noqa: E731
  g = lambda x, b: jspec.logsumexp(x, axis=1, b=b, return_sign=True)  # noqa: E731
  _both(rjax.jit(f)(LSE_A, LSE_B), g(LSE_A, LSE_B))
  _both(rjax.vmap(f)(LSE_A[None].repeat(2, 0), LSE_B[None].repeat(2, 0)),
        jax.vmap(g)(LSE_A[None].repeat(2, 0), LSE_B[None].repeat(2, 0)))
  _both(rjax.vmap(rspec.logsumexp)(FINITE_A), jax.vmap(jspec.logsumexp)(FINITE_A))
  _both(rjax.jit(rjax.grad(lambda x: rspec.logsumexp(x, 0).sum()))(FINITE_A),
        jax.grad(lambda x: jspec.logsumexp(x, 0).sum())(FINITE_A))


def test_logsumexp_bad_axes_raise_like_jax():
  for axis in (2, -3, (0, 0), (1, -1)):
    with pytest.raises(ValueError):
      jspec.logsumexp(FINITE_A, axis=axis)
    with pytest.raises(ValueError):
      rspec.logsumexp(FINITE_A, axis=axis)
  with pytest.raises(TypeError):
    jspec.logsumexp([1.0, 2.0])
  with pytest.raises(TypeError):
    rspec.logsumexp([1.0, 2.0])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
def test_softmax_values_and_jacobians_match_jax(name, axis):
  rf, jf = getattr(rspec, name), getattr(jspec, name)
  _both(rf(LSE_A, axis=axis), jf(LSE_A, axis=axis))
  _both(rf(FINITE_A, axis=axis), jf(FINITE_A, axis=axis))
  _both(rjax.jacrev(lambda x: rf(x, axis=axis))(FINITE_A),
        jax.jacrev(lambda x: jf(x, axis=axis))(FINITE_A))
  if axis != -1:
    return
  _both(rjax.jacfwd(lambda x: rf(x, axis=axis))(FINITE_A),
        jax.jacfwd(lambda x: jf(x, axis=axis))(FINITE_A))
  _both(rjax.jit(lambda x: rf(x, axis=axis))(FINITE_A), jf(FINITE_A, axis=axis))
  _both(rjax.vmap(lambda x: rf(x, axis=0))(FINITE_A),
        jax.vmap(lambda x: jf(x, axis=0))(FINITE_A))
  if name == "softmax":  # JAX's log_softmax of integers warns (an int max with initial -inf)
    _both(rf(np.arange(4)), jf(np.arange(4)))
  _both(rf(np.zeros((0, 3), np.float32), axis=1), jf(np.zeros((0, 3), np.float32), axis=1))
  with pytest.raises(TypeError):
    jf(FINITE_A, 0)  # axis is keyword-only in JAX
  with pytest.raises(TypeError):
    rf(FINITE_A, 0)


# --- stats.norm -------------------------------------------------------------------------------

NORM_X = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]
NORM_Q = ["ppf", "isf"]


@pytest.mark.parametrize("name", NORM_X + NORM_Q)
@settings(max_examples=4)
@given(xs=values, ps=prob_values, loc=st.sampled_from([0.0, -1.5, 3.0]),
       scale=st.sampled_from([1.0, 0.5, 4.0, 0.0, -1.0]))
def test_norm_values_match_jax(name, xs, ps, loc, scale):
  x = _fixed(ps if name in NORM_Q else xs)
  _close(getattr(rnorm, name)(x, loc, scale), getattr(jnorm, name)(x, loc, scale),
         rtol=5e-6, atol=1e-6)
  _close(getattr(rnorm, name)(x), getattr(jnorm, name)(x), rtol=5e-6, atol=1e-6)


@pytest.mark.parametrize("name", NORM_X + NORM_Q)
def test_norm_broadcasting_dtypes_jit_vmap(name):
  rf, jf = getattr(rnorm, name), getattr(jnorm, name)
  x = np.array([0.1, 0.5, 0.9], np.float32)[:, None]
  loc = np.array([0.0, 1.0], np.float32)
  scale = np.array([[1.0], [2.0], [0.5]], np.float32)
  _close(rf(x, loc, scale), jf(x, loc, scale), rtol=5e-6)
  # integers promote to the default float; float16 stays float16 (ppf: always the default)
  # (ndtr and ndtri take float32/float64 only: cdf & co of float16, ppf of ints are TypeErrors)
  for args in ((np.array([0, 1]),), (np.float16(0.25), np.float16(0.0)), (1, 2, 3),
               (np.float16([0.25]), np.int32(0), np.int32(1))):
    try:
      want = jf(*args)
    except TypeError:
      with pytest.raises(TypeError, match="not supported"):
        rf(*args)
      continue
    got = rf(*args)
    assert got.dtype == want.dtype and got.shape == want.shape, (args, got.dtype, want.dtype)
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                               rtol=2e-3, equal_nan=True)
  _close(rjax.jit(rf)(x, loc, scale), jf(x, loc, scale), rtol=5e-6)
  _close(rjax.vmap(rf, (0, None, 0))(x, loc, scale), jax.vmap(jf, (0, None, 0))(x, loc, scale),
         rtol=5e-6)
  _close(rf(np.zeros((0, 2), np.float32)), jf(np.zeros((0, 2), np.float32)))
  with pytest.raises(TypeError):  # lax's shape check in JAX (no jnp broadcasting step)
    jf(np.ones(3, np.float32), np.ones(2, np.float32))
  with pytest.raises(TypeError):
    rf(np.ones(3, np.float32), np.ones(2, np.float32))


@pytest.mark.parametrize("name", NORM_X + NORM_Q)
def test_norm_gradients_match_jax(name):
  rf, jf = getattr(rnorm, name), getattr(jnorm, name)
  x = np.array([0.05, 0.3, 0.5, 0.8, 0.97], np.float32) if name in NORM_Q else \
      np.array([-12.0, -3.0, -0.4, 0.0, 0.7, 2.5, 9.0], np.float32)
  loc, scale = np.float32(0.3), np.float32(1.7)
  got = rjax.vmap(rjax.grad(rf, (0, 1, 2)), (0, None, None))(x, loc, scale)
  want = jax.vmap(jax.grad(jf, (0, 1, 2)), (0, None, None))(x, loc, scale)
  _both(got, want, rtol=2e-5, atol=1e-6)
  x0 = np.float32(0.35 if name in NORM_Q else -0.6)
  check_grads(rf, (x0, loc, scale), order=1, modes=["fwd", "rev"], atol=3e-2, rtol=3e-2)


def test_norm_as_the_advi_example_uses_it():
  # examples/advi.py: a diagonal Gaussian's logpdf, summed, under vmap and grad
  def log_density(norm, exp, params, z):
    mean, log_std = params
    return norm.logpdf(z, mean, exp(log_std)).sum()
  params = (np.array([0.1, -0.3], np.float32), np.array([0.0, -1.0], np.float32))
  z = np.array([[0.5, 1.0], [-1.0, 0.2], [0.0, 0.0]], np.float32)
  got = rjax.vmap(rjax.grad(lambda p, z: log_density(rnorm, jnp.exp, p, z)), (None, 0))(params, z)
  want = jax.vmap(jax.grad(lambda p, z: log_density(jnorm, jax.numpy.exp, p, z)),
                  (None, 0))(params, z)
  _both(got, want, rtol=1e-5)


# --- signal -----------------------------------------------------------------------------------

@st.composite
def conv_shapes(draw):
  nd = draw(st.integers(1, 3))
  big = tuple(draw(st.integers(1, 6)) for _ in range(nd))
  small = tuple(draw(st.integers(1, b)) for b in big)
  return (small, big) if draw(st.booleans()) else (big, small)


@settings(max_examples=10)
@given(conv_shapes(), st.sampled_from(["full", "same", "valid"]),
       st.sampled_from(["convolve", "correlate"]), st.integers(0, 2**16))
def test_convolve_and_correlate_match_jax(shapes, mode, op, seed):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=shapes[0]).astype(np.float32)
  y = rng.normal(size=shapes[1]).astype(np.float32)
  _close(getattr(rsig, op)(x, y, mode), getattr(jsig, op)(x, y, mode), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_convolve_dtypes_methods_special_values_jit_vmap_grad(op):
  rf, jf = getattr(rsig, op), getattr(jsig, op)
  x = np.array([[1.0, np.inf, 2.0, -1.0], [0.0, 1.0, np.nan, 3.0], [-0.0, 2.0, 1.0, 0.5]],
               np.float32)
  y = np.array([[1.0, -2.0], [0.5, 0.0]], np.float32)
  for mode in ("full", "same", "valid"):
    _close(rf(x, y, mode), jf(x, y, mode), rtol=1e-6)
    _close(rf(x, y, mode, method="direct"), jf(x, y, mode, method="direct"), rtol=1e-6)
  for a, b in ((np.arange(5, dtype=np.int32), np.arange(3, dtype=np.int32)),
               (np.float16([1, 2, 3]), np.float16([1, -1]))):
    _close(rf(a, b), jf(a, b), rtol=1e-3)
  xf = np.nan_to_num(x, posinf=3.0, nan=-2.0)
  _close(rjax.jit(rf, static_argnums=2)(xf, y, "same"), jf(xf, y, "same"), rtol=1e-6)
  _close(rjax.vmap(lambda a: rf(a, y[0]))(xf), jax.vmap(lambda a: jf(a, y[0]))(xf), rtol=1e-6)
  _both(rjax.grad(lambda a, b: (rf(a, b, "same") ** 2).sum(), (0, 1))(xf, y),
        jax.grad(lambda a, b: (jf(a, b, "same") ** 2).sum(), (0, 1))(xf, y), rtol=1e-5)
  check_grads(lambda a, b: rf(a, b, "full"), (xf[:2, :3], y), order=1, modes=["fwd", "rev"],
              atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_convolve_bad_input_raises_like_jax(op):
  rf, jf = getattr(rsig, op), getattr(jsig, op)
  x, y = np.ones((4, 3), np.float32), np.ones((2, 2), np.float32)
  bad = [((x, y, "nope"), {}),                                   # unknown mode
         ((x, np.ones(2, np.float32)), {}),                      # different ranks
         ((x, np.ones((0, 2), np.float32)), {}),                 # empty
         ((x, np.ones((5, 2), np.float32)), {}),                 # neither is smaller
         ((x, y), {"method": "slow"})]                           # unknown method
  for args, kw in bad:
    with pytest.raises(ValueError):
      jf(*args, **kw)
    with pytest.raises(ValueError):
      rf(*args, **kw)
  # method="fft" is fftconvolve (test_scipy_modules2.py tests it further)
  _close(rf(x, y, method="fft"), jf(x, y, method="fft"), rtol=1e-5, atol=1e-5)
