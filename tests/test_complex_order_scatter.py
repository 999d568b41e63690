"""Complex numbers in two places JAX accepts them: the order comparisons of
``rjax.numpy`` (``<``, ``jnp.greater``, ...: real parts, then imaginary parts,
while ``lax.gt`` and friends reject complex operands with JAX's TypeError)
and scatter-add / scatter-mul (``.at[].add`` / ``.at[].multiply``), each
against JAX 0.10.2 over drawn shapes, complex64/complex128 and special values
(NaN, infinities and signed zeros in either part), eager, under jit and vmap,
with JAX's gradients."""
import operator

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from util import enable_x64
from util_vs_jax import x64_in_both

import rjax
import rjax.numpy as jnp
from rjax import lax

jax.config.update("jax_platforms", "cpu")

_SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5]
_PART = st.one_of(st.sampled_from(_SPECIAL), st.floats(-4, 4, width=32))


@st.composite
def _complex_arrays(draw, shape, dtype):
  n = int(np.prod(shape))
  re = np.array(draw(st.lists(_PART, min_size=n, max_size=n)), np.float64).reshape(shape)
  im = np.array(draw(st.lists(_PART, min_size=n, max_size=n)), np.float64).reshape(shape)
  z = np.empty(shape, dtype)
  z.real, z.imag = re, im
  return z


@st.composite
def _operand_pair(draw, dtype):
  """Two complex arrays of broadcast-compatible shapes; the second often
  shares parts with the first, so ties in the real part are common."""
  shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
  a = draw(_complex_arrays(shape, dtype))
  if draw(st.booleans()):
    b = draw(_complex_arrays(shape, dtype))
    b = b.copy()
    tie = draw(hnp.arrays(np.bool_, shape))
    b.real[tie] = a.real[tie]
  else:
    b = draw(_complex_arrays(shape[-1:] if shape and draw(st.booleans()) else (), dtype))
  return a, b


_FUNCS = ["greater", "less", "greater_equal", "less_equal", "equal", "not_equal"]
_OPERATORS = [operator.gt, operator.lt, operator.ge, operator.le]


def _check_same(got, want):
  got, want = np.asarray(got), np.asarray(want)
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("x64,dtype", [(False, np.complex64), (True, np.complex128)])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_complex_comparisons_match_jax(x64, dtype, data):
  a, b = data.draw(_operand_pair(dtype))
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    with enable_x64(x64):
      ra, rb, ja, jb = jnp.asarray(a), jnp.asarray(b), jjnp.asarray(a), jjnp.asarray(b)
      for name in _FUNCS:
        want = getattr(jjnp, name)(ja, jb)
        _check_same(getattr(jnp, name)(ra, rb), want)
        _check_same(rjax.jit(getattr(jnp, name))(ra, rb), want)
        # the reversed operands, and the same aval on both sides (no promotion)
        _check_same(getattr(jnp, name)(rb, ra), getattr(jjnp, name)(jb, ja))
        _check_same(getattr(jnp, name)(ra, ra), getattr(jjnp, name)(ja, ja))
      for op in _OPERATORS:
        _check_same(op(ra, rb), op(ja, jb))
        _check_same(rjax.jit(op)(ra, rb), jax.jit(op)(ja, jb))
  finally:
    jax.config.update("jax_enable_x64", prev)


def test_complex_against_real_and_python_scalars_matches_jax():
  a = np.array([1 + 2j, 1 - 1j, 0.5 + 0j, np.nan + 0j, 1 + np.nan * 1j, -0.0 + 0j], np.complex64)
  for other in [1, 1.0, 0.5 + 1j, -0.0, np.float32(1), np.array([1.0, 1, 0.5, 0, 1, 0], np.float32),
                np.int32(1), True]:
    for name in _FUNCS:
      _check_same(getattr(jnp, name)(a, other), getattr(jjnp, name)(a, other))
      _check_same(getattr(jnp, name)(other, a), getattr(jjnp, name)(other, a))
    for op in _OPERATORS:
      _check_same(op(jnp.asarray(a), other), op(jjnp.asarray(a), other))
      _check_same(op(other, jnp.asarray(a)), op(other, jjnp.asarray(a)))
  # a Python complex against a real array promotes the array
  r = np.array([0.5, 1.0, 2.0], np.float32)
  for name in _FUNCS:
    _check_same(getattr(jnp, name)(r, 1 + 1j), getattr(jjnp, name)(r, 1 + 1j))


def test_complex_comparisons_under_vmap():
  rng = np.random.default_rng(0)
  a = (rng.integers(-1, 2, (3, 4)) + 1j * rng.integers(-1, 2, (3, 4))).astype(np.complex64)
  b = (rng.integers(-1, 2, (3, 4)) + 1j * rng.integers(-1, 2, (3, 4))).astype(np.complex64)
  for name in _FUNCS:
    _check_same(rjax.vmap(getattr(jnp, name))(a, b), jax.vmap(getattr(jjnp, name))(a, b))
    _check_same(rjax.vmap(getattr(jnp, name), in_axes=(1, None))(a, b[:, 0]),
                jax.vmap(getattr(jjnp, name), in_axes=(1, None))(a, b[:, 0]))


@pytest.mark.parametrize("name", ["lt", "le", "gt", "ge"])
def test_lax_order_comparisons_reject_complex_as_jax_does(name):
  a = np.array([1 + 1j, 2 + 0j], np.complex64)
  with pytest.raises(TypeError) as want:
    getattr(jax.lax, name)(a, a)
  with pytest.raises(TypeError) as got:
    getattr(lax, name)(a, a)
  assert "complex64" in str(got.value) and "complex64" in str(want.value)
  with pytest.raises(TypeError):
    rjax.jit(getattr(lax, name))(a, a)
  # lax's equality takes complex operands, as in JAX
  eq = getattr(lax, "eq" if name in ("le", "ge") else "ne")
  _check_same(eq(a, a[::-1]), getattr(jax.lax, eq.__name__)(a, a[::-1]))


