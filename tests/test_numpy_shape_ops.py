"""rjax.numpy shape manipulation against NumPy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax.numpy as jnp
from util import all_dtypes, arrays, assert_close, noncontiguous, shapes as hshapes
from util_shapes import check_unchanged, permutations


@st.composite
def arr(draw, min_dims=0, max_dims=4, min_side=0, dtypes=all_dtypes):
  dt = draw(st.sampled_from(dtypes))
  shape = draw(hshapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))
  return draw(arrays(dt, shape)), dt


@given(arr(), st.data())
def test_transpose_family(xd, data):
  x, dt = xd
  j = jnp.asarray(noncontiguous(x))
  perm = data.draw(permutations(x.ndim))
  assert_close(jnp.transpose(j, perm), np.transpose(x, perm), dt)
  assert_close(jnp.permute_dims(j, perm), np.transpose(x, perm), dt)
  assert_close(jnp.transpose(j), x.T, dt)
  assert_close(j.T, x.T, dt)
  assert_close(jnp.ravel(j), x.ravel(), dt)
  assert jnp.ndim(j) == x.ndim and jnp.shape(j) == x.shape and jnp.size(j) == x.size
  if x.ndim >= 2:
    assert_close(jnp.matrix_transpose(j), np.swapaxes(x, -1, -2), dt)
    assert_close(jnp.swapaxes(j, 0, -1), np.swapaxes(x, 0, -1), dt)
    assert_close(jnp.moveaxis(j, (0, 1), (-1, 0)), np.moveaxis(x, (0, 1), (-1, 0)), dt)
  if x.ndim:
    assert_close(jnp.flip(j, -1), np.flip(x, -1), dt)
    assert_close(jnp.flipud(j), np.flipud(x), dt)
  assert_close(jnp.flip(j), np.flip(x), dt)


@given(arr())
def test_squeeze_expand(xd):
  x, dt = xd
  j = jnp.asarray(x)
  assert_close(jnp.squeeze(j), np.squeeze(x), dt)
  assert_close(jnp.expand_dims(j, (0, -1)), np.expand_dims(x, (0, -1)), dt)
  for f in ("atleast_1d", "atleast_2d", "atleast_3d"):
    assert_close(getattr(jnp, f)(j), getattr(np, f)(x), dt)


@given(arr(min_dims=1, max_dims=3), st.data())
def test_concatenate_stack(xd, data):
  x, dt = xd
  y = data.draw(arrays(dt, x.shape))
  ax = data.draw(st.integers(-x.ndim, x.ndim - 1))
  assert_close(jnp.concatenate([x, y], ax), np.concatenate([x, y], ax), dt)
  assert_close(jnp.concat([x, y], axis=ax), np.concatenate([x, y], ax), dt)
  assert_close(jnp.concatenate([x, y], None), np.concatenate([x, y], None), dt)
  sax = data.draw(st.integers(-x.ndim - 1, x.ndim))
  assert_close(jnp.stack([x, y], sax), np.stack([x, y], sax), dt)
  for f in ("hstack", "vstack", "dstack"):
    assert_close(getattr(jnp, f)([x, y]), getattr(np, f)([x, y]), dt)
  assert_close(jnp.column_stack([x, y]), np.column_stack([x, y]), dt)
  for r, e in zip(jnp.unstack(x, axis=ax), np.moveaxis(x, ax, 0)):
    assert_close(r, e, dt)


def test_promotion_in_concatenate_and_stack():
  a = np.zeros(2, np.int8)
  b = np.ones(2, np.float16)
  assert jnp.concatenate([a, b]).dtype == np.float16
  assert jnp.stack([a, np.zeros(2, np.uint8)]).dtype == np.int16
  assert jnp.stack([jnp.asarray(1.0), jnp.asarray(2.0)]).dtype == np.float32


@given(arr(min_dims=1, max_dims=3, min_side=1), st.data())
def test_split(xd, data):
  x, dt = xd
  ax = data.draw(st.integers(0, x.ndim - 1))
  n = x.shape[ax]
  k = data.draw(st.integers(1, n + 2))
  for r, e in zip(jnp.array_split(x, k, ax), np.array_split(x, k, ax)):
    assert_close(r, e, dt)
  pts = sorted(data.draw(st.lists(st.integers(-n - 1, n + 1), max_size=3)))
  for r, e in zip(jnp.split(x, pts, ax), np.split(x, pts, ax)):
    assert_close(r, e, dt)
  for r, e in zip(jnp.hsplit(x, 1), np.hsplit(x, 1)):
    assert_close(r, e, dt)


@given(arr(max_dims=3), st.data())
def test_tile_repeat_roll_rot90(xd, data):
  x, dt = xd
  reps = tuple(data.draw(st.lists(st.integers(0, 3), max_size=4)))
  assert_close(jnp.tile(x, reps), np.tile(x, reps), dt)
  r = data.draw(st.integers(0, 3))
  assert_close(jnp.repeat(x, r), np.repeat(x, r), dt)
  shift = data.draw(st.integers(-7, 7))
  assert_close(jnp.roll(x, shift), np.roll(x, shift), dt)
  if x.ndim:
    ax = data.draw(st.integers(0, x.ndim - 1))
    assert_close(jnp.repeat(x, r, ax), np.repeat(x, r, ax), dt)
    per = data.draw(st.lists(st.integers(0, 3), min_size=x.shape[ax], max_size=x.shape[ax]))
    assert_close(jnp.repeat(x, per, ax), np.repeat(x, per, ax), dt)
    assert_close(jnp.roll(x, shift, ax), np.roll(x, shift, ax), dt)
  if x.ndim >= 2:
    k = data.draw(st.integers(-4, 4))
    assert_close(jnp.rot90(x, k), np.rot90(x, k), dt)
    assert_close(jnp.fliplr(x), np.fliplr(x), dt)


def test_repeat_total_length():
  x = np.array([1, 2, 3], np.int32)
  assert_close(jnp.repeat(x, 2, total_repeat_length=4), [1, 1, 2, 2], np.int32)
  assert_close(jnp.repeat(x, np.array([1, 2, 0]), total_repeat_length=5), [1, 2, 2, 2, 2],
               np.int32)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@given(xd=arr(min_dims=1, max_dims=3, min_side=1), data=st.data())
def test_pad(mode, xd, data):
  x, dt = xd
  pw = [(data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in range(x.ndim)]
  out = check_unchanged(lambda a: jnp.pad(a, pw, mode=mode), x)
  assert_close(out, np.pad(x, pw, mode=mode), dt)


def test_pad_constant_values_and_errors():
  x = np.arange(4, dtype=np.float32).reshape(2, 2)
  assert_close(jnp.pad(x, 1, constant_values=((5, 6), (7, 8))),
               np.pad(x, 1, constant_values=((5, 6), (7, 8))), np.float32)
  with pytest.raises(ValueError, match="pad: pad_width must be non-negative"):
    jnp.pad(x, -1)


@given(arr(min_dims=1, max_dims=3, min_side=1), st.data())
def test_take(xd, data):
  x, dt = xd
  ax = data.draw(st.integers(0, x.ndim - 1))
  n = x.shape[ax]
  ind = np.asarray(data.draw(arrays(np.int32, data.draw(hshapes(max_dims=2, max_side=3)),
                                    -n, n - 1)))
  assert_close(jnp.take(x, ind, axis=ax), np.take(x, ind, axis=ax), dt)
  assert_close(jnp.take(x, ind % x.size), np.take(x, ind % x.size), dt)
  assert_close(jnp.take(x, ind + 2 * n, axis=ax, mode="clip"),
               np.take(x, ind + 2 * n, axis=ax, mode="clip"), dt)
  assert_close(jnp.take(x, ind + 3 * n, axis=ax, mode="wrap"),
               np.take(x, ind + 3 * n, axis=ax, mode="wrap"), dt)
  ti = np.asarray(data.draw(arrays(np.int32, x.shape, -n, n - 1)))
  assert_close(jnp.take_along_axis(x, ti, ax), np.take_along_axis(x, ti, ax), dt)


def test_take_fill():
  x = np.arange(4, dtype=np.float32)
  out = jnp.take(x, np.array([0, 9]), mode="fill", fill_value=-1.0)
  assert_close(out, [0, -1], np.float32)
  assert np.isnan(np.asarray(jnp.take(x, np.array([9]))))[0]


@given(arr(min_dims=1, max_dims=3, dtypes=[np.dtype(np.float32), np.dtype(np.int32),
                                            np.dtype(np.int8), np.dtype(np.bool_)]), st.data())
def test_diff(xd, data):
  x, dt = xd
  n = data.draw(st.integers(0, 3))
  ax = data.draw(st.integers(-x.ndim, x.ndim - 1))
  assert_close(jnp.diff(x, n, ax), np.diff(x, n, ax), dt)
  if dt != np.bool_:
    assert_close(jnp.diff(x, 1, ax, prepend=0, append=x), np.diff(x, 1, ax, prepend=0, append=x),
                 dt)


def test_broadcast():
  x = np.arange(3, dtype=np.int16)
  assert_close(jnp.broadcast_to(x, (2, 3)), np.broadcast_to(x, (2, 3)), np.int16)
  a, b = jnp.broadcast_arrays(x[:, None], np.zeros(4, np.int16))
  assert a.shape == b.shape == (3, 4)
  assert jnp.broadcast_shapes((2, 1), (3,)) == (2, 3)
  with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
    jnp.broadcast_to(x, (2, 4))
  with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
    jnp.broadcast_shapes((2,), (3,))


def test_insert_delete_trim():
  x = np.arange(12, dtype=np.int32).reshape(3, 4)
  assert_close(jnp.insert(x, 1, 7, axis=1), np.insert(x, 1, 7, axis=1), np.int32)
  assert_close(jnp.insert(x, [0, 2], np.array([9, 8]), axis=None),
               np.insert(x, [0, 2], [9, 8], axis=None), np.int32)
  assert_close(jnp.insert(x, -1, np.arange(3), axis=1),
               np.insert(x, -1, np.arange(3), axis=1), np.int32)
  assert_close(jnp.delete(x, [0, 2], axis=1), np.delete(x, [0, 2], axis=1), np.int32)
  assert_close(jnp.delete(x, slice(0, None, 2)), np.delete(x, slice(0, None, 2)), np.int32)
  assert_close(jnp.delete(x, -1, axis=0), np.delete(x, -1, axis=0), np.int32)
  z = np.array([0, 0, 1, 0, 2, 0], np.int32)
  for t in ("fb", "f", "b"):
    assert_close(jnp.trim_zeros(z, t), np.trim_zeros(z, t), np.int32)


def test_errors():
  x = np.zeros((2, 3), np.float32)
  with pytest.raises(ValueError, match="squeeze: cannot select"):
    jnp.squeeze(x, 0)
  with pytest.raises(ValueError, match="split: array split does not result in an equal"):
    jnp.split(x, 2, axis=1)
  with pytest.raises(ValueError, match="stack: all input arrays must have the same shape"):
    jnp.stack([x, x.T])
  with pytest.raises(ValueError, match="concatenate: zero-dimensional"):
    jnp.concatenate([np.float32(1), np.float32(2)])
  with pytest.raises(np.exceptions.AxisError, match="moveaxis: axis 2 is out of bounds"):
    jnp.moveaxis(x, 2, 0)
  with pytest.raises(ValueError, match="take_along_axis: indices and arr"):
    jnp.take_along_axis(x, np.zeros(3, np.int32), 0)
