"""``jax.scipy.stats.dirichlet``."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.numpy.util import promote_dtypes_inexact
from rjax._src.scipy.special import gammaln, xlogy
from rjax._src.scipy.stats._util import const

__all__ = ["logpdf", "pdf"]


def _is_simplex(x):
  return jnp.all(x > 0, axis=0) & (abs(jnp.sum(x, axis=0) - 1) < 1E-6)


def logpdf(x, alpha):
  """log density of Dirichlet(alpha) at ``x`` (the simplex along axis 0; the
  last coordinate may be left out)."""
  x, alpha = promote_dtypes_inexact(x, alpha)
  if alpha.ndim != 1:
    raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
  if x.ndim == 0 or x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
    raise ValueError("`x` must have either the same number of entries as `alpha` or one entry "
                     f"fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}")
  one = const(x, 1)
  if x.shape[0] != alpha.shape[0]:
    x = jnp.concatenate([x, lax.sub(one, x.sum(0, keepdims=True))], axis=0)
  normalize = jnp.sum(gammaln(alpha)) - gammaln(jnp.sum(alpha))
  if x.ndim > 1:
    alpha = lax.broadcast_in_dim(alpha, alpha.shape + (1,) * (x.ndim - 1), (0,))
  log_probs = lax.sub(jnp.sum(xlogy(lax.sub(alpha, one), x), axis=0), normalize)
  return jnp.where(_is_simplex(x), log_probs, -np.inf)


def pdf(x, alpha):
  """The density."""
  return lax.exp(logpdf(x, alpha))
