"""jax.nn's functions in rjax.nn against JAX: log1mexp, logmeanexp,
sparse_plus, sparse_sigmoid, dot_product_attention (JAX's signature), and
the initializers delta_orthogonal / Initializer."""
import functools

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import nn
from rjax.test_util import check_grads

from util import enable_x64

special = st.sampled_from([0.0, -0.0, 1e-8, 0.5, np.log(2), 1.0, 20.0, 100.0, -1.0, -1.5,
                           1.5, np.inf, -np.inf, np.nan])
# (no subnormal inputs: XLA flushes them to zero, so JAX's log1mexp(1e-40)
# is -inf where ours is the true -92)
values = st.lists(st.one_of(special, st.floats(-30, 30, allow_subnormal=False, width=32)),
                  min_size=1, max_size=8)


@pytest.mark.parametrize("name", ["log1mexp", "sparse_plus", "sparse_sigmoid"])
@settings(max_examples=12, deadline=None)
@given(xs=values)
def test_elementwise_match_jax(name, xs):
  x = np.array(xs, np.float32)
  with np.errstate(all="ignore"):
    want = np.asarray(getattr(jax.nn, name)(x))
  got = np.asarray(getattr(nn, name)(x))
  assert got.dtype == want.dtype
  np.testing.assert_allclose(got, want, rtol=4e-6, atol=1e-7, equal_nan=True)
  if name == "sparse_sigmoid":
    # jnp.clip's derivative at NaN is 0 in JAX and 1 here (a difference of
    # the numpy layer's clip, reported there); compare at the other points
    x = x[~np.isnan(x)]
  g = rjax.vmap(rjax.grad(lambda v: getattr(nn, name)(v)))(x)
  jg = jax.vmap(jax.grad(lambda v: getattr(jax.nn, name)(v)))(x)
  np.testing.assert_allclose(g, jg, rtol=1e-5, atol=1e-7, equal_nan=True)


def test_elementwise_numerical_grads():
  with enable_x64():
    check_grads(nn.log1mexp, (np.array([0.3, 2.0, 5.0]),), order=2, modes=("fwd", "rev"))
    check_grads(nn.sparse_plus, (np.array([-0.5, 0.2, 0.7]),), order=1, modes=("fwd", "rev"))
    check_grads(lambda x: nn.logmeanexp(x, axis=1), (np.random.RandomState(0).randn(2, 3),),
                order=2, modes=("fwd", "rev"))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 999), axis=st.sampled_from([None, 0, 1, (0, 1)]),
       keepdims=st.booleans(), use_where=st.booleans())
def test_logmeanexp_matches_jax(seed, axis, keepdims, use_where):
  rng = np.random.RandomState(seed)
  x = (rng.standard_normal((3, 4)) * 5).astype(np.float32)
  where = rng.random_sample((3, 4)) > 0.3 if use_where else None
  got = nn.logmeanexp(x, axis=axis, where=where, keepdims=keepdims)
  want = jax.nn.logmeanexp(x, axis=axis, where=where, keepdims=keepdims)
  assert got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 999), b=st.integers(1, 2), t=st.integers(1, 5), s=st.integers(1, 5),
       k=st.integers(1, 2), g=st.integers(1, 2), h=st.integers(1, 4),
       use_bias=st.booleans(), use_mask=st.booleans(), causal=st.booleans(),
       seqlens=st.booleans(), window=st.sampled_from([None, 1, (2, 0)]),
       scale=st.sampled_from([None, 0.3]), squeeze=st.booleans())
