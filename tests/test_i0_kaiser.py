"""jnp.i0 and jnp.kaiser (built on lax.bessel_i0e) against JAX and NumPy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import jax
import jax.numpy as jjnp

import rjax
import rjax.numpy as jnp

SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, -7.0, 30.5, 85.0, 90.0, np.inf, -np.inf, np.nan]


@given(st.lists(st.one_of(st.sampled_from(SPECIAL),
                          st.floats(-80, 80, allow_subnormal=False, width=32)),
                min_size=0, max_size=30))
def test_i0_values_match_jax_and_numpy(xs):
  x = np.asarray(xs, np.float32)
  got = np.asarray(jnp.i0(x))
  np.testing.assert_allclose(got, np.asarray(jjnp.i0(x)), rtol=2e-6, equal_nan=True)
  with np.errstate(over="ignore", invalid="ignore"):
    want = np.i0(x.astype(np.float64))
  ok = np.isfinite(want) & (np.abs(x) < 88)   # exp(|x|) overflows f32 past 88.7
  np.testing.assert_allclose(got[ok], want[ok], rtol=5e-6)


@pytest.mark.parametrize("x", [0.0, 0.5, -1.5, 3.0, -10.0])
def test_i0_gradient_is_jaxs(x):
  # JAX's rule: the derivative is I1(x), and exactly 0 at 0
  g = float(rjax.grad(jnp.i0)(x))
  assert g == pytest.approx(float(jax.grad(jjnp.i0)(x)), rel=2e-6, abs=0)
  xs = np.array([0.0, 0.5, -1.5, 3.0], np.float32)
  np.testing.assert_allclose(rjax.vmap(rjax.grad(jnp.i0))(xs),
                             jax.vmap(jax.grad(jjnp.i0))(xs), rtol=2e-6)


@pytest.mark.parametrize("x", [0.7, -1.5, 2.0])
def test_i0_gradient_matches_numerical_differences(x):
  rjax.test_util.check_grads(jnp.i0, (np.float32(x),), order=2, modes=["fwd", "rev"],
                             atol=2e-2, rtol=2e-2)


def test_i0_promotes_integers_and_keeps_dtypes():
  assert jnp.i0(np.array([1, 2])).dtype == jjnp.i0(np.array([1, 2])).dtype
  assert jnp.i0(np.float16(1.0)).dtype == np.float16
  np.testing.assert_allclose(jnp.i0(np.array([1, 2])), jjnp.i0(np.array([1, 2])), rtol=1e-6)
  np.testing.assert_allclose(rjax.jit(jnp.i0)(np.array([0.0, 3.0], np.float32)),
                             jjnp.i0(np.array([0.0, 3.0], np.float32)), rtol=1e-6)


@pytest.mark.parametrize("M", [0, 1, 2, 3, 4, 7, 16])
@pytest.mark.parametrize("beta", [0.0, 1.5, 5.0, 14.0])
def test_kaiser_matches_jax_and_numpy(M, beta):
  got = jnp.kaiser(M, beta)
  want = jjnp.kaiser(M, beta)
  assert got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_allclose(got, want, rtol=3e-6, atol=1e-7)
  np.testing.assert_allclose(got, np.kaiser(max(M, 0), beta), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("w", ["kaiser", "hanning", "hamming", "bartlett", "blackman"])
def test_a_negative_window_length_is_a_type_error_as_in_jax(w):
  args = (-1, 2.0) if w == "kaiser" else (-1,)
  with pytest.raises(TypeError):
    getattr(jjnp, w)(*args)
  with pytest.raises(TypeError, match="nonnegative"):
    getattr(jnp, w)(*args)


def test_kaiser_wants_a_concrete_length():
  with pytest.raises(rjax.errors.ConcretizationTypeError):
    rjax.jit(lambda m: jnp.kaiser(m, 1.0))(4)
