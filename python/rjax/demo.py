"""``python -m rjax.demo``: a short tour of rjax.

Part 1: the NumPy API on the Rust core — create, compute, index, update,
compare against NumPy, and time a large expression.
Part 2: the composable transformations — grad, vmap, make_jaxpr, jacobians
and per-example gradients.
Part 3: jit — selu and a column normalization, eager vs jit vs NumPy.
Part 4: control flow and random numbers — keys, split, a histogram of
normals, and a jitted fori_loop that runs inside the Rust executor.
Part 5: pmap — the same program on every virtual device, and a few steps of
data-parallel training whose replicated parameters stay identical.
Part 6: training — a CNN (or ``--model mlp``) on scikit-learn's
handwritten digits, jitted and data-parallel over every virtual device, with a
progress bar, a PNG of the training curves and a checkpoint in ``--out``; it
must reach 97% test accuracy (``--quick``: a few steps only, for CI).
"""
from __future__ import annotations

import argparse
import functools
import os
import time

import numpy as np

import rjax
import rjax.numpy as jnp
from rjax import _rjax, lax, random
from rjax._src import demo_train


def _best_of(fn, repeat: int = 5, number: int = 3) -> float:
  """Best mean wall time of ``number`` calls, over ``repeat`` tries (seconds)."""
  best = float("inf")
  for _ in range(repeat):
    t0 = time.perf_counter()
    for _ in range(number):
      fn()
    best = min(best, (time.perf_counter() - t0) / number)
  return best


def part_numpy(quick: bool) -> None:
  print("== 1. The NumPy API, run by the Rust core ==")
  x = jnp.arange(12.0).reshape(3, 4)
  print("x = jnp.arange(12.0).reshape(3, 4)\n", x)
  y = jnp.tanh(x @ x.T) + 1
  print("y = jnp.tanh(x @ x.T) + 1\n", y)
  z = y.at[0, 1].set(5.0)
  print("y.at[0, 1].set(5.0)  (a new array; y is unchanged)\n", z)
  print("y[0, 1] =", float(y[0, 1]), " z[0, 1] =", float(z[0, 1]))
  print("x[:, ::-2] =\n", x[:, ::-2])
  print("x[x > 5] =", x[x > 5])
  print("dtype rules as in JAX: uint8 250 + 10 =", jnp.asarray(np.uint8(250)) + 10,
        "| float16 + 1.5 ->", (jnp.ones(2, jnp.float16) + 1.5).dtype,
        "| sum(uint8) ->", jnp.sum(jnp.ones(3, jnp.uint8)).dtype)

  xn = np.asarray(x)
  ref = np.tanh(xn @ xn.T) + 1
  err = float(np.max(np.abs(np.asarray(y) - ref)))
  print(f"max |rjax - numpy| on y: {err:.2e}")
  assert err < 1e-5

  n = 1_000_000 if quick else 4_000_000
  rng = np.random.default_rng(0)
  a_np = rng.standard_normal(n).astype(np.float32)
  b_np = rng.standard_normal(n).astype(np.float32)
  a, b = jnp.asarray(a_np), jnp.asarray(b_np)

  def f_rjax():
    return (jnp.tanh(a) * b + jnp.exp(-a * a)).block_until_ready()

  def f_numpy():
    return np.tanh(a_np) * b_np + np.exp(-a_np * a_np)

  np.testing.assert_allclose(np.asarray(f_rjax()), f_numpy(), rtol=1e-5, atol=1e-6)
  t_r, t_n = _best_of(f_rjax), _best_of(f_numpy)
  print(f"tanh(a)*b + exp(-a*a) on {n:,} float32, eager op by op:")
  print(f"  rjax  {t_r * 1e3:7.2f} ms   ({_rjax.num_threads()} threads)")
  print(f"  numpy {t_n * 1e3:7.2f} ms   -> rjax is {t_n / t_r:.2f}x NumPy's speed")


