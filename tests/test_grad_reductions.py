"""Derivative and batching rules of the reduction, cumulative and sorting
primitives (reductions.py): numerical gradient checks in float64 to order 2 in
both modes, JAX's conventions at ties and zeros (values from real JAX), vmap
against a Python loop for every primitive, and the jnp-level users."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.test_util import check_grads
from util import check_vmap, enable_x64


def _distinct(rng, shape, spacing=0.2):
  """Values at least ``spacing`` apart (no ties, none near a tie)."""
  n = int(np.prod(shape, dtype=np.int64))
  v = (rng.permutation(n) - n / 2) * spacing + rng.uniform(0, spacing / 4)
  return v.reshape(shape)


def _factors(rng, shape):
  """Values in ±[0.5, 1.5]: products stay of order one."""
  return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def _grads(f, *args):
  with enable_x64():
    check_grads(f, [jnp.asarray(a) for a in args], order=2, modes=("fwd", "rev"))


_shape = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


# ---------------------------------------------------------------------------
# Gradients, order 2, forward and reverse, float64


REDUCERS = {"reduce_sum": (lax.reduce_sum, _distinct), "reduce_prod": (lax.reduce_prod, _factors),
            "reduce_max": (lax.reduce_max, _distinct), "reduce_min": (lax.reduce_min, _distinct)}


@pytest.mark.parametrize("name", sorted(REDUCERS))
@given(shape=_shape, data=st.data(), seed=st.integers(0, 2**16))
def test_reduce_grads(name, shape, data, seed):
  fn, draw = REDUCERS[name]
  axes = tuple(data.draw(st.permutations(range(len(shape)))
                         .flatmap(lambda p: st.integers(0, len(p)).map(lambda k: p[:k]))))
  x = draw(np.random.default_rng(seed), shape)
  _grads(lambda x: fn(x, axes), x)


CUMULATIVE = {"cumsum": (lax.cumsum, _distinct), "cumprod": (lax.cumprod, _factors),
              "cummax": (lax.cummax, _distinct), "cummin": (lax.cummin, _distinct),
              "cumlogsumexp": (lax.cumlogsumexp, _distinct)}


@pytest.mark.parametrize("name", sorted(CUMULATIVE))
@given(shape=_shape, data=st.data(), reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_cumulative_grads(name, shape, data, reverse, seed):
  fn, draw = CUMULATIVE[name]
  axis = data.draw(st.integers(-len(shape), len(shape) - 1))
  x = draw(np.random.default_rng(seed), shape)
  _grads(lambda x: fn(x, axis, reverse), x)


def test_cumulative_grads_long_axis():
  # odd and even lengths through several levels of the prefix scan
  rng = np.random.default_rng(0)
  for n in (5, 8, 11):
    for rev in (False, True):
      _grads(lambda x: lax.cumprod(x, 0, rev), _factors(rng, (n,)))
      _grads(lambda x: lax.cummax(x, 0, rev), _distinct(rng, (n,)))
      _grads(lambda x: lax.cumlogsumexp(x, 0, rev), _distinct(rng, (n,)))


@given(shape=_shape, data=st.data(), seed=st.integers(0, 2**16))
def test_sort_grads(shape, data, seed):
  dim = data.draw(st.integers(-len(shape), len(shape) - 1))
  nops = data.draw(st.integers(1, 3))
  num_keys = data.draw(st.integers(1, nops))
  rng = np.random.default_rng(seed)
  ops = [_distinct(rng, shape) for _ in range(nops)]
  _grads(lambda *xs: lax.sort(xs, dimension=dim, num_keys=num_keys), *ops)
  _grads(lambda x: lax.sort(x, dimension=dim), ops[0])


@given(shape=_shape, data=st.data(), seed=st.integers(0, 2**16))
def test_top_k_grads(shape, data, seed):
  axis = data.draw(st.integers(-len(shape), len(shape) - 1))
  k = data.draw(st.integers(0, shape[axis]))
  x = _distinct(np.random.default_rng(seed), shape)
  _grads(lambda x: lax.top_k(x, k, axis=axis)[0], x)


def test_sort_int_keys_float_values():
  # the keys get no tangent; the values follow the keys' permutation
  keys = jnp.asarray(np.array([[3, 1, 2], [0, 2, 1]], np.int32))
  vals = np.arange(6.0).reshape(2, 3)
  with enable_x64():
    f = lambda v: lax.sort((keys, v), dimension=1, num_keys=1)[1]
    check_grads(f, [jnp.asarray(vals)], order=2)
    (_, t) = rjax.jvp(lambda v: lax.sort((keys, v), dimension=1), (jnp.asarray(vals),),
                      (jnp.asarray(np.ones((2, 3))),))
    assert t[0].dtype == rjax.dtypes.float0 and t[0].shape == (2, 3)   # as in JAX
    np.testing.assert_array_equal(np.asarray(lax.sort((keys, vals), dimension=1)[1]),
                                  [[1.0, 2.0, 0.0], [3.0, 5.0, 4.0]])


def test_tangent_dtypes_are_not_weak():
  with enable_x64():
    x = jnp.asarray(np.array([1.0, 3.0, 2.0]))
    for f in (lambda x: lax.reduce_max(x, (0,)), lambda x: lax.reduce_prod(x, (0,)),
              lambda x: lax.cumsum(x), lambda x: lax.cumprod(x), lambda x: lax.cummax(x),
              lambda x: lax.cumlogsumexp(x), lambda x: lax.sort(x),
              lambda x: lax.top_k(x, 2)[0]):
      out, t = rjax.jvp(f, (x,), (jnp.ones_like(x),))
      assert t.dtype == out.dtype == np.float64 and not t.aval.weak_type
    vals, idx = rjax.jvp(lambda x: lax.top_k(x, 2), (x,), (jnp.ones_like(x),))[1]
    assert idx.dtype == rjax.dtypes.float0 and idx.shape == (2,)   # as in JAX


# ---------------------------------------------------------------------------
# JAX's conventions: ties, zeros, infinities (expected values from JAX 0.10.2)

_TIES = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 0.5, 3.0])


def _weighted_grad(f, x):
  """grad of sum(f(x) * [1, 2, ...]) (so each output position counts differently)."""
  def h(x):
    y = f(x)
    return jnp.sum(y * jnp.arange(1.0, y.shape[0] + 1)) if y.ndim else y
  with enable_x64():
    return np.asarray(rjax.grad(h)(jnp.asarray(x)))


@pytest.mark.parametrize("f,expected", [
    (lambda x: lax.reduce_max(x, (0,)), [0, 0.25, 0.25, 0, 0.25, 0, 0.25]),
    (lambda x: lax.reduce_min(-x, (0,)), [0, -0.25, -0.25, 0, -0.25, 0, -0.25]),
    (jnp.max, [0, 0.25, 0.25, 0, 0.25, 0, 0.25]),
    (lambda x: lax.cummax(x), [1.0, 9.125, 7.125, 0.0, 7.25, 0.0, 3.5]),
    (lambda x: lax.cummax(x, reverse=True), [0.0, 0.75, 2.25, 0.0, 6.0, 0.0, 19.0]),
    (lambda x: lax.cummin(-x), [-1.0, -9.125, -7.125, 0.0, -7.25, 0.0, -3.5]),
    (lambda x: lax.cummin(-x, reverse=True), [0.0, -0.75, -2.25, 0.0, -6.0, 0.0, -19.0]),
    (lambda x: lax.sort(x), [2.0, 4.0, 5.0, 3.0, 6.0, 1.0, 7.0]),
    (lambda x: lax.top_k(x, 3)[0], [0.0, 1.0, 2.0, 0.0, 3.0, 0.0, 0.0]),
], ids=["reduce_max", "reduce_min", "jnp.max", "cummax", "cummax_rev", "cummin", "cummin_rev",
        "sort", "top_k"])
def test_ties_as_jax(f, expected):
  np.testing.assert_allclose(_weighted_grad(f, _TIES), expected, rtol=1e-15)


def test_reduce_max_ties_over_several_axes_as_jax():
  x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.5]])
  with enable_x64():
    g = rjax.grad(lambda x: lax.reduce_max(x, (0, 1)))(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(g), [[0, 0.5, 0.5], [0, 0, 0]])
    g = rjax.grad(lambda x: jnp.sum(lax.reduce_max(x, (1,)) * jnp.array([1.0, 2.0])))(
        jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(g), [[0, 0.5, 0.5], [1, 1, 0]])


def test_reduce_prod_with_a_zero_as_jax():
  z = np.array([2.0, 0.0, 3.0, 5.0])
  with enable_x64():
    f = lambda x: lax.reduce_prod(x, (0,))
    np.testing.assert_array_equal(np.asarray(rjax.grad(f)(jnp.asarray(z))), [0, 30, 0, 0])
    np.testing.assert_array_equal(np.asarray(rjax.hessian(f)(jnp.asarray(z))),
                                  [[0, 15, 0, 0], [15, 0, 10, 6], [0, 10, 0, 0], [0, 6, 0, 0]])
    z2 = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    np.testing.assert_array_equal(np.asarray(rjax.grad(f)(jnp.asarray(z2))), np.zeros(5))
    h = np.zeros((5, 5))
    h[1, 3] = h[3, 1] = 30
    np.testing.assert_array_equal(np.asarray(rjax.hessian(f)(jnp.asarray(z2))), h)
    # a zero inside a multi-axis reduction, and the numerical check at it
    x = _factors(np.random.default_rng(0), (3, 2, 4))
    x[1, 0, 2] = 0.0
    check_grads(lambda x: lax.reduce_prod(x, (2, 0)), [jnp.asarray(x)], order=2)
    g = np.asarray(rjax.grad(lambda x: jnp.sum(lax.reduce_prod(x, (2, 0))))(jnp.asarray(x)))
    others = np.prod(np.delete(x[:, 0, :].ravel(), 1 * 4 + 2))
    assert g[1, 0, 2] == pytest.approx(others, rel=1e-14) and others != 0
    np.testing.assert_array_equal(g[:, 0, :].ravel()[np.arange(12) != 6], 0.0)


def test_cumprod_with_a_zero_as_jax():
  z = np.array([2.0, 0.0, 3.0, 5.0])
  np.testing.assert_allclose(_weighted_grad(lambda x: lax.cumprod(x), z), [1, 142, 0, 0])
  np.testing.assert_allclose(_weighted_grad(lambda x: lax.cumprod(x, reverse=True), z),
                             [0, 60, 15, 13])
  _grads(lambda x: lax.cumprod(x, 0), z)


def test_cumlogsumexp_infinities_as_jax():
  np.testing.assert_allclose(
      _weighted_grad(lambda x: lax.cumlogsumexp(x), np.array([0.0, -np.inf, 1.0, 2.0])),
      [4.1669465567915065, 0.0, 3.1720896201092055, 2.6609638230992876], rtol=1e-14)
  np.testing.assert_allclose(
      _weighted_grad(lambda x: lax.cumlogsumexp(x), np.array([0.0, np.inf, 1.0, 2.0])),
      [10.0, 9.0, 19.02797279921332, 29.556224395722598], rtol=1e-14)


def test_median_grads_as_jax():
  with enable_x64():
    g = rjax.grad(jnp.median)(jnp.asarray(np.array([3.0, 1.0, 2.0, 5.0])))
    np.testing.assert_array_equal(np.asarray(g), [0.5, 0, 0.5, 0])
    g = rjax.grad(jnp.median)(jnp.asarray(np.array([3.0, 1.0, 3.0, 5.0, 3.0])))
    np.testing.assert_array_equal(np.asarray(g), [0, 0, 1, 0, 0])


def test_integer_and_bool_primitives_have_zero_tangents():
  x = jnp.asarray(np.array([[1.0, 3.0, 2.0], [0.0, -1.0, 4.0]]))
  f = lambda x: (lax.argmax(x, 1, np.int32), lax.argmin(x, 0, np.int16),
                 lax.reduce_or(x > 1.0, (1,)), lax.reduce_and(x > 0.0, (0,)),
                 lax.reduce_xor(lax.convert_element_type(x, np.int32), (0, 1)),
                 jnp.sum(x * lax.convert_element_type(lax.argmax(x, 0, np.int32), np.float32)))
  outs, ts = rjax.jvp(f, (x,), (jnp.ones_like(x),))
  for o, t in zip(outs[:5], ts[:5]):   # float0 tangents, as in JAX
    assert t.dtype == rjax.dtypes.float0 and t.shape == o.shape
  np.testing.assert_array_equal(np.asarray(outs[1]).dtype, np.int16)
  assert float(ts[5]) == 2.0  # the argmax weights [0, 0, 1] are constants
  g = rjax.grad(lambda x: jnp.sum(x * lax.convert_element_type(lax.argmax(x, 1, np.int32),
                                                               np.float32)[:, None]))(x)
  np.testing.assert_array_equal(np.asarray(g), [[1, 1, 1], [2, 2, 2]])


# ---------------------------------------------------------------------------
# vmap against a Python loop, for every primitive


def _draw_batched(data, rng, dtype, min_side=0, min_rank=1):
  """An example shape, a batch size, an in_axis (maybe negative) and the batched operand."""
  shape = data.draw(st.lists(st.integers(min_side, 4), min_size=min_rank, max_size=3).map(tuple),
                    label="shape")
  b = data.draw(st.integers(1, 3), label="batch")
  in_axis = data.draw(st.integers(-(len(shape) + 1), len(shape)), label="in_axis")
  bshape = list(shape)
  bshape.insert(in_axis % (len(shape) + 1), b)
  return shape, in_axis, _values(rng, bshape, dtype)


def _values(rng, shape, dtype):
  dtype = np.dtype(dtype)
  if dtype == np.bool_:
    return rng.random(shape) < 0.5
  if dtype.kind in "iu":
    return rng.integers(0 if dtype.kind == "u" else -3, 4, shape).astype(dtype)
  return rng.standard_normal(shape).astype(dtype)


def _out_axis(data, out_rank):
  return data.draw(st.integers(-(out_rank + 1), out_rank), label="out_axes")


def _vmap_maybe_with_unbatched(data, rng, f, x, in_axis, shape, out_axes):
  """vmap ``f`` of the batched ``x``; or of ``max(x, c)`` with an unbatched ``c``
  (in_axes None), in either argument order."""
  if not data.draw(st.booleans(), label="with_unbatched"):
    check_vmap(f, [x], in_axis, out_axes)
    return
  c = _values(rng, shape, x.dtype)
  if data.draw(st.booleans(), label="unbatched_first"):
    check_vmap(lambda c, x: f(lax.max(x, c)), [c, x], (None, in_axis), out_axes)
  else:
    check_vmap(lambda x, c: f(lax.max(x, c)), [x, c], (in_axis, None), out_axes)


VMAP_REDUCERS = [("reduce_sum", lax.reduce_sum, [np.float32, np.int32]),
                 ("reduce_prod", lax.reduce_prod, [np.float32, np.int32]),
                 ("reduce_max", lax.reduce_max, [np.float32, np.int32, np.bool_]),
                 ("reduce_min", lax.reduce_min, [np.float32, np.uint8, np.bool_]),
                 ("reduce_and", lax.reduce_and, [np.int32, np.bool_]),
                 ("reduce_or", lax.reduce_or, [np.uint8, np.bool_]),
                 ("reduce_xor", lax.reduce_xor, [np.int16, np.bool_])]


@pytest.mark.parametrize("name,fn,dts", VMAP_REDUCERS, ids=[r[0] for r in VMAP_REDUCERS])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_reduce_vmap(name, fn, dts, data, seed):
  rng = np.random.default_rng(seed)
  dtype = data.draw(st.sampled_from(dts), label="dtype")
  shape, in_axis, x = _draw_batched(data, rng, dtype)
  axes = tuple(data.draw(st.permutations(range(len(shape)))
                         .flatmap(lambda p: st.integers(0, len(p)).map(lambda k: p[:k])),
                         label="axes"))
  out_axes = _out_axis(data, len(shape) - len(axes))
  _vmap_maybe_with_unbatched(data, rng, lambda x: fn(x, axes), x, in_axis, shape, out_axes)


@pytest.mark.parametrize("fn", [lax.argmax, lax.argmin], ids=["argmax", "argmin"])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_argminmax_vmap(fn, data, seed):
  rng = np.random.default_rng(seed)
  dtype = data.draw(st.sampled_from([np.float32, np.int32, np.uint8]), label="dtype")
  index_dtype = data.draw(st.sampled_from([np.int32, np.int16, np.uint8]), label="index_dtype")
  shape, in_axis, x = _draw_batched(data, rng, dtype, min_side=1)
  axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
  out_axes = _out_axis(data, len(shape) - 1)
  got = check_vmap(lambda x: fn(x, axis, index_dtype), [x], in_axis, out_axes)
  assert got.dtype == np.dtype(index_dtype)
  _vmap_maybe_with_unbatched(data, rng, lambda x: fn(x, axis, index_dtype), x, in_axis, shape,
                             out_axes)


VMAP_CUMULATIVE = [("cumsum", lax.cumsum, [np.float32, np.int32]),
                   ("cumprod", lax.cumprod, [np.float32, np.int32]),
                   ("cummax", lax.cummax, [np.float32, np.int32]),
                   ("cummin", lax.cummin, [np.float32, np.uint8]),
                   ("cumlogsumexp", lax.cumlogsumexp, [np.float32])]


@pytest.mark.parametrize("name,fn,dts", VMAP_CUMULATIVE, ids=[r[0] for r in VMAP_CUMULATIVE])
@given(data=st.data(), reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_cumulative_vmap(name, fn, dts, data, reverse, seed):
  rng = np.random.default_rng(seed)
  dtype = data.draw(st.sampled_from(dts), label="dtype")
  shape, in_axis, x = _draw_batched(data, rng, dtype)
  axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
  out_axes = _out_axis(data, len(shape))
  _vmap_maybe_with_unbatched(data, rng, lambda x: fn(x, axis, reverse), x, in_axis, shape,
                             out_axes)


@given(data=st.data(), seed=st.integers(0, 2**16))
def test_sort_vmap(data, seed):
  rng = np.random.default_rng(seed)
  shape = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple), label="shape")
  nops = data.draw(st.integers(1, 3), label="nops")
  num_keys = data.draw(st.integers(1, nops), label="num_keys")
  dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dimension")
  b = data.draw(st.integers(1, 3), label="batch")
  axes = data.draw(st.lists(st.one_of(st.none(), st.integers(-(len(shape) + 1), len(shape))),
                            min_size=nops, max_size=nops)
                   .filter(lambda a: any(x is not None for x in a)), label="in_axes")
  ops = []
  for ax in axes:
    dt = data.draw(st.sampled_from([np.float32, np.int32]), label="dtype")
    s = list(shape)
    if ax is not None:
      s.insert(ax % (len(shape) + 1), b)
    ops.append(_values(rng, s, dt))  # small ints: ties, resolved by the later keys/stability
  out_axes = tuple(_out_axis(data, len(shape)) for _ in range(nops))
  check_vmap(lambda *xs: lax.sort(xs, dimension=dim, num_keys=num_keys), ops, tuple(axes),
             out_axes)
  if nops == 1:
    check_vmap(lambda x: lax.sort(x, dimension=dim), [ops[0]], axes[0], out_axes[0])


@given(data=st.data(), seed=st.integers(0, 2**16))
def test_top_k_vmap(data, seed):
  rng = np.random.default_rng(seed)
  dtype = data.draw(st.sampled_from([np.float32, np.int32]), label="dtype")
  shape, in_axis, x = _draw_batched(data, rng, dtype)
  axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
  k = data.draw(st.integers(0, shape[axis]), label="k")
  out_axes = data.draw(st.one_of(st.integers(-(len(shape) + 1), len(shape)),
                                 st.tuples(*[st.integers(-(len(shape) + 1), len(shape))] * 2)),
                       label="out_axes")
  _vmap_maybe_with_unbatched(data, rng, lambda x: lax.top_k(x, k, axis=axis), x, in_axis, shape,
                             out_axes)


@pytest.mark.parametrize("f,in_axes,out_axes", [
    (lambda x: lax.reduce_sum(x, (0,)), 1, 0),
    (lambda x: lax.reduce_max(x, (1,)), 1, 1),
    (lambda x: lax.reduce_prod(x, (0, 1)), 2, 0),
    (lambda x: lax.argmax(x, 1, np.int32), 1, 1),
    (lambda x: lax.reduce_or(x > 0, (0,)), 2, 1),
    (lambda x: lax.cumsum(x, 0), 1, 1),
    (lambda x: lax.cumsum(x, -1, reverse=True), 0, 0),
    (lambda x: lax.cumlogsumexp(x, 1), 2, 2),
    (lambda x: lax.sort(x, 1), 1, 1),
    (lambda x: lax.top_k(x, 2, axis=0), 1, 1),
], ids=["reduce_sum", "reduce_max", "reduce_prod", "argmax", "reduce_or", "cumsum",
        "cumsum_rev", "cumlogsumexp", "sort", "top_k"])
def test_vmap_moves_no_data(f, in_axes, out_axes):
  # batched at a middle or last axis: the rules shift the axis params instead of
  # moving the batch dim to the front
  x = jnp.asarray(np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32))
  g = rjax.vmap(f, in_axes=in_axes, out_axes=out_axes)
  text = str(rjax.make_jaxpr(g)(x))
  assert "transpose" not in text, text
  check_vmap(f, [np.asarray(x)], in_axes, out_axes)


def test_grad_of_vmap_and_vmap_of_grad():
  rng = np.random.default_rng(0)
  xs = _distinct(rng, (3, 4, 5), spacing=0.03)
  w = rng.standard_normal((4, 5))
  f = lambda x, w: jnp.sum(lax.cumprod(x, 1) * w) + jnp.sum(lax.top_k(x, 2)[0]) + \
      jnp.sum(lax.sort(x, 0) * w) + jnp.sum(lax.reduce_max(x, (1,))) + \
      jnp.sum(lax.cumlogsumexp(x, 0, reverse=True) * w) + jnp.sum(lax.cummin(x, 1) * w) + \
      jnp.sum(lax.reduce_prod(x, (0,)))
  with enable_x64():
    check_vmap(rjax.grad(f), [xs, w], (0, None), 0, rtol=1e-12, atol=1e-12)
    check_vmap(rjax.grad(f), [np.moveaxis(xs, 0, 2), w], (2, None), 1, rtol=1e-12, atol=1e-12)
    check_grads(lambda xs: rjax.vmap(f, in_axes=(1, None))(xs, jnp.asarray(w)),
                [jnp.asarray(np.moveaxis(xs, 0, 1))], order=2)


# ---------------------------------------------------------------------------
# jnp-level users


JNP_USERS = {
    "jnp.max": (lambda x: jnp.max(x, axis=1), _distinct),
    "jnp.min_keepdims": (lambda x: jnp.min(x, axis=0, keepdims=True), _distinct),
    "jnp.prod": (lambda x: jnp.prod(x, axis=(0, 2)), _factors),
    "jnp.cumsum": (lambda x: jnp.cumsum(x, axis=2), _distinct),
    "jnp.cumprod": (lambda x: jnp.cumprod(x, axis=0), _factors),
    "jnp.sort": (lambda x: jnp.sort(x, axis=1), _distinct),
    "jnp.sort_descending": (lambda x: jnp.sort(x, axis=-1, descending=True), _distinct),
    "index_by_argsort": (lambda x: x[jnp.argsort(x[:, 0, 0])], _distinct),
    "lax.top_k": (lambda x: lax.top_k(x, 2)[0], _distinct),
    "jnp.median": (lambda x: jnp.median(x, axis=1), _distinct),
    "jnp.median_all": (lambda x: jnp.median(x), _distinct),
}


@pytest.mark.parametrize("name", sorted(JNP_USERS))
def test_jnp_users_differentiate(name):
  f, draw = JNP_USERS[name]
  _grads(f, draw(np.random.default_rng(0), (2, 3, 4)))


@pytest.mark.parametrize("name", sorted(JNP_USERS))
@pytest.mark.parametrize("in_axes,out_axes", [(0, 0), (2, -1), (-1, 1)])
def test_jnp_users_vmap(name, in_axes, out_axes):
  f, draw = JNP_USERS[name]
  x = np.moveaxis(draw(np.random.default_rng(1), (3, 2, 3, 4)), 0, in_axes).astype(np.float32)
  check_vmap(f, [x], in_axes, out_axes if name != "jnp.median_all" else 0)


@pytest.mark.parametrize("in_axes,out_axes", [(0, 0), (1, 1), (-1, 0)])
def test_argsort_vmap(in_axes, out_axes):
  x = np.random.default_rng(2).integers(0, 3, (3, 4, 5)).astype(np.float32)  # ties: stable
  check_vmap(lambda x: jnp.argsort(x, axis=0), [x], in_axes, out_axes)
  check_vmap(lambda x: jnp.argsort(x, axis=-1, descending=True), [x], in_axes, out_axes)
  check_vmap(lambda x: jnp.argmax(x, axis=1), [x], in_axes, out_axes)


def test_jit_of_grad_and_grad_of_jit_agree():
  rng = np.random.default_rng(3)
  x = _distinct(rng, (4, 5), spacing=0.03)
  f = lambda x: jnp.sum(lax.cumprod(x, 1, reverse=True)) + jnp.sum(lax.cummax(x, 0)) + \
      jnp.sum(lax.cumlogsumexp(x, 1)) + jnp.sum(lax.top_k(x, 2)[0] ** 2) + \
      jnp.sum(lax.sort(x, 0)[0]) + jnp.sum(lax.reduce_prod(x, (1,))) + jnp.max(x) + \
      jnp.sum(lax.cumsum(x, 0) ** 2)
  with enable_x64():
    want = np.asarray(rjax.grad(f)(jnp.asarray(x)))
    for g in (rjax.jit(rjax.grad(f)), rjax.grad(rjax.jit(f)), rjax.jit(rjax.grad(rjax.jit(f)))):
      np.testing.assert_allclose(np.asarray(g(jnp.asarray(x))), want, rtol=1e-13, atol=1e-13)
