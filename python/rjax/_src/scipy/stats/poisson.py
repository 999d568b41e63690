"""``jax.scipy.stats.poisson``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import check_arraylike, promote_args_inexact, promote_dtypes_inexact
from rjax._src.scipy.special import entr, gammaln, xlogy
from rjax._src.scipy.special_gamma import gammaincc
from rjax._src.scipy.stats._util import const

__all__ = ["cdf", "entropy", "logpmf", "pmf"]


def logpmf(k, mu, loc=0):
  """k log mu - log k! - mu for integer k >= loc."""
  k, mu, loc = promote_args_inexact("poisson.logpmf", k, mu, loc)
  x = lax.sub(k, loc)
  log_probs = xlogy(x, mu) - gammaln(x + 1) - mu
  return jnp.where((x < const(k, 0)) | (jnp.round(k) != k), -np.inf, log_probs)


def pmf(k, mu, loc=0):
  """P[X = k]."""
  return jnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
  """Q(floor(k - loc) + 1, mu)."""
  k, mu, loc = promote_args_inexact("poisson.logpmf", k, mu, loc)
  zero = const(k, 0)
  x = lax.sub(k, loc)
  return jnp.where(lax.lt(x, zero), zero, gammaincc(jnp.floor(1 + x), mu))


def _entropy_sum(mu, max_k, upper):
  k = jnp.arange(max_k, dtype=mu.dtype)[:, None]
  probs = pmf(k, mu, 0)
  mask = k < jnp.ceil(upper).astype(k.dtype)[None, :]
  return jnp.sum(entr(jnp.where(mask, probs, 0.0)), axis=0)


def entropy(mu, loc=0):
  """The entropy: a sum over k for mu < 100, the asymptotic series beyond
  (``loc`` does not change it)."""
  check_arraylike("poisson.entropy", mu, loc)
  mu, loc = promote_dtypes_inexact(mu, loc)
  shape = np.broadcast_shapes(mu.shape, loc.shape)
  flat = jnp.ravel(mu)
  large = 0.5 * jnp.log(2 * np.pi * np.e * flat) - 1.0 / (12 * flat)
  out = jnp.where(flat == 0, jnp.zeros_like(flat),
                  jnp.where(flat < 10, _entropy_sum(flat, 35, flat + 20),
                            jnp.where(flat < 100,
                                      _entropy_sum(flat, 250, flat + 10 * jnp.sqrt(flat) + 20),
                                      large)))
  return jnp.broadcast_to(jnp.reshape(out, mu.shape), shape)
