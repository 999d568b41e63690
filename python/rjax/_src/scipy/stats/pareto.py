"""``jax.scipy.stats.pareto``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x, b, loc=0, scale=1):
  """log(b / scale) - (b + 1) log z for z = (x - loc) / scale >= 1."""
  x, b, loc, scale = promote_args_inexact("pareto.logpdf", x, b, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  log_probs = lax.neg(lax.add(lax.log(lax.div(scale, b)),
                              lax.mul(lax.add(b, const(x, 1)), lax.log(z))))
  return jnp.where(lax.lt(x, lax.add(loc, scale)), -np.inf, log_probs)


def pdf(x, b, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, b, loc, scale))


def cdf(x, b, loc=0, scale=1):
  """1 - z**-b."""
  x, b, loc, scale = promote_args_inexact("pareto.cdf", x, b, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  out = lax.sub(const(x, 1), lax.pow(z, lax.neg(b)))
  return jnp.where(lax.lt(x, lax.add(loc, scale)), const(x, 0), out)


def logcdf(x, b, loc=0, scale=1):
  """log1p(-z**-b)."""
  x, b, loc, scale = promote_args_inexact("pareto.logcdf", x, b, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  out = lax.log1p(lax.neg(lax.pow(z, lax.neg(b))))
  return jnp.where(lax.lt(x, lax.add(loc, scale)), -np.inf, out)


def logsf(x, b, loc=0, scale=1):
  """-b log z."""
  x, b, loc, scale = promote_args_inexact("pareto.logsf", x, b, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  return jnp.where(lax.lt(x, lax.add(loc, scale)), const(x, 0), lax.neg(lax.mul(b, lax.log(z))))


def sf(x, b, loc=0, scale=1):
  """P[X > x]."""
  return lax.exp(logsf(x, b, loc, scale))


def ppf(q, b, loc=0, scale=1):
  """loc + scale (1 - q)**(-1/b) (NaN outside [0, 1])."""
  q, b, loc, scale = promote_args_inexact("pareto.ppf", q, b, loc, scale)
  one = const(q, 1)
  out = lax.add(loc, lax.mul(scale, lax.pow(lax.sub(one, q), lax.neg(lax.div(one, b)))))
  return jnp.where(jnp.isnan(q) | (q < 0) | (q > 1), np.nan, out)
