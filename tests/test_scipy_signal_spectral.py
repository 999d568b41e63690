"""rjax.scipy.signal's spectral functions (stft, istft, csd, welch) against
JAX 0.10.2 (values, dtypes, warnings, exception types) and SciPy (values),
over hypothesis-drawn signals and arguments; gradients against float64
numerical differentiation."""
import warnings

import numpy as np
import pytest
import scipy.signal as ssig
from hypothesis import given, settings, strategies as st

import jax
import jax.scipy.signal  # noqa: F401  (JAX loads its submodules lazily)

import rjax
import rjax.numpy as jnp
import rjax.scipy.signal as rsig
from rjax.test_util import check_grads
from util import enable_x64
from util_vs_jax import x64_in_both

jsig = jax.scipy.signal



WINDOWS = ["hann", "hamming", "boxcar", ("tukey", 0.3), ("kaiser", 4.0), "array"]


def _window(name, n, rng):
  """A window argument: the name itself or, for "array", a positive array of
  length ``n``."""
  return rng.uniform(0.2, 1.0, n).astype(np.float32) if name == "array" else name


def _call(fn, *args, **kw):
  """``(result, exception type, warning messages)`` of one call."""
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
      out, err = fn(*args, **kw), None
    except Exception as e:  # noqa: BLE001  (the type is compared with JAX's)
      out, err = None, e
  return out, err, sorted(str(w.message) for w in caught)


def _close(got, want, rtol=2e-4, atol=None):
  got, want = np.asarray(got), np.asarray(want)
  assert got.shape == want.shape, (got.shape, want.shape)
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  finite = np.abs(want[np.isfinite(want)])
  scale = float(np.max(finite)) if finite.size else 0.0
  np.testing.assert_allclose(got, want, rtol=rtol,
                             atol=(2e-5 * (1 + scale)) if atol is None else atol)


def _same_as_jax(name, *args, rtol=2e-4, **kw):
  """rjax and JAX agree: the same exception type (and then nothing else), or
  the same warnings and the same outputs (shapes, dtypes, values)."""
  got, gerr, gwarn = _call(getattr(rsig, name), *args, **kw)
  want, werr, wwarn = _call(getattr(jsig, name), *args, **kw)
  if werr is not None:
    assert gerr is not None, f"JAX raised {type(werr).__name__}: {werr}; rjax did not"
    assert isinstance(gerr, type(werr)), (gerr, werr)
    return None
  assert gerr is None, f"rjax raised {type(gerr).__name__}: {gerr}; JAX did not"
  assert gwarn == wwarn
  assert len(got) == len(want)
  for g, w in zip(got, want):
    _close(g, w, rtol=rtol)
  return got


def _signal(rng, shape, dtype):
  x = rng.standard_normal(shape)
  if np.dtype(dtype).kind == "c":
    x = x + 1j * rng.standard_normal(shape)
  return x.astype(dtype)


@st.composite
def _segmenting(draw, max_len=70):
  """A signal length and consistent (or deliberately inconsistent) segment
  arguments."""
  n = draw(st.integers(1, max_len))
  nperseg = draw(st.integers(1, n + 4))
  noverlap = draw(st.one_of(st.none(), st.integers(0, nperseg)))
  nfft = draw(st.one_of(st.none(), st.integers(max(nperseg - 1, 1), nperseg + 6)))
  return n, nperseg, noverlap, nfft


@settings(max_examples=25, deadline=None)
@given(_segmenting(), st.sampled_from(WINDOWS), st.sampled_from([False, "constant", "linear"]),
       st.booleans(), st.sampled_from([None, "zeros", "even", "odd", "constant"]), st.booleans(),
       st.sampled_from([np.float32, np.complex64]), st.integers(0, 2**31 - 1))
def test_stft_matches_jax_and_scipy(seg, window, detrend, onesided, boundary, padded, dtype,
                                    seed):
  n, nperseg, noverlap, nfft = seg
  rng = np.random.default_rng(seed)
  x = _signal(rng, (n,), dtype)
  win = _window(window, min(nperseg, n), rng)
  kw = dict(window=win, nperseg=nperseg, noverlap=noverlap, nfft=nfft, detrend=detrend,
            return_onesided=onesided, boundary=boundary, padded=padded)
  got = _same_as_jax("stft", x, **kw)
  if got is None:
    return
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    want = ssig.stft(x.astype(np.complex128 if np.dtype(dtype).kind == "c" else np.float64),
                     **kw)
  for g, w in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), w, rtol=1e-3,
                               atol=1e-4 * (1 + float(np.max(np.abs(w), initial=0))))


