"""Train a small network on scikit-learn's handwritten digits with rjax: the
Flax + Optax recipe, data-parallel over every virtual CPU device.

    pip install scikit-learn          # the digits ship inside it: no download
    python examples/train_digits.py                     # CNN on 2 devices
    python examples/train_digits.py --model mlp --devices 4 --epochs 30

It is the program a JAX user writes with Flax and Optax; the pieces are:

- ``rjax.nn`` modules (Flax linen's API): ``init(key, x)`` gives the
  parameters, ``apply({'params': p}, x)`` runs the model;
- an ``rjax.optim`` optimizer (Optax's API): ``tx.init`` / ``tx.update`` /
  ``apply_updates``;
- ``rjax.pmap`` over the devices with the gradients averaged by
  ``lax.pmean``, so every replica applies the same update;
- ``rjax.jit`` for the evaluation and ``rjax.checkpoints`` to save the result.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import rjax
import rjax.numpy as jnp
from rjax import lax, nn, optim, random


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", choices=("mlp", "cnn"), default="cnn")
  p.add_argument("--epochs", type=int, default=20)
  p.add_argument("--steps", type=int, default=None, help="stop after this many steps")
  p.add_argument("--devices", type=int, default=2, help="virtual CPU devices (default 2)")
  p.add_argument("--batch-size", type=int, default=128)
  p.add_argument("--lr", type=float, default=2e-3)
  p.add_argument("--checkpoint", default="digits.safetensors")
  args = p.parse_args(argv)
  if min(args.epochs, args.devices, args.batch_size) < 1 or args.batch_size % args.devices:
    p.error("--epochs, --devices and --batch-size must be positive, and the batch size "
            "a multiple of the number of devices")
  return args


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(512)(x))
    x = nn.relu(nn.Dense(256)(x))
    return nn.Dense(10)(x)


class CNN(nn.Module):
  @nn.compact
  def __call__(self, x):                      # x: (batch, 8, 8, 1)
    x = nn.relu(nn.Conv(32, (3, 3))(x))
    x = nn.relu(nn.Conv(64, (3, 3))(x))
    x = nn.avg_pool(x, (2, 2), strides=(2, 2))   # (batch, 4, 4, 64)
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(128)(x))
    return nn.Dense(10)(x)


def load_data(seed=0):
  """Images (n, 8, 8, 1), standardized per pixel with the training set's
  statistics, and int labels; 20% of each class held out."""
  from sklearn.datasets import load_digits
  from sklearn.model_selection import train_test_split
  d = load_digits()
  x = (d.images / 16.0).astype(np.float32)[..., None]
  y = d.target.astype(np.int32)
  x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y,
                                                      random_state=seed)
  mean, scale = x_train.mean(0), x_train.std(0) + 0.1   # + 0.1: the blank border
  return (x_train - mean) / scale, (x_test - mean) / scale, y_train, y_test


def loss_fn(model, params, x, y, label_smoothing=0.1):
  logits = model.apply({"params": params}, x)
  targets = nn.one_hot(y, 10) * (1 - label_smoothing) + label_smoothing / 10
  return -jnp.mean(jnp.sum(nn.log_softmax(logits) * targets, axis=-1))


def main(args):
  model = {"mlp": MLP, "cnn": CNN}[args.model]()
  n_dev = args.devices
  x_train, x_test, y_train, y_test = load_data()
  steps_per_epoch = len(x_train) // args.batch_size
  total = min(args.epochs * steps_per_epoch, args.steps or 1 << 62)

  params = model.init(random.PRNGKey(0), jnp.asarray(x_train[:1]))["params"]
  tx = optim.adamw(optim.warmup_cosine_decay_schedule(
      args.lr / 10, args.lr, max(1, total // 20), max(2, total), args.lr / 20), weight_decay=1e-4)
  opt_state = tx.init(params)

  @rjax.jit
  def correct(params, x, y):
    return jnp.sum(jnp.argmax(model.apply({"params": params}, x), -1) == y)

  def train_step(params, opt_state, x, y):      # runs on each device with its shard
    loss, grads = rjax.value_and_grad(lambda p: loss_fn(model, p, x, y))(params)
    grads, loss = lax.pmean((grads, loss), axis_name="batch")
    updates, opt_state = tx.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state, loss

  devices = rjax.local_devices()[:n_dev]
  p_step = rjax.pmap(train_step, axis_name="batch", devices=devices)
  state = rjax.device_put_replicated((params, opt_state), devices)
  rng = np.random.default_rng(0)
  per = args.batch_size // n_dev
  print(f"{args.model.upper()} on {len(x_train)} digits, {n_dev} devices x {per} per step")
  step, t0 = 0, time.perf_counter()
  for epoch in range(args.epochs):
    perm = rng.permutation(len(x_train))
    for i in range(steps_per_epoch):
      idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
      xb = x_train[idx].reshape(n_dev, per, 8, 8, 1)
      yb = y_train[idx].reshape(n_dev, per)
      *state, loss = p_step(*state, xb, yb)
      step += 1
      if step == total:
        break
    params = rjax.tree_util.tree_map(lambda a: a[0], state[0])   # device 0's copy
    acc = int(correct(params, x_test, y_test)) / len(x_test)
    rate = step * args.batch_size / (time.perf_counter() - t0)
    print(f"epoch {epoch + 1:3d}  loss {float(loss[0]):.4f}  test accuracy {100 * acc:.2f}%  "
          f"({rate:,.0f} examples/s)")
    if step == total:
      break
  rjax.checkpoints.save(args.checkpoint, {"params": params})
  print(f"saved {os.path.abspath(args.checkpoint)}")
  return acc


if __name__ == "__main__":
  args = parse_args()
  # Virtual CPU devices: set before rjax first touches a device.
  rjax.config.update("rjax_num_cpu_devices", args.devices)
  main(args)
