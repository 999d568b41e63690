"""Linear layers: Dense, DenseGeneral, Embed (Flax linen's names, parameter
shapes and default initializers)."""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.nn import initializers
from rjax._src.nn.module import Module, compact

__all__ = ["Dense", "DenseGeneral", "Embed", "promote_dtype", "default_kernel_init"]

default_kernel_init = initializers.lecun_normal()


def promote_dtype(*args, dtype=None, inexact: bool = True):
  """Casts the arrays among ``args`` (None stays None) to ``dtype``, or to their
  common type (at least floating when ``inexact``)."""
  arrays = [jnp.asarray(x) for x in args if x is not None]
  if dtype is None:
    dtype = jnp.result_type(*arrays)
    if inexact and not dtypes.is_float(dtype):
      dtype = dtypes.to_inexact_dtype(dtype)
  return [None if x is None else jnp.asarray(x, dtype) for x in args]


def _canon_axes(name: str, axes, ndim: int) -> tuple:
  axes = (axes,) if isinstance(axes, int) else tuple(axes)
  for a in axes:
    if not -ndim <= a < ndim:
      raise ValueError(f"{name}: axis {a} is out of bounds for an input of rank {ndim}")
  return tuple(a % ndim for a in axes)


class Dense(Module):
  """y = x @ kernel + bias; kernel (in_features, features), bias (features,)."""
  features: int
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None
  kernel_init: Callable = default_kernel_init
  bias_init: Callable = initializers.zeros_init()

  @compact
  def __call__(self, inputs):
    inputs = jnp.asarray(inputs)
    if inputs.ndim < 1:
      raise ValueError("Dense: the input must have at least one dimension (the features)")
    kernel = self.param("kernel", self.kernel_init, (inputs.shape[-1], self.features),
                        self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) \
        if self.use_bias else None
    inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
    y = lax.dot_general(inputs, kernel, (((inputs.ndim - 1,), (0,)), ((), ())),
                        precision=self.precision)
    if bias is not None:
      y = y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
    return y


@dataclasses.dataclass(frozen=True)
class _FlatInit:
  """Runs ``init`` on the flattened shape (prod(batch dims) * prod(dims up to
  ``n_in``), prod(last ``n_features`` dims)) and reshapes: DenseGeneral's
  kernel and bias get the fans of the equivalent Dense (as Flax)."""
  init: Callable
  n_batch: int
  n_in: int
  n_features: int

  def __call__(self, rng, shape, dtype=jnp.float32):
    lead = int(np.prod(shape[:self.n_batch]) * np.prod(shape[self.n_batch:self.n_in]))
    flat = (lead, int(np.prod(shape[-self.n_features:]))) if self.n_in > self.n_batch else \
        (lead * int(np.prod(shape[-self.n_features:])),)
    return jnp.reshape(self.init(rng, flat, dtype), shape)

  @staticmethod
  def make(init, n_batch, n_in, n_features) -> "_FlatInit":
    """One shared instance per configuration (so apply's shape check caches)."""
    key = _FlatInit(init, n_batch, n_in, n_features)
    try:
      hash(key)
    except TypeError:   # an unhashable initializer object: no sharing
      return key
    with _flat_lock:
      return _flat_inits.setdefault(key, key)


_flat_inits: dict = {}
_flat_lock = threading.Lock()


class DenseGeneral(Module):
  """A linear map contracting input ``axis`` (int or tuple) to ``features``
  (int or tuple); kernel shape = input dims at ``axis`` + features."""
  features: Any
  axis: Any = -1
  batch_dims: Sequence[int] = ()
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32
  kernel_init: Callable = default_kernel_init
  bias_init: Callable = initializers.zeros_init()
  precision: Any = None

  @compact
  def __call__(self, inputs):
    inputs = jnp.asarray(inputs)
    features = (self.features,) if isinstance(self.features, int) else tuple(self.features)
    axis = _canon_axes("DenseGeneral", self.axis, inputs.ndim)
    batch_dims = _canon_axes("DenseGeneral", self.batch_dims, inputs.ndim)
    if batch_dims:
      max_dim = np.max(batch_dims)
      if set(batch_dims) != set(range(max_dim + 1)):
        raise ValueError(f"DenseGeneral: batch_dims {self.batch_dims} must be consecutive "
                         f"leading dimensions starting from 0")
    if set(axis) & set(batch_dims):
      raise ValueError(f"DenseGeneral: axis {self.axis} and batch_dims {self.batch_dims} "
                       f"overlap")
    n_axis, n_batch, n_features = len(axis), len(batch_dims), len(features)

    batch_shape = tuple(inputs.shape[ax] for ax in batch_dims)
    expanded_batch_shape = tuple(inputs.shape[ax] if ax in batch_dims else 1
                                 for ax in range(inputs.ndim) if ax not in axis)
    kernel_shape = tuple(inputs.shape[ax] for ax in axis) + features
    kernel_init = _FlatInit.make(self.kernel_init, n_batch, n_axis + n_batch, n_features)
    kernel = self.param("kernel", kernel_init, batch_shape + kernel_shape, self.param_dtype)
    batch_ind = tuple(range(n_batch))
    contract_ind = tuple(range(n_batch, n_axis + n_batch))
    bias = None
    if self.use_bias:
      bias = self.param("bias", _FlatInit.make(self.bias_init, n_batch, n_batch, n_features),
                        batch_shape + features, self.param_dtype)
    inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
    out = lax.dot_general(inputs, kernel, ((axis, contract_ind), (batch_dims, batch_ind)),
                          precision=self.precision)
    if bias is not None:
      out = out + jnp.reshape(bias, expanded_batch_shape + features)
    return out


class Embed(Module):
  """A lookup table (num_embeddings, features): ``Embed(...)(ids)`` gathers rows;
  ``attend(q)`` is ``q @ embedding.T``."""
  num_embeddings: int
  features: int
  dtype: Any = None
  param_dtype: Any = jnp.float32
  embedding_init: Callable = initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)

  def setup(self):
    self.embedding = self.param("embedding", self.embedding_init,
                                (self.num_embeddings, self.features), self.param_dtype)

  def __call__(self, inputs):
    inputs = jnp.asarray(inputs)
    if not dtypes.is_int(inputs.dtype):
      raise ValueError(f"Embed: the input must be integer indices, got dtype {inputs.dtype}")
    (embedding,) = promote_dtype(self.embedding, dtype=self.dtype, inexact=False)
    if self.num_embeddings == 1:
      return jnp.where(jnp.broadcast_to(inputs[..., None], inputs.shape + (self.features,)) == 0,
                       embedding, jnp.asarray(np.nan, embedding.dtype))
    return jnp.take(embedding, inputs, axis=0)

  def attend(self, query):
    query, embedding = promote_dtype(query, self.embedding, dtype=self.dtype)
    return jnp.dot(query, embedding.T)
