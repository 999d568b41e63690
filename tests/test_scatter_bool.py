"""Scatters of bool arrays as JAX's: ``.at[].max`` is an or and ``.at[].min``
an and (duplicate indices included), eagerly, under jit and vmap, and in
place on a loop's carry; ``.at[].add``/``.mul`` refuse bools with a
TypeError, as JAX's do."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jax
import jax.numpy as jjnp

import rjax
import rjax.numpy as jnp
from rjax import lax


def _same(got, want):
  got, want = np.asarray(got), np.asarray(want)
  assert got.dtype == want.dtype == np.bool_ and got.shape == want.shape
  np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(0, 12), cols=st.sampled_from([None, 1, 3]),
       op=st.sampled_from(["max", "min"]), mode=st.sampled_from([None, "drop", "clip"]),
       seed=st.integers(0, 2**31 - 1))
def test_bool_scatter_max_min_match_jax(n, m, cols, op, mode, seed):
  rng = np.random.default_rng(seed)
  shape = (n,) if cols is None else (n, cols)
  x = rng.random(shape) < 0.5
  idx = rng.integers(-n - 2, n + 2, size=m)   # duplicates and out-of-range
  if mode is None:
    idx = np.clip(idx, -n, n - 1)
  u = rng.random((m,) + shape[1:]) < 0.5

  def f(np_):
    return lambda x, i, u: getattr(x.at[i], op)(u, mode=mode)

  want = f(jjnp)(jjnp.asarray(x), jjnp.asarray(idx), jjnp.asarray(u))
  _same(f(jnp)(jnp.asarray(x), jnp.asarray(idx), jnp.asarray(u)), want)
  _same(rjax.jit(f(jnp))(x, idx, u), want)
  # a batch of operands under vmap
  xs = np.stack([x, ~x])
  vwant = jax.vmap(f(jjnp), (0, None, None))(xs, idx, u)
  _same(rjax.vmap(f(jnp), (0, None, None))(xs, idx, u), vwant)


@pytest.mark.parametrize("op", ["max", "min"])
def test_bool_scatter_in_place_on_a_loop_carry(op):
  x = np.array([True, False] * 8)

  def make(np_, lax_):
    def body(i, c):
      return getattr(c.at[(i * 5) % 16], op)(i % 3 == 0)
    return lambda x: lax_.fori_loop(0, 40, body, x)

  _same(rjax.jit(make(jnp, lax))(x), jax.jit(make(jjnp, jax.lax))(x))


@pytest.mark.parametrize("op", ["add", "mul"])
def test_bool_scatter_add_and_mul_raise_as_jax(op):
  x = np.array([True, False, True])
  with pytest.raises(TypeError):
    getattr(jjnp.asarray(x).at[0], op)(True)
  with pytest.raises(TypeError):
    getattr(jnp.asarray(x).at[0], op)(True)
