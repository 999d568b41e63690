"""The Python half of examples/rust_infer: train the demo's CNN on
scikit-learn's digits, export its inference function for Rust, and time the
same function in Python rjax and in JAX.

    python examples/rust_infer/digits.py export DIR [--epochs N]
    python examples/rust_infer/digits.py bench DIR

``export`` trains the CNN of ``python -m rjax.demo`` (rjax._src.demo_train:
same model, data split, optimizer and train step), and writes to DIR:

- ``model.rjax``: ``logits(x)`` exported with a symbolic batch, ``x`` of
  float32[b, 8, 8, 1], the digits' pixels / 16 (the standardization is
  inside the model);
- ``digits.f32`` and ``labels.i32``: the held-out digits and their labels
  (raw little-endian, row-major: n x 8 x 8 x 1 float32 and n int32);
- ``logits_b1.f32`` and ``logits_b128.f32``: what the export's ``call``
  gives (n x 10 float32) one digit at a time and in batches of 128 (the
  last batch is shorter), which the Rust binary must equal bit for bit;
- ``digits_cnn.safetensors``: the trained checkpoint (for ``bench``).

``bench`` times the two workloads the Rust binary times (a median
per-image latency at batch 1; images per second at batch 128) for the
export's ``call``, ``rjax.jit`` of the same function and ``jax.jit`` of the
same CNN with the same weights, checks that JAX's logits are close to
rjax's, and writes DIR/timings.tsv for the binary's comparison table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import rjax
from rjax import checkpoints, export
from rjax._src import demo_train

BATCH = 128
# Repetitions of each timed workload (after a warm-up of WARMUP calls).
REPS_B1, REPS_B128, WARMUP = 2000, 100, 20


def rjax_logits(state):
  """The exported function: ``x -> logits`` with the trained weights and the
  training set's standardization inside."""
  model = demo_train.make_model("cnn")
  params, mean, scale = state["params"], state["input_mean"], state["input_scale"]

  def logits(x):
    return model.apply({"params": params}, (x - mean) / scale)
  return logits


