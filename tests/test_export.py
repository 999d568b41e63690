"""rjax.export against jax.export: avals and pytrees, calls (bitwise equal
to jit), symbolic batch dimensions, vjp, errors (JAX's types), and bytes
that are not a readable export (hypothesis truncations and byte flips)."""
import ctypes
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as rnp
from rjax import export as rexport
from rjax import lax

_rjax_ext = importlib.import_module("rjax._rjax")

jax.config.update("jax_enable_x64", False)


def _mlp(params, x):
  w1, b1, w2 = params["w1"], params["b1"], params["w2"]
  h = rnp.tanh(x @ w1 + b1)
  return {"logits": h @ w2, "norm": rnp.sum(h * h, axis=-1)}


def _mlp_jax(params, x):
  w1, b1, w2 = params["w1"], params["b1"], params["w2"]
  h = jnp.tanh(x @ w1 + b1)
  return {"logits": h @ w2, "norm": jnp.sum(h * h, axis=-1)}


def _params(rng):
  return {"w1": rng.standard_normal((6, 5)).astype(np.float32),
          "b1": rng.standard_normal((5,)).astype(np.float32),
          "w2": rng.standard_normal((5, 3)).astype(np.float32)}


def _bits_equal(a, b):
  a, b = np.asarray(a), np.asarray(b)
  assert a.shape == b.shape and a.dtype == b.dtype
  assert a.tobytes() == b.tobytes()


def test_export_matches_jax_avals_trees_and_jit_bits():
  rng = np.random.default_rng(0)
  p, x = _params(rng), rng.standard_normal((4, 6)).astype(np.float32)
  exp = rexport.export(rjax.jit(_mlp))(p, x)
  jexp = jax.export.export(jax.jit(_mlp_jax))(p, x)
  assert exp.fun_name == "_mlp" and jexp.fun_name == "_mlp_jax"
  assert [str(a) for a in exp.in_avals] == [str(a) for a in jexp.in_avals]
  assert [str(a) for a in exp.out_avals] == [str(a) for a in jexp.out_avals]
  assert str(exp.in_tree) == str(jexp.in_tree)
  assert str(exp.out_tree) == str(jexp.out_tree)
  want = rjax.jit(_mlp)(p, x)
  for e in (exp, rexport.deserialize(exp.serialize())):
    got = e.call(p, x)
    for k in want:
      _bits_equal(got[k], want[k])
    np.testing.assert_allclose(got["logits"], jexp.call(p, x)["logits"], rtol=2e-5, atol=1e-5)
  assert [str(a) for a in rexport.deserialize(exp.serialize()).in_avals] == \
      [str(a) for a in jexp.in_avals]


def test_symbolic_batch_dimension_serves_every_size():
  rng = np.random.default_rng(1)
  p = _params(rng)
  f = lambda x: _mlp(p, x)["logits"]          # noqa: E731
  fj = lambda x: _mlp_jax(p, x)["logits"]     # noqa: E731
  b, = rexport.symbolic_shape("b")
  spec = rjax.ShapeDtypeStruct(rexport.symbolic_shape("b, 6"), np.float32)
  jspec = jax.ShapeDtypeStruct(jax.export.symbolic_shape("b, 6"), np.float32)
  exp = rexport.export(rjax.jit(f))(spec)
  jexp = jax.export.export(jax.jit(fj))(jspec)
  assert str(exp.in_avals[0]) == str(jexp.in_avals[0]) == "float32[b,6]"
  assert str(exp.out_avals[0]) == str(jexp.out_avals[0]) == "float32[b,3]"
  assert exp.in_avals[0].shape[0] == b
  loaded = rexport.deserialize(exp.serialize())
  for n in (1, 2, 5, 64):
    x = rng.standard_normal((n, 6)).astype(np.float32)
    _bits_equal(loaded.call(x), rjax.jit(f)(x))
    np.testing.assert_allclose(loaded.call(x), jexp.call(x), rtol=2e-5, atol=1e-5)


