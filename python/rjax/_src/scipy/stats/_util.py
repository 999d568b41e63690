"""Shared helpers of the distributions (``jax.scipy.stats``)."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.interpreters.custom_derivatives import custom_jvp


def const(x, value):
  """``value`` as a scalar of ``x``'s dtype (lax is strict about dtypes)."""
  return np.array(value, lax.dtype(x))


def _log1mexp_impl(x):
  c = np.log(2.0)
  return jnp.where(x < c, jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))


log1mexp = custom_jvp(_log1mexp_impl)
log1mexp.defjvps(lambda g, ans, x: g / jnp.expm1(x))
log1mexp.__doc__ = "log(1 - exp(-x)), stably (``jax.nn.log1mexp``, with its JVP)."
