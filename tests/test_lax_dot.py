"""lax.dot_general / dot / batch_matmul against np.einsum (the registered reference)."""
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st

from rjax import lax
from rjax._src.lax import matmul as dot_mod
from rjax._src.interpreters import reference
from util import all_dtypes, arrays, assert_close, enable_x64, noncontiguous

ref = reference.references[dot_mod.dot_general_p]
bf16 = np.dtype(ml_dtypes.bfloat16)


@st.composite
def dot_problems(draw, dtypes=all_dtypes, max_side=4):
  """Random (lhs, rhs, dimension_numbers) with permuted axes."""
  dt = draw(st.sampled_from(dtypes))
  side = st.integers(0, max_side)
  b = draw(st.lists(side, max_size=2))
  c = draw(st.lists(side, max_size=2))
  lf = draw(st.lists(side, max_size=2))
  rf = draw(st.lists(side, max_size=2))
  lhs_axes = [("b", i) for i in range(len(b))] + [("c", i) for i in range(len(c))] + \
      [("f", i) for i in range(len(lf))]
  rhs_axes = [("b", i) for i in range(len(b))] + [("c", i) for i in range(len(c))] + \
      [("f", i) for i in range(len(rf))]
  lhs_axes = draw(st.permutations(lhs_axes))
  rhs_axes = draw(st.permutations(rhs_axes))
  size = {"b": b, "c": c}

  def shape(axes, free):
    return tuple(free[i] if k == "f" else size[k][i] for k, i in axes)

  ls, rs = shape(lhs_axes, lf), shape(rhs_axes, rf)
  dn = ((tuple(lhs_axes.index(("c", i)) for i in range(len(c))),
         tuple(rhs_axes.index(("c", i)) for i in range(len(c)))),
        (tuple(lhs_axes.index(("b", i)) for i in range(len(b))),
         tuple(rhs_axes.index(("b", i)) for i in range(len(b)))))
  lo, hi = (-8, 8)
  lhs = draw(arrays(dt, ls, lo=lo, hi=hi))
  rhs = draw(arrays(dt, rs, lo=lo, hi=hi))
  return lhs, rhs, dn


@given(dot_problems(), st.booleans())
def test_dot_general_vs_einsum(p, noncontig):
  lhs, rhs, dn = p
  l0, r0 = lhs.copy(), rhs.copy()
  if noncontig:
    lhs, rhs = noncontiguous(lhs), noncontiguous(rhs)
  out = lax.dot_general(lhs, rhs, dn)
  assert out.dtype == lhs.dtype
  assert_close(out, ref(lhs, rhs, dimension_numbers=dn), lhs.dtype)
  np.testing.assert_array_equal(lhs, l0)  # inputs untouched
  np.testing.assert_array_equal(rhs, r0)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32, np.float16])
def test_matmul_transposed_layouts_large(ta, tb, dt):
  """Large enough to hit the parallel GEMM; transposed operands are read in place."""
  rng = np.random.default_rng(0)
  m, k, n = 150, 130, 140
  a = rng.integers(-3, 4, (k, m) if ta else (m, k)).astype(dt)
  b = rng.integers(-3, 4, (n, k) if tb else (k, n)).astype(dt)
  dn = (((0 if ta else 1,), (1 if tb else 0,)), ((), ()))
  with enable_x64():
    out = lax.dot_general(a, b, dn)
  e = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
  assert out.dtype == np.dtype(dt)
  np.testing.assert_array_equal(np.asarray(out).astype(np.float64), e)


def test_batched_many_small_and_few_large():
  rng = np.random.default_rng(1)
  a = rng.standard_normal((64, 8, 9)).astype(np.float32)
  b = rng.standard_normal((64, 9, 7)).astype(np.float32)
  assert_close(lax.batch_matmul(a, b), a @ b, np.float32, rtol=1e-5, atol=1e-5)
  a = rng.standard_normal((2, 100, 90)).astype(np.float32)
  b = rng.standard_normal((2, 90, 110)).astype(np.float32)
  assert_close(lax.batch_matmul(a, b), a @ b, np.float32, rtol=1e-4, atol=1e-4)
  # batch dim in the middle of the operand (not the leading dim): permuted copy
  a2 = np.ascontiguousarray(a.transpose(1, 0, 2))
  out = lax.dot_general(a2, b, (((2,), (1,)), ((1,), (0,))))
  assert_close(out, a @ b, np.float32, rtol=1e-4, atol=1e-4)


def test_int_wraps_and_bool_or_of_ands():
  a = np.array([[100, 100]], np.int8)
  out = lax.dot(a, np.array([2, 1], np.int8))
  assert out.dtype == np.int8 and int(np.asarray(out)[0]) == np.int8(300 - 256)
  t = np.array([[True, False], [False, False]])
  out = lax.dot(t, np.array([True, True]))
  assert out.dtype == np.bool_
  np.testing.assert_array_equal(out, [True, False])
  big = np.ones((70, 600), np.int32)
  np.testing.assert_array_equal(lax.dot(big, big.T), np.full((70, 70), 600, np.int32))


def test_zero_sized():
  out = lax.dot(np.ones((3, 0), np.float32), np.ones((0, 4), np.float32))
  np.testing.assert_array_equal(out, np.zeros((3, 4), np.float32))
  out = lax.dot(np.ones((0, 5), np.int32), np.ones((5, 2), np.int32))
  assert out.shape == (0, 2) and out.dtype == np.int32


