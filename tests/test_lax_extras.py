"""The lax functions beyond the primitives, against JAX: shape helpers,
mulhi, reduce_precision, approximate top-k, generic reduce, scatter_sub /
scatter_apply, precision handling, ragged and scaled dots, convolution
patches, rng_bit_generator bits, collectives helpers, tokens and the
implicit-derivative solves (custom_linear_solve, custom_root)."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from jax import lax as jl
from rjax import lax as rl
from util_vs_jax import assert_same, check_grads64, same_outcome

R = np.random.RandomState(0)
X = R.randn(2, 3, 4).astype(np.float32)


def both(f, *args, **kw):
  assert_same(f(rl)(*args), f(jl)(*args), **kw)


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype:UserWarning")   # (JAX, x64 off)
def test_shape_helpers():
  both(lambda l: lambda: np.asarray(l.broadcast_shapes((2, 1), (3,), (1, 1, 3))))
  both(lambda l: lambda a: l.broadcast_to_rank(a, 5), X)
  both(lambda l: lambda a: l.broadcast_like(a[0, 0], a), X)
  both(lambda l: lambda a: l.collapse(a, 1), X)
  both(lambda l: lambda a: l.collapse(a, 0, 2), X)
  both(lambda l: lambda a: l.tile(a, (2, 1, 3)), X)
  both(lambda l: lambda a: l.stack([a, a], axis=-1), X)
  both(lambda l: lambda a: l.unstack(a, axis=1), X)
  both(lambda l: lambda a: l.split(a, [1, 3], axis=2), X)
  both(lambda l: lambda a: l.index_take(a, (np.array([0, 1, 1]), np.array([2, 0, 3])), (0, 2)), X)
  both(lambda l: l.reciprocal, np.array([2., 0., -4., np.inf], np.float32))
  for bad in (lambda l: l.broadcast_shapes((2,), (3,)), lambda l: l.collapse(X, 2, 1),
              lambda l: l.split(X, [1, 1], axis=2), lambda l: l.reciprocal(np.arange(3)),
              lambda l: l.stack([X, X], axis=5), lambda l: l.unstack(X, axis=3)):
    same_outcome(lambda: bad(rl), lambda: bad(jl))
  assert rl.dtype(1.0) == jl.dtype(1.0) and rl.dtype(np.float64) == jl.dtype(np.float64)
  assert rl.dtype(jnp.int64) == jl.dtype(jjnp.int64) and rl.dtype("float16") == np.float16
  assert np.array_equal(rl.shape_as_value((2, 3)), jl.shape_as_value((2, 3)))
  assert rl.empty((2, 3), np.float32).shape == (2, 3)
  assert rl.dce_sink(jnp.ones(3)) is None and float(rl.stage(2.0)) == 2.0
  check_grads64(lambda a: rl.tile(rl.collapse(a, 0, 2), (2, 1)), (X,), order=1)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32]), st.data())
def test_mulhi(dt, data):
  info = np.iinfo(dt)
  a = data.draw(hnp.arrays(dt, 8, elements=st.integers(int(info.min), int(info.max))))
  b = data.draw(hnp.arrays(dt, 8, elements=st.integers(int(info.min), int(info.max))))
  both(lambda l: l.mulhi, a, b)
  both(lambda l: l.mulhi, a, np.array(info.max, dt))


@pytest.mark.parametrize("bits", [(5, 10), (8, 7), (5, 2), (4, 0), (8, 23), (2, 1), (3, 5)])
def test_reduce_precision(bits):
  v = np.array([1.2345678, -1e10, 3e-5, -3e-5, np.nan, -np.inf, 65520., 65519., 1e-40, 0.1,
                -2.5e-39, 0., -0.], np.float32)
  both(lambda l: lambda a: l.reduce_precision(a, *bits), v)
  both(lambda l: lambda a: l.reduce_precision(a, 4, 3), np.array([1.5, np.nan, 300., 1e-4],
                                                                  np.float16))


def test_approx_top_k():
  both(lambda l: lambda a: l.approx_max_k(a, 2), X)
  both(lambda l: lambda a: l.approx_max_k(a, 3), np.array([1., 5, 3, 5, np.nan], np.float32))
  both(lambda l: lambda a: l.approx_min_k(a, 2, reduction_dimension=1), X)
  both(lambda l: lambda a: l.approx_max_k(a, 3, aggregate_to_topk=False), np.arange(20.))
  big = R.randn(5000).astype(np.float32)
  both(lambda l: lambda a: l.approx_max_k(a, 10, aggregate_to_topk=False, recall_target=0.9),
       big)
  both(lambda l: lambda a: l.approx_max_k(a, 1, aggregate_to_topk=False), R.randn(3, 3000)
       .astype(np.float32))
  for bad in (lambda l: l.approx_max_k(np.arange(4), 2), lambda l: l.approx_max_k(X, 9),
              lambda l: l.approx_min_k(X, 0)):
    same_outcome(lambda: bad(rl), lambda: bad(jl))


def test_generic_reduce():
  x = R.randn(3, 4, 5).astype(np.float32)
  both(lambda l: lambda a: l.reduce(a, np.float32(0), l.add, (0, 2)), x, exact=False)
  both(lambda l: lambda a: l.reduce(a, np.float32(1), l.add, (1,)), x)
  both(lambda l: lambda a: l.reduce(a, np.float32(10), lambda p, q: p - q, (1,)), x)
  both(lambda l: lambda a: l.reduce(a, np.float32(-np.inf), l.max, (2,)), x)
  argmax = lambda l: lambda a: l.reduce(  # noqa: E731
      (a, l.broadcasted_iota(np.int32, a.shape, 1)), (np.float32(-np.inf), np.int32(0)),
      lambda p, q: (l.max(p[0], q[0]), l.select(q[0] > p[0], q[1], p[1])), (1,))
  both(argmax, x)
  both(lambda l: lambda a: l.reduce(a, np.int32(-1), l.bitwise_and, (0,)),
       np.arange(12, dtype=np.int32).reshape(3, 4))
  both(lambda l: lambda a: l.reduce(a, np.float32(3), lambda p, q: p * q + 1, (0,)),
       np.zeros((0, 3), np.float32))
  assert_same(rjax.jit(lambda a: rl.reduce(a, np.float32(2), lambda p, q: p * q, (0,)))(x),
              jl.reduce(x, np.float32(2), lambda p, q: p * q, (0,)))
  jx = str(rjax.make_jaxpr(lambda a: rl.reduce(a, np.float32(0), rl.add, (0,)))(x))
  assert "reduce_sum" in jx
  check_grads64(lambda a: rl.reduce(a, 1.0, lambda p, q: p * q, (1,)), (x[:, :3, :2],), order=1)
  for bad in (lambda l: l.reduce(x, (np.float32(0),), l.add, (0,)),
              lambda l: l.reduce(x, np.int32(0), lambda p, q: p - q, (0,))):
    same_outcome(lambda: bad(rl), lambda: bad(jl))


def test_scatter_sub_and_apply():
  dn = lambda l: l.ScatterDimensionNumbers((), (0,), (0,))  # noqa: E731
  v = np.arange(1., 5., dtype=np.float32)
  both(lambda l: lambda a: l.scatter_sub(a, np.array([[0], [0], [2]]),
                                          np.array([1., 2, 3], np.float32), dn(l)), v)
  for mode in (None, "clip"):
    both(lambda l: lambda a: l.scatter_apply(a, np.array([[0], [0], [2], [9]]),
                                             lambda t: t * 2 + 1, dn(l), update_shape=(4,),
                                             mode=mode), v)
  both(lambda l: lambda a: l.scatter_apply(a, np.array([[0], [2]]), jjnp.sin if l is jl else
                                           jnp.sin, dn(l), update_shape=(2,),
                                           unique_indices=True), v, exact=False)
  dn2 = lambda l: l.ScatterDimensionNumbers((1,), (0,), (0,))  # noqa: E731
  both(lambda l: lambda a: l.scatter_apply(a, np.array([[1], [1]]), lambda t: t + 10, dn2(l),
                                           update_shape=(2, 4)),
       np.arange(12.).reshape(3, 4).astype(np.float32))
  g = rjax.grad(lambda a: rl.scatter_sub(a, np.array([[0], [0]]), a[:2] ** 2, dn(rl)).sum())(v)
  assert_same(g, jax.grad(lambda a: jl.scatter_sub(a, np.array([[0], [0]]), a[:2] ** 2,
                                                   dn(jl)).sum())(v))


def test_precision_arguments():
  x = R.randn(4, 4).astype(np.float32)
  for p in ("BF16_BF16_F32", "F32_F32_F32", "DEFAULT", "TF32_TF32_F32", "F16_F16_F32",
            "BF16_BF16_F32_X3", "highest", ("high", "default"), "float32", "nope", 3,
            (rl.Precision.HIGH,), None):
    jp = tuple(getattr(jl.Precision, q.name) for q in p) if isinstance(p, tuple) and \
        isinstance(p[0], rl.Precision) else p
    same_outcome(lambda: rl.dot(x, x, precision=p), lambda: jl.dot(x, x, precision=jp),
                 exact=False)
    same_outcome(lambda: jnp.matmul(x, x, precision=p), lambda: jjnp.matmul(x, x, precision=jp),
                 exact=False)
    same_outcome(lambda: rl.conv(x[None, None], x[None, None, :2, :2], (1, 1), "VALID",
                                 precision=p),
                 lambda: jl.conv(x[None, None], x[None, None, :2, :2], (1, 1), "VALID",
                                 precision=jp), exact=False, rtol=1e-5)
  assert rl.Precision("highest") is rl.Precision.HIGHEST and str(rl.Precision.HIGH) == "HIGH"
  assert repr(rl.DotAlgorithmPreset.F32_F32_F32) == "DotAlgorithmPreset.F32_F32_F32"
  assert rl.DotAlgorithmPreset.BF16_BF16_F32.accumulation_type == np.float32
  with pytest.raises(ValueError, match="not supported by dot_general on CPU"):
    rl.dot(x, x, precision=rl.DotAlgorithm(np.float32, np.float32, np.float32))
  with pytest.raises(ValueError):
    rl.Tolerance()
  assert [m.name for m in rl.AccuracyMode] == [m.name for m in jl.AccuracyMode]
  jx = str(rjax.make_jaxpr(lambda a: rl.dot(a, a, precision="highest"))(x))
  assert "precision=(Precision.HIGHEST, Precision.HIGHEST)" in jx   # as JAX prints it


def test_ragged_and_scaled_dot():
  lhs, rhs = R.randn(10, 4).astype(np.float32), R.randn(3, 4, 5).astype(np.float32)
  for gs in ([3, 0, 5], [10, 0, 0], [0, 0, 0], [4, 4, 4]):
    both(lambda l: l.ragged_dot, lhs, rhs, np.array(gs, np.int32), exact=False, rtol=1e-5)
  both(lambda l: (jax.jit if l is jl else rjax.jit)(l.ragged_dot), lhs, rhs,
       np.array([3, 0, 5], np.int32), exact=False, rtol=1e-5)
  dn = lambda l: l.RaggedDotDimensionNumbers((([1], [0]), ([], [])), [1], [])  # noqa: E731
  both(lambda l: lambda a, b, g: l.ragged_dot_general(a, b, g, dn(l)),
       R.randn(2, 8).astype(np.float32), R.randn(8, 3).astype(np.float32),
       np.array([3, 5, 0], np.int32), exact=False, rtol=1e-5)
  dnb = lambda l: l.RaggedDotDimensionNumbers((([2], [1]), ([0], [0])), [0], [])  # noqa: E731
  both(lambda l: lambda a, b, g: l.ragged_dot_general(a, b, g, dnb(l)),
       R.randn(4, 2, 3).astype(np.float32), R.randn(4, 3, 5).astype(np.float32),
       np.array([1, 3], np.int32), exact=False, rtol=1e-5)
  dnn = lambda l: l.RaggedDotDimensionNumbers((([2], [2]), ([0], [0])), [1], [1])  # noqa: E731
  both(lambda l: lambda a, b, g: l.ragged_dot_general(a, b, g, dnn(l)),
       R.randn(2, 6, 3).astype(np.float32), R.randn(2, 3, 3, 5).astype(np.float32),
       np.array([[1, 2, 3], [4, 0, 1]], np.int32), exact=False, rtol=1e-5)
  check_grads64(lambda a, b: rl.ragged_dot(a, b, np.array([3, 0, 7], np.int32)),
                (lhs, rhs), order=1)
  for bad in (lambda l: l.ragged_dot(lhs, rhs, np.array([1., 2, 3])),
              lambda l: l.ragged_dot(lhs, rhs[:2], np.array([3, 0, 5], np.int32))):
    same_outcome(lambda: bad(rl), lambda: bad(jl))
  with pytest.raises(NotImplementedError, match="group_offset"):
    rl.ragged_dot(lhs, rhs, np.array([3, 0, 5], np.int32), group_offset=np.array([1]))
  both(lambda l: lambda a, b, sa, sb: l.scaled_dot(a, b, lhs_scale=sa, rhs_scale=sb),
       R.randn(2, 3, 8).astype(np.float32), R.randn(2, 8, 4).astype(np.float32),
       np.abs(R.randn(2, 3, 2)).astype(np.float32), np.abs(R.randn(2, 2, 4)).astype(np.float32),
       exact=False, rtol=1e-2, atol=1e-2)
  both(lambda l: lambda a, b: l.scaled_dot(a, b, preferred_element_type=np.float32),
       R.randn(3, 8).astype(np.float32), R.randn(8, 4).astype(np.float32), exact=False,
       rtol=1e-2, atol=1e-2)


def test_conv_patches_and_local():
  x = R.randn(2, 3, 7, 6).astype(np.float32)
  both(lambda l: lambda a: l.conv_general_dilated_patches(a, (2, 3), (1, 2), "SAME"), x,
       exact=False)
  both(lambda l: lambda a: l.conv_general_dilated_patches(
      a.transpose(0, 2, 3, 1), (3, 2), (2, 1), [(1, 0), (0, 2)], rhs_dilation=(1, 2),
      dimension_numbers=("NHWC", "HWIO", "NHWC")), x, exact=False)
  w = R.randn(7, 6, 18, 5).astype(np.float32)
  both(lambda l: lambda a, b: l.conv_general_dilated_local(
      a, b, (1, 1), "SAME", (2, 3), dimension_numbers=("NCHW", "HWIO", "NCHW")), x, w,
       exact=False, rtol=1e-5, atol=1e-5)
  assert rl.conv_general_shape_tuple((2, 7, 6, 3), (3, 3, 3, 8), (2, 1), [(1, 1), (0, 2)],
                                     ("NHWC", "HWIO", "NHWC")) == \
      jl.conv_general_shape_tuple((2, 7, 6, 3), (3, 3, 3, 8), (2, 1), [(1, 1), (0, 2)],
                                  ("NHWC", "HWIO", "NHWC"))
  assert rl.conv_transpose_shape_tuple((2, 7, 6, 3), (3, 3, 3, 8), (2, 1), "SAME",
                                       ("NHWC", "HWIO", "NHWC")) == \
      jl.conv_transpose_shape_tuple((2, 7, 6, 3), (3, 3, 3, 8), (2, 1), "SAME",
                                    ("NHWC", "HWIO", "NHWC"))
  check_grads64(lambda a: rl.conv_general_dilated_patches(a, (2, 2), (1, 1), "VALID"),
                (x[:1, :2, :4, :3],), order=1)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=4, max_size=4),
       st.sampled_from([(2, 3), (7,), (), (4, 1, 5), (0,), (9, 3), (3, 5, 7)]),
       st.sampled_from([np.uint32, np.uint8, np.uint16]), st.sampled_from([0, 1, 2]))
def test_rng_bit_generator_bits_match_jax(key, shape, dt, alg):
  k = np.array(key, np.uint32)
  both(lambda l: lambda kk: l.rng_bit_generator(kk, shape, dtype=dt,
                                                algorithm=l.RandomAlgorithm(alg)), k)


def test_rng_bit_generator_edges():
  k = np.array([5, 6, 0xFFFFFFFE, 0xFFFFFFFF], np.uint32)     # counter carries
  both(lambda l: lambda kk: l.rng_bit_generator(kk, (9, 3)), k)
  assert_same(rjax.jit(lambda kk: rl.rng_bit_generator(kk, (3, 4)))(k),
              jl.rng_bit_generator(k, (3, 4)))
  same_outcome(lambda: rl.rng_bit_generator(k, (2,), dtype=np.int32),
               lambda: jl.rng_bit_generator(k, (2,), dtype=np.int32))
  with pytest.raises(TypeError, match="uint32"):
    rl.rng_bit_generator(k[:3], (2,))
  assert [a.name for a in rl.RandomAlgorithm] == [a.name for a in jl.RandomAlgorithm]


def test_collective_helpers_and_tokens():
  x = np.arange(8.).reshape(2, 4).astype(np.float32)
  assert_same(rjax.vmap(lambda v: rl.pbroadcast(v, "i", 1), axis_name="i")(x),
              jax.vmap(lambda v: jl.pbroadcast(v, "i", 1), axis_name="i")(x))
  y = np.arange(16.).reshape(2, 2, 4).astype(np.float32)
  assert_same(rjax.vmap(lambda v: rl.pswapaxes(v, "i", 0), axis_name="i")(y),
              jax.vmap(lambda v: jl.pswapaxes(v, "i", 0), axis_name="i")(y))
  assert_same(rjax.vmap(lambda v: rl.pcast(v, "i", to="varying"), axis_name="i")(x),
              x.astype(np.float32))
  with pytest.raises(ValueError, match="to"):
    rjax.vmap(lambda v: rl.pcast(v, "i", to="sideways"), axis_name="i")(x)
  t = rl.after_all(rl.create_token(), rl.create_token())
  assert rl.after_all(t) is not None
  with pytest.raises(TypeError):
    rl.after_all(np.ones(2))
  assert float(rl.platform_dependent(2., cpu=lambda v: v * 2, default=lambda v: v)) == 4.0
  assert float(rl.platform_dependent(2., default=lambda v: v + 1, tpu=lambda v: v)) == 3.0
  out = rl.with_sharding_constraint({"a": jnp.ones(2)}, None)
  assert_same(out["a"], np.ones(2, np.float32))
  with pytest.raises(TypeError):
    rl.with_sharding_constraint(jnp.ones(2), [3])
  add = rl.composite(lambda a, b: a + b, "my.add")
  assert float(add(1., 2.)) == 3.0 and float(rjax.grad(add)(1., 2.)) == 1.0


def _linear_solve(m, l):
  def solve_fn(matvec, rhs):
    return l.fori_loop(0, 400, lambda i, v: v + 0.1 * (rhs - matvec(v)), m.zeros_like(rhs))

  def f(a, b):
    return l.custom_linear_solve(lambda v: m.dot(a, v), b, solve_fn,
                                 transpose_solve=lambda vecmat, y: solve_fn(vecmat, y))
  return f


def test_custom_linear_solve():
  a = (R.randn(4, 4) + 4 * np.eye(4)).astype(np.float32)
  b = R.randn(4).astype(np.float32)
  fr, fj = _linear_solve(jnp, rl), _linear_solve(jjnp, jl)
  assert_same(fr(a, b), fj(a, b), exact=False, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(fr(a, b), np.linalg.solve(a, b), rtol=1e-4, atol=1e-4)
  assert_same(rjax.jit(fr)(a, b), fj(a, b), exact=False, rtol=1e-5, atol=1e-5)
  assert_same(rjax.grad(lambda u, v: fr(u, v).sum(), argnums=1)(a, b),
              jax.grad(lambda u, v: fj(u, v).sum(), argnums=1)(a, b), exact=False, rtol=1e-4,
              atol=1e-4)
  assert_same(rjax.jacfwd(fr)(a, b), jax.jacfwd(fj)(a, b), exact=False, rtol=1e-4, atol=1e-4)
  bs = np.stack([b, 2 * b])
  assert_same(rjax.vmap(fr, in_axes=(None, 0))(a, bs), jax.vmap(fj, in_axes=(None, 0))(a, bs),
              exact=False, rtol=1e-5, atol=1e-5)
  as_ = np.stack([a, a + np.eye(4, dtype=np.float32)])
  assert_same(rjax.vmap(fr, in_axes=(0, None))(as_, b), jax.vmap(fj, in_axes=(0, None))(as_, b),
              exact=False, rtol=1e-5, atol=1e-5)
  # symmetric, has_aux, a dict b
  sym = lambda m, l: lambda u, v: l.custom_linear_solve(  # noqa: E731
      lambda x: {"x": m.dot(u, x["x"])}, {"x": v},
      lambda mv, r: ({"x": r["x"] / m.diag(u)}, 7.0), symmetric=True, has_aux=True)
  d = np.diag(np.arange(1., 5.)).astype(np.float32)
  (got, aux), (want, aux_j) = sym(jnp, rl)(d, b), sym(jjnp, jl)(d, b)
  assert_same((got["x"], aux), (want["x"], aux_j), exact=False)
  with pytest.raises(TypeError, match="transpose_solve"):
    rjax.grad(lambda v: rl.custom_linear_solve(lambda x: 2 * x, v, lambda mv, r: r / 2).sum())(b)


def _sqrt(m, l):
  def newton(f, x0):
    return l.fori_loop(0, 30, lambda i, x: x - f(x) / (2 * x), x0)
  return lambda a: l.custom_root(lambda x: x * x - a, 1.0 + 0 * a, newton,
                                 lambda g, y: y / g(1.0))


def test_custom_root():
  sr, sj = _sqrt(jnp, rl), _sqrt(jjnp, jl)
  assert_same(sr(2.0), sj(2.0), exact=False)
  assert_same(rjax.grad(sr)(2.0), jax.grad(sj)(2.0), exact=False)
  assert_same(rjax.jit(rjax.grad(sr))(3.0), jax.grad(sj)(3.0), exact=False)
  assert_same(rjax.vmap(sr)(np.array([2., 4.], np.float32)),
              jax.vmap(sj)(np.array([2., 4.], np.float32)), exact=False)
  assert_same(rjax.jvp(sr, (2.0,), (1.0,)), jax.jvp(sj, (2.0,), (1.0,)), exact=False)
  check_grads64(sr, (np.array(2.5),), order=1, modes=("fwd", "rev"))
  with pytest.raises(TypeError):
    rl.custom_root(lambda x: (x, x), 1.0, lambda f, x: x, lambda g, y: y)
