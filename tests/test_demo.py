"""``python -m rjax.demo``: the whole tour with ``--quick`` in a subprocess (as CI
runs it), and the training part's pieces: the data split, the batches, the
loss against NumPy, the CLI, and the data-parallel step against one device."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from rjax import optim, random
from rjax._src import demo_train
from rjax import demo


def _env():
  env = dict(os.environ)
  # The rjax this test run imports (the checkout's python/ or the installed package).
  root = os.path.dirname(os.path.dirname(rjax.__file__))
  env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
  env.pop("RJAX_NUM_CPU_DEVICES", None)      # the demo chooses its own (two)
  env["MPLBACKEND"] = "Agg"
  return env


def test_demo_quick_runs_end_to_end(tmp_path):
  out = tmp_path / "out"
  r = subprocess.run([sys.executable, "-W", "error", "-m", "rjax.demo", "--quick", "--out", str(out)],
                     env=_env(), capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  for part in range(1, 7):
    assert f"== {part}." in r.stdout
  m = re.search(r"test accuracy: (\d+\.\d+)%  \(after restoring the checkpoint: (\d+\.\d+)%\)",
                r.stdout)
  assert m and m.group(1) == m.group(2)
  assert 0.0 <= float(m.group(1)) <= 100.0
  png, ckpt = out / "digits_cnn.png", out / "digits_cnn.safetensors"
  assert f"training curves: {png}" in r.stdout and f"checkpoint:      {ckpt}" in r.stdout
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  state = rjax.checkpoints.restore(str(ckpt))
  assert set(state) == {"params", "opt_state", "step", "input_mean", "input_scale"}
  assert state["step"] == 5 and state["input_mean"].shape == (8, 8, 1)
  x = jnp.zeros((3, 8, 8, 1))
  logits = demo_train.make_model("cnn").apply({"params": state["params"]}, x)
  assert logits.shape == (3, 10)


@given(labels=hnp.arrays(np.int32, st.integers(1, 200), elements=st.integers(0, 9)),
       frac=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1))
def test_stratified_split_partitions_each_class(labels, frac, seed):
  train, test = demo_train.stratified_split(labels, frac, seed)
  assert len(np.intersect1d(train, test)) == 0
  np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
  for c in np.unique(labels):
    assert np.sum(labels[test] == c) == int(round(np.sum(labels == c) * frac))
  train2, test2 = demo_train.stratified_split(labels, frac, seed)
  np.testing.assert_array_equal(train, train2)
  np.testing.assert_array_equal(test, test2)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5])
def test_stratified_split_rejects_bad_fractions(frac):
  with pytest.raises(ValueError, match="test_fraction must be in"):
    demo_train.stratified_split(np.arange(10), frac)


@given(x=hnp.arrays(np.float32, st.tuples(st.integers(2, 30), st.integers(1, 5)),
                   elements=st.floats(0, 1, width=32)))
def test_standardizer_centres_the_training_set(x):
  mean, scale = demo_train.standardizer(x)
  assert mean.shape == scale.shape == x.shape[1:] and (scale >= 0.1).all()
  z = (x - mean) / scale
  np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(z.std(0), x.std(0) / scale, rtol=1e-4, atol=1e-5)


def test_load_digits_split():
  x_tr, y_tr, x_te, y_te = demo_train.load_digits_split()
  assert x_tr.shape[1:] == x_te.shape[1:] == (8, 8, 1)
  assert x_tr.dtype == x_te.dtype == np.float32 and y_tr.dtype == y_te.dtype == np.int32
  assert len(x_tr) + len(x_te) == 1797 and len(x_tr) == len(y_tr) and len(x_te) == len(y_te)
  assert 0.0 <= x_tr.min() and x_tr.max() == 1.0
  assert set(np.unique(y_te)) == set(range(10))
  y_all = np.concatenate([y_tr, y_te])
  for c in range(10):                       # each class split 80/20
    assert np.sum(y_te == c) == int(round(np.sum(y_all == c) * 0.2))


@given(n=st.integers(8, 100), devices=st.sampled_from([1, 2, 4]), per=st.integers(1, 8),
       seed=st.integers(0, 1000))
def test_sharded_batches_shapes_and_coverage(n, devices, per, seed):
  bs = devices * per
  if bs > n:
    with pytest.raises(ValueError, match="larger than the training set"):
      next(demo_train.sharded_batches(np.zeros((n, 2)), np.zeros(n), bs, devices,
                                      np.random.default_rng(seed)))
    return
  x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
  y = np.arange(n, dtype=np.int32)
  batches = list(demo_train.sharded_batches(x, y, bs, devices, np.random.default_rng(seed)))
  assert len(batches) == n // bs
  seen = []
  for xb, yb in batches:
    assert xb.shape == (devices, per, 2) and yb.shape == (devices, per)
    np.testing.assert_array_equal(xb[..., 0], 2 * yb)   # images stay with their labels
    seen.extend(yb.ravel().tolist())
  assert len(set(seen)) == len(seen) == (n // bs) * bs


def test_sharded_batches_rejects_an_indivisible_batch():
  with pytest.raises(ValueError, match="not divisible by the number of devices 4"):
    next(demo_train.sharded_batches(np.zeros((10, 2)), np.zeros(10), 6, 4,
                                    np.random.default_rng(0)))


@given(logits=hnp.arrays(np.float32, st.tuples(st.integers(1, 16), st.integers(2, 12)),
                         elements=st.floats(-30, 30, width=32)),
       seed=st.integers(0, 1000), smoothing=st.sampled_from([0.0, 0.1, 0.5]))
def test_cross_entropy_matches_numpy(logits, seed, smoothing):
  labels = np.random.default_rng(seed).integers(0, logits.shape[1], logits.shape[0])
  z = logits.astype(np.float64)
  logp = z - z.max(1, keepdims=True)
  logp -= np.log(np.exp(logp).sum(1, keepdims=True))
  k = logits.shape[1]
  targets = np.eye(k)[labels] * (1 - smoothing) + smoothing / k
  want = -np.mean(np.sum(logp * targets, axis=1))
  got = demo_train.cross_entropy(jnp.asarray(logits), jnp.asarray(labels, jnp.int32),
                                 smoothing)
  np.testing.assert_allclose(float(got), want, rtol=1e-5, atol=1e-5)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
  rng = np.random.default_rng(0)
  logits = rng.standard_normal((5, 10)).astype(np.float32)
  labels = rng.integers(0, 10, 5).astype(np.int32)
  g = rjax.grad(demo_train.cross_entropy)(jnp.asarray(logits), jnp.asarray(labels))
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  want = (p - np.eye(10)[labels]) / 5
  np.testing.assert_allclose(np.asarray(g), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
@pytest.mark.parametrize("n_dev", [2, 4])
@pytest.mark.parametrize("opt", ["sgd", "demo"])
def test_data_parallel_step_equals_one_device_step(model_name, n_dev, opt):
  """pmap over n devices with pmean'd gradients == one jitted step on the whole
  batch, for a few steps. With SGD the parameters agree to rounding; the demo's
  AdamW divides by sqrt(v), which magnifies rounding in tiny gradients, so there
  the losses are compared (and the replicas must stay bit-identical)."""
  model = demo_train.make_model(model_name)
  tx = optim.sgd(0.1) if opt == "sgd" else demo_train.make_optimizer(1e-2, total_steps=10)
  rng = np.random.default_rng(1)
  x = rng.random((3, 8 * n_dev, 8, 8, 1)).astype(np.float32)
  y = rng.integers(0, 10, (3, 8 * n_dev)).astype(np.int32)
  params = model.init(random.PRNGKey(0), jnp.asarray(x[0, :1]))["params"]
  state = tx.init(params)

  single = rjax.jit(demo_train.make_update(model, tx))
  devs = rjax.local_devices()[:n_dev]
  multi = rjax.pmap(demo_train.make_update(model, tx, axis_name="b"), axis_name="b",
                    devices=devs)
  p1, s1 = params, state
  reps = rjax.device_put_replicated((params, state), devs)
  for step in range(3):
    p1, s1, l1 = single(p1, s1, x[step], y[step])
    pn, sn, ln = multi(*reps, x[step].reshape(n_dev, 8, 8, 8, 1), y[step].reshape(n_dev, 8))
    reps = (pn, sn)
    np.testing.assert_allclose(np.asarray(ln), np.full(n_dev, float(l1)), rtol=1e-5)
  for a, b in zip(rjax.tree_util.tree_leaves((p1, s1)), rjax.tree_util.tree_leaves(reps)):
    b = np.asarray(b)
    for i in range(n_dev):
      np.testing.assert_array_equal(b[i], b[0])           # replicas stay identical
    if opt == "sgd":
      np.testing.assert_allclose(b[0], np.asarray(a), rtol=1e-5, atol=1e-6)


def test_cli_parsing():
  a = demo.parse_args([])
  assert (a.quick, a.model, a.epochs, a.devices, a.out) == (False, "cnn", None, None,
                                                            "rjax-demo-out")
  a = demo.parse_args(["--quick", "--model", "mlp", "--epochs", "3", "--devices", "4",
                       "--out", "d"])
  assert (a.quick, a.model, a.epochs, a.devices, a.out) == (True, "mlp", 3, 4, "d")


@pytest.mark.parametrize("argv", [["--model", "resnet"], ["--epochs", "0"],
                                  ["--devices", "-1"], ["--epochs", "two"]])
def test_cli_rejects_bad_options(argv, capsys):
  with pytest.raises(SystemExit) as e:
    demo.parse_args(argv)
  assert e.value.code == 2
  assert "error:" in capsys.readouterr().err


def test_train_rejects_more_devices_than_available(tmp_path):
  with pytest.raises(ValueError, match="devices are available"):
    demo_train.train("mlp", num_devices=rjax.local_device_count() + 1, out_dir=str(tmp_path),
                     quick=True, progress=False)


def _fake_result(acc, restored=None):
  return demo_train.Result("mlp", 2, 1, 1, 1.0, 1.0, acc, acc if restored is None else restored,
                           "p.png", "c.safetensors")


@pytest.mark.parametrize("quick", [False, True])
def test_run_fails_loudly_below_the_target_in_a_full_run(monkeypatch, capsys, quick):
  monkeypatch.setattr(demo_train, "train", lambda *a, **k: _fake_result(0.9))
  args = argparse.Namespace(model="mlp", epochs=None, devices=None, out="o", quick=quick)
  if quick:
    assert demo_train.run(args).test_accuracy == 0.9
  else:
    with pytest.raises(SystemExit, match="below the 97% target"):
      demo_train.run(args)
  assert "test accuracy: 90.00%" in capsys.readouterr().out


def test_run_checks_the_restored_checkpoint(monkeypatch):
  monkeypatch.setattr(demo_train, "train", lambda *a, **k: _fake_result(0.99, 0.5))
  args = argparse.Namespace(model="mlp", epochs=None, devices=None, out="o", quick=False)
  with pytest.raises(SystemExit, match="restored checkpoint"):
    demo_train.run(args)


def test_make_model_rejects_unknown_names():
  with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of"):
    demo_train.make_model("resnet")


def test_demo_rejects_more_devices_than_configured(capsys):
  # conftest sets RJAX_NUM_CPU_DEVICES, so the demo cannot add devices: it stops
  # before any part runs.
  assert os.environ.get("RJAX_NUM_CPU_DEVICES") == str(rjax.device_count())
  with pytest.raises(SystemExit, match=f"--devices 99: only {rjax.device_count()} devices"):
    demo.main(["--devices", "99", "--quick"])
  assert "== 1." not in capsys.readouterr().out
