"""``jax.scipy.stats.beta``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import betaln, xlog1py, xlogy
from rjax._src.scipy.special_gamma import betainc
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x, a, b, loc=0, scale=1):
  """log density of Beta(a, b) on [loc, loc + scale]."""
  x, a, b, loc, scale = promote_args_inexact("beta.logpdf", x, a, b, loc, scale)
  one = const(x, 1)
  y = lax.div(lax.sub(x, loc), scale)
  log_linear = lax.add(xlogy(lax.sub(a, one), y), xlog1py(lax.sub(b, one), lax.neg(y)))
  log_probs = lax.sub(lax.add(lax.neg(betaln(a, b)), log_linear), lax.log(scale))
  out = jnp.where((x > loc + scale) | (x < loc), -np.inf, log_probs)
  return jnp.where((a <= 0) | (b <= 0) | (scale <= 0), np.nan, out)


def pdf(x, a, b, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, a, b, loc, scale))


def _clamped(x, loc, scale):
  return lax.clamp(const(x, 0), lax.div(lax.sub(x, loc), scale), const(x, 1))


def cdf(x, a, b, loc=0, scale=1):
  """P[X <= x]."""
  x, a, b, loc, scale = promote_args_inexact("beta.cdf", x, a, b, loc, scale)
  return betainc(a, b, _clamped(x, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
  """log P[X <= x]."""
  return lax.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
  """P[X > x]."""
  x, a, b, loc, scale = promote_args_inexact("beta.sf", x, a, b, loc, scale)
  return betainc(b, a, 1 - _clamped(x, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
  """log P[X > x]."""
  return lax.log(sf(x, a, b, loc, scale))