@settings(max_examples=25, deadline=None)
@given(_segmenting(), st.sampled_from(WINDOWS), st.sampled_from([False, "constant", "linear"]),
       st.booleans(), st.sampled_from(["density", "spectrum"]),
       st.sampled_from(["mean", "median"]), st.sampled_from([np.float32, np.complex64]),
       st.booleans(), st.integers(0, 2**31 - 1))
def test_welch_and_csd_match_jax_and_scipy(seg, window, detrend, onesided, scaling, average,
                                           dtype, by_default, seed):
  n, nperseg, noverlap, nfft = seg
  rng = np.random.default_rng(seed)
  x, y = _signal(rng, (n,), dtype), _signal(rng, (n,), dtype)
  if by_default:  # JAX: nperseg defaults to the whole signal
    nperseg = None
  win = _window(window, n if nperseg is None else min(nperseg, n), rng)
  kw = dict(fs=2.5, window=win, nperseg=nperseg, noverlap=noverlap, nfft=nfft, detrend=detrend,
            return_onesided=onesided, scaling=scaling, average=average)
  got_w = _same_as_jax("welch", x, **kw)
  got_c = _same_as_jax("csd", x, y, **kw)
  if got_w is None or got_c is None or nperseg is None:
    return
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    wide = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
    want_w = ssig.welch(x.astype(wide), **kw)
    want_c = ssig.csd(x.astype(wide), y.astype(wide), **kw)
  for got, want in ((got_w, want_w), (got_c, want_c)):
    for g, w in zip(got, want):
      np.testing.assert_allclose(np.asarray(g), w, rtol=1e-3,
                                 atol=1e-4 * (1 + float(np.max(np.abs(w), initial=0))))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2), st.integers(0, 2), st.integers(12, 40), st.integers(2, 3),
       st.sampled_from(["hann", "array"]), st.integers(0, 2**31 - 1))
def test_spectra_over_an_axis_and_broadcast_batches(axis, yaxis_len, n, batch, window, seed):
  # the signal along ``axis`` of a 3-d array; csd's y broadcasts in the others
  rng = np.random.default_rng(seed)
  shape = [batch, 3, 4]
  shape[axis] = n
  x = _signal(rng, shape, np.float32)
  yshape = list(shape)
  other = [d for d in range(3) if d != axis][0]
  yshape[other] = 1
  yshape[axis] = n - yaxis_len  # csd zero-pads the shorter signal
  y = _signal(rng, yshape, np.float32)
  win = _window(window, 8, rng)
  _same_as_jax("stft", x, nperseg=8, window=win, axis=axis)
  _same_as_jax("welch", x, nperseg=8, window=win, axis=axis - 3)
  _same_as_jax("csd", x, y, nperseg=8, window=win, axis=axis, average="median")
  _same_as_jax("csd", x, y[..., :1, :1, :1] if axis else y[:, :1], nperseg=8, axis=axis)


@settings(max_examples=15, deadline=None)
@given(st.integers(8, 60), st.sampled_from([4, 6, 8, 16]), st.sampled_from([None, 1, 2, 3]),
       st.sampled_from(["hann", "hamming", "array"]), st.booleans(), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_istft_inverts_stft_like_jax_and_scipy(n, nperseg, noverlap, window, onesided, complex_,
                                              seed):
  rng = np.random.default_rng(seed)
  nperseg = min(nperseg, n)
  x = _signal(rng, (n,), np.complex64 if complex_ else np.float32)
  win = _window(window, nperseg, rng)
  kw = dict(window=win, nperseg=nperseg, noverlap=noverlap)
  _, _, z = jsig.stft(x, return_onesided=onesided, **kw) if not complex_ else \
      jsig.stft(x, return_onesided=False, **kw)
  z = np.asarray(z)
  input_onesided = onesided and not complex_
  got = _same_as_jax("istft", z, input_onesided=input_onesided, **kw)
  if got is None:
    return
  want = ssig.istft(z.astype(np.complex128), input_onesided=input_onesided, **kw)
  for g, w in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), w, rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(np.asarray(got[1])[:n], x, rtol=1e-3, atol=1e-4)


