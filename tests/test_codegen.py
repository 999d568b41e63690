"""The native tier (LLVM through llvmlite) against the tile interpreter: the
same bits for every elementwise op in every dtype, for random chains over
shapes and special values, across a tier switch in the middle of a run; the
modes (``RJAX_CODEGEN=auto|sync|off``), the log, and the fallback when a
compile fails or llvmlite is missing."""
from __future__ import annotations

import logging
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.runtime import codegen
from test_jit_ops import CASES, _in_chain, _leaves_np
from test_lax_elementwise import BINARY, UNARY
from util import bfloat16, enable_x64, shapes

#: the elementwise entries of the op table, as their jit cases build them
ELEMENTWISE = sorted({r.name for r in UNARY + BINARY} | {
    "round", "is_finite", "nextafter", "integer_pow", "convert_element_type",
    "bitcast_convert_type", "clamp", "select_n"})


def _bits(a) -> np.ndarray:
  """An array's raw bits, with every NaN made the same NaN (payloads are not
  part of the semantics: XLA does not keep them either)."""
  a = np.asarray(a)
  if a.dtype.kind == "f" or a.dtype == bfloat16:
    a = a.copy()
    with np.errstate(invalid="ignore"):
      a[np.isnan(a.astype(np.float64))] = np.nan
  return a.view(f"u{a.itemsize}") if a.dtype.itemsize > 1 else a.view(np.uint8)


def assert_bits(got, want, what=""):
  gl, wl = rjax.tree_util.tree_leaves(got), rjax.tree_util.tree_leaves(want)
  assert len(gl) == len(wl)
  for k, (g, w) in enumerate(zip(gl, wl)):
    assert g.dtype == w.dtype and g.shape == w.shape, f"{what} output {k}"
    np.testing.assert_array_equal(_bits(g), _bits(w), err_msg=f"{what} output {k}")


def _run_in(mode: str, fn, args):
  """``jit(fn)(*args)`` compiled under ``mode`` (a fresh jit each time);
  returns the result, how many groups were compiled to native code, and
  the executable's ``(fused groups, native groups)``."""
  prev = codegen.set_mode(mode)
  try:
    before = codegen.stats()["compiled"]
    f = rjax.jit(lambda *xs: fn(*xs))
    out = f(*args)
    rjax.block_until_ready(out)
    tiers = f.lower(*args).compile().runtime_executable().native_tiers()
    return out, codegen.stats()["compiled"] - before, tiers
  finally:
    codegen.set_mode(prev)


def both_tiers(fn, args, what="", expect_native=True):
  """``fn`` jitted under ``sync`` and under ``off``: the same bits. With
  ``expect_native``, every fused group of the program runs native code."""
  native, n, (groups, nat) = _run_in("sync", fn, args)
  interp, m, (_, nat_off) = _run_in("off", fn, args)
  assert m == 0 and nat_off == 0
  if expect_native:
    assert n >= 1 and nat == groups, f"{what}: {nat} of {groups} groups run native code"
  assert_bits(native, interp, what)
  return native


def _has_groups(fn, args) -> bool:
  prev = codegen.set_mode("off")
  try:
    return rjax.jit(lambda *xs: fn(*xs)).lower(*args).compile().runtime_executable() \
        .native_tiers()[0] > 0
  finally:
    codegen.set_mode(prev)


def test_llvmlite_is_available():
  """The native tier is on in this environment (llvmlite is a dependency)."""
  out, n, (groups, nat) = _run_in("sync", lambda x: jnp.tanh(x) * 2.0 + 1.0, (jnp.arange(10.0),))
  # n counts every compile in the process meanwhile (the background compiler
  # may finish an earlier test's group): at least this one
  assert n >= 1 and groups == nat == 1 and codegen.stats()["unavailable"] is None


@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_every_elementwise_op_is_bitwise_equal_in_both_tiers(name, data):
  """Each elementwise op of the table inside a fused chain (``max(v, v)``
  around it), over the dtypes, shapes, weak scalars and special values its
  jit case draws: native code equals the interpreter bit for bit."""
  case = CASES[name](data)
  with enable_x64(case.x64):
    args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in case.args]
    fn = _in_chain(case.fn)
    both_tiers(fn, args, name, expect_native=_has_groups(fn, args))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, bfloat16, np.int8,
                                   np.int32, np.uint16, np.int64, np.uint64, np.bool_])
