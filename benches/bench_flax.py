"""The demo's training step: rjax (rjax.nn + rjax.optim) against the same model
in JAX + Flax + Optax, in one run, as examples per second.

    python benches/bench_flax.py            # MLP and CNN, jit and pmap
    python benches/bench_flax.py --quick    # fewer repeats

Both sides train the models of ``python -m rjax.demo`` (``--model mlp``: Dense
512-256-10; ``--model cnn``: two 3x3 convolutions, 2x2 average pooling, Dense
128-10) on 8x8x1 digits with the demo's loss (cross-entropy with label smoothing
0.1), optimizer (AdamW, warmup + cosine schedule) and global batch (128), in the demo's two set-ups:

- ``pmap`` over 2 virtual devices, 64 examples each, gradients ``pmean``'d
  (the demo's default; JAX runs with
  ``XLA_FLAGS=--xla_force_host_platform_device_count=2``);
- ``jit`` on one device with the whole batch.

The Flax model gets rjax's initial parameters (the same tree of arrays), and
before timing, three steps on the same batches must give the same losses on
both sides. The batches live on the devices already: the timing is the step,
not the host-to-device copy. Ratios are JAX / rjax time (> 1: rjax is faster).

Flax and Optax are installed beside the venv's JAX without touching it (they
would otherwise upgrade jax/jaxlib):

    pip install --target /tmp/flaxpkgs --no-deps flax optax chex absl-py toolz \\
        msgpack typing_extensions rich PyYAML
    PYTHONPATH=/tmp/flaxpkgs python benches/bench_flax.py

(check that ``python -c 'import jax; print(jax.__version__)'`` still prints
the venv's version). Without Flax the script times rjax alone.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("RJAX_NUM_CPU_DEVICES", "2")
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=2").strip()

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
from rjax._src import demo_train  # noqa: E402

jax, jjnp = optional_jax()
try:
  import flax.linen as fnn
  import optax
except Exception:        # Flax/Optax are optional: see the docstring
  fnn = optax = None

BATCH, DEVICES, LR, STEPS = 128, 2, 2e-3, 1000


def flax_models():
  """The demo's models written with flax.linen (parameter names and shapes
  match rjax.nn's, so rjax's initial parameters load as they are)."""
  class MLP(fnn.Module):
    hidden: tuple = demo_train.MLP.hidden

    @fnn.compact
    def __call__(self, x):
      x = x.reshape((x.shape[0], -1))
      for h in self.hidden:
        x = fnn.relu(fnn.Dense(h)(x))
      return fnn.Dense(demo_train.NUM_CLASSES)(x)

  class CNN(fnn.Module):
    @fnn.compact
    def __call__(self, x):
      x = fnn.relu(fnn.Conv(32, (3, 3))(x))
      x = fnn.relu(fnn.Conv(64, (3, 3))(x))
      x = fnn.avg_pool(x, (2, 2), strides=(2, 2))
      x = x.reshape((x.shape[0], -1))
      x = fnn.relu(fnn.Dense(128)(x))
      return fnn.Dense(demo_train.NUM_CLASSES)(x)
  return {"mlp": MLP(), "cnn": CNN()}


def jax_update(model, tx, axis_name=None):
  """The JAX + Optax twin of ``demo_train.make_update``."""
  def loss_fn(params, x, y):
    logits = model.apply({"params": params}, x)
    targets = optax.smooth_labels(jax.nn.one_hot(y, logits.shape[-1]),
                                  demo_train.LABEL_SMOOTHING)
    return optax.softmax_cross_entropy(logits, targets).mean()

  def update(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    if axis_name is not None:
      grads, loss = jax.lax.pmean((grads, loss), axis_name)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss
  return update


def optax_optimizer(lr, total_steps, weight_decay=1e-4):
  """``demo_train.make_optimizer`` in Optax."""
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=lr / 10, peak_value=lr, warmup_steps=max(1, total_steps // 20),
      decay_steps=max(2, total_steps), end_value=lr / 20)
  return optax.adamw(schedule, weight_decay=weight_decay)


class Trainer:
  """A training step and its state, stepped by ``__call__`` (for ``bench``)."""

  def __init__(self, step, state, batches, block):
    self.step, self.state, self.batches, self.block, self.i = step, state, batches, block, 0

  def __call__(self):
    x, y = self.batches[self.i % len(self.batches)]
    self.i += 1
    *self.state, loss = self.step(*self.state, x, y)
    self.block(loss)
    return loss


def make_rjax(name, params0, batches, parallel):
  import rjax.numpy as jnp
  model = demo_train.make_model(name)
  tx = demo_train.make_optimizer(LR, STEPS)
  state = (params0, tx.init(params0))
  if parallel:
    devs = rjax.local_devices()[:DEVICES]
    step = rjax.pmap(demo_train.make_update(model, tx, axis_name="batch"), axis_name="batch",
                     devices=devs)
    state = rjax.device_put_replicated(state, devs)
    batches = [(rjax.device_put_sharded(list(x.reshape(DEVICES, -1, *x.shape[1:])), devs),
                rjax.device_put_sharded(list(y.reshape(DEVICES, -1)), devs)) for x, y in batches]
  else:
    step = rjax.jit(demo_train.make_update(model, tx))
    batches = [(jnp.asarray(x), jnp.asarray(y)) for x, y in batches]
  return Trainer(step, list(state), batches, lambda l: l.block_until_ready())


def make_jax(name, params0, batches, parallel):
  model = flax_models()[name]
  tx = optax_optimizer(LR, STEPS)
  params = jax.tree_util.tree_map(jjnp.asarray, params0)
  state = (params, tx.init(params))
  if parallel:
    devs = jax.local_devices()[:DEVICES]
    step = jax.pmap(jax_update(model, tx, axis_name="batch"), axis_name="batch", devices=devs)
    # (JAX 0.10 has no device_put_replicated/_sharded: an identity pmap places
    # the stacked copies and shards on the devices.)
    put = jax.pmap(lambda t: t, devices=devs)
    state = put(jax.tree_util.tree_map(lambda a: jjnp.stack([a] * DEVICES), state))
    batches = [put((x.reshape(DEVICES, -1, *x.shape[1:]), y.reshape(DEVICES, -1)))
               for x, y in batches]
  else:
    step = jax.jit(jax_update(model, tx))
    batches = [(jjnp.asarray(x), jjnp.asarray(y)) for x, y in batches]
  return Trainer(step, list(state), batches, lambda l: l.block_until_ready())


def run(quick: bool) -> str:
  x_train, y_train, _, _ = demo_train.load_digits_split()
  rng = np.random.default_rng(0)
  batches = [(x_train[idx], y_train[idx])
             for idx in (rng.choice(len(x_train), BATCH, replace=False) for _ in range(8))]
  have_flax = jax is not None and fnn is not None
  rows = []
  for name in demo_train.MODELS:
    model = demo_train.make_model(name)
    params0 = model.init(rjax.random.PRNGKey(0), rjax.numpy.asarray(x_train[:1]))["params"]
    params_np = rjax.tree_util.tree_map(np.asarray, params0)
    for parallel in (True, False):
      setup = f"pmap, {DEVICES} devices x {BATCH // DEVICES}" if parallel else f"jit, 1 x {BATCH}"
      r = make_rjax(name, params0, batches, parallel)
      j = make_jax(name, params_np, batches, parallel) if have_flax else None
      losses_r = [float(np.asarray(r())[0] if parallel else r()) for _ in range(3)]
      if j is not None:
        losses_j = [float(np.asarray(j())[0] if parallel else j()) for _ in range(3)]
        np.testing.assert_allclose(losses_r, losses_j, rtol=2e-4, atol=1e-5,
                                   err_msg=f"{name} {setup}: rjax and Flax losses differ")
      repeat = 3 if quick else 7
      t_r = bench(r, repeat=repeat)
      t_j = bench(j, repeat=repeat) if j is not None else None
      rows.append([f"{name.upper()} train step, {setup}", fmt_time(t_r),
                   f"{BATCH / t_r:,.0f}", fmt_time(t_j) if t_j else "-",
                   f"{BATCH / t_j:,.0f}" if t_j else "-", f"{t_j / t_r:.2f}x" if t_j else "-"])
  header = ["workload (batch 128, AdamW)", "rjax", "rjax ex/s", "JAX+Flax", "JAX ex/s",
            "JAX/rjax"]
  versions = (f"JAX {jax.__version__}, Flax {sys.modules['flax'].__version__}, "
              f"Optax {optax.__version__}" if have_flax else "JAX/Flax/Optax not installed")
  return (f"{machine()}; rjax threads: {rjax._rjax.num_threads()}; {versions}\n\n"
          + table(rows, header))


if __name__ == "__main__":
  p = argparse.ArgumentParser()
  p.add_argument("--quick", action="store_true")
  print(run(p.parse_args().quick))
