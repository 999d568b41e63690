"""Complex cumulative ops against JAX 0.10.2: cummax and cummin bit for bit
(JAX orders complex values lexicographically, and where NaNs meet its
``x > y ? x : y`` the evaluation order decides: XLA's reduce-window, a tree
past 16 elements), cumlogsumexp to rounding with JAX's NaN and infinity
pattern, cumsum/cumprod in lax and jnp, jit, vmap, and derivatives (against
JAX's and against numerical differentiation)."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.interpreters import reference
from rjax._src.lax import reductions as lr
from rjax.test_util import check_grads
from util import enable_x64
from util_vs_jax import x64_in_both

jl = jax.lax
_SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, 3.0, np.inf, -np.inf, np.nan]
_CDTYPES = [np.complex64, np.complex128]


@st.composite
def _complex_arrays(draw, special=True):
  dt = draw(st.sampled_from(_CDTYPES))
  ndim = draw(st.integers(1, 3))
  # lengths past XLA's base of 16 (a tree) and past 256 (a tree of trees)
  long = draw(st.sampled_from([None, 17, 40, 300]))
  shape = [draw(st.integers(1, 5)) for _ in range(ndim)]
  axis = draw(st.integers(0, ndim - 1))
  if long is not None:
    shape[axis] = long
    shape = [s if i == axis else min(s, 2) for i, s in enumerate(shape)]
  n = int(np.prod(shape))
  seed = draw(st.integers(0, 2**31 - 1))
  rng = np.random.default_rng(seed)
  if special:
    pool = np.array(_SPECIAL[:draw(st.sampled_from([6, 9]))])
    re, im = rng.choice(pool, n), rng.choice(pool, n)
  else:
    re, im = rng.standard_normal(n) * 3, rng.standard_normal(n) * 3
  x = np.empty(n, dt)
  x.real, x.imag = re, im   # (not re + 1j * im: 1j * inf has a NaN real part)
  return x.reshape(shape), axis, draw(st.booleans())


def _bits(x):
  x = np.asarray(x)
  return x.view(np.float32 if x.dtype == np.complex64 else np.float64)


def _same_bits(got, want):
  assert np.asarray(got).dtype == np.asarray(want).dtype
  np.testing.assert_array_equal(_bits(got), _bits(want))


@settings(max_examples=60, deadline=None)
@given(_complex_arrays(), st.sampled_from(["cummax", "cummin"]))
def test_complex_cummax_cummin_bit_for_bit_as_jax(case, name):
  x, axis, reverse = case
  with x64_in_both():
    want = getattr(jl, name)(x, axis=axis, reverse=reverse)
    _same_bits(getattr(lax, name)(x, axis=axis, reverse=reverse), want)
    _same_bits(rjax.jit(lambda v: getattr(lax, name)(v, axis=axis, reverse=reverse))(x), want)
    # the NumPy oracle computes the same order
    ref = reference.references[getattr(lr, name + "_p")](x, axis=axis, reverse=reverse)
    _same_bits(ref, want)


def test_complex_cummax_examples():
  x = np.array([1 + 2j, 3 - 1j, 1 + 5j, 3 + 0j], np.complex64)
  np.testing.assert_array_equal(lax.cummax(x), [1 + 2j, 3 - 1j, 3 - 1j, 3 + 0j])
  np.testing.assert_array_equal(lax.cummin(x), [1 + 2j] * 4)
  np.testing.assert_array_equal(lax.cummax(x, reverse=True), [3 + 0j] * 4)
  # a NaN part loses or wins by the position it meets: as JAX
  nan = complex(np.nan, 0)
  for v in ([1 + 2j, nan, 3 + 0j], [1 + 2j, complex(0, np.nan), 3 + 0j], [1, nan]):
    v = np.array(v, np.complex64)
    for rev in (False, True):
      _same_bits(lax.cummax(v, reverse=rev), jl.cummax(v, reverse=rev))
      _same_bits(lax.cummin(v, reverse=rev), jl.cummin(v, reverse=rev))


@settings(max_examples=40, deadline=None)
@given(_complex_arrays(special=False))
def test_complex_cumlogsumexp_as_jax(case):
  x, axis, reverse = case
  with x64_in_both():
    got = lax.cumlogsumexp(x, axis=axis, reverse=reverse)
    want = jl.cumlogsumexp(x, axis=axis, reverse=reverse)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    tol = 1e-12 if x.dtype == np.complex128 else 2e-5
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)
    ref = reference.references[lr.cumlogsumexp_p](x, axis=axis, reverse=reverse)
    np.testing.assert_allclose(ref, np.asarray(want), rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(_complex_arrays())
def test_complex_cumlogsumexp_special_values_as_jax(case):
  x, axis, reverse = case
  with x64_in_both():
    got = np.asarray(lax.cumlogsumexp(x, axis=axis, reverse=reverse))
    want = np.asarray(jl.cumlogsumexp(x, axis=axis, reverse=reverse))
  g, w = np.stack([got.real, got.imag]), np.stack([want.real, want.imag])
  np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
  np.testing.assert_array_equal(np.isposinf(g), np.isposinf(w))
  np.testing.assert_array_equal(np.isneginf(g), np.isneginf(w))
  fin = np.isfinite(g) & np.isfinite(w)
  np.testing.assert_allclose(g[fin], w[fin], rtol=2e-5, atol=2e-5)


@settings(max_examples=30, deadline=None)
@given(_complex_arrays(special=False))
def test_complex_cumsum_cumprod_as_jax(case):
  x, axis, reverse = case
  x = x / 3   # products of order one
  with x64_in_both():
    tol = 1e-12 if x.dtype == np.complex128 else 2e-5
    for name in ("cumsum", "cumprod"):
      np.testing.assert_allclose(getattr(lax, name)(x, axis=axis, reverse=reverse),
                                 getattr(jl, name)(x, axis=axis, reverse=reverse),
                                 rtol=tol, atol=tol)
    for name in ("cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "nancumsum",
                 "nancumprod"):
      got, want = getattr(jnp, name)(x, axis=axis), getattr(jjnp, name)(x, axis=axis)
      assert np.asarray(got).dtype == np.asarray(want).dtype, name
      np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("name", ["cummax", "cummin", "cumlogsumexp", "cumsum", "cumprod"])
def test_complex_cumulative_under_vmap_as_jax(name):
  rng = np.random.default_rng(0)
  x = (rng.standard_normal((3, 20, 4)) + 1j * rng.standard_normal((3, 20, 4))).astype(np.complex64)
  x[0, 3, 1] = complex(np.nan, 1)
  for in_axis in (0, 1, 2):
    f = lambda m: lambda v: getattr(m, name)(v, axis=0, reverse=True)  # noqa: E731
    got = rjax.vmap(f(lax), in_axes=in_axis)(x)
    want = jax.vmap(f(jl), in_axes=in_axis)(x)
    if name in ("cummax", "cummin"):
      _same_bits(got, want)
    else:
      np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def _loss(m, name, reverse):
  """A real loss of a complex cumulative op, each position weighted."""
  np_ = jnp if m is lax else jjnp

  def f(z):
    y = getattr(m, name)(z, reverse=reverse)
    w = np_.arange(1.0, y.shape[0] + 1) * (1 - 0.5j)
    return np_.sum(np_.real(y * w)) + np_.sum(np_.abs(y) ** 2) / 7
  return f


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", ["cummax", "cummin", "cumlogsumexp", "cumsum", "cumprod"])
def test_complex_cumulative_gradients(name, reverse):
  rng = np.random.default_rng(1)
  # distinct real parts: no ties, so the max/min derivatives are well defined
  x = (rng.permutation(7) - 3.0) * 0.4 + 1j * rng.uniform(-1, 1, 7)
  with x64_in_both():
    got = rjax.grad(_loss(lax, name, reverse))(x)
    want = jax.grad(_loss(jl, name, reverse))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-12)
  with enable_x64():
    check_grads(lambda z: getattr(lax, name)(z, reverse=reverse), [jnp.asarray(x)], order=2,
                modes=("fwd", "rev"))


def test_cumulative_errors_as_jax():
  for m in (lax, jl):
    with pytest.raises(TypeError):
      m.cummax(np.ones(3, bool))
    with pytest.raises(TypeError):
      m.cumlogsumexp(np.ones(3, bool))
    # JAX takes integers here and fails to make its -inf initial value
    with pytest.raises(OverflowError):
      m.cumlogsumexp(np.ones(3, np.int32))
