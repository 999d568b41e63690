"""NumPy indexing (x[idx]) and .at[] updates against NumPy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax.numpy as jnp
from util import all_dtypes, arrays, assert_close, noncontiguous, numeric_dtypes
from util import shapes as hshapes
from util_shapes import slices


@st.composite
def basic_index(draw, shape):
  """A basic index: ints, slices, None and at most one Ellipsis."""
  idx, dims = [], list(shape)
  ell = draw(st.booleans())
  for i, n in enumerate(dims):
    kind = draw(st.sampled_from(["int", "slice", "slice", "none"] if n else ["slice", "none"]))
    if kind == "int":
      idx.append(draw(st.integers(-n, n - 1)))
    elif kind == "slice":
      idx.append(draw(slices(n)))
    else:
      idx.append(None)
      idx.append(draw(slices(n)))
  if ell and idx:
    k = draw(st.integers(0, len(idx)))
    idx = idx[:k] + [Ellipsis]
  return tuple(idx)


@given(st.sampled_from(all_dtypes), hshapes(max_dims=4), st.data())
def test_basic_indexing(dt, shape, data):
  x = data.draw(arrays(dt, shape))
  idx = data.draw(basic_index(shape))
  out = jnp.asarray(noncontiguous(x))[idx]
  assert_close(out, x[idx], dt)


@given(st.sampled_from(all_dtypes), hshapes(min_dims=1, max_dims=3, min_side=1), st.data())
def test_integer_array_indexing(dt, shape, data):
  x = data.draw(arrays(dt, shape))
  nd = len(shape)
  # one or two integer arrays, possibly separated by slices, broadcasting together
  k = data.draw(st.integers(1, min(2, nd)))
  dims = sorted(data.draw(st.sets(st.integers(0, nd - 1), min_size=k, max_size=k)))
  bshape = data.draw(hshapes(max_dims=2, max_side=3))
  idx = []
  for d in range(nd):
    if d in dims:
      n = shape[d]
      sh = bshape[data.draw(st.integers(0, len(bshape))):] if bshape else ()
      a = np.asarray(data.draw(arrays(np.int32, sh, -n, n - 1)))
      idx.append(a)
    else:
      idx.append(data.draw(st.sampled_from([slice(None), slice(None, None, -1), 0 if shape[d]
                                            else slice(None)])))
  idx = tuple(idx)
  assert_close(jnp.asarray(x)[idx], x[idx], dt)


A = np.array
CASES = [
    (1,), (-1,), (Ellipsis, 0), (None, Ellipsis, None), (A([0, 2, -1]),), (A([[0], [2]]), A([1, 3])),
    (slice(None), A([3, 0])), (A([1, 2]), slice(None), A([0, 4])), (0, slice(None), A([1, 2])),
    (slice(None), 0, A([1, 2])), (slice(None, None, -1), A([1, 1])),
    (np.array([True, False, True]),), (np.array([[True, False, True, False, True]] * 4),),
    (slice(None), A([True, False, True, True])), (A([], np.int32), ), (np.int64(2),),
    (jnp.asarray([2, 0]),), (slice(1, None), None, A([[0, 1]])),
]


def test_list_index_is_type_error():
  """As in JAX, a Python list is not an index (use an array): TypeError."""
  x = jnp.arange(5)
  with pytest.raises(TypeError, match="non-tuple sequence"):
    x[[0, 1]]
  with pytest.raises(TypeError, match="non-tuple sequence"):
    x.at[[0, 1]].set(1)


@pytest.mark.parametrize("idx", CASES, ids=[str(i) for i in range(len(CASES))])
def test_index_cases(idx):
  x = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
  nidx = tuple(np.asarray(i) if isinstance(i, jnp.ndarray) else i for i in idx)
  if len(idx) == 1 and isinstance(idx[0], np.ndarray) and idx[0].ndim == 2:
    x = x[0]
  assert_close(jnp.asarray(x)[idx], x[nidx], np.float32)


def test_out_of_bounds():
  x = np.arange(5, dtype=np.int32)
  # integer arrays clamp (JAX's default for reads)
  assert_close(jnp.asarray(x)[np.array([7, -9])], [4, 0], np.int32)
  # static ints clamp too (JAX 0.10: arange(5)[5] == 4, [-6] == 0)
  assert int(jnp.asarray(x)[5]) == 4 and int(jnp.asarray(x)[-6]) == 0
  y = jnp.asarray(np.arange(6).reshape(2, 3))
  assert_close(y[2], [3, 4, 5], np.int32)
  assert_close(y[:, 7], [2, 5], np.int32)
  with pytest.raises(IndexError, match="out of bounds for axis 0 with size 0"):
    jnp.zeros((0,))[0]
  with pytest.raises(IndexError, match="Too many indices"):
    jnp.asarray(x)[0, 0]
  with pytest.raises(IndexError, match="single ellipsis"):
    jnp.asarray(x)[..., ...]
  with pytest.raises(IndexError, match="boolean index"):
    jnp.asarray(x)[np.array([True, False])]
  with pytest.raises(TypeError, match="integer or boolean type"):   # as JAX
    jnp.asarray(x)[np.array([1.0])]
  with pytest.raises(OverflowError, match="too large"):               # JAX converts to int32
    jnp.asarray(x)[2 ** 40]


def test_iteration_and_weak_type():
  x = jnp.asarray(np.arange(6, dtype=np.int16).reshape(3, 2))
  rows = list(x)
  assert len(rows) == 3 and rows[2].dtype == np.int16
  assert_close(rows[1], [2, 3], np.int16)
  assert jnp.asarray(2.0)[None].weak_type


# ---------------------------------------------------------------------------
# .at[]

UFUNC = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


@pytest.mark.parametrize("method", ["add", "multiply", "min", "max"])
@given(dt=st.sampled_from(numeric_dtypes), data=st.data())
def test_at_accumulates_repeats(method, dt, data):
  x = data.draw(arrays(dt, (4, 3), -5, 5))
  idx = np.asarray(data.draw(st.lists(st.integers(-4, 3), max_size=6)), np.int32)
  v = data.draw(arrays(dt, (len(idx), 3), -3, 3))
  xc = x.copy()
  out = getattr(jnp.asarray(x).at[idx], method)(v)
  np.testing.assert_array_equal(x, xc)
  expected = x.copy()
  UFUNC[method].at(expected, idx, v)
  assert_close(out, expected, dt)


@given(st.sampled_from(all_dtypes), hshapes(min_dims=1, max_dims=3), st.data())
def test_at_set_basic(dt, shape, data):
  x = data.draw(arrays(dt, shape))
  idx = data.draw(basic_index(shape))
  target = x[idx]
  v = data.draw(arrays(dt, target.shape))
  out = jnp.asarray(x).at[idx].set(v)
  expected = x.copy()
  expected[idx] = v
  assert_close(out, expected, dt)
  assert_close(jnp.asarray(x).at[idx].get(), target, dt)


def test_at_modes_and_methods():
  x = np.arange(5, dtype=np.float32)
  j = jnp.asarray(x)
  # out-of-bounds writes are dropped by default
  assert_close(j.at[np.array([1, 9, -7])].set(-1.0), [0, -1, 2, 3, 4], np.float32)
  assert_close(j.at[7].add(1.0), x, np.float32)
  assert_close(j.at[np.array([9])].set(-1.0, mode="clip"), [0, 1, 2, 3, -1], np.float32)
  assert_close(j.at[-1].set(10), [0, 1, 2, 3, 10], np.float32)
  assert_close(j.at[1:4:2].subtract(1), [0, 0, 2, 2, 4], np.float32)
  assert_close(j.at[2].divide(4.0), [0, 1, 0.5, 3, 4], np.float32)
  assert_close(j.at[::-1].set(np.arange(5, dtype=np.float32)), x[::-1], np.float32)
  g = j.at[np.array([0, 7])].get(mode="fill", fill_value=-2.0)
  assert_close(g, [0, -2], np.float32)
  assert_close(j.at[np.array([0, 7])].get(), [0, 4], np.float32)
  assert_close(j.at[1:3].apply(lambda v: v * 10), [0, 10, 20, 3, 4], np.float32)
  m = np.array([True, False, True, False, False])
  assert_close(j.at[m].set(9), np.where(m, 9, x), np.float32)
  # values are cast to the array's dtype; the result keeps it
  i = jnp.asarray(np.arange(4, dtype=np.int8))
  r = i.at[0].set(np.int32(100))
  assert r.dtype == np.int8 and int(r[0]) == 100
  assert jnp.asarray(x).at[0].set(1).dtype == np.float32


def test_at_2d_advanced():
  x = np.zeros((3, 4), np.int32)
  out = jnp.asarray(x).at[np.array([0, 2, 0]), np.array([1, 3, 1])].add(1)
  e = x.copy()
  np.add.at(e, (np.array([0, 2, 0]), np.array([1, 3, 1])), 1)
  assert_close(out, e, np.int32)
  out = jnp.asarray(x).at[:, np.array([3, 0])].set(np.array([7, 8], np.int32))
  e = x.copy()
  e[:, [3, 0]] = [7, 8]
  assert_close(out, e, np.int32)
