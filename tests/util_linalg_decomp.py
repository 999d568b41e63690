"""Helpers for the decomposition tests: random matrices of given structure
(seeded NumPy draws over hypothesis-drawn shapes), and the orientation- and
sign-invariant comparisons JAX's own linalg tests use."""
import numpy as np
from hypothesis import strategies as st

import rjax

FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]
#: comparison tolerance per dtype (decompositions of well-conditioned
#: matrices of side <= 6)
TOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-10}


def x64_for(dtype):
  """Context manager: x64 on for float64 tests."""
  from util import enable_x64
  return enable_x64(np.dtype(dtype) == np.float64)


@st.composite
def shapes(draw, square=True, min_side=0, max_side=5, max_batch=2):
  batch = tuple(draw(st.lists(st.integers(0 if draw(st.booleans()) else 1, 3),
                              max_size=max_batch)))
  m = draw(st.integers(min_side, max_side))
  n = m if square else draw(st.integers(min_side, max_side))
  return batch, m, n


def rand(seed, shape, dtype):
  return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def spd(seed, batch, n, dtype):
  """Symmetric positive definite [..., n, n] (well conditioned)."""
  a = np.random.default_rng(seed).standard_normal(batch + (n, n))
  return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def well_conditioned(seed, batch, n, dtype):
  a = np.random.default_rng(seed).standard_normal(batch + (n, n))
  return (a + 3 * n * np.eye(n) * np.sign(a.sum() + 0.5)).astype(dtype) if n else \
      a.astype(dtype)


def sym(seed, batch, n, dtype):
  a = np.random.default_rng(seed).standard_normal(batch + (n, n))
  return ((a + np.swapaxes(a, -1, -2)) / 2).astype(dtype)


def close(got, want, dtype, scale=1.0):
  t = TOL[np.dtype(dtype)] * scale
  np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                             rtol=t, atol=t, equal_nan=True)


def columns_match_up_to_sign(got, want, dtype, scale=1.0):
  """|<u_i, v_i>| = 1 column by column (eigen/singular vectors)."""
  g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
  dots = np.abs(np.sum(g * w, axis=-2))
  close(dots, np.ones_like(dots), dtype, scale)


def to_rjax(*xs):
  return [rjax.numpy.asarray(x) for x in xs]
