"""``jax.scipy.stats.betabinom``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import betaln
from rjax._src.scipy.stats._util import const

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, a, b, loc=0):
  """log P[X = k] for the beta-binomial distribution (k is floored)."""
  k, n, a, b, loc = promote_args_inexact("betabinom.logpmf", k, n, a, b, loc)
  y = lax.sub(lax.floor(k), loc)
  one, zero = const(y, 1), const(y, 0)
  combiln = lax.neg(lax.add(lax.log1p(n), betaln(lax.add(lax.sub(n, y), one), lax.add(y, one))))
  beta_lns = lax.sub(betaln(lax.add(y, a), lax.add(lax.sub(n, y), b)), betaln(a, b))
  log_probs = lax.add(combiln, beta_lns)
  log_probs = jnp.where((y == zero) & (n == zero), 0., log_probs)
  log_probs = jnp.where((y < -loc) | (y > n) | (y + a <= zero), -np.inf, log_probs)
  return jnp.where((n < zero) | (a <= zero) | (b <= zero), np.nan, log_probs)


def pmf(k, n, a, b, loc=0):
  """P[X = k]."""
  return lax.exp(logpmf(k, n, a, b, loc))
