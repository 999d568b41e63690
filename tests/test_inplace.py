"""In-place updates (issue #17): `dynamic_update_slice` and the scatters
write into their operand when it dies at the op and no one else owns its
buffer (a loop's carry), instead of copying it. Checked with the runtime's
counter of bytes such ops copied (`copied_bytes`), never with timings; and
the values, and the caller's arrays, are checked to be unchanged."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.runtime.executable import copied_bytes


def copies(f, *args):
  """``f(*args)`` (blocked) and the bytes copied while it ran (nothing else
  may be running: callers block on their earlier calls)."""
  before = copied_bytes()
  out = rjax.block_until_ready(f(*args))
  return out, copied_bytes() - before


@pytest.mark.parametrize("n", [1, 10, 200])
def test_fori_loop_of_at_set_copies_the_carry_once(n):
  """A 4M-element carry updated one element per iteration: one copy (the
  caller's array, at the first iteration), however many iterations."""
  size = 1 << 22
  f = rjax.jit(lambda x: lax.fori_loop(0, n, lambda i, x: x.at[i].set(i * 2.0), x))
  x = jnp.zeros((size,), jnp.float32)
  rjax.block_until_ready(f(x))   # compile
  out, c = copies(f, x)
  assert c == 4 * size
  want = np.zeros(size, np.float32)
  want[:n] = np.arange(n) * 2.0
  np.testing.assert_array_equal(np.asarray(out), want)
  assert not np.asarray(x).any()   # the caller's array is untouched


def test_while_loop_and_dynamic_update_slice_update_in_place():
  size = 1 << 20

  def f(x):
    def body(c):
      i, x = c
      return i + 1, lax.dynamic_update_slice(x, jnp.full((4,), i, x.dtype), (i * 4,))
    return lax.while_loop(lambda c: c[0] < 100, body, (0, x))[1]

  jf = rjax.jit(f)
  x = jnp.ones((size,), jnp.int32)
  rjax.block_until_ready(jf(x))
  out, c = copies(jf, x)
  assert c == 4 * size
  want = np.ones(size, np.int32)
  want[:400] = np.repeat(np.arange(100), 4)
  np.testing.assert_array_equal(np.asarray(out), want)
  assert (np.asarray(x) == 1).all()


def test_scan_carry_scatter_add_in_place():
  size = 1 << 18

  def f(x, idx, vals):
    def body(x, iv):
      i, v = iv
      return x.at[i].add(v), None
    return lax.scan(body, x, (idx, vals))[0]

  jf = rjax.jit(f)
  rng = np.random.default_rng(0)
  idx = rng.integers(0, size, 300).astype(np.int32)
  vals = rng.standard_normal(300).astype(np.float32)
  x = jnp.zeros((size,), jnp.float32)
  rjax.block_until_ready(jf(x, idx, vals))
  out, c = copies(jf, x, idx, vals)
  assert c == 4 * size
  want = np.zeros(size, np.float32)
  for i, v in zip(idx, vals):
    want[i] += v
  np.testing.assert_array_equal(np.asarray(out), want)


def test_an_operand_still_in_use_is_copied():
  """The old value is read after the update: every update copies, and both
  values are right."""
  def body(i, c):
    x, s = c
    y = x.at[i].set(-1.0)
    return y, s + x.sum()    # x is read after the scatter

  f = rjax.jit(lambda x: lax.fori_loop(0, 5, body, (x, 0.0)))
  x = jnp.arange(8.0, dtype=jnp.float32)
  rjax.block_until_ready(f(x))
  (y, s), c = copies(f, x)
  assert c == 5 * 8 * 4
  xs = np.arange(8.0)
  want_s = 0.0
  for i in range(5):
    want_s += xs.sum()
    xs[i] = -1.0
  np.testing.assert_array_equal(np.asarray(y), xs.astype(np.float32))
  assert float(s) == want_s


def test_two_carries_sharing_one_buffer_stay_separate():
  f = rjax.jit(lambda x: lax.fori_loop(
      0, 3, lambda i, c: (c[0].at[i].set(7), c[1].at[i + 1].set(9)), (x, x)))
  x = jnp.zeros((6,), jnp.int32)
  a, b = f(x)
  np.testing.assert_array_equal(np.asarray(a), [7, 7, 7, 0, 0, 0])
  np.testing.assert_array_equal(np.asarray(b), [0, 9, 9, 9, 0, 0])
  assert not np.asarray(x).any()


def test_a_carry_also_returned_by_the_body_is_not_overwritten():
  """The body returns the carry twice (an extra output aliasing it)."""
  def body(c, _):
    return c.at[0].add(1), c
  f = rjax.jit(lambda x: lax.scan(body, x, None, length=4))
  x = jnp.zeros((3,), jnp.float32)
  last, ys = f(x)
  np.testing.assert_array_equal(np.asarray(last), [4, 0, 0])
  np.testing.assert_array_equal(np.asarray(ys)[:, 0], [0, 1, 2, 3])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 12), size=st.integers(1, 40),
       dtype=st.sampled_from([np.float32, np.int32, np.uint8, np.bool_, np.complex64]),
       mode=st.sampled_from(["set", "add", "dus"]))
def test_loop_updates_match_numpy(n, size, dtype, mode):
  """Random loops of updates give NumPy's values in every dtype."""
  def body(i, x):
    j = i % size
    v = (i + 1).astype(x.dtype)
    if mode == "set":
      return x.at[j].set(v)
    if mode == "add" and x.dtype != jnp.bool_:
      return x.at[j].add(v)
    return lax.dynamic_update_slice(x, v[None], (j,))
  f = rjax.jit(lambda x: lax.fori_loop(0, n, body, x))
  x0 = np.zeros(size, dtype)
  want = x0.copy()
  for i in range(n):
    j = i % size
    v = np.asarray(i + 1).astype(dtype)
    if mode == "add" and dtype != np.bool_:
      want[j] += v
    else:
      want[j] = v
  x = jnp.asarray(x0)
  np.testing.assert_array_equal(np.asarray(f(x)), want)
  np.testing.assert_array_equal(np.asarray(x), x0)
