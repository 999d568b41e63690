"""``jax.scipy.stats.truncnorm``: the normal distribution truncated to
[a, b] (in standard units), with SciPy's tail handling of the mass."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import log_ndtr, logsumexp, ndtr
from rjax._src.scipy.stats import norm

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _log_diff(x, y):
  return logsumexp(jnp.array([x, y]), b=jnp.array([jnp.ones_like(x), -jnp.ones_like(y)]),
                   axis=0)


def _log_gauss_mass(a, b):
  """log(ndtr(b) - ndtr(a)), computed in the left tail (by symmetry) or as
  log1p of the two tails in the middle."""
  a, b = jnp.broadcast_arrays(jnp.asarray(a), jnp.asarray(b))
  left, right = b <= 0, a > 0
  central = ~(left | right)
  a_tail = jnp.where(right, -b, a)
  b_tail = jnp.where(right, -a, b)
  mass_tail = _log_diff(log_ndtr(b_tail), log_ndtr(a_tail))
  mass_central = jnp.log1p(-ndtr(a) - ndtr(-b))
  return jnp.where(central, mass_central, mass_tail)


def logpdf(x, a, b, loc=0, scale=1):
  """log density (-inf outside [a, b], NaN for a >= b)."""
  x, a, b, loc, scale = promote_args_inexact("truncnorm.logpdf", x, a, b, loc, scale)
  val = lax.sub(norm.logpdf(x, loc, scale), _log_gauss_mass(a, b))
  z = lax.div(lax.sub(x, loc), scale)
  val = jnp.where((z < a) | (z > b), -np.inf, val)
  return jnp.where(a >= b, np.nan, val)


def pdf(x, a, b, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
  """log P[X > x] (logcdf of the reflected distribution)."""
  x, a, b, loc, scale = promote_args_inexact("truncnorm.logsf", x, a, b, loc, scale)
  return logcdf(-x, -b, -a, -loc, scale)


def sf(x, a, b, loc=0, scale=1):
  """P[X > x]."""
  return lax.exp(logsf(x, a, b, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
  """log P[X <= x]."""
  x, a, b, loc, scale = promote_args_inexact("truncnorm.logcdf", x, a, b, loc, scale)
  x, a, b = jnp.broadcast_arrays(x, a, b)
  x = lax.div(lax.sub(x, loc), scale)
  lgm_ab = _log_gauss_mass(a, b)
  log_cdf = _log_gauss_mass(a, x) - lgm_ab
  log_sf = _log_gauss_mass(x, b) - lgm_ab
  log_cdf = jnp.select([x >= b, x <= a, log_cdf > -0.1, x > a],
                       [0, -np.inf, jnp.log1p(-jnp.exp(log_sf)), log_cdf])
  return jnp.where(a >= b, np.nan, log_cdf)


def cdf(x, a, b, loc=0, scale=1):
  """P[X <= x]."""
  return lax.exp(logcdf(x, a, b, loc, scale))