def test_symbolic_reshape_is_affine():
  f = lambda x: rnp.reshape(x * 2.0, (-1,))[1:]   # noqa: E731
  exp = rexport.export(rjax.jit(f))(
      rjax.ShapeDtypeStruct(rexport.symbolic_shape("b, 4"), np.float32))
  assert str(exp.out_avals[0]) == "float32[4*b - 1]"
  for n in (1, 3):
    x = np.arange(4 * n, dtype=np.float32).reshape(n, 4)
    _bits_equal(rexport.deserialize(exp.serialize()).call(x), rjax.jit(f)(x))


def test_exported_calls_run_native_code():
  """An exported function's fused groups get the native tier in a Python
  process, as a jitted function's do (compiled once per concrete shape), with
  the interpreter's bits."""
  from rjax._src.runtime import codegen
  f = lambda x: rnp.tanh(x * 2.0 + 1.0).sum(-1)   # noqa: E731
  spec = rjax.ShapeDtypeStruct(rexport.symbolic_shape("b, 16"), np.float32)
  x = np.random.default_rng(3).standard_normal((5, 16)).astype(np.float32)
  prev = codegen.set_mode("sync")
  try:
    blob = rexport.export(rjax.jit(f))(spec).serialize()
    exp = rexport.deserialize(blob)
    out = exp.call(x)
    dims = exp._check([rnp.asarray(x).aval])
    groups, native = exp._prog.executable(dims).native_tiers()
    codegen.set_mode("off")
    interp = rexport.deserialize(blob)   # its own executables, built with the tier off
    want = interp.call(x)
    assert interp._prog.executable(dims).native_tiers() == (groups, 0)
  finally:
    codegen.set_mode(prev)
  assert groups >= 1 and native == groups
  _bits_equal(out, want)


def test_control_flow_sub_programs_export():
  def f(x):
    def body(c, xi):
      c = lax.cond(xi > 0, lambda c: c + xi, lambda c: c * 0.5, c)
      return c, c * 2.0
    c, ys = lax.scan(body, rnp.zeros((), x.dtype), x)
    return c, lax.fori_loop(0, 3, lambda i, v: v + i, ys)
  x = np.array([1.0, -2.0, 3.0, -0.5], np.float32)
  exp = rexport.deserialize(rexport.export(rjax.jit(f))(x).serialize())
  got, want = exp.call(x), rjax.jit(f)(x)
  for g, w in zip(got, want):
    _bits_equal(g, w)


