"""lax slicing primitives against NumPy: slice, dynamic_slice,
dynamic_update_slice, gather and the scatter family."""
import jax
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.lax import slicing
from util import all_dtypes, arrays, assert_close, int_dtypes, noncontiguous, numeric_dtypes
from util import shapes as hshapes
from util_shapes import check_unchanged, ref

GDN = lax.GatherDimensionNumbers
SDN = lax.ScatterDimensionNumbers


@given(st.sampled_from(all_dtypes), hshapes(min_dims=1, max_dims=3), st.data())
def test_slice(dt, shape, data):
  x = data.draw(arrays(dt, shape))
  start, limit, strides = [], [], []
  for n in shape:
    s = data.draw(st.integers(0, n))
    start.append(s)
    limit.append(data.draw(st.integers(s, n)))
    strides.append(data.draw(st.integers(1, 3)))
  out = check_unchanged(lambda a: lax.slice(a, start, limit, strides), noncontiguous(x))
  expected = x[tuple(slice(s, l, k) for s, l, k in zip(start, limit, strides))]
  assert_close(out, expected, dt)


def test_slice_reference_is_numpy_slicing():
  x = np.arange(12, dtype=np.int32).reshape(3, 4)
  out = ref(slicing.slice_p, x, start_indices=(1, 0), limit_indices=(3, 4), strides=(1, 2))
  np.testing.assert_array_equal(out, x[1:3, 0:4:2])
  out = ref(slicing.slice_p, x, start_indices=(0, 1), limit_indices=(2, 3), strides=None)
  np.testing.assert_array_equal(out, x[0:2, 1:3])


def test_slice_in_dim_and_index_in_dim():
  x = np.arange(12, dtype=np.int32).reshape(3, 4)
  assert_close(lax.slice_in_dim(x, 1, None, 2, axis=1), x[:, 1::2], np.int32)
  assert_close(lax.slice_in_dim(x, -2, None, axis=0), x[-2:], np.int32)
  assert_close(lax.index_in_dim(x, -1, 1, keepdims=False), x[:, -1], np.int32)
  assert_close(lax.index_in_dim(x, 0, 0), x[:1], np.int32)


@given(st.sampled_from(all_dtypes), st.sampled_from(int_dtypes), hshapes(min_dims=1, max_dims=3),
       st.data())
def test_dynamic_slice_clamps(dt, idt, shape, data):
  x = data.draw(arrays(dt, shape))
  sizes = [data.draw(st.integers(0, n)) for n in shape]
  starts = [data.draw(st.integers(-n - 3 if np.dtype(idt).kind == "i" else 0, n + 3))
            for n in shape]
  idx = [np.asarray(s, idt) for s in starts]
  out = lax.dynamic_slice(noncontiguous(x), idx, sizes)
  # as JAX: a negative start counts from the end, then the start is clamped
  wrapped = [s + n if s < 0 else s for s, n in zip(starts, shape)]
  cl = [min(max(s, 0), n - k) for s, n, k in zip(wrapped, shape, sizes)]
  assert_close(out, x[tuple(slice(c, c + k) for c, k in zip(cl, sizes))], dt)
  assert_close(out, jax.lax.dynamic_slice(x, idx, sizes), dt)
  assert_close(rjax.jit(lambda a, *i: lax.dynamic_slice(a, i, sizes))(x, *idx), out, dt)


@given(st.sampled_from(all_dtypes), hshapes(min_dims=1, max_dims=3), st.data())
def test_dynamic_update_slice(dt, shape, data):
  x = data.draw(arrays(dt, shape))
  ushape = tuple(data.draw(st.integers(0, n)) for n in shape)
  u = data.draw(arrays(dt, ushape))
  starts = [data.draw(st.integers(-n - 2, n + 2)) for n in shape]
  out = check_unchanged(lambda a, b: lax.dynamic_update_slice(a, b, starts), x, u)
  wrapped = [np.int32(s + n if s < 0 else s) for s, n in zip(starts, shape)]
  assert_close(out, ref(slicing.dynamic_update_slice_p, x, u, *wrapped), dt)
  assert_close(out, jax.lax.dynamic_update_slice(x, u, starts), dt)
  traced = rjax.jit(lambda a, b, *i: lax.dynamic_update_slice(a, b, i))(
      x, u, *[np.int32(s) for s in starts])
  assert_close(traced, out, dt)


