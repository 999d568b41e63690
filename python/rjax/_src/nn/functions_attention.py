"""``jax.nn.dot_product_attention``: scaled dot-product attention with JAX's
signature and numbers (its 'xla' implementation), layout
``[batch, length, heads, head_dim]``, grouped-query attention when the query
has a multiple of the key/value heads. (The Flax-style function used by the
attention modules is ``rjax.nn.attention.dot_product_attention``.)"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.nn.activations import logsumexp, softmax

__all__ = ["dot_product_attention"]


def _large_negative(dtype):
  big = min(float(dtypes.finfo(dtype).max), float(np.finfo(np.float32).max))
  return jnp.asarray(-0.7 * big, dtype=dtype)


def _combined_mask(T, S, mask, is_causal, q_seqlen, kv_seqlen, window):
  """The keep-mask, broadcastable to [B, K, G, T, S]; None when nothing is masked."""
  out = None

  def both(a, b):
    return b if a is None else jnp.logical_and(a, b)
  if mask is not None:
    out = both(out, mask)
  if is_causal:
    out = both(out, jnp.tril(jnp.ones((T, S), dtype=bool))[None, None, None])
  if window is not None:
    q_pos, k_pos = jnp.arange(T), jnp.arange(S)
    left, right = window
    keep = jnp.logical_and(q_pos[:, None] >= k_pos[None, :] - right,
                           q_pos[:, None] <= k_pos[None, :] + left)
    out = both(out, keep[None, None, None])
  if q_seqlen is not None or kv_seqlen is not None:
    pad = True
    if q_seqlen is not None:
      pad = jnp.arange(T)[None, :, None] < q_seqlen[:, None, None]
    if kv_seqlen is not None:
      pad = jnp.logical_and(pad, jnp.arange(S)[None, None, :] < kv_seqlen[:, None, None])
    out = both(out, pad[:, None, None])
  return out


def _attention_xla(query, key, value, bias, mask, is_causal, scale, q_seqlen, kv_seqlen,
                   window, return_residual):
  B, T, N, H = query.shape
  _, S, K, _ = key.shape
  G = N // K
  q = jnp.reshape(query, (B, T, K, G, H))

  def grouped(t):
    if t is None:
      return None
    tB, tN, tT, tS = t.shape
    return t[:, :, None] if tN == 1 else jnp.reshape(t, (tB, K, G, tT, tS))
  bias, mask = grouped(bias), grouped(mask)
  logits_dtype = dtypes.result_type(query.dtype, np.float32)
  logits = jnp.einsum("BTKGH,BSKH->BKGTS", q, key, preferred_element_type=logits_dtype)
  logits = logits * jnp.array(scale, dtype=logits.dtype)
  if bias is not None:
    logits = (logits + bias).astype(logits.dtype)
  keep = _combined_mask(T, S, mask, is_causal, q_seqlen, kv_seqlen, window)
  if keep is not None:
    logits = jnp.where(keep, logits, _large_negative(logits.dtype))
  logits = logits.astype(np.float32)
  probs = softmax(logits, axis=-1).astype(key.dtype)
  encoded = jnp.einsum("BKGTS,BSKH->BTKGH", probs, value)
  if q_seqlen is not None:
    valid = jnp.arange(T)[None, :] < q_seqlen[:, None]
    encoded = encoded * valid[:, :, None, None, None].astype(encoded.dtype)
  encoded = jnp.reshape(encoded, (B, T, N, H))
  if not return_residual:
    return encoded
  lse = logsumexp(logits, axis=-1).astype(key.dtype)          # [B, K, G, T]
  lse = jnp.reshape(jnp.moveaxis(lse, 3, 1), (B, T, N))
  return encoded, lax.stop_gradient(lse)


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal: bool = False, query_seq_lengths=None,
                          key_value_seq_lengths=None, local_window_size=None,
                          implementation=None, return_residual: bool = False):
  """softmax(scale * q k^T + bias, masked) v, as ``jax.nn.dot_product_attention``.

  ``query`` is ``[B, T, N, H]`` and ``key``/``value`` are ``[B, S, K, H]``
  (the batch dim may be left out), ``N`` a multiple of ``K``. ``bias`` and the
  boolean ``mask`` broadcast to ``[B, N, T, S]``. ``scale`` defaults to
  ``1/sqrt(H)``; ``is_causal``, ``query_seq_lengths``/``key_value_seq_lengths``
  (int32 ``[B]``) and ``local_window_size`` (``w`` or ``(left, right)``) add
  masks. ``implementation`` may be None or 'xla' ('cudnn' needs an NVIDIA
  GPU). With ``return_residual`` the logsumexp ``[B, T, N]`` comes too.
  """
  out_shape = jnp.shape(query)

  def as_4d(t):
    t = jnp.asarray(t)
    return jnp.expand_dims(t, tuple(range(4 - t.ndim))) if t.ndim < 4 else t
  query_arr, key_arr, value_arr = as_4d(query), as_4d(key), as_4d(value)
  bias = as_4d(bias) if bias is not None else None
  mask = as_4d(mask) if mask is not None else None
  if query_seq_lengths is not None:
    query_seq_lengths = jnp.asarray(query_seq_lengths)
  if key_value_seq_lengths is not None:
    key_value_seq_lengths = jnp.asarray(key_value_seq_lengths)
  if isinstance(local_window_size, int):
    local_window_size = (local_window_size, local_window_size)

  def check(t, shape: Sequence[int], dtype, name):
    if t is None:
      return
    if t.ndim != len(shape):
      raise ValueError(f"dot_product_attention: {name} ndim should be {len(shape)}, but got "
                       f"{t.ndim}")
    if dtype is not None and t.dtype != dtype:
      raise ValueError(f"dot_product_attention: {name} dtype should be {dtype}, but got "
                       f"{t.dtype}")
    for want, got in zip(shape, t.shape):
      if want != -1 and want != got:
        raise ValueError(f"dot_product_attention: {name} shape should be {tuple(shape)}: but "
                         f"got {t.shape}")
  B, S, K, H = key_arr.shape
  check(value_arr, [B, S, K, H], key_arr.dtype, "value")
  check(query_arr, [B, -1, -1, H], key_arr.dtype, "query")
  check(mask, [-1] * 4, np.dtype(bool), "mask")
  check(bias, [-1] * 4, None, "bias")
  check(query_seq_lengths, [B], np.dtype("int32"), "query_seq_lengths")
  check(key_value_seq_lengths, [B], np.dtype("int32"), "key_value_seq_lengths")
  if query_arr.shape[-2] % K != 0:
    raise ValueError(f"The number of query heads must be a multiple of key/value heads, but "
                     f"got {query_arr.shape[-2]} vs {K}")
  scale_val = 1.0 / np.sqrt(H) if scale is None else scale
  if implementation == "cudnn":
    raise NotImplementedError("dot_product_attention: implementation='cudnn' needs cuDNN on an "
                              "NVIDIA GPU; rjax runs the 'xla' algorithm (implementation=None)")
  if implementation not in (None, "xla"):
    raise ValueError(f"Unsupported implementation option: {implementation}")
  out = _attention_xla(query_arr, key_arr, value_arr, bias, mask, is_causal, scale_val,
                       query_seq_lengths, key_value_seq_lengths, local_window_size,
                       return_residual)
  if return_residual:
    out, residual = out
    return jnp.reshape(out, out_shape), jnp.reshape(residual, out_shape[:-1])
  return jnp.reshape(out, out_shape)
