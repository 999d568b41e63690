"""Derivative and batching rules of the shape primitives (transpose, rev,
squeeze, concatenate, pad, iota, and broadcast_in_dim/reshape for vmap) and
of dot_general: numerical gradient checks in float64 to order 2 in both modes,
vmap against a Python loop over hypothesis-drawn shapes, in_axes and out_axes,
and jaxpr checks that the batching rules move no batch dim needlessly."""
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src import core
from rjax._src.interpreters import ad, batching
from rjax._src.lax import matmul as dot_mod, shapes as shapes_mod
from rjax.test_util import check_grads
from util import check_vmap, enable_x64

seeds = st.integers(0, 2**16)


def _rand(rng, shape, dtype=np.float64):
  x = rng.standard_normal(shape)
  if np.dtype(dtype).kind in "iu":
    return rng.integers(-3, 4, shape).astype(dtype)
  return x.astype(dtype)


def _batched(rng, shape, n, axis, dtype=np.float32):
  """An array of ``shape`` with a batch axis of size ``n`` at ``axis``
  (``None``: the unbatched array)."""
  if axis is None:
    return _rand(rng, shape, dtype)
  return np.moveaxis(_rand(rng, (n,) + tuple(shape), dtype), 0, axis)


def _axis(nd, none=False):
  """A batch axis for an operand of unbatched rank ``nd`` (negative allowed)."""
  ax = st.integers(-(nd + 1), nd)
  return st.one_of(st.none(), ax) if none else ax


def _nl(f):
  """``f`` followed by a nonlinearity, so order-2 checks see curvature."""
  return lambda *xs: jnp.sin(f(*xs))


def _grads(f, *args):
  with enable_x64():
    check_grads(f, [jnp.asarray(a) for a in args], order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------------------
# Gradients


@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=4), data=st.data(), seed=seeds)
def test_transpose_grads(shape, data, seed):
  perm = tuple(data.draw(st.permutations(range(len(shape)))))
  x = _rand(np.random.default_rng(seed), shape)
  _grads(lambda x: lax.transpose(x, perm), x)
  _grads(_nl(lambda x: lax.transpose(x, perm)), x)


