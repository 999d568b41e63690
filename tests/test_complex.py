"""complex64/complex128 across the core, against JAX: promotion, creation and
conversion, the parts (lax.complex/real/imag/conj with their rules),
elementwise math with special values, reductions and products, jit fusion,
and autodiff conventions (the conjugate convention, holomorphic=True, and
JAX's TypeErrors)."""
import itertools
import warnings

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from util import enable_x64

import rjax
import rjax.numpy as jnp
from rjax import lax

jax.config.update("jax_platforms", "cpu")

_ALL = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
        np.uint64, jjnp.bfloat16, np.float16, np.float32, np.float64, np.complex64,
        np.complex128]
_SCALARS = [True, 1, 1.0, 1j]


def _jax_promote(a, b):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return np.dtype(jjnp.promote_types(a, b))


@pytest.mark.parametrize("x64", [False, True])
def test_promote_types_and_result_type_equal_jax_for_every_pair(x64):
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", x64)
  try:
    with enable_x64(x64):
      for a, b in itertools.product(_ALL, _ALL):
        assert jnp.promote_types(a, b) == _jax_promote(a, b), (a, b)
      # weak Python scalars (complex among them) against every dtype
      for a, s in itertools.product(_ALL, _SCALARS):
        with warnings.catch_warnings():
          warnings.simplefilter("ignore")
          want = np.dtype(jjnp.result_type(jjnp.zeros((), a), s))
        assert jnp.result_type(jnp.zeros((), a), s) == want, (a, s)
      for s, t in itertools.product(_SCALARS, _SCALARS):
        assert jnp.result_type(s, t) == np.dtype(jjnp.result_type(s, t)), (s, t)
  finally:
    jax.config.update("jax_enable_x64", prev)


def test_complex128_is_complex64_without_x64_and_itself_with_it():
  x = jnp.asarray(np.array([1 + 2j], np.complex128))
  assert x.dtype == np.complex64
  assert jnp.zeros(2, np.complex128).dtype == np.complex64
  with enable_x64():
    y = jnp.asarray(np.array([1 + 2j], np.complex128))
    assert y.dtype == np.complex128
    np.testing.assert_array_equal(np.asarray(y), [1 + 2j])


def test_creation_and_transfer():
  data = np.array([[1 + 2j, -3.5 - 0.25j], [np.inf + 1j, np.nan - 0j]], np.complex64)
  x = jnp.asarray(data)
  np.testing.assert_array_equal(np.asarray(x), data)
  assert np.asarray(x).dtype == np.complex64
  # a Python complex is weakly typed complex64, as in JAX
  s = jnp.asarray(2 - 1j)
  assert s.dtype == np.complex64 and s.aval.weak_type
  assert (jnp.ones(3, np.float32) + 1j).dtype == np.complex64
  assert (jnp.ones(3, np.float16) * 1j).dtype == np.complex64
  assert jnp.array([1, 2j]).dtype == np.complex64
  for f in ("zeros", "ones"):
    np.testing.assert_array_equal(np.asarray(getattr(jnp, f)((2, 3), np.complex64)),
                                  np.asarray(getattr(jjnp, f)((2, 3), np.complex64)))
  np.testing.assert_array_equal(np.asarray(jnp.full((2,), 1 - 2j)),
                                np.asarray(jjnp.full((2,), 1 - 2j)))
  assert jnp.full((2,), 1 - 2j).dtype == jjnp.full((2,), 1 - 2j).dtype
  np.testing.assert_array_equal(np.asarray(jnp.eye(3, dtype=np.complex64)),
                                np.asarray(jjnp.eye(3, dtype=np.complex64)))
  np.testing.assert_array_equal(np.asarray(jnp.arange(4, dtype=np.complex64)),
                                np.asarray(jjnp.arange(4, dtype=np.complex64)))
  # the input is not mutated, and the result is a copy
  before = data.copy()
  _ = jnp.asarray(data) * 2
  np.testing.assert_array_equal(data, before)


