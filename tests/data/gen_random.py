"""Known answers for rjax.random, generated with JAX 0.10.2 (CPU, jaxlib
0.10.2, default config: jax_threefry_partitionable=True).

``cases(random, jnp, x64)`` is the table of calls, written once against the
JAX API: this script runs it with ``jax.random`` and stores the results in
``random_jax_0_10_2.npz``; ``tests/test_random.py`` runs the same table with
``rjax.random`` and compares. Regenerate with:

    python tests/data/gen_random.py
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

JAX_VERSION = "0.10.2"
OUT = pathlib.Path(__file__).with_name("random_jax_0_10_2.npz")


def cases(random, jnp, x64: bool):
  """name -> thunk. With ``x64`` the thunks must run with 64-bit types on."""
  c = {}
  K = random.PRNGKey
  if not x64:
    for s in (0, 1, 42, -1, 2 ** 31 + 5, 123456789):
      c[f"PRNGKey/{s}"] = lambda s=s: K(s)
    c["key_data/key7"] = lambda: random.key_data(random.key(7))
    c["key_data/wrap"] = lambda: random.key_data(random.split(random.wrap_key_data(K(3))))
    c["split/0"] = lambda: random.split(K(0))
    c["split/3"] = lambda: random.split(K(5), 3)
    c["split/2x3"] = lambda: random.split(K(5), (2, 3))
    c["split/typed"] = lambda: random.key_data(random.split(random.key(11), 4))

    def split_chain():
      k, out = K(1), []
      for _ in range(6):
        k, sub = random.split(k)
        out.append(sub)
      return jnp.stack(out)
    c["split/chain"] = split_chain
    c["fold_in/7"] = lambda: random.fold_in(K(0), 7)
    c["fold_in/chain"] = lambda: random.fold_in(random.fold_in(K(9), 1), 2 ** 31 + 3)
    c["fold_in/typed"] = lambda: random.key_data(random.fold_in(random.key(2), 12345))
    c["fold_in/split"] = lambda: random.split(random.fold_in(K(4), 3), 3)
    for dt in ("uint8", "uint16", "uint32"):
      for shp in ((), (7,), (3, 4)):
        c[f"bits/{dt}/{shp}"] = lambda dt=dt, shp=shp: random.bits(K(3), shp, dt)
    c["bits/default"] = lambda: random.bits(random.key(8), (9,))
  else:
    c["x64/PRNGKey/big"] = lambda: K(2 ** 40 + 3)
    c["x64/PRNGKey/-1"] = lambda: K(-1)
    c["x64/bits/uint64"] = lambda: random.bits(K(3), (2, 5), "uint64")
    c["x64/bits/default"] = lambda: random.bits(K(3), (6,))

  fdts = ("float64",) if x64 else ("float32", "float16", "bfloat16")
  pre = "x64/" if x64 else ""
  for dt in fdts:
    c[f"{pre}uniform/{dt}/5"] = lambda dt=dt: random.uniform(K(42), (5,), dt)
    c[f"{pre}uniform/{dt}/234"] = lambda dt=dt: random.uniform(K(1), (2, 3, 4), dt)
    c[f"{pre}uniform/{dt}/range"] = lambda dt=dt: random.uniform(K(2), (6,), dt, -2., 3.)
    c[f"{pre}normal/{dt}/5"] = lambda dt=dt: random.normal(K(0), (5,), dt)
    c[f"{pre}normal/{dt}/300"] = lambda dt=dt: random.normal(K(6), (300,), dt)
  for dt in fdts[:1]:
    # XLA contracts uniform's scale-and-shift to an FMA: many values check it
    c[f"{pre}uniform/{dt}/range2000"] = lambda dt=dt: random.uniform(K(2), (2000,), dt, -2., 3.1)
    c[f"{pre}normal/{dt}/5000"] = lambda dt=dt: random.normal(K(4), (5000,), dt)
    c[f"{pre}uniform/{dt}/bcast"] = lambda dt=dt: random.uniform(
        K(2), (3, 4), dt, jnp.array([[0.], [1.], [2.]], dt), 5.)
    c[f"{pre}normal/{dt}/scalar"] = lambda dt=dt: random.normal(random.key(3), (), dt)
    c[f"{pre}truncated_normal/{dt}"] = lambda dt=dt: random.truncated_normal(
        K(7), -1., 2., (50,), dt)
    c[f"{pre}truncated_normal/{dt}/arrays"] = lambda dt=dt: random.truncated_normal(
        K(7), jnp.array([-3., 0., 1.], dt), jnp.array([3., 0.5, 4.], dt), (2, 3), dt)
    c[f"{pre}exponential/{dt}"] = lambda dt=dt: random.exponential(K(8), (40,), dt)
    c[f"{pre}laplace/{dt}"] = lambda dt=dt: random.laplace(K(9), (40,), dt)
    c[f"{pre}logistic/{dt}"] = lambda dt=dt: random.logistic(K(10), (40,), dt)
    c[f"{pre}cauchy/{dt}"] = lambda dt=dt: random.cauchy(K(11), (40,), dt)
    c[f"{pre}gumbel/{dt}/low"] = lambda dt=dt: random.gumbel(K(12), (40,), dt)
    c[f"{pre}gumbel/{dt}/high"] = lambda dt=dt: random.gumbel(K(12), (40,), dt, mode="high")
    c[f"{pre}gumbel/{dt}/highest"] = lambda dt=dt: random.gumbel(K(12), (40,), dt, mode="highest")
    c[f"{pre}bernoulli/{dt}"] = lambda dt=dt: random.bernoulli(K(13), jnp.array(0.3, dt), (30,))
    c[f"{pre}bernoulli/{dt}/high"] = lambda dt=dt: random.bernoulli(
        K(13), jnp.array([0.1, 0.5, 0.9], dt), (4, 3), mode="high")
    c[f"{pre}multivariate_normal/{dt}"] = lambda dt=dt: random.multivariate_normal(
        K(14), jnp.array([1., -1., 0.5], dt),
        jnp.array([[2., 0.3, 0.1], [0.3, 1., 0.2], [0.1, 0.2, 0.5]], dt), (4,), dt)
    c[f"{pre}orthogonal/{dt}/4"] = lambda dt=dt: random.orthogonal(K(15), 4, (), dt)
    c[f"{pre}orthogonal/{dt}/3x5"] = lambda dt=dt: random.orthogonal(K(15), 3, (2,), dt, m=5)
    c[f"{pre}orthogonal/{dt}/5x3"] = lambda dt=dt: random.orthogonal(K(15), 5, (), dt, m=3)
  # samplers written with while_loop (rejection loops): big tables, compared by
  # counting mismatches (tests/test_random.py, _LOOP_SAMPLERS)
  fdt = fdts[0]
  alphas = lambda: jnp.array([0.01, 0.1, 0.5, 0.9, 1., 1.5, 3., 10., 100., 1e4], fdt)
  c[f"{pre}gamma/{fdt}/table"] = lambda: random.gamma(K(30), alphas(), (200, 10), fdt)
  c[f"{pre}loggamma/{fdt}/table"] = lambda: random.loggamma(K(31), alphas(), (200, 10), fdt)
  c[f"{pre}gamma/{fdt}/scalar"] = lambda: random.gamma(random.key(32), 2.5, dtype=fdt)
  c[f"{pre}gamma/{fdt}/bcast"] = lambda: random.gamma(
      K(33), jnp.array([[0.3], [4.]], fdt), (2, 3), fdt)
  c[f"{pre}beta/{fdt}/table"] = lambda: random.beta(
      K(34), jnp.array([0.2, 1., 5.], fdt), jnp.array([[0.5], [2.], [30.]], fdt), (300, 3, 3), fdt)
  c[f"{pre}dirichlet/{fdt}/table"] = lambda: random.dirichlet(
      K(35), jnp.array([0.1, 1., 2.5, 40.], fdt), (500,), fdt)
  c[f"{pre}dirichlet/{fdt}/batch"] = lambda: random.dirichlet(
      K(35), jnp.array([[0.5, 0.5, 3.], [2., 7., 1.]], fdt), dtype=fdt)
  c[f"{pre}t/{fdt}/table"] = lambda: random.t(K(36), jnp.array([0.5, 1., 3., 30.], fdt),
                                               (300, 4), fdt)
  c[f"{pre}chisquare/{fdt}/table"] = lambda: random.chisquare(
      K(37), jnp.array([0.5, 1., 4., 50.], fdt), (300, 4), fdt)
  # (JAX's f divides with lax.div: array parameters must have the full shape)
  c[f"{pre}f/{fdt}/table"] = lambda: random.f(K(38), 5., 10., (600,), fdt)
  c[f"{pre}f/{fdt}/arrays"] = lambda: random.f(
      K(38), jnp.tile(jnp.array([1., 5., 20.], fdt), (100, 1)),
      jnp.tile(jnp.array([2., 10., 3.], fdt), (100, 1)), dtype=fdt)
  # d sample / d a (implicit reparameterisation), through the library's own grad
  grad = sys.modules[random.__name__.split(".")[0]].grad
  ga = lambda: jnp.array([0.05, 0.4, 1., 2.5, 7., 60.], fdt)
  c[f"{pre}gamma/{fdt}/grad"] = lambda: grad(lambda a: random.gamma(K(42), a).sum())(ga())
  c[f"{pre}loggamma/{fdt}/grad"] = lambda: grad(lambda a: random.loggamma(K(42), a).sum())(ga())
  lams = lambda: jnp.array([0., 0.001, 0.5, 3., 9.99, 10., 25., 250., 1e4])
  c[f"{pre}poisson/table"] = lambda: random.poisson(K(39), lams(), (300, 9))
  c[f"{pre}poisson/scalar"] = lambda: random.poisson(random.key(40), 4.2)
  c[f"{pre}poisson/int8"] = lambda: random.poisson(K(41), 3., (50,), "int8")
  c[f"{pre}bernoulli/default"] = lambda: random.bernoulli(K(16), shape=(20,))
  c[f"{pre}randint/10"] = lambda: random.randint(K(17), (10,), 0, 10)
  c[f"{pre}randint/range"] = lambda: random.randint(K(17), (3, 4), -5, 1000)
  c[f"{pre}randint/int8"] = lambda: random.randint(K(18), (20,), -100, 100, "int8")
  c[f"{pre}randint/uint8_256"] = lambda: random.randint(K(18), (20,), 0, 256, "uint8")
  c[f"{pre}randint/arrays"] = lambda: random.randint(
      K(19), (2, 3), jnp.array([0, 10, 100]), jnp.array([[5], [1000]]))
  c[f"{pre}randint/empty_span"] = lambda: random.randint(K(19), (4,), 5, 5)
  c[f"{pre}randint/uint32"] = lambda: random.randint(K(20), (6,), 0, jnp.uint32(2 ** 32 - 1), "uint32")
  if x64:
    c["x64/randint/int64"] = lambda: random.randint(K(20), (6,), -2 ** 40, 2 ** 50, "int64")
  c[f"{pre}rademacher"] = lambda: random.rademacher(K(21), (20,))
  c[f"{pre}rademacher/f32"] = lambda: random.rademacher(K(21), (5,), "float32")
  logits = lambda: jnp.log(jnp.array([[0.1, 0.2, 0.3, 0.4, 0.0001], [0.5, 0.1, 0.1, 0.2, 0.1],
                                      [0.2, 0.2, 0.2, 0.2, 0.2]]))
  c[f"{pre}categorical/last"] = lambda: random.categorical(K(22), logits())
  c[f"{pre}categorical/axis0"] = lambda: random.categorical(K(22), logits(), axis=0)
  c[f"{pre}categorical/shape"] = lambda: random.categorical(K(22), logits(), shape=(4, 3))
  c[f"{pre}categorical/noreplace"] = lambda: random.categorical(
      K(22), logits(), shape=(2, 3), replace=False)
  c[f"{pre}choice/int"] = lambda: random.choice(K(23), 10, (6,))
  c[f"{pre}choice/noreplace"] = lambda: random.choice(K(23), 10, (6,), replace=False)
  c[f"{pre}choice/p"] = lambda: random.choice(
      K(23), 5, (8,), p=jnp.array([0.1, 0.2, 0.3, 0.25, 0.15]))
  c[f"{pre}choice/p_noreplace"] = lambda: random.choice(
      K(23), 5, (3,), replace=False, p=jnp.array([0.1, 0.2, 0.3, 0.25, 0.15]))
  c[f"{pre}choice/array_axis1"] = lambda: random.choice(
      K(24), jnp.arange(12.).reshape(3, 4), (2,), axis=1)
  c[f"{pre}choice/array_noreplace"] = lambda: random.choice(
      K(24), jnp.arange(12).reshape(3, 4), (2, 1), replace=False)
  c[f"{pre}permutation/10"] = lambda: random.permutation(K(25), 10)
  c[f"{pre}permutation/2000"] = lambda: random.permutation(K(25), 2000)
  c[f"{pre}permutation/array"] = lambda: random.permutation(K(26), jnp.arange(15).reshape(5, 3))
  c[f"{pre}permutation/axis1_independent"] = lambda: random.permutation(
      K(26), jnp.arange(15).reshape(3, 5), axis=1, independent=True)
  c[f"{pre}permutation/typed"] = lambda: random.permutation(random.key(27), jnp.arange(7.))
  return c


def main():
  import jax
  import jax.numpy as jnp
  from jax import random
  assert jax.__version__ == JAX_VERSION, jax.__version__
  assert jax.config.jax_threefry_partitionable
  out = {}
  for x64 in (False, True):
    jax.config.update("jax_enable_x64", x64)
    for name, f in cases(random, jnp, x64).items():
      out[name] = np.asarray(f())
  jax.config.update("jax_enable_x64", False)
  np.savez_compressed(OUT, **out)
  print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
  main()