def test_every_dtype_compiles(dtype):
  """A chain in each dtype runs as native code (f16/bf16 compute in f32 and
  round after each op, as the interpreter does)."""
  dt = np.dtype(dtype)
  x64 = dt.itemsize == 8
  with enable_x64(x64):
    rng = np.random.default_rng(0)
    if dt == np.bool_:
      x = rng.random(1000) < 0.5
      fn = lambda v: ~(v ^ (v & True))
    elif dt.kind in "iu":
      x = rng.integers(0, 100, 1000).astype(dt)
      fn = lambda v: (v * v + v // (v - 3)) % (v | 1)
    else:
      x = rng.uniform(-4, 4, 1000).astype(dt)
      x[:4] = [np.nan, np.inf, -np.inf, -0.0]
      fn = lambda v: jnp.tanh(v) * jnp.exp(v) + jnp.sqrt(jnp.abs(v)) / 3
    both_tiers(fn, (jnp.asarray(x),), str(dt))


_SPECIAL = st.sampled_from([float(np.float32(v)) for v in (
    0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-40, -1e-45, 3.4e38, 88.7, -103.9, 0.5,
    2.0**-24)])


def _f32_arrays(shape):
  return hnp.arrays(np.float32, shape, elements=_SPECIAL | st.floats(-50, 50, width=32))


@st.composite
def _chain(draw):
  shape = draw(shapes(min_dims=0, max_dims=3, max_side=9))
  bshape = draw(st.sampled_from([(), shape, shape[1:], tuple(1 for _ in shape)]))
  x = draw(_f32_arrays(shape))
  b = draw(_f32_arrays(bshape))
  ops = draw(st.lists(st.sampled_from(["exp", "tanh", "log", "sin", "mul", "add", "sub", "div",
                                       "max", "min", "where", "logistic", "expm1", "log1p",
                                       "erf", "rsqrt", "floor", "abs", "pow", "atan2",
                                       "convert"]), min_size=1, max_size=8))
  return x, b, ops


def _apply(ops, x, b):
  v = x
  for op in ops:
    if op in ("mul", "add", "sub", "div", "max", "min", "atan2", "pow"):
      v = {"mul": jnp.multiply, "add": jnp.add, "sub": jnp.subtract, "div": jnp.divide,
           "max": jnp.maximum, "min": jnp.minimum, "atan2": jnp.arctan2,
           "pow": jnp.power}[op](v, b)
    elif op == "where":
      v = jnp.where(v > b, v, b * 0.5)
    elif op == "convert":
      v = v.astype(jnp.bfloat16).astype(jnp.float32) + v.astype(jnp.int32).astype(jnp.float32)
    else:
      v = getattr(lax, op)(v)
  return v, v * 2.0


@settings(max_examples=60, deadline=None)
@given(_chain())
def test_random_chains_over_special_values(c):
  """Random chains of ops (broadcasts of a rank-0, suffix or all-ones
  operand, NaN, ±inf, ±0, subnormals, overflow) give the same bits."""
  x, b, ops = c
  args = (jnp.asarray(x), jnp.asarray(b))
  fn = lambda u, w: _apply(ops, u, w)
  both_tiers(fn, args, str(ops), expect_native=_has_groups(fn, args))


def test_tier_switch_mid_run_keeps_the_bits():
  """In ``auto`` mode a jitted function starts in the interpreter, its
  second run queues it, and a later run uses native code: every run gives
  the same bits."""
  x = jnp.asarray(np.random.default_rng(3).standard_normal(50_000).astype(np.float32))
  f = lambda v: jnp.where(v > 0, v, 1.6732 * jnp.exp(v) - 1.6732) * 1.0507
  prev = codegen.set_mode("auto")
  try:
    g = rjax.jit(f)
    first = np.asarray(g(x))
    outs = []
    for _ in range(200):
      outs.append(np.asarray(g(x)))
      if _native_groups(g, x) == 1:
        break
      import time
      time.sleep(0.01)
    assert _native_groups(g, x) == 1, "the compiler thread never installed the code"
    outs.append(np.asarray(g(x)))
  finally:
    codegen.set_mode(prev)
  for o in outs:
    assert_bits(o, first, "auto")


def _native_groups(jitted, *args) -> int:
  exe = jitted.lower(*args).compile().runtime_executable()
  return exe.native_tiers()[1]


def test_log_compiles_reports_the_tier_change(caplog):
  x = jnp.arange(100.0)
  with caplog.at_level(logging.WARNING, logger="rjax"):
    rjax.config.update("jax_log_compiles", True)
    try:
      _run_in("sync", lambda v: jnp.exp(v) * 3.0 - 1.0, (x,))
    finally:
      rjax.config.update("jax_log_compiles", False)
  msgs = [r.getMessage() for r in caplog.records]
  assert any("Native code for fused[" in m and "compiled in" in m and "ms" in m for m in msgs), \
      msgs


def test_a_failed_compile_falls_back_to_the_interpreter(monkeypatch, caplog):
  """A compile error keeps the interpreter (same results) and is logged
  once, whatever the number of groups that fail."""
  comp = codegen._compiler()

  def broken(ir, name):
    raise RuntimeError("simulated LLVM failure")
  monkeypatch.setattr(comp, "compile", broken)
  monkeypatch.setitem(codegen._state, "failures", set())
  x = jnp.linspace(-3, 3, 1000)
  with caplog.at_level(logging.WARNING, logger="rjax"):
    for k in range(3):
      out, n, _ = _run_in("sync", lambda v: jnp.sin(v) * k + 1.0, (x,))
      assert n == 0
      np.testing.assert_array_equal(
          _bits(out), _bits(_run_in("off", lambda v: jnp.sin(v) * k + 1.0, (x,))[0]))
  fails = [r for r in caplog.records if "simulated LLVM failure" in r.getMessage()]
  assert len(fails) == 1 and "interpreter" in fails[0].getMessage()


def _subprocess(code: str, env: dict) -> str:
  here = pathlib.Path(__file__).resolve().parent
  pkg_root = str(pathlib.Path(rjax.__file__).resolve().parent.parent)
  code = f"import sys; sys.path[:0] = [{pkg_root!r}, {str(here)!r}]\n" + code
  r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env),
                     capture_output=True, text=True, cwd=str(here))
  assert r.returncode == 0, r.stderr
  return r.stdout + r.stderr


