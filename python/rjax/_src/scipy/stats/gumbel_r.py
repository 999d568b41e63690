"""``jax.scipy.stats.gumbel_r``: the right-skewed Gumbel distribution."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import xlogy
from rjax._src.scipy.stats._util import const, log1mexp

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x, loc=0, scale=1):
  """-log(scale) - (z + exp(-z))."""
  x, loc, scale = promote_args_inexact("gumbel_r.logpdf", x, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  out = lax.add(xlogy(-1, scale), lax.neg(lax.add(z, lax.exp(lax.neg(z)))))
  return jnp.where(scale > const(scale, 0), out, np.nan)


def pdf(x, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
  """-exp(-z)."""
  x, loc, scale = promote_args_inexact("gumbel_r.logcdf", x, loc, scale)
  z = lax.div(lax.sub(x, loc), scale)
  return jnp.where(scale > const(scale, 0), lax.neg(lax.exp(lax.neg(z))), np.nan)


def cdf(x, loc=0, scale=1):
  """P[X <= x]."""
  return lax.exp(logcdf(x, loc, scale))


def ppf(p, loc=0, scale=1):
  """loc - scale log(-log p) for 0 < p < 1."""
  p, loc, scale = promote_args_inexact("gumbel_r.ppf", p, loc, scale)
  ok = (p > const(p, 0)) & (p < const(p, 1))
  quantile = lax.sub(loc, lax.mul(scale, lax.log(xlogy(-1, p))))
  return jnp.where(ok, quantile, np.nan)


def sf(x, loc=0, scale=1):
  """1 - exp(-exp(-z))."""
  x, loc, scale = promote_args_inexact("gumbel_r.sf", x, loc, scale)
  neg_z = lax.div(lax.sub(loc, x), scale)
  out = lax.sub(const(x, 1), lax.exp(lax.neg(lax.exp(neg_z))))
  return jnp.where(scale > const(scale, 0), out, np.nan)


def logsf(x, loc=0, scale=1):
  """log(1 - exp(-exp(-z)))."""
  x, loc, scale = promote_args_inexact("gumbel_r.logsf", x, loc, scale)
  neg_z = lax.div(lax.sub(loc, x), scale)
  return jnp.where(scale > const(scale, 0), log1mexp(lax.exp(neg_z)), np.nan)
