"""``jax.scipy.stats.uniform``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact

__all__ = ["cdf", "logpdf", "pdf", "ppf"]


def logpdf(x, loc=0, scale=1):
  """-log(scale) on [loc, loc + scale], -inf outside."""
  x, loc, scale = promote_args_inexact("uniform.logpdf", x, loc, scale)
  return jnp.where((x > loc + scale) | (x < loc), -np.inf, lax.neg(lax.log(scale)))


def pdf(x, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
  """(x - loc) / scale, clipped to [0, 1] (NaN propagates)."""
  x, loc, scale = promote_args_inexact("uniform.cdf", x, loc, scale)
  zero, one = jnp.array(0, x.dtype), jnp.array(1, x.dtype)
  conds = [x < loc, x > loc + scale, (x >= loc) & (x <= loc + scale)]
  return jnp.select(conds, [zero, one, lax.div(lax.sub(x, loc), scale)])


def ppf(q, loc=0, scale=1):
  """loc + scale q (NaN outside [0, 1])."""
  q, loc, scale = promote_args_inexact("uniform.ppf", q, loc, scale)
  return jnp.where(jnp.isnan(q) | (q < 0) | (q > 1), np.nan, lax.add(loc, lax.mul(scale, q)))
