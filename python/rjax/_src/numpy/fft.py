"""``rjax.numpy.fft``: NumPy's FFT API on ``lax.fft``, with JAX's semantics.

The transformed axes move to the end (XLA transforms trailing dims), the
input is cropped or zero-padded to ``s``/``n``, transforms of more than 3
axes run as several lax transforms, and ``norm`` (``"backward"``,
``"ortho"``, ``"forward"``) scales the result as JAX does. The FFT family
computes in complex64 (complex128 under x64); real inputs of ``rfft`` in
float32 (float64).
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import fourier, lax
from rjax._src.lax.fourier import FftType
from rjax._src.numpy import creation, lax_numpy, shape_ops, ufuncs
from rjax._src.numpy.lax_numpy import asarray
from rjax._src.numpy.util import check_arraylike


def _aval(x):
  return core.get_aval(x)


def _norm_factor(s, func_name: str, norm):
  """JAX's ``_fft_norm``: the scale of a ``norm`` (the inverse transforms already
  divide by the size)."""
  if norm is None or norm == "backward":
    return None
  n = float(math.prod(s))
  inverse = func_name.startswith("i")
  if norm == "ortho":
    f = math.sqrt(n) if inverse else 1 / math.sqrt(n)
  elif norm == "forward":
    f = n if inverse else 1 / n
  else:
    raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".')
  return f


def _nd(arr, fft_type: FftType, s: Sequence[int]):
  """Transforms over the trailing ``len(s)`` dims, at most 3 at a time (JAX's split:
  two 2-D transforms for 4 dims)."""
  if len(s) <= 3:
    return fourier.fft(arr, fft_type, tuple(s))
  n = 2 if len(s) == 4 else 3
  nd = _aval(arr).ndim
  src = tuple(range(nd - len(s), nd - n))
  dst = tuple(range(nd - len(s) + n, nd))
  if fft_type in (FftType.RFFT, FftType.FFT):
    arr = fourier.fft(arr, fft_type, tuple(s)[-n:])
    arr = shape_ops.moveaxis(arr, src, dst)
    arr = _nd(arr, FftType.FFT, s[:-n])
    return shape_ops.moveaxis(arr, dst, src)
  arr = shape_ops.moveaxis(arr, src, dst)
  arr = _nd(arr, FftType.IFFT, s[:-n])
  arr = shape_ops.moveaxis(arr, dst, src)
  return fourier.fft(arr, fft_type, tuple(s)[-n:])


def _core(func_name: str, fft_type: FftType, a, s, axes, norm):
  full = f"jax.numpy.fft.{func_name}"
  check_arraylike(full, a)
  arr = asarray(a)
  nd = _aval(arr).ndim
  if s is not None:
    s = tuple(operator.index(x) for x in s)
    if any(x <= 0 for x in s):
      raise ValueError("Shape should be positive.")
  if s is not None and axes is not None and len(s) != len(axes):
    raise ValueError("Shape and axes have different lengths.")
  orig_axes = axes
  if axes is None:
    axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
  axes = tuple(operator.index(ax) for ax in axes)
  for ax in axes:
    if not -nd <= ax < nd:
      raise ValueError(f"{full}: axis {ax} is out of bounds for array of dimension {nd}")
  if len(set(ax % nd for ax in axes)) != len(axes):
    raise ValueError(f"{full} does not support repeated axes. Got axes {axes}.")
  if orig_axes is not None:
    new = tuple(range(nd - len(axes), nd))
    arr = shape_ops.moveaxis(arr, axes, new)
    axes = new
  if s is not None:
    in_s = list(_aval(arr).shape)
    for ax, x in zip(axes, s):
      in_s[ax] = x
    if fft_type == FftType.IRFFT:
      in_s[-1] = in_s[-1] // 2 + 1
    arr = arr[tuple(slice(0, x) for x in in_s)]
    arr = shape_ops.pad(arr, [(0, max(0, x - y)) for x, y in zip(in_s, _aval(arr).shape)])
  else:
    shape = _aval(arr).shape
    if fft_type == FftType.IRFFT:
      s = [shape[ax] for ax in axes[:-1]]
      if axes:
        s += [max(0, 2 * (shape[axes[-1]] - 1))]
    else:
      s = [shape[ax] for ax in axes]
  if not axes:
    out = lax.convert_element_type(arr, dtypes.to_complex_dtype(_aval(arr).dtype))
  else:
    out = _nd(arr, fft_type, s)
  f = _norm_factor(s, func_name, norm)
  if f is not None:
    out = lax.mul(out, lax._c(f, out))
  if orig_axes is not None:
    out = shape_ops.moveaxis(out, axes, orig_axes)
  return out


def _axis_1d(func_name, axis):
  if isinstance(axis, (list, tuple)):
    raise ValueError(f"jax.numpy.fft.{func_name} does not support multiple axes. Please use "
                     f"jax.numpy.fft.{func_name}n. Got axis = {list(axis)}.")


def _core_1d(func_name, fft_type, a, n, axis, norm):
  _axis_1d(func_name, axis)
  axes = None if axis is None else [axis]
  s = None if n is None else [n]
  return _core(func_name, fft_type, a, s, axes, norm)


def _axis_2d(func_name, s, axes):
  if len(axes) != 2:
    raise ValueError(f"jax.numpy.fft.{func_name} only supports 2 axes. Got axes = {axes}.")
  if s is not None and len(s) != 2:
    raise ValueError(f"jax.numpy.fft.{func_name} only supports 2 dimensions. Got s = {s}.")


def fft(a, n=None, axis: int = -1, norm=None):
  """The 1-D discrete Fourier transform."""
  return _core_1d("fft", FftType.FFT, a, n, axis, norm)


def ifft(a, n=None, axis: int = -1, norm=None):
  """The 1-D inverse discrete Fourier transform."""
  return _core_1d("ifft", FftType.IFFT, a, n, axis, norm)


def rfft(a, n=None, axis: int = -1, norm=None):
  """The 1-D transform of a real signal (the non-negative frequencies)."""
  return _core_1d("rfft", FftType.RFFT, a, n, axis, norm)


def irfft(a, n=None, axis: int = -1, norm=None):
  """The inverse of ``rfft`` (a real signal of length ``n``)."""
  return _core_1d("irfft", FftType.IRFFT, a, n, axis, norm)


def hfft(a, n=None, axis: int = -1, norm=None):
  """The transform of a Hermitian-symmetric signal (given by its first half)."""
  conj_a = ufuncs.conjugate(a)
  _axis_1d("hfft", axis)
  nn = (_aval(asarray(conj_a)).shape[axis] - 1) * 2 if n is None else n
  out = _core_1d("hfft", FftType.IRFFT, conj_a, n, axis, norm)
  return lax.mul(out, lax._c(float(nn), out))


def ihfft(a, n=None, axis: int = -1, norm=None):
  """The inverse of ``hfft``."""
  _axis_1d("ihfft", axis)
  arr = asarray(a)
  nn = _aval(arr).shape[axis] if n is None else n
  out = ufuncs.conjugate(_core_1d("ihfft", FftType.RFFT, arr, n, axis, norm))
  return lax.mul(out, lax._c(1 / nn, out))


def fftn(a, s=None, axes=None, norm=None):
  """The N-D discrete Fourier transform."""
  return _core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a, s=None, axes=None, norm=None):
  """The N-D inverse discrete Fourier transform."""
  return _core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a, s=None, axes=None, norm=None):
  """The N-D transform of a real signal (the last axis halved)."""
  return _core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a, s=None, axes=None, norm=None):
  """The inverse of ``rfftn``."""
  return _core("irfftn", FftType.IRFFT, a, s, axes, norm)


def fft2(a, s=None, axes=(-2, -1), norm=None):
  """The 2-D discrete Fourier transform."""
  _axis_2d("fft2", s, axes)
  return _core("fft2", FftType.FFT, a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
  """The 2-D inverse discrete Fourier transform."""
  _axis_2d("ifft2", s, axes)
  return _core("ifft2", FftType.IFFT, a, s, axes, norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
  """The 2-D transform of a real signal."""
  _axis_2d("rfft2", s, axes)
  return _core("rfft2", FftType.RFFT, a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
  """The inverse of ``rfft2``."""
  _axis_2d("irfft2", s, axes)
  return _core("irfft2", FftType.IRFFT, a, s, axes, norm)



def _check_freq_args(name: str, n, d):
  if isinstance(n, (list, tuple)):
    raise ValueError(f"The n argument of jax.numpy.fft.{name} only takes an int. "
                     f"Got n = {list(n)}.")
  if isinstance(d, (list, tuple)):
    raise ValueError(f"The d argument of jax.numpy.fft.{name} only takes a single value. "
                     f"Got d = {list(d)}.")


def fftfreq(n, d=1.0, *, dtype=None, device=None):
  """The sample frequencies of an ``n``-point FFT with spacing ``d`` (``d``
  may be traced). As in JAX, the frequencies are computed in the dtype's
  float type (an integer or bool ``dtype`` gets float frequencies cast to
  it) and divided by ``d * n`` as an array of that type."""
  out_dtype = dtype or dtypes.default_float_dtype()
  _check_freq_args("fftfreq", n, d)
  dt = dtypes.to_floating_dtype(out_dtype)
  i = creation.arange(n, dtype=dt)
  k = ufuncs.subtract(ufuncs.remainder(ufuncs.add(i, n // 2), n), n // 2)
  result = ufuncs.true_divide(ufuncs.astype(k, dt), lax_numpy.array(d * n, dtype=dt))
  return ufuncs.astype(result, out_dtype)


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
  """The sample frequencies of an ``n``-point ``rfft`` with spacing ``d``
  (``d`` may be traced): ``arange(n // 2 + 1) / (d * n)``, both in ``dtype``
  as in JAX (an integer ``dtype`` divides to float)."""
  dtype = dtype or dtypes.default_float_dtype()
  _check_freq_args("rfftfreq", n, d)
  k = creation.arange(0, n // 2 + 1, dtype=dtype)
  return ufuncs.true_divide(k, lax_numpy.array(d * n, dtype=dtype))


def _shift(x, axes, sign: int, name: str):
  check_arraylike(f"jax.numpy.fft.{name}", x)
  x = asarray(x)
  shape = _aval(x).shape
  if axes is None:
    axes = tuple(range(len(shape)))
    shift = [sign * (d // 2) for d in shape]
  elif isinstance(axes, int):
    shift = sign * (shape[axes] // 2)
  else:
    shift = [sign * (shape[ax] // 2) for ax in axes]
  return shape_ops.roll(x, shift, axes)


def fftshift(x, axes=None):
  """Shift the zero frequency to the centre."""
  return _shift(x, axes, 1, "fftshift")


def ifftshift(x, axes=None):
  """The inverse of ``fftshift``."""
  return _shift(x, axes, -1, "ifftshift")


__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