def test_istft_axes_boundary_and_batches():
  rng = np.random.default_rng(0)
  x = rng.standard_normal((3, 40)).astype(np.float32)
  _, _, z = jsig.stft(x, nperseg=8)
  z = np.asarray(z)  # (3, 5, 11): batch, frequency, time
  for args in [dict(), dict(boundary=False), dict(time_axis=0, freq_axis=1),
               dict(time_axis=1, freq_axis=2), dict(time_axis=-1, freq_axis=0),
               dict(nfft=8, nperseg=8, noverlap=4, fs=3.0)]:
    zz = np.moveaxis(z, (1, 2), (args["freq_axis"], args["time_axis"])) \
        if "time_axis" in args else z
    _same_as_jax("istft", zz, **args)
  t, xr = rsig.istft(z)
  np.testing.assert_allclose(np.asarray(xr)[:, :40], x, atol=1e-5)
  _same_as_jax("istft", z.astype(np.complex64), nperseg=1)  # boundary cut of 0 points
  _same_as_jax("istft", z[0], window=("tukey", 0.5))


@pytest.mark.parametrize("call", [
    ("stft", dict(nperseg=0)),
    ("stft", dict(nperseg=8, noverlap=8)),
    ("stft", dict(nperseg=8, nfft=7)),
    ("stft", dict(boundary="wrap")),
    ("stft", dict(window=np.ones((2, 4), np.float32))),
    ("stft", dict(window=np.ones(40, np.float32))),
    ("stft", dict(window=np.ones(4, np.float32), nperseg=5)),
    ("stft", dict(detrend="quadratic", nperseg=8)),
    ("stft", dict(detrend=True, nperseg=8)),
    ("stft", dict(axis=2)),
    ("welch", dict(scaling="power")),
    ("welch", dict(average="max", nperseg=8)),
    ("csd", dict(y=np.ones((2, 30), np.float32))),
    ("csd", dict(y=np.ones((3, 30), np.float32), x=np.ones((2, 30), np.float32))),
    ("istft", dict(Zxx=np.ones(5, np.complex64))),
    ("istft", dict(Zxx=np.ones((5, 4), np.complex64), time_axis=0, freq_axis=-2)),
    ("istft", dict(Zxx=np.ones((5, 4), np.complex64), nperseg=-1)),
    ("istft", dict(Zxx=np.ones((5, 4), np.complex64), nperseg=8, nfft=6)),
    ("istft", dict(Zxx=np.ones((5, 4), np.complex64), nperseg=8, noverlap=8)),
    ("istft", dict(Zxx=np.ones((5, 4), np.complex64), window=np.ones(7))),
    ("istft", dict(Zxx=np.ones((5, 4), np.complex64), window=np.ones((8, 1)))),
    ("istft", dict(Zxx=np.ones((5, 4), np.complex64), nperseg=9)),  # JAX: broadcasting error
    ("istft", dict(Zxx=[[1.0, 2.0]])),
], ids=lambda c: c[0] + ":" + ",".join(sorted(c[1])))
def test_bad_arguments_raise_like_jax(call):
  name, kw = call
  kw = dict(kw)
  if name != "istft":
    kw.setdefault("x", np.linspace(0, 1, 30, dtype=np.float32))
  if name == "csd":
    kw.setdefault("y", kw["x"])
  got, gerr, _ = _call(getattr(rsig, name), **kw)
  want, werr, _ = _call(getattr(jsig, name), **kw)
  assert werr is not None, "JAX accepts this call; the case is not an error case"
  assert gerr is not None and isinstance(gerr, type(werr)), (gerr, werr)


def test_lists_are_rejected():
  # JAX raises AttributeError (it reads x.ndim before its check); rjax the
  # TypeError of its array-like check, with the function's name
  with pytest.raises(TypeError, match="spectral_helper requires ndarray"):
    rsig.stft([1.0, 2.0, 3.0])
  with pytest.raises(TypeError, match="istft requires ndarray"):
    rsig.istft([[1.0, 2.0]])


def test_empty_and_short_signals():
  for x in [np.zeros((0,), np.float32), np.zeros((3, 0), np.float32)]:
    _same_as_jax("stft", x)
    _same_as_jax("welch", x)
    _same_as_jax("csd", x, x)
  _same_as_jax("csd", np.zeros((2, 0), np.float32), np.ones((1, 5), np.float32))  # JAX's shapes
  x = np.arange(5, dtype=np.float32)
  _same_as_jax("stft", x, nperseg=1, noverlap=0)
  _same_as_jax("welch", x, nperseg=16)   # warns: nperseg longer than the signal
  _same_as_jax("csd", x, x[:3], nperseg=3, noverlap=2)


