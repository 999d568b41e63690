"""``jax.scipy.stats.vonmises``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_args_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x, kappa):
  """kappa (cos x - 1) - log(2 pi i0e(kappa)) for kappa > 0."""
  x, kappa = promote_args_inexact("vonmises.logpdf", x, kappa)
  out = kappa * (jnp.cos(x) - 1) - jnp.log(2 * np.pi * lax.bessel_i0e(kappa))
  return jnp.where(kappa > 0, out, np.nan)


def pdf(x, kappa):
  """The density."""
  return lax.exp(logpdf(x, kappa))
