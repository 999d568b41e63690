"""Semantics rjax.numpy shares with JAX: scalar-type constructors convert as
JAX (NumPy's conversion: truncation, OverflowError, ValueError), bool masks
in multiply/divide give JAX's eager numbers (a select, so NaN/inf under a
False mask is 0), and linspace / arange / logspace / geomspace compute JAX's
points (bit for bit, see test_linspace_bits_match_jax)."""
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from util import enable_x64
from util_vs_jax import assert_same, same_outcome

SCALAR_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "bfloat16", "float32", "float64", "bool_", "bool"]
VALUES = [2.7, -2.7, 0.5, -0.0, 300, -1, 1e10, float("nan"), float("inf"), -float("inf"), True,
          2 ** 31, 2 ** 33, -2 ** 40, "3", "2.5", [1.5, -2.5], np.float64(3.9),
          np.array([1.7, 255.9]), np.int64(2 ** 40), 65504.0, 1e-8, 0]


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype:UserWarning")   # (JAX, x64 off)
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("name", SCALAR_TYPES)
def test_scalar_constructors_convert_like_jax(name):
  for v in VALUES:
    same_outcome(lambda: getattr(jnp, name)(v), lambda: getattr(jjnp, name)(v))
  assert int(jnp.int32(2.7)) == 2 and int(jnp.int32(-2.7)) == -2
  same_outcome(lambda: jnp.asarray(2.7, dtype=jnp.int32), lambda: jjnp.asarray(2.7, dtype=jnp.int32))
  same_outcome(lambda: jnp.array([300, 2], dtype=jnp.uint8),
               lambda: jjnp.array([300, 2], dtype=jnp.uint8))


# ---------------------------------------------------------------------------
# Boolean masks in arithmetic

M = np.array([True, False, True, False])
X = np.array([np.nan, np.nan, np.inf, -np.inf], np.float32)
Z = np.array([0., 0., 2., 0.], np.float32)

