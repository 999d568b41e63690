"""``jax.scipy.stats.geom``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special import xlog1py
from rjax._src.scipy.stats._util import const

__all__ = ["logpmf", "pmf"]


def logpmf(k, p, loc=0):
  """log P[X = k] = (k - 1) log(1 - p) + log p for k >= 1."""
  k, p, loc = promote_args_inexact("geom.logpmf", k, p, loc)
  x = lax.sub(k, loc)
  log_probs = xlog1py(lax.sub(x, const(k, 1)), -p) + lax.log(p)
  return jnp.where(lax.le(x, const(k, 0)), -np.inf, log_probs)


def pmf(k, p, loc=0):
  """P[X = k]."""
  return jnp.exp(logpmf(k, p, loc))
