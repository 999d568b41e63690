"""jnp linear algebra vs NumPy: dot/matmul broadcasting, einsum, tensordot,
kron, trace, diagonal, norms. Expected dtypes are JAX 0.10's (system python)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax.numpy as jnp
from util import arrays, assert_close, enable_x64, noncontiguous
from util_linalg import draw_pair, num_dtypes_small

f32, i32 = np.dtype(np.float32), np.dtype(np.int32)


def _check_unmutated(*pairs):
  for a, a0 in pairs:
    np.testing.assert_array_equal(a, a0)


@given(st.data())
def test_dot_all_rank_combinations(data):
  na, nb = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
  k = data.draw(st.integers(0, 4))
  sa = tuple(data.draw(st.integers(0, 3)) for _ in range(max(na - 1, 0))) + ((k,) if na else ())
  if nb >= 2:
    sb = tuple(data.draw(st.integers(0, 3)) for _ in range(nb - 2)) + (k, data.draw(st.integers(0, 3)))
  else:
    sb = (k,) if nb == 1 else ()
  dt = data.draw(st.sampled_from(num_dtypes_small))
  a, b = data.draw(arrays(dt, sa, lo=-5, hi=5)), data.draw(arrays(dt, sb, lo=-5, hi=5))
  a0, b0 = a.copy(), b.copy()
  assert_close(jnp.dot(a, b), np.dot(a, b), dt)
  _check_unmutated((a, a0), (b, b0))


@given(st.data())
def test_matmul_broadcasting(data):
  dt = data.draw(st.sampled_from(num_dtypes_small))
  a, b = data.draw(draw_pair(dt))
  a0, b0 = a.copy(), b.copy()
  if data.draw(st.booleans()):
    a = noncontiguous(a)
  out = jnp.matmul(a, b)
  assert out.dtype == dt
  assert_close(out, np.matmul(a, b), dt)
  assert_close(jnp.linalg.matmul(a, b), np.matmul(a, b), dt)
  _check_unmutated((a, a0), (b, b0))


def test_matmul_operator_and_errors():
  a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
  assert_close(jnp.asarray(a) @ a.T, a @ a.T, f32)
  with pytest.raises(ValueError, match="matmul input operand 1 must have ndim at least 1"):
    jnp.matmul(np.ones(3), 2.0)
  with pytest.raises(TypeError, match="dot_general requires contracting dimensions"):
    jnp.matmul(np.ones((2, 3)), np.ones((4, 2)))
  with pytest.raises(ValueError, match="Incompatible types for matmul arguments"):  # JAX's
    jnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 2)))


def test_dtype_promotion():
  assert jnp.dot(np.ones(3, np.int8), np.ones(3, np.uint8)).dtype == np.int16
  # JAX asks dot_general for int8 while the weak scalar makes an int32
  # operand: JAX 0.10.2 raises this TypeError, and so do we
  with pytest.raises(TypeError, match="must not be narrower"):
    jnp.dot(2, np.ones(3, np.int8))
  assert jnp.matmul(np.ones((2, 2), np.float16), np.ones(2, np.float32)).dtype == f32
  assert jnp.einsum("ij,j", np.ones((2, 3), np.int8), np.ones(3, np.int8)).dtype == np.int8
  assert jnp.einsum("ij,j", np.ones((2, 3)), np.ones(3), preferred_element_type=np.float16).dtype \
      == np.float16
  assert jnp.trace(np.ones((3, 3), np.int8)).dtype == i32
  assert jnp.trace(np.ones((3, 3), np.bool_)).dtype == i32
  assert jnp.trace(np.ones((3, 3), np.uint8)).dtype == np.uint32
  assert jnp.trace(np.ones((3, 3), np.float16)).dtype == np.float16
  assert jnp.linalg.norm(np.ones(3, np.int32)).dtype == f32
  assert jnp.kron(np.ones(2, np.int8), 2).dtype == np.int8
  with enable_x64():
    assert jnp.trace(np.ones((3, 3), np.int8)).dtype == np.int64
    assert jnp.dot(np.ones(3), np.ones(3)).dtype == np.float64


@given(st.data())
def test_vdot_inner_outer_vecdot(data):
  dt = data.draw(st.sampled_from(num_dtypes_small))
  a = data.draw(arrays(dt, (2, 3), lo=-5, hi=5))
  b = data.draw(arrays(dt, (4, 3), lo=-5, hi=5))
  assert_close(jnp.vdot(a, a), np.vdot(a, a), dt)
  assert_close(jnp.inner(a, b), np.inner(a, b), dt)
  assert_close(jnp.outer(a, b), np.outer(a, b), dt)
  assert_close(jnp.linalg.outer(a[0], b[0]), np.outer(a[0], b[0]), dt)
  assert_close(jnp.vecdot(a, b[:1]), np.sum(a * b[:1], axis=-1).astype(dt), dt)
  assert_close(jnp.linalg.vecdot(a, a[0], axis=-1), np.sum(a * a[0], -1).astype(dt), dt)
  assert_close(jnp.inner(a, 3), np.inner(a, 3).astype(dt), dt)
  with pytest.raises(ValueError, match="outer: input 0 must be 1-d"):
    jnp.linalg.outer(a, b[0])


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij,kj->ki", [(2, 3), (4, 3)]),
    ("bij,bjk->bik", [(3, 2, 4), (3, 4, 5)]),
    ("bij,bkj->bki", [(3, 2, 4), (3, 5, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,i->i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ijk->kij", [(2, 3, 4)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ijji->", [(2, 3, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...i,...i", [(3, 4), (4,)]),
    ("i...->...", [(3, 2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 2), (2, 4), (4, 2)]),
    ("ijk,jkl->il", [(2, 3, 4), (3, 4, 5)]),
    ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)]),
    ("ik,jk->", [(2, 3), (4, 3)]),
    ("ii,jk->ijk", [(2, 2), (3, 1)]),
    ("i,i,i", [(0,), (0,), (0,)]),
    ("ij,jk->ik", [(0, 3), (3, 2)]),
    ("ij,jk->ik", [(2, 0), (0, 2)]),
    ("", [()]),
    (",i->i", [(), (3,)]),
]


@pytest.mark.parametrize("subscripts,shapes_", EINSUMS)
@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_einsum_vs_numpy(subscripts, shapes_, dt):
  rng = np.random.default_rng(len(subscripts))
  ops = [rng.integers(-4, 5, s).astype(dt) for s in shapes_]
  copies = [o.copy() for o in ops]
  out = jnp.einsum(subscripts, *ops)
  assert out.dtype == np.dtype(dt)
  assert_close(out, np.einsum(subscripts, *ops), dt)
  _check_unmutated(*zip(ops, copies))


def test_einsum_path_and_optimize_flags():
  a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))
  path, info = jnp.einsum_path("ij,jk,kl->il", a, b, c)
  assert len(path) == 2 and "Complete contraction" in str(info)
  for opt in (True, False, "optimal"):
    assert_close(jnp.einsum("ij,jk,kl->il", a, b, c, optimize=opt), a @ b @ c, f32)


@given(st.data())
def test_tensordot(data):
  dt = data.draw(st.sampled_from(num_dtypes_small))
  a = data.draw(arrays(dt, (2, 3, 4), lo=-5, hi=5))
  b = data.draw(arrays(dt, (3, 4, 2), lo=-5, hi=5))
  for axes in (0, 2, ([1, 2], [0, 1]), ((2, 0), (1, 2)), (1, 0), ([-1], [1])):
    assert_close(jnp.tensordot(a, b, axes), np.tensordot(a, b, axes), dt)
  assert_close(jnp.linalg.tensordot(a, b, axes=2), np.tensordot(a, b, 2), dt)


def test_tensordot_errors():
  with pytest.raises(TypeError, match="tensordot: number of contracting axes"):
    jnp.tensordot(np.ones((2, 3)), np.ones(3), 3)
  with pytest.raises(TypeError, match="tensordot: axes lists must have equal length"):
    jnp.tensordot(np.ones((2, 3)), np.ones(3), ([0, 1], [0]))


@pytest.mark.parametrize("sa,sb", [((2,), (3,)), ((2, 2), (3, 1)), ((2,), (2, 3)), ((1, 2, 3), (2, 2)),
                                   ((), (3,)), ((0, 2), (2, 2))])
def test_kron(sa, sb):
  a = np.arange(np.prod(sa), dtype=np.int32).reshape(sa) + 1
  b = np.arange(np.prod(sb), dtype=np.int32).reshape(sb) - 2
  assert_close(jnp.kron(a, b), np.kron(a, b), i32)


@given(st.data(), st.integers(-3, 3))
def test_trace_diagonal(data, offset):
  dt = data.draw(st.sampled_from(num_dtypes_small + [np.dtype(np.bool_)]))
  shape = tuple(data.draw(st.integers(0, 4)) for _ in range(data.draw(st.integers(2, 4))))
  x = data.draw(arrays(dt, shape, lo=-5, hi=5))
  nd = len(shape)
  a1, a2 = data.draw(st.permutations(range(nd)))[:2]
  assert_close(jnp.diagonal(x, offset, a1, a2), np.diagonal(x, offset, a1, a2), dt)
  if dt != np.bool_:
    exp = np.trace(x, offset, a1, a2)
    exp_dt = {np.dtype(np.int8): i32, np.dtype(np.int16): i32, np.dtype(np.uint8): np.uint32,
              np.dtype(np.uint16): np.uint32}.get(np.dtype(dt), dt)
    assert_close(jnp.trace(x, offset, a1, a2), exp.astype(exp_dt), exp_dt)
  assert_close(jnp.linalg.diagonal(x, offset=offset), np.diagonal(x, offset, -2, -1), dt)


def test_diagonal_keeps_inf_nan():
  x = np.array([[1.0, np.inf], [np.nan, -np.inf]], np.float32)
  np.testing.assert_array_equal(jnp.diagonal(x), [1.0, -np.inf])
  np.testing.assert_array_equal(jnp.diagonal(x, 1), [np.inf])
  np.testing.assert_array_equal(jnp.diagonal(x, -1), [np.nan])
  with pytest.raises(ValueError, match="diagonal requires an array of at least two dimensions"):
    jnp.diagonal(np.ones(3))


def test_matrix_transpose_and_linalg_trace():
  x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
  assert_close(jnp.linalg.matrix_transpose(x), np.swapaxes(x, -1, -2), f32)
  assert_close(jnp.linalg.trace(x, offset=1), np.trace(x, 1, -2, -1), f32)
  with pytest.raises(ValueError, match="matrix_transpose: input must be at least 2-d"):
    jnp.linalg.matrix_transpose(np.ones(3))


VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5]
MATRIX_ORDS = [None, "fro", 1, -1, np.inf, -np.inf]


@pytest.mark.parametrize("ord_", VECTOR_ORDS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norm(ord_, keepdims):
  rng = np.random.default_rng(3)
  x = rng.standard_normal((3, 5)).astype(np.float32)
  for axis in (0, 1, -1):
    exp = np.linalg.norm(x, ord_, axis, keepdims)
    assert_close(jnp.linalg.norm(x, ord_, axis, keepdims), exp, f32, rtol=1e-5, atol=1e-5)
    assert_close(jnp.linalg.vector_norm(x, axis=axis, keepdims=keepdims,
                                        ord=2 if ord_ is None else ord_), exp, f32, rtol=1e-5,
                 atol=1e-5)
  assert_close(jnp.linalg.norm(x[0], ord_), np.linalg.norm(x[0], ord_), f32, rtol=1e-5)


@pytest.mark.parametrize("ord_", MATRIX_ORDS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm(ord_, keepdims):
  rng = np.random.default_rng(4)
  x = rng.standard_normal((2, 3, 4)).astype(np.float32)
  for axis in ((1, 2), (2, 1), (0, 2)):
    exp = np.linalg.norm(x, ord_, axis, keepdims)
    assert_close(jnp.linalg.norm(x, ord_, axis, keepdims), exp, f32, rtol=1e-5, atol=1e-5)
  if ord_ in ("fro", 1, np.inf):
    assert_close(jnp.linalg.matrix_norm(x, ord=ord_), np.linalg.norm(x, ord_, (-2, -1)), f32,
                 rtol=1e-5)
  assert_close(jnp.linalg.norm(x), np.linalg.norm(x), f32, rtol=1e-5)


@pytest.mark.parametrize("ord_", VECTOR_ORDS + ["fro", -1, "nuc", 2])
def test_complex_norms_are_real_as_in_numpy(ord_):
  """Norms of complex arrays are real (|z|, not z*z), every order, vector and
  matrix, with special values in either part."""
  rng = np.random.default_rng(5)
  x = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(np.complex64)
  x[0, 0] = complex(0.0, -0.0) if ord_ != -1 else x[0, 0]  # (NumPy warns on 0**-1)
  matrix = ord_ in (None, "fro", "nuc", 1, -1, 2, np.inf, -np.inf)
  vector = not isinstance(ord_, str)
  axes = ([(0, 1)] if matrix else []) + ([0, 1] if vector else []) + ([None] if ord_ is None
                                                                       else [])
  for axis in axes:
    exp = np.linalg.norm(x, ord_, axis)
    got = jnp.linalg.norm(x, ord_, axis)
    assert_close(got, exp.astype(np.float32), f32, rtol=1e-5, atol=1e-5)
  y = x.copy()
  y[1, 2] = complex(np.inf, 1.0)
  y[2, 3] = complex(1.0, np.nan)
  for o in (None, 2, 1, np.inf, 0):
    assert_close(jnp.linalg.norm(y[1], o), np.float32(np.linalg.norm(y[1], o)), f32)
    assert_close(jnp.linalg.norm(y[2], o), np.float32(np.linalg.norm(y[2], o)), f32)


def test_norm_errors():
  with pytest.raises(ValueError, match="norm: improper number of dimensions"):
    jnp.linalg.norm(np.ones((2, 2, 2)), axis=(0, 1, 2))
  with pytest.raises(ValueError, match="Invalid order '3' for matrix norm"):
    jnp.linalg.norm(np.ones((2, 2)), 3)
