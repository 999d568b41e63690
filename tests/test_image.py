"""rjax.image.resize / scale_and_translate against jax.image over drawn
shapes, methods, antialiasing and dtypes; gradients against JAX's and
numerically; jit and vmap."""
import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import image
from rjax.test_util import check_grads

from util import enable_x64

METHODS = ["nearest", "linear", "bilinear", "lanczos3", "lanczos5", "cubic", "cubic-pytorch",
           "area"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 999), method=st.sampled_from(METHODS), antialias=st.booleans(),
       in_hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       out_hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
       dtype=st.sampled_from([np.float32, np.int32, np.uint8]))
def test_resize_matches_jax(seed, method, antialias, in_hw, out_hw, dtype):
  x = (np.random.RandomState(seed).standard_normal((2,) + in_hw + (3,)) * 50).astype(dtype)
  shape = (2,) + out_hw + (3,)
  got = image.resize(x, shape, method, antialias=antialias)
  want = jax.image.resize(x, shape, method, antialias=antialias)
  assert got.shape == want.shape and got.dtype == want.dtype
  scale = max(1.0, float(np.abs(x).max()))
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=4e-6 * scale)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 999),
       method=st.sampled_from(["linear", "lanczos3", "cubic", "cubic-pytorch", "area"]),
       antialias=st.booleans(), scale=st.tuples(st.floats(0.3, 3.0), st.floats(0.3, 3.0)),
       translation=st.tuples(st.floats(-2, 2), st.floats(-2, 2)))
def test_scale_and_translate_matches_jax(seed, method, antialias, scale, translation):
  x = np.random.RandomState(seed).standard_normal((4, 5, 2)).astype(np.float32)
  s, t = np.array(scale, np.float32), np.array(translation, np.float32)
  got = image.scale_and_translate(x, (6, 3, 2), (0, 1), s, t, method, antialias=antialias)
  want = jax.image.scale_and_translate(x, (6, 3, 2), (0, 1), s, t, method,
                                       antialias=antialias)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=2e-5)


def test_gradients_match_jax_and_numerics():
  x = np.random.RandomState(0).standard_normal((4, 5)).astype(np.float32)
  s, t = np.array([1.4, 0.6], np.float32), np.array([0.3, -0.2], np.float32)
  f = lambda x_, s_, t_: jnp.sum(jnp.sin(image.scale_and_translate(x_, (5, 3), (0, 1), s_, t_,
                                                                     "lanczos3")))
  jf = lambda x_, s_, t_: jax.numpy.sum(jax.numpy.sin(jax.image.scale_and_translate(
      x_, (5, 3), (0, 1), s_, t_, "lanczos3")))
  for g, w in zip(rjax.grad(f, argnums=(0, 1, 2))(x, s, t), jax.grad(jf, argnums=(0, 1, 2))(x, s, t)):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-4, atol=2e-5)
  with enable_x64():
    check_grads(lambda v: image.resize(v, (7, 3), "cubic"), (x.astype(np.float64),), order=2,
                modes=("fwd", "rev"))


def test_jit_vmap_and_errors():
  x = np.random.RandomState(1).standard_normal((3, 4, 4)).astype(np.float32)
  got = rjax.vmap(lambda v: image.resize(v, (8, 2), "linear"))(x)
  want = jax.vmap(lambda v: jax.image.resize(v, (8, 2), "linear"))(x)
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
  np.testing.assert_allclose(rjax.jit(lambda v: image.resize(v, (3, 8, 2), "area"))(x),
                             jax.image.resize(x, (3, 8, 2), "area"), rtol=2e-5, atol=2e-6)
  with pytest.raises(ValueError, match="Unknown resize method"):
    image.resize(x, (3, 2, 2), "bogus")
  with pytest.raises(ValueError, match="number of dimensions"):
    image.resize(x, (2, 2), "linear")
  with pytest.raises(ValueError, match="Nearest neighbor"):
    image.scale_and_translate(x, (3, 4, 4), (1,), np.ones(1), np.zeros(1), "nearest")
  assert image.ResizeMethod.from_string("trilinear") is image.ResizeMethod.LINEAR
  assert [m.name for m in image.ResizeMethod] == [m.name for m in jax.image.ResizeMethod]
  np.testing.assert_array_equal(image.resize(x, x.shape, "cubic"), x)
