"""``jax.scipy.stats.multivariate_normal``: the log density through a
Cholesky factor and a triangular solve (JAX's formula)."""
from __future__ import annotations

import functools

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.lax import linalg as lax_linalg
from rjax._src.numpy.functional import vectorize
from rjax._src.numpy.util import promote_dtypes_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x, mean, cov, allow_singular=None):
  """log N(x; mean, cov); ``cov`` may be a scalar (isotropic) or a matrix."""
  if allow_singular is not None:
    raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
  x, mean, cov = promote_dtypes_inexact(x, mean, cov)
  if not mean.shape:
    return -1 / 2 * jnp.square(x - mean) / cov - 1 / 2 * (np.log(2 * np.pi) + jnp.log(cov))
  n = mean.shape[-1]
  if not np.shape(cov):
    y = x - mean
    return (-1 / 2 * jnp.einsum("...i,...i->...", y, y) / cov
            - n / 2 * (np.log(2 * np.pi) + jnp.log(cov)))
  if cov.ndim < 2 or cov.shape[-2:] != (n, n):
    raise ValueError("multivariate_normal.logpdf got incompatible shapes")
  L = lax_linalg.cholesky(cov)
  solve = functools.partial(lax_linalg.triangular_solve, lower=True, transpose_a=True)
  y = vectorize(solve, signature="(n,n),(n)->(n)")(L, x - mean)
  return (-1 / 2 * jnp.einsum("...i,...i->...", y, y) - n / 2 * np.log(2 * np.pi)
          - jnp.log(L.diagonal(axis1=-1, axis2=-2)).sum(-1))


def pdf(x, mean, cov):
  """The density."""
  return lax.exp(logpdf(x, mean, cov))
