"""``jax.scipy.stats.laplace``."""
from __future__ import annotations

from rjax._src import lax
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "logpdf", "pdf"]


def logpdf(x, loc=0, scale=1):
  """-|x - loc| / scale - log(2 scale)."""
  x, loc, scale = promote_args_inexact("laplace.logpdf", x, loc, scale)
  linear = lax.div(lax.abs(lax.sub(x, loc)), scale)
  return lax.neg(lax.add(linear, lax.log(lax.mul(const(x, 2), scale))))


def pdf(x, loc=0, scale=1):
  """The density."""
  return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
  """exp(z)/2 below loc, 1 - exp(-z)/2 above."""
  x, loc, scale = promote_args_inexact("laplace.cdf", x, loc, scale)
  half = const(x, 0.5)
  z = lax.div(lax.sub(x, loc), scale)
  return lax.select(lax.le(z, const(x, 0)), lax.mul(half, lax.exp(z)),
                    lax.sub(const(x, 1), lax.mul(half, lax.exp(lax.neg(z)))))
