"""jit's cache: one trace per abstract signature. A Python side effect in the
traced function counts traces: the same signature never retraces, and each
new shape, dtype, weak type, pytree structure or static value retraces
exactly once (and is then cached too)."""
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import lax
from util import enable_x64


def _counting(**jit_kw):
  traces = []

  def f(x, y=1.0, *rest):
    traces.append(1)
    leaves = rjax.tree_util.tree_leaves((x, rest))
    return sum(jnp.sum(v) for v in leaves) * y
  return rjax.jit(f, **jit_kw), traces


def _f32(*shape, fill=1.0):
  return jnp.asarray(np.full(shape, fill, np.float32))


def test_same_signature_never_retraces():
  jf, traces = _counting()
  for v in (1.0, 2.0, -3.5):
    jf(_f32(3, fill=v), v)
  jf(np.ones(3, np.float32), 4.0)           # a NumPy array of the same aval
  assert len(traces) == 1
  assert jf._cache_size() == 1


@pytest.mark.parametrize("change", ["shape", "rank", "dtype", "weak_type", "pytree", "pytree_kind",
                                    "extra_arg"])
def test_each_new_signature_retraces_exactly_once(change):
  jf, traces = _counting()
  x = _f32(3)
  base = lambda: jf(x, 2.0)
  variant = {
      "shape": lambda: jf(_f32(4), 2.0),
      "rank": lambda: jf(_f32(3, 1), 2.0),
      "dtype": lambda: jf(jnp.asarray(np.ones(3, np.int32)), 2.0),
      "weak_type": lambda: jf(x, jnp.asarray(np.float32(2.0))),   # strong f32 scalar, not weak
      "pytree": lambda: jf((x, x), 2.0),
      "pytree_kind": lambda: jf({"a": x}, 2.0),
      "extra_arg": lambda: jf(x, 2.0, x),
  }[change]
  want_base, want_variant = base(), variant()
  assert len(traces) == 2
  for _ in range(3):  # both stay cached
    np.testing.assert_array_equal(np.asarray(base()), np.asarray(want_base))
    np.testing.assert_array_equal(np.asarray(variant()), np.asarray(want_variant))
  assert len(traces) == 2


def test_weak_and_strong_arrays_are_separate_entries_on_the_fast_path():
  traces = []

  @rjax.jit
  def f(v):
    traces.append(1)
    return v * 2

  weak = lax.mul(2.0, 1.0)          # a weakly typed f32 Array
  strong = jnp.asarray(np.float32(2.0))
  assert weak.weak_type and not strong.weak_type
  for _ in range(2):
    assert f(weak).weak_type
    assert not f(strong).weak_type
    out = f(jnp.asarray(np.float16(2.0)) + 1.0)
    assert out.dtype == np.float16
  assert len(traces) == 3
  # a weak f32 array times a float16 array stays float16 (the weak type reached the trace)
  g = rjax.jit(lambda a, b: a * b)
  assert g(weak, jnp.asarray(np.float16([1.0, 2.0]))).dtype == np.float16
  assert g(strong, jnp.asarray(np.float16([1.0, 2.0]))).dtype == np.float32


def test_x64_dtypes_are_separate_entries():
  jf, traces = _counting()
  jf(_f32(3), 1.0)
  with enable_x64():
    out = jf(jnp.asarray(np.ones(3)), 1.0)
    assert out.dtype == np.float64
  assert len(traces) == 2


def test_static_values_retrace_once_each():
  traces = []

  def f(x, n, *, mode):
    traces.append((n, mode))
    return x * n if mode == "mul" else x + n

  jf = rjax.jit(f, static_argnums=1, static_argnames="mode")
  x = _f32(2)
  for _ in range(2):
    assert np.asarray(jf(x, 3, mode="mul")).tolist() == [3.0, 3.0]
    assert np.asarray(jf(x, 3, mode="add")).tolist() == [4.0, 4.0]
    assert np.asarray(jf(x, 4, mode="add")).tolist() == [5.0, 5.0]
  assert traces == [(3, "mul"), (3, "add"), (4, "add")]
  jf(x, 3.0, mode="mul")   # 3.0 == 3 and hash(3.0) == hash(3): the same static value
  assert len(traces) == 3
  jf(_f32(5), 3, mode="mul")  # a new shape with a known static value
  assert len(traces) == 4


def test_static_argnames_given_positionally_and_by_name():
  traces = []

  def f(x, n):
    traces.append(n)
    return x + n

  jf = rjax.jit(f, static_argnames="n")
  x = _f32(2)
  assert np.asarray(jf(x, n=2)).tolist() == [3.0, 3.0]
  assert np.asarray(jf(x, n=2)).tolist() == [3.0, 3.0]
  assert np.asarray(jf(x, n=5)).tolist() == [6.0, 6.0]
  assert traces == [2, 5]


def test_closed_over_values_are_read_at_trace_time():
  """As in JAX: a jitted function sees the closure as it was when traced."""
  scale = [2.0]
  jf = rjax.jit(lambda v: v * scale[0])
  x = _f32(2)
  assert np.asarray(jf(x)).tolist() == [2.0, 2.0]
  scale[0] = 5.0
  assert np.asarray(jf(x)).tolist() == [2.0, 2.0]      # cached trace
  assert np.asarray(jf(_f32(3))).tolist() == [5.0] * 3  # a new trace reads it again


def test_clear_cache_retraces():
  jf, traces = _counting()
  jf(_f32(3), 1.0)
  jf.clear_cache()
  jf(_f32(3), 1.0)
  assert len(traces) == 2


def test_enabling_x64_retraces():
  """Python scalars trace to 32- or 64-bit types depending on x64, so the
  flag is part of the signature."""
  from util import enable_x64
  f = rjax.jit(lambda x: x * 2.5)
  x = rjax.numpy.ones(3, dtype=np.int32)
  assert f(x).dtype == np.float32
  with enable_x64():
    assert f(x).dtype == np.float64
  assert f(x).dtype == np.float32
