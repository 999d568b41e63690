"""Absurd sizes raise, they never abort the interpreter: a shape with more
elements than an int64 holds is a TypeError at trace time (as in JAX), and an
array larger than memory is a MemoryError when it is computed, eager or jitted,
synchronous or asynchronous. Python goes on working afterwards."""
import numpy as np
import pytest

import jax.numpy as jjnp

import rjax
import rjax.numpy as jnp


def test_more_elements_than_int64_is_a_type_error_as_in_jax():
  for mod in (jnp, jjnp):
    with pytest.raises(TypeError):
      mod.arange(-1.5e-31, 1.0, 1.5e-31, dtype=np.float32)
  with pytest.raises(TypeError, match="int64"):
    jnp.zeros((2**40, 2**40))
  with pytest.raises(TypeError, match="int64"):
    rjax.jit(lambda: jnp.ones((2**62, 4)))()


@pytest.mark.parametrize("make", [
    lambda: jnp.zeros((10**8, 10**8)),
    lambda: jnp.arange(0, 1e12, 1e-3),
    lambda: rjax.jit(lambda x: jnp.broadcast_to(x, (2**24, 2**24)) + 1)(jnp.float32(1)),
])
def test_larger_than_memory_is_a_memory_error(make):
  with pytest.raises(MemoryError, match="out of memory"):
    make().block_until_ready()
  # the runtime is intact
  np.testing.assert_array_equal(jnp.arange(3) + 1, [1, 2, 3])


def test_a_byte_count_beyond_the_address_space_is_a_value_error():
  # 2**62 float32 elements fit an int64 count but not a byte count: this
  # used to wrap to a zero-byte buffer (a segfault under jit, zeros eager)
  f = rjax.jit(lambda a: jnp.broadcast_to(a, (2**31, 2**31)) * 2.0 + 1.0)
  with pytest.raises(ValueError, match="more bytes"):
    f(jnp.ones(())).block_until_ready()
  with pytest.raises(ValueError, match="more bytes"):
    jnp.zeros((2**31, 2**31)).block_until_ready()
  with pytest.raises(ValueError, match="more bytes"):
    rjax.jit(lambda a: jnp.broadcast_to(a, (2**31, 2**31)).sum())(jnp.ones(())).block_until_ready()
  np.testing.assert_array_equal(jnp.arange(3) * 2, [0, 2, 4])


@pytest.mark.parametrize("dt", [np.int8, np.float32])
@pytest.mark.parametrize("shape", [(2, 0), (0, 3), (0, 0)])
def test_fused_row_group_over_empty_rows(dt, shape):
  # found by the fuzzer: a fused row reduction broadcast back over rows of
  # length 0 copied one value into an empty tile (an InternalError)
  x = np.zeros(shape, dt)
  f = lambda v: jnp.broadcast_to(v.sum(1, dtype=v.dtype)[:, None], v.shape) + v
  got = rjax.jit(f)(x)
  want = f(jnp.asarray(x))
  assert got.shape == want.shape == shape and got.dtype == want.dtype
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