@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), data=st.data(), seed=seeds)
def test_rev_grads(shape, data, seed):
  dims = tuple(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
  x = _rand(np.random.default_rng(seed), shape)
  _grads(_nl(lambda x: lax.rev(x, dims)), x)


@pytest.mark.parametrize("shape,dims", [((1,), (0,)), ((2, 1, 3), (1,)), ((1, 3, 1), (0, 2)),
                                        ((1, 1), (0, 1)), ((3, 1, 1, 2), (2,))])
def test_squeeze_grads(shape, dims):
  x = _rand(np.random.default_rng(0), shape)
  _grads(_nl(lambda x: lax.squeeze(x, dims)), x)


@pytest.mark.parametrize("shapes,dim", [
    ([(2,), (3,)], 0), ([(2, 3), (1, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 2), (2, 4)], 1),
    ([(2, 1, 3), (2, 2, 3)], 1), ([(2, 2, 1), (2, 2, 3), (2, 2, 2)], 2), ([(0, 2), (3, 2)], 0)])
def test_concatenate_grads(shapes, dim):
  rng = np.random.default_rng(len(shapes) + dim)
  xs = [_rand(rng, s) for s in shapes]
  _grads(_nl(lambda *xs: lax.concatenate(xs, dim)), *xs)
  # a non-differentiated operand (a constant) next to differentiated ones
  with enable_x64():
    c = jnp.asarray(xs[0])
    _grads(_nl(lambda *xs: lax.concatenate([c, *xs], dim)), *xs[1:])


PAD_CONFIGS = [
    ((3,), ((1, 2, 0),)), ((3,), ((0, 0, 2),)), ((4,), ((-1, -2, 0),)), ((3,), ((-2, 1, 1),)),
    ((2, 3), ((1, -1, 1), (-1, 2, 0))), ((2, 3), ((0, 0, 0), (2, -3, 2))),
    ((3, 2, 2), ((-1, -1, 3), (1, 0, 0), (0, 1, 1))), ((1,), ((2, 1, 3),)),
    ((4,), ((-3, -1, 0),)), ((0, 2), ((1, 1, 1), (0, 0, 0)))]


@pytest.mark.parametrize("shape,cfg", PAD_CONFIGS)
def test_pad_grads(shape, cfg):
  rng = np.random.default_rng(len(cfg))
  x, v = _rand(rng, shape), _rand(rng, ())
  _grads(_nl(lambda x, v: lax.pad(x, v, cfg)), x, v)
  _grads(_nl(lambda x: lax.pad(x, v, cfg)), x)     # v: a NumPy scalar, a constant
  # only the padding value is differentiated (the operand is a constant)
  with enable_x64():
    cx = jnp.asarray(x)
    _grads(_nl(lambda v: lax.pad(cx, v, cfg)), v)


def test_pad_gradient_values():
  """The operand's cotangent is the un-padded, un-strided slice of ``ct``;
  the padding value's is the rest of the total."""
  x = jnp.ones((3, 3))
  cfg = [(1, -1, 1), (-1, 2, 0)]
  gx, gv = rjax.grad(lambda x, v: jnp.sum(lax.pad(x, v, cfg)), argnums=(0, 1))(x, 2.0)
  np.testing.assert_array_equal(np.asarray(gx), [[0, 1, 1], [0, 1, 1], [0, 0, 0]])
  assert float(gv) == 5 * 4 - 4
  gv = rjax.grad(lambda v: jnp.sum(lax.pad(x, v, cfg)))(2.0)
  assert float(gv) == 16


DOT_CASES = [
    # (lhs shape, rhs shape, ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch)))
    ((3,), (3,), (((0,), (0,)), ((), ()))),                         # vector dot
    ((2, 3), (3,), (((1,), (0,)), ((), ()))),                       # matrix-vector
    ((3,), (3, 4), (((0,), (0,)), ((), ()))),                       # vector-matrix
    ((2, 3), (3, 4), (((1,), (0,)), ((), ()))),                     # matmul
    ((3, 2), (4, 3), (((0,), (1,)), ((), ()))),                     # transposed operands
    ((2,), (3,), (((), ()), ((), ()))),                             # outer product
    ((2, 3, 4), (4, 3, 5), (((1, 2), (1, 0)), ((), ()))),           # several contractions
    ((5, 2, 3), (5, 3, 4), (((2,), (1,)), ((0,), (0,)))),           # batch matmul
    ((2, 5, 3), (3, 4, 5), (((2,), (0,)), ((1,), (2,)))),           # batch dims anywhere
    ((2, 3, 4, 5), (4, 5, 2, 3, 1), (((3, 1), (1, 3)), ((2, 0), (0, 2)))),  # 2 batch, 2 contract
    ((2, 3), (2, 3), (((), ()), ((0, 1), (0, 1)))),                 # elementwise product
]


@pytest.mark.parametrize("ls,rs,dn", DOT_CASES, ids=[str(c[2]) for c in DOT_CASES])
def test_dot_general_grads(ls, rs, dn):
  rng = np.random.default_rng(len(ls) * 7 + len(rs))
  x, y = _rand(rng, ls), _rand(rng, rs)
  _grads(lambda x, y: lax.dot_general(x, y, dn), x, y)
  _grads(_nl(lambda x, y: lax.dot_general(x, y, dn)), x, y)
  with enable_x64():
    cy = jnp.asarray(y)
    _grads(_nl(lambda x: lax.dot_general(x, cy, dn)), x)


@pytest.mark.parametrize("ls,rs,dn", DOT_CASES, ids=[str(c[2]) for c in DOT_CASES])
def test_dot_general_vjp_matches_einsum(ls, rs, dn):
  """The transposes against the closed form: ct contracted with the other operand."""
  rng = np.random.default_rng(1)
  x, y = _rand(rng, ls, np.float32), _rand(rng, rs, np.float32)
  out, vjp = rjax.vjp(lambda x, y: lax.dot_general(x, y, dn), jnp.asarray(x), jnp.asarray(y))
  ct = _rand(rng, np.shape(out), np.float32)
  gx, gy = vjp(jnp.asarray(ct))
  # <ct, dot(x, y)> is bilinear: its gradients are dot's partial transposes
  from rjax._src.interpreters.reference import references
  ref = references[dot_mod.dot_general_p]
  f = lambda a, b: float(np.sum(ct.astype(np.float64) * ref(a, b, dimension_numbers=dn)))
  eye_x = np.eye(x.size).reshape((x.size,) + x.shape)
  eye_y = np.eye(y.size).reshape((y.size,) + y.shape)
  want_x = np.array([f(e, y.astype(np.float64)) for e in eye_x]).reshape(x.shape)
  want_y = np.array([f(x.astype(np.float64), e) for e in eye_y]).reshape(y.shape)
  np.testing.assert_allclose(np.asarray(gx), want_x, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.asarray(gy), want_y, rtol=1e-5, atol=1e-5)


def test_dot_general_preferred_element_type_dtypes():
  """As in JAX: the tangent has the output dtype; cotangents have the operands'
  dtypes (the transposed dot computes in the preferred type, then converts)."""
  bf = np.dtype(ml_dtypes.bfloat16)
  x = jnp.asarray(np.ones((2, 3), bf))
  y = jnp.asarray(np.full((3,), 2, bf))
  f = lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ())),
                                   preferred_element_type=np.float32)
  out, t = rjax.jvp(f, (x, y), (x, y))
  assert out.dtype == np.float32 and t.dtype == np.float32 and not core.get_aval(t).weak_type
  np.testing.assert_array_equal(np.asarray(t), [12.0, 12.0])
  gx, gy = rjax.grad(lambda x, y: jnp.sum(f(x, y)), argnums=(0, 1))(x, y)
  assert gx.dtype == bf and gy.dtype == bf
  np.testing.assert_array_equal(np.asarray(gx, np.float32), np.full((2, 3), 2.0))
  np.testing.assert_array_equal(np.asarray(gy, np.float32), np.full((3,), 2.0))


