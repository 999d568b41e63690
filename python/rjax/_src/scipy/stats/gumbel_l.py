"""``jax.scipy.stats.gumbel_l``: the left-skewed Gumbel distribution."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import xlog1py, xlogy
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def _z(x, loc, scale):
  return lax.div(lax.sub(x, loc), scale)


def logpdf(x, loc=0, scale=1):
  """-log(scale) + z - exp(z)."""
  x, loc, scale = promote_args_inexact("gumbel_l.logpdf", x, loc, scale)
  z = _z(x, loc, scale)
  out = lax.add(xlogy(-1, scale), lax.sub(z, lax.exp(z)))
  return jnp.where(scale > const(scale, 0), out, np.nan)


def pdf(x, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
  """log(1 - exp(-exp(z)))."""
  x, loc, scale = promote_args_inexact("gumbel_l.logcdf", x, loc, scale)
  out = lax.log(-lax.expm1(lax.neg(lax.exp(_z(x, loc, scale)))))
  return jnp.where(scale > const(scale, 0), out, np.nan)


def cdf(x, loc=0, scale=1):
  """P[X <= x]."""
  return lax.exp(logcdf(x, loc, scale))


def ppf(p, loc=0, scale=1):
  """loc + scale log(-log(1 - p)) for 0 < p < 1."""
  p, loc, scale = promote_args_inexact("gumbel_l.ppf", p, loc, scale)
  ok = (p > const(p, 0)) & (p < const(p, 1))
  quantile = lax.add(loc, lax.mul(scale, lax.log(xlog1py(-1, lax.neg(p)))))
  return jnp.where(ok, quantile, np.nan)


def sf(x, loc=0, scale=1):
  """P[X > x] = exp(-exp(z))."""
  return jnp.exp(logsf(x, loc, scale))


def logsf(x, loc=0, scale=1):
  """-exp(z)."""
  x, loc, scale = promote_args_inexact("gumbel_l.logsf", x, loc, scale)
  out = lax.neg(lax.exp(_z(x, loc, scale)))
  return jnp.where(scale > const(scale, 0), out, np.nan)
