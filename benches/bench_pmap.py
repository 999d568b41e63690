"""pmap: data-parallel training on 2 virtual devices, against 1 device and
against JAX's pmap on 2 XLA CPU devices, in one run.

    python benches/bench_pmap.py            # all workloads
    python benches/bench_pmap.py --quick    # fewer repeats

- the MLP training step of bench_jit.py (784-512-512-10, tanh, softmax
  cross-entropy, SGD) with a global batch of 256: ``pmap`` over 2 devices
  (128 examples each, gradients averaged with ``pmean``) against ``jit`` on
  one device with the whole batch. rjax's one-device run is a subprocess
  with ``RJAX_NUM_CPU_DEVICES=1`` (one device owns every core there; with 2
  devices each owns half). JAX runs with
  ``XLA_FLAGS=--xla_force_host_platform_device_count=2``.
- a local grad plus ``psum`` on a (2, 65536) batch: the per-call cost of a
  small pmap (JAX: 201 µs on one of our machines, the issue's reference).

Ratios are JAX / rjax (> 1 means rjax is faster).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

if "--single" not in sys.argv:
  os.environ.setdefault("RJAX_NUM_CPU_DEVICES", "2")
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=2").strip()

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import bench, fmt_time, machine, optional_jax, table  # noqa: E402
from bench_jit import mlp_step  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402
from rjax import lax  # noqa: E402

SIZES = [784, 512, 512, 10]
BATCH = 256


def data():
  rng = np.random.default_rng(0)
  params = [(rng.standard_normal((m, n)).astype(np.float32) / np.sqrt(m),
             np.zeros(n, np.float32)) for m, n in zip(SIZES[:-1], SIZES[1:])]
  x = rng.standard_normal((BATCH, 784)).astype(np.float32)
  y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]
  return params, x, y


def make_step(np_mod, api, lax_mod, axis_name=None):
  """bench_jit.py's MLP step, averaged over ``axis_name`` when given."""
  mean = None if axis_name is None else (lambda t: lax_mod.pmean(t, axis_name))
  return mlp_step(np_mod, api, mean)


def grad_psum(np_mod, api, lax_mod):
  def f(x):
    g = api.grad(lambda v: np_mod.sum(np_mod.sin(v) * v))(x)
    return lax_mod.psum(g, "i")
  return f


def single_device_rjax(repeat: int) -> dict:
  """The one-device baseline (run in a subprocess with 1 device)."""
  params, x, y = data()
  p = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
  step = rjax.jit(make_step(jnp, rjax, lax))
  xr, yr = jnp.asarray(x), jnp.asarray(y)
  loss = float(step(p, xr, yr)[1])
  t = bench(lambda: step(p, xr, yr)[1].block_until_ready(), repeat=repeat)
  return {"time": t, "loss": loss, "devices": rjax.device_count(),
          "threads": [d.threads for d in rjax.devices()]}