def test_dot_general_jvp_of_integers_is_zero():
  x = jnp.asarray(np.arange(6, dtype=np.int32).reshape(2, 3))
  f = lambda s: s * lax.convert_element_type(lax.dot(x, x.T), np.float32)
  np.testing.assert_array_equal(np.asarray(rjax.grad(lambda s: jnp.sum(f(s)))(1.0)),
                                np.sum(np.asarray(x) @ np.asarray(x).T))


def test_dot_general_transpose_needs_one_linear_operand():
  dn = (((0,), (0,)), ((), ()))
  u = ad.UndefinedPrimal(core.ShapedArray((3,), np.dtype(np.float32)))
  with pytest.raises(ValueError, match="not linear"):
    ad.primitive_transposes[dot_mod.dot_general_p](jnp.ones(()), u, u, dimension_numbers=dn,
                                                   precision=None, preferred_element_type=None)


def test_iota_is_not_differentiated():
  with enable_x64():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3)))
    f = lambda x: x * lax.broadcasted_iota(np.float64, (2, 3), 1) + lax.iota(np.float64, 3)
    check_grads(_nl(f), (x,), order=2, modes=("fwd", "rev"))
    _, t = rjax.jvp(lambda x: lax.iota(np.float64, 3) + 0 * x, (jnp.asarray(1.0),),
                    (jnp.asarray(1.0),))
    np.testing.assert_array_equal(np.asarray(t), np.zeros(3))


