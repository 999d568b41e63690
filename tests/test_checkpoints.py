"""rjax.checkpoints: round trips of arbitrary pytrees (structure, dtypes, shapes,
values bit for bit), optimizer states, target checking, and corrupted files."""
from __future__ import annotations

import collections
import json
import os
import threading

import ml_dtypes
import numpy as np
import pytest
import safetensors
import safetensors.numpy
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import checkpoints, optim, tree_util
from rjax.checkpoints import CheckpointError

from util import bfloat16, enable_x64, shapes

DTYPES = [np.dtype(t) for t in (np.float32, np.float16, np.int32, np.uint8, np.uint32,
                                np.bool_)] + [bfloat16]


def _rand(rng, dtype, shape):
  dtype = np.dtype(dtype)
  if dtype == np.bool_:
    return np.asarray(rng.rand(*shape) > 0.5)
  if dtype.kind in "iu":
    info = np.iinfo(dtype)
    return np.asarray(rng.randint(max(info.min, -1000), min(info.max, 1000), size=shape), dtype)
  return np.asarray(rng.randn(*shape) * 10).astype(dtype)


@st.composite
def leaves(draw, rng):
  kind = draw(st.sampled_from(["rjax", "numpy", "rjax", "py"]))
  if kind == "py":
    return draw(st.one_of(st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                          st.booleans()))
  dtype = draw(st.sampled_from(DTYPES))
  a = _rand(rng, dtype, draw(shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
  return jnp.asarray(a) if kind == "rjax" else a


@st.composite
def pytrees(draw):
  rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
  # one key type per dict: a dict whose keys cannot be ordered against each
  # other (an int beside a str) is not a pytree (as in JAX)
  def extend(children):
    return st.one_of(
        st.dictionaries(st.text(min_size=1, max_size=5), children, max_size=3),
        st.dictionaries(st.integers(-5, 50), children, max_size=3),
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.tuples(children, children).map(lambda t: optim.ScaleByLionState(*t)),
        st.tuples(children).map(lambda t: optim.TraceState(*t)))
  return draw(st.recursive(st.one_of(leaves(rng), st.none()), extend, max_leaves=8))


def _assert_same_tree(got, want):
  g_leaves, g_def = tree_util.tree_flatten(got)
  w_leaves, w_def = tree_util.tree_flatten(want)
  assert g_def == w_def, f"{g_def} != {w_def}"
  _assert_same_types(got, want)
  for g, w in zip(g_leaves, w_leaves):
    if type(w) in (bool, int, float):
      assert type(g) is type(w) and g == w, (g, w)
      continue
    assert isinstance(g, rjax.Array), type(g)
    w = np.asarray(w)
    g = np.asarray(g)
    assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
    np.testing.assert_array_equal(g.reshape(-1).view(np.uint8), w.reshape(-1).view(np.uint8))


def _assert_same_types(got, want):
  """Containers have the same types (leaves are compared in _assert_same_tree)."""
  if isinstance(want, (dict, list, tuple)) or want is None:
    assert type(got) is type(want), (type(got), type(want))
  if isinstance(want, dict):
    assert set(got) == set(want)
    for k in want:
      _assert_same_types(got[k], want[k])
  elif isinstance(want, (list, tuple)):
    for g, w in zip(got, want):
      _assert_same_types(g, w)


@given(tree=pytrees())
def test_round_trip_without_target(tree, tmp_path_factory):
  path = tmp_path_factory.mktemp("ck") / "tree.safetensors"
  checkpoints.save(path, tree)
  _assert_same_tree(checkpoints.restore(path), tree)


@given(tree=pytrees())
def test_round_trip_with_target(tree, tmp_path_factory):
  path = tmp_path_factory.mktemp("ck") / "tree.safetensors"
  checkpoints.save(path, tree)
  _assert_same_tree(checkpoints.restore(path, target=tree), tree)


def test_round_trip_64_bit_dtypes(tmp_path):
  with enable_x64():
    tree = {"f": jnp.asarray(np.linspace(0, 1, 5)), "i": jnp.asarray(np.arange(4, dtype=np.int64)),
            "s": np.float64(0.1)}
    checkpoints.save(tmp_path / "a", tree)
    _assert_same_tree(checkpoints.restore(tmp_path / "a"), tree)
    _assert_same_tree(checkpoints.restore(tmp_path / "a", tree), tree)


def test_target_may_be_shape_dtype_structs_and_custom_nodes(tmp_path):
  Point = collections.namedtuple("Point", ["x", "y"])
  tree = {"p": Point(jnp.ones(2), jnp.zeros((), jnp.int32)), "od": [1.5]}
  checkpoints.save(tmp_path / "a", tree)
  with pytest.raises(CheckpointError, match="Point.*not a known rjax.optim state.*target"):
    checkpoints.restore(tmp_path / "a")
  target = tree_util.tree_map(lambda x: x if isinstance(x, float) else
                              rjax.ShapeDtypeStruct(x.shape, x.dtype), tree)
  _assert_same_tree(checkpoints.restore(tmp_path / "a", target), tree)


def test_optimizer_state_round_trip_resumes_training(tmp_path):
  def loss(p):
    return jnp.sum((p["w"] - 3.0) ** 2) + jnp.sum(p["b"] ** 2)
  opt = optim.chain(optim.clip_by_global_norm(10.0),
                    optim.adamw(optim.warmup_cosine_decay_schedule(0.0, 0.1, 3, 20),
                                mask={"w": True, "b": False}))

  @rjax.jit
  def step(p, s):
    u, s = opt.update(rjax.grad(loss)(p), s, p)
    return optim.apply_updates(p, u), s
  params = {"w": jnp.zeros((2, 2)), "b": jnp.ones(3, jnp.bfloat16)}
  state = opt.init(params)
  for _ in range(5):
    params, state = step(params, state)
  checkpoints.save(tmp_path / "ckpt", {"params": params, "opt_state": state, "step": 5})
  restored = checkpoints.restore(tmp_path / "ckpt")
  _assert_same_tree(restored, {"params": params, "opt_state": state, "step": 5})
  p2, s2 = restored["params"], restored["opt_state"]
  for _ in range(5):
    params, state = step(params, state)
    p2, s2 = step(p2, s2)
  _assert_same_tree(p2, params)
  _assert_same_tree(s2, state)


# ---------------------------------------------------------------------------
# target mismatches name the path

BASE = {"params": {"w": np.ones((2, 3), np.float32), "b": [np.zeros(3, np.float32)]},
        "count": np.int32(4)}


@pytest.mark.parametrize("target,match", [
    ({"params": {"w": np.ones((3, 2), np.float32), "b": [np.zeros(3, np.float32)]},
      "count": np.int32(4)}, r"at \['params'\]\['w'\]: the file has float32\(2, 3\), the target "
                             r"float32\(3, 2\)"),
    ({"params": {"w": np.ones((2, 3), np.float16), "b": [np.zeros(3, np.float32)]},
      "count": np.int32(4)}, r"at \['params'\]\['w'\]: the file has float32.*target float16"),
    ({"params": {"w": np.ones((2, 3), np.float32), "b": (np.zeros(3, np.float32),)},
      "count": np.int32(4)}, r"at \['params'\]\['b'\]: the file has a list of 1, the target a "
                             r"tuple of 1"),
    ({"params": {"w": np.ones((2, 3), np.float32)}, "count": np.int32(4)},
     r"at \['params'\]: the file has a dict with keys \['b', 'w'\], the target a dict with keys "
     r"\['w'\]"),
    ({"params": {"w": np.ones((2, 3), np.float32), "b": [np.zeros(3, np.float32)]},
      "count": 4}, r"at \['count'\]: the file has int32\(\), the target int64\(\)"),
    ({"params": {"w": np.ones((2, 3), np.float32), "b": [np.zeros(3, np.float32)]},
      "count": optim.TraceState(np.int32(4))}, r"at \['count'\]: the file has a leaf int32\[\], "
                                               r"the target a TraceState"),
])
def test_target_mismatch_names_the_path(tmp_path, target, match):
  checkpoints.save(tmp_path / "a.safetensors", BASE)
  with pytest.raises(CheckpointError, match=match) as e:
    checkpoints.restore(tmp_path / "a.safetensors", target)
  assert str(tmp_path / "a.safetensors") in str(e.value)
  assert isinstance(e.value, ValueError)


# ---------------------------------------------------------------------------
# corrupted files: a clear error naming the file, never wrong data

def _saved_bytes(tmp_path, tree=None):
  tree = BASE if tree is None else tree
  checkpoints.save(tmp_path / "good", tree)
  return (tmp_path / "good").read_bytes()


@given(cut=st.integers(0, 10_000))
def test_truncated_file_raises(tmp_path_factory, cut):
  d = tmp_path_factory.mktemp("ck")
  data = _saved_bytes(d)
  cut = cut % len(data)
  (d / "bad").write_bytes(data[:cut])
  with pytest.raises(CheckpointError, match=f"{d / 'bad'}.*(not a valid safetensors|corrupted)"):
    checkpoints.restore(d / "bad")


@given(pos=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_flipped_bit_raises_or_restores_identical_data(tmp_path_factory, pos, bit):
  d = tmp_path_factory.mktemp("ck")
  data = bytearray(_saved_bytes(d))
  pos = pos % len(data)
  data[pos] ^= 1 << bit
  (d / "bad").write_bytes(bytes(data))
  header_end = 8 + int.from_bytes(data[:8], "little") if pos >= 8 else 0
  try:
    got = checkpoints.restore(d / "bad")
  except CheckpointError as e:
    assert str(d / "bad") in str(e)
    return
  # Only a flip that leaves the meaning unchanged may load, and then the data is exact.
  assert 8 <= pos < header_end, "a flipped data bit loaded"
  _assert_same_tree(got, tree_util.tree_map(jnp.asarray, BASE))


def test_flipped_data_bit_raises(tmp_path):
  data = bytearray(_saved_bytes(tmp_path))
  data[-1] ^= 0x10
  (tmp_path / "bad").write_bytes(bytes(data))
  with pytest.raises(CheckpointError, match="corrupted: its SHA-256 does not match"):
    checkpoints.restore(tmp_path / "bad")
  with pytest.raises(CheckpointError, match="corrupted"):
    checkpoints.restore(tmp_path / "bad", BASE)


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"not a checkpoint at all, just text",
                                     b"\xff" * 64, json.dumps({"a": 1}).encode()])
def test_non_safetensors_file_raises(tmp_path, content):
  (tmp_path / "junk").write_bytes(content)
  with pytest.raises(CheckpointError, match="junk is not a valid safetensors file"):
    checkpoints.restore(tmp_path / "junk")


def test_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
  safetensors.numpy.save_file({"x": np.ones(3, np.float32)}, str(tmp_path / "plain"))
  with pytest.raises(CheckpointError, match="not an rjax checkpoint"):
    checkpoints.restore(tmp_path / "plain")


def test_missing_file_raises_file_not_found(tmp_path):
  with pytest.raises(FileNotFoundError):
    checkpoints.restore(tmp_path / "nope")


# ---------------------------------------------------------------------------
# the file is standard safetensors; writes are atomic; inputs are untouched

def test_file_is_standard_safetensors_named_by_path(tmp_path):
  tree = {"layer": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)},
          "bias": [np.ones(2, np.float16)], "h": jnp.ones(2, jnp.bfloat16)}
  checkpoints.save(tmp_path / "m.safetensors", tree)
  data = (tmp_path / "m.safetensors").read_bytes()
  views = dict(safetensors.deserialize(data))
  assert set(views) == {"['layer']['kernel']", "['bias'][0]", "['h']"}
  assert views["['h']"]["dtype"] == "BF16" and views["['bias'][0]"]["dtype"] == "F16"
  raw = np.frombuffer(views["['layer']['kernel']"]["data"], np.float32).reshape(2, 3)
  np.testing.assert_array_equal(raw, tree["layer"]["kernel"])
  header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
  assert header["__metadata__"]["rjax.format"] == "rjax.checkpoint/1"
  assert len(header["__metadata__"]["rjax.sha256"]) == 64