def test_astype_between_complex_and_real():
  x = jnp.asarray(np.array([1.5 + 2j, -3 - 4j], np.complex64))
  with pytest.warns(np.exceptions.ComplexWarning, match="discards the imaginary part"):
    r = x.astype(np.float32)
  np.testing.assert_array_equal(np.asarray(r), [1.5, -3])
  with pytest.warns(np.exceptions.ComplexWarning):
    i = x.astype(np.int32)
  np.testing.assert_array_equal(np.asarray(i), [1, -3])
  with pytest.warns(np.exceptions.ComplexWarning):
    b = lax.convert_element_type(jnp.asarray(np.array([0j, 1j, 0j + 2], np.complex64)),
                                 np.bool_)
  np.testing.assert_array_equal(np.asarray(b), [False, True, True])
  c = jnp.asarray(np.array([1, 2], np.int32)).astype(np.complex64)
  np.testing.assert_array_equal(np.asarray(c), [1 + 0j, 2 + 0j])


def test_lax_parts_and_their_errors():
  x = jnp.asarray(np.array([1, -2], np.float32))
  y = jnp.asarray(np.array([3, 0.5], np.float32))
  z = lax.complex(x, y)
  assert z.dtype == np.complex64
  np.testing.assert_array_equal(np.asarray(z), [1 + 3j, -2 + 0.5j])
  np.testing.assert_array_equal(np.asarray(lax.real(z)), [1, -2])
  np.testing.assert_array_equal(np.asarray(lax.imag(z)), [3, 0.5])
  np.testing.assert_array_equal(np.asarray(lax.conj(z)), [1 - 3j, -2 - 0.5j])
  assert lax.conj(x).dtype == np.complex64   # JAX: conj of a real is complex
  with pytest.raises(TypeError):
    lax.real(x)
  with pytest.raises(TypeError):
    lax.complex(x, jnp.asarray(np.array([1, 2], np.int32)))
  with pytest.raises(TypeError):
    lax.lt(z, z)
  with pytest.raises(TypeError):
    jax.lax.lt(jjnp.asarray(np.asarray(z)), jjnp.asarray(np.asarray(z)))


def test_parts_under_jit_vmap_and_jaxpr():
  x = jnp.asarray(np.array([[1, 2], [3, 4]], np.float32))
  f = lambda a, b: lax.conj(lax.complex(a, b)) * 2  # noqa: E731
  np.testing.assert_array_equal(np.asarray(rjax.jit(f)(x, x)), np.asarray(f(x, x)))
  np.testing.assert_array_equal(np.asarray(rjax.vmap(f)(x, x)), np.asarray(f(x, x)))
  assert "complex" in str(rjax.make_jaxpr(f)(x, x))


_c64 = np.complex64
# finite special values (signed zeros, tiny, and arguments whose exp/cosh overflow);
# parts that are inf or NaN are compared below only for the ops whose results
# do not depend on XLA's special-case formulas
_SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -3.0, 1e-8, 30.0, -30.0]
_NONFINITE = _SPECIAL + [np.inf, -np.inf, np.nan]
_special_complex = np.array([complex(a, b) for a in _SPECIAL for b in _SPECIAL], _c64)
_nonfinite_complex = np.array([complex(a, b) for a in _NONFINITE for b in _NONFINITE], _c64)

_UNARY = ["negative", "exp", "log", "sqrt", "abs", "sign", "expm1", "log1p", "sin", "cos", "tan",
          "sinh", "cosh", "tanh", "square", "reciprocal", "isfinite", "isnan", "isinf",
          "angle", "real", "imag", "conj", "conjugate", "iscomplex", "isreal"]


