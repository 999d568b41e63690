"""``jax.scipy.stats.chi2``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special_gamma import gammainc, gammaincc
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, df, loc=0, scale=1):
  """log density of the chi-squared distribution with ``df`` degrees of freedom."""
  x, df, loc, scale = promote_args_inexact("chi2.logpdf", x, df, loc, scale)
  one, two = const(x, 1), const(x, 2)
  y = lax.div(lax.sub(x, loc), scale)
  half_df = lax.div(df, two)
  kernel = lax.sub(lax.mul(lax.sub(half_df, one), lax.log(y)), lax.div(y, two))
  normalizer = lax.neg(lax.add(lax.lgamma(half_df), lax.div(lax.mul(lax.log(two), df), two)))
  log_probs = lax.add(lax.sub(normalizer, lax.log(scale)), kernel)
  return jnp.where(lax.lt(x, loc), -np.inf, log_probs)


def pdf(x, df, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, df, loc, scale))


def _half(x, loc, scale):
  two = const(scale, 2)
  return lax.clamp(const(x, 0), lax.div(lax.sub(x, loc), lax.mul(scale, two)), const(x, np.inf))


def cdf(x, df, loc=0, scale=1):
  """P[X <= x] = P(df/2, x/2)."""
  x, df, loc, scale = promote_args_inexact("chi2.cdf", x, df, loc, scale)
  return gammainc(lax.div(df, const(scale, 2)), _half(x, loc, scale))


def logcdf(x, df, loc=0, scale=1):
  """log cdf."""
  return lax.log(cdf(x, df, loc, scale))


def sf(x, df, loc=0, scale=1):
  """P[X > x] = Q(df/2, x/2)."""
  x, df, loc, scale = promote_args_inexact("chi2.sf", x, df, loc, scale)
  return gammaincc(lax.div(df, const(scale, 2)), _half(x, loc, scale))


def logsf(x, df, loc=0, scale=1):
  """log sf."""
  return lax.log(sf(x, df, loc, scale))