def test_overwrite_and_atomic_write(tmp_path):
  path = tmp_path / "a.safetensors"
  checkpoints.save(path, {"x": np.ones(2, np.float32)})
  with pytest.raises(FileExistsError, match="overwrite"):
    checkpoints.save(path, {"x": np.zeros(2, np.float32)}, overwrite=False)
  with pytest.raises(TypeError, match=r"leaf \['y'\] is a str"):
    checkpoints.save(path, {"x": np.zeros(2, np.float32), "y": "text"})
  with pytest.raises(TypeError, match="complex64"):
    checkpoints.save(path, {"x": np.zeros(2, np.complex64)})
  with pytest.raises(TypeError, match="dict keys must be str or int"):
    checkpoints.save(path, {(1, 2): np.zeros(2, np.float32)})
  # the failed saves left the old file whole, and no temporary files behind
  np.testing.assert_array_equal(np.asarray(checkpoints.restore(path)["x"]), np.ones(2))
  assert os.listdir(tmp_path) == ["a.safetensors"]
  checkpoints.save(str(path), {"x": np.zeros(2, np.float32)})
  np.testing.assert_array_equal(np.asarray(checkpoints.restore(str(path))["x"]), np.zeros(2))
  assert os.listdir(tmp_path) == ["a.safetensors"]


