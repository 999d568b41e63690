"""rjax.nn Conv, ConvTranspose and pooling against NumPy references
(explicit sums over kernel offsets), check_grads, jit and vmap."""
from __future__ import annotations

import itertools

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


def _randomize(params, seed=0):
  r = _rng(seed)
  return rjax.tree_util.tree_map(lambda a: jnp.asarray(r.standard_normal(a.shape), a.dtype),
                                 params)


def _same_pads(size, k_eff, stride):
  out = -(-size // stride)
  total = max((out - 1) * stride + k_eff - size, 0)
  return (total // 2, total - total // 2)


def _np_conv(x, k, strides, padding, lhs_dil, rhs_dil, groups):
  """Channels-last conv: x [N, *S, C], k [*K, C // groups, F] (lax semantics)."""
  x, k = x.astype(np.float64), k.astype(np.float64)
  nsp = x.ndim - 2
  for d in range(nsp):   # input dilation: insert zeros
    if lhs_dil[d] > 1:
      s = x.shape[1 + d]
      shape = list(x.shape)
      shape[1 + d] = (s - 1) * lhs_dil[d] + 1
      z = np.zeros(shape)
      idx = [slice(None)] * x.ndim
      idx[1 + d] = slice(None, None, lhs_dil[d])
      z[tuple(idx)] = x
      x = z
  k_eff = [(k.shape[d] - 1) * rhs_dil[d] + 1 for d in range(nsp)]
  if padding == "SAME":
    pads = [_same_pads(x.shape[1 + d], k_eff[d], strides[d]) for d in range(nsp)]
  elif padding == "VALID":
    pads = [(0, 0)] * nsp
  else:
    pads = padding
  x = np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
  # a window larger than the padded input gives an empty output (as in lax)
  out_sp = [max((x.shape[1 + d] - k_eff[d]) // strides[d] + 1, 0) for d in range(nsp)]
  n, c, f = x.shape[0], x.shape[-1], k.shape[-1]
  cg, fg = c // groups, f // groups
  y = np.zeros((n, *out_sp, f))
  if 0 in out_sp:
    return y
  for idx in itertools.product(*(range(s) for s in k.shape[:nsp])):
    sl = tuple(slice(i * rhs_dil[d], i * rhs_dil[d] + strides[d] * (out_sp[d] - 1) + 1, strides[d])
               for d, i in enumerate(idx))
    xs = x[(slice(None),) + sl]
    for g in range(groups):
      y[..., g * fg:(g + 1) * fg] += xs[..., g * cg:(g + 1) * cg] @ k[idx][:, g * fg:(g + 1) * fg]
  return y


def _np_conv_transpose(x, k, strides, padding, rhs_dil, transpose_kernel):
  """lax.conv_transpose: a conv of the stride-dilated input (kernel flipped
  and its in/out swapped when transpose_kernel)."""
  nsp = x.ndim - 2
  if transpose_kernel:
    k = np.swapaxes(np.flip(k, tuple(range(nsp))), -1, -2)
  k_eff = [(k.shape[d] - 1) * rhs_dil[d] + 1 for d in range(nsp)]
  if isinstance(padding, str):
    pads = []
    for d in range(nsp):
      ke, s = k_eff[d], strides[d]
      if padding == "SAME":
        pad_len = ke + s - 2
        pad_a = ke - 1 if s > ke - 1 else int(np.ceil(pad_len / 2))
      else:
        pad_len = ke + s - 2 + max(ke - s, 0)
        pad_a = ke - 1
      pads.append((pad_a, pad_len - pad_a))
  else:
    pads = padding
  return _np_conv(x, k, (1,) * nsp, pads, strides, rhs_dil, 1)


@settings(max_examples=8)
@given(data=st.data())
def test_conv_matches_numpy(data):
  nsp = data.draw(st.integers(1, 3))
  groups = data.draw(st.sampled_from([1, 2]))
  cin = groups * data.draw(st.integers(1, 2))
  feat = groups * data.draw(st.integers(1, 2))
  ks = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
  spatial = tuple(data.draw(st.integers(3, 6)) for _ in range(nsp))
  strides = tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
  k_dil = tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
  padding = data.draw(st.sampled_from(["SAME", "VALID", "pairs", "int"]))
  # input dilation with a padding string is an error in lax (as in JAX)
  in_dil = (1,) * nsp if padding in ("SAME", "VALID") else \
      tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
  pad_arg = {"pairs": [(1, 0)] * nsp, "int": 1}.get(padding, padding)
  np_pad = {"pairs": [(1, 0)] * nsp, "int": [(1, 1)] * nsp}.get(padding, padding)
  x = _rng(0).standard_normal((2, *spatial, cin)).astype(np.float32)
  model = nn.Conv(feat, ks, strides=strides, padding=pad_arg, input_dilation=in_dil,
                  kernel_dilation=k_dil, feature_group_count=groups)
  v = model.init(random.PRNGKey(0), x)
  assert v["params"]["kernel"].shape == ks + (cin // groups, feat)
  assert v["params"]["bias"].shape == (feat,)
  params = _randomize(v["params"])
  want = _np_conv(x, np.asarray(params["kernel"]), strides, np_pad, in_dil, k_dil, groups)
  want = want + np.asarray(params["bias"], np.float64)
  got = model.apply({"params": params}, x)
  assert got.dtype == np.float32
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_conv_batch_dims_circular_causal_and_mask():
  r = _rng(1)
  model = nn.Conv(3, (3,), padding="CIRCULAR")
  x = r.standard_normal((2, 5, 2)).astype(np.float32)
  p = _randomize(model.init(random.PRNGKey(0), x)["params"])
  xp = np.concatenate([x[:, -1:], x, x[:, :1]], axis=1)
  want = _np_conv(xp, np.asarray(p["kernel"]), (1,), "VALID", (1,), (1,), 1) + np.asarray(p["bias"])
  np.testing.assert_allclose(model.apply({"params": p}, x), want, rtol=1e-4, atol=1e-4)
  causal = nn.Conv(2, (3,), padding="CAUSAL", kernel_dilation=2)
  pc = _randomize(causal.init(random.PRNGKey(0), x)["params"])
  want = _np_conv(x, np.asarray(pc["kernel"]), (1,), [(4, 0)], (1,), (2,), 1) + np.asarray(pc["bias"])
  np.testing.assert_allclose(causal.apply({"params": pc}, x), want, rtol=1e-4, atol=1e-4)
  # no batch dim, and two batch dims, fold into one
  conv = nn.Conv(2, (2, 2), use_bias=False)
  x4 = r.standard_normal((2, 3, 4, 4, 1)).astype(np.float32)
  pv = _randomize(conv.init(random.PRNGKey(0), x4[0, 0])["params"])
  assert set(pv) == {"kernel"}
  full = conv.apply({"params": pv}, x4)
  assert full.shape == (2, 3, 4, 4, 2)
  np.testing.assert_allclose(conv.apply({"params": pv}, x4[1, 2]), full[1, 2], rtol=1e-5)
  mask = np.zeros((2, 2, 1, 2), np.float32)
  mask[0, 0] = 1
  masked = nn.Conv(2, (2, 2), use_bias=False, mask=mask)
  np.testing.assert_allclose(masked.apply({"params": pv}, x4[0, 0]),
                             _np_conv(x4[0, 0][None], np.asarray(pv["kernel"]) * mask, (1, 1),
                                      "SAME", (1, 1), (1, 1), 1)[0], rtol=1e-4, atol=1e-5)
  with pytest.raises(TypeError, match="tuple/list"):
    nn.Conv(2, 3).init(random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="feature_group_count"):
    nn.Conv(2, (3,), feature_group_count=3).init(random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="padding"):
    nn.Conv(2, (3,), padding=[(1, 2, 3)]).init(random.PRNGKey(0), x)


@settings(max_examples=15)
@given(data=st.data())
def test_conv_transpose_matches_numpy(data):
  nsp = data.draw(st.integers(1, 2))
  ks = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
  strides = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
  k_dil = tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
  padding = data.draw(st.sampled_from(["SAME", "VALID", "pairs"]))
  transpose_kernel = data.draw(st.booleans())
  pad = [(1, 2)] * nsp if padding == "pairs" else padding
  x = _rng(2).standard_normal((2, *([3] * nsp), 2)).astype(np.float32)
  model = nn.ConvTranspose(3, ks, strides=strides, padding=pad, kernel_dilation=k_dil,
                           transpose_kernel=transpose_kernel)
  v = model.init(random.PRNGKey(0), x)
  assert v["params"]["kernel"].shape == ks + ((3, 2) if transpose_kernel else (2, 3))
  p = _randomize(v["params"])
  want = _np_conv_transpose(x, np.asarray(p["kernel"]), strides, pad, k_dil, transpose_kernel)
  np.testing.assert_allclose(model.apply({"params": p}, x), want + np.asarray(p["bias"]),
                             rtol=1e-4, atol=1e-4)


def test_conv_transpose_circular_and_stride_2_shape():
  x = _rng(3).standard_normal((1, 4, 4, 2)).astype(np.float32)
  up = nn.ConvTranspose(5, (3, 3), strides=(2, 2))
  assert up.apply(up.init(random.PRNGKey(0), x), x).shape == (1, 8, 8, 5)
  circ = nn.ConvTranspose(1, (3,), strides=(2,), padding="CIRCULAR", use_bias=False)
  x1 = _rng(4).standard_normal((1, 4, 1)).astype(np.float32)
  p = _randomize(circ.init(random.PRNGKey(0), x1)["params"])
  full = _np_conv_transpose(x1, np.asarray(p["kernel"]), (2,), "VALID", (1,), False)[0, :, 0]
  # wrap the full output (length 9) onto the period 8 = 4 * stride; Flax pads it
  # to 24 = 3 periods with (8, 7) (the extra element on the left) and folds
  padded = np.pad(full, (8, 7))
  want = padded.reshape(-1, 8).sum(0)
  np.testing.assert_allclose(circ.apply({"params": p}, x1)[0, :, 0], want, rtol=1e-4, atol=1e-5)


def test_conv_grads_jit_vmap():
  with enable_x64():
    x = jnp.asarray(_rng(5).standard_normal((1, 4, 4, 2)))
    for model in (nn.Conv(2, (2, 2), strides=2, feature_group_count=2, param_dtype=jnp.float64),
                  nn.ConvTranspose(2, (2, 2), strides=(2, 2), param_dtype=jnp.float64)):
      p = _randomize(model.init(random.PRNGKey(0), x)["params"])
      check_grads(lambda pp, xx, m=model: m.apply({"params": pp}, xx), (p, x), order=1,
                  modes=("fwd", "rev"))
  model = nn.Conv(3, (3, 3))
  x = _rng(6).standard_normal((4, 5, 5, 2)).astype(np.float32)
  v = model.init(random.PRNGKey(0), x)
  want = model.apply(v, x)
  np.testing.assert_allclose(rjax.jit(model.apply)(v, x), want, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(rjax.vmap(lambda xi: model.apply(v, xi))(x), want, rtol=1e-5,
                             atol=1e-5)


# -- pooling ---------------------------------------------------------------------------

def _np_pool(x, window, strides, padding, fill, reduce):
  nsp = len(window)
  strides = strides or (1,) * nsp
  if padding == "SAME":
    pads = [_same_pads(x.shape[-1 - nsp + d], window[d], strides[d]) for d in range(nsp)]
  elif padding == "VALID":
    pads = [(0, 0)] * nsp
  else:
    pads = padding
  nb = x.ndim - nsp - 1
  xp = np.pad(x.astype(np.float64), [(0, 0)] * nb + list(pads) + [(0, 0)], constant_values=fill)
  out_sp = [(xp.shape[nb + d] - window[d]) // strides[d] + 1 for d in range(nsp)]
  out = np.empty(x.shape[:nb] + tuple(out_sp) + x.shape[-1:])
  for o in itertools.product(*(range(s) for s in out_sp)):
    sl = tuple(slice(o[d] * strides[d], o[d] * strides[d] + window[d]) for d in range(nsp))
    win = xp[(slice(None),) * nb + sl]
    out[(slice(None),) * nb + o] = reduce(win.reshape(x.shape[:nb] + (-1, x.shape[-1])), axis=-2)
  return out


@settings(max_examples=20)
@given(data=st.data())
def test_pools_match_numpy(data):
  nsp = data.draw(st.integers(1, 2))
  nb = data.draw(st.integers(0, 2))
  window = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
  strides = data.draw(st.one_of(st.none(), st.just(tuple(data.draw(st.integers(1, 2))
                                                          for _ in range(nsp)))))
  padding = data.draw(st.sampled_from(["SAME", "VALID", "pairs"]))
  pad = [(1, 0)] * nsp if padding == "pairs" else padding
  x = _rng(7).standard_normal((2,) * nb + (4,) * nsp + (3,)).astype(np.float32)
  np.testing.assert_allclose(nn.max_pool(x, window, strides, pad),
                             _np_pool(x, window, strides, pad, -np.inf, np.max), rtol=1e-6)
  np.testing.assert_allclose(nn.min_pool(x, window, strides, pad),
                             _np_pool(x, window, strides, pad, np.inf, np.min), rtol=1e-6)
  np.testing.assert_allclose(nn.avg_pool(x, window, strides, pad),
                             _np_pool(x, window, strides, pad, 0., np.sum) / np.prod(window),
                             rtol=1e-5, atol=1e-6)
  counts = _np_pool(np.ones_like(x), window, strides, pad, 0., np.sum)
  with np.errstate(invalid="ignore"):   # a window wholly in the padding: 0 / 0 (as Flax)
    want = _np_pool(x, window, strides, pad, 0., np.sum) / counts
  np.testing.assert_allclose(nn.avg_pool(x, window, strides, pad, count_include_pad=False),
                             want, rtol=1e-5, atol=1e-6)


def test_pool_grads_and_errors():
  with enable_x64():
    x = jnp.asarray(_rng(8).permutation(32).reshape(1, 4, 4, 2).astype(np.float64))
    check_grads(lambda z: nn.avg_pool(z, (2, 2), (1, 1), "SAME"), (x,), order=2)
    check_grads(lambda z: nn.max_pool(z, (2, 2), (2, 2)), (x,), order=1)
  with pytest.raises(ValueError, match="len"):
    nn.max_pool(jnp.ones((1, 4, 4, 1)), (2, 2), (1,))
  with pytest.raises(ValueError, match="too few"):
    nn.max_pool(jnp.ones((4,)), (2, 2))


class _Small(nn.Module):
  @nn.compact
  def __call__(self, x):
    h = nn.Conv(2, (2, 2), strides=2)(x)
    h = nn.max_pool(h, (2, 1), padding="SAME")
    return nn.ConvTranspose(1, (2, 2), strides=(2, 2), use_bias=False)(h)


def test_conv_params_and_output_match_flax():
  # Reference: flax 0.12.8 with jax 0.10.2, the same module,
  # _Small().init(jax.random.PRNGKey(0), x) and _Small().apply(v, x) (rounded to 7 places).
  x = (np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) - 8) / 8
  v = _Small().init(random.PRNGKey(0), x)
  conv_k = [[[[0.33615970611572266, -0.1447726935148239]],
             [[0.23295560479164124, -0.6032305955886841]]],
            [[[0.18400819599628448, 0.4151614010334015]],
             [[-0.13199490308761597, -0.24028269946575165]]]]
  tconv_k = [[[[-0.16218949854373932], [-0.29727789759635925]],
              [[0.3277961015701294], [0.26918360590934753]]],
             [[[0.2968870997428894], [0.5074884295463562]],
              [[-0.4655042886734009], [-0.04558970034122467]]]]
  assert set(v["params"]) == {"Conv_0", "ConvTranspose_0"}
  assert set(v["params"]["ConvTranspose_0"]) == {"kernel"}
  np.testing.assert_allclose(v["params"]["Conv_0"]["kernel"], conv_k, rtol=1e-6, atol=1e-7)
  np.testing.assert_array_equal(v["params"]["Conv_0"]["bias"], [0., 0.])
  np.testing.assert_allclose(v["params"]["ConvTranspose_0"]["kernel"], tconv_k, rtol=1e-6,
                             atol=1e-7)
  want = [[-0.04328890144824982, 0.2931872010231018, -0.10904119908809662, 0.266574889421463],
          [0.1620921939611435, -0.17129120230674744, 0.17442409694194794, -0.1538819968700409],
          [-0.01716030016541481, 0.002333099953830242, -0.08291260153055191,
           -0.024279199540615082],
          [0.00781640037894249, -0.0009138999739661813, 0.020148400217294693,
           0.016495300456881523]]
  np.testing.assert_allclose(np.asarray(_Small().apply(v, x))[0, :, :, 0], want, rtol=1e-5,
                             atol=1e-6)


class _CNN(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.relu(nn.Conv(8, (3, 3))(x))
    x = nn.max_pool(x, (2, 2), (2, 2))
    x = nn.GroupNorm(num_groups=2)(nn.Conv(8, (3, 3), feature_group_count=2)(x))
    x = nn.avg_pool(nn.relu(x), (2, 2), (2, 2))
    x = nn.Dropout(0.1, deterministic=not train)(x.reshape(x.shape[0], -1))
    return nn.Dense(2)(x)


def test_a_small_cnn_learns_with_rjax_optim():
  from rjax import optim
  r = _rng(0)
  x = r.standard_normal((32, 8, 8, 1)).astype(np.float32)
  labels = (x[:, :4].mean((1, 2, 3)) > x[:, 4:].mean((1, 2, 3))).astype(np.int32)
  model = _CNN()
  params = model.init(random.PRNGKey(0), x)["params"]
  tx = optim.adam(1e-2)
  opt_state = tx.init(params)

  def loss_fn(p, key):
    logits = model.apply({"params": p}, x, train=True, rngs={"dropout": key})
    return -jnp.mean(jnp.sum(nn.log_softmax(logits) * nn.one_hot(labels, 2), -1))

  @rjax.jit
  def step(p, s, key):
    loss, g = rjax.value_and_grad(loss_fn)(p, key)
    updates, s = tx.update(g, s, p)
    return optim.apply_updates(p, updates), s, loss

  key = random.PRNGKey(1)
  losses = []
  for _ in range(60):
    key, sub = random.split(key)
    params, opt_state, loss = step(params, opt_state, sub)
    losses.append(float(loss))
  assert losses[-1] < 0.5 * losses[0]
  acc = np.mean(np.argmax(np.asarray(model.apply({"params": params}, x)), -1) == labels)
  assert acc > 0.9
