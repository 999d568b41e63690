"""The FFT kernel's strided axes (every axis but the last of fft2/fftn and of
rfftn/irfftn's leading axes): the columns are gathered in groups of 16 per
task, so shapes whose inner size is below, at, between and above multiples
of 16, a batch of blocks, and arrays large enough to split across threads
are checked against NumPy's pocketfft and JAX, in both widths, together
with the inverse and special values (NaN, inf, -0) staying in their columns."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from util import enable_x64

import rjax
import rjax.numpy as jnp

jax.config.update("jax_platforms", "cpu")


def _cdata(shape, dtype=np.complex64, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _close(got, want, rtol):
  got, want = np.asarray(got), np.asarray(want)
  assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                               want.shape, want.dtype)
  scale = 1 + np.abs(want).max(initial=0)
  np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


@given(batch=st.lists(st.integers(1, 3), max_size=2), n=st.integers(1, 40),
       inner=st.integers(1, 40), inverse=st.booleans())
def test_fft_along_a_strided_axis_matches_numpy(batch, n, inner, inverse):
  shape = tuple(batch) + (n, inner)
  x = _cdata(shape)
  f = jnp.fft.ifft if inverse else jnp.fft.fft
  g = np.fft.ifft if inverse else np.fft.fft
  got = f(jnp.asarray(x), axis=-2)
  _close(got, g(x, axis=-2).astype(np.complex64), 2e-5)


@given(batch=st.lists(st.integers(1, 3), max_size=1), m=st.integers(1, 20),
       n=st.integers(1, 20), inner=st.integers(1, 20))
def test_fftn_over_three_axes_matches_numpy(batch, m, n, inner):
  shape = tuple(batch) + (m, n, inner)
  x = _cdata(shape, seed=1)
  got = jnp.fft.fftn(jnp.asarray(x), axes=(-3, -2, -1))
  _close(got, np.fft.fftn(x, axes=(-3, -2, -1)).astype(np.complex64), 5e-5)


@pytest.mark.parametrize("shape", [(256, 256), (8, 64, 64), (3, 100, 33), (1024, 48), (40, 1000),
                                   (2, 2, 130, 17)])
def test_large_fft2_splits_across_tasks_and_matches_numpy_and_jax(shape):
  # large enough (> 32768 elements) for the parallel strided path
  x = _cdata(shape, seed=2)
  got = jnp.fft.fft2(jnp.asarray(x))
  _close(got, np.fft.fft2(x).astype(np.complex64), 2e-5)
  _close(got, jjnp.fft.fft2(jjnp.asarray(x)), 2e-5)
  back = jnp.fft.ifft2(got)
  _close(back, x, 2e-5)
  # jit gives the same bits as the eager call
  np.testing.assert_array_equal(np.asarray(rjax.jit(jnp.fft.fft2)(jnp.asarray(x))),
                                np.asarray(got))


@pytest.mark.parametrize("shape", [(300, 200), (4, 96, 70)])
def test_complex128_fft2_and_real_transforms_along_strided_axes(shape):
  with enable_x64():
    x = _cdata(shape, np.complex128, seed=3)
    _close(jnp.fft.fft2(jnp.asarray(x)), np.fft.fft2(x), 1e-12)
    r = x.real.copy()
    got = jnp.fft.rfft2(jnp.asarray(r))
    _close(got, np.fft.rfft2(r), 1e-12)
    _close(jnp.fft.irfft2(got, s=shape[-2:]), r, 1e-12)
  r32 = x.real.astype(np.float32)
  got = jnp.fft.rfftn(jnp.asarray(r32), axes=(-2, -1))
  _close(got, np.fft.rfftn(r32, axes=(-2, -1)).astype(np.complex64), 2e-5)
  _close(jnp.fft.irfftn(got, s=shape[-2:], axes=(-2, -1)), r32, 2e-5)


def test_special_values_stay_in_their_columns():
  # a NaN, an inf and a -0 in one column of a large array poison only the
  # transforms through that column (and the rows they reach), as in NumPy
  x = _cdata((200, 200), seed=4)
  x[3, 17] = np.nan
  x[150, 17] = np.inf
  x[7, 40] = complex(-0.0, -0.0)
  got = np.asarray(jnp.fft.fft(jnp.asarray(x), axis=0))
  with np.errstate(invalid="ignore"):
    want = np.fft.fft(x, axis=0).astype(np.complex64)
  np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
  ok = ~np.isnan(want)
  np.testing.assert_allclose(got[ok], want[ok], rtol=2e-5, atol=2e-5 * 30)


def test_empty_and_unit_axes():
  for shape in [(1, 300), (300, 1), (2, 1, 200), (3, 200, 1)]:
    x = _cdata(shape)
    _close(jnp.fft.fft2(jnp.asarray(x)), np.fft.fft2(x).astype(np.complex64), 1e-5)
  for shape in [(0, 5), (5, 0), (2, 0, 3), (0, 40, 40)]:   # NumPy refuses these; JAX's zeros
    x = _cdata(shape)
    _close(jnp.fft.fft2(jnp.asarray(x)), jjnp.fft.fft2(jjnp.asarray(x)), 1e-6)


def test_the_input_is_not_mutated():
  x = _cdata((128, 300))
  a = jnp.asarray(x)
  jnp.fft.fft2(a)
  jnp.fft.ifft2(a)
  np.testing.assert_array_equal(np.asarray(a), x)
