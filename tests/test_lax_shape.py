"""lax shape primitives against NumPy: transpose, rev, concatenate, pad,
squeeze, expand_dims."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax.numpy as jnp
from rjax import lax
from rjax._src.lax import shapes
from util import all_dtypes, arrays, assert_close, noncontiguous, shapes as hshapes
from util_shapes import check_unchanged, permutations, ref


@st.composite
def array_and_dtype(draw, min_dims=0, max_dims=4, min_side=0):
  dt = draw(st.sampled_from(all_dtypes))
  shape = draw(hshapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))
  return draw(arrays(dt, shape)), dt


@given(array_and_dtype(), st.data())
def test_transpose(xd, data):
  x, dt = xd
  perm = data.draw(permutations(x.ndim))
  out = check_unchanged(lambda a: lax.transpose(a, perm), noncontiguous(x))
  assert_close(out, np.transpose(x, perm), dt)
  assert_close(out, ref(shapes.transpose_p, x, permutation=perm), dt)


@given(array_and_dtype(), st.data())
def test_rev(xd, data):
  x, dt = xd
  dims = tuple(data.draw(st.sets(st.integers(0, max(x.ndim - 1, 0)), max_size=x.ndim)))
  dims = tuple(d for d in dims if d < x.ndim)
  out = lax.rev(noncontiguous(x), dims)
  assert_close(out, np.flip(x, dims) if dims else x, dt)


@given(array_and_dtype(min_dims=1), st.data())
def test_concatenate(xd, data):
  x, dt = xd
  dim = data.draw(st.integers(0, x.ndim - 1))
  sizes = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
  ops = []
  for n in sizes:
    sh = list(x.shape)
    sh[dim] = n
    ops.append(data.draw(arrays(dt, tuple(sh))))
  ops.append(x)
  out = lax.concatenate(ops, dim)
  assert_close(out, np.concatenate(ops, dim), dt)
  assert_close(out, ref(shapes.concatenate_p, *ops, dimension=dim), dt)


@given(array_and_dtype(max_dims=3), st.data())
def test_pad(xd, data):
  x, dt = xd
  cfg = []
  for n in x.shape:
    lo = data.draw(st.integers(-n, 3))
    hi = data.draw(st.integers(-n, 3))
    interior = data.draw(st.integers(0, 2))
    # keep the result non-negative
    size = lo + hi + (n + (n - 1) * interior if n else 0)
    if size < 0:
      lo, hi = 0, 0
    cfg.append((lo, hi, interior))
  pv = np.asarray(data.draw(arrays(dt, ())), dt)
  out = lax.pad(noncontiguous(x), pv, cfg)
  assert_close(out, ref(shapes.pad_p, x, pv, padding_config=tuple(cfg)), dt)


def test_pad_examples_and_weak_scalar():
  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  out = lax.pad(x, 0.0, [(1, 0, 0), (-1, 2, 1)])
  expected = np.array([[0, 0, 0, 0, 0, 0], [0, 1, 0, 2, 0, 0], [0, 4, 0, 5, 0, 0]], np.float32)
  assert_close(out, expected, np.float32)
  i = lax.pad(np.arange(3, dtype=np.int8), 7, [(0, 1, 1)])
  assert_close(i, np.array([0, 7, 1, 7, 2, 7], np.int8), np.int8)


@given(array_and_dtype())
def test_squeeze_expand_dims(xd):
  x, dt = xd
  e = lax.expand_dims(x, (0, -1))
  assert e.shape == (1,) + x.shape + (1,) and e.dtype == dt
  s = lax.squeeze(e, (0, -1))
  assert_close(s, x, dt)


def test_weak_type_preserved():
  x = jnp.asarray(1.0)
  y = lax.expand_dims(x, (0,))
  assert y.weak_type
  assert lax.transpose(lax.concatenate([y, y], 0), (0,)).weak_type


def test_errors():
  x = np.zeros((2, 3), np.float32)
  with pytest.raises(TypeError, match="transpose: permutation"):
    lax.transpose(x, (0, 0))
  with pytest.raises(TypeError, match="rev: dimensions"):
    lax.rev(x, (2,))
  with pytest.raises(TypeError, match="concatenate: operand shapes"):
    lax.concatenate([x, np.zeros((3, 3), np.float32)], 1)
  with pytest.raises(TypeError, match="concatenate: operands must have the same dtype"):
    lax.concatenate([x, np.zeros((2, 3), np.int32)], 0)
  with pytest.raises(ValueError, match="concatenate: dimension"):
    lax.concatenate([x, x], 2)
  with pytest.raises(TypeError, match="pad: operand and padding_value"):
    lax.pad(x, np.int32(0), [(0, 0, 0), (0, 0, 0)])
  with pytest.raises(ValueError, match="pad: padding_config"):
    lax.pad(x, 0.0, [(0, 0, 0)])
  with pytest.raises(ValueError, match="pad: interior"):
    lax.pad(x, 0.0, [(0, 0, -1), (0, 0, 0)])
  with pytest.raises(ValueError, match="squeeze: cannot select"):
    lax.squeeze(x, (0,))


def test_large_transpose_parallel_path():
  x = np.arange(300 * 301, dtype=np.int32).reshape(300, 301)
  assert_close(lax.transpose(x, (1, 0)), x.T, np.int32)
  y = np.arange(40000 * 3, dtype=np.int16).reshape(40000, 3)
  assert_close(lax.rev(y, (1,)), y[:, ::-1], np.int16)