def test_call_errors_are_jax_value_errors():
  f = lambda x: x * 2.0    # noqa: E731
  exp = rexport.export(rjax.jit(f))(
      rjax.ShapeDtypeStruct(rexport.symbolic_shape("b, 3"), np.float32))
  jexp = jax.export.export(jax.jit(f))(
      jax.ShapeDtypeStruct(jax.export.symbolic_shape("b, 3"), np.float32))
  for bad in (np.zeros((2, 4), np.float32), np.zeros((2,), np.float32),
              np.zeros((2, 3), np.int32)):
    with pytest.raises(ValueError) as je:
      jexp.call(bad)
    with pytest.raises(ValueError) as re_:
      exp.call(bad)
    assert str(re_.value).split(" ")[0] == str(je.value).split(" ")[0]   # Shape/Rank/Dtype
  with pytest.raises(ValueError, match="pytree structure"):
    exp.call(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
  with pytest.raises(ValueError):
    jexp.call(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
  # Not a jit: both raise ValueError
  with pytest.raises(ValueError, match="must be the result of `jit`"):
    rexport.export(f)
  with pytest.raises(ValueError):
    jax.export.export(f)


def test_unexportable_programs_say_why():
  # b*b is not an affine function of b
  f = lambda x: rnp.outer(x, x).reshape(-1)   # noqa: E731
  with pytest.raises(ValueError, match="not an affine function"):
    rexport.export(rjax.jit(f))(rjax.ShapeDtypeStruct(rexport.symbolic_shape("b"), np.float32))
  # a Python callback cannot run without Python
  g = lambda x: rjax.pure_callback(np.sin, rjax.ShapeDtypeStruct((3,), np.float32), x)  # noqa
  with pytest.raises(ValueError, match="host object"):
    rexport.export(rjax.jit(g))(np.zeros(3, np.float32))
  with pytest.raises(ValueError, match="syntax error"):
    rexport.symbolic_shape("b, 2**c")


def test_vjp_export_and_grad_through_call():
  rng = np.random.default_rng(2)
  w = rng.standard_normal((3, 2)).astype(np.float32)
  f = lambda x: rnp.tanh(x @ w)   # noqa: E731
  spec = rjax.ShapeDtypeStruct(rexport.symbolic_shape("b, 3"), np.float32)
  exp = rexport.export(rjax.jit(f))(spec)
  assert exp.has_vjp()
  x = rng.standard_normal((4, 3)).astype(np.float32)
  ct = rng.standard_normal((4, 2)).astype(np.float32)
  _, pullback = rjax.vjp(f, x)
  want, = pullback(ct)
  loaded = rexport.deserialize(exp.serialize(vjp_order=1))
  assert loaded.has_vjp()
  assert [str(a) for a in loaded.vjp().in_avals] == ["float32[b,3]", "float32[b,2]"]
  got, = loaded.vjp().call(x, ct)
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
  g = rjax.grad(lambda x: rnp.sum(loaded.call(x)))(x)
  np.testing.assert_allclose(g, rjax.grad(lambda x: rnp.sum(f(x)))(x), rtol=1e-6, atol=1e-6)
  assert not rexport.deserialize(exp.serialize()).has_vjp()
  with pytest.raises(ValueError, match="No VJP"):
    rexport.deserialize(exp.serialize()).vjp()


def test_call_under_jit_and_vmap():
  f = lambda x: rnp.sin(x) * 3.0    # noqa: E731
  exp = rexport.export(rjax.jit(f))(
      rjax.ShapeDtypeStruct(rexport.symbolic_shape("n"), np.float32))
  x = np.linspace(-2, 2, 6, dtype=np.float32)
  _bits_equal(rjax.jit(exp.call)(x), rjax.jit(f)(x))
  xs = np.stack([x, 2 * x])
  _bits_equal(rjax.vmap(exp.call)(xs), np.stack([rjax.jit(f)(x), rjax.jit(f)(2 * x)]))


def test_inputs_are_not_mutated():
  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  before = x.copy()
  exp = rexport.export(rjax.jit(lambda x: x + 1.0))(x)
  exp.call(x)
  np.testing.assert_array_equal(x, before)


_EXP = rexport.export(rjax.jit(lambda x, y: (rnp.exp(x) @ y, rnp.sum(y))))(
    np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)).serialize()


@given(st.integers(0, len(_EXP) - 1))
def test_truncated_exports_raise_value_error(n):
  with pytest.raises(ValueError, match="truncated|not an rjax export"):
    rexport.deserialize(_EXP[:n])


@given(st.integers(0, len(_EXP) - 1), st.integers(1, 255))
def test_corrupted_exports_raise_value_error(k, x):
  b = bytearray(_EXP)
  b[k] ^= x
  with pytest.raises(ValueError, match="corrupted|truncated|not an rjax export|version|"
                                       "malformed"):
    rexport.deserialize(b)


def test_newer_version_is_refused():
  b = bytearray(_EXP)
  b[8:12] = (99).to_bytes(4, "little")
  with pytest.raises(ValueError, match="unsupported export format version 99"):
    rexport.deserialize(b)


# ---------------------------------------------------------------------------
# The Rust API (through the C API, which calls rjax::Program): the same
# exported bytes give the same bits as Python.


def _capi():
  lib = ctypes.CDLL(_rjax_ext.__file__)
  lib.rjax_program_from_bytes.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                          ctypes.POINTER(ctypes.c_void_p)]
  lib.rjax_program_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.c_void_p)]
  lib.rjax_last_error.restype = ctypes.c_char_p
  for name in ("rjax_outputs_len", "rjax_outputs_ndim", "rjax_outputs_nbytes"):
    getattr(lib, name).restype = ctypes.c_size_t
  for name in ("rjax_outputs_shape", "rjax_outputs_data"):
    getattr(lib, name).restype = ctypes.c_void_p
  lib.rjax_outputs_dtype.restype = ctypes.c_int
  lib.rjax_program_free.argtypes = [ctypes.c_void_p]
  lib.rjax_outputs_free.argtypes = [ctypes.c_void_p]
  for name in ("rjax_outputs_len",):
    getattr(lib, name).argtypes = [ctypes.c_void_p]
  for name in ("rjax_outputs_ndim", "rjax_outputs_nbytes", "rjax_outputs_shape",
               "rjax_outputs_data", "rjax_outputs_dtype"):
    getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_size_t]
  return lib


