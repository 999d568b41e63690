"""Stax: layers as ``(init_fun, apply_fun)`` pairs (``jax.example_libraries.stax``).

``init_fun(rng, input_shape) -> (output_shape, params)`` and
``apply_fun(params, inputs, **kwargs) -> outputs``. Shapes may carry ``-1``
for an unknown batch size. Initialisation splits keys as JAX's stax does, so
the same key gives JAX's parameters.
"""
from __future__ import annotations

import functools
import math

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src import random
from rjax._src.nn.activations import (
    elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax, softplus, standardize)
from rjax._src.nn.initializers import glorot_normal, normal, ones, zeros

__all__ = [
    "Dense", "GeneralConv", "Conv", "GeneralConvTranspose", "Conv1DTranspose", "ConvTranspose",
    "BatchNorm", "elementwise", "Tanh", "Relu", "Exp", "LogSoftmax", "Softmax", "Softplus",
    "Sigmoid", "Elu", "LeakyRelu", "Selu", "Gelu", "MaxPool", "SumPool", "AvgPool", "Flatten",
    "Identity", "FanOut", "FanInSum", "FanInConcat", "Dropout", "serial", "parallel",
    "shape_dependent", "relu", "log_softmax", "softmax", "softplus", "sigmoid", "elu",
    "leaky_relu", "selu", "gelu", "standardize", "glorot_normal", "normal", "ones", "zeros",
    "glorot", "randn", "logsoftmax"]

# JAX's older names, kept by its stax
glorot = glorot_normal
randn = normal
logsoftmax = log_softmax


# ---------------------------------------------------------------------------
# Shape arithmetic (works with a -1 batch size, as JAX's lax shape helpers do)


def _to_spec_order(shape, perm):
  return tuple(shape[i] for i in perm)


def _from_spec_order(shape_t, perm):
  out = [0] * len(shape_t)
  for src, dst in enumerate(perm):
    out[dst] = shape_t[src]
  return tuple(out)


def _conv_general_shape(lhs_shape, rhs_shape, strides, padding, dimension_numbers):
  lhs_perm, rhs_perm, out_perm = lax.conv_general_permutations(dimension_numbers)
  out_t = lax.conv_shape_tuple(_to_spec_order(lhs_shape, lhs_perm),
                               _to_spec_order(rhs_shape, rhs_perm), strides, padding)
  return _from_spec_order(out_t, out_perm)


def _conv_transpose_pads(k, s, padding):
  """(low, high) padding of the dilated input, as ``lax.conv_transpose``'s."""
  if padding == "SAME":
    total = k + s - 2
    lo = k - 1 if s > k - 1 else -(-total // 2)
  elif padding == "VALID":
    total = k + s - 2 + max(k - s, 0)
    lo = k - 1
  else:
    raise ValueError(f"GeneralConvTranspose: padding must be 'SAME', 'VALID' or a sequence of "
                     f"(low, high) pairs, got {padding!r}")
  return lo, total - lo


def _conv_transpose_shape(lhs_shape, rhs_shape, strides, padding, dimension_numbers):
  lhs_perm, rhs_perm, out_perm = lax.conv_general_permutations(dimension_numbers)
  lhs_t = _to_spec_order(lhs_shape, lhs_perm)
  rhs_t = _to_spec_order(rhs_shape, rhs_perm)
  if isinstance(padding, str):
    padding = [_conv_transpose_pads(k, s, padding) for k, s in zip(rhs_t[2:], strides)]
  space = tuple((n - 1) * s - k + 2 + lo + hi
                for n, k, s, (lo, hi) in zip(lhs_t[2:], rhs_t[2:], strides, padding))
  return _from_spec_order((lhs_t[0], rhs_t[0]) + space, out_perm)


# ---------------------------------------------------------------------------
# Layers with parameters


def Dense(out_dim, W_init=glorot_normal(), b_init=normal()):
  """A fully connected layer: ``inputs @ W + b``."""
  def init_fun(rng, input_shape):
    k_w, k_b = random.split(rng)
    params = (W_init(k_w, (input_shape[-1], out_dim)), b_init(k_b, (out_dim,)))
    return tuple(input_shape[:-1]) + (out_dim,), params

  def apply_fun(params, inputs, **kwargs):
    W, b = params
    return jnp.dot(inputs, W) + b
  return init_fun, apply_fun


def _kernel_shape(rhs_spec, lhs_spec, out_chan, filter_shape, input_shape):
  spatial = iter(filter_shape)
  return [out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I" else next(spatial)
          for c in rhs_spec]


def GeneralConv(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
                W_init=None, b_init=normal(1e-6)):
  """A convolution layer with layouts given by ``dimension_numbers``
  (e.g. ``('NHWC', 'HWIO', 'NHWC')``)."""
  lhs_spec, rhs_spec, out_spec = dimension_numbers
  ones_ = (1,) * len(filter_shape)
  strides = strides or ones_
  W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

  def init_fun(rng, input_shape):
    kernel_shape = _kernel_shape(rhs_spec, lhs_spec, out_chan, filter_shape, input_shape)
    out_shape = _conv_general_shape(input_shape, kernel_shape, strides, padding,
                                    dimension_numbers)
    bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
    k_w, k_b = random.split(rng)
    return out_shape, (W_init(k_w, kernel_shape), b_init(k_b, bias_shape))

  def apply_fun(params, inputs, **kwargs):
    W, b = params
    return lax.conv_general_dilated(inputs, W, strides, padding, ones_, ones_,
                                    dimension_numbers=dimension_numbers) + b
  return init_fun, apply_fun


Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))


