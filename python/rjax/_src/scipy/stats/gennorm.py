"""``jax.scipy.stats.gennorm``: the generalized normal distribution."""
from __future__ import annotations

from rjax._src import lax
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.special_gamma import gammainc

__all__ = ["cdf", "logpdf", "pdf"]


def logpdf(x, beta):
  """log(beta / 2) - lgamma(1 / beta) - |x|**beta."""
  x, beta = promote_args_inexact("gennorm.logpdf", x, beta)
  return lax.log(.5 * beta) - lax.lgamma(1 / beta) - lax.abs(x) ** beta


def cdf(x, beta):
  """(1 + sign(x) P(1/beta, |x|**beta)) / 2."""
  x, beta = promote_args_inexact("gennorm.cdf", x, beta)
  return .5 * (1 + lax.sign(x) * gammainc(1 / beta, lax.abs(x) ** beta))


def pdf(x, beta):
  """The density."""
  return lax.exp(logpdf(x, beta))