# -- scatter-add / scatter-mul on complex arrays ------------------------------------------

def _assert_complex_equal(got, want, rtol):
  got, want = np.asarray(got), np.asarray(want)
  assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype,
                                                               got.shape, want.shape)
  for g, w in ((got.real, want.real), (got.imag, want.imag)):
    np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True)


@st.composite
def _scatter_case(draw, dtype):
  n = draw(st.integers(1, 6))
  rest = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
  x = draw(_complex_arrays((n,) + rest, dtype))
  k = draw(st.integers(0, 7))
  idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k)), np.int32)
  u = draw(_complex_arrays((k,) + rest, dtype))
  return x, idx, u


@pytest.mark.parametrize("x64,dtype", [(False, np.complex64), (True, np.complex128)])
@pytest.mark.parametrize("method", ["add", "multiply"])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_complex_scatter_add_and_multiply_match_jax(x64, dtype, method, data):
  x, idx, u = data.draw(_scatter_case(dtype))
  rtol = 1e-6 if dtype == np.complex64 else 1e-14
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    with enable_x64(x64):
      def f(x, u):
        return getattr(x.at[idx], method)(u)
      want = f(jjnp.asarray(x), jjnp.asarray(u))
      rx, ru = jnp.asarray(x), jnp.asarray(u)
      _assert_complex_equal(f(rx, ru), want, rtol)
      _assert_complex_equal(rjax.jit(f)(rx, ru), want, rtol)
      # a scalar update broadcasts
      s = u.reshape(-1)[0] if u.size else dtype(1 + 1j)
      _assert_complex_equal(getattr(rx.at[idx], method)(s),
                            getattr(jjnp.asarray(x).at[idx], method)(s), rtol)
      np.testing.assert_array_equal(np.asarray(rx), x)  # the input is unchanged
  finally:
    jax.config.update("jax_enable_x64", prev)


@pytest.mark.parametrize("method", ["add", "multiply"])
def test_complex_scatter_under_vmap_matches_jax(method):
  rng = np.random.default_rng(1)
  x = (rng.standard_normal((3, 5, 2)) + 1j * rng.standard_normal((3, 5, 2))).astype(np.complex64)
  u = (rng.standard_normal((3, 4, 2)) + 1j * rng.standard_normal((3, 4, 2))).astype(np.complex64)
  idx = np.array([0, 3, 0, -1], np.int32)

  def f(x, u):
    return getattr(x.at[idx], method)(u)
  _assert_complex_equal(rjax.vmap(f)(x, u), jax.vmap(f)(x, u), 1e-6)
  _assert_complex_equal(rjax.vmap(f, in_axes=(None, 0))(jnp.asarray(x[0]), u),
                        jax.vmap(f, in_axes=(None, 0))(jjnp.asarray(x[0]), u), 1e-6)
  x2, u2 = np.moveaxis(x, 0, 2), np.moveaxis(u, 0, 2)
  _assert_complex_equal(rjax.vmap(f, in_axes=(2, 2))(x2, u2),
                        jax.vmap(f, in_axes=(2, 2))(x2, u2), 1e-6)


def test_complex_scatter_gradients_match_jax():
  rng = np.random.default_rng(2)
  with x64_in_both():
    x = rng.standard_normal((5, 2)) + 1j * rng.standard_normal((5, 2))
    u = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    dup = np.array([1, 4, 1], np.int32)
    uniq = np.array([1, 4, 0], np.int32)

    def loss(np_, method, idx, unique):
      def f(x, u):
        y = getattr(np_.asarray(x).at[idx], method)(u, unique_indices=unique)
        return np_.sum(np_.abs(y) ** 2 + np_.real(y * np_.arange(1, 3)))
      return f

    cases = [("add", dup, False, (0, 1)), ("add", uniq, True, (0, 1)),
             ("multiply", dup, False, 0), ("multiply", uniq, True, (0, 1))]
    for method, idx, unique, argnums in cases:
      got = rjax.grad(loss(jnp, method, idx, unique), argnums=argnums)(x, u)
      want = jax.grad(loss(jjnp, method, idx, unique), argnums=argnums)(x, u)
      for g, w in zip(rjax.tree.leaves(got), jax.tree.leaves(want)):
        _assert_complex_equal(g, w, 1e-12)
      # holomorphic derivatives (jacfwd/jacrev of a complex output)
      def h(np_):
        return lambda x, u: getattr(np_.asarray(x).at[idx], method)(u * u,
                                                                    unique_indices=unique)
      for jac in ("jacfwd", "jacrev"):
        got = getattr(rjax, jac)(h(jnp), holomorphic=True, argnums=argnums)(x, u)
        want = getattr(jax, jac)(h(jjnp), holomorphic=True, argnums=argnums)(x, u)
        for g, w in zip(rjax.tree.leaves(got), jax.tree.leaves(want)):
          _assert_complex_equal(g, w, 1e-12)
    # as in JAX, updates' gradient of a scatter-mul needs unique indices
    with pytest.raises(NotImplementedError):
      jax.grad(loss(jjnp, "multiply", dup, False), argnums=1)(x, u)
    with pytest.raises(NotImplementedError):
      rjax.grad(loss(jnp, "multiply", dup, False), argnums=1)(x, u)