def run(quick: bool) -> str:
  repeat = 3 if quick else 7
  jax, jjnp = optional_jax()
  params, x, y = data()
  rows = []
  n = rjax.device_count()
  assert n == 2, f"bench_pmap wants 2 rjax devices, has {n}"

  # 1 device, whole batch (subprocess)
  env = dict(os.environ, RJAX_NUM_CPU_DEVICES="1")
  out = subprocess.run([sys.executable, __file__, "--single", "--repeat", str(repeat)],
                       env=env, capture_output=True, text=True, check=True)
  single = json.loads(out.stdout.strip().splitlines()[-1])

  # 2 devices, 128 each
  pr = rjax.device_put_replicated([(jnp.asarray(w), jnp.asarray(b)) for w, b in params],
                                  rjax.local_devices())
  xs, ys = x.reshape(n, BATCH // n, 784), y.reshape(n, BATCH // n, 10)
  xr, yr = rjax.device_put_sharded(list(xs), rjax.local_devices()), \
      rjax.device_put_sharded(list(ys), rjax.local_devices())
  pstep = rjax.pmap(make_step(jnp, rjax, lax, "b"), axis_name="b")
  loss2 = float(np.asarray(pstep(pr, xr, yr)[1])[0])
  assert abs(loss2 - single["loss"]) < 1e-4, (loss2, single["loss"])
  t2 = bench(lambda: pstep(pr, xr, yr)[1].block_until_ready(), repeat=repeat)

  tj1 = tj2 = None
  if jax:
    assert jax.device_count() == 2
    pj = [(jjnp.asarray(w), jjnp.asarray(b)) for w, b in params]
    jstep = jax.jit(make_step(jjnp, jax, jax.lax))
    xj, yj = jjnp.asarray(x), jjnp.asarray(y)
    tj1 = bench(lambda: jax.block_until_ready(jstep(pj, xj, yj)), repeat=repeat)
    # (device_put_replicated/sharded are deprecated in JAX 0.10: an identity
    # pmap places the stacked arrays on the devices once.)
    put = jax.pmap(lambda t: t)
    pjr = put(jax.tree_util.tree_map(lambda a: np.stack([a] * n), params))
    xjs, yjs = put(xs), put(ys)
    jp = jax.pmap(make_step(jjnp, jax, jax.lax, "b"), axis_name="b")
    lj = float(np.asarray(jp(pjr, xjs, yjs)[1])[0])
    assert abs(lj - loss2) < 1e-3, (lj, loss2)
    tj2 = bench(lambda: jax.block_until_ready(jp(pjr, xjs, yjs)), repeat=repeat)

  def ratio(tj, tr):
    return f"{tj / tr:.2f}x" if tj else "-"

  rows.append([f"MLP step, batch {BATCH}, jit on 1 device ({single['threads'][0]} threads)",
               fmt_time(single["time"]), fmt_time(tj1) if tj1 else "-",
               ratio(tj1, single["time"])])
  rows.append([f"MLP step, batch {BATCH}, pmap on 2 devices "
               f"({'+'.join(str(d.threads) for d in rjax.devices())} threads)",
               fmt_time(t2), fmt_time(tj2) if tj2 else "-", ratio(tj2, t2)])
  rows.append(["scaling: 1-device time / 2-device time", f"{single['time'] / t2:.2f}x",
               f"{tj1 / tj2:.2f}x" if tj1 else "-", "-"])

  # grad + psum on (2, 65536)
  xg = np.random.default_rng(1).standard_normal((2, 65536)).astype(np.float32)
  fr = rjax.pmap(grad_psum(jnp, rjax, lax), axis_name="i")
  xgr = rjax.device_put_sharded(list(xg), rjax.local_devices())
  want = (np.sin(xg) + xg * np.cos(xg)).sum(0)
  np.testing.assert_allclose(np.asarray(fr(xgr))[0], want, rtol=1e-5, atol=1e-5)
  tg = bench(lambda: fr(xgr).block_until_ready(), repeat=repeat)
  tjg = None
  if jax:
    fj = jax.pmap(grad_psum(jjnp, jax, jax.lax), axis_name="i")
    xgj = jax.pmap(lambda t: t)(xg)
    tjg = bench(lambda: fj(xgj).block_until_ready(), repeat=repeat)
  rows.append(["pmap(grad + psum), (2, 65536) f32", fmt_time(tg),
               fmt_time(tjg) if tjg else "-", ratio(tjg, tg)])
  return table(rows, ["workload", "rjax", "JAX", "JAX/rjax"])


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true")
  ap.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
  ap.add_argument("--repeat", type=int, default=7, help=argparse.SUPPRESS)
  a = ap.parse_args()
  if a.single:
    print(json.dumps(single_device_rjax(a.repeat)))
    return
  print(machine())
  print(f"load average: {os.getloadavg()[0]:.1f}")
  print(run(a.quick))


if __name__ == "__main__":
  main()
