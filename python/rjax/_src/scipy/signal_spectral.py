"""``jax.scipy.signal``'s spectral analysis: ``stft``, ``istft``, ``csd`` and
``welch``, with JAX 0.10.2's defaults and numbers (SciPy's
``_spectral_helper``: segments, detrend, window, FFT, scaling).

Where JAX departs from SciPy, this module follows JAX: ``nperseg=None`` means
the whole signal (SciPy: 256), ``csd(x, y)`` treats ``y`` as a copy of ``x``
(``csd(x, None)`` is SciPy's ``csd(x, x)``), a callable ``detrend`` receives
the segments with the signal axis moved last, and ``istft`` treats
``noverlap=0`` as the default and takes its times from the first axis of the
result."""
from __future__ import annotations

import operator
import warnings

import numpy as np

from rjax._src import core, lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.numpy import fft as jnp_fft
from rjax._src.numpy.util import canonicalize_axis, check_arraylike, promote_dtypes_inexact
from rjax._src.scipy.signal import detrend

__all__ = ["csd", "istft", "stft", "welch"]


def _to_complex(x):
  """``x`` as the complex dtype with its parts' precision (JAX's
  ``promote_dtypes_complex`` of one argument)."""
  x = jnp.asarray(x)
  return x.astype(dtypes.complex_dtype(x.dtype))


def _hann(n: int, dtype):
  """The periodic Hann window, computed as JAX computes it."""
  if n == 1:
    return jnp.array([1.0]).astype(dtype)
  return (jnp.sin(jnp.linspace(0, np.pi, n, endpoint=False)) ** 2).astype(dtype)


def _named_window(window, n: int, dtype):
  """A window given by name (or SciPy's ``(name, param...)`` tuple) of length
  ``n``: Hann here, the others from ``scipy.signal.get_window``."""
  if isinstance(window, str) and window == "hann":
    return _hann(n, dtype)
  try:
    from scipy.signal import get_window
  except ImportError as err:
    raise ImportError(f"scipy must be available to use {window=}") from err
  return jnp.array(get_window(window, n), dtype=dtype)


def _triage_segments(window, nperseg, input_length: int, dtype):
  """The window array and the segment length (SciPy's ``_triage_segments``,
  with JAX's default of the whole signal when ``nperseg`` is None)."""
  if isinstance(window, (str, tuple)):
    n = input_length if nperseg is None else int(nperseg)
    if n > input_length:
      warnings.warn(f"nperseg={n} is greater than input_length={input_length}, "
                    f"using nperseg={input_length}")
      n = input_length
    return _named_window(window, n, dtype), n
  win = jnp.asarray(window, dtype=dtype)
  n = win.size if nperseg is None else int(nperseg)
  if win.ndim != 1:
    raise ValueError("window must be 1-D")
  if input_length < win.size:
    raise ValueError("window is longer than input signal")
  if n != win.size:
    raise ValueError("value specified for nperseg is different from length of window")
  return win, n


def _median_bias(n: int):
  """The bias of the median of ``n`` periodograms relative to their mean
  (Allen et al., FINDCHIRP, appendix B)."""
  ii_2 = jnp.arange(2.0, n, 2)
  return 1 + jnp.sum(1.0 / (ii_2 + 1) - 1.0 / ii_2)


def _segments(x, nperseg: int, noverlap: int):
  """``x[..., T]`` cut into its overlapping segments ``[..., nseg, nperseg]``
  (one gather with constant indices)."""
  if nperseg == 1 and noverlap == 0:
    return x[..., None]
  starts = np.arange(0, max(x.shape[-1] - nperseg + 1, 0), nperseg - noverlap)
  idx = starts[:, None] + np.arange(nperseg)[None, :]
  return jnp.take(x, idx.reshape(len(starts), nperseg), axis=-1)


