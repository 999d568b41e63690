"""``jax.scipy.fft``: the type-2 discrete cosine transform and its inverse
(dct, dctn, idct, idctn; norm None/'backward' or 'ortho'), by Makhoul's
reordering into one complex FFT."""
from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy import fft as jnp_fft
from rjax._src.numpy.util import canonicalize_axis, check_arraylike, promote_dtypes_inexact

__all__ = ["dct", "dctn", "idct", "idctn"]


def _W4(n, k):
  """exp(-i pi k / (2n)), computed in the complex dtype of ``k``'s precision."""
  dt = jnp.result_type(k.dtype, np.complex64)
  n_arr, k = jnp.asarray(n, dt), k.astype(dt)
  return jnp.exp(-.5j * np.pi * k / n_arr)


def _interleave(x, axis):
  v0 = lax.slice_in_dim(x, None, None, 2, axis)
  v1 = lax.rev(lax.slice_in_dim(x, 1, None, 2, axis), (axis,))
  return lax.concatenate([v0, v1], axis)


def _deinterleave(x, axis):
  half = math.ceil(x.shape[axis] / 2)
  take = lambda sl: tuple(sl if i == axis else slice(None) for i in range(x.ndim))
  v0 = x[take(slice(None, half))]
  v1 = lax.rev(x[take(slice(half, None))], (axis,))
  out = jnp.zeros(x.shape, dtype=x.dtype)
  return out.at[take(slice(None, None, 2))].set(v0).at[take(slice(1, None, 2))].set(v1)


def _ortho_norm(out, axis):
  factor = lax.concatenate([lax.full((1,), 4, out.dtype),
                            lax.full((out.shape[axis] - 1,), 2, out.dtype)], 0)
  factor = lax.expand_dims(factor, [a for a in range(out.ndim) if a != axis])
  return out / lax.sqrt(factor * out.shape[axis])


def _other_axes(x, axis):
  return [a for a in range(x.ndim) if a != axis]


def _check(name, x, type, norm):
  check_arraylike(name, x)
  if type != 2:
    raise NotImplementedError("Only DCT type 2 is implemented.")
  if norm is not None and norm not in ["backward", "ortho"]:
    raise ValueError(f"jax.scipy.fft.{name}: {norm=!r} is not implemented")
  return jnp.asarray(x)


def _pad_to(x, sizes):
  pads = [(0, sizes[a] - x.shape[a] if a in sizes else 0, 0) for a in range(x.ndim)]
  return lax.pad(x, jnp.array(0, x.dtype), pads)


def dct(x, type: int = 2, n: int | None = None, axis: int = -1, norm: str | None = None):
  """The DCT-II of ``x`` along ``axis`` (zero-padded to ``n``)."""
  x = _check("dct", x, type, norm)
  if np.issubdtype(x.dtype, np.complexfloating):
    return lax.complex(dct(x.real, type, n, axis, norm), dct(x.imag, type, n, axis, norm))
  axis = canonicalize_axis(axis, x.ndim)
  if n is not None:
    x = _pad_to(x, {axis: n})
  size = x.shape[axis]
  V = jnp_fft.fft(_interleave(x, axis), axis=axis)
  k = lax.expand_dims(jnp.arange(size, dtype=V.real.dtype), _other_axes(x, axis))
  out = 2 * (V * _W4(size, k)).real
  return _ortho_norm(out, axis) if norm == "ortho" else out


def _dct2(x, axes, norm):
  axis1, axis2 = (canonicalize_axis(a, x.ndim) for a in axes)
  n1, n2 = x.shape[axis1], x.shape[axis2]
  V = jnp_fft.fftn(_interleave(_interleave(x, axis1), axis2), axes=axes)
  k1 = lax.expand_dims(jnp.arange(n1, dtype=V.dtype), _other_axes(x, axis1))
  k2 = lax.expand_dims(jnp.arange(n2, dtype=V.dtype), _other_axes(x, axis2))
  out = _W4(n1, k1) * (_W4(n2, k2) * V
                       + _W4(n2, -k2) * jnp.roll(jnp.flip(V, axis=axis2), shift=1, axis=axis2))
  out = 2 * out.real
  return _ortho_norm(_ortho_norm(out, axis1), axis2) if norm == "ortho" else out


def _axes_and_sizes(name, x, s, axes):
  if s is not None:
    try:
      s = list(s)
    except TypeError:
      s = [operator.index(s)]
    if len(s) > x.ndim:
      raise ValueError(f"s must have at most x.ndim ({x.ndim}) elements, got {len(s)}")
  if axes is None:
    axes = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else tuple(range(x.ndim))
  else:
    axes = tuple(canonicalize_axis(a, x.ndim) for a in axes)
    if len(set(axes)) != len(axes):
      raise ValueError(f"{name}: axes must be unique, got {axes}")
  return s, axes


def dctn(x, type: int = 2, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None):
  """The N-d DCT-II over ``axes`` (zero-padded to ``s``)."""
  x = _check("dctn", x, type, norm)
  if np.issubdtype(x.dtype, np.complexfloating):
    return lax.complex(dctn(x.real, type, s, axes, norm), dctn(x.imag, type, s, axes, norm))
  s, axes = _axes_and_sizes("dctn", x, s, axes)
  if len(axes) == 1:
    return dct(x, n=s[0] if s is not None else None, axis=axes[0], norm=norm)
  if s is not None:
    x = _pad_to(x, dict(zip(axes, s)))
  if len(axes) == 2:
    return _dct2(x, axes=axes, norm=norm)
  for block in [axes[i:i + 2] for i in range(0, len(axes), 2)]:
    x = dctn(x, axes=block, norm=norm)
  return x


def idct(x, type: int = 2, n: int | None = None, axis: int = -1, norm: str | None = None):
  """The inverse of ``dct`` along ``axis``."""
  x = _check("idct", x, type, norm)
  if np.issubdtype(x.dtype, np.complexfloating):
    return lax.complex(idct(x.real, type, n, axis, norm), idct(x.imag, type, n, axis, norm))
  axis = canonicalize_axis(axis, x.ndim)
  if n is not None:
    x = _pad_to(x, {axis: n})
  size = x.shape[axis]
  x, = promote_dtypes_inexact(x)
  if norm is None or norm == "backward":
    x = _ortho_norm(x, axis)
  x = _ortho_norm(x, axis)
  k = lax.expand_dims(jnp.arange(size, dtype=x.dtype), _other_axes(x, axis))
  w4 = _W4(size, k)
  x = x.astype(w4.dtype) / w4 * 2 * size
  return _deinterleave(jnp_fft.ifft(x, axis=axis).real, axis)


def idctn(x, type: int = 2, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None):
  """The inverse of ``dctn`` over ``axes``."""
  x = _check("idctn", x, type, norm)
  if np.issubdtype(x.dtype, np.complexfloating):
    return lax.complex(idctn(x.real, type, s, axes, norm), idctn(x.imag, type, s, axes, norm))
  s, axes = _axes_and_sizes("idctn", x, s, axes)
  if len(axes) == 1:
    return idct(x, n=s[0] if s is not None else None, axis=axes[0], norm=norm)
  if s is not None:
    x = _pad_to(x, dict(zip(axes, s)))
  for axis in axes:
    x = idct(x, axis=axis, norm=norm)
  return x
