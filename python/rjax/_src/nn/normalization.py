"""Normalization layers: LayerNorm, RMSNorm, GroupNorm, BatchNorm (Flax
linen's parameters, defaults and arithmetic: statistics in at least float32,
the "fast" variance E[x^2] - E[x]^2 clipped at 0)."""
from __future__ import annotations

from typing import Any, Callable

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.nn import initializers
from rjax._src.nn.module import Module, compact, merge_param

__all__ = ["LayerNorm", "RMSNorm", "GroupNorm", "BatchNorm"]


def _canonicalize_axes(name: str, ndim: int, axes) -> tuple:
  axes = (axes,) if isinstance(axes, int) else tuple(axes)
  for a in axes:
    if not -ndim <= a < ndim:
      raise ValueError(f"{name}: axis {a} is out of bounds for an input of rank {ndim}")
  return tuple(sorted(set(a % ndim for a in axes)))


def _compute_stats(x, axes, dtype, use_mean: bool = True, use_fast_variance: bool = True,
                   axis_name=None):
  """(mean, var) over ``axes`` in at least float32 (mean is 0 when not use_mean),
  averaged over the devices of ``axis_name`` when given (inside pmap)."""
  if dtype is None:
    dtype = jnp.result_type(x)
  dtype = jnp.promote_types(dtype, jnp.float32)
  x = jnp.asarray(x, dtype)
  mean2 = jnp.mean(jnp.square(x), axes)
  if axis_name is not None:
    mean2 = lax.pmean(mean2, axis_name)
  if use_mean:
    mean = jnp.mean(x, axes)
    if axis_name is not None:
      mean = lax.pmean(mean, axis_name)
    if use_fast_variance or axis_name is not None:
      var = jnp.maximum(0.0, mean2 - jnp.square(mean))
    else:
      var = jnp.mean(jnp.square(x - jnp.mean(x, axes, keepdims=True)), axes)
  else:
    mean, var = jnp.zeros(mean2.shape, dtype), mean2
  return mean, var


def _normalize(mdl: Module, x, mean, var, reduction_axes, feature_axes, dtype, param_dtype,
               epsilon, use_bias, use_scale, bias_init, scale_init):
  """(x - mean) / sqrt(var + eps) * scale + bias, params over ``feature_axes``."""
  stats_shape = list(x.shape)
  for axis in reduction_axes:
    stats_shape[axis] = 1
  mean, var = mean.reshape(stats_shape), var.reshape(stats_shape)
  feature_shape = [1] * x.ndim
  reduced_feature_shape = []
  for ax in feature_axes:
    feature_shape[ax] = x.shape[ax]
    reduced_feature_shape.append(x.shape[ax])
  y = x - mean
  mul = lax.rsqrt(var + epsilon)
  args = [x]
  if use_scale:
    scale = mdl.param("scale", scale_init, tuple(reduced_feature_shape), param_dtype)
    scale = scale.reshape(feature_shape)
    mul = mul * scale
    args.append(scale)
  y = y * mul
  if use_bias:
    bias = mdl.param("bias", bias_init, tuple(reduced_feature_shape), param_dtype)
    bias = bias.reshape(feature_shape)
    y = y + bias
    args.append(bias)
  if dtype is None:
    dtype = jnp.result_type(*args)
    if not dtypes.is_float(dtype):
      dtype = dtypes.to_inexact_dtype(dtype)
  return jnp.asarray(y, dtype)


class LayerNorm(Module):
  """Normalizes over ``reduction_axes`` (default the last), then scales and
  shifts per feature (``feature_axes``)."""
  epsilon: float = 1e-6
  dtype: Any = None
  param_dtype: Any = jnp.float32
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Callable = initializers.zeros
  scale_init: Callable = initializers.ones
  reduction_axes: Any = -1
  feature_axes: Any = -1
  use_fast_variance: bool = True

  @compact
  def __call__(self, x):
    x = jnp.asarray(x)
    reduction_axes = _canonicalize_axes("LayerNorm", x.ndim, self.reduction_axes)
    feature_axes = _canonicalize_axes("LayerNorm", x.ndim, self.feature_axes)
    mean, var = _compute_stats(x, reduction_axes, self.dtype,
                               use_fast_variance=self.use_fast_variance)
    return _normalize(self, x, mean, var, reduction_axes, feature_axes, self.dtype,
                      self.param_dtype, self.epsilon, self.use_bias, self.use_scale,
                      self.bias_init, self.scale_init)