def _compare(got, want, dtype):
  got, want = np.asarray(got), np.asarray(want)
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  assert got.shape == want.shape
  if want.dtype == np.bool_:
    np.testing.assert_array_equal(got, want)
    return
  rtol = 2e-5 if np.dtype(dtype) == np.complex64 else 1e-12
  for part in ((lambda v: v.real, lambda v: v.imag) if got.dtype.kind == "c" else (lambda v: v,)):
    g, w = part(got), part(want)
    same_class = (np.isnan(g) == np.isnan(w)) & (np.isinf(g) == np.isinf(w))
    assert same_class.all(), (got[~same_class], want[~same_class])
    fin = np.isfinite(w)
    np.testing.assert_array_equal(np.sign(g[~fin & ~np.isnan(w)]), np.sign(w[~fin & ~np.isnan(w)]))
    np.testing.assert_allclose(g[fin], w[fin], rtol=rtol,
                               atol=rtol * (1 + np.abs(w[fin]).max(initial=0)))


@pytest.mark.parametrize("name", ["negative", "isfinite", "isnan", "isinf", "real", "imag",
                                  "conj", "iscomplex", "isreal", "square", "angle"])
def test_unary_nonfinite_parts_against_jax(name):
  x = _nonfinite_complex
  _compare(getattr(jnp, name)(jnp.asarray(x)), getattr(jjnp, name)(jjnp.asarray(x)), _c64)


@pytest.mark.parametrize("name", _UNARY)
def test_unary_special_values_against_jax(name):
  x = _special_complex
  # (rjax follows XLA on the branch cut too: sqrt(-1 - 0j) = +1j, as JAX; and
  # 1 / 0 gives XLA's signed infinities)
  got = getattr(jnp, name)(jnp.asarray(x))
  want = getattr(jjnp, name)(jjnp.asarray(x))
  _compare(got, want, _c64)


_BINARY = ["add", "subtract", "multiply", "divide", "equal", "not_equal", "power"]


@pytest.mark.parametrize("name", _BINARY)
def test_binary_special_values_against_jax(name):
  vals = np.array([0, 1, -2.5, 1e-3, 7, 3e15], np.float32)
  zs = np.array([complex(a, b) for a in vals for b in vals], _c64)
  x, y = np.meshgrid(zs, zs)
  if name == "power":   # finite, away from 0: pow's special values differ among libraries
    keep = np.isfinite(x) & np.isfinite(y) & (np.abs(x) > 1e-2) & (np.abs(y) < 5)
    x, y = x[keep], y[keep]
  got = getattr(jnp, name)(jnp.asarray(x), jnp.asarray(y))
  want = getattr(jjnp, name)(jjnp.asarray(x), jjnp.asarray(y))
  _compare(got, want, _c64)


_finite = st.floats(-20, 20, width=32)


@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=_finite),
       hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=_finite),
       st.sampled_from(["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "expm1", "log1p",
                        "tan", "sinh", "cosh", "sign", "reciprocal"]))
def test_unary_random_against_jax(re, im, name):
  shape = tuple(min(a, b) for a, b in zip(re.shape, im.shape))
  z = (re[:shape[0], :shape[1]] + 1j * im[:shape[0], :shape[1]]).astype(_c64)
  got = getattr(jnp, name)(jnp.asarray(z))
  want = getattr(jjnp, name)(jjnp.asarray(z))
  _compare(got, want, _c64)
  # fused under jit: the same values
  np.testing.assert_allclose(np.asarray(rjax.jit(getattr(jnp, name))(jnp.asarray(z))),
                             np.asarray(got), rtol=1e-6, atol=1e-6)


def test_complex128_values_under_x64():
  with enable_x64():
    z = np.array([0.3 - 1.2j, -2 + 0.5j, 1e-3 + 4j], np.complex128)
    for name in ("exp", "log", "sqrt", "sin", "tanh", "log1p", "expm1", "abs"):
      got = getattr(jnp, name)(jnp.asarray(z))
      assert np.asarray(got).dtype == getattr(np, name)(z).dtype
      np.testing.assert_allclose(np.asarray(got), getattr(np, name)(z), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(jnp.asarray(z) @ jnp.asarray(z)), z @ z, rtol=1e-13)


