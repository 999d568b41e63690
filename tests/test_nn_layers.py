"""rjax.nn layers: each against a NumPy reference (hypothesis over shapes and
options), gradients with check_grads (float64), and jit/vmap where relevant."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import nn, random
from rjax.test_util import check_grads

from util import enable_x64

_rng = np.random.default_rng


def _np_tree(t):
  return rjax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), t)


def _randomize(params, seed=0):
  """Replaces every parameter with N(0, 1) numbers (zeros/ones inits would
  hide mistakes in bias and scale)."""
  r = _rng(seed)
  return rjax.tree_util.tree_map(
      lambda a: jnp.asarray(r.standard_normal(a.shape), a.dtype), params)


def _check_param_grads(model, x, order=1, **kw):
  """check_grads of apply with respect to params and input, in float64."""
  with enable_x64():
    x = jnp.asarray(x, jnp.float64)
    params = _randomize(model.init(random.PRNGKey(0), x, **kw)["params"], 1)
    check_grads(lambda p, xx: model.apply({"params": p}, xx, **kw), (params, x), order=order,
                modes=("fwd", "rev"))


# -- Dense / DenseGeneral / Embed -------------------------------------------------

@settings(max_examples=15)
@given(batch=st.lists(st.integers(1, 3), max_size=2), fin=st.integers(1, 5),
       fout=st.integers(1, 5), use_bias=st.booleans(), seed=st.integers(0, 1000))
def test_dense_matches_numpy(batch, fin, fout, use_bias, seed):
  x = _rng(seed).standard_normal((*batch, fin)).astype(np.float32)
  model = nn.Dense(fout, use_bias=use_bias)
  v = model.init(random.PRNGKey(seed), x)
  assert set(v["params"]) == ({"kernel", "bias"} if use_bias else {"kernel"})
  p = _np_tree(_randomize(v["params"], seed))
  want = x @ p["kernel"] + (p["bias"] if use_bias else 0)
  got = model.apply({"params": _randomize(v["params"], seed)}, x)
  assert got.dtype == np.float32 and got.shape == (*batch, fout)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_dense_dtypes_and_grads():
  x = _rng(0).standard_normal((2, 3)).astype(np.float32)
  v = nn.Dense(4).init(random.PRNGKey(0), x)
  assert nn.Dense(4, dtype=jnp.float16).apply(v, x).dtype == np.float16
  assert nn.Dense(4).apply(v, np.arange(6).reshape(2, 3)).dtype == np.float32
  assert nn.Dense(4, param_dtype=jnp.float16).init(random.PRNGKey(0), x)["params"]["kernel"].dtype \
      == np.float16
  _check_param_grads(nn.Dense(3), _rng(1).standard_normal((2, 4)), order=2)
  with pytest.raises(ValueError, match="at least one dimension"):
    nn.Dense(3).init(random.PRNGKey(0), jnp.float32(1.0))


@settings(max_examples=10)
@given(case=st.sampled_from([
    ((2, 3, 4), -1, 5), ((2, 3, 4), (1, 2), (2, 3)), ((2, 3, 4), 0, (3,)),
    ((3, 4), (-1,), (2, 2))]), seed=st.integers(0, 1000))
def test_dense_general_matches_numpy(case, seed):
  shape, axis, features = case
  x = _rng(seed).standard_normal(shape).astype(np.float32)
  model = nn.DenseGeneral(features, axis=axis)
  v = _randomize(model.init(random.PRNGKey(0), x)["params"], seed)
  axes = tuple(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis))
  feats = (features,) if isinstance(features, int) else features
  assert v["kernel"].shape == tuple(shape[a] for a in axes) + feats
  p = _np_tree(v)
  want = np.tensordot(x, p["kernel"], (axes, tuple(range(len(axes))))) + p["bias"]
  np.testing.assert_allclose(model.apply({"params": v}, x), want, rtol=1e-5, atol=1e-5)


def test_dense_general_batch_dims_and_init_fans():
  x = _rng(0).standard_normal((3, 4, 5)).astype(np.float32)
  model = nn.DenseGeneral(2, axis=-1, batch_dims=(0,))
  v = _randomize(model.init(random.PRNGKey(0), x)["params"])
  assert v["kernel"].shape == (3, 5, 2) and v["bias"].shape == (3, 2)
  p = _np_tree(v)
  want = np.einsum("bld,bdf->blf", x, p["kernel"]) + p["bias"][:, None, :]
  np.testing.assert_allclose(model.apply({"params": v}, x), want, rtol=1e-5, atol=1e-5)
  # the kernel initializer sees the flattened (in, out) shape: lecun_normal over fan_in 3*4
  k = nn.DenseGeneral((5, 6), axis=(1, 2)).init(random.PRNGKey(7), jnp.ones((2, 3, 4)))
  flat = nn.initializers.lecun_normal()(_kernel_key(7), (12, 30))
  np.testing.assert_allclose(np.asarray(k["params"]["kernel"]).reshape(12, 30), flat, rtol=1e-6)
  _check_param_grads(nn.DenseGeneral((2, 2), axis=(-2, -1)), _rng(2).standard_normal((2, 3, 2)))


def _kernel_key(seed):
  """The key Flax's scope gives a top-level module's first parameter:
  fold_in(key, sha1(bytes of counter 1)[:4])."""
  from rjax._src.nn.module import _fold_in_static
  return _fold_in_static(random.PRNGKey(seed), (1,))


@settings(max_examples=10)
@given(ids_shape=st.lists(st.integers(1, 4), min_size=1, max_size=2), n=st.integers(2, 6),
       feat=st.integers(1, 4), seed=st.integers(0, 1000))
def test_embed_matches_numpy(ids_shape, n, feat, seed):
  ids = _rng(seed).integers(0, n, ids_shape).astype(np.int32)
  model = nn.Embed(n, feat)
  v = model.init(random.PRNGKey(seed), ids)
  table = np.asarray(v["params"]["embedding"])
  assert table.shape == (n, feat)
  np.testing.assert_array_equal(model.apply(v, ids), table[ids])
  q = _rng(seed + 1).standard_normal((3, feat)).astype(np.float32)
  np.testing.assert_allclose(model.apply(v, q, method=nn.Embed.attend), q @ table.T, rtol=1e-5,
                             atol=1e-6)


def test_embed_init_and_errors():
  v = nn.Embed(5, 3).init(random.PRNGKey(0), jnp.zeros((2,), jnp.int32))
  # variance_scaling(1.0, 'fan_in', 'normal', out_axis=0): fan_in is the feature axis (3)
  want = np.asarray(random.normal(_kernel_key(0), (5, 3))) / np.sqrt(3.)
  np.testing.assert_allclose(v["params"]["embedding"], want, rtol=1e-6)
  with pytest.raises(ValueError, match="integer"):
    nn.Embed(5, 3).apply(v, jnp.zeros((2,)))
  one = nn.Embed(1, 2)
  v1 = one.init(random.PRNGKey(0), jnp.zeros((2,), jnp.int32))
  out = np.asarray(one.apply(v1, jnp.array([0, 1])))
  np.testing.assert_array_equal(out[0], np.asarray(v1["params"]["embedding"])[0])
  assert np.all(np.isnan(out[1]))
  with enable_x64():
    table = jnp.asarray(_rng(0).standard_normal((5, 3)))
    ids = jnp.array([[0, 4], [2, 2]])
    check_grads(lambda t: nn.Embed(5, 3).apply({"params": {"embedding": t}}, ids), (table,), 1)


# -- normalization -----------------------------------------------------------------

def _np_norm(x, axes, scale, bias, eps, subtract_mean=True):
  x = x.astype(np.float64)
  mean = x.mean(axes, keepdims=True) if subtract_mean else 0.
  var = ((x - mean) ** 2).mean(axes, keepdims=True) if subtract_mean else (x * x).mean(
      axes, keepdims=True)
  y = (x - mean) / np.sqrt(var + eps)
  return y * (1 if scale is None else scale) + (0 if bias is None else bias)


@settings(max_examples=15)
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3),
       axes=st.sampled_from(["last", "all_but_first"]), use_bias=st.booleans(),
       use_scale=st.booleans(), seed=st.integers(0, 1000))
def test_layer_norm_matches_numpy(shape, axes, use_bias, use_scale, seed):
  x = (_rng(seed).standard_normal(shape) * 3 + 1).astype(np.float32)
  red = (-1,) if axes == "last" else tuple(range(1, len(shape)))
  # Flax's default fast variance E[x^2] - E[x]^2 loses float32 digits when the
  # spread is small next to the mean; the exact two-pass form is tested here,
  # the fast one on well-conditioned data below.
  model = nn.LayerNorm(reduction_axes=red, feature_axes=red, use_bias=use_bias,
                       use_scale=use_scale, use_fast_variance=False)
  v = model.init(random.PRNGKey(0), x)
  fshape = tuple(shape[a] for a in red)
  v = {"params": v.get("params", {})}   # no parameters at all: init returns {}
  assert {k: a.shape for k, a in v["params"].items()} == \
      {**({"bias": fshape} if use_bias else {}), **({"scale": fshape} if use_scale else {})}
  p = _np_tree(_randomize(v["params"], seed))
  bshape = [1] + list(shape[1:]) if axes != "last" else [1] * (len(shape) - 1) + [shape[-1]]
  want = _np_norm(x, red, p["scale"].reshape(bshape) if use_scale else None,
                  p["bias"].reshape(bshape) if use_bias else None, 1e-6)
  got = model.apply({"params": _randomize(v["params"], seed)}, x)
  np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


def test_layer_norm_fast_variance_and_dtypes():
  x = _rng(11).standard_normal((4, 16)).astype(np.float32)
  v = nn.LayerNorm().init(random.PRNGKey(0), x)
  np.testing.assert_allclose(nn.LayerNorm().apply(v, x), _np_norm(x, (-1,), None, None, 1e-6),
                             rtol=1e-4, atol=1e-4)
  assert nn.LayerNorm().apply(v, x.astype(np.float16)).dtype == np.float32   # params promote
  assert nn.LayerNorm(dtype=jnp.float16).apply(v, x).dtype == np.float16


def test_rms_norm_and_group_norm_match_numpy():
  r = _rng(3)
  x = (r.standard_normal((2, 3, 6)) + 0.5).astype(np.float32)
  v = nn.RMSNorm().init(random.PRNGKey(0), x)
  assert set(v["params"]) == {"scale"}
  p = _randomize(v["params"])
  want = _np_norm(x, (-1,), np.asarray(p["scale"]), None, 1e-6, subtract_mean=False)
  np.testing.assert_allclose(nn.RMSNorm().apply({"params": p}, x), want, rtol=1e-4, atol=1e-5)
  for groups, size in ((3, None), (None, 3), (1, None), (6, None)):
    model = nn.GroupNorm(num_groups=groups, group_size=size)
    v = _randomize(model.init(random.PRNGKey(0), x)["params"])
    g = groups or 6 // size
    xg = x.reshape(2, 3, g, 6 // g)
    normed = _np_norm(xg, (1, 3), None, None, 1e-6).reshape(x.shape)
    want = normed * np.asarray(v["scale"]) + np.asarray(v["bias"])
    np.testing.assert_allclose(model.apply({"params": v}, x), want, rtol=1e-4, atol=1e-4)
  with pytest.raises(ValueError, match="does not divide"):
    nn.GroupNorm(num_groups=4).init(random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="exactly one"):
    nn.GroupNorm(num_groups=2, group_size=3).init(random.PRNGKey(0), x)


@pytest.mark.parametrize("model", [nn.LayerNorm(), nn.RMSNorm(), nn.GroupNorm(num_groups=2),
                                   nn.LayerNorm(reduction_axes=(1, 2), feature_axes=-1)])
def test_norm_grads(model):
  x = _rng(4).standard_normal((2, 3, 4)) * 2 + 1
  _check_param_grads(model, x, order=2)


def test_batch_norm_train_and_eval_match_numpy():
  x = (_rng(5).standard_normal((6, 2, 3)) * 2 + 1).astype(np.float32)
  model = nn.BatchNorm(momentum=0.8)
  v = model.init(random.PRNGKey(0), x, use_running_average=False)
  assert {k: a.shape for k, a in v["params"].items()} == {"scale": (3,), "bias": (3,)}
  np.testing.assert_array_equal(v["batch_stats"]["mean"], np.zeros(3))   # init does not update
  np.testing.assert_array_equal(v["batch_stats"]["var"], np.ones(3))
  params = _randomize(v["params"])
  p = _np_tree(params)
  y, upd = model.apply({"params": params, "batch_stats": v["batch_stats"]}, x,
                       use_running_average=False, mutable=["batch_stats"])
  np.testing.assert_allclose(y, _np_norm(x, (0, 1), p["scale"], p["bias"], 1e-5), rtol=1e-4,
                             atol=1e-4)
  x64 = x.astype(np.float64)
  np.testing.assert_allclose(upd["batch_stats"]["mean"], 0.2 * x64.mean((0, 1)), rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(upd["batch_stats"]["var"], 0.8 + 0.2 * x64.var((0, 1)), rtol=1e-5)
  stats = {"mean": jnp.array([0.5, -1., 2.]), "var": jnp.array([1., 4., 0.25])}
  y_eval = model.apply({"params": params, "batch_stats": stats}, x, use_running_average=True)
  want = (x64 - np.asarray(stats["mean"])) / np.sqrt(np.asarray(stats["var"]) + 1e-5)
  np.testing.assert_allclose(y_eval, want * p["scale"] + p["bias"], rtol=1e-4, atol=1e-4)
  # channel axis 1 (NCHW-style) and gradients in training mode
  v1 = nn.BatchNorm(axis=1, use_running_average=True).init(random.PRNGKey(0), x)
  assert v1["batch_stats"]["mean"].shape == (2,)
  with enable_x64():
    xx = jnp.asarray(x, jnp.float64)
    bn = nn.BatchNorm(use_running_average=False)
    vv = bn.init(random.PRNGKey(0), xx)
    check_grads(lambda pp, z: bn.apply({"params": pp, "batch_stats": vv["batch_stats"]}, z,
                                       mutable=["batch_stats"])[0],
                (_randomize(vv["params"]), xx), order=1)


def test_batch_norm_under_pmap_averages_statistics():
  x = (_rng(6).standard_normal((2, 4, 3)) * 2).astype(np.float32)
  model = nn.BatchNorm(use_running_average=False, axis_name="batch")
  v = model.init(random.PRNGKey(0), x[0])

  def step(xs):
    return model.apply(v, xs, mutable=["batch_stats"])
  y, upd = rjax.pmap(step, axis_name="batch")(x)
  flat = x.reshape(8, 3).astype(np.float64)
  want = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5)
  np.testing.assert_allclose(np.asarray(y).reshape(8, 3), want, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(np.asarray(upd["batch_stats"]["mean"])[0], 0.01 * flat.mean(0),
                             rtol=1e-4, atol=1e-6)


# -- dropout -------------------------------------------------------------------------

@settings(max_examples=10)
@given(rate=st.sampled_from([0.1, 0.5, 0.9]), seed=st.integers(0, 1000),
       bdims=st.sampled_from([(), (0,), (1,), (0, 1)]))
def test_dropout_matches_bernoulli_formula(rate, seed, bdims):
  x = _rng(seed).standard_normal((4, 5)).astype(np.float32) + 3
  key = random.PRNGKey(seed)
  model = nn.Dropout(rate, broadcast_dims=bdims)
  got = np.asarray(model.apply({}, x, deterministic=False, rng=key))
  mshape = tuple(1 if d in bdims else s for s, d in zip(x.shape, range(2)))
  keep = np.broadcast_to(np.asarray(random.bernoulli(key, 1 - rate, mshape)), x.shape)
  np.testing.assert_allclose(got, np.where(keep, x / (1 - rate), 0), rtol=1e-6)
  # the 'dropout' stream gives a mask too, the same for the same key
  a = model.apply({}, x, deterministic=False, rngs={"dropout": key})
  b = model.apply({}, x, deterministic=False, rngs={"dropout": key})
  np.testing.assert_array_equal(a, b)


def test_dropout_edge_cases():
  x = jnp.ones((3, 3))
  np.testing.assert_array_equal(nn.Dropout(0.5).apply({}, x, deterministic=True), x)
  np.testing.assert_array_equal(nn.Dropout(0.0).apply({}, x, deterministic=False), x)
  np.testing.assert_array_equal(nn.Dropout(1.0).apply({}, x, deterministic=False), 0 * x)
  with pytest.raises(ValueError, match="rate"):
    nn.Dropout(1.5).apply({}, x, deterministic=False)
  big = np.asarray(nn.Dropout(0.3).apply({}, jnp.ones((200, 200)), deterministic=False,
                                         rngs={"dropout": random.PRNGKey(0)}))
  assert abs((big == 0).mean() - 0.3) < 0.02
  key = random.PRNGKey(1)
  with enable_x64():
    xx = jnp.asarray(_rng(0).standard_normal((3, 4)))
    check_grads(lambda z: nn.Dropout(0.5).apply({}, z, deterministic=False, rng=key), (xx,), 2)


# -- attention -----------------------------------------------------------------------

def _np_softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _np_attention(q, k, v, mask=None, bias=None):
  w = np.einsum("...qhd,...khd->...hqk", q / np.sqrt(q.shape[-1]), k)
  if bias is not None:
    w = w + bias
  if mask is not None:
    w = np.where(mask, w, np.finfo(np.float32).min)
  return np.einsum("...hqk,...khd->...qhd", _np_softmax(w), v)


@settings(max_examples=10)
@given(b=st.integers(1, 2), lq=st.integers(1, 4), lk=st.integers(1, 4), h=st.integers(1, 3),
       d=st.integers(1, 4), seed=st.integers(0, 1000), masked=st.booleans())
def test_dot_product_attention_matches_numpy(b, lq, lk, h, d, seed, masked):
  r = _rng(seed)
  q, k, v = (r.standard_normal(s).astype(np.float32)
             for s in ((b, lq, h, d), (b, lk, h, d), (b, lk, h, d + 1)))
  mask = r.random((b, 1, lq, lk)) > 0.3 if masked else None
  bias = r.standard_normal((b, h, lq, lk)).astype(np.float32)
  got = nn.attention.dot_product_attention(q, k, v, bias=bias, mask=mask)
  np.testing.assert_allclose(got, _np_attention(q, k, v, mask, bias), rtol=1e-4, atol=1e-5)


def test_masks():
  ids = np.array([[3, 1, 0], [2, 0, 0]])
  m = np.asarray(nn.make_attention_mask(ids > 0, ids > 0))
  assert m.shape == (2, 1, 3, 3) and m.dtype == np.float32
  np.testing.assert_array_equal(m[:, 0], (ids[:, :, None] > 0) & (ids[:, None, :] > 0))
  c = np.asarray(nn.make_causal_mask(ids))
  np.testing.assert_array_equal(c[0, 0], np.tril(np.ones((3, 3))))
  assert nn.make_causal_mask(ids, extra_batch_dims=1).shape == (1, 2, 1, 3, 3)
  np.testing.assert_array_equal(nn.combine_masks(m, None, c), m * c)
  assert nn.combine_masks(None, None) is None
  with pytest.raises(ValueError, match="same rank"):
    nn.combine_masks(m, c[0])


def test_multi_head_attention_matches_numpy_and_flax_layout():
  r = _rng(7)
  x = r.standard_normal((2, 4, 6)).astype(np.float32)
  kv = r.standard_normal((2, 5, 6)).astype(np.float32)
  model = nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=4, out_features=3)
  v = model.init(random.PRNGKey(0), x, kv)
  shapes = rjax.tree_util.tree_map(lambda a: tuple(a.shape), v["params"])
  assert shapes == {"query": {"kernel": (6, 2, 2), "bias": (2, 2)},
                    "key": {"kernel": (6, 2, 2), "bias": (2, 2)},
                    "value": {"kernel": (6, 2, 2), "bias": (2, 2)},
                    "out": {"kernel": (2, 2, 3), "bias": (3,)}}
  params = _randomize(v["params"], 3)
  p = _np_tree(params)
  proj = lambda z, n: np.einsum("bld,dhk->blhk", z, p[n]["kernel"]) + p[n]["bias"]  # noqa: E731
  mask = nn.make_attention_mask(np.ones((2, 4)), np.array([[1, 1, 1, 0, 0], [1] * 5]))
  att = _np_attention(proj(x, "query"), proj(kv, "key"), proj(kv, "value"), np.asarray(mask) > 0)
  want = np.einsum("blhk,hko->blo", att, p["out"]["kernel"]) + p["out"]["bias"]
  got = model.apply({"params": params}, x, kv, mask=mask)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(rjax.jit(lambda pp, a, b, m: model.apply({"params": pp}, a, b, mask=m))(
      params, x, kv, mask), got, rtol=1e-5, atol=1e-5)
  # self-attention: inputs_k = inputs_v = inputs_q, and the SelfAttention subclass
  sa = nn.SelfAttention(num_heads=2, qkv_features=4, out_features=3)
  np.testing.assert_allclose(sa.apply({"params": params}, x), model.apply({"params": params}, x),
                             rtol=1e-6)
  # sow_weights=True records the attention weights in 'intermediates'
  out, inter = model.apply({"params": params}, x, kv, mask=mask, sow_weights=True,
                           mutable=["intermediates"])
  np.testing.assert_allclose(out, got, rtol=1e-6)
  (w,) = inter["intermediates"]["attention_weights"]
  assert w.shape == (2, 2, 4, 5)
  np.testing.assert_allclose(np.asarray(w).sum(-1), np.ones((2, 2, 4)), rtol=1e-5)
  np.testing.assert_array_equal(np.asarray(w)[0, :, :, 3:], 0)   # masked keys
  with pytest.raises(ValueError, match="divisible"):
    nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=6).init(random.PRNGKey(0), x)


def test_multi_head_attention_dropout_grads_and_vmap():
  x = _rng(8).standard_normal((2, 3, 4)).astype(np.float32)
  model = nn.MultiHeadDotProductAttention(num_heads=2, dropout_rate=0.5)
  v = model.init(random.PRNGKey(0), x, deterministic=True)
  det = model.apply(v, x, deterministic=True)
  a = model.apply(v, x, deterministic=False, rngs={"dropout": random.PRNGKey(1)})
  b = model.apply(v, x, deterministic=False, rngs={"dropout": random.PRNGKey(2)})
  assert not np.allclose(a, det) and not np.allclose(a, b)
  with pytest.raises(nn.InvalidRngError, match="dropout"):
    model.apply(v, x, deterministic=False)
  _check_param_grads(nn.MultiHeadDotProductAttention(num_heads=2, normalize_qk=True),
                     _rng(9).standard_normal((1, 3, 4)))
  per = rjax.vmap(lambda xi: model.apply(v, xi, deterministic=True))(x)
  np.testing.assert_allclose(per, det, rtol=1e-5, atol=1e-6)