def test_off_never_imports_llvmlite():
  out = _subprocess(
      "import rjax, rjax.numpy as jnp, numpy as np\n"
      "f = rjax.jit(lambda v: jnp.exp(v) * 2.0 + 1.0)\n"
      "for _ in range(5): np.asarray(f(jnp.arange(10.0)))\n"
      "print('llvmlite' in sys.modules, 'llvmlite.binding' in sys.modules)\n",
      {"RJAX_CODEGEN": "off"})
  assert out.strip().endswith("False False")


def test_missing_llvmlite_is_said_once_and_runs_the_interpreter():
  out = _subprocess(
      "sys.modules['llvmlite'] = None   # import llvmlite fails\n"
      "import rjax, rjax.numpy as jnp, numpy as np\n"
      "x = jnp.arange(10.0)\n"
      "a = [np.asarray(rjax.jit(lambda v, k=k: jnp.exp(v) * k)(x)) for k in range(3)]\n"
      "np.testing.assert_array_equal(a[2], np.asarray(jnp.exp(x) * 2))\n"
      "print('ok')\n",
      {"RJAX_CODEGEN": "sync"})
  assert out.count("native code is unavailable") == 1 and "ok" in out


def test_the_default_is_auto_and_falls_back_silently_without_llvmlite():
  """With ``RJAX_CODEGEN`` unset the mode is ``auto``: a jitted function
  switches to native code in the background; without llvmlite it keeps the
  interpreter, with the same results and one log line."""
  here = pathlib.Path(__file__).resolve().parent
  pkg_root = str(pathlib.Path(rjax.__file__).resolve().parent.parent)
  env = {k: v for k, v in os.environ.items() if k != "RJAX_CODEGEN"}
  code = (f"import sys; sys.path[:0] = [{pkg_root!r}]\n"
          "BLOCK\n"
          "import time, rjax, rjax.numpy as jnp, numpy as np\n"
          "from rjax._src.runtime import codegen\n"
          "x = jnp.linspace(-3.0, 3.0, 5000)\n"
          "f = rjax.jit(lambda v: jnp.exp(v) * 2.0 - 1.0)\n"
          "want = np.asarray(jnp.exp(x) * 2.0 - 1.0)\n"
          "for _ in range(300):\n"
          "  np.testing.assert_array_equal(np.asarray(f(x)), want)\n"
          "  if codegen.stats()['compiled'] or codegen.stats()['unavailable']: break\n"
          "  time.sleep(0.01)\n"
          "np.testing.assert_array_equal(np.asarray(f(x)), want)\n"
          "print(codegen.mode(), codegen.stats()['compiled'])\n")
  outs = []
  for block in ("", "sys.modules['llvmlite'] = None"):
    r = subprocess.run([sys.executable, "-c", code.replace("BLOCK", block)], env=env,
                       capture_output=True, text=True, cwd=str(here))
    assert r.returncode == 0, r.stderr
    outs.append((r.stdout, r.stderr))
  mode_, compiled = outs[0][0].split()
  assert mode_ == "auto" and int(compiled) >= 1 and outs[0][1] == ""
  assert outs[1][0].split() == ["auto", "0"]
  assert outs[1][1].count("native code is unavailable") == 1
  assert len(outs[1][1].strip().splitlines()) == 1