def test_grad_through_jit():
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
  f = lambda x: jnp.sum(jnp.sin(lax.pad(lax.dot(lax.transpose(x, (1, 0)), x), 0.5,
                                        [(1, -1, 1), (0, 2, 0)])) ** 2)
  np.testing.assert_allclose(np.asarray(rjax.jit(rjax.grad(f))(x)), np.asarray(rjax.grad(f)(x)),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(rjax.grad(rjax.jit(f))(x)), np.asarray(rjax.grad(f)(x)),
                             rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# vmap against a Python loop


small_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@given(shape=small_shapes, n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_transpose_vmap(shape, n, data, seed):
  perm = tuple(data.draw(st.permutations(range(len(shape)))))
  ax, oax = data.draw(_axis(len(shape))), data.draw(_axis(len(shape)))
  x = _batched(np.random.default_rng(seed), shape, n, ax)
  check_vmap(lambda x: lax.transpose(x, perm), [x], ax, oax)


@given(shape=small_shapes.filter(len), n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_rev_vmap(shape, n, data, seed):
  dims = tuple(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
  ax, oax = data.draw(_axis(len(shape))), data.draw(_axis(len(shape)))
  x = _batched(np.random.default_rng(seed), shape, n, ax, np.int32)
  check_vmap(lambda x: lax.rev(x, dims), [x], ax, oax)


@given(shape=st.lists(st.integers(1, 2), min_size=1, max_size=4).map(tuple), n=st.integers(1, 3),
       data=st.data(), seed=seeds)
def test_squeeze_vmap(shape, n, data, seed):
  ones = [i for i, s in enumerate(shape) if s == 1]
  dims = tuple(data.draw(st.sets(st.sampled_from(ones), min_size=1))) if ones else ()
  out_nd = len(shape) - len(dims)
  ax, oax = data.draw(_axis(len(shape))), data.draw(_axis(out_nd))
  x = _batched(np.random.default_rng(seed), shape, n, ax)
  check_vmap(lambda x: lax.squeeze(x, dims), [x], ax, oax)


@given(base=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
       sizes=st.lists(st.integers(0, 3), min_size=1, max_size=4), n=st.integers(1, 3),
       data=st.data(), seed=seeds)
def test_concatenate_vmap(base, sizes, n, data, seed):
  nd = len(base)
  dim = data.draw(st.integers(0, nd - 1))
  shapes = [base[:dim] + (s,) + base[dim + 1:] for s in sizes]
  axes = [data.draw(_axis(nd, none=True)) for _ in shapes]
  if all(a is None for a in axes):
    axes[data.draw(st.integers(0, len(axes) - 1))] = data.draw(_axis(nd))
  oax = data.draw(_axis(nd))
  rng = np.random.default_rng(seed)
  xs = [_batched(rng, s, n, a) for s, a in zip(shapes, axes)]
  check_vmap(lambda *xs: lax.concatenate(xs, dim), xs, tuple(axes), oax)


@given(case=st.sampled_from(PAD_CONFIGS), n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_pad_vmap(case, n, data, seed):
  shape, cfg = case
  ax = data.draw(_axis(len(shape), none=True))
  vax = data.draw(st.sampled_from([0, -1]) if ax is None else st.sampled_from([None, 0, -1]))
  oax = data.draw(_axis(len(shape)))
  rng = np.random.default_rng(seed)
  x, v = _batched(rng, shape, n, ax), _batched(rng, (), n, vax)
  check_vmap(lambda x, v: lax.pad(x, v, cfg), [x, v], (ax, vax), oax)


@given(shape=small_shapes, n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_pad_vmap_int_operand_with_batched_padding_value(shape, n, data, seed):
  cfg = [(1, -1, 1)] * len(shape)
  ax, oax = data.draw(_axis(len(shape), none=True)), data.draw(_axis(len(shape)))
  rng = np.random.default_rng(seed)
  x, v = _batched(rng, shape, n, ax, np.int32), _batched(rng, (), n, 0, np.int32)
  check_vmap(lambda x, v: lax.pad(x, v, cfg), [x, v], (ax, 0), oax)


@given(shape=small_shapes, n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_broadcast_in_dim_and_reshape_vmap(shape, n, data, seed):
  ax = data.draw(_axis(len(shape)))
  x = _batched(np.random.default_rng(seed), shape, n, ax)
  out_shape = (2,) + shape
  check_vmap(lambda x: lax.broadcast_in_dim(x, out_shape, tuple(range(1, len(shape) + 1))),
             [x], ax, data.draw(_axis(len(out_shape))))
  flat = (int(np.prod(shape)),)
  check_vmap(lambda x: lax.reshape(x, flat), [x], ax, data.draw(_axis(1)))


@given(n=st.integers(1, 3), oax=_axis(2), data=st.data(), seed=seeds)
def test_iota_inside_vmap(n, oax, data, seed):
  ax = data.draw(_axis(2))
  x = _batched(np.random.default_rng(seed), (2, 3), n, ax, np.int32)
  check_vmap(lambda x: x * lax.broadcasted_iota(np.int32, (2, 3), 1) + lax.iota(np.int32, 3),
             [x], ax, oax)


@given(case=st.sampled_from(DOT_CASES), n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_dot_general_vmap(case, n, data, seed):
  ls, rs, dn = case
  lax_, rax = data.draw(_axis(len(ls), none=True)), data.draw(_axis(len(rs), none=True))
  if lax_ is None and rax is None:
    rax = data.draw(_axis(len(rs)))
  out_nd = len(dot_mod._dot_general_shape(ls, rs, dn))
  oax = data.draw(_axis(out_nd))
  dt = data.draw(st.sampled_from([np.float32, np.int32]))
  rng = np.random.default_rng(seed)
  x, y = _batched(rng, ls, n, lax_, dt), _batched(rng, rs, n, rax, dt)
  check_vmap(lambda x, y: lax.dot_general(x, y, dn), [x, y], (lax_, rax), oax,
             rtol=1e-5, atol=1e-5)


@given(n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_dot_general_vmap_preferred_element_type(n, data, seed):
  ax = data.draw(_axis(2, none=True))
  rng = np.random.default_rng(seed)
  x, y = _batched(rng, (2, 3), n, ax, np.int8), _batched(rng, (3,), n, 0, np.int8)
  check_vmap(lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ())),
                                          preferred_element_type=np.int32),
             [x, y], (ax, 0), data.draw(_axis(1)))


@given(n=st.integers(1, 3), seed=seeds)
def test_vmap_of_grad(n, seed):
  rng = np.random.default_rng(seed)
  xs, w = rng.standard_normal((n, 2, 3)).astype(np.float32), rng.standard_normal((3, 2))
  w = w.astype(np.float32)
  f = lambda x: jnp.sum(jnp.tanh(lax.pad(lax.dot(x, w), 1.0, [(1, 0, 1), (0, 0, 0)])) ** 2)
  check_vmap(rjax.grad(f), [xs], 0, 0, rtol=1e-5, atol=1e-6)
  check_vmap(rjax.grad(lambda x: jnp.sum(lax.concatenate([lax.rev(x, (0,)), x], 1) ** 3)),
             [xs], 0, 1, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# The batching rules move no batch dim needlessly


def _eqn_names(f, *args):
  return [e.primitive.name for e in rjax.make_jaxpr(f)(*args).jaxpr.eqns]


def test_vmap_dot_emits_no_transpose():
  m, v = jnp.ones((4, 2, 3)), jnp.ones((3,))
  assert _eqn_names(rjax.vmap(jnp.dot, in_axes=(0, None)), m, v) == ["dot_general"]
  assert _eqn_names(rjax.vmap(jnp.dot), m, jnp.ones((4, 3))) == ["dot_general"]
  assert _eqn_names(rjax.vmap(jnp.dot), m, jnp.ones((4, 3, 5))) == ["dot_general"]
  assert _eqn_names(rjax.vmap(jnp.dot, in_axes=(None, 1), out_axes=1), jnp.ones((2, 3)),
                    jnp.ones((3, 4, 5))) == ["dot_general"]
  # batch dims elsewhere than at the front are contracted in place too
  assert _eqn_names(rjax.vmap(jnp.dot, in_axes=(2, 1), out_axes=0), jnp.ones((2, 3, 4)),
                    jnp.ones((3, 4))) == ["dot_general"]


def test_vmap_shape_rules_keep_the_batch_dim():
  x = jnp.ones((2, 4, 1, 3))
  assert _eqn_names(rjax.vmap(lambda x: lax.squeeze(x, (1,)), 1, 1), x) == ["squeeze"]
  assert _eqn_names(rjax.vmap(lambda x: lax.rev(x, (0, 2)), 1, 1), x) == ["rev"]
  assert _eqn_names(rjax.vmap(lambda x: lax.transpose(x, (2, 0, 1)), 1, 1), x) == ["transpose"]
  assert _eqn_names(rjax.vmap(lambda x, y: lax.concatenate([x, y], 2), (1, 1), 1), x, x) == \
      ["concatenate"]
  assert _eqn_names(rjax.vmap(lambda x: lax.pad(x, 0.0, [(1, 1, 1)] * 3), 1, 1), x) == ["pad"]
  # the batch dim lands after the output dim of the operand's preceding dim
  assert _eqn_names(rjax.vmap(lambda x: lax.broadcast_in_dim(x, (5, 2, 1, 3), (1, 2, 3)), 1, 2),
                    x) == ["broadcast_in_dim"]


def test_rules_registered():
  prims = [shapes_mod.broadcast_in_dim_p, shapes_mod.reshape_p, shapes_mod.transpose_p,
           shapes_mod.rev_p, shapes_mod.squeeze_p, shapes_mod.concatenate_p, shapes_mod.pad_p,
           dot_mod.dot_general_p]
  for p in prims:
    assert p in ad.primitive_jvps and p in ad.primitive_transposes, p.name
    assert p in batching.primitive_batchers, p.name
  assert shapes_mod.iota_p in ad.nondifferentiable


def test_seed_example():
  out = rjax.vmap(jnp.dot, in_axes=(0, None), out_axes=0)(jnp.ones((2, 3)),
                                                          jnp.array([1., 2., 2.]))
  np.testing.assert_array_equal(np.asarray(out), [5.0, 5.0])
