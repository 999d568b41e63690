"""``jax.scipy.stats.bernoulli``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import xlog1py, xlogy
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "logpmf", "pmf", "ppf"]


def logpmf(k, p, loc=0):
  """log P[X = k] for X - loc ~ Bernoulli(p)."""
  k, p, loc = promote_args_inexact("bernoulli.logpmf", k, p, loc)
  x = lax.sub(k, loc)
  log_probs = xlogy(x, p) + xlog1py(lax.sub(const(k, 1), x), -p)
  return jnp.where((x < 0) | (x > 1), -np.inf, log_probs)


def pmf(k, p, loc=0):
  """P[X = k]."""
  return jnp.exp(logpmf(k, p, loc))


def cdf(k, p):
  """P[X <= k]."""
  k, p = promote_args_inexact("bernoulli.cdf", k, p)
  zero, one = const(k, 0), const(k, 1)
  conds = [jnp.isnan(k) | jnp.isnan(p) | (p < zero) | (p > one), k < zero,
           (k >= zero) & (k < one), k >= one]
  return jnp.select(conds, [jnp.nan, zero, one - p, one])


def ppf(q, p):
  """The smallest k with cdf(k) >= q."""
  q, p = promote_args_inexact("bernoulli.ppf", q, p)
  zero, one = const(q, 0), const(q, 1)
  bad = jnp.isnan(q) | jnp.isnan(p) | (p < zero) | (p > one) | (q < zero) | (q > one)
  return jnp.where(bad, jnp.nan, jnp.where(q <= one - p, zero, one))