def part_transformations(quick: bool) -> None:
  print("\n== 2. Composable transformations: grad, vmap, make_jaxpr ==")
  f = lambda x: x ** 3 + 2 * x
  d1, d2, d3 = rjax.grad(f), rjax.grad(rjax.grad(f)), rjax.grad(rjax.grad(rjax.grad(f)))
  print("f = lambda x: x**3 + 2*x")
  print("grad(f)(2.), grad(grad(f))(2.), grad(grad(grad(f)))(2.) =",
        float(d1(2.0)), float(d2(2.0)), float(d3(2.0)))
  assert (float(d1(2.0)), float(d2(2.0)), float(d3(2.0))) == (14.0, 12.0, 6.0)
  print("grad(lambda x: jnp.sum(x * x))(jnp.array([1, 2, 3.])) =",
        rjax.grad(lambda x: jnp.sum(x * x))(jnp.array([1, 2, 3.0])))
  mat_vec = rjax.vmap(jnp.dot, in_axes=(0, None), out_axes=0)
  mv = mat_vec(jnp.ones((2, 3)), jnp.array([1.0, 2.0, 2.0]))
  print("vmap(jnp.dot, in_axes=(0, None))(ones((2, 3)), [1, 2, 2]) =", np.asarray(mv))
  assert np.asarray(mv).tolist() == [5.0, 5.0]
  print("make_jaxpr(f)(2.):")
  print(rjax.make_jaxpr(f)(2.0))
  print("make_jaxpr(grad(f))(2.):")
  print(rjax.make_jaxpr(rjax.grad(f))(2.0))

  # Per-example gradients of a small regression loss, checked against a loop.
  rng = np.random.default_rng(0)
  params = {"w": jnp.asarray(rng.standard_normal((3, 2)).astype(np.float32)), "b": jnp.zeros(2)}
  xs = jnp.asarray(rng.standard_normal((4, 3)).astype(np.float32))
  ys = jnp.asarray(rng.standard_normal((4, 2)).astype(np.float32))

  def loss(p, x, y):
    return jnp.sum((jnp.tanh(x @ p["w"] + p["b"]) - y) ** 2)

  per = rjax.vmap(rjax.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)
  loop = [rjax.grad(loss)(params, xs[i], ys[i])["w"] for i in range(4)]
  err = max(float(jnp.max(jnp.abs(per["w"][i] - loop[i]))) for i in range(4))
  print(f"per-example grads: vmap(grad(loss), in_axes=(None, 0, 0)) -> w {per['w'].shape}, "
        f"b {per['b'].shape}; max |vmap - loop| = {err:.1e}")
  assert err < 1e-5
  h = rjax.hessian(lambda x: jnp.sum(jnp.sin(x) * x[::-1]))(jnp.array([0.5, 1.0, 1.5]))
  print("hessian(lambda x: sum(sin(x) * x[::-1]))([.5, 1, 1.5]) =\n", h)

  # Tracing cost, and grad of a large elementwise loss against NumPy's hand-written 2*x.
  n = 1_000_000
  a = jnp.asarray(rng.standard_normal(n).astype(np.float32))
  a_np = np.asarray(a)
  g = rjax.grad(lambda x: jnp.sum(x * x))
  np.testing.assert_allclose(np.asarray(g(a)), 2 * a_np, rtol=1e-6)
  t_g = _best_of(lambda: g(a).block_until_ready(), repeat=3 if quick else 5)
  t_n = _best_of(lambda: 2 * a_np, repeat=3 if quick else 5)
  print(f"grad(sum(x*x)) on {n:,} float32, eager: rjax {t_g * 1e3:.2f} ms, "
        f"NumPy's 2*x {t_n * 1e3:.2f} ms")


def part_jit(quick: bool) -> None:
  print("\n== 3. jit: one fused, compiled Program per signature ==")
  alpha, scale = 1.6732632423543772, 1.0507009873554805

  def selu(np_mod):
    return lambda x: scale * np_mod.where(x > 0, x, alpha * np_mod.exp(x) - alpha)

  def norm(np_mod):
    return lambda x: (x - x.mean(0)) / x.std(0)

  rng = np.random.default_rng(0)
  cases = [("selu, 1M float32", selu, rng.standard_normal(1 << 20).astype(np.float32)),
           ("(X - X.mean(0)) / X.std(0), 10000x100", norm,
            rng.standard_normal((10000, 100)).astype(np.float32))]
  rows = []
  for name, make, x_np in cases:
    x = jnp.asarray(x_np)
    eager, jitted, ref = make(jnp), rjax.jit(make(jnp)), make(np)
    np.testing.assert_allclose(np.asarray(jitted(x)), ref(x_np), rtol=1e-4, atol=1e-4)
    reps = 3 if quick else 7
    t_e = _best_of(lambda: eager(x).block_until_ready(), repeat=reps)
    t_j = _best_of(lambda: jitted(x).block_until_ready(), repeat=reps)
    t_n = _best_of(lambda: ref(x_np), repeat=reps)
    rows.append((name, t_e, t_j, t_n))
  print(f"{'workload':40s} {'eager':>10s} {'jit':>10s} {'NumPy':>10s}  NumPy/jit")
  for name, t_e, t_j, t_n in rows:
    print(f"{name:40s} {t_e * 1e3:8.3f}ms {t_j * 1e3:8.3f}ms {t_n * 1e3:8.3f}ms  {t_n / t_j:6.2f}x")
  x = jnp.asarray(cases[0][2])
  plan = rjax.jit(selu(jnp)).lower(x).as_text()
  print("the compiled plan of jit(selu):")
  print(plan[plan.index("plan("):])