class _Tensor(ctypes.Structure):
  _fields_ = [("dtype", ctypes.c_int), ("ndim", ctypes.c_size_t),
              ("shape", ctypes.POINTER(ctypes.c_size_t)), ("data", ctypes.c_void_p)]


_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "bfloat16", "float32", "float64"]


def _run_rust(lib, blob: bytes, args):
  prog = ctypes.c_void_p()
  assert lib.rjax_program_from_bytes(blob, len(blob), ctypes.byref(prog)) == 0, \
      lib.rjax_last_error()
  keep = [np.ascontiguousarray(a) for a in args]
  shapes = [(ctypes.c_size_t * a.ndim)(*a.shape) for a in keep]
  ts = (_Tensor * len(keep))(*[_Tensor(_DTYPES.index(a.dtype.name), a.ndim, s,
                                       a.ctypes.data) for a, s in zip(keep, shapes)])
  outs = ctypes.c_void_p()
  status = lib.rjax_program_run(prog, ts, len(keep), ctypes.byref(outs))
  try:
    if status != 0:
      return status, lib.rjax_last_error().decode()
    res = []
    for i in range(lib.rjax_outputs_len(outs)):
      nd = lib.rjax_outputs_ndim(outs, i)
      shape = tuple(ctypes.cast(lib.rjax_outputs_shape(outs, i),
                                ctypes.POINTER(ctypes.c_size_t))[:nd])
      nbytes = lib.rjax_outputs_nbytes(outs, i)
      raw = ctypes.string_at(lib.rjax_outputs_data(outs, i), nbytes) if nbytes else b""
      dt = np.dtype(_DTYPES[lib.rjax_outputs_dtype(outs, i)])
      res.append(np.frombuffer(raw, dt).reshape(shape))
    return 0, res
  finally:
    lib.rjax_outputs_free(outs)
    lib.rjax_program_free(prog)


def test_rust_api_gives_python_bits():
  lib = _capi()
  rng = np.random.default_rng(3)
  p = _params(rng)
  f = lambda x, y: (_mlp(p, x)["logits"], rnp.cumsum(y, axis=0) * 3,   # noqa
                    rnp.argmax(x, axis=1))
  spec = (rjax.ShapeDtypeStruct(rexport.symbolic_shape("b, 6"), np.float32),
          rjax.ShapeDtypeStruct(rexport.symbolic_shape("b"), np.int32))
  blob = bytes(rexport.export(rjax.jit(f))(*spec).serialize())
  for n in (1, 7, 33):
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = rng.integers(-1000, 1000, (n,)).astype(np.int32)
    status, got = _run_rust(lib, blob, [x, y])
    assert status == 0, got
    want = rexport.deserialize(blob).call(x, y)
    for g, w in zip(got, want):
      _bits_equal(g, w)
  status, msg = _run_rust(lib, blob, [np.zeros((2, 5), np.float32), np.zeros(2, np.int32)])
  assert status == 4 and "dimension 1 to be 6" in msg
  prog = ctypes.c_void_p()
  assert lib.rjax_program_from_bytes(blob[:-3], len(blob) - 3, ctypes.byref(prog)) == 3
  assert "truncated" in lib.rjax_last_error().decode() and not prog.value
