"""``jax.scipy.signal``: N-d convolve and correlate (modes full/same/valid)
as one ``conv_general_dilated``, with JAX's padding and argument checks; the
2-d forms, FFT convolution and detrend. The spectral functions (stft, istft,
csd, welch) are in ``signal_spectral.py``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy import fft as jnp_fft
from rjax._src.numpy import linalg_decomp
from rjax._src.numpy.util import canonicalize_axis, check_arraylike, promote_dtypes_inexact
from rjax._src.transforms.api import vmap

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "detrend", "fftconvolve"]


def _convolve_nd(in1, in2, mode, *, precision):
  if mode not in ["full", "same", "valid"]:
    raise ValueError("mode must be one of ['full', 'same', 'valid']")
  if in1.ndim != in2.ndim:
    raise ValueError("in1 and in2 must have the same number of dimensions")
  if in1.size == 0 or in2.size == 0:
    raise ValueError(f"zero-size arrays not supported in convolutions, got shapes {in1.shape} "
                     f"and {in2.shape}.")
  in1, in2 = promote_dtypes_inexact(in1, in2)
  no_swap = all(s1 >= s2 for s1, s2 in zip(in1.shape, in2.shape))
  swap = all(s1 <= s2 for s1, s2 in zip(in1.shape, in2.shape))
  if not (no_swap or swap):
    raise ValueError("One input must be smaller than the other in every dimension.")
  shape_o = in2.shape
  if swap:
    in1, in2 = in2, in1
  shape = in2.shape
  in2 = jnp.flip(in2)
  if mode == "valid":
    padding = [(0, 0) for _ in shape]
  elif mode == "same":
    padding = [(s - 1 - (s_o - 1) // 2, s - s_o + (s_o - 1) // 2)
               for (s, s_o) in zip(shape, shape_o)]
  else:
    padding = [(s - 1, s - 1) for s in shape]
  strides = tuple(1 for _ in shape)
  result = lax.conv_general_dilated(in1[None, None], in2[None, None], strides, padding,
                                    precision=precision)
  return result[0, 0]


def convolve(in1, in2, mode: str = "full", method: str = "auto", precision=None):
  """The N-d convolution of ``in1`` and ``in2`` (same number of dimensions;
  one at least as large as the other in every dimension)."""
  check_arraylike("convolve", in1, in2)
  if method == "fft":
    return fftconvolve(in1, in2, mode=mode)
  if method not in ("direct", "auto"):
    raise ValueError(f"Got {method=}; expected 'auto', 'fft', or 'direct'.")
  return _convolve_nd(jnp.asarray(in1), jnp.asarray(in2), mode, precision=precision)


def _fftconvolve_unbatched(in1, in2, mode):
  full_shape = tuple(s1 + s2 - 1 for s1, s2 in zip(in1.shape, in2.shape))
  if mode == "valid":
    no_swap = all(s1 >= s2 for s1, s2 in zip(in1.shape, in2.shape))
    swap = all(s1 <= s2 for s1, s2 in zip(in1.shape, in2.shape))
    if not (no_swap or swap):
      raise ValueError("For 'valid' mode, One input must be at least as large as the other in "
                       "every dimension.")
    if swap:
      in1, in2 = in2, in1
  if all(s1 == 1 or s2 == 1 for s1, s2 in zip(in1.shape, in2.shape)):
    conv = in1 * in2
  else:
    if jnp.iscomplexobj(in1):
      fft, ifft = jnp_fft.fftn, jnp_fft.ifftn
    else:
      fft, ifft = jnp_fft.rfftn, jnp_fft.irfftn
    conv = ifft(fft(in1, full_shape) * fft(in2, full_shape), full_shape)
  if mode == "full":
    out_shape = full_shape
  elif mode == "same":
    out_shape = in1.shape
  else:
    out_shape = tuple(s1 - s2 + 1 for s1, s2 in zip(in1.shape, in2.shape))
  starts = tuple((f - o) // 2 for f, o in zip(full_shape, out_shape))
  return lax.dynamic_slice(conv, starts, out_shape)


def fftconvolve(in1, in2, mode: str = "full", axes=None):
  """The N-d convolution by FFTs (over ``axes``; the other axes map)."""
  check_arraylike("fftconvolve", in1, in2)
  in1, in2 = promote_dtypes_inexact(in1, in2)
  if in1.ndim != in2.ndim:
    raise ValueError("in1 and in2 should have the same dimensionality")
  if mode not in ["same", "full", "valid"]:
    raise ValueError("mode must be one of ['same', 'full', 'valid']")
  conv = lambda a, b: _fftconvolve_unbatched(a, b, mode)
  if axes is None:
    return conv(in1, in2)
  axes = (axes,) if isinstance(axes, int) else tuple(axes)
  axes = tuple(canonicalize_axis(ax, in1.ndim) for ax in axes)
  mapped = set(range(in1.ndim)) - set(axes)
  if any(in1.shape[i] != in2.shape[i] for i in mapped):
    raise ValueError(f"mapped axes must have same shape; got {in1.shape=} {in2.shape=} {axes=}")
  for ax in sorted(mapped):
    conv = vmap(conv, in_axes=ax, out_axes=ax)
  return conv(in1, in2)


def _check_2d(name, in1, in2, boundary, fillvalue):
  if boundary != "fill" or fillvalue != 0:
    raise NotImplementedError(f"{name}() only supports boundary='fill', fillvalue=0")
  if np.ndim(in1) != 2 or np.ndim(in2) != 2:
    raise ValueError(f"{name}() only supports 2-dimensional inputs.")


def convolve2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue=0,
               precision=None):
  """The 2-d convolution (zero fill only)."""
  _check_2d("convolve2d", in1, in2, boundary, fillvalue)
  return _convolve_nd(jnp.asarray(in1), jnp.asarray(in2), mode, precision=precision)


def correlate2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue=0,
                precision=None):
  """The 2-d cross-correlation (zero fill only), arranged as SciPy's."""
  _check_2d("correlate2d", in1, in2, boundary, fillvalue)
  in1, in2 = jnp.asarray(in1), jnp.asarray(in2)
  swap = all(s1 <= s2 for s1, s2 in zip(in1.shape, in2.shape))
  same_shape = all(s1 == s2 for s1, s2 in zip(in1.shape, in2.shape))
  conv = lambda a, b: _convolve_nd(a, b, mode, precision=precision)
  if mode == "same":
    return jnp.flip(conv(jnp.flip(in1), in2.conj()))
  if mode == "valid":
    if swap and not same_shape:
      return conv(jnp.flip(in2), in1.conj())
    return jnp.flip(conv(jnp.flip(in1), in2.conj()))
  if swap:
    return conv(jnp.flip(in2), in1.conj()).conj()
  return jnp.flip(conv(jnp.flip(in1), in2.conj()))


