"""XLA's number-changing simplifications, which rjax's Program passes repeat so
that ``jit`` gives JAX's numbers bit for bit:

- ``x / c`` with a constant ``c`` (float16/float32/float64, not bfloat16) is
  computed as ``x * (1 / c)``;
- ``convert(mask) * x`` is a select: 0 where the mask is False even where
  ``x`` is NaN or inf (and so is ``convert(mask) / 0.``, through the first
  rewrite).

Eager calls compute exact quotients in both (each op is its own Program with
no constants), so the eager cases are compared too.
"""
import ml_dtypes
import numpy as np
from hypothesis import given, strategies as st

import jax
import jax.numpy as jjnp

import rjax
import rjax.numpy as jnp

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 3.0, 7.0, 1e-30, -2.5]
# Subnormal inputs are left out: XLA's CPU code flushes them to zero, rjax
# keeps IEEE semantics (a known, separate difference).
floats = st.one_of(st.sampled_from(SPECIAL),
                   st.floats(-6e4, 6e4, allow_nan=False, allow_subnormal=False, width=32)
                   .filter(lambda v: v == 0 or abs(v) > 1e-4))
DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32]


def bits(a):
  a = np.asarray(a)
  return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def same_bits(got, want):
  got, want = np.asarray(got), np.asarray(want)
  assert got.dtype == want.dtype and got.shape == want.shape
  # NaN payloads may differ between backends: compare NaN positions, then bits
  np.testing.assert_array_equal(np.isnan(got.astype(np.float32)),
                                np.isnan(want.astype(np.float32)))
  ok = ~np.isnan(want.astype(np.float32))
  np.testing.assert_array_equal(bits(got)[ok], bits(want)[ok])


@given(st.lists(floats, min_size=1, max_size=40), st.sampled_from(DTYPES),
       st.sampled_from([3.0, 7.0, 0.1, -5.0, 2.0, 0.0, np.inf]))
def test_division_by_a_constant_under_jit_is_jaxs(xs, dtype, c):
  x = np.asarray(xs, np.float32).astype(dtype)
  f = lambda x: x / dtype(c)
  same_bits(rjax.jit(f)(x), jax.jit(f)(x))
  # an array constant too (a closed-over array becomes a Program constant)
  cs = np.full(x.shape, c, np.float32).astype(dtype)
  g = lambda x: x / jnp.asarray(cs)
  gj = lambda x: x / jjnp.asarray(cs)
  same_bits(rjax.jit(g)(x), jax.jit(gj)(x))
  # eager: the exact quotient, as eager JAX
  same_bits(jnp.asarray(x) / dtype(c), jjnp.asarray(x) / dtype(c))


def test_division_by_three_differs_from_the_true_quotient_as_in_jax():
  x = np.arange(1, 200, dtype=np.float32)
  got = np.asarray(rjax.jit(lambda x: x / 3.0)(x))
  assert (got != x / np.float32(3)).any()
  same_bits(got, jax.jit(lambda x: x / 3.0)(x))


def test_float64_division_by_a_constant():
  with rjax.enable_x64(True), jax.enable_x64(True):
    x = np.linspace(-10, 10, 301)
    same_bits(rjax.jit(lambda x: x / 3.0)(x), jax.jit(lambda x: x / 3.0)(x))


@given(st.lists(st.tuples(st.booleans(), floats), min_size=1, max_size=40),
       st.sampled_from(DTYPES))
def test_a_converted_mask_times_x_is_a_select(pairs, dtype):
  m = np.array([p for p, _ in pairs])
  x = np.array([v for _, v in pairs], np.float32).astype(dtype)
  for f, fj in (
      (lambda m, x: m.astype(x.dtype) * x, None),
      (lambda m, x: x * m.astype(x.dtype), None),
      (lambda m, x: m.astype(x.dtype) / 0.0, None),
      (lambda m, x: jnp.asarray(m, x.dtype) * x,
       lambda m, x: jjnp.asarray(m, x.dtype) * x),
  ):
    fj = fj or f
    same_bits(rjax.jit(f)(m, x), jax.jit(fj)(m, x))


def test_a_broadcast_mask_is_not_rewritten_as_in_jax():
  # XLA matches only a convert feeding the multiply directly
  m = np.array([True, False, True])
  x = np.full((3, 2), np.nan, np.float32)
  f = lambda m, x: m.astype(jnp.float32)[:, None] * x
  fj = lambda m, x: m.astype(jjnp.float32)[:, None] * x
  same_bits(rjax.jit(f)(m, x), jax.jit(fj)(m, x))


def test_the_rewrites_show_in_the_plan():
  m = np.array([True, False])
  x = np.ones(2, np.float32)
  text = rjax.jit(lambda m, x: m.astype(x.dtype) * x / 3.0).lower(m, x).as_text()
  plan = text[text.index("plan("):]
  assert "select_n" in plan and "div" not in plan and "convert_element_type" not in plan
