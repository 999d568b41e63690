"""``jax.scipy.integrate``: the trapezoidal rule (``jnp.trapezoid``, jitted)."""
from __future__ import annotations

import functools

from rjax._src.numpy.array_ops import trapezoid as _trapezoid
from rjax._src.transforms.jit import jit

__all__ = ["trapezoid"]


@functools.partial(jit, static_argnames=("axis",))
def trapezoid(y, x=None, dx=1.0, axis: int = -1):
  """The integral of ``y`` along ``axis`` by the trapezoidal rule, at sample
  points ``x`` or with spacing ``dx``."""
  return _trapezoid(y, x, dx, axis)
