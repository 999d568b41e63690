"""rjax.example_libraries.{stax, optimizers} against JAX's own modules: the
same parameters for the same key, the same outputs, gradients and updates."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax.example_libraries import optimizers as joptimizers
from jax.example_libraries import stax as jstax

import rjax
import rjax.numpy as jnp
from rjax.example_libraries import optimizers, stax


def _close(got, want, rtol=2e-5, atol=2e-6):
  g_leaves, g_def = rjax.tree.flatten(got)
  w_leaves, w_def = jax.tree.flatten(want)
  assert len(g_leaves) == len(w_leaves), (g_def, w_def)
  for g, w in zip(g_leaves, w_leaves):
    if isinstance(w, (int, float)):   # e.g. sm3's shape, traced by our jit
      assert float(g) == w, (g, w)
      continue
    g, w = np.asarray(g), np.asarray(w)
    assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _shape_eq(got, want):
  assert jax.tree.map(int, jax.tree.leaves(want)) == [int(d) for d in rjax.tree.leaves(got)]


# Each: (name, builder(module) -> layer, input shape)
LAYERS = [
    ("dense", lambda m: m.Dense(5), (3, 4)),
    ("dense_custom_init", lambda m: m.Dense(3, W_init=m.glorot(), b_init=m.randn(0.5)), (2, 6)),
    ("conv_same", lambda m: m.Conv(3, (3, 3), strides=(2, 1), padding="SAME"), (2, 7, 6, 2)),
    ("conv_valid", lambda m: m.Conv(2, (2, 3)), (1, 5, 6, 3)),
    ("general_conv_nchw", lambda m: m.GeneralConv(("NCHW", "OIHW", "NCHW"), 4, (3, 2),
                                                  padding="SAME"), (2, 3, 5, 4)),
    ("conv_transpose", lambda m: m.ConvTranspose(3, (3, 3), strides=(2, 2), padding="SAME"),
     (2, 4, 5, 2)),
    ("conv_transpose_valid", lambda m: m.ConvTranspose(2, (2, 3), strides=(3, 1)), (1, 3, 4, 2)),
    ("conv1d_transpose", lambda m: m.Conv1DTranspose(4, (3,), strides=(2,), padding="SAME"),
     (2, 5, 3)),
    ("batchnorm", lambda m: m.BatchNorm(), (4, 3, 3, 2)),
    ("batchnorm_axis", lambda m: m.BatchNorm(axis=0, center=False), (5, 3)),
    ("batchnorm_noscale", lambda m: m.BatchNorm(axis=(0, 1), scale=False), (4, 3, 2)),
    ("maxpool", lambda m: m.MaxPool((2, 2), strides=(2, 1)), (2, 5, 6, 3)),
    ("sumpool_same", lambda m: m.SumPool((3, 2), padding="SAME"), (2, 5, 4, 1)),
    ("avgpool", lambda m: m.AvgPool((2, 3), padding="SAME"), (2, 5, 6, 2)),
    ("avgpool_spec", lambda m: m.AvgPool((2, 2), spec="NCHW"), (2, 3, 4, 5)),
    ("flatten", lambda m: m.Flatten, (3, 2, 4)),
    ("identity", lambda m: m.Identity, (3, 2)),
    ("activations", lambda m: m.serial(m.Tanh, m.Relu, m.Exp, m.Softplus, m.Sigmoid, m.Elu,
                                       m.LeakyRelu, m.Selu, m.Gelu, m.LogSoftmax, m.Softmax),
     (3, 4)),
    ("elementwise", lambda m: m.elementwise(m.softmax, axis=0), (3, 4)),
    ("fanout_parallel_sum", lambda m: m.serial(m.FanOut(2), m.parallel(m.Dense(3), m.Identity),
                                               m.FanInSum), (2, 3)),
    ("fanout_concat", lambda m: m.serial(m.FanOut(3), m.parallel(m.Dense(2), m.Dense(4),
                                                                 m.Identity),
                                         m.FanInConcat(axis=-1)), (2, 3)),
    ("shape_dependent", lambda m: m.shape_dependent(lambda s: m.Dense(s[-1] + 1)), (2, 3)),
    ("mlp", lambda m: m.serial(m.Dense(8), m.Relu, m.Dense(4), m.LogSoftmax), (5, 6)),
    ("cnn", lambda m: m.serial(m.Conv(4, (3, 3), padding="SAME"), m.BatchNorm(), m.Relu,
                               m.MaxPool((2, 2), strides=(2, 2)), m.Flatten, m.Dense(3)),
     (2, 6, 6, 1)),
]


@pytest.mark.parametrize("name,build,shape", LAYERS, ids=[x[0] for x in LAYERS])
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_layer_matches_jax(name, build, shape, seed):
  r_init, r_apply = build(stax)
  j_init, j_apply = build(jstax)
  r_out_shape, r_params = r_init(rjax.random.PRNGKey(seed), shape)
  j_out_shape, j_params = j_init(jax.random.PRNGKey(seed), shape)
  _shape_eq(r_out_shape, j_out_shape)
  _close(r_params, j_params)
  x = np.random.RandomState(seed % 1000).standard_normal(shape).astype(np.float32)
  r_y = r_apply(r_params, jnp.asarray(x))
  j_y = j_apply(j_params, jjnp.asarray(x))
  _close(r_y, j_y, rtol=1e-4, atol=1e-5)
  assert [tuple(y.shape) for y in rjax.tree.leaves(r_y)] == \
      [tuple(int(d) for d in s) for s in ([r_out_shape] if isinstance(r_out_shape[0], int)
                                          else r_out_shape)]

  def r_loss(p, x):
    return sum(jnp.sum(jnp.sin(y)) for y in rjax.tree.leaves(r_apply(p, x)))

  def j_loss(p, x):
    return sum(jjnp.sum(jjnp.sin(y)) for y in jax.tree.leaves(j_apply(p, x)))
  _close(rjax.grad(r_loss, argnums=(0, 1))(r_params, jnp.asarray(x)),
         jax.grad(j_loss, argnums=(0, 1))(j_params, jjnp.asarray(x)), rtol=2e-4, atol=2e-5)
  _close(rjax.jit(r_apply)(r_params, jnp.asarray(x)), j_y, rtol=1e-4, atol=1e-5)


def test_unknown_batch_dim_shapes_match_jax():
  for name, build, shape in LAYERS:
    shape = (-1,) + shape[1:]
    r_shape, _ = build(stax)[0](rjax.random.PRNGKey(0), shape)
    j_shape, _ = build(jstax)[0](jax.random.PRNGKey(0), shape)
    _shape_eq(r_shape, j_shape)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rate=st.sampled_from([0.1, 0.5, 0.9]),
       mode=st.sampled_from(["train", "test"]))
def test_dropout_and_serial_rng_match_jax(seed, rate, mode):
  build = lambda m: m.serial(m.Dense(6), m.Dropout(rate, mode=mode), m.Dense(2),
                             m.Dropout(rate, mode=mode))
  r_init, r_apply = build(stax)
  j_init, j_apply = build(jstax)
  _, r_params = r_init(rjax.random.PRNGKey(seed), (4, 3))
  _, j_params = j_init(jax.random.PRNGKey(seed), (4, 3))
  x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
  _close(r_apply(r_params, x, rng=rjax.random.PRNGKey(seed + 1)),
         j_apply(j_params, x, rng=jax.random.PRNGKey(seed + 1)), rtol=1e-5, atol=1e-6)


def test_dropout_needs_rng():
  _, apply = stax.Dropout(0.5)
  with pytest.raises(ValueError, match="requires apply_fun to be called with a PRNG key"):
    apply((), jnp.ones(3))


def test_parallel_init_returns_a_zip_like_jax():
  r = stax.parallel(stax.Dense(2), stax.Identity)[0](rjax.random.PRNGKey(0), [(1, 3), (1, 4)])
  j = jstax.parallel(jstax.Dense(2), jstax.Identity)[0](jax.random.PRNGKey(0), [(1, 3), (1, 4)])
  assert type(r) is type(j) is zip
  (r_shapes, r_params), (j_shapes, j_params) = r, j
  assert r_shapes == j_shapes
  _close(r_params, j_params)


def test_aliases_and_names():
  assert stax.glorot is stax.glorot_normal and stax.randn is stax.normal
  assert stax.logsoftmax is stax.log_softmax
  for n in ("Conv", "ConvTranspose", "Conv1DTranspose"):
    assert getattr(stax, n).func is (stax.GeneralConvTranspose if "Transpose" in n
                                     else stax.GeneralConv)


# ---------------------------------------------------------------------------
# optimizers


def _opts(m):
  sched = m.polynomial_decay(0.1, 5, 0.01, power=2.0)
  return {
      "sgd": m.sgd(0.1),
      "sgd_sched": m.sgd(m.exponential_decay(0.1, 3, 0.5)),
      "momentum": m.momentum(0.05, 0.9),
      "nesterov": m.nesterov(m.inverse_time_decay(0.1, 2, 0.3, staircase=True), 0.8),
      "adagrad": m.adagrad(0.1),
      "rmsprop": m.rmsprop(m.inverse_time_decay(0.1, 2, 0.3), gamma=0.8),
      "rmsprop_momentum": m.rmsprop_momentum(0.05),
      "adam": m.adam(sched),
      "adamax": m.adamax(0.02, b1=0.8),
      "sm3": m.sm3(0.1, momentum=0.5),
      "piecewise": m.momentum(m.piecewise_constant([2, 4], [0.1, 0.05, 0.01]), 0.5),
  }


@pytest.mark.parametrize("name", sorted(_opts(optimizers)))
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_optimizer_matches_jax(name, seed):
  rng = np.random.RandomState(seed)
  params = {"w": rng.standard_normal((3, 2)).astype(np.float32),
            "b": [rng.standard_normal(2).astype(np.float32), np.float32(0.5)]}
  r_init, r_update, r_get = _opts(optimizers)[name]
  j_init, j_update, j_get = _opts(joptimizers)[name]
  r_state, j_state = r_init(params), j_init(params)
  for i in range(6):
    g = jax.tree.map(lambda p: rng.standard_normal(np.shape(p)).astype(np.float32) *
                     (0.0 if i == 2 else 1.0), params)
    r_state = rjax.jit(r_update)(i, g, r_state) if i % 2 else r_update(i, g, r_state)
    j_state = j_update(i, g, j_state)
    _close(r_get(r_state), j_get(j_state), rtol=2e-5, atol=1e-6)
  assert isinstance(optimizers.unpack_optimizer_state(r_state), dict)
  _close(r_state.packed_state, j_state.packed_state, rtol=2e-5, atol=1e-6)


def test_optimizer_state_is_a_pytree_and_packs():
  init, update, get = optimizers.adam(0.1)
  state = init({"a": jnp.ones(2), "b": (jnp.zeros(3),)})
  leaves = rjax.tree.leaves(state)
  assert len(leaves) == 6
  again = rjax.tree.unflatten(rjax.tree.structure(state), leaves)
  assert isinstance(again, optimizers.OptimizerState)
  assert again.tree_def == state.tree_def and again.subtree_defs == state.subtree_defs
  marked = optimizers.unpack_optimizer_state(state)
  assert isinstance(marked["a"], optimizers.JoinPoint)
  packed = optimizers.pack_optimizer_state(marked)
  assert packed.tree_def == state.tree_def and packed.subtree_defs == state.subtree_defs
  _close(get(packed), get(state))
  out = rjax.jit(lambda s: update(0, {"a": jnp.ones(2), "b": (jnp.ones(3),)}, s))(state)
  assert isinstance(out, optimizers.OptimizerState)


def test_optimizer_errors_match_jax():
  init, update, _ = optimizers.sgd(0.1)
  state = init({"a": 1.0})
  with pytest.raises(TypeError, match="did not match the parameter tree"):
    update(0, {"b": 1.0}, state)
  with pytest.raises(TypeError):
    optimizers.make_schedule(np.ones(2))
  with pytest.raises(ValueError, match="must be sequences"):
    optimizers.piecewise_constant(1, [1, 2])
  with pytest.raises(ValueError, match="one shorter"):
    optimizers.piecewise_constant([1, 2], [1, 2])


def test_bad_update_structure():
  @optimizers.optimizer
  def bad(step):
    return (lambda x: (x, x)), (lambda i, g, s: (s[0],)), (lambda s: s[0])
  init, update, _ = bad(0.1)
  with pytest.raises(TypeError, match="did not match its input structure"):
    update(0, [1.0], init([1.0]))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), max_norm=st.floats(0.01, 10.))
def test_clip_grads_and_l2_norm(seed, max_norm):
  rng = np.random.RandomState(seed)
  tree = {"a": rng.standard_normal((2, 3)).astype(np.float32),
          "b": (rng.standard_normal(4).astype(np.float32),)}
  _close(optimizers.l2_norm(tree), joptimizers.l2_norm(tree), rtol=1e-6)
  _close(optimizers.clip_grads(tree, max_norm), joptimizers.clip_grads(tree, max_norm),
         rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make", [
    lambda m: m.constant(0.3), lambda m: m.exponential_decay(0.5, 4, 0.3),
    lambda m: m.inverse_time_decay(0.5, 3, 0.2), lambda m: m.inverse_time_decay(0.5, 3, 0.2, True),
    lambda m: m.polynomial_decay(1.0, 7, 0.1, 0.5), lambda m: m.piecewise_constant([3, 6],
                                                                                  [1., .5, .2]),
    lambda m: m.make_schedule(0.25)])
def test_schedules_match_jax(make):
  r, j = make(optimizers), make(joptimizers)
  for i in range(10):
    np.testing.assert_allclose(np.asarray(r(i)), np.asarray(j(i)), rtol=1e-6)


def test_util_names_behave_like_jax():
  assert optimizers.unzip2([(1, "a"), (2, "b")]) == joptimizers.unzip2([(1, "a"), (2, "b")])
  assert optimizers.safe_map(lambda a, b: a + b, [1, 2], [3, 4]) == [4, 6]
  assert optimizers.map is optimizers.safe_map and optimizers.zip is optimizers.safe_zip
  with pytest.raises(ValueError):
    optimizers.safe_map(lambda a, b: a, [1, 2], [1])
  with pytest.raises(ValueError):
    optimizers.safe_zip([1], [1, 2])
  assert optimizers.Optimizer._fields == joptimizers.Optimizer._fields
