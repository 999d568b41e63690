"""``jax.scipy.stats.gamma``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import gammaln, xlogy
from rjax._src.scipy.special_gamma import gammainc, gammaincc
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, a, loc=0, scale=1):
  """log density of Gamma(a) shifted by loc and scaled by scale."""
  x, a, loc, scale = promote_args_inexact("gamma.logpdf", x, a, loc, scale)
  ok = lax.ge(x, loc)
  one = const(x, 1)
  y = jnp.where(ok, lax.div(lax.sub(x, loc), scale), one)
  log_linear = lax.sub(xlogy(lax.sub(a, one), y), y)
  log_probs = lax.sub(log_linear, lax.add(gammaln(a), lax.log(scale)))
  return jnp.where(ok, log_probs, -np.inf)


def pdf(x, a, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
  """P(a, (x - loc) / scale)."""
  x, a, loc, scale = promote_args_inexact("gamma.cdf", x, a, loc, scale)
  return gammainc(a, lax.clamp(const(x, 0), lax.div(lax.sub(x, loc), scale), const(x, np.inf)))


def logcdf(x, a, loc=0, scale=1):
  """log cdf."""
  return lax.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
  """Q(a, (x - loc) / scale), 1 below loc."""
  x, a, loc, scale = promote_args_inexact("gamma.sf", x, a, loc, scale)
  y = lax.div(lax.sub(x, loc), scale)
  return jnp.where(lax.lt(y, const(y, 0)), 1, gammaincc(a, y))


def logsf(x, a, loc=0, scale=1):
  """log sf."""
  return lax.log(sf(x, a, loc, scale))
