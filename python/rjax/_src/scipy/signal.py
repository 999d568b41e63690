"""``jax.scipy.signal``: N-d convolve and correlate (modes full/same/valid)
as one ``conv_general_dilated``, with JAX's padding and argument checks."""
from __future__ import annotations

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import check_arraylike, promote_dtypes_inexact

__all__ = ["convolve", "correlate"]


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


def _check_method(method):
  if method == "fft":
    raise NotImplementedError("rjax.scipy.signal: method='fft' needs FFTs, which rjax does not "
                              "have yet; use method='direct' or 'auto'.")
  if method not in ("direct", "auto"):
    raise ValueError(f"Got {method=}; expected 'auto', 'fft', or 'direct'.")


def convolve(in1, in2, mode: str = "full", method: str = "auto", precision=None):
  """The N-d convolution of ``in1`` and ``in2`` (same number of dimensions;
  one at least as large as the other in every dimension)."""
  check_arraylike("convolve", in1, in2)
  _check_method(method)
  return _convolve_nd(jnp.asarray(in1), jnp.asarray(in2), mode, precision=precision)


def correlate(in1, in2, mode: str = "full", method: str = "auto", precision=None):
  """The N-d cross-correlation: convolve(in1, flip(conj(in2)))."""
  check_arraylike("correlate", in1, in2)
  return convolve(in1, jnp.flip(jnp.conj(jnp.asarray(in2))), mode, precision=precision,
                  method=method)
