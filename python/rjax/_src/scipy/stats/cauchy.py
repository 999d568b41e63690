"""``jax.scipy.stats.cauchy``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
  """log density of the Cauchy distribution."""
  x, loc, scale = promote_args_inexact("cauchy.logpdf", x, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  normalize = lax.log(lax.mul(const(x, np.pi), scale))
  return lax.neg(lax.add(normalize, lax.log1p(lax.mul(z, z))))


def pdf(x, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
  """1/2 + atan(z) / pi."""
  x, loc, scale = promote_args_inexact("cauchy.cdf", x, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  return lax.add(const(x, 0.5), lax.mul(lax.div(const(x, 1.), const(x, np.pi)), jnp.arctan(z)))


def logcdf(x, loc=0, scale=1):
  """log cdf."""
  return lax.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
  """cdf of the reflected argument."""
  x, loc, scale = promote_args_inexact("cauchy.sf", x, loc, scale)
  return cdf(-x, -loc, scale)


def logsf(x, loc=0, scale=1):
  """log sf."""
  x, loc, scale = promote_args_inexact("cauchy.logsf", x, loc, scale)
  return logcdf(-x, -loc, scale)


def isf(q, loc=0, scale=1):
  """The inverse of sf."""
  q, loc, scale = promote_args_inexact("cauchy.isf", q, loc, scale)
  unscaled = lax.tan(lax.sub(const(q, np.pi / 2), lax.mul(const(q, np.pi), q)))
  return lax.add(lax.mul(unscaled, scale), loc)


def ppf(q, loc=0, scale=1):
  """The inverse of cdf."""
  q, loc, scale = promote_args_inexact("cauchy.ppf", q, loc, scale)
  unscaled = lax.tan(lax.sub(lax.mul(const(q, np.pi), q), const(q, np.pi / 2)))
  return lax.add(lax.mul(unscaled, scale), loc)
