"""``jax.scipy.stats.wrapcauchy``: the wrapped Cauchy distribution."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x, c):
  """log((1 - c**2) / (2 pi (1 + c**2 - 2 c cos x))) on [0, 2 pi], 0 < c < 1."""
  x, c = promote_args_inexact("wrapcauchy.logpdf", x, c)
  inside = (x >= 0) & (x <= np.pi * 2)
  val = jnp.log(1 - c * c) - jnp.log(2 * np.pi) - jnp.log(1 + c * c - 2 * c * jnp.cos(x))
  return jnp.where((c > 0) & (c < 1), jnp.where(inside, val, -np.inf), np.nan)


def pdf(x, c):
  """The density."""
  return lax.exp(logpdf(x, c))
