"""Attention: ``dot_product_attention`` and ``MultiHeadDotProductAttention``
(Flax linen's: q/k/v/out DenseGeneral layers named query/key/value/out,
layout [batch..., length, heads, head_dim], boolean masks broadcast to
[batch..., heads, q_length, kv_length])."""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from rjax._src import numpy as jnp
from rjax._src import random
from rjax._src.nn import initializers
from rjax._src.nn.activations import softmax
from rjax._src.nn.linear import DenseGeneral, default_kernel_init, promote_dtype
from rjax._src.nn.module import Module, compact, merge_param
from rjax._src.nn.normalization import LayerNorm

__all__ = ["dot_product_attention_weights", "dot_product_attention", "make_attention_mask",
           "make_causal_mask", "combine_masks", "MultiHeadDotProductAttention",
           "MultiHeadAttention", "SelfAttention"]


def dot_product_attention_weights(query, key, bias=None, mask=None, broadcast_dropout=True,
                                  dropout_rng=None, dropout_rate=0., deterministic=False,
                                  dtype=None, precision=None, module=None):
  """softmax(q k^T / sqrt(depth) + bias, masked) -> [batch..., heads, q_len, kv_len]
  (sown as 'intermediates'/'attention_weights' of ``module`` when given)."""
  query, key = promote_dtype(query, key, dtype=dtype)
  dtype = query.dtype
  if query.ndim != key.ndim:
    raise ValueError(f"dot_product_attention: q and k must have the same rank, got "
                     f"{query.shape} and {key.shape}")
  if query.shape[:-3] != key.shape[:-3]:
    raise ValueError(f"dot_product_attention: q and k batch dims must match, got "
                     f"{query.shape} and {key.shape}")
  if query.shape[-2] != key.shape[-2]:
    raise ValueError(f"dot_product_attention: q and k num_heads must match, got "
                     f"{query.shape[-2]} and {key.shape[-2]}")
  if query.shape[-1] != key.shape[-1]:
    raise ValueError(f"dot_product_attention: q and k depths must match, got "
                     f"{query.shape[-1]} and {key.shape[-1]}")
  depth = query.shape[-1]
  query = query / jnp.sqrt(depth).astype(dtype)
  attn_weights = jnp.einsum("...qhd,...khd->...hqk", query, key, precision=precision)
  if bias is not None:
    attn_weights = attn_weights + bias
  if mask is not None:
    big_neg = jnp.finfo(dtype).min
    attn_weights = jnp.where(mask, attn_weights, big_neg)
  attn_weights = softmax(attn_weights).astype(dtype)
  if module is not None:
    module.sow("intermediates", "attention_weights", attn_weights)
  if not deterministic and dropout_rate > 0.:
    if dropout_rng is None:
      raise ValueError("dot_product_attention: dropout needs a dropout_rng when not "
                       "deterministic")
    keep_prob = 1.0 - dropout_rate
    if broadcast_dropout:
      dropout_shape = tuple([1] * (key.ndim - 2)) + attn_weights.shape[-2:]
      keep = random.bernoulli(dropout_rng, keep_prob, dropout_shape)
    else:
      keep = random.bernoulli(dropout_rng, keep_prob, attn_weights.shape)
    multiplier = keep.astype(dtype) / jnp.asarray(keep_prob, dtype=dtype)
    attn_weights = attn_weights * multiplier
  return attn_weights


def dot_product_attention(query, key, value, bias=None, mask=None, broadcast_dropout=True,
                          dropout_rng=None, dropout_rate=0., deterministic=False, dtype=None,
                          precision=None, module=None):
  """Attention over [batch..., length, heads, depth] q/k/v; returns
  [batch..., q_length, heads, v_depth]."""
  query, key, value = promote_dtype(query, key, value, dtype=dtype)
  if key.shape[:-1] != value.shape[:-1]:
    raise ValueError(f"dot_product_attention: k and v must agree but for the depth, got "
                     f"{key.shape} and {value.shape}")
  attn_weights = dot_product_attention_weights(
      query, key, bias, mask, broadcast_dropout, dropout_rng, dropout_rate, deterministic,
      query.dtype, precision, module)
  return jnp.einsum("...hqk,...khd->...qhd", attn_weights, value, precision=precision)


def make_attention_mask(query_input, key_input, pairwise_fn=jnp.multiply, extra_batch_dims=0,
                        dtype=jnp.float32):
  """[batch..., 1, q_len, kv_len] mask from per-position q and kv inputs."""
  mask = pairwise_fn(jnp.expand_dims(jnp.asarray(query_input), axis=-1),
                     jnp.expand_dims(jnp.asarray(key_input), axis=-2))
  mask = jnp.expand_dims(mask, axis=-3)
  mask = jnp.expand_dims(mask, axis=tuple(range(extra_batch_dims)))
  return mask.astype(dtype)