def test_save_and_restore_do_not_mutate_inputs(tmp_path):
  tree = {"a": np.arange(4.0, dtype=np.float32), "b": [np.ones(2, np.int32)]}
  keep = tree_util.tree_map(np.copy, tree)
  checkpoints.save(tmp_path / "a", tree)
  out = checkpoints.restore(tmp_path / "a", tree)
  for x, y in zip(tree_util.tree_leaves(tree), tree_util.tree_leaves(keep)):
    np.testing.assert_array_equal(x, y)
  assert all(isinstance(x, rjax.Array) for x in tree_util.tree_leaves(out))


def test_concurrent_save_and_restore(tmp_path):
  errors = []

  def work(i):
    try:
      tree = {"i": np.full((3, i + 1), i, np.float32), "opt": optim.adam(0.1).init(jnp.ones(i + 1))}
      for _ in range(5):
        checkpoints.save(tmp_path / f"t{i}", tree)
        got = checkpoints.restore(tmp_path / f"t{i}", tree)
        np.testing.assert_array_equal(np.asarray(got["i"]), tree["i"])
    except Exception as e:  # noqa: BLE001 -- reported below
      errors.append(e)
  threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert not errors, errors
  assert sorted(os.listdir(tmp_path)) == [f"t{i}" for i in range(4)]


def test_bfloat16_values_survive_bit_for_bit(tmp_path):
  a = np.asarray([1.0, -0.0, np.inf, -np.inf, 3.140625, 1e-38], ml_dtypes.bfloat16)
  checkpoints.save(tmp_path / "a", {"a": jnp.asarray(a)})
  got = np.asarray(checkpoints.restore(tmp_path / "a")["a"])
  assert got.dtype == bfloat16
  np.testing.assert_array_equal(got.view(np.uint16), a.view(np.uint16))