def jax_logits(state):
  """The same CNN written with JAX's lax (Flax's Conv/Dense/avg_pool
  conventions: NHWC images, HWIO kernels, SAME padding)."""
  import jax
  from jax import lax
  p = {k: {n: np.asarray(v) for n, v in layer.items()} for k, layer in state["params"].items()}
  mean, scale = np.asarray(state["input_mean"]), np.asarray(state["input_scale"])

  def conv(x, layer):
    y = lax.conv_general_dilated(x, layer["kernel"], (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + layer["bias"]

  def logits(x):
    x = (x - mean) / scale
    x = jax.nn.relu(conv(x, p["Conv_0"]))
    x = jax.nn.relu(conv(x, p["Conv_1"]))
    x = lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4.0
    x = x.reshape((x.shape[0], -1))
    x = jax.nn.relu(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
    return x @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
  return logits


def load_test_set(out_dir: str):
  x = np.fromfile(os.path.join(out_dir, "digits.f32"), "<f4").reshape(-1, 8, 8, 1)
  y = np.fromfile(os.path.join(out_dir, "labels.i32"), "<i4")
  return x, y


def batched_logits(f, x: np.ndarray, batch: int) -> np.ndarray:
  return np.concatenate([np.asarray(f(x[i:i + batch])) for i in range(0, len(x), batch)])


def cmd_export(args) -> None:
  os.makedirs(args.dir, exist_ok=True)
  res = demo_train.train("cnn", epochs=args.epochs, num_devices=1, out_dir=args.dir,
                         progress=False)
  print(f"trained the demo's CNN: {res.steps} steps in {res.train_seconds:.1f} s, "
        f"test accuracy {100 * res.test_accuracy:.2f}% (rjax.jit of model.apply)")
  state = checkpoints.restore(res.checkpoint_path)
  _, _, x_test, y_test = demo_train.load_digits_split()   # the split train() held out
  x_test = np.ascontiguousarray(x_test, np.float32)

  spec = rjax.ShapeDtypeStruct(export.symbolic_shape("b, 8, 8, 1"), np.float32)
  exp = export.export(rjax.jit(rjax_logits(state)))(spec)
  blob = bytes(exp.serialize())
  with open(os.path.join(args.dir, "model.rjax"), "wb") as f:
    f.write(blob)
  x_test.astype("<f4").tofile(os.path.join(args.dir, "digits.f32"))
  y_test.astype("<i4").tofile(os.path.join(args.dir, "labels.i32"))

  loaded = export.deserialize(blob)
  b1 = batched_logits(loaded.call, x_test, 1)
  b128 = batched_logits(loaded.call, x_test, BATCH)
  b1.astype("<f4").tofile(os.path.join(args.dir, "logits_b1.f32"))
  b128.astype("<f4").tofile(os.path.join(args.dir, "logits_b128.f32"))
  acc = float(np.mean(np.argmax(b128, -1) == y_test))
  print(f"exported {exp.fun_name}: {exp.in_avals} -> {exp.out_avals}, {len(blob):,} bytes")
  print(f"python: exported.call accuracy on {len(y_test)} held-out digits: {100 * acc:.2f}%")
  if abs(acc - res.test_accuracy) > 0.5 / len(y_test):
    sys.exit(f"exported.call's accuracy {acc} differs from training's {res.test_accuracy}")


def median_latency(f, xs: list, reps: int) -> float:
  """Median seconds of one call of ``f`` (the output ready), cycling over ``xs``."""
  for i in range(WARMUP):
    f(xs[i % len(xs)])
  times = []
  for i in range(reps):
    x = xs[i % len(xs)]
    t0 = time.perf_counter()
    f(x)
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def cmd_bench(args) -> None:
  import jax
  jax.config.update("jax_platforms", "cpu")
  state = checkpoints.restore(os.path.join(args.dir, "digits_cnn.safetensors"))
  x_test, y_test = load_test_set(args.dir)
  with open(os.path.join(args.dir, "model.rjax"), "rb") as f:
    loaded = export.deserialize(f.read())
  rjax_jit = rjax.jit(rjax_logits(state))
  jax_jit = jax.jit(jax_logits(state))

  ours = batched_logits(loaded.call, x_test, BATCH)
  theirs = batched_logits(jax_jit, x_test, BATCH)
  err = float(np.max(np.abs(ours - theirs)))
  agree = float(np.mean(np.argmax(ours, -1) == np.argmax(theirs, -1)))
  print(f"jax.jit of the same CNN: max |logits - rjax's| = {err:.2e}, same class for "
        f"{100 * agree:.2f}% of the digits, accuracy "
        f"{100 * np.mean(np.argmax(theirs, -1) == y_test):.2f}%")
  if err > 1e-3 * max(1.0, float(np.max(np.abs(ours)))):
    sys.exit("JAX's logits are not close to rjax's: the two CNNs differ")

  singles = [x_test[i:i + 1] for i in range(len(x_test))]
  batches = [x_test[:BATCH]]
  runners = {
      "python rjax exported.call": lambda x: loaded.call(x).block_until_ready(),
      "python rjax.jit": lambda x: rjax_jit(x).block_until_ready(),
      "python jax.jit (JAX " + jax.__version__ + ")": lambda x: jax_jit(x).block_until_ready(),
  }
  rows = []
  for name, f in runners.items():
    t1 = median_latency(f, singles, REPS_B1)
    t128 = median_latency(f, batches, REPS_B128)
    rows.append((name, t1 * 1e6, BATCH / t128))
    print(f"{name}: batch 1 median {t1 * 1e6:.1f} us, batch {BATCH} {BATCH / t128:,.0f} images/s")
  with open(os.path.join(args.dir, "timings.tsv"), "w") as f:
    for name, us, ips in rows:
      f.write(f"{name}\t{us:.3f}\t{ips:.1f}\n")


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = p.add_subparsers(dest="cmd", required=True)
  e = sub.add_parser("export", help="train, export, write the test set and Python's logits")
  e.add_argument("dir")
  e.add_argument("--epochs", type=int, default=None,
                 help="training epochs (default: the demo's, 20)")
  b = sub.add_parser("bench", help="time Python rjax and JAX on the two workloads")
  b.add_argument("dir")
  args = p.parse_args(argv)
  {"export": cmd_export, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
  main()
