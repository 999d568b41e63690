"""``lax.fft``: XLA's FFT over the trailing ``len(fft_lengths)`` dims (1 to 3),
batched over the leading ones, as JAX's ``lax.fft``.

``FftType.FFT``/``IFFT`` take and give complex arrays (IFFT divides by the
product of the lengths); ``RFFT`` takes a float array and gives the
``n // 2 + 1`` non-negative frequencies of the last dim; ``IRFFT`` is its
inverse (the last fft length is the real output's). The transform is linear:
its JVP applies it to the tangent, and its transpose is JAX's (FFT and IFFT
are their own transposes, their matrices being symmetric; RFFT's and IRFFT's
transposes account for the Hermitian halving with a mask of 1 at the zero
and Nyquist frequencies and 2 elsewhere).
"""
from __future__ import annotations

import enum
import math
from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lowering, reference
# The rules use elementwise and shape ops, whose modules are imported as
# modules and looked up at call time (the lax modules import each other).
from rjax._src.lax import complex_ops, lax, shapes
from rjax._src.lax.utils import asarray_lax, export, standard_primitive


@export
class FftType(enum.IntEnum):
  """The kind of transform (XLA's values)."""
  FFT = 0
  IFFT = 1
  RFFT = 2
  IRFFT = 3


def _abstract_eval(x, *, fft_type, fft_lengths):
  k = len(fft_lengths)
  if not 1 <= k <= 3:
    raise ValueError(f"fft: only 1D, 2D and 3D transforms are supported, got fft_lengths "
                     f"{fft_lengths}")
  if k > len(x.shape):
    raise ValueError(f"fft: fft_lengths {fft_lengths} has more dims than the operand's "
                     f"shape {x.shape}")
  lead, tail = x.shape[:-k], tuple(x.shape[-k:])
  lengths = tuple(fft_lengths)
  if fft_type == FftType.RFFT:
    if not dtypes.is_float(x.dtype) or x.dtype.name not in ("float32", "float64"):
      raise TypeError(f"fft: RFFT takes a float32 or float64 operand, got {x.dtype.name}")
    if tail != lengths:
      raise ValueError(f"fft: RFFT operand trailing dims {tail} must equal fft_lengths "
                       f"{lengths}")
    return ShapedArray(lead + lengths[:-1] + (lengths[-1] // 2 + 1,),
                       dtypes.complex_dtype(x.dtype), False)
  if not dtypes.is_complex(x.dtype):
    raise TypeError(f"fft: {FftType(fft_type).name} takes a complex operand, got "
                    f"{x.dtype.name}")
  if fft_type == FftType.IRFFT:
    want = lengths[:-1] + (lengths[-1] // 2 + 1,)
    if tail != want:
      raise ValueError(f"fft: IRFFT operand trailing dims {tail} must be {want} for "
                       f"fft_lengths {lengths}")
    return ShapedArray(lead + lengths, dtypes.real_dtype(x.dtype), False)
  if tail != lengths:
    raise ValueError(f"fft: operand trailing dims {tail} must equal fft_lengths {lengths}")
  return ShapedArray(x.shape, x.dtype, False)


def _hermitian_mask(n: int, m: int, dtype):
  """1 at the zero (and, for even ``n``, the Nyquist) frequency, 2 elsewhere."""
  mask = np.full((m,), 2, dtype)
  mask[0] = 1
  if n % 2 == 0:
    mask[-1] = 1
  return mask


def _transpose(t, x, *, fft_type, fft_lengths):
  if isinstance(t, ad.Zero):
    return [None]
  fft_lengths = tuple(fft_lengths)
  n_total = math.prod(fft_lengths)
  if fft_type == FftType.RFFT:
    tv = core.get_aval(t)
    mask = _hermitian_mask(fft_lengths[-1], tv.shape[-1], tv.dtype)
    scaled = lax.div(complex_ops.conj(t), shapes.broadcast_in_dim(
        asarray_lax(mask), tv.shape, (len(tv.shape) - 1,)))
    out = fft(scaled, FftType.IRFFT, fft_lengths)
    return [lax.mul(out, lax._c(float(n_total), out))]
  if fft_type == FftType.IRFFT:
    y = fft(t, FftType.RFFT, fft_lengths)
    yv = core.get_aval(y)
    mask = _hermitian_mask(fft_lengths[-1], yv.shape[-1], yv.dtype) / n_total
    out = lax.mul(y, shapes.broadcast_in_dim(asarray_lax(mask.astype(yv.dtype)), yv.shape,
                                             (len(yv.shape) - 1,)))
    return [complex_ops.conj(out)]   # JAX's convention for complex cotangents
  return [fft(t, fft_type, fft_lengths)]


def _batch(vals, dims, *, fft_type, fft_lengths):
  (x,), (d,) = vals, dims
  x = batching.moveaxis(x, d, 0)
  return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0


def _reference(x, *, fft_type, fft_lengths):
  k = len(fft_lengths)
  axes = tuple(range(x.ndim - k, x.ndim))
  if fft_type == FftType.FFT:
    out = np.fft.fftn(x, axes=axes)
  elif fft_type == FftType.IFFT:
    out = np.fft.ifftn(x, axes=axes)
  elif fft_type == FftType.RFFT:
    out = np.fft.rfftn(x, axes=axes)
  else:
    out = np.fft.irfftn(x, s=fft_lengths, axes=axes)
  dt = dtypes.complex_dtype(x.dtype) if fft_type != FftType.IRFFT else dtypes.real_dtype(x.dtype)
  return out.astype(dt)


fft_p = standard_primitive("fft", _abstract_eval, lower=False)
lowering.register_standard(fft_p, param_fn=lambda avals_in, avals_out, *, fft_type, fft_lengths: {
    "fft_type": int(fft_type), "fft_lengths": [int(n) for n in fft_lengths]})
ad.deflinear(fft_p, _transpose)
batching.primitive_batchers[fft_p] = _batch
reference.register(fft_p, _reference)


@export
def fft(x, fft_type, fft_lengths: Sequence[int]):
  """XLA's FFT of ``x`` over its trailing ``len(fft_lengths)`` dims (``fft_type``:
  an ``FftType`` or its name)."""
  if isinstance(fft_type, str):
    try:
      fft_type = FftType[fft_type.upper()]
    except KeyError:
      raise ValueError(f"fft: unknown fft_type {fft_type!r}") from None
  fft_type = FftType(fft_type)
  x = asarray_lax(x)
  dt = core.get_aval(x).dtype
  if fft_type == FftType.RFFT and dtypes.is_complex(dt):
    raise ValueError("only real valued inputs supported for rfft")
  if fft_type == FftType.RFFT:
    if dt.name not in ("float32", "float64"):
      # (JAX's to_inexact_dtype: 64-bit integers transform in float64)
      x = lax.convert_element_type(x, dtypes.to_floating_dtype(dtypes.to_complex_dtype(dt)))
  elif not dtypes.is_complex(dt):
    x = lax.convert_element_type(x, dtypes.to_complex_dtype(dt))
  return fft_p.bind(x, fft_type=fft_type, fft_lengths=tuple(int(n) for n in fft_lengths))
