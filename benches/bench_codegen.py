"""The native tier: fused workloads with the tile interpreter
(``RJAX_CODEGEN=off``), with native code (``sync``) and with JAX's jit, in
one run; and the compile time of each workload's groups.

    python benches/bench_codegen.py
    RUSTFLAGS="-C target-cpu=native" pip install -e .   # for a native build

Ratios are JAX / rjax (> 1 means rjax is faster). Both tiers' results are
checked equal bit for bit before timing.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_jit import logsumexp, norm, selu, softmax  # noqa: E402
from common import bench, fmt_time, machine, optional_jax, table  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402
from rjax._src.runtime import codegen  # noqa: E402

jax, jjnp = optional_jax()


def gelu(np_mod):
  return lambda x: 0.5 * x * (1 + np_mod.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def bias_tanh(np_mod):
  return lambda x, b: np_mod.tanh(x * 0.5 + b)


def sum_sq(np_mod):
  return lambda x: np_mod.sum(x * x)


def layer_norm(np_mod):
  def f(x):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np_mod.sqrt(v + 1e-5)
  return f


def chain_f64(np_mod):
  return lambda x: np_mod.exp(-x * x) * np_mod.sin(x) + 1.0


def main() -> None:
  rng = np.random.default_rng(0)
  x1m = rng.standard_normal(1 << 20).astype(np.float32)
  x16m = rng.standard_normal(1 << 24).astype(np.float32)
  X = rng.standard_normal((10000, 100)).astype(np.float32)
  A = rng.standard_normal((4096, 1024)).astype(np.float32)
  B = rng.standard_normal(1024).astype(np.float32)
  work = [
      ("selu, 1M f32", selu, (x1m,)),
      ("selu, 16M f32 (beyond the caches)", selu, (x16m,)),
      ("gelu (tanh), 1M f32", gelu, (x1m,)),
      ("tanh(x/2 + b), 4096x1024 + 1024", bias_tanh, (A, B)),
      ("exp(-x^2) sin(x) + 1, 1M f64", chain_f64, (x1m.astype(np.float64),)),
      ("sum(x*x), 1M f32", sum_sq, (x1m,)),
      ("norm (X - X.mean(0)) / X.std(0), 10000x100", norm, (X,)),
      ("logsumexp over last axis, 4096x1024", logsumexp, (A,)),
      ("softmax over last axis, 4096x1024", softmax, (A,)),
      ("layer norm, 4096x1024", layer_norm, (A,)),
  ]
  rows = []
  for name, make, args_np in work:
    x64 = any(a.dtype == np.float64 for a in args_np)
    rjax.config.update("jax_enable_x64", x64)
    ar = [jnp.asarray(a) for a in args_np]
    fns, outs = {}, {}
    for mode in ("off", "sync"):
      codegen.set_mode(mode)
      before = codegen.stats()
      t0 = time.perf_counter()
      f = rjax.jit(make(jnp))
      outs[mode] = np.asarray(f(*ar))
      first = time.perf_counter() - t0
      after = codegen.stats()
      fns[mode] = (f, first, after["compiled"] - before["compiled"],
                   after["seconds"] - before["seconds"])
    codegen.set_mode("off")
    np.testing.assert_array_equal(outs["off"].reshape(-1).view(np.uint8), outs["sync"].reshape(-1).view(np.uint8))
    t_off = bench(lambda: fns["off"][0](*ar).block_until_ready())
    t_nat = bench(lambda: fns["sync"][0](*ar).block_until_ready())
    t_j = None
    if jax:
      jax.config.update("jax_enable_x64", x64)
      fj = jax.jit(make(jjnp))
      aj = [jjnp.asarray(a) for a in args_np]
      t_j = bench(lambda: fj(*aj).block_until_ready())
    groups, secs = fns["sync"][2], fns["sync"][3]
    rows.append([name, fmt_time(t_off), fmt_time(t_nat), f"{t_off / t_nat:.2f}x",
                 fmt_time(t_j) if t_j else "-",
                 f"{t_j / t_off:.2f}x" if t_j else "-", f"{t_j / t_nat:.2f}x" if t_j else "-",
                 f"{groups} / {secs * 1e3:.0f} ms"])
  rjax.config.update("jax_enable_x64", False)
  print(f"# native tier: {machine()}")
  print(table(rows, ["workload", "interpreter", "native", "native / interp.", "JAX",
                     "JAX / interp.", "JAX / native", "groups / compile"]))


if __name__ == "__main__":
  main()
