"""Convolutions: Conv and ConvTranspose (Flax linen's: channels-last inputs
[batch..., spatial..., features], kernels (*kernel_size, in // groups,
features), padding 'SAME'/'VALID'/'CIRCULAR'/'CAUSAL'/ints/pairs), and the
pooling functions max_pool/avg_pool/min_pool, on lax.conv_general_dilated,
lax.conv_transpose and lax.reduce_window."""
from __future__ import annotations

import functools

from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.nn import initializers
from rjax._src.nn.linear import default_kernel_init, promote_dtype
from rjax._src.nn.module import Module, compact

__all__ = ["Conv", "ConvTranspose", "canonicalize_padding", "pool", "avg_pool", "max_pool",
           "min_pool"]


def canonicalize_padding(padding, rank: int):
  """A padding string, or ``rank`` (low, high) pairs from an int or a sequence
  of ints/pairs."""
  if isinstance(padding, str):
    return padding
  if isinstance(padding, int):
    return [(padding, padding)] * rank
  if isinstance(padding, Sequence) and len(padding) == rank:
    new_pad = []
    for p in padding:
      if isinstance(p, int):
        new_pad.append((p, p))
      elif isinstance(p, (tuple, list)) and len(p) == 2:
        new_pad.append(tuple(p))
      else:
        break
    if len(new_pad) == rank:
      return new_pad
  raise ValueError(f"Invalid padding format: {padding}, should be str, int, or a sequence of "
                   f"len {rank} where each element is an int or pair of ints.")


def _conv_dimension_numbers(ndim: int):
  lhs_spec = (0, ndim - 1) + tuple(range(1, ndim - 1))
  rhs_spec = (ndim - 1, ndim - 2) + tuple(range(0, ndim - 2))
  return lax.ConvDimensionNumbers(lhs_spec, rhs_spec, lhs_spec)


def _flatten_batch(name: str, inputs, n_spatial: int):
  """Folds all batch dims into one leading axis; returns (x, batch shape)."""
  n_batch = inputs.ndim - (n_spatial + 1)
  if n_batch < 0:
    raise ValueError(f"{name}: input of shape {inputs.shape} has too few dimensions for a "
                     f"{n_spatial}-d kernel (need [batch..., spatial x {n_spatial}, features])")
  batch_shape = inputs.shape[:n_batch]
  if n_batch != 1:
    inputs = jnp.reshape(inputs, (int(np.prod(batch_shape)),) + inputs.shape[n_batch:])
  return inputs, batch_shape, n_batch


def _per_spatial_dim(x, n: int) -> tuple:
  """A stride/dilation given once (int or None = 1) or per spatial dim."""
  if x is None:
    x = 1
  return (x,) * n if isinstance(x, int) else tuple(x)


