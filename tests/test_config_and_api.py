"""JAX's config context managers and the small top-level API of issue #14:
thread-local flags validated as JAX validates them, debug_nans/debug_infs
(eagerly and under jit, naming the primitive), leaked-tracer checks,
ensure_compile_time_eval, named_scope/named_call, typeof, default_backend,
live_arrays, jacobian, and JAX's error classes and tracer-leak errors."""
import threading

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import errors

# Every context manager JAX exposes at top level, with a bad value for it.
ENUM_FLAGS = {
    "numpy_rank_promotion": "nope", "numpy_dtype_promotion": "x",
    "default_matmul_precision": "x", "transfer_guard": "x",
    "transfer_guard_host_to_device": 3, "transfer_guard_device_to_device": "y",
    "transfer_guard_device_to_host": "z", "array_garbage_collection_guard": "x",
    "legacy_prng_key": "x", "default_prng_impl": "x",
}
BOOL_FLAGS = ["enable_x64", "enable_checks", "log_compiles", "explain_cache_misses",
              "debug_nans", "debug_infs", "check_tracer_leaks", "no_tracing", "no_execution",
              "softmax_custom_jvp", "allow_f16_reductions", "jax2tf_associative_scan_reductions",
              "thread_guard", "remove_size_one_mesh_axis_from_type", "auto_pcast"]


@pytest.mark.parametrize("name", sorted(ENUM_FLAGS))
def test_enum_flags_validate_like_jax(name):
  bad = ENUM_FLAGS[name]
  with pytest.raises(ValueError):
    with getattr(jax, name)(bad):
      pass
  with pytest.raises(ValueError):
    with getattr(rjax, name)(bad):
      pass


@pytest.mark.parametrize("name", BOOL_FLAGS)
def test_bool_flags_are_thread_local_context_managers(name):
  state = getattr(rjax, name)
  before = state.value
  seen = []
  with state(not before):
    assert state.value == (not before)
    t = threading.Thread(target=lambda: seen.append(state.value))
    t.start()
    t.join()
  assert seen == [before] and state.value == before
  with pytest.raises(TypeError, match="bool"):
    bool(state)


def test_config_object_reads_and_updates_like_jax():
  assert rjax.config.jax_enable_x64 is False and jax.config.jax_enable_x64 is False
  with rjax.enable_x64():
    assert rjax.config.jax_enable_x64 is True
    assert jnp.asarray(1.0).dtype == np.float64
  with pytest.raises(AttributeError, match="Unrecognized config option: jax_nope"):
    rjax.config.update("jax_nope", 1)
  with pytest.raises(AttributeError):
    jax.config.update("jax_nope", 1)
  with pytest.raises(TypeError, match="requires an argument"):
    rjax.numpy_rank_promotion()
  with pytest.raises(TypeError, match="requires an argument"):
    jax.numpy_rank_promotion()


def test_flags_rjax_cannot_honour_refuse_loudly():
  with pytest.raises(NotImplementedError, match="threefry2x32"):
    with rjax.default_prng_impl("rbg"):
      pass
  with pytest.raises(NotImplementedError, match="key-reuse"):
    with rjax.debug_key_reuse(True):
      pass
  with pytest.raises(NotImplementedError):
    rjax.config.update("jax_threefry_partitionable", False)
  with rjax.transfer_guard("disallow"):         # accepted: nothing to guard on the CPU
    assert float(jnp.asarray(np.float32(2.0)) * 2) == 4.0


def test_debug_nans_eager_names_the_primitive():
  with rjax.debug_nans(True):
    with pytest.raises(FloatingPointError, match=r"invalid value \(nan\) encountered in log"):
      jnp.log(-1.0)
    with pytest.raises(FloatingPointError, match=r"invalid value \(nan\) encountered in div"):
      jnp.float32(0.0) / 0.0
    assert float(jnp.log(2.0)) == pytest.approx(np.log(2.0))
    assert np.isinf(float(jnp.float32(1.0) / 0.0))   # an inf is fine for debug_nans
  with jax.debug_nans(True):
    with pytest.raises(FloatingPointError, match=r"invalid value \(nan\) encountered in log"):
      jjnp.log(-1.0)
  assert np.isnan(float(jnp.log(-1.0)))          # off again


def test_debug_infs_eager():
  with rjax.debug_infs(True):
    with pytest.raises(FloatingPointError, match=r"invalid value \(inf\) encountered in div"):
      jnp.float32(1.0) / 0.0
    with pytest.raises(FloatingPointError, match=r"invalid value \(inf\) encountered in exp"):
      jnp.exp(100.0)


def test_debug_nans_under_jit_reruns_op_by_op(capsys):
  f = rjax.jit(lambda x: jnp.log(x) * 2)
  with rjax.debug_nans(True):
    with pytest.raises(FloatingPointError, match=r"encountered in log"):
      f(-1.0)
    printed = capsys.readouterr().out
    assert "Calling the de-optimized version" in printed
    # a NaN the de-optimized function does not make: JAX's explanation
    with pytest.raises(FloatingPointError, match="de-optimized function did not produce"):
      rjax.jit(lambda x: jnp.nan + x)(1.0)
    assert float(f(1.0)) == 0.0