def test_negative_starts_and_in_dim_helpers_match_jax():
  x = np.arange(12, dtype=np.float32).reshape(3, 4)
  for i in (-1, -3, -4, -9, 2, 7):
    for axis in (0, 1, -1):
      assert_close(lax.dynamic_index_in_dim(x, i, axis), jax.lax.dynamic_index_in_dim(x, i, axis),
                   np.float32)
      assert_close(lax.dynamic_slice_in_dim(x, i, 2, axis),
                   jax.lax.dynamic_slice_in_dim(x, i, 2, axis), np.float32)
      u = np.full((3, 4), -1, np.float32)[:1] if axis == 0 else np.full((3, 1), -1, np.float32)
      assert_close(lax.dynamic_update_index_in_dim(x, u, i, axis),
                   jax.lax.dynamic_update_index_in_dim(x, u, i, axis), np.float32)
      assert_close(lax.dynamic_update_slice_in_dim(x, u, i, axis),
                   jax.lax.dynamic_update_slice_in_dim(x, u, i, axis), np.float32)
  # allow_negative_indices=False: the start is only clamped
  assert_close(lax.dynamic_slice(x, (-1, 0), (1, 4), allow_negative_indices=False), x[:1],
               np.float32)
  with pytest.raises(IndexError):
    lax.dynamic_index_in_dim(x, 0, axis=2)
  # the jaxpr wraps a traced start as JAX does: lt, add, select_n
  jx = str(rjax.make_jaxpr(lambda a, i: lax.dynamic_slice(a, (i, 0), (1, 4)))(x, np.int32(-1)))
  assert "select_n" in jx and "lt" in jx


def test_dynamic_in_dim_helpers():
  x = np.arange(12, dtype=np.float32).reshape(3, 4)
  assert_close(lax.dynamic_slice_in_dim(x, 2, 2, axis=1), x[:, 2:4], np.float32)
  assert_close(lax.dynamic_index_in_dim(x, 5, 0, keepdims=False), x[2], np.float32)
  u = np.full((3, 1), -1, np.float32)
  e = x.copy()
  e[:, 3:] = u
  assert_close(lax.dynamic_update_slice_in_dim(x, u, 7, 1), e, np.float32)
  assert_close(lax.dynamic_update_index_in_dim(x, np.zeros(4, np.float32), 1, 0),
               np.where(np.arange(3)[:, None] == 1, 0, x), np.float32)


# Gather cases: (operand shape, indices, dimension numbers, slice sizes)
GATHER_CASES = [
    # x[idx] for rows
    ((5, 3), [[1], [4], [0], [4]], GDN((1,), (0,), (0,)), (1, 3)),
    # x[:, idx]: batch dim after the window dim
    ((3, 5), [[4], [0]], GDN((0,), (1,), (1,)), (3, 1)),
    # x[i, j] pairs, index vector in reversed order
    ((4, 5), [[1, 2], [3, 0], [0, 4]], GDN((), (0, 1), (1, 0)), (1, 1)),
    # windows of size 2 (not collapsed), JAX doc style
    ((6, 4), [[[0], [3]], [[4], [1]]], GDN((2, 3), (), (0,)), (2, 3)),
    # batching dims: out[b] = x[b, idx[b]]
    ((3, 5), [[1], [4], [0]], GDN((), (1,), (1,), (0,), (0,)), (1, 1)),
    # empty indices
    ((4, 2), np.zeros((0, 1), np.int32), GDN((1,), (0,), (0,)), (1, 2)),
]


@pytest.mark.parametrize("case", range(len(GATHER_CASES)))
@pytest.mark.parametrize("dt", [np.float32, np.int8, np.bool_])
def test_gather_cases(case, dt):
  shape, idx, dn, sizes = GATHER_CASES[case]
  x = (np.arange(np.prod(shape)).reshape(shape) % 7).astype(dt)
  idx = np.asarray(idx, np.int32)
  out = check_unchanged(lambda a, i: lax.gather(a, i, dn, sizes, mode="clip"), x, idx)
  expected = ref(slicing.gather_p, x, idx, dimension_numbers=dn, slice_sizes=sizes,
                 mode=lax.GatherScatterMode.CLIP, fill_value=None)
  assert_close(out, expected, dt)