def detrend(data, axis: int = -1, type: str = "linear", bp=0, overwrite_data=None):
  """``data`` minus its mean ('constant') or its least-squares line, piecewise
  between the breakpoints ``bp`` ('linear')."""
  if overwrite_data is not None:
    raise NotImplementedError("overwrite_data argument not implemented.")
  if type not in ["constant", "linear"]:
    raise ValueError("Trend type must be 'linear' or 'constant'.")
  data_arr, = promote_dtypes_inexact(jnp.asarray(data))
  if type == "constant":
    return data_arr - data_arr.mean(axis, keepdims=True)
  n = data_arr.shape[axis]
  bp_arr = np.sort(np.unique(np.r_[0, bp, n]))
  if bp_arr[0] < 0 or bp_arr[-1] > n:
    raise ValueError("Breakpoints must be non-negative and less than length of data along "
                     "given axis.")
  data_arr = jnp.moveaxis(data_arr, axis, 0)
  shape = data_arr.shape
  data_arr = data_arr.reshape(n, -1)
  for m in range(len(bp_arr) - 1):  # each piece minus its own least-squares line
    npts = bp_arr[m + 1] - bp_arr[m]
    A = jnp.vstack([jnp.ones(npts, dtype=data_arr.dtype),
                    jnp.arange(1, npts + 1, dtype=data_arr.dtype) / npts.astype(data_arr.dtype)]).T
    sl = slice(bp_arr[m], bp_arr[m + 1])
    coef, *_ = linalg_decomp.lstsq(A, data_arr[sl])
    data_arr = data_arr.at[sl].add(-jnp.matmul(A, coef, precision=lax.Precision.HIGHEST))
  return jnp.moveaxis(data_arr.reshape(shape), 0, axis)


def correlate(in1, in2, mode: str = "full", method: str = "auto", precision=None):
  """The N-d cross-correlation: convolve(in1, flip(conj(in2)))."""
  check_arraylike("correlate", in1, in2)
  return convolve(in1, jnp.flip(jnp.conj(jnp.asarray(in2))), mode, precision=precision,
                  method=method)
