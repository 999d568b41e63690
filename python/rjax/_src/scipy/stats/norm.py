"""``jax.scipy.stats.norm``: the normal distribution's log/pdf, cdf, sf,
their logarithms and inverses, with ``loc``/``scale`` broadcasting and JAX's
dtype promotion (integers promote to the default float)."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy import special

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def _const(x, value):
  return np.array(value, lax.dtype(x))


def logpdf(x, loc=0, scale=1):
  """log N(x; loc, scale**2)."""
  x, loc, scale = promote_args_inexact("norm.logpdf", x, loc, scale)
  scale_sqrd = lax.square(scale)
  log_normalizer = lax.log(lax.mul(_const(x, 2 * np.pi), scale_sqrd))
  quadratic = lax.div(lax.square(lax.sub(x, loc)), scale_sqrd)
  return lax.div(lax.add(log_normalizer, quadratic), _const(x, -2))


def pdf(x, loc=0, scale=1):
  """N(x; loc, scale**2)."""
  return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
  """P[X <= x]."""
  x, loc, scale = promote_args_inexact("norm.cdf", x, loc, scale)
  return special.ndtr(lax.div(lax.sub(x, loc), scale))


def logcdf(x, loc=0, scale=1):
  """log P[X <= x]."""
  x, loc, scale = promote_args_inexact("norm.logcdf", x, loc, scale)
  return special.log_ndtr(lax.div(lax.sub(x, loc), scale))


def ppf(q, loc=0, scale=1):
  """The inverse of cdf (the result has the default float dtype, as in JAX)."""
  return jnp.asarray(special.ndtri(q) * scale + loc, float)


def logsf(x, loc=0, scale=1):
  """log P[X > x]."""
  x, loc, scale = promote_args_inexact("norm.logsf", x, loc, scale)
  return logcdf(-x, -loc, scale)


def sf(x, loc=0, scale=1):
  """P[X > x]."""
  x, loc, scale = promote_args_inexact("norm.sf", x, loc, scale)
  return cdf(-x, -loc, scale)


def isf(q, loc=0, scale=1):
  """The inverse of sf."""
  return ppf(lax.sub(_const(q, 1), q), loc, scale)