def test_sort_complex_and_integer_pow():
  z = np.array([3 + 1j, 1 - 2j, 1 + 2j, -1 + 0j, 3 - 5j], _c64)
  np.testing.assert_array_equal(np.asarray(jnp.sort_complex(jnp.asarray(z))),
                                np.asarray(jjnp.sort_complex(jjnp.asarray(z))))
  for n in (0, 1, 2, 3, 5, -1, -2):
    _compare(lax.integer_pow(jnp.asarray(z), n), jax.lax.integer_pow(jjnp.asarray(z), n), _c64)
  _compare(jnp.asarray(z) ** 3, jjnp.asarray(z) ** 3, _c64)
  assert jnp.iscomplexobj(jnp.asarray(z)) and not jnp.isrealobj(jnp.asarray(z))
  assert jnp.iscomplexobj(1j) and not jnp.iscomplexobj(1.0)


def test_reductions_and_products():
  rng = np.random.default_rng(0)
  a = (rng.standard_normal((4, 5)) + 1j * rng.standard_normal((4, 5))).astype(_c64)
  b = (rng.standard_normal((5, 3)) + 1j * rng.standard_normal((5, 3))).astype(_c64)
  ja, jb = jnp.asarray(a), jnp.asarray(b)
  for name, kw in [("sum", {}), ("sum", {"axis": 0}), ("prod", {"axis": 1}), ("mean", {}),
                   ("cumsum", {"axis": 1}), ("cumprod", {"axis": 0})]:
    got = getattr(jnp, name)(ja, **kw)
    want = getattr(jjnp, name)(jjnp.asarray(a), **kw)
    _compare(got, want, _c64)
  _compare(ja @ jb, jjnp.asarray(a) @ jjnp.asarray(b), _c64)
  _compare(jnp.einsum("ij,jk->ik", ja, jb), jjnp.einsum("ij,jk->ik", a, b), _c64)
  _compare(jnp.dot(ja, jnp.asarray(np.ones(5, np.float32))),
           jjnp.dot(jjnp.asarray(a), jjnp.ones(5, np.float32)), _c64)
  _compare(rjax.jit(lambda x: jnp.sum(x * x))(ja), jjnp.sum(jjnp.asarray(a) ** 2), _c64)
  big = (rng.standard_normal((64, 300)) + 1j * rng.standard_normal((64, 300))).astype(_c64)
  bb = (rng.standard_normal((300, 70)) + 1j * rng.standard_normal((300, 70))).astype(_c64)
  np.testing.assert_allclose(np.asarray(jnp.asarray(big) @ jnp.asarray(bb)),
                             big.astype(np.complex128) @ bb, rtol=1e-4, atol=1e-3)
  # batched: one product per leading index
  bat = np.stack([a, a * 1j])
  np.testing.assert_allclose(np.asarray(jnp.matmul(jnp.asarray(bat), jb)),
                             np.matmul(bat, b), rtol=1e-5, atol=1e-5)


def test_complex_chain_fuses_under_jit():
  f = lambda z: jnp.exp(z) * z + jnp.conj(z) - 1j  # noqa: E731
  z = jnp.asarray(np.array([1 + 1j, -0.5 + 2j, 3 - 1j], _c64))
  text = rjax.jit(f).lower(z).as_text()
  assert text.count("fused") >= 1, text
  _compare(rjax.jit(f)(z), f(z), _c64)


# -- autodiff -------------------------------------------------------------------------


def test_grad_of_a_real_function_of_complex_inputs_is_jax_conjugate_convention():
  z = np.array(0.3 - 1.2j, _c64)
  for f, jf in [(lambda v: jnp.abs(v) ** 2, lambda v: jjnp.abs(v) ** 2),
                (lambda v: jnp.real(v * v), lambda v: jjnp.real(v * v)),
                (lambda v: jnp.imag(jnp.exp(v)), lambda v: jjnp.imag(jjnp.exp(v))),
                (lambda v: jnp.abs(jnp.sin(v)), lambda v: jjnp.abs(jjnp.sin(v)))]:
    got, want = rjax.grad(f)(jnp.asarray(z)), jax.grad(jf)(jjnp.asarray(z))
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)