class Conv(Module):
  """N-d convolution over channels-last inputs (``len(kernel_size)`` spatial dims)."""
  features: int
  kernel_size: Sequence[int]
  strides: Any = 1
  padding: Any = "SAME"
  input_dilation: Any = 1
  kernel_dilation: Any = 1
  feature_group_count: int = 1
  use_bias: bool = True
  mask: Any = None
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None
  kernel_init: Callable = default_kernel_init
  bias_init: Callable = initializers.zeros_init()

  @compact
  def __call__(self, inputs):
    if isinstance(self.kernel_size, int):
      raise TypeError(f"Expected Conv kernel_size to be a tuple/list of integers (eg.: [3, 3]) "
                      f"but got {self.kernel_size}.")
    kernel_size = tuple(self.kernel_size)

    maybe_broadcast = functools.partial(_per_spatial_dim, n=len(kernel_size))

    inputs = jnp.asarray(inputs)
    inputs, batch_shape, n_batch = _flatten_batch("Conv", inputs, len(kernel_size))
    strides = maybe_broadcast(self.strides)
    input_dilation = maybe_broadcast(self.input_dilation)
    kernel_dilation = maybe_broadcast(self.kernel_dilation)
    padding = canonicalize_padding(self.padding, len(kernel_size))
    if padding == "CIRCULAR":
      dilated = [(k - 1) * d + 1 for k, d in zip(kernel_size, kernel_dilation)]
      pads = [(0, 0)] + [((k - 1) // 2, k // 2) for k in dilated] + [(0, 0)]
      inputs = jnp.pad(inputs, pads, mode="wrap")
      padding = "VALID"
    elif padding == "CAUSAL":
      if len(kernel_size) != 1:
        raise ValueError("Causal padding is only implemented for 1D convolutions.")
      left_pad = kernel_dilation[0] * (kernel_size[0] - 1)
      inputs = jnp.pad(inputs, [(0, 0), (left_pad, 0), (0, 0)])
      padding = "VALID"
    in_features = inputs.shape[-1]
    if in_features % self.feature_group_count != 0:
      raise ValueError(f"Conv: input features ({in_features}) must be a multiple of "
                       f"feature_group_count ({self.feature_group_count})")
    kernel_shape = kernel_size + (in_features // self.feature_group_count, self.features)
    if self.mask is not None and tuple(self.mask.shape) != kernel_shape:
      raise ValueError(f"Mask needs to have the same shape as weights. Shapes are: "
                       f"{tuple(self.mask.shape)}, {kernel_shape}")
    kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
    if self.mask is not None:
      kernel = kernel * self.mask
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) \
        if self.use_bias else None
    inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
    y = lax.conv_general_dilated(
        inputs, kernel, strides, padding, lhs_dilation=input_dilation,
        rhs_dilation=kernel_dilation, dimension_numbers=_conv_dimension_numbers(inputs.ndim),
        feature_group_count=self.feature_group_count, precision=self.precision)
    if bias is not None:
      y = y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
    if n_batch != 1:
      y = jnp.reshape(y, batch_shape + y.shape[1:])
    return y


class ConvTranspose(Module):
  """The transpose of a strided convolution (upsampling), channels last."""
  features: int
  kernel_size: Any
  strides: Any = None
  padding: Any = "SAME"
  kernel_dilation: Any = None
  use_bias: bool = True
  mask: Any = None
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None
  kernel_init: Callable = default_kernel_init
  bias_init: Callable = initializers.zeros_init()
  transpose_kernel: bool = False

  @compact
  def __call__(self, inputs):
    kernel_size = (self.kernel_size,) if isinstance(self.kernel_size, int) \
        else tuple(self.kernel_size)

    maybe_broadcast = functools.partial(_per_spatial_dim, n=len(kernel_size))

    inputs = jnp.asarray(inputs)
    inputs, batch_shape, n_batch = _flatten_batch("ConvTranspose", inputs, len(kernel_size))
    strides = maybe_broadcast(self.strides)
    kernel_dilation = maybe_broadcast(self.kernel_dilation)
    in_features = inputs.shape[-1]
    kernel_shape = kernel_size + ((self.features, in_features) if self.transpose_kernel
                                  else (in_features, self.features))
    if self.mask is not None and tuple(self.mask.shape) != kernel_shape:
      raise ValueError(f"Mask needs to have the same shape as weights. Shapes are: "
                       f"{tuple(self.mask.shape)}, {kernel_shape}")
    kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
    if self.mask is not None:
      kernel = kernel * self.mask
    padding = canonicalize_padding(self.padding, len(kernel_size))
    if padding == "CIRCULAR":
      padding = "VALID"
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) \
        if self.use_bias else None
    inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
    y = lax.conv_transpose(inputs, kernel, strides, padding, rhs_dilation=kernel_dilation,
                           transpose_kernel=self.transpose_kernel, precision=self.precision)
    if self.padding == "CIRCULAR":
      # Wrap the full transposed output periodically onto input size * stride
      # (Flax's convention for where the extra element of an even size goes).
      scaled = [x * s for x, s in zip(inputs.shape[1:-1], strides)]
      diffs = [-(yd - xd) % (2 * xd) for yd, xd in zip(y.shape[1:-1], scaled)]
      if self.transpose_kernel:
        total_pad = [(d // 2, (d + 1) // 2) for d in diffs]
      else:
        total_pad = [((d + 1) // 2, d // 2) for d in diffs]
      y = jnp.pad(y, [(0, 0)] + total_pad + [(0, 0)])
      for i in range(1, y.ndim - 1):
        y = y.reshape(y.shape[:i] + (-1, scaled[i - 1]) + y.shape[i + 1:])
        y = y.sum(axis=i)
    if bias is not None:
      y = y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
    if n_batch != 1:
      y = jnp.reshape(y, batch_shape + y.shape[1:])
    return y


# -- pooling ---------------------------------------------------------------------

def pool(inputs, init, reduce_fn, window_shape, strides, padding):
  """``lax.reduce_window`` over the spatial dims of [batch..., spatial..., features]."""
  inputs = jnp.asarray(inputs)
  window_shape = tuple(window_shape)
  num_batch_dims = inputs.ndim - (len(window_shape) + 1)
  if num_batch_dims < 0:
    raise ValueError(f"pool: input of shape {inputs.shape} has too few dimensions for a "
                     f"window of {len(window_shape)} spatial dims")
  strides = tuple(strides) if strides is not None else (1,) * len(window_shape)
  if len(strides) != len(window_shape):
    raise ValueError(f"pool: len({window_shape}) must equal len({strides})")
  strides = (1,) * num_batch_dims + strides + (1,)
  dims = (1,) * num_batch_dims + window_shape + (1,)
  single = num_batch_dims == 0
  if single:   # reduce_window runs on a batch: add one
    inputs = inputs[None]
    strides, dims = (1,) + strides, (1,) + dims
  if not isinstance(padding, str):
    padding = tuple(tuple(p) for p in padding)
    if len(padding) != len(window_shape) or any(len(p) != 2 for p in padding):
      raise ValueError(f"pool: padding {padding} must be {len(window_shape)} (low, high) pairs")
    padding = ((0, 0),) * (num_batch_dims + single) + padding + ((0, 0),)
  y = lax.reduce_window(inputs, init, reduce_fn, dims, strides, padding)
  return jnp.squeeze(y, axis=0) if single else y


def avg_pool(inputs, window_shape, strides=None, padding="VALID", count_include_pad=True):
  """Mean over each window (padding counted unless ``count_include_pad=False``)."""
  inputs = jnp.asarray(inputs)
  y = pool(inputs, 0., lax.add, window_shape, strides, padding)
  if count_include_pad:
    return y / np.prod(window_shape)
  div_shape = inputs.shape[:-1] + (1,)
  if len(div_shape) - 2 == len(window_shape):
    div_shape = (1,) + div_shape[1:]
  return y / pool(jnp.ones(div_shape, y.dtype), 0., lax.add, window_shape, strides, padding)


def max_pool(inputs, window_shape, strides=None, padding="VALID"):
  """Max over each window."""
  return pool(inputs, -jnp.inf, lax.max, window_shape, strides, padding)


def min_pool(inputs, window_shape, strides=None, padding="VALID"):
  """Min over each window."""
  return pool(inputs, jnp.inf, lax.min, window_shape, strides, padding)