def make_causal_mask(x, extra_batch_dims=0, dtype=jnp.float32):
  """The causal mask of [batch..., length] inputs: position i attends to j <= i."""
  x = jnp.asarray(x)
  idxs = jnp.broadcast_to(jnp.arange(x.shape[-1], dtype=jnp.int32), x.shape)
  return make_attention_mask(idxs, idxs, jnp.greater_equal, extra_batch_dims=extra_batch_dims,
                             dtype=dtype)


def combine_masks(*masks, dtype=jnp.float32):
  """Logical and of the masks that are not None (None if all are)."""
  masks_list = [jnp.asarray(m) for m in masks if m is not None]
  if not masks_list:
    return None
  if any(m.ndim != masks_list[0].ndim for m in masks_list):
    raise ValueError(f"combine_masks: masks must have the same rank, got "
                     f"{[m.ndim for m in masks_list]}")
  mask = masks_list[0]
  for other in masks_list[1:]:
    mask = jnp.logical_and(mask, other)
  return mask.astype(dtype)


class MultiHeadDotProductAttention(Module):
  """Multi-head attention: q/k/v projections (DenseGeneral to
  [num_heads, head_dim]), ``attention_fn``, and an ``out`` projection."""
  num_heads: int
  dtype: Any = None
  param_dtype: Any = jnp.float32
  qkv_features: Any = None
  out_features: Any = None
  broadcast_dropout: bool = True
  dropout_rate: float = 0.
  deterministic: Any = None
  precision: Any = None
  kernel_init: Callable = default_kernel_init
  out_kernel_init: Any = None
  bias_init: Callable = initializers.zeros_init()
  out_bias_init: Any = None
  use_bias: bool = True
  attention_fn: Callable = dot_product_attention
  decode: bool = False
  normalize_qk: bool = False

  @compact
  def __call__(self, inputs_q, inputs_k=None, inputs_v=None, *, inputs_kv=None, mask=None,
               deterministic=None, dropout_rng=None, sow_weights=False):
    if self.decode:
      raise NotImplementedError("MultiHeadDotProductAttention: decode=True (the "
                                "autoregressive cache) is not implemented in rjax.nn")
    inputs_q = jnp.asarray(inputs_q)
    if inputs_kv is not None:
      if inputs_k is not None or inputs_v is not None:
        raise ValueError("MultiHeadDotProductAttention: give inputs_kv or inputs_k/inputs_v, "
                         "not both")
      inputs_k = inputs_v = inputs_kv
    else:
      if inputs_k is None:
        if inputs_v is not None:
          raise ValueError("MultiHeadDotProductAttention: `inputs_k` cannot be None if "
                           "`inputs_v` is not None")
        inputs_k = inputs_q
      if inputs_v is None:
        inputs_v = inputs_k
    features = self.out_features or inputs_q.shape[-1]
    qkv_features = self.qkv_features or inputs_q.shape[-1]
    if qkv_features % self.num_heads != 0:
      raise ValueError(f"MultiHeadDotProductAttention: memory dimension ({qkv_features}) "
                       f"must be divisible by number of heads ({self.num_heads})")
    head_dim = qkv_features // self.num_heads
    dense = functools.partial(DenseGeneral, axis=-1, dtype=self.dtype,
                              param_dtype=self.param_dtype, features=(self.num_heads, head_dim),
                              kernel_init=self.kernel_init, bias_init=self.bias_init,
                              use_bias=self.use_bias, precision=self.precision)
    query = dense(name="query")(inputs_q)
    key = dense(name="key")(inputs_k)
    value = dense(name="value")(inputs_v)
    if self.normalize_qk:
      query = LayerNorm(name="query_ln", use_bias=False)(query)
      key = LayerNorm(name="key_ln", use_bias=False)(key)
    if self.dropout_rate > 0.:
      m_deterministic = merge_param("deterministic", self.deterministic, deterministic)
      if not m_deterministic and dropout_rng is None:
        dropout_rng = self.make_rng("dropout")
    else:
      m_deterministic = True
    x = self.attention_fn(query, key, value, mask=mask, dropout_rng=dropout_rng,
                          dropout_rate=self.dropout_rate,
                          broadcast_dropout=self.broadcast_dropout,
                          deterministic=m_deterministic, dtype=self.dtype,
                          precision=self.precision, **({"module": self} if sow_weights else {}))
    return DenseGeneral(features=features, axis=(-2, -1),
                        kernel_init=self.out_kernel_init or self.kernel_init,
                        bias_init=self.out_bias_init or self.bias_init, use_bias=self.use_bias,
                        dtype=self.dtype, param_dtype=self.param_dtype,
                        precision=self.precision, name="out")(x)


MultiHeadAttention = MultiHeadDotProductAttention


class SelfAttention(MultiHeadDotProductAttention):
  """MultiHeadDotProductAttention with the queries as keys and values."""

  @compact
  def __call__(self, inputs_q, mask=None, deterministic=None, dropout_rng=None,
               sow_weights=False):
    return super().__call__(inputs_q, mask=mask, deterministic=deterministic,
                            dropout_rng=dropout_rng, sow_weights=sow_weights)