# JAX 0.10 (system python) result dtypes of mixed-dtype / preferred_element_type dots.
@pytest.mark.parametrize("a,b,pref,expected", [
    (np.uint8, np.int8, None, np.int8),
    (np.bool_, np.int8, None, np.int8),
    (np.uint16, np.int8, None, np.uint16),
    (np.uint32, np.int16, None, np.uint32),
    (np.float16, bf16, None, bf16),
    (np.int32, np.float16, None, np.float16),
    (np.int8, np.int8, np.int32, np.int32),
    (np.int8, np.int8, np.uint32, np.uint32),
    (np.int8, np.int8, np.float32, np.float32),
    (bf16, bf16, np.float32, np.float32),
    (np.float32, np.float32, bf16, bf16),
    (np.float32, np.float32, np.int32, np.int32),
])
def test_result_dtypes(a, b, pref, expected):
  x = np.arange(3).astype(a)
  y = np.array([1, 0, 1]).astype(b)
  out = lax.dot(x, y, preferred_element_type=pref)
  assert out.dtype == np.dtype(expected)
  assert float(np.asarray(out).astype(np.float64)) == (2.0 if a != np.bool_ else 1.0)


def test_int8_accumulates_in_preferred():
  a = np.full((1, 4), 100, np.int8)
  out = lax.dot(a, a.T, preferred_element_type=np.int32)
  assert out.dtype == np.int32 and int(np.asarray(out)[0, 0]) == 40000


def test_errors():
  a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
  with pytest.raises(TypeError, match="dot_general requires contracting dimensions to have the "
                     r"same shape, got \(2,\) and \(3,\)"):
    lax.dot_general(a, b, (((0,), (0,)), ((), ())))
  with pytest.raises(TypeError, match="dot_general requires lhs batch dimensions and rhs batch"):
    lax.dot_general(a, b, (((1,), (0,)), ((0,), (1,))))
  with pytest.raises(TypeError, match="dot_general requires lhs contracting dimensions to be "
                     "distinct"):
    lax.dot_general(a, b, (((1, 1), (0, 0)), ((), ())))
  with pytest.raises(TypeError, match="dot_general requires lhs dimension numbers to be "
                     "nonnegative and less than"):
    lax.dot_general(a, b, (((3,), (0,)), ((), ())))
  with pytest.raises(TypeError, match="dot_general requires rhs batch and contracting"):
    lax.dot_general(a, b, (((1,), (0,)), ((0,), (0,))))
  with pytest.raises(TypeError, match="must not be narrower"):
    lax.dot(np.ones(3, np.int32), np.ones(3, np.int32), preferred_element_type=np.int8)
  with pytest.raises(ValueError, match="dimension_numbers must be specified"):
    lax.dot(np.ones((2, 3)), np.ones((4, 3)))
  with pytest.raises(TypeError, match="dot_general: dimension_numbers must be"):
    lax.dot_general(a, b, (1, 0))
  with pytest.raises(ValueError, match="batch_matmul: arguments must have equal rank"):
    lax.batch_matmul(a, np.ones((2, 3, 4)))


@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_large_permuted_copy(dt):
  """Free dims split by a batch dim force a parallel permuted copy of the lhs
  (rows of 999 elements; row blocks must not split a row)."""
  rng = np.random.default_rng(2)
  a = rng.integers(-3, 3, (71, 2, 3, 333)).astype(dt)
  b = rng.integers(-3, 3, (2, 333, 5)).astype(dt)
  out = lax.dot_general(a, b, (((3,), (1,)), ((1,), (0,))))
  np.testing.assert_array_equal(out, np.einsum("mbck,bkn->bmcn", a, b).astype(dt))


# Sizes around the AVX-512 GEMM's blocking (tile 14 x 32 for f32, 14 x 16 for
# f64, K blocks of at most 384): products with m >= 8, n >= 32 and
# m * n * k >= 2**18 take that path where the CPU has AVX-512, the others the
# `gemm` crate; the Rust tests run both paths explicitly.
@given(m=st.sampled_from([1, 8, 13, 14, 15, 29, 31, 97, 131]),
       k=st.sampled_from([1, 2, 97, 257, 383, 385, 601]),
       n=st.sampled_from([1, 31, 32, 33, 47, 97, 131, 260]),
       batch=st.sampled_from([(), (2,), (3,)]),
       ta=st.booleans(), tb=st.booleans(), noncontig=st.booleans(),
       dt=st.sampled_from([np.float32, np.float64]))
def test_gemm_blocking_edges_exact(m, k, n, batch, ta, tb, noncontig, dt):
  """Small-integer data, so every float result is exact: any packing, edge or
  accumulation mistake shows as a mismatch."""
  rng = np.random.default_rng(m * 1000003 + k * 1009 + n)
  nb = len(batch)
  a = rng.integers(-4, 5, batch + ((k, m) if ta else (m, k))).astype(dt)
  b = rng.integers(-4, 5, batch + ((n, k) if tb else (k, n))).astype(dt)
  if noncontig:
    a, b = noncontiguous(a), noncontiguous(b)
  bd = tuple(range(nb))
  dn = (((nb if ta else nb + 1,), (nb + 1 if tb else nb,)), (bd, bd))
  with enable_x64():
    out = lax.dot_general(a, b, dn)
  a64 = np.swapaxes(a, -1, -2) if ta else a
  b64 = np.swapaxes(b, -1, -2) if tb else b
  e = np.matmul(a64.astype(np.float64), b64.astype(np.float64))
  assert out.dtype == np.dtype(dt) and out.shape == batch + (m, n)
  np.testing.assert_array_equal(np.asarray(out).astype(np.float64), e)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_f32_random_values(ta, tb):
  """Normal data through the large-product path (f32 accumulation against a
  float64 NumPy reference)."""
  rng = np.random.default_rng(3)
  m, k, n = 300, 769, 261
  a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
  b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
  out = lax.dot_general(a, b, (((0 if ta else 1,), (1 if tb else 0,)), ((), ())))
  e = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
  assert_close(out, e, np.float32, rtol=1e-4, atol=1e-3)