def test_bad_mode_is_a_value_error():
  with pytest.raises(ValueError, match="auto, sync, off"):
    codegen.set_mode("fast")
  out = _subprocess("import rjax\n", {"RJAX_CODEGEN": "sync"})
  assert out == ""


def test_the_code_is_vectorized_for_the_host():
  """The optimizer vectorizes an f32 chain (no fast-math flags needed: only
  the loop is widened, every rounding stays)."""
  comp = codegen._compiler()
  exe = rjax.jit(lambda v: v * 2.0 + 1.0).lower(jnp.ones(4096)).compile().runtime_executable()
  reqs = exe.native_requests()
  assert len(reqs) in (0, 1)
  if not reqs:   # already compiled (sync mode): build one under off and claim it
    prev = codegen.set_mode("off")
    try:
      exe = rjax.jit(lambda v: v * 3.0 + 1.0).lower(jnp.ones(4096)).compile().runtime_executable()
    finally:
      codegen.set_mode(prev)
    reqs = exe.native_requests()
  (_, _, ir, _), = reqs
  asm = comp.assembly(ir)
  assert "xmm" in asm or "ymm" in asm or "zmm" in asm or "v0." in asm
  assert "mulps" in asm or "fmul" in asm



def _group_ir(fn, x):
  """The LLVM IR of ``jit(fn)(x)``'s one fused group (built under off)."""
  prev = codegen.set_mode("off")
  try:
    exe = rjax.jit(fn).lower(x).compile().runtime_executable()
  finally:
    codegen.set_mode(prev)
  (_, _, ir, why), = exe.native_requests()
  assert ir is not None, why
  return ir


def test_reductions_fold_a_vector_at_a_time():
  """A reduction's folding loop is rendered as vectors (16 f32 or 8 f64
  elements a step; the bits are the scalar loop's, which the tests above
  check); a group with an extern call (f64 exp) keeps the scalar rendering."""
  x = jnp.ones((64, 100), jnp.float32)
  ir = _group_ir(lambda v: jnp.sum(jnp.exp(v - 1) * 2, axis=-1), x)
  assert "<16 x float>" in ir and "<8 x double>" in ir
  ir = _group_ir(lambda v: jnp.max(v * v, axis=None), x)
  assert "<16 x float>" in ir
  with enable_x64():
    x = jnp.ones((64, 100), jnp.float64)
    assert "<8 x double>" in _group_ir(lambda v: jnp.sum(v * v + 1, axis=-1), x)
    ir = _group_ir(lambda v: jnp.sum(jnp.exp(v), axis=-1), x)
    assert "x double>" not in ir and "rjax_ext1_exp" in ir
    native = both_tiers(lambda v: jnp.sum(jnp.exp(v), axis=-1), (x * 0.5,))
    np.testing.assert_allclose(np.asarray(native), np.exp(0.5) * 100, rtol=1e-12)

# -- reductions ----------------------------------------------------------------------------------

