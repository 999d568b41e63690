"""``python -m rjax.demo``: a short tour of rjax.

Part 1 (this release): the NumPy API on the Rust core — create, compute,
index, update, compare against NumPy, and time a large expression.
Later parts (grad, jit, vmap, pmap, random, training) join as they land.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import rjax
import rjax.numpy as jnp
from rjax import _rjax


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


def main(argv=None) -> None:
  p = argparse.ArgumentParser(prog="python -m rjax.demo", description=__doc__)
  p.add_argument("--quick", action="store_true", help="smaller sizes (for CI)")
  args = p.parse_args(argv)
  print(f"rjax {rjax.__version__}")
  part_numpy(args.quick)
  print("\nDone.")


if __name__ == "__main__":
  main()
