"""Initializers: ``jax.nn.initializers`` (plus Flax's ``zeros_init``/``ones_init``).

An initializer is ``init(key, shape, dtype=...) -> Array``. The random ones
draw with rjax.random, which gives JAX's numbers bit for bit, and then apply
JAX's formulas, so they return JAX's values for the same key.
"""
from __future__ import annotations

import math
import operator
from typing import Protocol, Sequence

import numpy as np

from rjax._src import numpy as jnp
from rjax._src import random
from rjax._src.base import dtypes

__all__ = ["zeros", "ones", "constant", "uniform", "normal", "truncated_normal",
           "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform",
           "xavier_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "zeros_init", "ones_init",
           "delta_orthogonal", "Initializer"]


class Initializer(Protocol):
  """What the initializers of this module return: ``init(key, shape,
  dtype=None) -> Array``."""

  def __call__(self, key, shape, dtype=None):
    raise NotImplementedError


def _shape(name: str, shape) -> tuple:
  try:
    shape = (operator.index(shape),) if np.ndim(shape) == 0 and not isinstance(shape, tuple) \
        else tuple(operator.index(d) for d in shape)
  except TypeError:
    raise TypeError(f"{name}: shape must be a tuple of ints, got {shape!r}") from None
  if any(d < 0 for d in shape):
    raise ValueError(f"{name}: shape {shape} has a negative dimension")
  return shape


def _dtype(dtype):
  return dtypes.default_float_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)


def zeros(key, shape, dtype=None):
  """An array of zeros (``key`` is unused)."""
  return jnp.zeros(_shape("zeros", shape), _dtype(dtype))


def ones(key, shape, dtype=None):
  """An array of ones (``key`` is unused)."""
  return jnp.ones(_shape("ones", shape), _dtype(dtype))


def zeros_init():
  """Flax's ``nn.initializers.zeros_init()``: returns ``zeros``."""
  return zeros


def ones_init():
  """Flax's ``nn.initializers.ones_init()``: returns ``ones``."""
  return ones


def constant(value, dtype=None):
  def init(key, shape, dtype=dtype):
    return jnp.full(_shape("constant", shape), value, dtype=_dtype(dtype))
  return init


def uniform(scale=1e-2, dtype=None):
  """U[0, scale)."""
  def init(key, shape, dtype=dtype):
    dt = _dtype(dtype)
    return random.uniform(key, _shape("uniform", shape), dt) * jnp.asarray(scale, dt)
  return init


def normal(stddev=1e-2, dtype=None):
  """N(0, stddev^2)."""
  def init(key, shape, dtype=dtype):
    dt = _dtype(dtype)
    return random.normal(key, _shape("normal", shape), dt) * jnp.asarray(stddev, dt)
  return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
  """stddev * (a standard normal truncated to [lower, upper])."""
  def init(key, shape, dtype=dtype):
    dt = _dtype(dtype)
    return random.truncated_normal(key, lower, upper, _shape("truncated_normal", shape),
                                   dt) * jnp.asarray(stddev, dt)
  return init


def _compute_fans(shape: Sequence[int], in_axis=-2, out_axis=-1, batch_axis=()):
  """(fan_in, fan_out): axes not named in/out/batch are the receptive field."""
  if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
    raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                     f"weights tensor with default in_axis. Must be at least 2D or specify "
                     f"in_axis explicitly.")

  def size(axes):
    return shape[axes] if isinstance(axes, int) else math.prod(shape[i] for i in axes)
  in_size, out_size, batch_size = size(in_axis), size(out_axis), size(batch_axis)
  receptive_field_size = math.prod(shape) / in_size / out_size / batch_size
  return in_size * receptive_field_size, out_size * receptive_field_size


def variance_scaling(scale, mode: str, distribution: str, in_axis=-2, out_axis=-1,
                     batch_axis=(), dtype=None):
  """Samples with variance ``scale / n``, ``n`` the fan given by ``mode``
  ('fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'), from ``distribution``
  ('truncated_normal', 'normal', 'uniform')."""
  if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
    raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
  if distribution not in ("truncated_normal", "normal", "uniform"):
    raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")

  def init(key, shape, dtype=dtype):
    shape = _shape("variance_scaling", shape)
    dt = _dtype(dtype)
    fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
    denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                   "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
    variance = jnp.asarray(scale / denominator, dtype=dt)
    if distribution == "truncated_normal":
      # .8796... is the stddev of a standard normal truncated to (-2, 2)
      stddev = jnp.sqrt(variance) / jnp.asarray(.87962566103423978, dt)
      return random.truncated_normal(key, -2, 2, shape, dt) * stddev
    if distribution == "normal":
      return random.normal(key, shape, dt) * jnp.sqrt(variance)
    return random.uniform(key, shape, dt, -1) * jnp.sqrt(3 * variance)
  return init


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
  return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
  return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis,
                          dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
  return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
  return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis,
                          dtype)


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
  return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
  return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis,
                          dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def orthogonal(scale=1.0, column_axis: int = -1, dtype=None):
  """Matrices with orthonormal columns (or rows, whichever are fewer) along
  ``column_axis``, times ``scale``."""
  def init(key, shape, dtype=dtype):
    shape = _shape("orthogonal", shape)
    dt = _dtype(dtype)
    if len(shape) < 2:
      raise ValueError("orthogonal initializer requires at least a 2D shape")
    if any(d == 0 for d in shape):
      return jnp.zeros(shape, dt)
    n_rows, n_cols = math.prod(shape) // shape[column_axis], shape[column_axis]
    q = random.orthogonal(key, n_rows, (), dt, n_cols)
    q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (shape[column_axis],))
    q = jnp.moveaxis(q, -1, column_axis)
    return jnp.asarray(scale, dt) * q
  return init


def delta_orthogonal(scale=1.0, column_axis: int = -1, dtype=None):
  """For 3-D, 4-D or 5-D conv kernels: zeros except an orthogonal matrix
  (of the last two axes) at the spatial centre (Xiao et al., 2018)."""
  def init(key, shape, dtype=dtype):
    shape = _shape("delta_orthogonal", shape)
    dt = _dtype(dtype)
    if len(shape) not in (3, 4, 5):
      raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
    if shape[-1] < shape[-2]:
      raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
    ortho = orthogonal(scale=scale, column_axis=column_axis, dtype=dt)(key, shape[-2:])
    centre = tuple((k - 1) // 2 for k in shape[:-2])
    return jnp.zeros(shape, dtype=dt).at[centre].set(ortho)
  return init