def test_gather_against_numpy_and_modes():
  x = np.arange(20, dtype=np.float32).reshape(5, 4)
  rows = np.array([[3], [-1], [7]], np.int64)
  clip = lax.gather(x, rows, GDN((1,), (0,), (0,)), (1, 4), mode="clip")
  assert_close(clip, x[[3, 0, 4]], np.float32)
  fill = lax.gather(x, rows, GDN((1,), (0,), (0,)), (1, 4), mode="fill")
  assert_close(fill[0], x[3], np.float32)
  assert np.isnan(np.asarray(fill[1:])).all()
  fv = lax.gather(x.astype(np.int32), rows, GDN((1,), (0,), (0,)), (1, 4), mode="fill",
                  fill_value=-5)
  assert (np.asarray(fv[1:]) == -5).all()
  # default fill for ints: the minimum (signed) / maximum (unsigned)
  d = lax.gather(x.astype(np.uint8), rows, GDN((1,), (0,), (0,)), (1, 4), mode="fill")
  assert (np.asarray(d[1:]) == 255).all()
  # window partly out of bounds: the whole window is filled
  w = lax.gather(x, np.array([[3]]), GDN((1,), (0,), (0,)), (1, 4), mode="fill")
  assert_close(w, x[3:4], np.float32)
  w2 = lax.gather(x, np.array([[3]]), GDN((0, 1), (), (0,)), (3, 4), mode="fill")
  assert np.isnan(np.asarray(w2)).all()


def _scatter_ref_np(name, x, idx, upd):
  out = x.copy()
  f = {"scatter": None, "scatter_add": np.add, "scatter_mul": np.multiply,
       "scatter_min": np.minimum, "scatter_max": np.maximum}[name]
  if f is None:
    for i, u in zip(idx[:, 0], upd):
      if 0 <= i < len(x):
        out[i] = u
  else:
    ok = (idx[:, 0] >= 0) & (idx[:, 0] < len(x))
    f.at(out, idx[ok, 0], upd[ok])
  return out


@pytest.mark.parametrize("name", ["scatter", "scatter_add", "scatter_mul", "scatter_min",
                                  "scatter_max"])
@given(dt=st.sampled_from(numeric_dtypes), data=st.data())
def test_scatter_rows_with_repeats(name, dt, data):
  n = data.draw(st.integers(1, 5))
  k = data.draw(st.integers(0, 6))
  x = data.draw(arrays(dt, (n, 3), -10, 10))
  idx = np.asarray(data.draw(st.lists(st.integers(-2, n + 1), min_size=k, max_size=k)),
                   np.int32).reshape(k, 1)
  if name == "scatter":  # last write wins is not specified by XLA: use unique indices
    idx = np.asarray(sorted(set(idx[:, 0].tolist())), np.int32).reshape(-1, 1)
  upd = data.draw(arrays(dt, (len(idx), 3), -3, 3))
  fn = getattr(lax, name)
  out = check_unchanged(lambda a, i, u: fn(a, i, u, SDN((1,), (0,), (0,)), mode="drop"),
                        x, idx, upd)
  assert_close(out, _scatter_ref_np(name, x, idx, upd), dt)
  p = getattr(slicing, name + "_p")
  assert_close(out, ref(p, x, idx, upd, dimension_numbers=SDN((1,), (0,), (0,)),
                        mode=lax.GatherScatterMode.FILL_OR_DROP), dt)


def test_scatter_general_dimension_numbers():
  x = np.zeros((3, 4, 5), np.float32)
  # windows of (2, 5) at [i, j] of dims (0, 1), updates laid out window-first
  idx = np.array([[0, 1], [1, 3], [2, 2]], np.int32)
  upd = np.arange(3 * 2 * 5, dtype=np.float32).reshape(2, 3, 5)
  dn = SDN(update_window_dims=(0, 2), inserted_window_dims=(1,),
           scatter_dims_to_operand_dims=(0, 1))
  out = lax.scatter_add(x, idx, upd, dn, mode="clip")
  expected = ref(slicing.scatter_add_p, x, idx, upd, dimension_numbers=dn,
                 mode=lax.GatherScatterMode.CLIP)
  assert_close(out, expected, np.float32)
  # batching dims: x[b, idx[b]] += u[b]
  y = np.zeros((3, 4), np.int32)
  bi = np.array([[1], [3], [1]], np.int32)
  u = np.array([5, 6, 7], np.int32)
  dnb = SDN((), (1,), (1,), (0,), (0,))
  e = y.copy()
  e[[0, 1, 2], [1, 3, 1]] += u
  assert_close(lax.scatter_add(y, bi, u, dnb), e, np.int32)