def test_special_values_and_integer_input():
  x = np.float32([1.0, np.nan, 2.0, np.inf, -np.inf, 0.0, -0.0, 3.0, 4.0, 5.0, 1.0, 2.0])
  _same_as_jax("stft", x, nperseg=4)
  _same_as_jax("welch", x, nperseg=4, detrend=False)
  _same_as_jax("welch", np.arange(20, dtype=np.int32), nperseg=6)
  _same_as_jax("csd", np.arange(20, dtype=np.int32), np.arange(20, dtype=np.float32)[::-1],
               nperseg=6)


def test_callable_detrend_and_traced_fs_under_jit():
  rng = np.random.default_rng(3)
  x = rng.standard_normal((2, 50)).astype(np.float32)
  de = lambda d: d - d.mean(-1, keepdims=True)  # noqa: E731
  _same_as_jax("stft", x, nperseg=8, detrend=de)
  _same_as_jax("welch", x.T, nperseg=8, detrend=de, axis=0)
  fs = np.float32(4.0)
  f = lambda x, fs: rsig.welch(x, fs=fs, nperseg=16, average="median")  # noqa: E731
  got = rjax.jit(f)(x, fs)
  for g, w in zip(got, jax.jit(lambda x, fs: jsig.welch(x, fs=fs, nperseg=16,
                                                        average="median"))(x, fs)):
    _close(g, w)
  for g, w in zip(rjax.jit(lambda x: rsig.stft(x, nperseg=8))(x), rsig.stft(x, nperseg=8)):
    np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
  with pytest.raises(rjax.errors.ConcretizationTypeError):
    rjax.jit(lambda x, n: rsig.stft(x, nperseg=n))(x, 8)


def test_float64_matches_scipy_closely():
  with enable_x64():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(300), rng.standard_normal(300)
    for got, want in [(rsig.stft(x, nperseg=32, detrend="linear"),
                       ssig.stft(x, nperseg=32, detrend="linear")),
                      (rsig.welch(x, nperseg=40, window=("tukey", 0.2)),
                       ssig.welch(x, nperseg=40, window=("tukey", 0.2))),
                      (rsig.csd(x, y, nperseg=64, average="median"),
                       ssig.csd(x, y, nperseg=64, average="median"))]:
      for g, w in zip(got, want):
        assert np.asarray(g).dtype == w.dtype
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-10, atol=1e-12)
    _, z = rsig.stft(x, nperseg=32)[1:]
    np.testing.assert_allclose(np.asarray(rsig.istft(z, nperseg=32)[1])[:300], x, atol=1e-12)


def test_gradients_of_stft_welch_and_istft():
  with x64_in_both():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(24)
    check_grads(lambda x: rsig.stft(x, nperseg=8, detrend="linear")[2], (x,), order=2,
                modes=("fwd", "rev"))
    check_grads(lambda x: rsig.welch(x, nperseg=8, window="hamming")[1], (x,), order=2,
                modes=("fwd", "rev"))
    check_grads(lambda x: rsig.csd(x, x[::-1], nperseg=8)[1], (x,), order=1,
                modes=("fwd", "rev"))
    z = np.asarray(rsig.stft(x, nperseg=8)[2])
    check_grads(lambda z: rsig.istft(z, nperseg=8)[1], (z,), order=1, modes=("fwd", "rev"))
    # the gradient is JAX's
    loss = lambda sig: lambda x: sig.welch(x, nperseg=8)[1].sum()  # noqa: E731
    want = jax.grad(loss(jsig))(x)
    np.testing.assert_allclose(np.asarray(rjax.grad(loss(rsig))(x)), want, rtol=1e-10)


def test_vmap_of_welch_and_inputs_unchanged():
  rng = np.random.default_rng(6)
  x = rng.standard_normal((3, 40)).astype(np.float32)
  keep = x.copy()
  got = rjax.vmap(lambda r: rsig.welch(r, nperseg=8)[1])(jnp.asarray(x))
  np.testing.assert_allclose(np.asarray(got), np.asarray(rsig.welch(x, nperseg=8)[1]),
                             rtol=1e-6, atol=1e-7)
  np.testing.assert_array_equal(x, keep)
