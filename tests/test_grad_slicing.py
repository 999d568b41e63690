"""Derivative and batching rules of the slicing primitives (slice,
dynamic_slice, dynamic_update_slice, gather, scatter, scatter-add/mul/min/max):
numerical gradient checks in float64 to order 2 (forward and reverse), JAX's
values where the semantics are a convention (duplicate indices, ties), and vmap
against a Python loop over shapes, in_axes (None and negative too) and out_axes,
with batched operands, indices and updates."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.test_util import check_grads
from util import check_vmap, enable_x64

GDN = lax.GatherDimensionNumbers
SDN = lax.ScatterDimensionNumbers


def _rand(seed, shape):
  return np.random.default_rng(seed).standard_normal(shape)


def _grads(f, *args):
  with enable_x64():
    check_grads(f, [jnp.asarray(a) for a in args], order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------------------
# Gather configurations shared by the gather and scatter tests: (operand shape,
# indices shape, dimension numbers, slice sizes). Each scatter uses the
# transposed numbers, with updates shaped like the gather's output.

GATHERS = {
    # rows of a matrix (x[idx])
    "rows": ((5, 3), (4, 1), GDN(offset_dims=(1,), collapsed_slice_dims=(0,),
                                 start_index_map=(0,)), (1, 3)),
    # two indexed dims, windows interleaved with two batch dims of indices
    "interleaved": ((4, 5, 3), (2, 3, 2), GDN(offset_dims=(1, 3), collapsed_slice_dims=(0,),
                                              start_index_map=(0, 2)), (1, 2, 2)),
    # an operand/indices batching dim pair already there
    "batching": ((3, 5, 4), (3, 2, 1), GDN(offset_dims=(2,), collapsed_slice_dims=(1,),
                                           start_index_map=(1,), operand_batching_dims=(0,),
                                           start_indices_batching_dims=(0,)), (1, 1, 4)),
    # the batching pair not first, and an indices batch dim before it
    "batching_inner": ((5, 3), (2, 3, 1), GDN(offset_dims=(), collapsed_slice_dims=(0,),
                                              start_index_map=(0,), operand_batching_dims=(1,),
                                              start_indices_batching_dims=(1,)), (1, 1)),
    # elements of a vector, 2-d indices
    "elements": ((6,), (2, 2, 1), GDN(offset_dims=(), collapsed_slice_dims=(0,),
                                      start_index_map=(0,)), (1,)),
    # one index vector, no batch dims (a dynamic slice)
    "window": ((5, 4), (1,), GDN(offset_dims=(0, 1), collapsed_slice_dims=(),
                                 start_index_map=(0,)), (2, 4)),
}


def _gather_out_shape(cfg):
  oshape, ishape, dn, sizes = cfg
  batch = list(ishape[:-1])
  wdims = [d for d in range(len(oshape))
           if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
  w = iter(sizes[d] for d in wdims)
  b = iter(batch)
  return tuple(next(w) if d in dn.offset_dims else next(b)
               for d in range(len(batch) + len(wdims)))


def _indices(rng, cfg, unique=False):
  """Start indices for ``cfg`` (some out of bounds: clamped or dropped)."""
  oshape, ishape, dn, sizes = cfg
  hi = [oshape[d] - sizes[d] + 1 for d in dn.start_index_map]
  if unique:  # distinct in-bounds starts of one-element windows, no batching dims
    assert all(sizes[d] == 1 for d in dn.start_index_map) and not dn.operand_batching_dims
    space = [oshape[d] for d in dn.start_index_map]
    pick = rng.choice(int(np.prod(space)), int(np.prod(ishape[:-1])), replace=False)
    return np.stack(np.unravel_index(pick, space), -1).reshape(ishape).astype(np.int32)
  return rng.integers(-1, np.array(hi) + 1, size=ishape).astype(np.int32)


def _scatter_dn(dn):
  return SDN(update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
             scatter_dims_to_operand_dims=dn.start_index_map,
             operand_batching_dims=dn.operand_batching_dims,
             scatter_indices_batching_dims=dn.start_indices_batching_dims)


# ---------------------------------------------------------------------------
# Gradients: slice, dynamic_slice, dynamic_update_slice


@pytest.mark.parametrize("start,limit,strides", [
    ((0, 1), (4, 3), None), ((1, 0), (5, 4), (2, 3)), ((0, 0), (5, 4), (3, 1)),
    ((2, 1), (2, 4), (1, 2))])
def test_slice_grads(start, limit, strides):
  x = _rand(0, (5, 4))
  _grads(lambda x: jnp.sin(lax.slice(x, start, limit, strides)) * lax.slice(x, start, limit,
                                                                             strides), x)


def test_slice_grads_numpy_indexing():
  x = _rand(1, (6, 5))
  _grads(lambda x: jnp.tanh(x[1:5:2, ::-2]) ** 2, x)
  _grads(lambda x: lax.slice_in_dim(x, 1, None, 2, axis=1) * x[:, 3::-2], x)


def test_slice_transpose_pads_with_zeros():
  x = jnp.asarray(np.arange(12.0).reshape(3, 4))
  g = rjax.grad(lambda x: jnp.sum(lax.slice(x, (0, 1), (3, 4), (2, 2)) * 10.0))(x)
  want = np.zeros((3, 4))
  want[::2, 1::2] = 10.0
  np.testing.assert_array_equal(np.asarray(g), want)
  assert g.dtype == np.float32


@pytest.mark.parametrize("starts", [(1, 2), (0, 0), (-3, 9), (4, 1)])  # the last two clamp
def test_dynamic_slice_grads(starts):
  x = _rand(2, (5, 4))
  idx = [np.int32(s) for s in starts]
  _grads(lambda x: jnp.sin(lax.dynamic_slice(x, idx, (2, 3))) * x[:2, :3], x)


def test_dynamic_slice_grad_values_and_index_in_dim():
  x = jnp.asarray(np.arange(6.0))
  g = rjax.grad(lambda x: jnp.sum(lax.dynamic_slice(x, (np.int32(7),), (2,)) * 3.0))(x)
  np.testing.assert_array_equal(np.asarray(g), [0, 0, 0, 0, 3.0, 3.0])  # clamped to start 4
  _grads(lambda x: lax.dynamic_index_in_dim(x, np.int32(2), 1, keepdims=False) ** 3,
         _rand(3, (3, 4)))


@pytest.mark.parametrize("starts", [(1, 1), (-1, 3), (2, 0)])
def test_dynamic_update_slice_grads(starts):
  x, u = _rand(4, (4, 5)), _rand(5, (2, 3))
  idx = [np.int32(s) for s in starts]
  _grads(lambda x, u: jnp.sin(lax.dynamic_update_slice(x * x, jnp.tanh(u), idx)), x, u)
  _grads(lambda x: lax.dynamic_update_slice(x, x[1:3, :3] ** 2, idx) * x, x)


def test_dynamic_update_slice_transpose_values():
  x, u = jnp.asarray(np.ones((4,))), jnp.asarray(np.ones((2,)))
  w = np.array([1.0, 2.0, 3.0, 4.0])
  gx, gu = rjax.grad(lambda x, u: jnp.sum(lax.dynamic_update_slice(x, u, (np.int32(1),)) * w),
                     (0, 1))(x, u)
  np.testing.assert_array_equal(np.asarray(gx), [1.0, 0, 0, 4.0])
  np.testing.assert_array_equal(np.asarray(gu), [2.0, 3.0])


def test_start_indices_are_not_differentiable():
  x = jnp.asarray(np.arange(5.0))
  # an index computed from a differentiated value has no derivative (a zero one)
  f = lambda s: jnp.sum(lax.dynamic_slice(x, (lax.convert_element_type(s, np.int32),), (2,)))
  assert float(rjax.grad(f)(2.0)) == 0.0


# ---------------------------------------------------------------------------
# Gradients: gather


@pytest.mark.parametrize("name", list(GATHERS))
@pytest.mark.parametrize("mode", ["clip", "fill"])
def test_gather_grads(name, mode):
  cfg = GATHERS[name]
  oshape, ishape, dn, sizes = cfg
  rng = np.random.default_rng(6)
  x = rng.standard_normal(oshape)
  i = _indices(rng, cfg)
  g = lambda x: lax.gather(x, i, dn, sizes, mode=mode, fill_value=0.5 if mode == "fill" else None)
  _grads(lambda x: jnp.sin(g(x)) * g(x * x), x)


def test_gather_fill_tangents_are_zero():
  x = jnp.asarray(np.arange(4.0))
  i = np.array([[1], [9]], np.int32)
  dn = GDN(offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,))
  out, t = rjax.jvp(lambda x: lax.gather(x, i, dn, (1,), mode="fill", fill_value=7.0), (x,),
                    (jnp.ones(4),))
  np.testing.assert_array_equal(np.asarray(out), [1.0, 7.0])
  np.testing.assert_array_equal(np.asarray(t), [1.0, 0.0])


def test_numpy_indexing_grads():
  x = _rand(7, (5, 4, 3))
  idx = np.array([0, 2, 2, 4])
  _grads(lambda x: jnp.sum(x[idx] ** 2), x)
  _grads(lambda x: jnp.sin(x[idx, :, np.array([1, 0, 2, 2])]), x)
  _grads(lambda x: x[np.array([[1, -1], [3, 0]]), 1:3] * x[0, 0, 0], x)
  _grads(lambda x: x.at[idx].get(mode="fill", fill_value=0.0) ** 2, x)
  with enable_x64():
    g = rjax.grad(lambda x: jnp.sum(x[idx] ** 2))(jnp.asarray(x))
  want = np.zeros_like(x)
  np.add.at(want, idx, 2 * x[idx])
  np.testing.assert_allclose(np.asarray(g), want, rtol=1e-12)


def test_grad_dtypes_float32():
  x = jnp.asarray(np.arange(6, dtype=np.float32))
  idx = np.array([1, 1, 3])
  for f in (lambda x: jnp.sum(x[idx]), lambda x: jnp.sum(x.at[idx].set(2.0) * x),
            lambda x: jnp.sum(lax.dynamic_slice(x, (np.int32(1),), (3,)))):
    g = rjax.grad(f)(x)
    assert g.dtype == np.float32 and g.shape == (6,)
  _, t = rjax.jvp(lambda x: x[idx], (x,), (jnp.ones(6, np.float32),))
  assert t.dtype == np.float32 and not t.weak_type


# ---------------------------------------------------------------------------
# Gradients: the scatters


@pytest.mark.parametrize("name", [n for n in GATHERS])
@pytest.mark.parametrize("mode", ["clip", "drop"])
def test_scatter_add_grads(name, mode):
  oshape, ishape, dn, sizes = cfg = GATHERS[name]
  rng = np.random.default_rng(8)
  x, u = rng.standard_normal(oshape), rng.standard_normal(_gather_out_shape(cfg))
  i = _indices(rng, cfg)
  sdn = _scatter_dn(dn)
  _grads(lambda x, u: jnp.sin(lax.scatter_add(x * x, i, jnp.tanh(u), sdn, mode=mode)), x, u)


@pytest.mark.parametrize("name", ["rows", "elements", "interleaved"])
def test_scatter_unique_grads(name):
  oshape, ishape, dn, sizes = cfg = GATHERS[name]
  rng = np.random.default_rng(9)
  if name == "interleaved":  # one-element windows so that they cannot overlap
    sizes = (1, 1, 1)
    dn = GDN(offset_dims=(), collapsed_slice_dims=(0, 1, 2), start_index_map=(0, 1, 2))
    cfg = (oshape, (2, 3, 3), dn, sizes)
    ishape = cfg[1]
  x, u = rng.standard_normal(oshape), rng.standard_normal(_gather_out_shape(cfg))
  i = _indices(rng, cfg, unique=True)
  sdn = _scatter_dn(dn)
  for unique in (True, False):
    _grads(lambda x, u: jnp.sin(lax.scatter(x * x, i, u * u, sdn, unique_indices=unique,
                                            mode="clip")), x, u)


@pytest.mark.parametrize("name", ["rows", "batching", "window", "interleaved"])
def test_scatter_grads_overlapping(name):
  # Overlapping windows (and clamped out-of-bounds starts): one update wins
  # each place; the function is smooth in the values around the test point.
  oshape, ishape, dn, sizes = cfg = GATHERS[name]
  rng = np.random.default_rng(10)
  x, u = rng.standard_normal(oshape), rng.standard_normal(_gather_out_shape(cfg))
  i = _indices(rng, cfg)
  sdn = _scatter_dn(dn)
  _grads(lambda x, u: jnp.cos(lax.scatter(x, i, u * u, sdn, mode="clip")) * x, x, u)


@pytest.mark.parametrize("name", ["rows", "batching", "elements"])
def test_scatter_mul_grads(name):
  oshape, ishape, dn, sizes = cfg = GATHERS[name]
  rng = np.random.default_rng(11)
  x, u = rng.standard_normal(oshape), rng.standard_normal(_gather_out_shape(cfg))
  i = _indices(rng, cfg)
  sdn = _scatter_dn(dn)
  # linear in the operand; any indices
  _grads(lambda x: jnp.sin(lax.scatter_mul(x * x, i, u, sdn, mode="clip")), x)
  if name != "batching":
    iu = _indices(rng, cfg, unique=True)
    _grads(lambda x, u: jnp.sin(lax.scatter_mul(x, iu, u * u, sdn, unique_indices=True)), x, u)


def test_scatter_mul_updates_grad_needs_unique_indices():
  x, u = jnp.ones(4), jnp.ones(2)
  i = np.array([[1], [2]], np.int32)
  dn = SDN(update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
  with pytest.raises(NotImplementedError, match="unique_indices=True"):
    rjax.grad(lambda u: jnp.sum(lax.scatter_mul(x, i, u, dn)))(u)
  with pytest.raises(NotImplementedError, match="unique_indices=True"):
    rjax.jvp(lambda u: lax.scatter_mul(x, i, u, dn), (u,), (u,))
  g = rjax.grad(lambda u: jnp.sum(lax.scatter_mul(x * 3.0, i, u, dn, unique_indices=True)))(u)
  np.testing.assert_array_equal(np.asarray(g), [3.0, 3.0])


@pytest.mark.parametrize("prim", [lax.scatter_min, lax.scatter_max])
@pytest.mark.parametrize("name", ["rows", "batching", "interleaved", "elements"])
def test_scatter_extremal_grads(prim, name):
  oshape, ishape, dn, sizes = cfg = GATHERS[name]
  rng = np.random.default_rng(12)
  x, u = rng.standard_normal(oshape), rng.standard_normal(_gather_out_shape(cfg))
  i = _indices(rng, cfg)
  sdn = _scatter_dn(dn)
  _grads(lambda x, u: jnp.sin(prim(x, i, u, sdn, mode="clip") * 2.0) * x, x, u)


# JAX 0.10.2 on the same inputs (system python3): x.at[idx].<op>(v) with the
# duplicate indices 0 and 2, the loss sum(w * out**2).
_X = np.array([1.0, -2.0, 3.0, 0.5, 4.0, -1.0])
_IDX = np.array([0, 2, 2, 4, 2, 0])
_V = np.array([5.0, 3.0, 7.0, 4.0, 7.0, 1.0])
_W = np.arange(1.0, 7.0)
JAX_AT = {
    "set": ([1.0, -2.0, 7.0, 0.5, 4.0, -1.0], [0, -8, 0, 4, 0, -12], [0, 0, 0, 40, 42, 2]),
    "add": ([7.0, -2.0, 20.0, 0.5, 8.0, -1.0], [14, -8, 120, 4, 80, -12],
            [14, 120, 120, 80, 120, 14]),
    "mul": ([5.0, -2.0, 441.0, 0.5, 16.0, -1.0], [50, -8, 388962, 4, 640, -12], None),
    "min": ([1.0, -2.0, 3.0, 0.5, 4.0, -1.0], [1, -8, 9, 4, 20, -12], [0, 9, 0, 20, 0, 1]),
    "max": ([5.0, -2.0, 7.0, 0.5, 4.0, -1.0], [0, -8, 0, 4, 20, -12], [10, 0, 21, 20, 21, 0]),
}


@pytest.mark.parametrize("op", list(JAX_AT))
def test_at_updates_match_jax_with_duplicates(op):
  val, gx, gv = JAX_AT[op]
  with enable_x64():
    x, v = jnp.asarray(_X), jnp.asarray(_V)
    f = lambda x, v: jnp.sum(_W * getattr(x.at[_IDX], op)(v) ** 2)
    np.testing.assert_array_equal(np.asarray(getattr(x.at[_IDX], op)(v)), val)
    np.testing.assert_allclose(np.asarray(rjax.grad(f)(x, v)), gx, rtol=1e-12)
    if gv is None:
      with pytest.raises(NotImplementedError, match="unique_indices=True"):
        rjax.grad(f, 1)(x, v)
    else:
      np.testing.assert_allclose(np.asarray(rjax.grad(f, 1)(x, v)), gv, rtol=1e-12)


def test_scatter_set_jvp_matches_jax_with_duplicates():
  with enable_x64():
    out, t = rjax.jvp(lambda x, v: x.at[_IDX].set(v), (jnp.asarray(_X), jnp.asarray(_V)),
                      (jnp.arange(6.0), 10 * jnp.arange(6.0)))
  np.testing.assert_array_equal(np.asarray(out), [1.0, -2.0, 7.0, 0.5, 4.0, -1.0])
  np.testing.assert_array_equal(np.asarray(t), [50.0, 1.0, 40.0, 3.0, 30.0, 5.0])


@pytest.mark.parametrize("op", ["min", "max"])
def test_scatter_extremal_ties_match_jax(op):
  # the operand's 7 ties with two updates: each gets a third of the tangent
  x, i, v = np.array([7.0, 1.0, 2.0]), np.array([0, 0, 1]), np.array([7.0, 7.0, 1.0])
  with enable_x64():
    f = lambda x, v: getattr(x.at[i], op)(v)
    gx, gv = rjax.grad(lambda x, v: jnp.sum(np.array([1.0, 2, 3]) * f(x, v)), (0, 1))(
        jnp.asarray(x), jnp.asarray(v))
    _, t = rjax.jvp(f, (jnp.asarray(x), jnp.asarray(v)),
                    (jnp.asarray([1.0, 2, 3]), jnp.asarray([10.0, 20, 30])))
  np.testing.assert_allclose(np.asarray(gx), [1 / 3, 1.0, 3.0], rtol=1e-12)
  np.testing.assert_allclose(np.asarray(gv), [1 / 3, 1 / 3, 1.0], rtol=1e-12)
  np.testing.assert_allclose(np.asarray(t), [31 / 3, 16.0, 3.0], rtol=1e-12)


def test_scatter_extremal_clip_out_of_bounds():
  # Both updates clamp to the last place, where one of them wins. (JAX 0.10.2 gives nan
  # there: its JVP reads the places back with a filling gather whatever the
  # scatter's mode; ours reads them back with the scatter's mode.)
  dn = SDN(update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
  i = np.array([[5], [5]], np.int32)
  for prim, last, want in ((lax.scatter_max, 3.0, 20.0), (lax.scatter_min, 9.0, 10.0)):
    f = lambda x, u: prim(x, i, u, dn, mode="clip")
    _, t = rjax.jvp(f, (jnp.asarray([1.0, 2, last]), jnp.asarray([7.0, 8.0])),
                    (jnp.ones(3), jnp.asarray([10.0, 20.0])))
    np.testing.assert_array_equal(np.asarray(t), [1.0, 1.0, want])


def test_at_update_grads_numerically():
  x, v = _rand(13, (5, 3)), _rand(14, (4, 3))
  idx = np.array([4, 0, 2, -1])
  _grads(lambda x, v: jnp.sin(x.at[idx].add(v * v)), x, v)
  _grads(lambda x, v: jnp.sin(x.at[idx].set(v * v)), x, v)
  _grads(lambda x: jnp.sin(x.at[np.array([1, 3]), 1:].mul(3.0)) * x, x)
  _grads(lambda x, v: jnp.sin(x.at[idx].max(v)), x, v)
  _grads(lambda x, v: jnp.sin(x.at[idx].min(v)), x, v)


# ---------------------------------------------------------------------------
# Batching. ``_batch`` draws an array of ``shape`` with a batch dim of size n
# inserted at ``axis`` (None: unbatched).


def _axis_for(nd):
  """in_axes for a value of unbatched rank ``nd``: None, or any position,
  negative ones included."""
  return st.one_of(st.none(), st.integers(-(nd + 1), nd))


def _batch(rng, shape, axis, n, dtype=np.float32, ints=None):
  shp = list(shape)
  if axis is not None:
    shp.insert(axis % (len(shape) + 1), n)
  if ints is not None:
    return rng.integers(ints[0], ints[1] + 1, size=shp).astype(np.int32)
  return rng.standard_normal(shp).astype(dtype)


def _some_batched(axes):
  return any(a is not None for a in axes)


@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3), n=st.integers(1, 3),
       data=st.data())
def test_slice_vmap(shape, n, data):
  rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
  start, limit, strides = [], [], []
  for m in shape:
    s = data.draw(st.integers(0, m))
    start.append(s), limit.append(data.draw(st.integers(s, m)))
    strides.append(data.draw(st.integers(1, 3)))
  ax = data.draw(st.integers(-len(shape) - 1, len(shape)))
  oax = data.draw(st.integers(-len(shape) - 1, len(shape)))
  x = _batch(rng, shape, ax, n)
  check_vmap(lambda x: lax.slice(x, start, limit, strides), [x], ax, oax)


@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), n=st.integers(1, 3),
       data=st.data())
def test_dynamic_slice_vmap(shape, n, data):
  rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
  r = len(shape)
  sizes = [data.draw(st.integers(0, m)) for m in shape]
  axes = [data.draw(_axis_for(r))] + [data.draw(st.one_of(st.none(), st.sampled_from([0, -1])))
                                      for _ in shape]
  if not _some_batched(axes):
    axes[0] = 0
  x = _batch(rng, shape, axes[0], n)
  idx = [_batch(rng, (), a, n, ints=(-2, m + 1)) for a, m in zip(axes[1:], shape)]
  oax = data.draw(st.integers(-r - 1, r))
  check_vmap(lambda x, *i: lax.dynamic_slice(x, i, sizes), [x, *idx], tuple(axes), oax)


@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), n=st.integers(1, 3),
       data=st.data())
def test_dynamic_update_slice_vmap(shape, n, data):
  rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
  r = len(shape)
  ushape = [data.draw(st.integers(0, m)) for m in shape]
  axes = [data.draw(_axis_for(r)), data.draw(_axis_for(r))] + [
      data.draw(st.one_of(st.none(), st.sampled_from([0, -1]))) for _ in shape]
  if not _some_batched(axes):
    axes[1] = -1
  x, u = _batch(rng, shape, axes[0], n), _batch(rng, ushape, axes[1], n)
  idx = [_batch(rng, (), a, n, ints=(-2, m + 1)) for a, m in zip(axes[2:], shape)]
  oax = data.draw(st.integers(-r - 1, r))
  check_vmap(lambda x, u, *i: lax.dynamic_update_slice(x, u, i), [x, u, *idx], tuple(axes), oax)


@pytest.mark.parametrize("name", list(GATHERS))
@given(n=st.integers(1, 3), mode=st.sampled_from(["clip", "fill"]), data=st.data())
def test_gather_vmap(name, n, mode, data):
  _check_gather_vmap(GATHERS[name], n, mode, data)


def _check_gather_vmap(cfg, n, mode, data):
  oshape, ishape, dn, sizes = cfg
  rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
  ax = data.draw(_axis_for(len(oshape)))
  iax = data.draw(_axis_for(len(ishape)))
  if not _some_batched([ax, iax]):
    iax = -1
  x = _batch(rng, oshape, ax, n)
  i = np.stack([_indices(rng, cfg) for _ in range(n)], iax % (len(ishape) + 1)) \
      if iax is not None else _indices(rng, cfg)
  out_nd = len(_gather_out_shape(cfg))
  oax = data.draw(st.integers(-out_nd - 1, out_nd))
  f = lambda x, i: lax.gather(x, i, dn, sizes, mode=mode, fill_value=-5.0 if mode == "fill"
                              else None)
  check_vmap(f, [x, i], (ax, iax), oax)


@st.composite
def gather_configs(draw):
  """Random gather dimension numbers: some operand dims collapsed, some window
  dims indexed too, offset dims anywhere in the output."""
  r = draw(st.integers(1, 3))
  oshape = tuple(draw(st.integers(1, 4)) for _ in range(r))
  collapsed = tuple(d for d in range(r) if draw(st.booleans()))
  indexed = [d for d in range(r) if d in collapsed or draw(st.booleans())]
  start_index_map = tuple(draw(st.permutations(indexed)))
  sizes = tuple(1 if d in collapsed else draw(st.integers(0, oshape[d])) for d in range(r))
  batch = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
  nw = r - len(collapsed)
  offset_dims = tuple(sorted(draw(st.permutations(range(len(batch) + nw)))[:nw]))
  dn = GDN(offset_dims=offset_dims, collapsed_slice_dims=collapsed,
           start_index_map=start_index_map)
  return oshape, batch + (len(start_index_map),), dn, sizes


@given(cfg=gather_configs(), n=st.integers(1, 3), mode=st.sampled_from(["clip", "fill"]),
       data=st.data())
def test_gather_vmap_random_dimension_numbers(cfg, n, mode, data):
  _check_gather_vmap(cfg, n, mode, data)


SCATTERS = {"scatter": lax.scatter, "scatter_add": lax.scatter_add, "scatter_mul": lax.scatter_mul,
            "scatter_min": lax.scatter_min, "scatter_max": lax.scatter_max}


@pytest.mark.parametrize("op", list(SCATTERS))
@pytest.mark.parametrize("name", list(GATHERS))
@given(n=st.integers(1, 3), mode=st.sampled_from(["clip", "drop"]), data=st.data())
def test_scatter_vmap(op, name, n, mode, data):
  _check_scatter_vmap(op, GATHERS[name], n, mode, data)


def _check_scatter_vmap(op, cfg, n, mode, data):
  oshape, ishape, dn, sizes = cfg
  ushape = _gather_out_shape(cfg)
  rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
  axes = (data.draw(_axis_for(len(oshape))), data.draw(_axis_for(len(ishape))),
          data.draw(_axis_for(len(ushape))))
  if not _some_batched(axes):
    axes = (None, None, 0)
  x, u = _batch(rng, oshape, axes[0], n), _batch(rng, ushape, axes[2], n)
  iax = axes[1]
  i = np.stack([_indices(rng, cfg) for _ in range(n)], iax % (len(ishape) + 1)) \
      if iax is not None else _indices(rng, cfg)
  oax = data.draw(st.integers(-len(oshape) - 1, len(oshape)))
  f = lambda x, i, u: SCATTERS[op](x, i, u, _scatter_dn(dn), mode=mode)
  check_vmap(f, [x, i, u], axes, oax)


@pytest.mark.parametrize("op", list(SCATTERS))
@given(cfg=gather_configs(), n=st.integers(1, 3), mode=st.sampled_from(["clip", "drop"]),
       data=st.data())
def test_scatter_vmap_random_dimension_numbers(op, cfg, n, mode, data):
  _check_scatter_vmap(op, cfg, n, mode, data)


def test_scatter_vmap_int_operand():
  x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
  i = np.array([[[0], [2]], [[1], [1]]], np.int32)
  u = np.ones((2, 2, 4), np.int32) * 5
  dn = SDN(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
  for op in SCATTERS.values():
    check_vmap(lambda x, i, u: op(x, i, u, dn), [x, i, u], (0, 0, 0), 1)


# vmap of NumPy indexing expressions


@given(n=st.integers(1, 3), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       data=st.data())
def test_vmap_numpy_indexing(n, shape, data):
  rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
  r = len(shape)
  ax = data.draw(st.integers(-r - 1, r))
  x = _batch(rng, shape, ax, n)
  # a traced scalar index, batched or not
  iax = data.draw(st.one_of(st.none(), st.just(0)))
  i = _batch(rng, (), iax, n, ints=(-shape[0], shape[0] - 1))
  check_vmap(lambda x, i: x[i], [x, i], (ax, iax), data.draw(st.integers(-r, r - 1)))
  check_vmap(lambda x: x[1:3], [x], ax, data.draw(st.integers(-r - 1, r)))
  idx = rng.integers(-shape[0], shape[0], size=(2, 3))
  check_vmap(lambda x: x[idx] * 2.0, [x], ax, 0)
  j = _batch(rng, (), 0, n, ints=(-1, shape[0]))
  check_vmap(lambda x, j: lax.dynamic_slice_in_dim(x, j, 1), [x, j], (ax, 0), -1)


def test_vmap_indexing_examples():
  x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
  i = np.array([3, 0, 1], np.int32)
  np.testing.assert_array_equal(
      np.asarray(rjax.vmap(lambda x, i: x[i])(jnp.asarray(x), jnp.asarray(i))), x[[0, 1, 2], i])
  np.testing.assert_array_equal(np.asarray(rjax.vmap(lambda x: x[1:3])(jnp.asarray(x))),
                                x[:, 1:3])
  got = rjax.vmap(lambda x, i: lax.dynamic_slice(x, (i,), (2,)))(jnp.asarray(x), jnp.asarray(i))
  np.testing.assert_array_equal(np.asarray(got), [[2, 3], [4, 5], [9, 10]])  # 3 clamps to 2
  got = rjax.vmap(lambda i: lax.dynamic_slice(jnp.asarray(x[0]), (i,), (2,)))(jnp.asarray(i))
  np.testing.assert_array_equal(np.asarray(got), [[2, 3], [0, 1], [1, 2]])


def test_vmap_at_updates():
  x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
  v = np.array([[10.0], [20.0], [30.0]], np.float32)
  idx = np.array([0, 2, 2])
  for op in ("set", "add", "mul", "min", "max"):
    check_vmap(lambda x, v: getattr(x.at[idx], op)(v), [x, v], (0, 0), 0)
    check_vmap(lambda x, v: getattr(x.at[idx], op)(v), [x.T, v[:, 0]], (1, None), -1)


# Batching moves no batch dim where the operation can absorb it.


def _eqn_names(jaxpr):
  return [e.primitive.name for e in jaxpr.jaxpr.eqns]


def test_batching_rules_need_no_transposes():
  x = jnp.zeros((4, 5, 3))  # batch dim 1
  idx = np.array([0, 3, 3, 1])
  cases = [
      (lambda x: x[idx], 1, x),
      (lambda x: x[1:3], 1, x),
      (lambda x: lax.dynamic_slice(x, (np.int32(1), np.int32(0)), (2, 2)), 2, x),
      (lambda x: x.at[idx].add(1.0), 1, x),
      (lambda x: lax.dynamic_update_slice(x, jnp.ones((2, 3)), (np.int32(1), np.int32(0))), 1, x),
  ]
  for f, ax, arg in cases:
    jaxpr = rjax.make_jaxpr(rjax.vmap(f, in_axes=ax, out_axes=ax))(arg)
    names = _eqn_names(jaxpr)
    assert "transpose" not in names, (names, str(jaxpr))
  # only the operand batched: dynamic_slice stays a dynamic_slice (no gather)
  names = _eqn_names(rjax.make_jaxpr(rjax.vmap(
      lambda x: lax.dynamic_slice(x, (np.int32(1), np.int32(0)), (2, 2)), in_axes=2,
      out_axes=2))(x))
  assert names == ["dynamic_slice"], names
  # batched indices and updates at their natural places
  xs, ii, us = jnp.zeros((5, 4, 3)), jnp.zeros((2, 3, 1), np.int32), jnp.zeros((2, 3, 4))
  dn = SDN(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
  f = lambda x, i, u: lax.scatter_add(x, i, u, dn)
  names = _eqn_names(rjax.make_jaxpr(rjax.vmap(f, in_axes=(2, 1, 1), out_axes=2))(xs, ii, us))
  assert names == ["scatter-add"], names


# Transformations composed with vmap


def test_vmap_of_grad_and_grad_of_vmap():
  rng = np.random.default_rng(15)
  xs = rng.standard_normal((3, 5, 2))
  idx = np.array([4, 0, 0, 2])
  f = lambda x: jnp.sum(jnp.sin(x[idx]) ** 2)
  with enable_x64():
    g = rjax.vmap(rjax.grad(f), in_axes=2, out_axes=2)(jnp.asarray(np.moveaxis(xs, 0, 2)))
    want = np.stack([np.asarray(rjax.grad(f)(jnp.asarray(x))) for x in xs], 2)
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-12)
    h = rjax.grad(lambda xs: jnp.sum(rjax.vmap(f)(xs)))(jnp.asarray(xs))
    np.testing.assert_allclose(np.asarray(h), np.moveaxis(want, 2, 0), rtol=1e-12)
    # batched indices under grad
    ii = np.array([[1], [4], [0]], np.int32)
    k = rjax.grad(lambda x: jnp.sum(rjax.vmap(
        lambda i: lax.dynamic_slice(x, (i, np.int32(0)), (2, 2)))(jnp.asarray(ii[:, 0])) ** 2))(
            jnp.asarray(xs[0]))
    want = np.zeros((5, 2))
    for s in (1, 3, 0):
      want[s:s + 2] += 2 * xs[0][s:s + 2]
    np.testing.assert_allclose(np.asarray(k), want, rtol=1e-12)
    # derivatives through batched scatters
    v = rng.standard_normal((3, 4, 2))
    gs = rjax.grad(lambda x, v: jnp.sum(jnp.sin(x.at[idx].set(v)) ** 2), (0, 1))
    got = rjax.vmap(gs)(jnp.asarray(xs), jnp.asarray(v))
    for b in range(3):
      for g, w in zip(got, gs(jnp.asarray(xs[b]), jnp.asarray(v[b]))):
        np.testing.assert_allclose(np.asarray(g)[b], np.asarray(w), rtol=1e-12)
    check_grads(lambda xs, v: rjax.vmap(lambda x, v: x.at[idx].max(v) * x)(xs, v),
                [jnp.asarray(xs), jnp.asarray(v)], order=2)