def part_random_and_control_flow(quick: bool) -> None:
  print("\n== 4. Random numbers (JAX's threefry, bit for bit) and control flow ==")
  key = random.PRNGKey(0)
  print("PRNGKey(0) =", np.asarray(key), "  split(PRNGKey(0)) =", np.asarray(random.split(key)).tolist())
  print("uniform(PRNGKey(42), (3,)) =", np.asarray(random.uniform(random.PRNGKey(42), (3,))))
  z = np.asarray(rjax.jit(lambda k: random.normal(k, (100_000,)))(key))
  counts, edges = np.histogram(z, bins=12, range=(-3, 3))
  print(f"histogram of 100,000 normals (mean {z.mean():+.3f}, std {z.std():.3f}):")
  for c, lo in zip(counts, edges):
    print(f"  {lo:+.1f} {'#' * int(60 * c / counts.max())}")

  def newton_sqrt(a):
    return lax.fori_loop(0, 10_000, lambda i, x: 0.5 * (x + a / x), jnp.ones_like(a))

  a = jnp.asarray([2.0, 9.0, 10.0])
  f = rjax.jit(newton_sqrt)
  f(a).block_until_ready()
  t = _best_of(lambda: f(a).block_until_ready(), repeat=3, number=1)
  print(f"jit(fori_loop) of 10,000 Newton steps: {np.asarray(f(a))} in {t * 1e3:.1f} ms "
        f"({t / 10_000 * 1e9:.0f} ns per iteration, without returning to Python)")


def part_pmap(quick: bool) -> None:
  print("\n== 5. pmap: one program on every virtual device ==")
  n = rjax.device_count()
  print("devices:", rjax.devices())
  print("pmap(jnp.add)(jnp.arange(n), jnp.arange(n)) =",
        np.asarray(rjax.pmap(jnp.add)(jnp.arange(n), jnp.arange(n))))
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((64 * n, 8)), jnp.float32)
  y = jnp.asarray(np.sin(np.asarray(x).sum(1, keepdims=True)), jnp.float32)
  params = {"w": jnp.asarray(rng.standard_normal((8, 1)) * 0.1, jnp.float32), "b": jnp.zeros(1)}

  def loss_fn(p, xb, yb):
    return jnp.mean((jnp.tanh(xb @ p["w"] + p["b"]) - yb) ** 2)

  @functools.partial(rjax.pmap, axis_name="batch")
  def train_step(p, xb, yb):
    loss, g = rjax.value_and_grad(loss_fn)(p, xb, yb)
    g = lax.pmean(g, "batch")
    return rjax.tree_util.tree_map(lambda a, b: a - 0.5 * b, p, g), lax.pmean(loss, "batch")

  reps = rjax.device_put_replicated(params, rjax.devices())
  xs, ys = x.reshape(n, 64, 8), y.reshape(n, 64, 1)
  for step in range(5):
    reps, loss = train_step(reps, xs, ys)
    print(f"  step {step}: loss {float(np.asarray(loss)[0]):.4f}")
  w = np.asarray(reps["w"])
  same = all((w[i] == w[0]).all() for i in range(n))
  print(f"data-parallel training on {n} devices: replicated parameters identical: {same}")


def part_train(args: argparse.Namespace) -> None:
  print("\n== 6. Training: the handwritten digits, data-parallel over every device ==")
  demo_train.run(args)


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(prog="python -m rjax.demo", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--quick", action="store_true",
                 help="smaller sizes and a few training steps (for CI)")
  demo_train.add_arguments(p)
  return p.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)
  if "RJAX_NUM_CPU_DEVICES" not in os.environ:
    # Two virtual devices for parts 5 and 6 (or as many as --devices asks for).
    rjax.config.update("rjax_num_cpu_devices", max(2, args.devices or 2))
  if args.devices is not None and args.devices > rjax.local_device_count():
    raise SystemExit(f"--devices {args.devices}: only {rjax.local_device_count()} devices "
                     "(RJAX_NUM_CPU_DEVICES is set)")
  print(f"rjax {rjax.__version__}")
  t0 = time.perf_counter()
  part_numpy(args.quick)
  part_transformations(args.quick)
  part_jit(args.quick)
  part_random_and_control_flow(args.quick)
  part_pmap(args.quick)
  part_train(args)
  print(f"\nDone in {time.perf_counter() - t0:.0f} s.")


if __name__ == "__main__":
  main()