def GeneralConvTranspose(dimension_numbers, out_chan, filter_shape, strides=None,
                         padding="VALID", W_init=None, b_init=normal(1e-6)):
  """A transposed-convolution layer (``lax.conv_transpose``)."""
  lhs_spec, rhs_spec, out_spec = dimension_numbers
  ones_ = (1,) * len(filter_shape)
  strides = strides or ones_
  W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

  def init_fun(rng, input_shape):
    kernel_shape = _kernel_shape(rhs_spec, lhs_spec, out_chan, filter_shape, input_shape)
    out_shape = _conv_transpose_shape(input_shape, kernel_shape, strides, padding,
                                      dimension_numbers)
    bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
    k_w, k_b = random.split(rng)
    return out_shape, (W_init(k_w, kernel_shape), b_init(k_b, bias_shape))

  def apply_fun(params, inputs, **kwargs):
    W, b = params
    return lax.conv_transpose(inputs, W, strides, padding,
                              dimension_numbers=dimension_numbers) + b
  return init_fun, apply_fun


Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True, beta_init=zeros,
              gamma_init=ones):
  """Normalises over ``axis`` with the batch's statistics, then scales by
  ``gamma`` and shifts by ``beta`` (each optional)."""
  axis = (axis,) if jnp.isscalar(axis) else axis

  def init_fun(rng, input_shape):
    shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
    k_beta, k_gamma = random.split(rng)
    beta = beta_init(k_beta, shape) if center else ()
    gamma = gamma_init(k_gamma, shape) if scale else ()
    return input_shape, (beta, gamma)

  def apply_fun(params, x, **kwargs):
    beta, gamma = params
    expand = tuple(None if i in axis else slice(None) for i in range(jnp.ndim(x)))
    z = standardize(x, axis, epsilon=epsilon)
    if center and scale:
      return gamma[expand] * z + beta[expand]
    if center:
      return z + beta[expand]
    if scale:
      return gamma[expand] * z
    return z
  return init_fun, apply_fun


# ---------------------------------------------------------------------------
# Parameter-free layers


def elementwise(fun, **fun_kwargs):
  """A layer applying ``fun(inputs, **fun_kwargs)``."""
  def init_fun(rng, input_shape):
    return input_shape, ()

  def apply_fun(params, inputs, **kwargs):
    return fun(inputs, **fun_kwargs)
  return init_fun, apply_fun


