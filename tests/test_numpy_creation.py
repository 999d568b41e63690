"""jnp array creation vs NumPy; dtypes as JAX 0.10 (system python) gives them."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax.numpy as jnp
from util import all_dtypes, arrays, assert_close, enable_x64, shapes

i32, f32 = np.dtype(np.int32), np.dtype(np.float32)


@given(shapes(max_dims=3), st.sampled_from(all_dtypes))
def test_zeros_ones_full_empty(shape, dt):
  assert_close(jnp.zeros(shape, dt), np.zeros(shape, dt), dt)
  assert_close(jnp.ones(shape, dt), np.ones(shape, dt), dt)
  assert jnp.empty(shape, dt).shape == shape
  assert_close(jnp.full(shape, 1, dt), np.full(shape, 1, dt), dt)


@given(st.data(), st.sampled_from(all_dtypes))
def test_like_functions(data, dt):
  x = data.draw(arrays(dt, data.draw(shapes(max_dims=3))))
  x0 = x.copy()
  assert_close(jnp.zeros_like(x), np.zeros_like(x), dt)
  assert_close(jnp.ones_like(x), np.ones_like(x), dt)
  assert_close(jnp.full_like(x, 1), np.full_like(x, 1), dt)
  assert jnp.empty_like(x).shape == x.shape
  assert jnp.ones_like(x, dtype=np.float32, shape=(2,)).dtype == f32
  np.testing.assert_array_equal(x, x0)


def test_default_dtypes_and_weak_types():
  assert jnp.zeros(3).dtype == f32 and not jnp.zeros(3).weak_type
  assert jnp.full(3, 2).dtype == i32 and jnp.full(3, 2).weak_type
  assert jnp.full(3, True).dtype == np.bool_
  assert jnp.full_like(np.ones(3, np.int8), 2.5).dtype == np.int8
  assert jnp.zeros_like(3.0).weak_type
  assert jnp.eye(2).dtype == f32 and jnp.tri(2).dtype == f32
  assert jnp.indices((2, 3)).dtype == i32
  with enable_x64():
    assert jnp.zeros(3).dtype == np.float64
    assert jnp.arange(3).dtype == np.int64
    assert jnp.eye(2).dtype == np.float64


@pytest.mark.parametrize("args,dtype,expected", [
    ((5,), None, i32), ((1.0, 5), None, f32), ((0, 1, 0.25), None, f32), ((2, 11, 3), None, i32),
    ((10, 2, -3), None, i32), ((5,), np.int8, np.int8), ((0,), None, i32), ((np.int8(3),), None, np.int8),
    ((-2,), None, i32), ((1, 4), np.float32, f32),
])
def test_arange(args, dtype, expected):
  out = jnp.arange(*args, dtype=dtype)
  assert out.dtype == np.dtype(expected)
  np.testing.assert_array_equal(out, np.arange(*args, dtype=expected))


@pytest.mark.parametrize("num", [0, 1, 2, 5, 17])
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace(num, endpoint):
  out = jnp.linspace(-1.5, 3.0, num, endpoint=endpoint)
  assert out.dtype == f32
  assert_close(out, np.linspace(-1.5, 3.0, num, endpoint=endpoint), f32, rtol=1e-6, atol=1e-6)
  o, step = jnp.linspace(0, 1, 5, retstep=True)
  assert float(step) == 0.25
  o = jnp.linspace(-3, 1, 4, dtype=np.int32)  # floor, as JAX
  np.testing.assert_array_equal(o, [-3, -2, -1, 1])
  assert o.dtype == i32


def test_linspace_arrays_axis():
  out = jnp.linspace(np.array([0.0, 1.0]), 5.0, 3, axis=1)
  assert_close(out, np.linspace(np.array([0.0, 1.0]), 5.0, 3, axis=1), f32)
  out = jnp.linspace(np.array([0.0, 1.0]), np.array([2.0, 3.0]), 4, axis=-1)
  assert_close(out, np.linspace([0.0, 1.0], [2.0, 3.0], 4, axis=-1), f32)


def test_logspace_geomspace():
  assert_close(jnp.logspace(0, 2, 3), np.logspace(0, 2, 3), f32, rtol=1e-5)
  assert_close(jnp.logspace(0, 3, 4, base=2), np.logspace(0, 3, 4, base=2), f32, rtol=1e-5)
  assert_close(jnp.geomspace(1, 8, 4), np.geomspace(1, 8, 4), f32, rtol=1e-5)
  assert_close(jnp.geomspace(-1, -1000, 4), np.geomspace(-1, -1000, 4), f32, rtol=1e-5)


@given(st.integers(0, 5), st.integers(0, 5), st.integers(-6, 6), st.sampled_from(all_dtypes))
def test_eye_tri(n, m, k, dt):
  assert_close(jnp.eye(n, m, k, dt), np.eye(n, m, k, dt), dt)
  assert_close(jnp.tri(n, m, k, dt), np.tri(n, m, k, dt), dt)
  assert_close(jnp.identity(n, dt), np.identity(n, dt), dt)


@given(st.data(), st.integers(-4, 4), st.sampled_from(all_dtypes))
def test_tril_triu(data, k, dt):
  x = data.draw(arrays(dt, data.draw(shapes(min_dims=2, max_dims=4))))
  x0 = x.copy()
  assert_close(jnp.tril(x, k), np.tril(x, k), dt)
  assert_close(jnp.triu(x, k), np.triu(x, k), dt)
  np.testing.assert_array_equal(x, x0)


@given(st.data(), st.integers(-4, 4), st.sampled_from(all_dtypes))
def test_diag_diagflat(data, k, dt):
  v = data.draw(arrays(dt, data.draw(shapes(min_dims=1, max_dims=1))))
  assert_close(jnp.diag(v, k), np.diag(v, k), dt)
  m = data.draw(arrays(dt, data.draw(shapes(min_dims=2, max_dims=2))))
  assert_close(jnp.diag(m, k), np.diag(m, k), dt)
  assert_close(jnp.diagflat(m, k), np.diagflat(m, k), dt)


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
  xs = [np.arange(2), np.arange(3.0), np.arange(4)]
  for n in (1, 2, 3):
    got = jnp.meshgrid(*xs[:n], indexing=indexing, sparse=sparse)
    exp = np.meshgrid(*xs[:n], indexing=indexing, sparse=sparse)
    for g, e in zip(got, exp):
      assert_close(g, e, {np.dtype(np.int64): i32, np.dtype(np.float64): f32}[e.dtype])


def test_indices_fromfunction_copy():
  np.testing.assert_array_equal(jnp.indices((2, 3)), np.indices((2, 3)))
  np.testing.assert_array_equal(jnp.indices((4,)), np.indices((4,)))
  for g, e in zip(jnp.indices((2, 3), sparse=True), np.indices((2, 3), sparse=True)):
    np.testing.assert_array_equal(g, e)
  out = jnp.fromfunction(lambda i, j: i + j, (2, 3), dtype=np.int32)
  np.testing.assert_array_equal(out, np.fromfunction(lambda i, j: i + j, (2, 3), dtype=int))
  np.testing.assert_array_equal(jnp.copy(np.arange(3)), np.arange(3))


def test_errors():
  with pytest.raises(TypeError, match="zeros: negative dimensions"):   # as JAX
    jnp.zeros((2, -1))
  with pytest.raises(TypeError, match="ones: shape must be"):
    jnp.ones("a")
  with pytest.raises(ValueError, match="linspace: number of samples"):
    jnp.linspace(0, 1, -1)
  with pytest.raises(ValueError, match="tril: argument must be at least 2-d"):
    jnp.tril(np.ones(3))
  with pytest.raises(ValueError, match="diag: input must be 1-d or 2-d"):
    jnp.diag(np.ones((2, 2, 2)))
  with pytest.raises(ValueError, match="meshgrid: indexing must be"):
    jnp.meshgrid(np.ones(2), indexing="zz")
  with pytest.raises(ValueError, match="full: cannot broadcast"):
    jnp.full((2, 3), np.ones(4))