PATTERNS = {
    "m * x": lambda m, x, z, J: m * x,
    "x * m": lambda m, x, z, J: x * m,
    "multiply": lambda m, x, z, J: J.multiply(m, x),
    "m * nan": lambda m, x, z, J: m * np.float32(np.nan),
    "m * weak nan": lambda m, x, z, J: m * float("nan"),
    "m / 0.": lambda m, x, z, J: m / 0.,
    "m / 0": lambda m, x, z, J: m / 0,
    "m / f32 0-d": lambda m, x, z, J: m / J.float32(0),
    "m / z[:1]": lambda m, x, z, J: m / z[:1],
    "m / z": lambda m, x, z, J: m / z,
    "x / m": lambda m, x, z, J: x / m,
    "m.astype(f32) * x": lambda m, x, z, J: m.astype(J.float32) * x,
    "m.astype(i32) * x": lambda m, x, z, J: m.astype(J.int32) * x,
    "m * x * 2": lambda m, x, z, J: m * x * 2,
    "2 * m * x": lambda m, x, z, J: 2 * m * x,
    "m * m * x": lambda m, x, z, J: m * m * x,
    "(~m) * x": lambda m, x, z, J: (~m) * x,
    "(x > 0) * x": lambda m, x, z, J: (x > 0) * x,
    "f16": lambda m, x, z, J: m * x.astype(J.float16),
    "bf16": lambda m, x, z, J: m * x.astype(J.bfloat16),
    "broadcast mask": lambda m, x, z, J: m[:, None] * J.full((4, 3), np.nan),
    "0-d mask": lambda m, x, z, J: J.asarray(False) * x,
    "int": lambda m, x, z, J: m * J.array([1, 2, 3, 4]),
    "sum": lambda m, x, z, J: (m * x).sum(),
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_bool_masks_match_jax_eager(name):
  f = PATTERNS[name]
  got = f(jnp.asarray(M), jnp.asarray(X), jnp.asarray(Z), jnp)
  want = f(jjnp.asarray(M), jjnp.asarray(X), jjnp.asarray(Z), jjnp)
  assert_same(got, want)
  # under jit, JAX's jit numbers: XLA's whole-program rewrites also turn
  # astype-then-multiply into a select and constant divisors into products,
  # and so do rjax's Program passes
  jitted = rjax.jit(lambda m, x, z: f(m, x, z, jnp))(M, X, Z)
  if name == "broadcast mask":
    # XLA folds the broadcast NaN constant and the broadcast mask into a
    # select here (0 in the masked rows), which it does not do for a mask
    # broadcast against an argument (tests/test_xla_rewrites.py); rjax
    # rewrites neither broadcast case and keeps its eager numbers
    assert_same(jitted, got)
    return
  assert_same(jitted, jax.jit(lambda m, x, z: f(m, x, z, jjnp))(M, X, Z))


def test_masking_nan_padding_gives_zeros():
  vals = np.array([1., 2., np.nan, np.nan], np.float32)
  mask = np.array([True, True, False, False])
  assert float(jnp.sum(jnp.asarray(mask) * vals)) == 3.0
  g = rjax.grad(lambda v: jnp.sum(jnp.asarray(mask) * v))(vals)
  assert_same(g, jax.grad(lambda v: jjnp.sum(jjnp.asarray(mask) * v))(vals))


# ---------------------------------------------------------------------------
# linspace and friends

def test_linspace_famous_value():
  got = jnp.linspace(-0.9, 0.9, 7)
  assert float(got[3]) == float(jjnp.linspace(-0.9, 0.9, 7)[3]) == np.float32(2.9802322e-08)
  assert float(jnp.arctan2(got[3], 1.0)) == float(jjnp.arctan2(jjnp.linspace(-0.9, 0.9, 7)[3],
                                                               1.0))


_REF = textwrap.dedent("""
    import json, sys, numpy as np, jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    out = []
    for c in json.load(open(sys.argv[1])):
      dt = c["dtype"]
      if c["fn"] == "arange":
        r = jnp.arange(*[np.asarray(a, dt) if i == 0 else a for i, a in enumerate(c["args"])],
                       dtype=dt)
      else:
        r = getattr(jnp, c["fn"])(np.asarray(c["start"], dt), np.asarray(c["stop"], dt),
                                  num=c["num"], endpoint=c["endpoint"], dtype=dt,
                                  axis=c["axis"])
      out.append(np.asarray(r).tobytes().hex())
    json.dump(out, open(sys.argv[2], "w"))
""")


def _jax_without_fma(cases, tmp_path):
  """JAX's results with its CPU compiler limited to SSE4.2, so that LLVM does
  not contract ``a * b + c`` into fused multiply-adds (a machine-dependent
  rounding); what is left is JAX's formula as XLA compiles it."""
  src, inp, out = tmp_path / "ref.py", tmp_path / "cases.json", tmp_path / "out.json"
  src.write_text(_REF)
  inp.write_text(json.dumps(cases))
  env = dict(os.environ, XLA_FLAGS="--xla_cpu_max_isa=SSE4_2", JAX_PLATFORMS="cpu")
  subprocess.run([sys.executable, str(src), str(inp), str(out)], env=env, check=True,
                 capture_output=True)
  return json.loads(out.read_text())


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@settings(max_examples=1, deadline=None)
@given(st.lists(st.tuples(finite, finite, finite, finite, st.integers(0, 40), st.booleans(),
                          st.sampled_from(["float32", "float64"]), st.booleans()),
                min_size=40, max_size=40))
def test_linspace_bits_match_jax(tmp_path_factory, draws):
  cases = []
  for a0, a1, b0, b1, num, endpoint, dt, vector in draws:
    start, stop = ([a0, a1], [b0, b1]) if vector else (a0, b0)
    cases.append(dict(fn="linspace", start=start, stop=stop, num=num, endpoint=endpoint,
                      dtype=dt, axis=-1 if vector else 0))
    cases.append(dict(fn="arange", args=[a0, b0 + (1 if b0 == a0 else 0),
                                         (b0 - a0) / max(num, 1) or 1.0], dtype=dt))
  ref = _jax_without_fma(cases, tmp_path_factory.mktemp("linspace"))
  with enable_x64():
    for c, r in zip(cases, ref):
      dt = c["dtype"]
      if c["fn"] == "arange":
        got = jnp.arange(*[np.asarray(a, dt) if i == 0 else a for i, a in enumerate(c["args"])],
                         dtype=dt)
      else:
        got = jnp.linspace(np.asarray(c["start"], dt), np.asarray(c["stop"], dt), num=c["num"],
                           endpoint=c["endpoint"], dtype=dt, axis=c["axis"])
      assert np.asarray(got).tobytes().hex() == r, c


@settings(max_examples=25, deadline=None)
@given(finite, finite, st.integers(0, 30), st.booleans(),
       st.sampled_from([np.float32, np.float16, jjnp.bfloat16, np.int32]), st.booleans())
def test_linspace_and_arange_match_default_jax(a, b, num, endpoint, dtype, retstep):
  # with JAX's default (FMA-contracting) CPU code: equal up to a rounding or two
  # (16-bit floats: XLA also keeps fused intermediates in float32)
  got = jnp.linspace(a, b, num, endpoint=endpoint, dtype=dtype, retstep=retstep)
  want = jjnp.linspace(a, b, num, endpoint=endpoint, dtype=dtype, retstep=retstep)
  is_float = np.dtype(dtype) != np.dtype(np.int32)
  tol = float(jjnp.finfo(dtype).eps) * 2 if is_float else 0
  if is_float:
    assert_same(got, want, exact=False, rtol=tol, atol=tol * max(abs(a), abs(b), 1))
  else:
    # int32: the float points truncated; a point one rounding below an integer
    # (JAX's FMA-contracted code, e.g. linspace(1, 1, 13, endpoint=False)[3])
    # truncates one lower
    g, w = (np.asarray(v[0] if retstep else v) for v in (got, want))
    assert g.dtype == w.dtype and g.shape == w.shape
    assert np.all(np.abs(g.astype(np.int64) - w) <= 1), (g, w)
  step = (b - a) / max(num, 1) or 1.0
  # (at most ~1000 points: a tinier step asks for more elements than exist)
  step = np.copysign(max(abs(step), abs(b + 1 - a) / 1000), step)
  assert_same(jnp.arange(a, b + 1, step, dtype=dtype if is_float else None),
              jjnp.arange(a, b + 1, step, dtype=dtype if is_float else None),
              exact=False, rtol=tol or 1e-6, atol=(tol or 1e-6) * max(abs(a), abs(b), 1))


def test_logspace_geomspace_and_logs():
  for args in [(0., 3., 20), (-2., 2., 7, False), (1., 4., 5, True, 2.0)]:
    assert_same(jnp.logspace(*args), jjnp.logspace(*args), exact=False, rtol=3e-6)
  for args in [(1., 1000., 20), (-1., -64., 7), (2., 3., 4, False)]:
    assert_same(jnp.geomspace(*args), jjnp.geomspace(*args), exact=False, rtol=3e-6)
  assert_same(jnp.geomspace(np.array([1., 1000.]), np.array([27., 1.]), 4, axis=1),
              jjnp.geomspace(np.array([1., 1000.]), np.array([27., 1.]), 4, axis=1),
              exact=False, rtol=3e-6)
  x = np.abs(np.random.RandomState(0).randn(100).astype(np.float32)) * 5
  assert_same(jnp.log10(x), jjnp.log10(x), exact=False, rtol=2.5e-7)
  assert_same(jnp.log2(x), jjnp.log2(x), exact=False, rtol=2.5e-7)
  for bad in (lambda m: m.linspace(0, 1, -1), lambda m: m.linspace(0, 1, 3, axis=2),
              lambda m: m.arange(np.arange(2)), lambda m: m.geomspace(0, 1, "3")):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))