def test_dot_product_attention_matches_jax(seed, b, t, s, k, g, h, use_bias, use_mask, causal,
                                           seqlens, window, scale, squeeze):
  rng = np.random.RandomState(seed)
  n = k * g
  q = rng.standard_normal((b, t, n, h)).astype(np.float32)
  kk = rng.standard_normal((b, s, k, h)).astype(np.float32)
  v = rng.standard_normal((b, s, k, h)).astype(np.float32)
  bias = rng.standard_normal((1, n, t, s)).astype(np.float32) if use_bias else None
  mask = rng.random_sample((b, 1, t, s)) > 0.2 if use_mask else None
  kw = dict(scale=scale, is_causal=causal, local_window_size=window)
  if seqlens:
    kw["query_seq_lengths"] = rng.randint(1, t + 1, size=b).astype(np.int32)
    kw["key_value_seq_lengths"] = rng.randint(1, s + 1, size=b).astype(np.int32)
  args = (q, kk, v, bias, mask)
  if squeeze and b == 1 and not seqlens:
    args = (q[0], kk[0], v[0], None if bias is None else bias[0],
            None if mask is None else mask[0])
  # JAX's side jitted: eager, it compiles each of its ops for each new shape
  jattn = jax.jit(functools.partial(jax.nn.dot_product_attention, **kw))
  want = jattn(*args)
  got = nn.dot_product_attention(*args, **kw)
  assert got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
  out, lse = nn.dot_product_attention(*args, return_residual=True, **kw)
  jout, jlse = jax.jit(functools.partial(jax.nn.dot_product_attention, return_residual=True,
                                        **kw))(*args)
  np.testing.assert_allclose(lse, jlse, rtol=2e-5, atol=2e-5)
  gq = rjax.grad(lambda q_: jnp.sum(jnp.sin(nn.dot_product_attention(q_, *args[1:], **kw))))(
      args[0])
  jgq = jax.jit(jax.grad(lambda q_: jax.numpy.sum(jax.numpy.sin(
      jax.nn.dot_product_attention(q_, *args[1:], **kw)))))(args[0])
  np.testing.assert_allclose(gq, jgq, rtol=2e-4, atol=2e-5)


def test_dot_product_attention_errors_match_jax():
  q = np.ones((1, 2, 3, 4), np.float32)
  k = np.ones((1, 2, 2, 4), np.float32)
  for args, kw in [((q, k, k), {}), ((q, q, q.astype(np.float16)), {}),
                   ((q, q, q), {"implementation": "tpu"}),
                   ((q, q, q, None, np.ones((1, 1, 2, 2), np.float32)), {})]:
    with pytest.raises(ValueError):
      jax.nn.dot_product_attention(*args, **kw)
    with pytest.raises(ValueError):
      nn.dot_product_attention(*args, **kw)
  with pytest.raises(NotImplementedError, match="cudnn"):
    nn.dot_product_attention(q, q, q, implementation="cudnn")


def test_flax_attention_is_in_nn_attention():
  q = np.random.RandomState(0).standard_normal((2, 3, 1, 4)).astype(np.float32)
  v = np.random.RandomState(1).standard_normal((2, 3, 1, 5)).astype(np.float32)
  out = nn.attention.dot_product_attention(q, q, v, deterministic=True)
  assert out.shape == (2, 3, 1, 5)
  assert nn.attention.MultiHeadDotProductAttention is nn.MultiHeadDotProductAttention


@pytest.mark.parametrize("shape", [(3, 4, 4), (3, 3, 2, 5), (1, 3, 2, 3, 3)])
@pytest.mark.parametrize("seed", [0, 7])
def test_delta_orthogonal_matches_jax(shape, seed):
  got = nn.initializers.delta_orthogonal(scale=1.5)(rjax.random.PRNGKey(seed), shape)
  want = jax.nn.initializers.delta_orthogonal(scale=1.5)(jax.random.PRNGKey(seed), shape)
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_delta_orthogonal_errors():
  for shape in [(3, 3), (3, 5, 4)]:
    with pytest.raises(ValueError):
      jax.nn.initializers.delta_orthogonal()(jax.random.PRNGKey(0), shape)
    with pytest.raises(ValueError):
      nn.initializers.delta_orthogonal()(rjax.random.PRNGKey(0), shape)
  init = nn.initializers.normal()
  assert isinstance(nn.initializers.Initializer, type)
  assert callable(init)
