"""The vectorised float32 transcendentals (rust/src/ops/unary/fastmath.rs)
against NumPy/SciPy in float64, within the error bounds in ulp that the Rust
doc comments state: any float32 bit pattern (NaN, ±inf, ±0, subnormals,
overflow and underflow included) and each op's interesting range, eager and
under jit. float64 stays on libm: checked against the same references."""
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.lax as lax
import rjax.numpy as jnp
from util import enable_x64

# name, rjax op, float64 reference, max error in ulp (as in fastmath.rs), the
# range where the op's result is not saturated
OPS = [
    ("exp", lax.exp, np.exp, 1.0, (-104.0, 89.0)),
    ("expm1", lax.expm1, np.expm1, 1.0, (-18.0, 89.0)),
    ("log", lax.log, np.log, 1.0, (0.0, 1e4)),
    ("log1p", lax.log1p, np.log1p, 1.0, (-1.0, 1e4)),
    ("logistic", lax.logistic, sp.expit, 2.0, (-104.0, 17.0)),
    ("erf", lax.erf, sp.erf, 2.0, (-4.0, 4.0)),
    ("sin", lax.sin, np.sin, 1.0, (-1e5, 1e5)),
    ("cos", lax.cos, np.cos, 1.0, (-1e5, 1e5)),
    ("tanh", lax.tanh, np.tanh, 2.0, (-10.0, 10.0)),
]


def ulp_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
  """|got - want| in ulp of the float32 binade of `want` (2^-149 for
  subnormals); NaNs and infinities must match exactly (error 0, else inf)."""
  with np.errstate(all="ignore"):  # casts of signalling NaNs raise "invalid"
    got = got.astype(np.float64)
    w32 = want.astype(np.float32).astype(np.float64)
  special = ~np.isfinite(got) | ~np.isfinite(w32)
  same = (np.isnan(got) & np.isnan(w32)) | (got == w32)
  a = np.maximum(np.abs(np.where(special, 1.0, want)), 2.0**-126)
  ulp = np.ldexp(1.0, np.frexp(a)[1] - 1 - 23)
  with np.errstate(all="ignore"):
    err = np.abs(np.where(special, 0.0, got - want)) / ulp
  return np.where(special, np.where(same, 0.0, np.inf), err)


def f32_elements(lo: float, hi: float):
  bits = st.integers(0, 2**32 - 1).map(lambda b: np.array(b, np.uint32).view(np.float32)[()])
  return st.one_of(bits, st.floats(width=32),
                   st.floats(lo, hi, width=32, allow_subnormal=False))


def check(name, op, ref, bound, x, via_jit):
  fn = rjax.jit(op) if via_jit else op
  got = np.asarray(fn(jnp.asarray(x)))
  assert got.dtype == np.float32
  with np.errstate(all="ignore"):
    want = ref(x.astype(np.float64))
  err = ulp_error(got, want)
  i = int(np.argmax(err)) if err.size else 0
  assert not err.size or err.flat[i] <= bound, (
      f"{name}({x.flat[i]!r}) = {got.flat[i]!r}, float64 says {want.flat[i]!r}: "
      f"{err.flat[i]:.3f} ulp > {bound}")


@pytest.mark.parametrize("name,op,ref,bound,rng", OPS, ids=[o[0] for o in OPS])
@settings(max_examples=40)
@given(data=st.data())
def test_float32_within_stated_ulp(name, op, ref, bound, rng, data):
  x = data.draw(hnp.arrays(np.float32, st.integers(0, 300), elements=f32_elements(*rng)))
  check(name, op, ref, bound, x, via_jit=data.draw(st.booleans()))


@pytest.mark.parametrize("name,op,ref,bound,rng", OPS, ids=[o[0] for o in OPS])
def test_float32_dense_sweep(name, op, ref, bound, rng):
  """A million evenly spaced points over the op's range, plus the values
  where a path or a special case changes."""
  lo, hi = rng
  x = np.linspace(lo, hi, 1_000_001, dtype=np.float32)
  edges = np.array([0.0, -0.0, 0.5, -0.5, 0.625, 0.875, -0.875, 4.0, -1.0, 1.0, 20.0, -20.0,
                    88.72283, 88.722832, -103.97207, -103.97208, np.pi / 4, 5419351.0,
                    15684849.0, 3e38, -3e38, 1e-45, -1e-45, 1e-40, np.inf, -np.inf, np.nan],
                   np.float32)
  check(name, op, ref, bound, np.concatenate([x, edges, np.nextafter(edges, np.float32(0))]),
        via_jit=False)


def test_float32_special_values():
  inf, nan = np.float32(np.inf), np.float32(np.nan)
  x = jnp.asarray(np.array([0.0, -0.0, inf, -inf, nan], np.float32))
  r = lambda f: np.asarray(f(x))
  np.testing.assert_array_equal(r(lax.exp), [1, 1, inf, 0, nan])
  np.testing.assert_array_equal(r(lax.log), [-inf, -inf, inf, nan, nan])
  np.testing.assert_array_equal(r(lax.log1p), [0, -0.0, inf, nan, nan])
  np.testing.assert_array_equal(r(lax.expm1), [0, -0.0, inf, -1, nan])
  np.testing.assert_array_equal(r(lax.logistic), [0.5, 0.5, 1, 0, nan])
  np.testing.assert_array_equal(r(lax.erf), [0, -0.0, 1, -1, nan])
  np.testing.assert_array_equal(r(lax.sin), [0, -0.0, nan, nan, nan])
  np.testing.assert_array_equal(r(lax.cos), [1, 1, nan, nan, nan])
  np.testing.assert_array_equal(r(lax.tanh), [0, -0.0, 1, -1, nan])
  # the signs of zero, which assert_array_equal does not compare
  for f in (lax.log1p, lax.expm1, lax.erf, lax.sin, lax.tanh):
    assert np.signbit(r(f)[:2]).tolist() == [False, True], f
  # the logistic's left tail keeps its subnormals; log(-1) and log1p(-1)
  assert np.asarray(lax.logistic(jnp.asarray(np.float32(-100.0)))) > 0
  assert np.asarray(lax.log1p(jnp.asarray(np.float32(-1.0)))) == -inf


@pytest.mark.parametrize("name,op,ref,bound,rng", OPS, ids=[o[0] for o in OPS])
@settings(max_examples=15)
@given(data=st.data())
def test_float64_stays_accurate(name, op, ref, bound, rng, data):
  elems = st.one_of(st.floats(), st.floats(2 * rng[0], 2 * rng[1]))
  x = data.draw(hnp.arrays(np.float64, st.integers(0, 50), elements=elems))
  with enable_x64():
    got = np.asarray(op(jnp.asarray(x)))
  assert got.dtype == np.float64
  with np.errstate(all="ignore"):
    want = ref(x)
  np.testing.assert_allclose(got, want, rtol=4e-16 * 8, atol=1e-300)