def _fft_helper(x, win, detrend_func, nperseg: int, noverlap: int, nfft: int, sides: str):
  """The windowed FFT of each detrended segment of ``x`` (time last):
  ``[..., nseg, nfreq]``."""
  result = detrend_func(_segments(x, nperseg, noverlap))
  if jnp.iscomplexobj(win):
    result = _to_complex(result)
  result = win * result
  if sides == "twosided":
    return jnp_fft.fft(result, n=nfft)
  return jnp_fft.rfft(result.real, n=nfft)


def _odd_ext(x, n: int, axis: int = -1):
  """``x`` extended at both ends by ``n`` points of odd symmetry about its end
  points."""
  if n < 1:
    return x
  if n > x.shape[axis] - 1:
    raise ValueError(f"The extension length n ({n}) is too big. It must not exceed "
                     f"x.shape[axis]-1, which is {x.shape[axis] - 1}.")
  first = lax.slice_in_dim(x, 0, 1, axis=axis)
  last = lax.slice_in_dim(x, x.shape[axis] - 1, x.shape[axis], axis=axis)
  left = jnp.flip(lax.slice_in_dim(x, 1, n + 1, axis=axis), axis=axis)
  right = jnp.flip(lax.slice_in_dim(x, x.shape[axis] - n - 1, x.shape[axis] - 1, axis=axis),
                   axis=axis)
  return jnp.concatenate((2 * first - left, x, 2 * last - right), axis=axis)


def _pad_with(mode: str, **kwargs):
  def pad(x, n: int, axis: int = -1):
    widths = [(0, 0)] * x.ndim
    widths[axis] = (n, n)
    return jnp.pad(x, widths, mode, **kwargs)
  return pad


_BOUNDARIES = {
    "even": _pad_with("reflect"),
    "odd": _odd_ext,
    "constant": _pad_with("edge"),
    "zeros": _pad_with("constant", constant_values=0.0),
    None: None,
}


def _pad_end(x, n: int):
  """``x`` with ``n`` zeros appended along its last axis."""
  return jnp.concatenate((x, jnp.zeros((*x.shape[:-1], n), x.dtype)), axis=-1)


def _detrend_function(detrend_type, axis: int):
  if isinstance(detrend_type, str):
    return lambda d: detrend(d, type=detrend_type, axis=-1)
  if callable(detrend_type):
    # JAX moves ``axis`` (already non-negative) of the segment array last
    # before calling the user's function, and back after.
    def detrend_func(d):
      d = jnp.moveaxis(d, axis, -1)
      d = detrend_type(d)
      return jnp.moveaxis(d, -1, axis)
    return detrend_func
  if not detrend_type:
    return lambda d: d
  raise ValueError(f"Unsupported detrend type: {detrend_type}")


