"""``jax.scipy.stats.t``: Student's t distribution."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.stats._util import const

__all__ = ["logpdf", "pdf"]


def logpdf(x, df, loc=0, scale=1):
  """log density of Student's t with ``df`` degrees of freedom."""
  x, df, loc, scale = promote_args_inexact("t.logpdf", x, df, loc, scale)
  two = const(x, 2)
  z = lax.div(lax.sub(x, loc), scale)
  half_df = lax.div(df, two)
  half_df_plus = lax.add(half_df, const(x, 0.5))
  tmp = lax.div(lax.log(lax.mul(lax.mul(lax.mul(scale, scale), const(x, np.pi)), df)), two)
  normalize = lax.sub(lax.add(lax.lgamma(half_df), tmp), lax.lgamma(half_df_plus))
  quadratic = lax.div(lax.mul(z, z), df)
  return lax.neg(lax.add(normalize, lax.mul(half_df_plus, lax.log1p(quadratic))))


def pdf(x, df, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, df, loc, scale))
