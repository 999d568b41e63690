"""``jax.scipy.cluster.vq``: vector quantization."""
from __future__ import annotations

import operator

from rjax._src import numpy as jnp
from rjax._src.numpy.util import check_arraylike, promote_dtypes_inexact
from rjax._src.transforms.api import vmap

__all__ = ["vq"]


def vq(obs, code_book, check_finite: bool = True):
  """The index of the nearest code (Euclidean distance) for each observation,
  and that distance. ``obs``: (M,) or (M, N); ``code_book``: (K,) or (K, N)."""
  del check_finite  # rjax never checks (as JAX)
  check_arraylike("scipy.cluster.vq.vq", obs, code_book)
  obs_arr, cb_arr = promote_dtypes_inexact(obs, code_book)
  if obs_arr.ndim != cb_arr.ndim:
    raise ValueError("Observation and code_book should have the same rank")
  if obs_arr.ndim == 1:
    obs_arr, cb_arr = obs_arr[..., None], cb_arr[..., None]
  if obs_arr.ndim != 2:
    raise ValueError("ndim different than 1 or 2 are not supported")
  dist = vmap(lambda ob: jnp.linalg.norm(ob[None] - cb_arr, axis=-1))(obs_arr)
  code = jnp.argmin(dist, axis=-1)
  return code, vmap(operator.getitem)(dist, code)
