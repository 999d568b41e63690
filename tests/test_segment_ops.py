"""rjax.ops.segment_{sum,prod,max,min} against jax.ops: values over drawn ids
(out of range and negative ones included), num_segments, bucket_size and
modes; under jit and vmap; gradients against JAX's and numerically."""
import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import ops
from rjax.test_util import check_grads

from util import enable_x64

OPS = ["segment_sum", "segment_prod", "segment_max", "segment_min"]


@pytest.mark.parametrize("name", OPS)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 8), tail=st.sampled_from([(), (3,), (2, 2)]),
       num_segments=st.one_of(st.none(), st.integers(0, 6)),
       bucket_size=st.one_of(st.none(), st.integers(1, 4)),
       mode=st.sampled_from([None, "drop", "clip", "fill"]),
       dtype=st.sampled_from([np.float32, np.int32, np.bool_]))
def test_matches_jax(name, seed, n, tail, num_segments, bucket_size, mode, dtype):
  rng = np.random.RandomState(seed)
  ids = rng.randint(-2, 7, size=n).astype(np.int32)
  if num_segments is None:
    ids = np.abs(ids)
  data = (rng.standard_normal((n,) + tail) * 3).astype(dtype)
  kw = dict(num_segments=num_segments, bucket_size=bucket_size, mode=mode)
  try:
    want = np.asarray(getattr(jax.ops, name)(data, ids, **kw))
  except TypeError:   # JAX: sum/prod of bools
    with pytest.raises(TypeError):
      getattr(ops, name)(data, ids, **kw)
    return
  got = np.asarray(getattr(ops, name)(data, ids, **kw))
  assert got.dtype == want.dtype and got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  if num_segments is not None:
    jitted = rjax.jit(lambda d, i: getattr(ops, name)(d, i, **kw))
    np.testing.assert_allclose(jitted(data, ids), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OPS)
def test_vmap_and_grad(name):
  rng = np.random.RandomState(0)
  data = rng.standard_normal((3, 5, 2)).astype(np.float32)
  ids = np.array([0, 2, 2, 1, 0], np.int32)
  f = lambda d: getattr(ops, name)(d, ids, num_segments=3)
  jf = lambda d: getattr(jax.ops, name)(d, ids, num_segments=3)
  np.testing.assert_allclose(rjax.vmap(f)(data), jax.vmap(jf)(data), rtol=1e-6)
  if name == "segment_prod":
    # scatter_mul's gradient needs unique indices, in JAX as here
    with pytest.raises(NotImplementedError):
      jax.grad(lambda d: jax.numpy.sum(jf(d)))(data[0])
    with pytest.raises(NotImplementedError):
      rjax.grad(lambda d: jnp.sum(f(d)))(data[0])
    u = lambda d: ops.segment_prod(d, np.array([2, 0, 1]), 4, unique_indices=True)
    ju = lambda d: jax.ops.segment_prod(d, np.array([2, 0, 1]), 4, unique_indices=True)
    np.testing.assert_allclose(rjax.grad(lambda d: jnp.sum(jnp.sin(u(d))))(data[0, :3]),
                               jax.grad(lambda d: jax.numpy.sum(jax.numpy.sin(ju(d))))(
                                   data[0, :3]), rtol=1e-5, atol=1e-6)
    return
  g = rjax.grad(lambda d: jnp.sum(jnp.sin(f(d))))(data[0])
  jg = jax.grad(lambda d: jax.numpy.sum(jax.numpy.sin(jf(d))))(data[0])
  np.testing.assert_allclose(g, jg, rtol=1e-5, atol=1e-6)
  with enable_x64():
    x = rng.standard_normal((5, 2))
    check_grads(lambda d: getattr(ops, name)(d, ids, num_segments=3), (x,), order=2,
                modes=("fwd", "rev"))


def test_errors():
  with pytest.raises(ValueError, match="non-negative"):
    ops.segment_sum(np.ones(3), np.zeros(3, np.int32), num_segments=-1)
  with pytest.raises(rjax.errors.ConcretizationTypeError):
    rjax.jit(lambda d, i: ops.segment_sum(d, i))(np.ones(3), np.zeros(3, np.int32))
  with pytest.raises(TypeError):
    ops.segment_sum([1.0, 2.0], np.zeros(2, np.int32))
  data = np.ones(3, np.float32)
  assert ops.segment_sum(data, np.array([0, 1, 1], np.int32)).shape == (2,)