def test_holomorphic_grad_jacfwd_jacrev():
  z = np.array([0.3 - 1.2j, 2 + 0.5j], _c64)
  f = lambda v: jnp.sum(jnp.sin(v) * v)  # noqa: E731
  jf = lambda v: jjnp.sum(jjnp.sin(v) * v)  # noqa: E731
  np.testing.assert_allclose(np.asarray(rjax.grad(f, holomorphic=True)(jnp.asarray(z))),
                             np.asarray(jax.grad(jf, holomorphic=True)(z)), rtol=1e-5)
  g = lambda v: jnp.exp(v) * v  # noqa: E731
  jg = lambda v: jjnp.exp(v) * v  # noqa: E731
  for rj, jj in [(rjax.jacfwd, jax.jacfwd), (rjax.jacrev, jax.jacrev)]:
    np.testing.assert_allclose(np.asarray(rj(g, holomorphic=True)(jnp.asarray(z))),
                               np.asarray(jj(jg, holomorphic=True)(z)), rtol=1e-5)


def test_autodiff_dtype_errors_are_jax_type_errors():
  z = jnp.asarray(np.array(1 + 1j, _c64))
  x = jnp.asarray(np.float32(1))
  cases = [
      (lambda: rjax.grad(lambda v: v * v)(z), lambda: jax.grad(lambda v: v * v)(1 + 1j)),
      (lambda: rjax.grad(lambda v: v, holomorphic=True)(x),
       lambda: jax.grad(lambda v: v, holomorphic=True)(1.0)),
      (lambda: rjax.grad(lambda v: jnp.real(v), holomorphic=True)(z),
       lambda: jax.grad(lambda v: jjnp.real(v), holomorphic=True)(1 + 1j)),
      (lambda: rjax.jacfwd(lambda v: v)(z), lambda: jax.jacfwd(lambda v: v)(1 + 1j)),
      (lambda: rjax.jacrev(lambda v: v * 1j)(x), lambda: jax.jacrev(lambda v: v * 1j)(1.0)),
  ]
  for ours, theirs in cases:
    with pytest.raises(TypeError) as e_jax:
      theirs()
    with pytest.raises(TypeError) as e_ours:
      ours()
    assert str(e_ours.value).split(",")[0] == str(e_jax.value).split(",")[0]


def test_check_grads_through_complex_intermediates():
  # a real function of real inputs through complex ops: float64 numerical derivatives
  from rjax.test_util import check_grads
  with enable_x64():
    def f(a, b):
      z = lax.complex(a, b)
      return jnp.real(jnp.exp(z) * jnp.conj(z)) + jnp.abs(jnp.sqrt(z))
    a = jnp.asarray(np.array([0.3, -1.1], np.float64))
    b = jnp.asarray(np.array([0.7, 0.4], np.float64))
    check_grads(f, (a, b), order=2, modes=("fwd", "rev"))


def test_check_grads_on_complex_arguments_follows_jax_convention():
  """check_grads takes complex inputs directly (JAX's inner product
  real(conj(a) . b) and conj(vjp(conj(u)))), and still catches a wrong VJP."""
  from rjax.test_util import check_grads
  with enable_x64():
    z = jnp.array([0.3 + 0.2j, -1.1 + 0.5j])
    check_grads(lambda z: jnp.sin(z) * z, (z,), order=2)
    check_grads(lambda z: jnp.abs(z) ** 2 + jnp.real(z) * jnp.imag(z), (z,), order=1)

    @rjax.custom_vjp
    def f(z):
      return z * 2

    f.defvjp(lambda z: (z * 2, None), lambda _, g: (g * 3,))
    with pytest.raises(AssertionError, match="VJP"):
      check_grads(f, (z,), order=1, modes=("rev",))
