"""Scalar types, dtype queries, JAX's promotion table (generated once with the
system python's JAX 0.10 into tests/data/promotion_table.json), and the
comparison helpers (isclose, allclose, array_equal, array_equiv)."""
import json
import math
import os

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from util import arrays, enable_x64, float_dtypes, shapes

with open(os.path.join(os.path.dirname(__file__), "data", "promotion_table.json")) as f:
  TABLE = json.load(f)
SCALARS = {"int": 1, "float": 1.5, "bool": True}
bf16 = np.dtype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("name", ["bool_", "int8", "int16", "int32", "uint8", "uint16", "uint32",
                                  "float16", "bfloat16", "float32"])
def test_scalar_constructors(name):
  t = getattr(jnp, name)
  x = t(1)
  assert type(x) is rjax.Array and x.shape == () and not x.weak_type
  assert x.dtype == np.dtype(t) == t.dtype
  v = t([1, 0])
  assert v.shape == (2,) and v.dtype == t.dtype
  assert lax.convert_element_type(jnp.ones(2), t).dtype == t.dtype


def test_scalar_type_details():
  assert np.dtype(jnp.float32) == np.float32
  assert jnp.float32 == np.float32 and {jnp.float32: 1}[np.float32] == 1
  assert float(jnp.float32("1.5")) == 1.5
  assert jnp.int64(3).dtype == np.int32 and jnp.float64(1).dtype == np.float32
  assert jnp.int_ is jnp.int64 and jnp.float_ is jnp.float64 and jnp.uint is jnp.uint64
  assert jnp.double is jnp.float64 and jnp.single is jnp.float32 and jnp.half is jnp.float16
  assert jnp.bfloat16.dtype == bf16
  assert jnp.zeros(2, jnp.bfloat16).dtype == bf16
  assert isinstance(np.float32(1), jnp.float32)
  with enable_x64():
    assert jnp.int64(3).dtype == np.int64 and jnp.float_(1).dtype == np.float64


def test_default_dtypes():
  assert jnp.arange(3).dtype == np.int32
  assert jnp.zeros(3).dtype == np.float32
  assert jnp.asarray(1.0).dtype == np.float32
  with enable_x64():
    assert jnp.arange(3).dtype == np.int64
    assert jnp.zeros(3).dtype == np.float64
    assert jnp.ones((2,), int).dtype == np.int64


def test_constants():
  assert jnp.pi == math.pi and jnp.e == math.e and jnp.inf == math.inf and math.isnan(jnp.nan)
  assert jnp.euler_gamma == pytest.approx(0.5772156649015329) and jnp.newaxis is None


def test_dtype_queries():
  assert jnp.dtype("float32") == np.float32 and jnp.dtype(jnp.bfloat16) == bf16
  assert jnp.finfo(jnp.bfloat16).eps == 0.0078125 and jnp.finfo(np.float16).bits == 16
  assert jnp.iinfo(jnp.int8).max == 127 and jnp.iinfo(np.uint16).max == 65535
  assert jnp.issubdtype(jnp.bfloat16, jnp.floating) and jnp.issubdtype(jnp.float32, jnp.inexact)
  assert jnp.issubdtype(jnp.int8, jnp.signedinteger) and not jnp.issubdtype(jnp.uint8, jnp.signedinteger)
  assert jnp.issubdtype(np.dtype("float32"), np.floating) and jnp.issubdtype(jnp.bool_, jnp.bool_)
  assert jnp.issubdtype(jnp.float32, jnp.float32) and not jnp.issubdtype(jnp.float32, jnp.float16)
  assert jnp.isdtype(jnp.float32, "real floating") and jnp.isdtype(bf16, "numeric")
  assert jnp.isdtype(jnp.uint8, ("bool", "unsigned integer")) and not jnp.isdtype(jnp.int8, "bool")
  assert jnp.isdtype(jnp.int8, jnp.int8)
  with pytest.raises(ValueError, match="isdtype: unrecognized kind"):
    jnp.isdtype(jnp.int8, "foo")
  assert not jnp.can_cast(jnp.int32, jnp.float32) and jnp.can_cast(jnp.int8, jnp.int16)
  assert not jnp.can_cast(jnp.float32, jnp.int32, "same_kind")
  assert jnp.promote_types(jnp.int8, jnp.uint8) == np.int16
  assert jnp.promote_types(jnp.int64, jnp.float16) == np.float16
  assert jnp.result_type(1, jnp.int8) == np.int8 and jnp.result_type(1.0) == np.float32
  assert jnp.isscalar(1) and jnp.isscalar(jnp.asarray(1)) and jnp.isscalar(np.float32(1))
  assert not jnp.isscalar(jnp.ones(2)) and not jnp.isscalar([1])


@pytest.mark.parametrize("x64", [False, True])
def test_promotion_table_pairs(x64):
  t = TABLE["x64" if x64 else "x32"]
  with enable_x64(x64):
    for key, exp in t["pairs"].items():
      a, b = key.split(",")
      assert jnp.result_type(np.dtype(a) if a != "bfloat16" else bf16,
                             np.dtype(b) if b != "bfloat16" else bf16).name == exp, key
    for key, exp in t["scalar"].items():
      a, s = key.split(",")
      assert jnp.result_type(np.dtype(a) if a != "bfloat16" else bf16, SCALARS[s]).name == exp, key
    for key, exp in t["scalar_scalar"].items():
      s1, s2 = key.split(",")
      assert jnp.result_type(SCALARS[s1], SCALARS[s2]).name == exp[0], key


