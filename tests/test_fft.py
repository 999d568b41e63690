"""jnp.fft and lax.fft against NumPy's pocketfft and JAX: every function, the
norm argument, s/n/axes, batching, jit/vmap, and the linear rules (JVP,
transpose) through numerical derivatives and JAX's gradients."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from util import enable_x64

import rjax
import rjax.numpy as jnp
from rjax import lax

jax.config.update("jax_platforms", "cpu")

_NORMS = [None, "backward", "ortho", "forward"]


def _close(got, want, rtol=2e-5):
  got, want = np.asarray(got), np.asarray(want)
  assert got.shape == want.shape, (got.shape, want.shape)
  scale = 1 + np.abs(want).max(initial=0)
  np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def _data(shape, complex_, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.standard_normal(shape).astype(np.float32)
  if complex_:
    x = (x + 1j * rng.standard_normal(shape)).astype(np.complex64)
  return x


_ONE_D = [("fft", True), ("ifft", True), ("rfft", False), ("irfft", True), ("hfft", True),
          ("ihfft", False)]


@pytest.mark.parametrize("name,cplx", _ONE_D)
@pytest.mark.parametrize("norm", _NORMS)
def test_one_dim_functions_against_numpy_and_jax(name, cplx, norm):
  for shape, n, axis in [((16,), None, -1), ((3, 10), None, -1), ((5, 7), 9, 0), ((4, 6), 4, 1),
                         ((2, 3, 5), 8, 1), ((1,), 2, -1), ((2,), None, -1)]:
    x = _data(shape, cplx)
    got = getattr(jnp.fft, name)(jnp.asarray(x), n=n, axis=axis, norm=norm)
    want = getattr(jjnp.fft, name)(jjnp.asarray(x), n=n, axis=axis, norm=norm)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    _close(got, want)
    _close(got, getattr(np.fft, name)(x, n=n, axis=axis, norm=norm))


_N_D = [("fftn", True), ("ifftn", True), ("rfftn", False), ("irfftn", True), ("fft2", True),
        ("ifft2", True), ("rfft2", False), ("irfft2", True)]


@pytest.mark.parametrize("name,cplx", _N_D)
@pytest.mark.parametrize("norm", _NORMS)
def test_n_dim_functions_against_numpy_and_jax(name, cplx, norm):
  cases = [((4, 6), None, None), ((3, 4, 6), None, (1, 2)), ((3, 4, 6), (5, 4), (0, 2)),
           ((2, 3, 4, 5), None, None), ((2, 3, 2, 3, 4), None, None)]
  for shape, s, axes in cases:
    if name.endswith("2") and (axes is None and len(shape) != 2):
      axes = (-2, -1)
    x = _data(shape, cplx, seed=len(shape))
    kw = {"s": s, "norm": norm}
    if axes is not None:
      kw["axes"] = axes
    got = getattr(jnp.fft, name)(jnp.asarray(x), **kw)
    want = getattr(jjnp.fft, name)(jjnp.asarray(x), **kw)
    _close(got, want, rtol=5e-5)
    _close(got, getattr(np.fft, name)(x, **kw), rtol=5e-5)


def test_helpers_freq_and_shift():
  for n, d in [(1, 1.0), (8, 0.5), (9, 2.0)]:
    for f in ("fftfreq", "rfftfreq"):
      got = getattr(jnp.fft, f)(n, d)
      want = getattr(jjnp.fft, f)(n, d)
      assert np.asarray(got).dtype == np.asarray(want).dtype
      _close(got, want)
  x = np.arange(30).reshape(5, 6)
  for axes in (None, 0, (1,), (0, 1)):
    np.testing.assert_array_equal(np.asarray(jnp.fft.fftshift(x, axes)),
                                  np.fft.fftshift(x, axes))
    np.testing.assert_array_equal(np.asarray(jnp.fft.ifftshift(x, axes)),
                                  np.fft.ifftshift(x, axes))


def test_errors_are_jax_errors():
  x = jnp.zeros((4, 4), np.complex64)
  for call, jcall in [
      (lambda: jnp.fft.fft(x, axis=(0, 1)), lambda: jjnp.fft.fft(jjnp.zeros((4, 4)), axis=(0, 1))),
      (lambda: jnp.fft.fftn(x, s=(2,), axes=(0, 1)),
       lambda: jjnp.fft.fftn(jjnp.zeros((4, 4)), s=(2,), axes=(0, 1))),
      (lambda: jnp.fft.fft(x, norm="bad"), lambda: jjnp.fft.fft(jjnp.zeros(4), norm="bad")),
      (lambda: jnp.fft.rfft(x), lambda: jjnp.fft.rfft(jjnp.zeros(4, np.complex64))),
      (lambda: jnp.fft.fft(x, n=0), lambda: jjnp.fft.fft(jjnp.zeros(4), n=0))]:
    with pytest.raises(ValueError):
      jcall()
    with pytest.raises(ValueError):
      call()


def test_lax_fft_types_and_float64():
  x = _data((3, 8), False)
  r = lax.fft(jnp.asarray(x), lax.FftType.RFFT, (8,))
  assert r.dtype == np.complex64 and r.shape == (3, 5)
  back = lax.fft(r, "irfft", (8,))
  _close(back, x)
  with enable_x64():
    x64 = np.random.default_rng(1).standard_normal((4, 6, 5))
    got = jnp.fft.rfftn(jnp.asarray(x64))
    assert np.asarray(got).dtype == np.complex128
    np.testing.assert_allclose(np.asarray(got), np.fft.rfftn(x64), rtol=1e-12, atol=1e-12)
    z = x64 + 1j * x64[::-1]
    np.testing.assert_allclose(np.asarray(jnp.fft.ifftn(jnp.asarray(z))), np.fft.ifftn(z),
                               rtol=1e-12, atol=1e-12)


@given(st.integers(1, 4), st.integers(2, 33), st.sampled_from(["fft", "rfft", "ifft", "irfft"]))
def test_batched_sizes_jit_and_vmap(b, n, name):
  x = _data((b, n), name in ("fft", "ifft", "irfft"), seed=n)
  f = getattr(jnp.fft, name)
  want = getattr(np.fft, name)(x)
  _close(f(jnp.asarray(x)), want, rtol=5e-5)
  _close(rjax.jit(f)(jnp.asarray(x)), want, rtol=5e-5)
  _close(rjax.vmap(f)(jnp.asarray(x)), want, rtol=5e-5)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "fft2", "rfft2", "irfft2"])
def test_gradients_against_jax_and_numerical(name):
  from rjax.test_util import check_grads
  cplx = name in ("fft", "ifft", "irfft", "irfft2", "fft2")
  shape = (3, 6) if name.endswith("2") else (6,)
  x = _data(shape, cplx, seed=3)

  def loss(mod, f):
    return lambda v: mod.sum(mod.abs(getattr(f, name)(v)) ** 2 * mod.arange(
        getattr(f, name)(v).size).reshape(getattr(f, name)(v).shape))

  got = rjax.grad(loss(jnp, jnp.fft))(jnp.asarray(x))
  want = jax.grad(loss(jjnp, jjnp.fft))(jjnp.asarray(x))
  _close(got, want, rtol=1e-4)
  with enable_x64():
    x64 = jnp.asarray(x.astype(np.complex128 if cplx else np.float64))
    if cplx:   # real parameters through complex(): a real-to-real function
      f = lambda a, b: jnp.real(getattr(jnp.fft, name)(lax.complex(a, b)) * 1.5)  # noqa: E731
      check_grads(f, (jnp.real(x64), jnp.imag(x64)), order=2, modes=("fwd", "rev"))
    else:
      f = lambda a: jnp.imag(getattr(jnp.fft, name)(a)) + jnp.real(getattr(jnp.fft, name)(a))  # noqa: E731,E501
      check_grads(f, (x64,), order=2, modes=("fwd", "rev"))


_FREQ_DTYPES = [None, np.float32, np.float64, np.float16, jjnp.bfloat16, np.int32, np.int8,
                np.uint8, np.int64, np.complex64, np.complex128, np.bool_]


def _jax_or_error(f):
  try:
    return f(), None
  except Exception as e:  # noqa: BLE001 - the type is what is compared
    return None, type(e)


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
def test_freq_dtypes_and_values_match_jax(x64, name):
  """Every dtype, bit for bit (or JAX's exception type)."""
  import warnings
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    with enable_x64(x64):
      # (under x64 rjax's true_divide of int8-int32/bool operands gives
      # float64 where JAX gives float32: a promote_dtypes_inexact difference
      # outside jnp.fft, reported; rfftfreq divides in the integer dtype)
      dts = [t for t in _FREQ_DTYPES
             if not (x64 and name == "rfftfreq" and t in (np.int32, np.int8, np.uint8, np.bool_))]
      for dt in dts:
        for n, d in [(0, 1.0), (1, 1.0), (5, 0.3), (8, 0.5), (9, 2), (7, np.float32(0.1))]:
          with warnings.catch_warnings(record=True) as jw:
            warnings.simplefilter("always")
            want, werr = _jax_or_error(lambda: getattr(jjnp.fft, name)(n, d, dtype=dt))
          with warnings.catch_warnings(record=True) as rw:
            warnings.simplefilter("always")
            got, gerr = _jax_or_error(lambda: getattr(jnp.fft, name)(n, d, dtype=dt))
          assert gerr == werr, (dt, n, d, gerr, werr)
          # (JAX also warns that float64 is truncated without x64; rjax's
          # arange does not warn yet: only errors and values are compared)
          del rw, jw
          if werr is None:
            got, want = np.asarray(got), np.asarray(want)
            assert got.dtype == want.dtype, (dt, got.dtype, want.dtype)
            np.testing.assert_array_equal(got, want)
  finally:
    jax.config.update("jax_enable_x64", prev)


@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@given(n=st.integers(0, 40), d=st.floats(0.0009765625, 1024.0, width=32), as_array=st.booleans())
def test_freq_with_traced_d_matches_jax(name, n, d, as_array):
  """``d`` may be traced (jit, vmap, grad), as in JAX."""
  d = np.float32(d) if as_array else float(d)
  f, jf = getattr(jnp.fft, name), getattr(jjnp.fft, name)
  want = jax.jit(lambda d: jf(n, d))(d)
  got = rjax.jit(lambda d: f(n, d))(d)
  assert np.asarray(got).dtype == np.asarray(want).dtype
  # (within an ulp: XLA may divide by a traced d as a multiply by its inverse)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2.4e-7, atol=0)
  ds = np.array([d, 2 * d, 0.5 * d], np.float32)
  _close(rjax.vmap(lambda d: f(n, d))(ds), jax.vmap(lambda d: jf(n, d))(ds), rtol=1e-6)
  if n:
    g = rjax.grad(lambda d: f(n, d).sum())(np.float32(d))
    jg = jax.grad(lambda d: jf(n, d).sum())(np.float32(d))
    np.testing.assert_allclose(np.asarray(g), np.asarray(jg), rtol=1e-5, atol=1e-6)


def test_freq_argument_errors_match_jax():
  for name in ("fftfreq", "rfftfreq"):
    for args in [((4, 5),), (4, [1.0, 2.0]), (4, (1.0,))]:
      with pytest.raises(ValueError) as want:
        getattr(jjnp.fft, name)(*args)
      with pytest.raises(ValueError) as got:
        getattr(jnp.fft, name)(*args)
      assert str(got.value) == str(want.value)