_RED_SHAPES = [(0,), (7,), (1000,), (70_000,), (3, 1000), (37, 300), (2, 40_000), (300, 5),
               (4, 3, 50)]


def _red_data(shape, dtype, seed=0):
  rng = np.random.default_rng(seed)
  dt = np.dtype(dtype)
  if dt == np.bool_:
    return rng.random(shape) < 0.3
  if dt.kind in "iu":
    return rng.integers(-50, 50, shape).astype(dt)
  x = rng.standard_normal(shape).astype(dt) * 3
  if x.size > 10:
    x.reshape(-1)[[3, 7]] = [np.nan, -0.0]
  return x


_REDUCERS = {
    "sum": lambda v, ax: jnp.sum(v * 2 + 1, axis=ax),
    "max": lambda v, ax: jnp.max(jnp.abs(v) - 1, axis=ax),
    "min": lambda v, ax: jnp.min(v * v, axis=ax),
    "any": lambda v, ax: jnp.any(v > 0, axis=ax),
    "all": lambda v, ax: jnp.all(v < 40, axis=ax),
}


@pytest.mark.parametrize("shape,red", [(s, r) for s in _RED_SHAPES for r in sorted(_REDUCERS)
                                       if 0 not in s or r not in ("max", "min")], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int8, np.uint32],
                         ids=lambda d: np.dtype(d).name)
def test_reductions_are_bitwise_equal_in_both_tiers(shape, dtype, red):
  """Every fused reduction pattern (whole array, rows, columns, several axes)
  folds in the interpreter's order in native code: the same bits, float
  sums included (NaN and -0.0 in the data; sizes across tiles and chunks)."""
  x64 = np.dtype(dtype).itemsize == 8
  with enable_x64(x64):
    x = jnp.asarray(_red_data(shape, dtype))
    axes = [None, -1, 0] if len(shape) > 1 else [None]
    if len(shape) == 3:
      axes.append((0, 2))
    for ax in axes:
      fn = lambda v, ax=ax: _REDUCERS[red](v, ax)
      both_tiers(fn, (x,), f"{red} axis={ax} {shape}", expect_native=_has_groups(fn, (x,)))


@pytest.mark.parametrize("shape", [(33, 1024), (5, 7), (3, 16384), (1, 1)],
                         ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_multi_phase_row_groups_are_bitwise_equal(shape, dtype):
  """softmax, logsumexp and layer norm (row groups of several phases)."""
  def softmax(v):
    e = jnp.exp(v - jnp.max(v, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)

  def logsumexp(v):
    m = jnp.max(v, axis=-1, keepdims=True)
    return jnp.log(jnp.sum(jnp.exp(v - m), axis=-1)) + m[..., 0]

  def layer_norm(v):
    m = v.mean(-1, keepdims=True)
    s = ((v - m) ** 2).mean(-1, keepdims=True)
    return (v - m) / jnp.sqrt(s + 1e-5), s

  def masked_softmax(v):
    # the last folding phase's values that the output pass reads again (a
    # float, a bool mask and an integer), one of them also an output: the
    # native tier keeps them in a row scratch instead of computing them again
    d = v - jnp.max(v, axis=-1, keepdims=True)
    keep = d > -1.5
    e = jnp.where(keep, jnp.exp(d), 0)
    k = keep.astype(jnp.int32) * 3
    s = jnp.sum(e, axis=-1, keepdims=True)
    return jnp.where(keep, e / s, -1) + k, e

  with enable_x64(np.dtype(dtype) == np.float64):
    x = jnp.asarray(_red_data(shape, dtype, 5))
    for f in (softmax, logsumexp, layer_norm, masked_softmax):
      both_tiers(f, (x,), f"{f.__name__} {shape}")


# shapes of x and of the broadcast operands b and c: rows shorter and longer
# than a chunk (2**15 elements), so that chunks start and end inside rows
_BCAST = [((4096, 100), (100,), (4096, 1)), ((3, 40_000), (40_000,), (3, 1)),
          ((70_000, 3), (1, 3), (70_000, 1)), ((5, 6, 7), (6, 1), (5, 1, 7)),
          ((33, 1, 1000), (1000,), (33, 1, 1)), ((2, 3, 4, 5), (3, 1, 5), (2, 1, 4, 1)),
          ((1, 9), (9,), (1, 1)), ((0, 7), (7,), (0, 1))]


@pytest.mark.parametrize("shapes_", _BCAST, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32], ids=lambda d: np.dtype(d).name)
def test_broadcast_loads_by_rows_are_bitwise_equal(shapes_, dtype):
  """Elementwise groups with broadcast (strided) loads run by rows of the
  last dimension in native code: every load layout (a row vector, a column,
  middle axes), chunks that cut rows, and the column reductions that read
  them (norm): the same bits as the interpreter."""
  xs, bs, cs = shapes_
  with enable_x64(np.dtype(dtype).itemsize == 8):
    x, b, c = (jnp.asarray(_red_data(s, dtype, k)) for k, s in enumerate((xs, bs, cs)))
    both_tiers(lambda u, v, w: (u * 2 + v) - w * v, (x, b, c), f"bcast {shapes_}",
               expect_native=x.size > 0)
    if np.dtype(dtype).kind == "f":
      both_tiers(lambda u, v: jnp.tanh(u * 0.5 + v), (x, b), f"tanh {shapes_}",
                 expect_native=x.size > 0)

      def norm(u, v):
        m = (u + v).mean(0)
        d = u + v - m
        return d / jnp.sqrt((d * d).mean(0) + 1.0)
      both_tiers(norm, (x, b), f"norm {shapes_}", expect_native=x.size > 0)


@pytest.mark.parametrize("shape", [(10_000, 100), (3, 40_000), (70_000, 3), (4, 3, 50), (5, 1, 9)],
                         ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8],
                         ids=lambda d: np.dtype(d).name)