def test_scatter_clip_vs_drop():
  x = np.zeros(4, np.float32)
  idx = np.array([[9], [-3]], np.int32)
  u = np.array([1.0, 2.0], np.float32)
  dn = SDN((), (0,), (0,))
  assert_close(lax.scatter_add(x, idx, u, dn, mode="clip"), [2, 0, 0, 1], np.float32)
  assert_close(lax.scatter_add(x, idx, u, dn), x, np.float32)


def test_errors():
  x = np.zeros((3, 4), np.float32)
  with pytest.raises(TypeError, match="slice: start_indices"):
    lax.slice(x, (0, 0), (4, 4))
  with pytest.raises(TypeError, match="dynamic_slice: slice_sizes"):
    lax.dynamic_slice(x, (0, 0), (4, 4))
  with pytest.raises(ValueError, match="dynamic_slice: length of slice indices"):   # as JAX
    lax.dynamic_slice(x, (0,), (1,))
  with pytest.raises(TypeError, match="dynamic_update_slice: update dtype"):
    lax.dynamic_update_slice(x, np.zeros((1, 1), np.int32), (0, 0))
  with pytest.raises(TypeError, match="gather: indices must have an integer dtype"):
    lax.gather(x, np.zeros((1, 1), np.float32), GDN((1,), (0,), (0,)), (1, 4))
  with pytest.raises(TypeError, match="gather: can only collapse"):
    lax.gather(x, np.zeros((1, 1), np.int32), GDN((1,), (0,), (0,)), (2, 4))
  with pytest.raises(TypeError, match="gather: start_index_map has 1 entries"):
    lax.gather(x, np.zeros((1, 2), np.int32), GDN((1,), (0,), (0,)), (1, 4))
  with pytest.raises(TypeError, match="scatter-add: updates shape"):
    lax.scatter_add(x, np.zeros((2, 1), np.int32), np.zeros((3, 4), np.float32),
                    SDN((1,), (0,), (0,)))
  with pytest.raises(TypeError, match="scatter: updates dtype"):
    lax.scatter(x, np.zeros((2, 1), np.int32), np.zeros((2, 4), np.int32), SDN((1,), (0,), (0,)))


def test_jaxpr_param_names():
  assert slicing.gather_p.name == "gather" and slicing.scatter_add_p.name == "scatter-add"
  assert lax.GatherScatterMode.from_any(None) == lax.GatherScatterMode.FILL_OR_DROP
  assert hash(GDN((1,), (0,), (0,))) == hash(GDN((1,), (0,), (0,), (), ()))
  assert jnp.asarray(1).dtype == np.int32


def test_large_parallel_paths():
  rng = np.random.default_rng(0)
  x = rng.standard_normal(1000).astype(np.float32)
  idx = rng.integers(-5, 1005, size=(70000, 1)).astype(np.int32)
  out = lax.gather(x, idx, GDN((), (0,), (0,)), (1,), mode="clip")
  assert_close(out, x[np.clip(idx[:, 0], 0, 999)], np.float32)
  acc = lax.scatter_add(np.zeros(1000, np.float32), idx, np.ones(70000, np.float32),
                        SDN((), (0,), (0,)))
  ok = idx[(idx[:, 0] >= 0) & (idx[:, 0] < 1000), 0]
  assert_close(acc, np.bincount(ok, minlength=1000).astype(np.float32), np.float32)
  big = np.arange(3 * 40000, dtype=np.int32).reshape(40000, 3)
  assert_close(lax.concatenate([big, big[:, :1]], 1), np.concatenate([big, big[:, :1]], 1),
               np.int32)
  assert_close(lax.pad(big, np.int32(-1), [(1, -2, 0), (0, 1, 1)]),
               _pad_np(big, -1, [(1, -2, 0), (0, 1, 1)]), np.int32)


def _pad_np(x, v, cfg):
  from rjax._src.lax import shapes
  return ref(shapes.pad_p, x, np.asarray(v, x.dtype), padding_config=tuple(cfg))