def test_check_tracer_leaks():
  leak = []
  with rjax.checking_leaks():
    assert float(rjax.jit(lambda x: x * 2)(1.0)) == 2.0
    assert float(rjax.grad(lambda x: x * x)(2.0)) == 4.0
    for transform, arg in ((rjax.jit, jnp.ones(())), (rjax.grad, jnp.ones(())),
                           (rjax.vmap, jnp.ones(2))):
      with pytest.raises(Exception, match="Leaked trace"):
        transform(lambda x: leak.append(x) or x * 1.0)(arg)
  with jax.checking_leaks():
    with pytest.raises(Exception, match="Leaked trace"):
      jax.jit(lambda x: leak.append(x) or x)(1.0)


def test_ensure_compile_time_eval_matches_jax():
  def make(mod, np_):
    @mod.jit
    def f(x):
      with mod.ensure_compile_time_eval():
        y = np_.sin(3.0)
        z = np_.sin(y)
        positive = z > 0
      if positive:            # concrete under jit
        return np_.sin(x)
      return np_.cos(x)
    return f

  np.testing.assert_allclose(np.asarray(make(rjax, jnp)(1.0)),
                             np.asarray(make(jax, jjnp)(1.0)), rtol=1e-6)
  closed = rjax.make_jaxpr(make(rjax, jnp))(1.0)
  assert [e.primitive.name for e in closed.eqns] == ["sin"]


def test_named_scope_and_named_call_show_in_name_stacks():
  def f(x):
    with rjax.named_scope("outer"):
      y = jnp.sin(x)
      with rjax.named_scope("inner"):
        z = y * 2
    return z + 1

  closed = rjax.make_jaxpr(f)(1.0)
  assert [e.source_info.name_stack for e in closed.eqns] == [("outer",), ("outer", "inner"), ()]
  text = closed.jaxpr.pretty_print(name_stack=True)
  assert "# [outer/inner]" in text and "# [outer]" in text and "# []" in text
  g = rjax.named_call(lambda x: jnp.cos(x) * 3, name="foo")
  closed = rjax.make_jaxpr(lambda x: g(x) + 1)(1.0)
  assert [e.source_info.name_stack for e in closed.eqns] == [("foo",), ("foo",), ()]
  # JAX's default printing shows no names
  assert str(rjax.make_jaxpr(f)(1.0)) == str(jax.make_jaxpr(
      lambda x: jjnp.sin(x) * 2 + 1)(1.0))
  with pytest.raises(TypeError, match="string"):
    with rjax.named_scope(3):
      pass


def test_typeof_default_backend_live_arrays_jacobian():
  for v in (1.0, 2, True, np.float32(1), np.ones((2, 3), np.int8)):
    assert str(rjax.typeof(v)) == str(jax.typeof(v))
    assert repr(rjax.typeof(v)) == repr(jax.typeof(v))
  assert rjax.default_backend() == jax.default_backend() == "cpu"
  a = jnp.arange(7.0)
  assert any(x is a for x in rjax.live_arrays())
  a.delete()
  assert not any(x is a for x in rjax.live_arrays())
  np.testing.assert_allclose(np.asarray(rjax.jacobian(jnp.sin)(jnp.ones(3))),
                             np.asarray(jax.jacobian(jjnp.sin)(jjnp.ones(3))), rtol=1e-6)


def test_error_classes_follow_jax_hierarchy():
  for name in ["ConcretizationTypeError", "NonConcreteBooleanIndexError",
               "TracerArrayConversionError", "TracerBoolConversionError",
               "TracerIntegerConversionError", "UnexpectedTracerError", "JAXTypeError",
               "JAXIndexError", "KeyReuseError", "JaxprTypeError"]:
    ours, theirs = getattr(errors, name), getattr(jax.errors, name)
    bases = lambda c: [b.__name__ for b in c.__mro__ if b.__module__ in  # noqa: E731
                       ("builtins",) or b.__name__.startswith(("JAX", "Tracer", "Concret"))]
    assert bases(ours) == bases(theirs), name


def test_leaked_tracer_is_an_unexpected_tracer_error_like_jax():
  leak = []
  rjax.jit(lambda x: leak.append(x) or x)(1.0)
  with pytest.raises(errors.UnexpectedTracerError) as e:
    leak[0] + 1
  assert isinstance(e.value, TypeError)
  jleak = []
  jax.jit(lambda x: jleak.append(x) or x)(1.0)
  with pytest.raises(jax.errors.UnexpectedTracerError):
    jleak[0] + 1


def test_config_with_absl_takes_flags_from_the_command_line(tmp_path):
  # JAX's examples call jax.config.config_with_absl() and then app.run(main)
  import subprocess
  import sys
  prog = tmp_path / "prog.py"
  prog.write_text(
      "from absl import app\n"
      "import rjax, rjax.numpy as jnp\n"
      "rjax.config.config_with_absl()\n"
      "def main(argv):\n"
      "  print(rjax.config.jax_enable_x64, jnp.ones(2).dtype, argv[1:])\n"
      "app.run(main)\n")
  run = lambda *a: subprocess.run([sys.executable, str(prog), *a], capture_output=True,
                                  text=True, timeout=120)
  assert run().stdout.split() == ["False", "float32", "[]"]
  assert run("--jax_enable_x64", "rest").stdout.split() == ["True", "float64", "['rest']"]
  bad = run("--jax_no_such_flag")
  assert bad.returncode != 0 and "jax_no_such_flag" in bad.stderr