@pytest.mark.parametrize("x64", [False, True])
def test_promotion_table_add(x64):
  t = TABLE["x64" if x64 else "x32"]
  dt = lambda n: bf16 if n == "bfloat16" else np.dtype(n)  # noqa: E731
  with enable_x64(x64):
    for key, exp in t["add"].items():
      a, b = key.split(",")
      assert jnp.add(jnp.zeros(2, dt(a)), jnp.zeros(2, dt(b))).dtype.name == exp, key
    for key, exp in t["add_scalar"].items():
      if exp is None:
        continue
      a, s = key.split(",")
      r = jnp.add(jnp.zeros(2, dt(a)), SCALARS[s])
      assert [r.dtype.name, r.weak_type] == exp, key


# ---------------------------------------------------------------------------
# isclose / allclose / array_equal / array_equiv


@given(st.data(), st.sampled_from(float_dtypes))
def test_isclose_vs_numpy(data, dt):
  shape = data.draw(shapes(max_dims=3))
  specials = np.array([np.nan, np.inf, -np.inf, 0.0], np.float32)

  def draw_with_specials():
    x = data.draw(arrays(dt, shape)).astype(np.float32)
    pick = data.draw(arrays(np.int8, shape, lo=0, hi=12))
    return np.where(pick < 4, specials[np.minimum(pick, 3)], x).astype(dt)

  a, b = draw_with_specials(), draw_with_specials()
  b = np.where(data.draw(arrays(np.bool_, shape)), a, b).astype(dt)
  a0, b0 = a.copy(), b.copy()
  for equal_nan in (False, True):
    for rtol, atol in ((1e-5, 1e-8), (0.1, 0.5)):
      got = jnp.isclose(a, b, rtol, atol, equal_nan)
      exp = np.isclose(a.astype(np.float64), b.astype(np.float64), rtol, atol, equal_nan)
      assert got.dtype == np.bool_
      # rtol/atol are rounded to the operands' dtype in JAX; compare only where it cannot matter
      af, bf = a.astype(np.float64), b.astype(np.float64)
      with np.errstate(invalid="ignore"):
        margin = np.abs(np.abs(af - bf) - (atol + rtol * np.abs(bf)))
        safe = ~(margin < 1e-2 * (1 + np.abs(bf)))
      np.testing.assert_array_equal(np.asarray(got)[safe], exp[safe])
      assert bool(jnp.allclose(a, b, rtol, atol, equal_nan)) == bool(np.all(np.asarray(got)))
  assert a.tobytes() == a0.tobytes() and b.tobytes() == b0.tobytes()  # inputs untouched


def test_isclose_special_values_and_ints():
  r = jnp.isclose(np.array([np.inf, np.inf, np.nan, 1.0], np.float32),
                  np.array([np.inf, -np.inf, np.nan, 1.0 + 1e-9], np.float32))
  np.testing.assert_array_equal(r, [True, False, False, True])
  assert bool(jnp.isclose(np.nan, np.nan, equal_nan=True))
  r = jnp.isclose(np.array([1, 2], np.int8), np.array([1, 3], np.int8))
  assert r.dtype == np.bool_
  np.testing.assert_array_equal(r, [True, False])
  out = jnp.allclose(np.ones(3), 1)
  assert type(out) is rjax.Array and out.shape == () and out.dtype == np.bool_ and bool(out)
  assert bool(jnp.allclose(np.zeros(0), np.zeros(0)))


def test_array_equal_equiv():
  for fn in (jnp.array_equal, jnp.array_equiv):
    out = fn([1, 2], [1, 2])
    assert type(out) is rjax.Array and out.shape == () and out.dtype == np.bool_ and bool(out)
  assert not bool(jnp.array_equal([1], [1, 2]))
  assert not bool(jnp.array_equal([1, 2], [1, 3]))
  assert bool(jnp.array_equal(np.zeros((0, 2)), np.zeros((0, 2))))
  nan = np.array([1.0, np.nan], np.float32)
  assert not bool(jnp.array_equal(nan, nan)) and bool(jnp.array_equal(nan, nan, equal_nan=True))
  assert bool(jnp.array_equal(np.arange(3, dtype=np.int8), np.arange(3.0)))
  assert bool(jnp.array_equiv([1, 2], [[1, 2], [1, 2]]))
  assert not bool(jnp.array_equiv([1, 2], [[1, 2], [1, 3]]))
  assert not bool(jnp.array_equiv([1, 2], [1, 2, 3]))
  assert bool(jnp.array_equiv(np.ones((2, 3)), 1.0))


_CONCRETE = ["bool_", "int8", "uint32", "float16", "bfloat16", "float32", "float64", "complex64",
             "complex128"]
_ABSTRACT = ["generic", "number", "integer", "signedinteger", "unsignedinteger", "inexact",
             "floating", "complexfloating", "character", "flexible"]


def test_issubdtype_matches_jax_over_the_whole_hierarchy():
  import itertools
  import jax.numpy as jjnp
  for a, b in itertools.product(_CONCRETE + _ABSTRACT, repeat=2):
    assert jnp.issubdtype(getattr(jnp, a), getattr(jnp, b)) == jjnp.issubdtype(
        getattr(jjnp, a), getattr(jjnp, b)), (a, b)


@pytest.mark.parametrize("name", ["complex64", "complex128", "complex_", "csingle", "cdouble"])
def test_complex_scalar_types(name):
  import jax.numpy as jjnp
  t = getattr(jnp, name)
  assert t == getattr(jjnp, name) and np.dtype(t) == np.dtype(getattr(jjnp, name))
  with enable_x64():
    x = t(1.5 - 2j)
    assert isinstance(x, rjax.Array) and x.dtype == np.dtype(t) and complex(x) == 1.5 - 2j
    assert jnp.zeros((2,), t).dtype == np.dtype(t)
  assert jnp.issubdtype(t, jnp.complexfloating) and not jnp.issubdtype(t, jnp.floating)
