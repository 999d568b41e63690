"""``jax.scipy.stats.nbinom``: the negative binomial distribution."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import gammaln, xlogy
from rjax._src.scipy.stats._util import const

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
  """log P[X = k]: k failures before the n-th success."""
  k, n, p, loc = promote_args_inexact("nbinom.logpmf", k, n, p, loc)
  one = const(k, 1)
  y = lax.sub(k, loc)
  comb_term = lax.sub(lax.sub(gammaln(lax.add(y, n)), gammaln(n)), gammaln(lax.add(y, one)))
  log_linear = lax.add(xlogy(n, p), xlogy(y, lax.sub(one, p)))
  return jnp.where(lax.lt(k, loc), -np.inf, lax.add(comb_term, log_linear))


def pmf(k, n, p, loc=0):
  """P[X = k]."""
  return lax.exp(logpmf(k, n, p, loc))