class RMSNorm(Module):
  """x / sqrt(mean(x^2) + eps) * scale (no mean subtraction, no bias)."""
  epsilon: float = 1e-6
  dtype: Any = None
  param_dtype: Any = jnp.float32
  use_scale: bool = True
  scale_init: Callable = initializers.ones
  reduction_axes: Any = -1
  feature_axes: Any = -1

  @compact
  def __call__(self, x):
    x = jnp.asarray(x)
    reduction_axes = _canonicalize_axes("RMSNorm", x.ndim, self.reduction_axes)
    feature_axes = _canonicalize_axes("RMSNorm", x.ndim, self.feature_axes)
    mean, var = _compute_stats(x, reduction_axes, self.dtype, use_mean=False)
    return _normalize(self, x, mean, var, reduction_axes, feature_axes, self.dtype,
                      self.param_dtype, self.epsilon, False, self.use_scale,
                      initializers.zeros, self.scale_init)


class GroupNorm(Module):
  """Normalizes each of ``num_groups`` channel groups over the non-batch axes
  (channels last; or give ``group_size``)."""
  num_groups: Any = 32
  group_size: Any = None
  epsilon: float = 1e-6
  dtype: Any = None
  param_dtype: Any = jnp.float32
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Callable = initializers.zeros
  scale_init: Callable = initializers.ones
  reduction_axes: Any = None
  use_fast_variance: bool = True

  @compact
  def __call__(self, x):
    x = jnp.asarray(x)
    if x.ndim < 2:
      raise ValueError(f"GroupNorm: the input needs a batch and a channel axis, got shape "
                       f"{x.shape}")
    if self.reduction_axes is not None:
      reduction_axes = list(_canonicalize_axes("GroupNorm", x.ndim, self.reduction_axes))
      if reduction_axes[-1] != x.ndim - 1:
        raise ValueError("GroupNorm: reduction_axes must include the last (channel) axis")
    else:
      reduction_axes = list(range(1, x.ndim))
    channels = x.shape[-1]
    if (self.num_groups is None) == (self.group_size is None):
      raise ValueError(f"GroupNorm: give exactly one of num_groups and group_size, got "
                       f"num_groups={self.num_groups}, group_size={self.group_size}")
    num_groups = self.num_groups
    if self.group_size is not None:
      if channels % self.group_size != 0:
        raise ValueError(f"GroupNorm: number of channels ({channels}) is not a multiple of "
                         f"the group size ({self.group_size})")
      num_groups = channels // self.group_size
    if num_groups <= 0 or channels % num_groups != 0:
      raise ValueError(f"GroupNorm: number of groups ({num_groups}) does not divide the "
                       f"number of channels ({channels})")
    group_size = channels // num_groups
    grouped = x.reshape(x.shape[:-1] + (num_groups, group_size))
    axes = tuple(reduction_axes[:-1]) + (x.ndim,)   # the group_size axis of `grouped`
    mean, var = _compute_stats(grouped, axes, self.dtype,
                               use_fast_variance=self.use_fast_variance)
    mean = jnp.repeat(mean, group_size, axis=-1)
    var = jnp.repeat(var, group_size, axis=-1)
    return _normalize(self, x, mean, var, reduction_axes[:-1], (x.ndim - 1,), self.dtype,
                      self.param_dtype, self.epsilon, self.use_bias, self.use_scale,
                      self.bias_init, self.scale_init)


class BatchNorm(Module):
  """Normalizes with batch statistics (training) or the running averages in
  ``batch_stats`` (``use_running_average=True``); training updates them
  (``apply(..., mutable=['batch_stats'])``)."""
  use_running_average: Any = None
  axis: int = -1
  momentum: float = 0.99
  epsilon: float = 1e-5
  dtype: Any = None
  param_dtype: Any = jnp.float32
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Callable = initializers.zeros
  scale_init: Callable = initializers.ones
  axis_name: Any = None
  use_fast_variance: bool = True

  @compact
  def __call__(self, x, use_running_average=None):
    use_running_average = merge_param("use_running_average", self.use_running_average,
                                      use_running_average)
    x = jnp.asarray(x)
    feature_axes = _canonicalize_axes("BatchNorm", x.ndim, self.axis)
    reduction_axes = tuple(i for i in range(x.ndim) if i not in feature_axes)
    feature_shape = tuple(x.shape[ax] for ax in feature_axes)
    ra_mean = self.variable("batch_stats", "mean", lambda s: jnp.zeros(s, jnp.float32),
                            feature_shape)
    ra_var = self.variable("batch_stats", "var", lambda s: jnp.ones(s, jnp.float32),
                           feature_shape)
    if use_running_average:
      mean, var = ra_mean.value, ra_var.value
    else:
      mean, var = _compute_stats(
          x, reduction_axes, self.dtype, use_fast_variance=self.use_fast_variance,
          axis_name=None if self.is_initializing() else self.axis_name)
      if not self.is_initializing():
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
        ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    return _normalize(self, x, mean, var, reduction_axes, feature_axes, self.dtype,
                      self.param_dtype, self.epsilon, self.use_bias, self.use_scale,
                      self.bias_init, self.scale_init)