def test_column_reductions_by_rows_are_bitwise_equal(shape, dtype):
  """Column reductions (over leading axes) fold each column in row order in
  both tiers: sums in the same association order, max/min with NaN."""
  with enable_x64(np.dtype(dtype).itemsize == 8):
    x = jnp.asarray(_red_data(shape, dtype, 7))
    for red in ("sum", "max", "min"):
      fn = lambda v, red=red: _REDUCERS[red](v, 0)
      both_tiers(fn, (x,), f"{red} {shape}", expect_native=_has_groups(fn, (x,)))
    if len(shape) == 3:
      fn = lambda v: jnp.sum(v * 3, axis=(0, 1))
      both_tiers(fn, (x,), f"sum (0, 1) {shape}", expect_native=_has_groups(fn, (x,)))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_reductions_over_random_shapes_and_special_values(data):
  shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=40))
  x = data.draw(_f32_arrays(shape))
  ax = data.draw(st.sampled_from([None, 0, -1]))
  red = data.draw(st.sampled_from(["sum", "max", "min"]))
  assume(x.size > 0 or red == "sum")   # an empty max is an error at trace time
  fn, args = (lambda v: _REDUCERS[red](v, ax)), (jnp.asarray(x),)
  both_tiers(fn, args, f"{red} {ax} {shape}", expect_native=_has_groups(fn, args))


def test_disk_cache_lets_a_second_process_skip_llvm(tmp_path):
  """``RJAX_CACHE_DIR``: the first process writes object code keyed by the
  group's IR, versions and CPU; the second loads it (no LLVM compile) and
  gives the same bits."""
  code = ("import numpy as np, rjax, rjax.numpy as jnp\n"
          "from rjax._src.runtime import codegen\n"
          "x = jnp.asarray(np.linspace(-3, 3, 5000, dtype=np.float32).reshape(50, 100))\n"
          "a = rjax.jit(lambda v: jnp.tanh(v) * 2.0 + jnp.sum(jnp.exp(v), -1, keepdims=True))(x)\n"
          "print(codegen.stats()['compiled'], codegen.stats()['disk_hits'],\n"
          "      np.asarray(a).view(np.uint32).sum(dtype=np.uint64))\n")
  env = {"RJAX_CODEGEN": "sync", "RJAX_CACHE_DIR": str(tmp_path)}
  first = _subprocess(code, env).split()
  files = list(tmp_path.iterdir())
  assert files and all(f.name.startswith("rjax-native-") for f in files)
  second = _subprocess(code, env).split()
  assert first[0] == second[0] != "0"
  assert first[1] == "0" and second[1] == first[0]   # every group from the disk
  assert first[2] == second[2]
