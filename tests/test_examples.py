"""examples/: each script runs end to end with a tiny step count (in a
subprocess, as a user runs it), and the transformer example's data and loss
masks are checked against their definition."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _env():
  env = dict(os.environ)
  root = os.path.dirname(os.path.dirname(rjax.__file__))
  env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
  env.pop("RJAX_NUM_CPU_DEVICES", None)
  env["MPLBACKEND"] = "Agg"
  return env


def _run(script, *args, cwd):
  r = subprocess.run([sys.executable, "-W", "error", str(EXAMPLES / script), *args],
                     env=_env(), cwd=cwd, capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
  return r.stdout


def _load(name):
  """Import an example as a module (once; its classes need a sys.modules entry)."""
  key = f"_rjax_example_{name}"
  if key not in sys.modules:
    spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[key] = mod
    spec.loader.exec_module(mod)
  return sys.modules[key]


def test_train_digits_runs(tmp_path):
  for model in ("mlp", "cnn"):
    out = _run("train_digits.py", "--model", model, "--epochs", "2", "--steps", "3",
               "--checkpoint", str(tmp_path / f"{model}.safetensors"), cwd=tmp_path)
    assert re.search(r"epoch   1  loss \d+\.\d+  test accuracy \d+\.\d+%", out), out
    state = rjax.checkpoints.restore(str(tmp_path / f"{model}.safetensors"))
    digits = _load("train_digits")
    net = {"mlp": digits.MLP, "cnn": digits.CNN}[model]()
    assert net.apply(state, jnp.zeros((2, 8, 8, 1))).shape == (2, 10)


def test_transformer_sort_runs(tmp_path):
  out = _run("transformer_sort.py", "--steps", "3", "--batch-size", "8", "--max-len", "4",
             cwd=tmp_path)
  assert re.search(r"step     3  loss \d+\.\d+ +[\d,]+ tokens/s", out), out
  m = re.search(r"held-out accuracy: (\d+\.\d)% of digits, (\d+\.\d)% of sequences", out)
  assert m and float(m.group(2)) <= float(m.group(1)) + 1e-9


def test_transformer_sort_rejects_bad_options(tmp_path):
  r = subprocess.run([sys.executable, str(EXAMPLES / "transformer_sort.py"), "--steps", "0"],
                     env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
  assert r.returncode == 2 and "must be positive" in r.stderr


@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 16), max_len=st.integers(1, 9))
def test_sort_batches_are_digits_separator_sorted_padding(seed, batch, max_len):
  ts = _load("transformer_sort")
  seq, lengths = ts.make_batch(np.random.default_rng(seed), batch, max_len)
  assert seq.shape == (batch, 2 * max_len + 1) and seq.dtype == np.int32
  for row, n in zip(seq, lengths):
    assert 1 <= n <= max_len
    assert (row[:n] < 10).all() and row[n] == ts.SEP
    np.testing.assert_array_equal(row[n + 1:2 * n + 1], np.sort(row[:n]))
    assert (row[2 * n + 1:] == ts.PAD).all()


@given(seed=st.integers(0, 1000), max_len=st.integers(1, 6))
def test_sort_loss_weights_select_exactly_the_sorted_digits(seed, max_len):
  ts = _load("transformer_sort")
  seq, lengths = ts.make_batch(np.random.default_rng(seed), 6, max_len)
  w = np.asarray(ts.target_weights(jnp.asarray(lengths), seq.shape[1] - 1))
  targets = seq[:, 1:]
  for i, n in enumerate(lengths):
    chosen = targets[i][w[i] == 1.0]
    np.testing.assert_array_equal(chosen, np.sort(seq[i, :n]))
  assert set(np.unique(w)) <= {0.0, 1.0}
