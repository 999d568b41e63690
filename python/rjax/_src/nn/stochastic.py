"""Dropout (Flax linen's: a 'dropout' RNG stream, ``deterministic`` as an
attribute or call argument, inverted scaling by 1 / keep_prob)."""
from __future__ import annotations

from typing import Sequence

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src import random
from rjax._src.nn.module import Module, compact, merge_param

__all__ = ["Dropout"]


class Dropout(Module):
  """Zeroes each element with probability ``rate`` and scales the rest by
  1 / (1 - rate); ``broadcast_dims`` share one mask along those axes."""
  rate: float
  broadcast_dims: Sequence[int] = ()
  deterministic: bool | None = None
  rng_collection: str = "dropout"

  @compact
  def __call__(self, inputs, deterministic: bool | None = None, rng=None):
    if not 0.0 <= self.rate <= 1.0:
      raise ValueError(f"Dropout: rate must be in [0, 1], got {self.rate}")
    deterministic = merge_param("deterministic", self.deterministic, deterministic)
    inputs = jnp.asarray(inputs)
    if self.rate == 0.0 or deterministic:
      return inputs
    if self.rate == 1.0:
      return jnp.zeros_like(inputs)
    keep_prob = 1.0 - self.rate
    if rng is None:
      rng = self.make_rng(self.rng_collection)
    broadcast_shape = list(inputs.shape)
    for dim in self.broadcast_dims:
      broadcast_shape[dim] = 1
    mask = random.bernoulli(rng, p=keep_prob, shape=tuple(broadcast_shape))
    mask = jnp.broadcast_to(mask, inputs.shape)
    return lax.select(mask, inputs / jnp.asarray(keep_prob, inputs.dtype), jnp.zeros_like(inputs))