Tanh = elementwise(jnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(jnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


def _non_spatial_axes(spec, ndim):
  return (0, ndim - 1) if spec is None else (spec.index("N"), spec.index("C"))


def _pooling_layer(reducer, init_val, rescaler=None):
  def PoolingLayer(window_shape, strides=None, padding="VALID", spec=None):
    """A pooling layer over the spatial axes (all but N and C; by default
    the layout is N, spatial..., C)."""
    strides = strides or (1,) * len(window_shape)
    rescale = rescaler(window_shape, strides, padding) if rescaler else None
    window_shape, strides = tuple(window_shape), tuple(strides)
    for i in sorted(_non_spatial_axes(spec, len(window_shape) + 2)):
      window_shape = window_shape[:i] + (1,) + window_shape[i:]
      strides = strides[:i] + (1,) + strides[i:]

    def init_fun(rng, input_shape):
      pads = lax.padtype_to_pads(input_shape, window_shape, strides, padding)
      return lax.reduce_window_shape_tuple(input_shape, window_shape, strides, pads), ()

    def apply_fun(params, inputs, **kwargs):
      out = lax.reduce_window(inputs, init_val, reducer, window_shape, strides, padding)
      return rescale(out, inputs, spec) if rescale else out
    return init_fun, apply_fun
  return PoolingLayer


MaxPool = _pooling_layer(lax.max, -jnp.inf)
SumPool = _pooling_layer(lax.add, 0.)


def _normalize_by_window_size(dims, strides, padding):
  def rescale(outputs, inputs, spec):
    non_spatial = _non_spatial_axes(spec, inputs.ndim)
    spatial_shape = tuple(d for i, d in enumerate(inputs.shape) if i not in non_spatial)
    counts = lax.reduce_window(jnp.ones(spatial_shape, dtype=inputs.dtype), 0., lax.add, dims,
                               strides, padding)
    for i in sorted(non_spatial):
      counts = jnp.expand_dims(counts, i)
    return outputs / counts
  return rescale


AvgPool = _pooling_layer(lax.add, 0., _normalize_by_window_size)


def _flatten():
  def init_fun(rng, input_shape):
    return (input_shape[0], math.prod(input_shape[1:])), ()

  def apply_fun(params, inputs, **kwargs):
    return jnp.reshape(inputs, (inputs.shape[0], -1))
  return init_fun, apply_fun


#: Flattens all but the leading dimension.
Flatten = _flatten()


def _identity():
  def init_fun(rng, input_shape):
    return input_shape, ()

  def apply_fun(params, inputs, **kwargs):
    return inputs
  return init_fun, apply_fun


#: Returns its inputs.
Identity = _identity()


def FanOut(num):
  """Copies its input ``num`` times (a list)."""
  def init_fun(rng, input_shape):
    return [input_shape] * num, ()

  def apply_fun(params, inputs, **kwargs):
    return [inputs] * num
  return init_fun, apply_fun


def _fan_in_sum():
  def init_fun(rng, input_shape):
    return input_shape[0], ()

  def apply_fun(params, inputs, **kwargs):
    return sum(inputs)
  return init_fun, apply_fun


#: Sums a sequence of inputs.
FanInSum = _fan_in_sum()


def FanInConcat(axis=-1):
  """Concatenates a sequence of inputs along ``axis``."""
  def init_fun(rng, input_shape):
    ax = axis % len(input_shape[0])
    size = sum(shape[ax] for shape in input_shape)
    first = tuple(input_shape[0])
    return first[:ax] + (size,) + first[ax + 1:], ()

  def apply_fun(params, inputs, **kwargs):
    return jnp.concatenate(inputs, axis)
  return init_fun, apply_fun


def Dropout(rate, mode="train"):
  """Dropout. As in JAX's stax, ``rate`` is the probability of *keeping* a
  unit; kept units are scaled by ``1 / rate``. ``apply_fun`` needs ``rng=``."""
  def init_fun(rng, input_shape):
    return input_shape, ()

  def apply_fun(params, inputs, **kwargs):
    rng = kwargs.get("rng", None)
    if rng is None:
      raise ValueError(
          "Dropout layer requires apply_fun to be called with a PRNG key argument. That is, "
          "instead of `apply_fun(params, inputs)`, call it like `apply_fun(params, inputs, "
          "rng)` where `rng` is a PRNG key (e.g. from `jax.random.key`).")
    if mode == "train":
      keep = random.bernoulli(rng, rate, inputs.shape)
      return jnp.where(keep, inputs / rate, 0)
    return inputs
  return init_fun, apply_fun


# ---------------------------------------------------------------------------
# Combinators


def serial(*layers):
  """Composes layers one after another; ``rng=`` is split among them."""
  n = len(layers)
  init_funs, apply_funs = zip(*layers)

  def init_fun(rng, input_shape):
    params = []
    for init in init_funs:
      rng, layer_rng = random.split(rng)
      input_shape, p = init(layer_rng, input_shape)
      params.append(p)
    return input_shape, params

  def apply_fun(params, inputs, **kwargs):
    rng = kwargs.pop("rng", None)
    rngs = random.split(rng, n) if rng is not None else (None,) * n
    for fun, p, r in zip(apply_funs, params, rngs):
      inputs = fun(p, inputs, rng=r, **kwargs)
    return inputs
  return init_fun, apply_fun


def parallel(*layers):
  """Applies the i-th layer to the i-th of a sequence of inputs (often
  between ``FanOut`` and ``FanInSum``/``FanInConcat``)."""
  n = len(layers)
  init_funs, apply_funs = zip(*layers)

  def init_fun(rng, input_shape):
    rngs = random.split(rng, n)
    # a zip of (output_shapes, params), as JAX's stax returns
    return zip(*[init(r, shape) for init, r, shape in zip(init_funs, rngs, input_shape)])

  def apply_fun(params, inputs, **kwargs):
    rng = kwargs.pop("rng", None)
    rngs = random.split(rng, n) if rng is not None else (None,) * n
    return [f(p, x, rng=r, **kwargs) for f, p, x, r in zip(apply_funs, params, inputs, rngs)]
  return init_fun, apply_fun


def shape_dependent(make_layer):
  """A layer built by ``make_layer(input_shape)`` once the input shape is known."""
  def init_fun(rng, input_shape):
    return make_layer(input_shape)[0](rng, input_shape)

  def apply_fun(params, inputs, **kwargs):
    return make_layer(inputs.shape)[1](params, inputs, **kwargs)
  return init_fun, apply_fun
