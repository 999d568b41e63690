"""``jax.scipy.stats.binom``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import gammaln, xlog1py, xlogy
from rjax._src.scipy.stats._util import const

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
  """log P[X = k] for X - loc ~ Binomial(n, p)."""
  k, n, p, loc = promote_args_inexact("binom.logpmf", k, n, p, loc)
  y = lax.sub(k, loc)
  zero = const(y, 0)
  comb_term = lax.sub(gammaln(n + 1), lax.add(gammaln(y + 1), gammaln(n - y + 1)))
  log_linear = lax.add(xlogy(y, p), xlog1py(lax.sub(n, y), lax.neg(p)))
  log_probs = lax.add(comb_term, log_linear)
  log_probs = jnp.where(((y == zero) & (n == zero)) | (log_linear == zero), 0., log_probs)
  return jnp.where((k >= loc) & (k < loc + n + 1), log_probs, -np.inf)


def pmf(k, n, p, loc=0):
  """P[X = k]."""
  return lax.exp(logpmf(k, n, p, loc))
