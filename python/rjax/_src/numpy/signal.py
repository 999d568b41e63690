"""Signal processing and statistics helpers of ``rjax.numpy``: convolve,
correlate, cov, corrcoef, the multi-dimensional histograms, window functions
(bartlett, blackman, hamming, hanning), vander and packbits/unpackbits, each
with JAX's formulas (so programs see JAX's numbers)."""
from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.errors import ConcretizationTypeError
from rjax._src.interpreters import ad
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.lax import convolution, lax, matmul as dot_mod, shapes, slicing
from rjax._src.numpy import (creation, index_tricks, indexing, reductions, shape_ops, sorting,
                             ufuncs)
from rjax._src.numpy.util import (asarray, check_arraylike, promote_args_inexact,
                                  promote_dtypes, promote_dtypes_inexact)


def _aval(x):
  return core.get_aval(x)


def _conv(x, y, mode, op, precision, preferred_element_type):
  check_arraylike(op, x, y)
  if np.ndim(x) != 1 or np.ndim(y) != 1:
    raise ValueError(f"{op}() only support 1-dimensional inputs.")
  if preferred_element_type is None:
    x, y = promote_dtypes_inexact(x, y)
  else:
    x, y = promote_dtypes(x, y)
  x, y = asarray(x), asarray(y)
  nx, ny = _aval(x).shape[0], _aval(y).shape[0]
  if nx == 0 or ny == 0:
    raise ValueError(f"{op}: inputs cannot be empty, got shapes {_aval(x).shape} and "
                     f"{_aval(y).shape}.")
  reverse_out = False
  if op == "correlate":
    y = ufuncs.conj(y)
    if nx < ny:
      x, y, reverse_out = y, x, True
  else:
    if nx < ny:
      x, y = y, x
    y = shapes.rev(y, (0,))
  m = _aval(y).shape[0]
  if mode == "valid":
    padding = [(0, 0)]
  elif mode == "same":
    padding = [(m // 2, m - m // 2 - 1)]
  elif mode == "full":
    padding = [(m - 1, m - 1)]
  else:
    raise ValueError("mode must be one of ['full', 'same', 'valid']")
  out = convolution.conv_general_dilated(
      shapes.reshape(x, (1, 1, _aval(x).shape[0])), shapes.reshape(y, (1, 1, m)), (1,), padding,
      precision=precision, preferred_element_type=preferred_element_type)
  out = shapes.reshape(out, (_aval(out).shape[-1],))
  return shapes.rev(out, (0,)) if reverse_out else out


def convolve(a, v, mode: str = "full", *, precision=None, preferred_element_type=None):
  """Discrete linear convolution of two 1-d arrays."""
  return _conv(a, v, mode, "convolve", precision, preferred_element_type)


def correlate(a, v, mode: str = "valid", *, precision=None, preferred_element_type=None):
  """Cross-correlation of two 1-d arrays."""
  return _conv(a, v, mode, "correlate", precision, preferred_element_type)


def _t(x):
  return shape_ops.transpose(x)


def cov(m, y=None, rowvar: bool = True, bias: bool = False, ddof=None, fweights=None,
        aweights=None, dtype=None):
  """Covariance matrix of the variables (rows, if ``rowvar``) of ``m`` (and ``y``)."""
  if y is not None:
    check_arraylike("cov", m, y)
    m, y = promote_dtypes_inexact(m, y)
    if _aval(y).ndim > 2:
      raise ValueError("y has more than 2 dimensions")
  else:
    check_arraylike("cov", m)
    (m,) = promote_dtypes_inexact(m)
  m = asarray(m)
  if _aval(m).ndim > 2:
    raise ValueError("m has more than 2 dimensions")
  if dtype is not None and not dtypes.is_float(dtypes.canonicalize_dtype(dtype)):
    raise ValueError(f"cov: dtype must be a subclass of float or complex; got dtype={dtype!r}")
  X = shape_ops.atleast_2d(m)
  if not rowvar and _aval(m).ndim != 1:
    X = _t(X)
  if _aval(X).shape[0] == 0:
    return shapes.full((0, 0), 0, _aval(X).dtype)
  if y is not None:
    Y = shape_ops.atleast_2d(asarray(y))
    if not rowvar and _aval(Y).shape[0] != 1:
      Y = _t(Y)
    X = shape_ops.concatenate([X, Y], axis=0)
  nv, nobs = _aval(X).shape
  if nobs == 0:
    return shapes.full(() if nv == 1 else (nv, nv), np.nan, _aval(X).dtype)
  if ddof is None:
    ddof = 1 if bias == 0 else 0
  w = None
  if fweights is not None:
    check_arraylike("cov", fweights)
    fweights = asarray(fweights)
    if _aval(fweights).ndim > 1:
      raise RuntimeError("cannot handle multidimensional fweights")
    if _aval(fweights).shape[0] != nobs:
      raise RuntimeError("incompatible numbers of samples and fweights")
    if not dtypes.is_int(_aval(fweights).dtype):
      raise TypeError("fweights must be integer.")
    w = ufuncs.abs(fweights)
  if aweights is not None:
    check_arraylike("cov", aweights)
    aweights = asarray(aweights)
    if _aval(aweights).ndim > 1:
      raise RuntimeError("cannot handle multidimensional aweights")
    if _aval(aweights).shape[0] != nobs:
      raise RuntimeError("incompatible numbers of samples and aweights")
    aweights = ufuncs.abs(aweights)
    w = aweights if w is None else ufuncs.multiply(w, aweights)
  if dtype is not None:
    X = lax.convert_element_type(X, dtypes.canonicalize_dtype(dtype))
    w = None if w is None else lax.convert_element_type(w, dtypes.canonicalize_dtype(dtype))
  avg, w_sum = reductions.average(X, axis=1, weights=w, returned=True)
  w_sum = slicing.index_in_dim(w_sum, 0, keepdims=False)
  if w is None:
    f = nobs - ddof
  elif ddof == 0:
    f = w_sum
  elif aweights is None:
    f = ufuncs.subtract(w_sum, ddof)
  else:
    f = ufuncs.subtract(w_sum, ufuncs.true_divide(
        ufuncs.multiply(ddof, reductions.sum(ufuncs.multiply(w, aweights))), w_sum))
  X = ufuncs.subtract(X, shapes.reshape(avg, (nv, 1)))
  XT = _t(X) if w is None else _t(ufuncs.multiply(X, shapes.reshape(asarray(w), (1, nobs))))
  prod = dot_mod.dot_general(*promote_dtypes(X, XT), (((1,), (0,)), ((), ())))
  return shape_ops.squeeze(ufuncs.true_divide(prod, f))


def corrcoef(x, y=None, rowvar: bool = True, dtype=None):
  """Pearson correlation coefficients (``cov`` normalized, clipped to [-1, 1])."""
  check_arraylike("corrcoef", x)
  if dtype is not None and not dtypes.is_float(dtypes.canonicalize_dtype(dtype)):
    raise ValueError(f"corrcoef: dtype must be a subclass of float or complex; got "
                     f"dtype={dtype!r}")
  c = cov(x, y, rowvar, dtype=dtype)
  if _aval(c).ndim == 0:
    return ufuncs.divide(c, c)
  d = creation.diag(c)
  sd = ufuncs.sqrt(d)
  n = _aval(sd).shape[0]
  c = ufuncs.true_divide(ufuncs.true_divide(c, shapes.reshape(sd, (n, 1))),
                         shapes.reshape(sd, (1, n)))
  return ufuncs.clip(c, -1, 1)


# ---------------------------------------------------------------------------
# Histograms


def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002
  """The bin edges ``histogram`` would use (``bins`` a count or the edges)."""
  del weights
  if isinstance(bins, str):
    raise NotImplementedError("string values for `bins` not implemented.")
  check_arraylike("histogram_bin_edges", a, bins)
  arr = asarray(a)
  adt = _aval(arr).dtype
  dt = adt if dtypes.is_float(adt) else dtypes.to_inexact_dtype(adt)
  if np.ndim(bins) == 1:
    return lax.convert_element_type(asarray(bins), dt)
  if isinstance(bins, core.Tracer):
    raise ConcretizationTypeError("bins argument of histogram_bin_edges must be concrete")
  nbins = operator.index(bins)
  if range is None:
    lo, hi = reductions.min(arr), reductions.max(arr)
  else:
    if np.shape(range) != (2,):
      raise ValueError(f"`range` must be either None or a sequence of scalars, got {range}")
    lo, hi = range[0], range[1]
  lo, hi = (lax.convert_element_type(asarray(v), dt) for v in (lo, hi))
  same = ufuncs.equal(lo, hi)
  lo = ufuncs.where(same, ufuncs.subtract(lo, 0.5), lo)
  hi = ufuncs.where(same, ufuncs.add(hi, 0.5), hi)
  return creation.linspace(lo, hi, nbins + 1, dtype=dt)


def histogram(a, bins=10, range=None, weights=None, density=None):  # noqa: A002
  """Counts of ``a`` in ``bins`` (a count or the edges): ``(hist, edges)``.
  JAX's: ``a`` and ``weights`` are promoted to one inexact dtype (complex
  too), which the counts have (floats, with or without weights); each value
  goes to the bin ``searchsorted(edges, a, side='right')`` (the last edge
  into the last bin), by a scatter-add of the weights."""
  if weights is None:
    check_arraylike("histogram", a, bins)
    (a,) = promote_dtypes_inexact(asarray(a))
    weights = shapes.full_like(a, 1)
  else:
    check_arraylike("histogram", a, bins, weights)
    if np.shape(a) != np.shape(weights):
      raise ValueError("weights should have the same shape as a.")
    a, weights = promote_dtypes_inexact(asarray(a), asarray(weights))
  edges = histogram_bin_edges(a, bins, range, weights)
  n = _aval(edges).shape[0]
  idx = sorting.searchsorted(edges, a, side="right")
  last = indexing.getitem(edges, n - 1)
  idx = ufuncs.where(ufuncs.equal(a, last), n - 1, idx)
  zeros = shapes.full((n,), 0, _aval(weights).dtype)
  counts = indexing._IndexUpdateRef(zeros, idx).add(weights)
  counts = slicing.slice_in_dim(counts, 1, n, axis=0)
  if density:
    widths = shape_ops.diff(edges)
    counts = ufuncs.divide(ufuncs.divide(counts, widths), reductions.sum(counts))
  return counts, edges


def histogramdd(sample, bins=10, range=None, weights=None, density=None):  # noqa: A002
  """Multidimensional histogram of ``sample`` (shape ``(N, D)``)."""
  if weights is None:
    check_arraylike("histogramdd", sample)
    (sample,) = promote_dtypes_inexact(sample)
  else:
    check_arraylike("histogramdd", sample, weights)
    if np.shape(weights) != np.shape(sample)[:1]:
      raise ValueError("should have one weight for each sample.")
    sample, weights = promote_dtypes_inexact(sample, weights)
  sample = asarray(sample)
  N, D = _aval(sample).shape
  if range is not None and (len(range) != D or any(r is not None and np.shape(r)[0] != 2
                                                   for r in range)):
    raise ValueError(f"For sample.shape={(N, D)}, range must be a sequence of {D} pairs or "
                     f"Nones; got range={range!r}")
  try:
    per_dim = list(bins)
  except TypeError:
    per_dim = D * [bins]
  else:
    if len(per_dim) != D:
      raise ValueError("should be a bin for each dimension.")
  idx_by_dim, edges_by_dim = [], []
  for i in builtins.range(D):
    col = slicing.index_in_dim(sample, i, 1, keepdims=False)
    edges = histogram_bin_edges(col, per_dim[i], None if range is None else range[i], weights)
    ne = _aval(edges).shape[0]
    idx = sorting.searchsorted(edges, col, side="right")
    idx = ufuncs.where(ufuncs.equal(col, slicing.index_in_dim(edges, ne - 1, keepdims=False)),
                       ufuncs.subtract(idx, 1), idx)
    idx_by_dim.append(idx)
    edges_by_dim.append(edges)
  nbins = tuple(_aval(e).shape[0] + 1 for e in edges_by_dim)
  xy = index_tricks.ravel_multi_index(tuple(idx_by_dim), nbins, mode="clip")
  hist = shape_ops.reshape(sorting.bincount(xy, weights, length=math.prod(nbins)), nbins)
  hist = slicing.slice(hist, (1,) * D, tuple(n - 1 for n in nbins))
  if density:
    hist = lax.convert_element_type(hist, _aval(sample).dtype)
    hist = ufuncs.true_divide(hist, reductions.sum(hist))
    for norm in index_tricks.ix_(*[shape_ops.diff(e) for e in edges_by_dim]):
      hist = ufuncs.true_divide(hist, norm)
  return hist, edges_by_dim


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):  # noqa: A002
  """2-d histogram of the points ``(x, y)``; returns (hist, x_edges, y_edges)."""
  check_arraylike("histogram2d", x, y)
  try:
    n = len(bins)
  except TypeError:
    n = 1
  if n not in (1, 2):
    bins = [asarray(bins), asarray(bins)]
  sample = shape_ops.transpose(shape_ops.stack(promote_dtypes(x, y)))
  hist, edges = histogramdd(sample, bins, range, weights, density)
  return hist, edges[0], edges[1]


# ---------------------------------------------------------------------------
# Window functions (JAX's formulas, in the default float dtype)


def _window(M, name):
  if isinstance(M, core.Tracer):
    raise ConcretizationTypeError(f"M argument of jnp.{name} must be concrete")
  M = int(M)
  if M < 0:
    # JAX fails building the negative-length array: a TypeError
    raise TypeError(f"jnp.{name}: the number of points M must be nonnegative, got {M}")
  dt = dtypes.default_float_dtype()
  if M <= 1:
    return M, None, shapes.full((max(M, 0),), 1, dt)
  return M, shapes.iota(dt, M), None


def _cos(x):
  return ufuncs.cos(x)


def blackman(M):
  """The Blackman window of ``M`` points."""
  M, n, small = _window(M, "blackman")
  if small is not None:
    return small
  t = ufuncs.true_divide(ufuncs.multiply(2 * np.pi, n), M - 1)
  u = ufuncs.true_divide(ufuncs.multiply(4 * np.pi, n), M - 1)
  return ufuncs.add(ufuncs.subtract(0.42, ufuncs.multiply(0.5, _cos(t))),
                    ufuncs.multiply(0.08, _cos(u)))


def bartlett(M):
  """The Bartlett (triangular) window of ``M`` points."""
  M, n, small = _window(M, "bartlett")
  if small is not None:
    return small
  return ufuncs.subtract(1, ufuncs.true_divide(
      ufuncs.abs(ufuncs.subtract(ufuncs.add(ufuncs.multiply(2, n), 1), M)), M - 1))


def hamming(M):
  """The Hamming window of ``M`` points."""
  M, n, small = _window(M, "hamming")
  if small is not None:
    return small
  t = ufuncs.true_divide(ufuncs.multiply(2 * np.pi, n), M - 1)
  return ufuncs.subtract(0.54, ufuncs.multiply(0.46, _cos(t)))


def hanning(M):
  """The Hann window of ``M`` points."""
  M, n, small = _window(M, "hanning")
  if small is not None:
    return small
  t = ufuncs.true_divide(ufuncs.multiply(2 * np.pi, n), M - 1)
  return ufuncs.multiply(0.5, ufuncs.subtract(1, _cos(t)))


def kaiser(M, beta):
  """The Kaiser window of ``M`` points with shape parameter ``beta``."""
  M, n, small = _window(M, "kaiser")
  if small is not None:
    return small
  alpha = 0.5 * (M - 1)
  r = ufuncs.true_divide(ufuncs.subtract(n, alpha), alpha)
  return ufuncs.true_divide(
      i0(ufuncs.multiply(beta, ufuncs.sqrt(ufuncs.subtract(1, ufuncs.multiply(r, r))))),
      i0(beta))


def i0(x):
  """The modified Bessel function of the first kind, order 0 (JAX's
  ``exp(|x|) * bessel_i0e(|x|)``, with a derivative of 0 at 0)."""
  x_arr, = promote_args_inexact("i0", x)
  if not dtypes.issubdtype(_aval(x_arr).dtype, np.floating):
    raise ValueError(f"Unsupported input type to jax.numpy.i0: {_aval(x_arr).dtype}")
  return _i0(x_arr)


@custom_jvp
def _i0(x):
  abs_x = lax.abs(x)
  return lax.mul(lax.exp(abs_x), lax.bessel_i0e(abs_x))


@_i0.defjvp
def _i0_jvp(primals, tangents):
  primal_out, tangent_out = ad.jvp(_i0.fun, primals, tangents)
  x, = primals
  zero = lax.eq(x, lax._scalar_like(0, x))
  return primal_out, lax.select(zero, shapes.full_like(tangent_out, 0), tangent_out)


# ---------------------------------------------------------------------------
# vander, packbits, unpackbits


def vander(x, N=None, increasing: bool = False):
  """Vandermonde matrix: columns are powers of ``x`` (decreasing by default)."""
  check_arraylike("vander", x)
  x = asarray(x)
  if _aval(x).ndim != 1:
    raise ValueError("x must be a one-dimensional array")
  if N is None:
    N = _aval(x).shape[0]
  elif isinstance(N, core.Tracer):
    raise ConcretizationTypeError("'N' argument of jnp.vander() must be concrete")
  N = operator.index(N)
  if N < 0:
    raise ValueError("N must be nonnegative")
  it = shapes.iota(_aval(x).dtype, N)
  if not increasing:
    it = lax.sub(lax._scalar_like(N - 1, it), it)
  return ufuncs.power(shapes.reshape(x, (_aval(x).shape[0], 1)), shapes.reshape(it, (1, N)))


def packbits(a, axis=None, bitorder: str = "big"):
  """Pack the truthiness of elements into bits of uint8, 8 per byte."""
  check_arraylike("packbits", a)
  arr = asarray(a)
  dt = _aval(arr).dtype
  if not (dtypes.is_int(dt) or dtypes.is_bool(dt)):
    raise TypeError("Expected an input array of integer or boolean data type")
  if bitorder not in ("little", "big"):
    raise ValueError("'order' must be either 'little' or 'big'")
  u8 = np.dtype(np.uint8)
  arr = lax.convert_element_type(ufuncs.not_equal(arr, 0), u8)
  bits = shapes.iota(u8, 8)
  if bitorder == "big":
    bits = shapes.rev(bits, (0,))
  if axis is None:
    arr, axis = shape_ops.ravel(arr), 0
  arr = shape_ops.swapaxes(arr, axis, -1)
  nd = _aval(arr).ndim
  rem = _aval(arr).shape[-1] % 8
  if rem:
    arr = shapes.pad(arr, shapes.full((), 0, u8), [(0, 0, 0)] * (nd - 1) + [(0, 8 - rem, 0)])
  sh = _aval(arr).shape
  arr = shapes.reshape(arr, sh[:-1] + (sh[-1] // 8, 8))
  shifted = lax.shift_left(arr, shapes.broadcast_in_dim(bits, _aval(arr).shape, (nd,)))
  packed = lax.convert_element_type(reductions.sum(shifted, -1), u8)
  return shape_ops.swapaxes(packed, axis, -1)


def unpackbits(a, axis=None, count=None, bitorder: str = "big"):
  """Unpack the bits of a uint8 array into a uint8 array of 0s and 1s."""
  check_arraylike("unpackbits", a)
  arr = asarray(a)
  u8 = np.dtype(np.uint8)
  if _aval(arr).dtype != u8:
    raise TypeError("Expected an input array of unsigned byte data type")
  if bitorder not in ("little", "big"):
    raise ValueError("'order' must be either 'little' or 'big'")
  bits = lax.shift_left(shapes.full((8,), 1, u8), shapes.iota(u8, 8))
  if bitorder == "big":
    bits = shapes.rev(bits, (0,))
  if axis is None:
    arr, axis = shape_ops.ravel(arr), 0
  arr = shape_ops.swapaxes(arr, axis, -1)
  sh = _aval(arr).shape
  full = sh + (8,)
  hit = lax.bitwise_and(shapes.broadcast_in_dim(arr, full, tuple(range(len(sh)))),
                        shapes.broadcast_in_dim(bits, full, (len(sh),)))
  out = lax.convert_element_type(lax.gt(hit, shapes.full((), 0, u8)), u8)
  out = shapes.reshape(out, sh[:-1] + (sh[-1] * 8,))
  if count is not None:
    count = operator.index(count)
    n = _aval(out).shape[-1]
    if count > n:
      out = shapes.pad(out, shapes.full((), 0, u8), [(0, 0, 0)] * (len(sh) - 1) +
                       [(0, count - n, 0)])
    else:
      out = slicing.slice_in_dim(out, 0, count, 1, len(sh) - 1)
  return shape_ops.swapaxes(out, axis, -1)


__all__ = ["convolve", "correlate", "cov", "corrcoef", "histogram", "histogram_bin_edges",
           "histogramdd",
           "histogram2d", "blackman", "bartlett", "hamming", "hanning", "kaiser", "i0", "vander", "packbits",
           "unpackbits"]
