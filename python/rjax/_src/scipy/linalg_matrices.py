"""``jax.scipy.linalg``'s special matrices: circulant, companion,
convolution_matrix, dft, fiedler, fiedler_companion, hankel, invhilbert,
invpascal, leslie, pascal.

The constructors from vectors take batches (``(..., n)`` gives ``(..., n,
n)``, as JAX's vectorised versions) and are written with gathers and
selects over index grids, so they trace under ``jit``/``vmap``/``grad``.
The constructors from an order ``n`` compute their integer entries exactly
(NumPy, Python integers), then cast to JAX's default float dtype.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.base.errors import ConcretizationTypeError
from rjax._src.numpy.util import check_arraylike, promote_dtypes, promote_dtypes_inexact


def _static_int(n, what):
  if isinstance(n, core.Tracer):
    raise ConcretizationTypeError(f"{what} must be a concrete integer")
  return operator.index(n)


def _grid(n, m=None):
  m = n if m is None else m
  return jnp.arange(n)[:, None], jnp.arange(m)[None, :]


def _batched(x):
  return jnp.atleast_1d(jnp.asarray(x))


def circulant(c):
  """The circulant matrix whose first column is ``c`` ([..., n] -> [..., n, n]):
  ``out[i, j] = c[(i - j) % n]``."""
  check_arraylike("circulant", c)
  c = _batched(c)
  n = c.shape[-1]
  i, j = _grid(n)
  return jnp.take(c, (i - j) % max(n, 1), axis=-1)


def hankel(c, r=None):
  """The Hankel matrix ``out[i, j] = v[i + j]``, ``v = concatenate([c,
  r[1:]])`` (``r`` defaults to zeros; ``r[0]`` is not read)."""
  if r is None:
    check_arraylike("hankel", c)
    c = jnp.asarray(c)
    r = jnp.zeros_like(c)
  else:
    check_arraylike("hankel", c, r)
    c, r = jnp.asarray(c), jnp.asarray(r)
  if c.ndim == 0:
    raise ValueError("hankel: c must be at least 1-dimensional, got a scalar.")
  if r.ndim == 0:
    raise ValueError("hankel: r must be at least 1-dimensional, got a scalar.")
  nc, nr = c.shape[-1], r.shape[-1]
  batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
  c, r = promote_dtypes(c, r)
  if nc == 0 or nr == 0:
    return jnp.zeros(batch + (nc, nr), c.dtype)
  c = jnp.broadcast_to(c, batch + (nc,))
  r = jnp.broadcast_to(r, batch + (nr,))
  v = jnp.concatenate([c, r[..., 1:]], axis=-1)
  i, j = _grid(nc, nr)
  return jnp.take(v, i + j, axis=-1)


def leslie(f, s):
  """The Leslie matrix: fecundities ``f`` ([..., n]) in the first row,
  survival rates ``s`` ([..., n - 1]) on the first subdiagonal."""
  check_arraylike("leslie", f, s)
  f, s = _batched(f), _batched(s)
  n = f.shape[-1]
  if n < 2:
    raise ValueError("The length of f along the last axis must be at least 2; "
                     f"got shape {f.shape}.")
  if s.shape[-1] != n - 1:
    raise ValueError("Incorrect lengths for f and s. The length of s along the last axis "
                     "must be one less than the length of f; got f shape "
                     f"{f.shape} and s shape {s.shape}.")
  f, s = promote_dtypes(f, s)
  batch = np.broadcast_shapes(f.shape[:-1], s.shape[:-1])
  f = jnp.broadcast_to(f, batch + (n,))
  s = jnp.broadcast_to(s, batch + (n - 1,))
  i, j = _grid(n)
  sub = jnp.take(s, jnp.clip(j, 0, n - 2), axis=-1)
  zero = jnp.zeros((), f.dtype)
  out = jnp.where(i == j + 1, sub, zero)
  return jnp.where(i == 0, f[..., None, :], out)


def companion(a):
  """The companion matrix of the polynomial ``a`` ([..., n], highest power
  first): first row ``-a[1:] / a[0]``, ones on the first subdiagonal.
  ``a[..., 0]`` is not checked for zero (as JAX)."""
  check_arraylike("companion", a)
  (a,) = promote_dtypes_inexact(jnp.asarray(a))
  a = _batched(a)
  if a.shape[-1] < 2:
    raise ValueError("The length of `a` along the last axis must be at least 2; "
                     f"got shape {a.shape}.")
  m = a.shape[-1] - 1
  row = -a[..., 1:] / a[..., :1]
  i, j = _grid(m)
  sub = jnp.where(i == j + 1, jnp.ones((), a.dtype), jnp.zeros((), a.dtype))
  return jnp.where(i == 0, row[..., None, :], sub)


def fiedler(a):
  """The symmetric Fiedler matrix ``out[i, j] = |a[i] - a[j]|``."""
  check_arraylike("fiedler", a)
  a = _batched(a)
  return jnp.abs(a[..., :, None] - a[..., None, :])


def fiedler_companion(a):
  """The Fiedler companion matrix of the polynomial ``a`` (highest power
  first): a pentadiagonal matrix with the same eigenvalues as
  :func:`companion` (scipy's layout)."""
  check_arraylike("fiedler_companion", a)
  (a,) = promote_dtypes_inexact(jnp.asarray(a))
  a = _batched(a)
  if a.shape[-1] == 0:
    raise ValueError("fiedler_companion requires the last axis of 'a' to have nonzero length, "
                     f"but got an array of shape {a.shape}.")
  n = a.shape[-1] - 1
  if n == 0:
    return jnp.zeros(a.shape[:-1] + (0, 0), a.dtype)
  a = a / a[..., :1]
  if n == 1:
    return -a[..., 1:, None]
  # scipy's layout: c[0, 0] = -a1, c[1, 0] = 1; an even row i carries
  # -a[i+2] at (i, i+1) and 1 at (i, i+2), and (from i = 2) -a[i+1] at
  # (i, i-1); an odd row i >= 3 carries 1 at (i, i-2).
  i, j = _grid(n)
  even, odd = i % 2 == 0, i % 2 == 1
  coef = lambda k: jnp.take(a, jnp.broadcast_to(jnp.minimum(k, n), (n, n)),  # noqa: E731
                            axis=-1)
  one = jnp.ones((), a.dtype)
  zero = jnp.zeros((), a.dtype)
  out = jnp.where((i == 0) & (j == 0), -a[..., 1:2, None], zero)
  out = jnp.where((i == 1) & (j == 0), one, out)
  out = jnp.where((j == i + 1) & even, -coef(i + 2), out)
  out = jnp.where((j == i + 2) & even, one, out)
  out = jnp.where((j == i - 1) & even & (i >= 2), -coef(i + 1), out)
  out = jnp.where((j == i - 2) & odd & (i >= 3), one, out)
  return out


def convolution_matrix(a, n: int, mode: str = "full"):
  """The Toeplitz matrix ``A`` with ``A @ v == jnp.convolve(a, v, mode)``
  for ``v`` of length ``n`` (``mode`` 'full', 'same' or 'valid')."""
  n = _static_int(n, "n")
  if n <= 0:
    raise ValueError(f"n must be a positive integer; got {n}.")
  check_arraylike("convolution_matrix", a)
  a = jnp.asarray(a)
  if a.ndim == 0:
    raise ValueError("convolution_matrix: a must be at least 1-dimensional, got a scalar.")
  m = a.shape[-1]
  if m < 1:
    raise ValueError(f"len(a) must be at least 1; got shape {a.shape}.")
  if mode not in ("full", "valid", "same"):
    raise ValueError(f"mode must be one of 'full', 'valid', 'same'; got {mode!r}.")
  # the 'full' matrix has m + n - 1 rows: out[i, j] = a[i - j] (0 outside)
  if mode == "full":
    start, rows = 0, m + n - 1
  elif mode == "same":
    rows = max(m, n)
    start = (m + n - 1 - rows) // 2
  else:
    rows = max(m, n) - min(m, n) + 1
    start = min(m, n) - 1
  i, j = _grid(rows, n)
  k = i + start - j
  vals = jnp.take(a, jnp.clip(k, 0, m - 1), axis=-1)
  return jnp.where((k >= 0) & (k < m), vals, jnp.zeros((), a.dtype))


def dft(n: int, scale: str | None = None, *, dtype=None):
  """The ``n``-point discrete Fourier transform matrix ``exp(-2 pi i j k /
  n)``, scaled by ``1/n`` (``scale='n'``) or ``1/sqrt(n)`` ('sqrtn')."""
  n = _static_int(n, "n")
  if n < 0:
    raise ValueError(f"n must be non-negative; got {n}.")
  if scale not in (None, "n", "sqrtn"):
    raise ValueError(f"scale must be None, 'n', or 'sqrtn'; got {scale!r}.")
  dt = np.dtype(dtype) if dtype is not None else \
      dtypes.canonicalize_dtype(np.complex128)
  if not np.issubdtype(dt, np.complexfloating):
    raise ValueError(f"dtype must be a complex dtype; got {dt}.")
  jk = np.outer(np.arange(n), np.arange(n)) % max(n, 1)
  m = np.exp(-2j * np.pi * jk / max(n, 1))
  if scale == "n":
    m = m / n
  elif scale == "sqrtn":
    m = m / math.sqrt(n)
  return jnp.asarray(m.astype(dt))


def _default_float():
  return dtypes.canonicalize_dtype(np.float64)


def invhilbert(n: int):
  """The exact inverse of the ``n x n`` Hilbert matrix (integer entries),
  in the default float dtype."""
  n = _static_int(n, "n")
  out = np.zeros((n, n), dtype=object)
  for i in range(n):
    for j in range(n):
      s = i + j
      out[i, j] = ((-1) ** s * (s + 1) * math.comb(n + i, n - j - 1) * math.comb(n + j, n - i - 1)
                   * math.comb(s, i) ** 2)
  return jnp.asarray(out.astype(np.float64).astype(_default_float()))


def _pascal_lower(n):
  return np.array([[math.comb(i, j) for j in range(n)] for i in range(n)], dtype=object) \
      .reshape(n, n)


def _check_kind(kind):
  kind = "symmetric" if kind is None else kind
  if kind not in ("symmetric", "lower", "upper"):
    raise ValueError(f"Expected kind to be one of: ('symmetric', 'lower', 'upper'); got {kind}")
  return kind


def pascal(n: int, kind: str | None = None):
  """The ``n x n`` Pascal matrix: binomial coefficients, ``kind``
  'symmetric' (default), 'lower' or 'upper'; default float dtype."""
  n = _static_int(n, "n")
  kind = _check_kind(kind)
  low = _pascal_lower(n)
  out = low if kind == "lower" else low.T if kind == "upper" else low.dot(low.T)
  return jnp.asarray(np.asarray(out, dtype=np.float64).reshape(n, n)
                     .astype(_default_float()))


def invpascal(n: int, kind: str | None = None):
  """The exact inverse of :func:`pascal` (integer entries), default float
  dtype."""
  n = _static_int(n, "n")
  kind = _check_kind(kind)
  inv_low = np.array([[(-1) ** (i - j) * math.comb(i, j) for j in range(n)] for i in range(n)],
                     dtype=object).reshape(n, n)
  out = inv_low if kind == "lower" else inv_low.T if kind == "upper" \
      else inv_low.T.dot(inv_low)
  return jnp.asarray(np.asarray(out, dtype=np.float64).reshape(n, n)
                     .astype(_default_float()))


__all__ = ["circulant", "companion", "convolution_matrix", "dft", "fiedler", "fiedler_companion",
           "hankel", "invhilbert", "invpascal", "leslie", "pascal"]
