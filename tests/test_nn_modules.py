"""rjax.nn's module system: init/apply pytree structure, Flax's naming,
parameter sharing, setup and compact, mutable collections, RNG streams,
method=, bind, transforms over apply, and clear errors."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import nn, random
from rjax.test_util import check_grads


def _shapes(tree):
  return rjax.tree_util.tree_map(lambda a: tuple(a.shape), tree)


class MLP(nn.Module):
  features: tuple = (4, 3)

  @nn.compact
  def __call__(self, x):
    for f in self.features[:-1]:
      x = nn.relu(nn.Dense(f)(x))
    return nn.Dense(self.features[-1])(x)


def test_init_returns_plain_dicts_with_flax_names_and_shapes():
  x = jnp.ones((2, 5))
  variables = MLP().init(random.PRNGKey(0), x)
  assert type(variables) is dict and type(variables["params"]) is dict
  assert _shapes(variables) == {"params": {
      "Dense_0": {"kernel": (5, 4), "bias": (4,)},
      "Dense_1": {"kernel": (4, 3), "bias": (3,)}}}
  for layer in variables["params"].values():
    np.testing.assert_array_equal(layer["bias"], np.zeros(layer["bias"].shape))
    assert layer["kernel"].dtype == np.float32
  y = MLP().apply(variables, x)
  p = {k: {n: np.asarray(a) for n, a in v.items()} for k, v in variables["params"].items()}
  h = np.maximum(np.ones((2, 5)) @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"], 0)
  np.testing.assert_allclose(y, h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"], rtol=1e-5)


def test_init_with_output_and_same_key_same_params():
  x = jnp.ones((1, 3))
  y, v = MLP().init_with_output(random.PRNGKey(3), x)
  np.testing.assert_allclose(y, MLP().apply(v, x), rtol=1e-6)
  v2 = MLP().init(random.PRNGKey(3), x)
  v3 = MLP().init(random.PRNGKey(4), x)
  k = lambda vv: np.asarray(vv["params"]["Dense_0"]["kernel"])  # noqa: E731
  np.testing.assert_array_equal(k(v), k(v2))
  assert not np.array_equal(k(v), k(v3))
  # The typed-key form gives the same parameters as the raw uint32 key.
  np.testing.assert_array_equal(k(MLP().init(random.key(3), x)), k(v))


class Inner(nn.Module):
  def setup(self):
    self.proj = nn.Dense(2)

  def __call__(self, x):
    return self.proj(x)


class Outer(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    h = Inner(name="inner")(x)
    h = nn.Dense(3, use_bias=False)(h)
    return nn.Dropout(0.5, deterministic=not train)(h)


def test_params_and_dropout_match_flax_for_the_same_key():
  # Reference: flax 0.12.8 (flax.linen) with jax 0.10.2, the same two modules,
  # Outer().init(jax.random.PRNGKey(1), x) and
  # Outer().apply(v, x, train=True, rngs={'dropout': jax.random.PRNGKey(2)}).
  x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
  v = Outer().init(random.PRNGKey(1), x)
  want = {"Dense_0": {"kernel": [[0.06201060116291046, -0.05336470529437065, -0.39597731828689575],
                                 [1.211496114730835, -1.5786523818969727, -0.23505868017673492]]},
          "inner": {"proj": {"bias": [0.0, 0.0], "kernel": [
              [-0.22369009256362915, -0.09876995533704758],
              [0.1283133178949356, -0.2752140462398529],
              [0.2770531177520752, -0.9146019220352173],
              [0.03625333309173584, 1.0594913959503174]]}}}
  def check(got, ref):
    assert type(got) is dict and set(got) == set(ref)
    for k in ref:
      if isinstance(ref[k], dict):
        check(got[k], ref[k])
      else:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-6, atol=1e-7)
  check(v["params"], want)
  y = Outer().apply(v, x, train=True, rngs={"dropout": random.PRNGKey(2)})
  np.testing.assert_allclose(y, [[0.0, -0.43444567918777466, -0.14143885672092438],
                                 [0.07353600859642029, -0.08441484719514847,
                                  -0.17388340830802917]], rtol=1e-5, atol=1e-7)


class Shared(nn.Module):
  @nn.compact
  def __call__(self, x):
    dense = nn.Dense(x.shape[-1], name="tied")
    return dense(dense(x))


def test_a_submodule_called_twice_shares_its_params():
  x = jnp.ones((2, 3))
  v = Shared().init(random.PRNGKey(0), x)
  assert _shapes(v) == {"params": {"tied": {"kernel": (3, 3), "bias": (3,)}}}
  k, b = np.asarray(v["params"]["tied"]["kernel"]), np.asarray(v["params"]["tied"]["bias"])
  np.testing.assert_allclose(Shared().apply(v, x), (np.ones((2, 3)) @ k + b) @ k + b, rtol=1e-5)


class CallsTwice(nn.Module):
  @nn.compact
  def __call__(self, x):
    return MLP((3,))(x) + MLP((3,))(x)


class Reuse(nn.Module):
  def setup(self):
    self.mlp = MLP((3,))

  def __call__(self, x):
    return self.mlp(x) + self.mlp(2 * x)


def test_auto_names_count_per_class_and_setup_submodules_are_reused():
  x = jnp.ones((1, 2))
  assert set(CallsTwice().init(random.PRNGKey(0), x)["params"]) == {"MLP_0", "MLP_1"}
  v = Reuse().init(random.PRNGKey(0), x)
  assert _shapes(v) == {"params": {"mlp": {"Dense_0": {"kernel": (2, 3), "bias": (3,)}}}}
  k = np.asarray(v["params"]["mlp"]["Dense_0"]["kernel"])
  np.testing.assert_allclose(Reuse().apply(v, x), 3 * np.ones((1, 2)) @ k, rtol=1e-5)


class Parent(nn.Module):
  child: nn.Module
  layers: tuple = ()

  def __call__(self, x):
    x = self.child(x)
    for layer in self.layers:
      x = layer(x)
    return x


def test_modules_given_as_dataclass_fields_are_named_by_the_field():
  shared = nn.Dense(2)
  model = Parent(child=nn.Dense(2), layers=(shared, nn.LayerNorm(), shared))
  v = model.init(random.PRNGKey(0), jnp.ones((1, 3)))
  # the same module object twice is one module (shared params), as in Flax
  assert _shapes(v) == {"params": {"child": {"kernel": (3, 2), "bias": (2,)},
                                   "layers_0": {"kernel": (2, 2), "bias": (2,)},
                                   "layers_1": {"scale": (2,), "bias": (2,)}}}
  assert shared.scope is None and shared.name is None   # the user's object stays unbound


def test_sequential_names_and_output():
  model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
  x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
  v = model.init(random.PRNGKey(1), x)
  assert _shapes(v) == {"params": {"layers_0": {"kernel": (5, 4), "bias": (4,)},
                                   "layers_2": {"kernel": (4, 2), "bias": (2,)}}}
  p = rjax.tree_util.tree_map(np.asarray, v["params"])
  h = np.maximum(x @ p["layers_0"]["kernel"] + p["layers_0"]["bias"], 0)
  np.testing.assert_allclose(model.apply(v, x), h @ p["layers_2"]["kernel"] + p["layers_2"]["bias"],
                             rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="Empty Sequential"):
    nn.Sequential([]).init(random.PRNGKey(0), x)


class BN(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool):
    x = nn.Dense(3)(x)
    return nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)


def test_mutable_batch_stats_are_returned_and_inputs_are_not_mutated():
  x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
  v = BN().init(random.PRNGKey(0), x, train=False)
  assert set(v) == {"params", "batch_stats"}
  assert _shapes(v["batch_stats"]) == {"BatchNorm_0": {"mean": (3,), "var": (3,)}}
  before = rjax.tree_util.tree_map(np.asarray, v)
  y, updates = BN().apply(v, x, train=True, mutable=["batch_stats"])
  assert set(updates) == {"batch_stats"}
  h = x @ before["params"]["Dense_0"]["kernel"] + before["params"]["Dense_0"]["bias"]
  np.testing.assert_allclose(updates["batch_stats"]["BatchNorm_0"]["mean"], 0.1 * h.mean(0),
                             rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(updates["batch_stats"]["BatchNorm_0"]["var"],
                             0.9 + 0.1 * h.var(0), rtol=1e-4)
  # the caller's dicts still hold the initial statistics
  assert v["batch_stats"]["BatchNorm_0"]["mean"] is not updates["batch_stats"]["BatchNorm_0"]["mean"]
  rjax.tree_util.tree_map(np.testing.assert_array_equal, v, before)
  # training without mutable=['batch_stats'] is an error that says what to do
  with pytest.raises(nn.ModifyScopeVariableError, match="mutable=\\['batch_stats'\\]"):
    BN().apply(v, x, train=True)
  # mutable=True returns every collection
  _, everything = BN().apply(v, x, train=True, mutable=True)
  assert set(everything) == {"params", "batch_stats"}


class Noisy(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dropout(0.5)(x, deterministic=False), self.make_rng("noise"), self.make_rng("noise")


def test_rng_streams():
  x = jnp.ones((4, 4))
  v = Noisy().init({"params": random.PRNGKey(0), "dropout": random.PRNGKey(1)}, x)
  assert v == {}
  y1, a, b = Noisy().apply(v, x, rngs={"dropout": random.PRNGKey(2), "noise": random.PRNGKey(3)})
  y2, a2, _ = Noisy().apply(v, x, rngs={"dropout": random.PRNGKey(2), "noise": random.PRNGKey(3)})
  y3, _, _ = Noisy().apply(v, x, rngs={"dropout": random.PRNGKey(5), "noise": random.PRNGKey(3)})
  np.testing.assert_array_equal(y1, y2)
  np.testing.assert_array_equal(a, a2)
  assert not np.array_equal(np.asarray(a), np.asarray(b))   # each make_rng is a new key
  assert not np.array_equal(np.asarray(y1), np.asarray(y3))
  assert set(np.unique(np.asarray(y1))) <= {0.0, 2.0}
  with pytest.raises(nn.InvalidRngError, match="rngs=\\{'dropout': key\\}"):
    Noisy().apply(v, x, rngs={"noise": random.PRNGKey(3)})
  with pytest.raises(nn.InvalidRngError, match="PRNG key"):
    Noisy().apply(v, x, rngs={"dropout": jnp.ones(3)})


class Counter(nn.Module):
  @nn.compact
  def __call__(self):
    initializing = self.is_initializing()
    count = self.variable("counts", "n", jnp.zeros, (), jnp.int32)
    if not initializing:
      count.value = count.value + 1
    self.sow("intermediates", "seen", count.value)
    return initializing


def test_variables_is_initializing_and_sow():
  init_flag, v = Counter().init_with_output(random.PRNGKey(0))
  assert init_flag is True
  assert set(v) == {"counts"}   # init does not keep 'intermediates' (Flax's DenyList)
  flag, upd = Counter().apply(v, mutable=["counts", "intermediates"])
  assert flag is False
  assert int(upd["counts"]["n"]) == 1 and int(v["counts"]["n"]) == 0
  assert len(upd["intermediates"]["seen"]) == 1


class Codec(nn.Module):
  def setup(self):
    self.enc = nn.Dense(2)
    self.dec = nn.Dense(3)

  def encode(self, x):
    return self.enc(x)

  def __call__(self, x):
    return self.dec(self.encode(x))


def test_method_argument_and_bind():
  x = jnp.ones((1, 3))
  v = Codec().init(random.PRNGKey(0), x)
  assert set(v["params"]) == {"enc", "dec"}
  z1 = Codec().apply(v, x, method=Codec.encode)
  z2 = Codec().apply(v, x, method="encode")
  z3 = Codec().bind(v).encode(x)
  np.testing.assert_array_equal(z1, z2)
  np.testing.assert_array_equal(z1, z3)
  # init through one method creates only what that method uses
  assert set(Codec().init(random.PRNGKey(0), x, method="encode")["params"]) == {"enc"}


def test_apply_under_jit_grad_and_vmap():
  model = MLP((4, 2))
  x = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
  v = model.init(random.PRNGKey(0), x)
  np.testing.assert_allclose(rjax.jit(model.apply)(v, x), model.apply(v, x), rtol=1e-6)
  v_jit = rjax.jit(model.init)(random.PRNGKey(0), x)
  rjax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), v, v_jit)

  def loss(params):
    return jnp.sum(model.apply({"params": params}, x) ** 2)
  g = rjax.grad(loss)(v["params"])
  assert _shapes(g) == _shapes(v["params"])
  check_grads(loss, (v["params"],), order=1, modes=("rev",))
  per_example = rjax.vmap(lambda xi: model.apply(v, xi))(x)
  np.testing.assert_allclose(per_example, model.apply(v, x), rtol=1e-5, atol=1e-6)


def test_apply_from_several_threads():
  model = MLP((8, 2))
  x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
  v = model.init(random.PRNGKey(0), x)
  want = np.asarray(model.apply(v, x))
  results, errors = [], []

  def work():
    try:
      for _ in range(5):
        results.append(np.asarray(model.apply(v, x)))
        results.append(np.asarray(model.apply(model.init(random.PRNGKey(0), x), x)))
    except Exception as e:   # noqa: BLE001 - reported below
      errors.append(e)
  threads = [threading.Thread(target=work) for _ in range(4)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert not errors
  assert len(results) == 40
  for r in results:
    np.testing.assert_allclose(r, want, rtol=1e-6)


# -- errors ---------------------------------------------------------------------

def test_wrong_param_shape_is_a_clear_error():
  v = MLP().init(random.PRNGKey(0), jnp.ones((1, 5)))
  with pytest.raises(nn.ScopeParamShapeError, match=r"'kernel' of module /Dense_0.*\(6, 4\)"):
    MLP().apply(v, jnp.ones((1, 6)))


def test_missing_params_is_a_clear_error():
  with pytest.raises(nn.ScopeParamNotFoundError, match="no param 'kernel' in module /Dense_0"):
    MLP().apply({}, jnp.ones((1, 5)))
  v = MLP().init(random.PRNGKey(0), jnp.ones((1, 5)))
  with pytest.raises(TypeError, match="variables must be a dict"):
    MLP().apply([v], jnp.ones((1, 5)))


class Dup(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(2, name="a")(x) + nn.Dense(2, name="a")(x)


class SetLater(nn.Module):
  def __call__(self, x):
    self.w = 1
    return x


def test_module_definition_errors():
  x = jnp.ones((1, 2))
  with pytest.raises(nn.NameInUseError, match="'a' is used twice"):
    Dup().init(random.PRNGKey(0), x)
  with pytest.raises(TypeError, match="unbound"):
    MLP()(x)
  with pytest.raises(AttributeError, match="frozen"):
    SetLater().init(random.PRNGKey(0), x)
  with pytest.raises(TypeError, match="only one method can be @compact"):
    class TwoCompact(nn.Module):   # noqa: F841
      @nn.compact
      def a(self, x):
        return x

      @nn.compact
      def b(self, x):
        return x
  with pytest.raises(TypeError, match="reserved"):
    class BadField(nn.Module):   # noqa: F841
      name: str = "x"


def test_merge_param_errors():
  x = jnp.ones((2, 2))
  with pytest.raises(ValueError, match="'deterministic' must be given"):
    nn.Dropout(0.5).init(random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="both"):
    nn.Dropout(0.5, deterministic=True).init(random.PRNGKey(0), x, deterministic=True)


def test_repr_and_clone():
  d = nn.Dense(3, use_bias=False)
  assert repr(d).startswith("Dense(features=3, use_bias=False")
  c = d.clone(features=5)
  assert c.features == 5 and c.use_bias is False and d.features == 3


class Mixed(nn.Module):
  def setup(self):
    self.enc = nn.Dense(2)
    self.blocks = [nn.Dense(3), nn.LayerNorm()]

  def __call__(self, x):
    h = self.enc(x)
    for b in self.blocks:
      h = b(h)
    return h


class Top(nn.Module):
  @nn.compact
  def __call__(self, x):
    shared = nn.Dense(2, name="shared_dense")
    h = Parent(child=nn.Dense(2), layers=(shared, nn.Dense(2), shared))(x)
    h = Mixed()(jnp.concatenate([h, x], -1))
    h = nn.SelfAttention(num_heads=1)(h[:, None, :].repeat(2, 1))
    g = nn.GroupNorm(num_groups=None, group_size=1)(h)
    return nn.Sequential([nn.Dense(4), nn.Dense(1)])(g) + nn.Embed(3, 1)(jnp.array([[0, 2]]))


def _paths(tree, prefix=""):
  out = []
  for k, v in tree.items():
    out += _paths(v, f"{prefix}/{k}") if isinstance(v, dict) else [f"{prefix}/{k}"]
  return out


def test_nested_names_match_flax():
  # The parameter paths flax 0.12.8 gives for the same model (modules bound to
  # Top but used inside Parent stay Top's; a list in setup is blocks_0, blocks_1;
  # Sequential's layers built in Top's compact method are Top's Dense_2, Dense_3).
  v = Top().init(random.PRNGKey(0), np.ones((2, 3), np.float32))
  want = """Mixed_0/blocks_0/bias Mixed_0/blocks_0/kernel Mixed_0/blocks_1/bias
  Mixed_0/blocks_1/scale Mixed_0/enc/bias Mixed_0/enc/kernel Dense_0/bias Dense_0/kernel
  Dense_1/bias Dense_1/kernel Dense_2/bias Dense_2/kernel Dense_3/bias Dense_3/kernel
  Embed_0/embedding GroupNorm_0/bias GroupNorm_0/scale SelfAttention_0/key/bias
  SelfAttention_0/key/kernel SelfAttention_0/out/bias SelfAttention_0/out/kernel
  SelfAttention_0/query/bias SelfAttention_0/query/kernel SelfAttention_0/value/bias
  SelfAttention_0/value/kernel shared_dense/bias shared_dense/kernel""".split()
  assert sorted(_paths(v["params"])) == sorted("/" + w for w in want)


class Introspect(nn.Module):
  @nn.compact
  def __call__(self, x):
    d = nn.Dense(2, name="d")
    y = d(x)
    info = {"path": d.path, "has_dropout": self.has_rng("dropout"),
            "vars": set(d.variables["params"]), "helper": self.helper(3)}
    if self.is_mutable_collection("cache"):
      self.put_variable("cache", "last", y)
    return y, info

  @nn.nowrap
  def helper(self, n):
    return n * 2


def test_introspection_nowrap_and_functional_init_apply():
  x = jnp.ones((1, 3))
  (y, info), v = Introspect().init_with_output(random.PRNGKey(0), x)
  assert info == {"path": ("d",), "has_dropout": False, "vars": {"kernel", "bias"}, "helper": 6}
  assert set(v) == {"params", "cache"}
  np.testing.assert_array_equal(v["cache"]["last"], y)
  _, info2 = Introspect().apply({"params": v["params"]}, x, rngs={"dropout": random.PRNGKey(1)})
  assert info2["has_dropout"] is True

  def encode(module, z):
    return module.encode(z)
  v2 = nn.init(encode, Codec())(random.PRNGKey(0), x)
  assert set(v2["params"]) == {"enc"}
  np.testing.assert_array_equal(nn.apply(encode, Codec())(v2, x),
                                Codec().apply(v2, x, method="encode"))
  with pytest.raises(TypeError, match="invalid collection filter"):
    Introspect().apply(v, x, mutable=3)


class Net(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool):
    x = nn.Dense(16)(x)
    x = nn.BatchNorm(use_running_average=not train)(x)
    x = nn.gelu(x)
    x = nn.Dropout(0.1, deterministic=not train)(x)
    return nn.Dense(1)(x)


def test_a_flax_style_train_step_learns():
  # The usual Flax loop: jit(value_and_grad) over params, batch_stats threaded
  # through mutable=, a dropout key per step.
  r = np.random.default_rng(0)
  x = r.standard_normal((64, 3)).astype(np.float32)
  y = (np.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3]).astype(np.float32)
  model = Net()
  variables = model.init(random.PRNGKey(0), x, train=False)
  params, stats = variables["params"], variables["batch_stats"]

  @rjax.jit
  def step(params, stats, key):
    def loss_fn(p):
      pred, upd = model.apply({"params": p, "batch_stats": stats}, x, train=True,
                              rngs={"dropout": key}, mutable=["batch_stats"])
      return jnp.mean((pred - y) ** 2), upd
    # The Flax idiom: the new batch_stats come back as value_and_grad's aux.
    (loss, upd), g = rjax.value_and_grad(loss_fn, has_aux=True)(params)
    params = rjax.tree_util.tree_map(lambda a, b: a - 0.1 * b, params, g)
    return params, upd["batch_stats"], loss

  losses = []
  key = random.PRNGKey(1)
  for _ in range(150):
    key, sub = random.split(key)
    params, stats, loss = step(params, stats, sub)
    losses.append(float(loss))
  assert losses[-1] < 0.25 * losses[0]
  eval_loss = float(jnp.mean((model.apply({"params": params, "batch_stats": stats}, x,
                                          train=False) - y) ** 2))
  assert eval_loss < 0.5 * losses[0]
  assert not np.allclose(stats["BatchNorm_0"]["mean"], 0)


def test_vmapped_init_gives_an_ensemble():
  model = MLP((4, 2))
  x = jnp.ones((3, 5))
  keys = random.split(random.PRNGKey(0), 4)
  ensemble = rjax.vmap(lambda k: model.init(k, x))(keys)
  assert _shapes(ensemble) == {"params": {"Dense_0": {"kernel": (4, 5, 4), "bias": (4, 4)},
                                          "Dense_1": {"kernel": (4, 4, 2), "bias": (4, 2)}}}
  ys = rjax.vmap(lambda v: model.apply(v, x))(ensemble)
  for i in range(4):
    vi = model.init(keys[i], x)
    np.testing.assert_allclose(ensemble["params"]["Dense_0"]["kernel"][i],
                               vi["params"]["Dense_0"]["kernel"], rtol=1e-6)
    np.testing.assert_allclose(ys[i], model.apply(vi, x), rtol=1e-5, atol=1e-6)


class OddInits(nn.Module):
  @nn.compact
  def __call__(self):
    # a bound method (no weak reference to the same object twice), a builtin-like
    # callable object and unhashable arguments: the shape check still runs
    a = self.param("a", _Ones().make, [2, 3])
    b = self.param("b", _CallableOnes(), (4,))
    return a.sum() + b.sum()


class _Ones:
  def make(self, key, shape):
    return jnp.ones(tuple(shape))


class _CallableOnes:
  __slots__ = ()   # no weak references

  def __call__(self, key, shape):
    return jnp.ones(shape)


def test_param_shape_check_with_unusual_initializers():
  v = OddInits().init(random.PRNGKey(0))
  assert _shapes(v) == {"params": {"a": (2, 3), "b": (4,)}}
  assert float(OddInits().apply(v)) == 10.0
  bad = {"params": {"a": jnp.ones((3, 2)), "b": jnp.ones(4)}}
  with pytest.raises(nn.ScopeParamShapeError, match="'a'"):
    OddInits().apply(bad)