def _spectral_helper(x, y, fs=1.0, window="hann", nperseg=None, noverlap=None, nfft=None,
                     detrend_type="constant", return_onesided=True, scaling="density",
                     axis=-1, mode="psd", boundary=None, padded=False):
  """SciPy's ``_spectral_helper`` as JAX computes it: ``(freqs, times,
  result)``; ``y=None`` is the auto-spectrum of ``x``."""
  if mode not in ("psd", "stft"):
    raise ValueError(f"Unknown value for mode {mode}, must be one of: ('psd', 'stft')")
  if boundary not in _BOUNDARIES:
    raise ValueError(f"Unknown boundary option '{boundary}', must be one of: "
                     f"{list(_BOUNDARIES.keys())}")
  axis = core.concrete_or_error(operator.index, axis, "axis of windowed-FFT")
  if y is None:
    check_arraylike("spectral_helper", x)
    x, = promote_dtypes_inexact(x)
    axis = canonicalize_axis(axis, x.ndim)
    outershape = x.shape[:axis] + x.shape[axis + 1:]
  else:
    if mode != "psd":
      raise ValueError("two-argument mode is available only when mode=='psd'")
    check_arraylike("spectral_helper", x, y)
    x, y = promote_dtypes_inexact(x, y)
    axis = canonicalize_axis(axis, x.ndim)
    if x.ndim != y.ndim:
      raise ValueError(f"two-arguments must have the same rank ({x.ndim} vs {y.ndim}).")
    try:
      outershape = jnp.broadcast_shapes(x.shape[:axis] + x.shape[axis + 1:],
                                        y.shape[:axis] + y.shape[axis + 1:])
    except ValueError as err:
      raise ValueError("x and y cannot be broadcast together.") from err
  result_dtype = dtypes.complex_dtype(x.dtype)
  freq_dtype = dtypes.real_dtype(result_dtype)

  if nperseg is not None:
    nperseg = core.concrete_or_error(int, nperseg, "nperseg of windowed-FFT")
    if nperseg < 1:
      raise ValueError("nperseg must be a positive integer")
  win, nperseg = _triage_segments(window, nperseg, x.shape[axis], x.dtype)
  if noverlap is None:
    noverlap = nperseg // 2
  else:
    noverlap = core.concrete_or_error(int, noverlap, "noverlap of windowed-FFT")
  nfft = nperseg if nfft is None else core.concrete_or_error(int, nfft, "nfft of windowed-FFT")

  if y is None and x.size == 0:
    return (jnp.zeros(x.shape, freq_dtype), jnp.zeros(x.shape, freq_dtype),
            jnp.zeros(x.shape, result_dtype))
  if y is not None and (x.size == 0 or y.size == 0):
    # JAX's shape here: the value ``axis`` inserted at the position
    # min(len(x), len(y)) (its tuple_insert with the two swapped); kept as JAX has it
    shape = list(outershape)
    shape.insert(min(x.shape[axis], y.shape[axis]), axis)
    return (jnp.zeros(shape, freq_dtype), jnp.zeros(shape, freq_dtype),
            jnp.zeros(shape, result_dtype))

  x = jnp.moveaxis(x, axis, -1)
  if y is not None:
    y = jnp.moveaxis(y, axis, -1)
    if x.shape[-1] < y.shape[-1]:
      x = _pad_end(x, y.shape[-1] - x.shape[-1])
    elif y.shape[-1] < x.shape[-1]:
      y = _pad_end(y, x.shape[-1] - y.shape[-1])

  if nfft < nperseg:
    raise ValueError("nfft must be greater than or equal to nperseg.")
  if noverlap >= nperseg:
    raise ValueError("noverlap must be less than nperseg.")
  nstep = nperseg - noverlap

  if boundary is not None:
    extend = _BOUNDARIES[boundary]
    x = extend(x, nperseg // 2, axis=-1)
    if y is not None:
      y = extend(y, nperseg // 2, axis=-1)
  if padded:
    nadd = (-(x.shape[-1] - nperseg) % nstep) % nperseg
    x = _pad_end(x, nadd)
    if y is not None:
      y = _pad_end(y, nadd)

  detrend_func = _detrend_function(detrend_type, axis)
  if scaling == "density":
    scale = 1.0 / (fs * (win * win).sum())
  elif scaling == "spectrum":
    scale = 1.0 / win.sum() ** 2
  else:
    raise ValueError(f"Unknown scaling: {scaling}")
  if mode == "stft":
    scale = jnp.sqrt(scale)
  scale = _to_complex(scale)

  sides = "twosided"
  if return_onesided:
    if jnp.iscomplexobj(x) or (y is not None and jnp.iscomplexobj(y)):
      warnings.warn("Input data is complex, switching to return_onesided=False")
    else:
      sides = "onesided"
  freq_fn = jnp_fft.rfftfreq if sides == "onesided" else jnp_fft.fftfreq
  freqs = freq_fn(nfft, 1 / fs, dtype=freq_dtype)

  result = _fft_helper(x, win, detrend_func, nperseg, noverlap, nfft, sides)
  if y is not None:
    result = jnp.conjugate(result) * _fft_helper(y, win, detrend_func, nperseg, noverlap,
                                                 nfft, sides)
  elif mode == "psd":
    result = jnp.conjugate(result) * result
  result = result * scale
  if sides == "onesided" and mode == "psd":
    # every frequency but 0 (and Nyquist for even nfft) counts twice
    twice = np.zeros(result.shape[-1], bool)
    twice[1:None if nfft % 2 else -1] = True
    result = jnp.where(twice, result * 2, result)

  time = jnp.arange(nperseg / 2, x.shape[-1] - nperseg / 2 + 1, nstep, dtype=freq_dtype) / fs
  if boundary is not None:
    time = time - (nperseg / 2) / fs
  result = result.astype(result_dtype)
  if y is None and mode != "stft":
    result = result.real
  return freqs, time, jnp.moveaxis(result, -1, axis)


def stft(x, fs=1.0, window="hann", nperseg: int = 256, noverlap: int | None = None,
         nfft: int | None = None, detrend=False, return_onesided: bool = True,
         boundary: str | None = "zeros", padded: bool = True, axis: int = -1):
  """The short-time Fourier transform ``(f, t, Zxx)`` of ``x`` along ``axis``
  (``scipy.signal.stft``; ``Zxx`` has frequencies at ``axis`` and segments
  last)."""
  return _spectral_helper(x, None, fs, window, nperseg, noverlap, nfft, detrend,
                          return_onesided, scaling="spectrum", axis=axis, mode="stft",
                          boundary=boundary, padded=padded)


def csd(x, y, fs=1.0, window="hann", nperseg: int | None = None, noverlap: int | None = None,
        nfft: int | None = None, detrend="constant", return_onesided: bool = True,
        scaling: str = "density", axis: int = -1, average: str = "mean"):
  """The cross power spectral density ``(f, Pxy)`` of ``x`` and ``y`` by
  Welch's method (``y=None``: the power spectral density of ``x``)."""
  freqs, _, pxy = _spectral_helper(x, y, fs, window, nperseg, noverlap, nfft, detrend,
                                   return_onesided, scaling, axis, mode="psd")
  if y is not None:
    pxy = pxy + 0j
  if pxy.ndim >= 2 and pxy.size > 0:
    if pxy.shape[-1] > 1:
      if average == "median":
        bias = _median_bias(pxy.shape[-1]).astype(pxy.dtype)
        if jnp.iscomplexobj(pxy):
          pxy = jnp.median(jnp.real(pxy), axis=-1) + 1j * jnp.median(jnp.imag(pxy), axis=-1)
        else:
          pxy = jnp.median(pxy, axis=-1)
        pxy = pxy / bias
      elif average == "mean":
        pxy = pxy.mean(axis=-1)
      else:
        raise ValueError(f'average must be "median" or "mean", got {average}')
    else:
      pxy = jnp.reshape(pxy, pxy.shape[:-1])
  return freqs, pxy


def welch(x, fs=1.0, window="hann", nperseg: int | None = None, noverlap: int | None = None,
          nfft: int | None = None, detrend="constant", return_onesided: bool = True,
          scaling: str = "density", axis: int = -1, average: str = "mean"):
  """The power spectral density ``(f, Pxx)`` of ``x`` by Welch's method: the
  mean (or median) of the modified periodograms of its segments."""
  freqs, pxx = csd(x, None, fs=fs, window=window, nperseg=nperseg, noverlap=noverlap,
                   nfft=nfft, detrend=detrend, return_onesided=return_onesided,
                   scaling=scaling, axis=axis, average=average)
  return freqs, pxx.real


def _overlap_and_add(x, step: int):
  """``x[..., nframes, seglen]`` added into one signal, frame ``i`` starting at
  ``i * step``: each frame is cut into ``S = ceil(seglen / step)`` blocks of
  ``step`` samples, and block ``s`` of every frame shifted by ``s`` blocks."""
  *batch, nframes, seglen = x.shape
  nblocks = -(-seglen // step)
  out_size = step * (nframes - 1) + seglen
  keep = [(0, 0)] * len(batch)
  x = jnp.pad(x, keep + [(0, 0), (0, nblocks * step - seglen)])
  x = x.reshape((*batch, nframes, nblocks, step))
  total = None
  for s in range(nblocks):
    part = jnp.pad(x[..., s, :], keep + [(s, nblocks - 1 - s), (0, 0)])
    total = part if total is None else total + part
  return total.reshape((*batch, (nframes + nblocks - 1) * step))[..., :out_size]


def istft(Zxx, fs=1.0, window="hann", nperseg: int | None = None, noverlap: int | None = None,
          nfft: int | None = None, input_onesided: bool = True, boundary: bool = True,
          time_axis: int = -1, freq_axis: int = -2):
  """The inverse short-time Fourier transform ``(t, x)`` of ``Zxx``
  (``scipy.signal.istft``; the inverse of ``stft`` with the same
  arguments)."""
  check_arraylike("istft", Zxx)
  Zxx = jnp.asarray(Zxx)
  if Zxx.ndim < 2:
    raise ValueError("Input stft must be at least 2d!")
  freq_axis = canonicalize_axis(freq_axis, Zxx.ndim)
  time_axis = canonicalize_axis(time_axis, Zxx.ndim)
  if freq_axis == time_axis:
    raise ValueError("Must specify differing time and frequency axes!")
  Zxx = Zxx.astype(dtypes.complex_dtype(Zxx.dtype))

  n_default = 2 * (Zxx.shape[freq_axis] - 1) if input_onesided else Zxx.shape[freq_axis]
  nperseg_int = core.concrete_or_error(int, nperseg or n_default,
                                       "nperseg: segment length of STFT")
  if nperseg_int < 1:
    raise ValueError("nperseg must be a positive integer")
  if nfft is None:
    nfft_int = n_default
    if input_onesided and nperseg_int == n_default + 1:
      nfft_int += 1  # odd nperseg, no FFT padding
  else:
    nfft_int = core.concrete_or_error(int, nfft, "nfft of STFT")
  if nfft_int < nperseg_int:
    raise ValueError(f"FFT length ({nfft_int}) must be longer than nperseg ({nperseg_int}).")
  noverlap_int = core.concrete_or_error(int, noverlap or nperseg_int // 2, "noverlap of STFT")
  if noverlap_int >= nperseg_int:
    raise ValueError("noverlap must be less than nperseg.")
  nstep = nperseg_int - noverlap_int

  if time_axis != Zxx.ndim - 1 or freq_axis != Zxx.ndim - 2:
    outer = tuple(i for i in range(Zxx.ndim) if i not in (time_axis, freq_axis))
    Zxx = jnp.transpose(Zxx, outer + (freq_axis, time_axis))

  # [..., T, N]: N frames of length T (JAX passes the caller's nfft here)
  inverse = jnp_fft.irfft if input_onesided else jnp_fft.ifft
  xsubs = inverse(Zxx, axis=-2, n=nfft)[..., :nperseg_int, :]

  if isinstance(window, (str, tuple)):
    win = _named_window(window, nperseg_int, xsubs.dtype)
  else:
    win = jnp.asarray(window)
    if win.ndim != 1:
      raise ValueError("window must be 1-D")
    if win.shape[0] != nperseg_int:
      raise ValueError(f"window must have length of {nperseg_int}")
  xsubs = xsubs * win.sum()  # undoes stft's 'spectrum' scaling

  win = lax.expand_dims(win, (*range(xsubs.ndim - 2), xsubs.ndim - 1))
  x = _overlap_and_add((xsubs * win).swapaxes(-2, -1), nstep)
  win_squared = jnp.repeat(win * win, xsubs.shape[-1], axis=-1)
  norm = _overlap_and_add(win_squared.swapaxes(-2, -1), nstep)
  if boundary:
    x = x[..., nperseg_int // 2:-(nperseg_int // 2)]
    norm = norm[..., nperseg_int // 2:-(nperseg_int // 2)]
  x = x / jnp.where(norm > 1e-10, norm, 1.0)

  if x.ndim > 1 and time_axis != Zxx.ndim - 1:
    if freq_axis < time_axis:
      time_axis -= 1
    x = jnp.moveaxis(x, -1, time_axis)
  time = jnp.arange(x.shape[0], dtype=dtypes.real_dtype(x.dtype)) / fs
  return time, x
