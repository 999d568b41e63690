"""jit's cache belongs to the function (issue #14): ``jit(f)(x)`` written
inline reuses the first trace and Program; a global changed between calls is
not seen (JAX's documented caching); the cache goes when the function does;
it is thread-safe; ``jax_log_compiles`` still says why it compiles again.
Also the stages (``trace``/``lower``/``compile``), ``disable_jit``,
``no_tracing`` and ``explain_cache_misses``."""
import gc
import logging
import threading
import weakref

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax._src.transforms import jit as jit_mod

SCALE = 2.0


def _scaled(x):
  return x * SCALE


def test_inline_jit_reuses_the_trace_and_ignores_changed_globals():
  global SCALE
  traces = []

  def f(x):
    traces.append(1)
    return x * SCALE + 1.0

  x = jnp.ones(3)
  outs = [rjax.jit(f)(x) for _ in range(5)]          # a new wrapper each call
  assert len(traces) == 1
  SCALE = 5.0
  try:
    r = rjax.jit(f)(x)
    # JAX's documented caching: the cached trace still sees SCALE == 2.0
    j = jax.jit(lambda v: v * 0 + 3.0)(jjnp.ones(3))   # (what JAX's own cache gives here)
    np.testing.assert_array_equal(np.asarray(r), np.asarray(j))
    np.testing.assert_array_equal(np.asarray(outs[0]), np.asarray(j))
    assert len(traces) == 1
    assert float(rjax.jit(f)(jnp.ones(4))[0]) == 6.0   # a new signature traces again
  finally:
    SCALE = 2.0


def test_jax_agrees_about_globals():
  global SCALE
  jf = lambda: jax.jit(_scaled)(jjnp.ones(2))   # noqa: E731
  rf = lambda: rjax.jit(_scaled)(jnp.ones(2))   # noqa: E731
  first = (np.asarray(jf()), np.asarray(rf()))
  SCALE = 7.0
  try:
    np.testing.assert_array_equal(np.asarray(jf()), first[0])
    np.testing.assert_array_equal(np.asarray(rf()), first[1])
  finally:
    SCALE = 2.0


def test_options_and_signatures_are_separate_entries():
  traces = []

  def f(x, n=1):
    traces.append(n)
    return x * n

  x = jnp.ones(2)
  rjax.jit(f)(x, 2)
  rjax.jit(f)(x, 2)
  rjax.jit(f, static_argnums=1)(x, 2)
  rjax.jit(f, static_argnums=1)(x, 3)
  rjax.jit(f, static_argnums=1)(x, 2)
  assert len(traces) == 3
  with rjax.enable_x64():
    rjax.jit(f)(x, 2)
  assert len(traces) == 4


def test_the_cache_is_weak_in_the_function():
  def make():
    def f(x):
      return x + 1.0
    return f

  f = make()
  rjax.jit(f)(jnp.ones(2))
  ref = weakref.ref(f)
  assert f in jit_mod._caches
  del f
  gc.collect()
  assert ref() is None            # the cache does not keep the function alive
  assert all(k is not None for k in jit_mod._caches.keys())


def test_unhashable_callables_get_their_own_cache():
  class Mul:
    __hash__ = None

    def __call__(self, x):
      return x * 3.0

  m = Mul()
  jf = rjax.jit(m)
  assert float(jf(2.0)) == 6.0 and float(jf(2.0)) == 6.0
  assert jf._cache_size() == 1


def test_threads_share_one_trace():
  traces = []
  lock = threading.Lock()

  def f(x):
    with lock:
      traces.append(1)
    return jnp.sin(x) * 2

  x = jnp.ones(8)
  want = np.sin(np.ones(8, np.float32)) * 2
  results = []

  def work():
    for _ in range(20):
      results.append(np.asarray(rjax.jit(f)(x)))

  ts = [threading.Thread(target=work) for _ in range(4)]
  for t in ts:
    t.start()
  for t in ts:
    t.join()
  assert len(results) == 80
  for r in results:
    np.testing.assert_allclose(r, want, rtol=1e-6)
  assert 1 <= len(traces) <= 4           # at most one racing trace per thread, then shared
  assert rjax.jit(f)._cache_size() == 1


def test_log_compiles_explains_why(caplog):
  def g(x):
    return x * 2

  with rjax.log_compiles(True), caplog.at_level(logging.WARNING, logger="rjax"):
    rjax.jit(g)(jnp.ones(2))
    rjax.jit(g)(jnp.ones(2))                    # cached: no message
    rjax.jit(g)(jnp.ones(3))
    rjax.jit(g)(jnp.ones(3, dtype=jnp.int32))
  msgs = [r.getMessage() for r in caplog.records]
  assert len(msgs) == 3
  assert "first call" in msgs[0]
  assert "argument 0 changed from f32[2] to f32[3]" in msgs[1]
  assert "argument 0 changed from f32[3] to i32[3]" in msgs[2]


def test_explain_cache_misses_logs_each_trace(caplog):
  def h(x):
    return x - 1

  with rjax.explain_cache_misses(True), caplog.at_level(logging.WARNING, logger="rjax"):
    rjax.jit(h)(jnp.ones(2))
    rjax.jit(h)(jnp.ones(2))
    rjax.jit(h)(jnp.ones(5))
  msgs = [r.getMessage() for r in caplog.records]
  assert len(msgs) == 2 and all("TRACING CACHE MISS" in m and "jit(h)" in m for m in msgs)


def test_disable_jit_runs_python_eagerly():
  seen = []

  @rjax.jit
  def f(x):
    seen.append(type(x).__name__)
    if x > 0:                    # concrete under disable_jit
      return x * 2
    return -x

  with rjax.disable_jit():
    assert float(f(3.0)) == 6.0 and float(f(-1.0)) == 1.0
    assert float(rjax.grad(f)(3.0)) == 2.0
  assert seen[:2] == ["float", "float"]
  with pytest.raises(rjax.errors.TracerBoolConversionError):
    f(3.0)
  with jax.disable_jit():
    assert float(jax.jit(lambda x: x * 2 if x > 0 else -x)(3.0)) == 6.0
  # the flag, and its validation, as in JAX
  rjax.config.update("jax_disable_jit", True)
  try:
    assert float(f(-2.0)) == 2.0
  finally:
    rjax.config.update("jax_disable_jit", False)


def test_disable_jit_is_thread_local():
  @rjax.jit
  def f(x):
    return x * 2 if x > 0 else -x

  errs = []

  def other():
    try:
      f(1.0)
    except rjax.errors.TracerBoolConversionError:
      errs.append("abstract")

  with rjax.disable_jit():
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert float(f(1.0)) == 2.0
  assert errs == ["abstract"]


def test_no_tracing_raises_on_a_new_trace():
  f = rjax.jit(lambda x: x + 1)
  f(jnp.ones(2))
  with rjax.no_tracing(True):
    f(jnp.ones(2))                       # cached: fine
    with pytest.raises(RuntimeError, match="no_tracing"):
      f(jnp.ones(3))


def test_stages_trace_lower_compile():
  def f(x, y):
    return {"s": jnp.sin(x) * y, "n": jnp.sum(x)}

  wrapped = rjax.jit(f)
  assert isinstance(wrapped, rjax.stages.Wrapped)
  x, y = jnp.ones(3), 2.0
  traced = wrapped.trace(x, y)
  assert isinstance(traced, rjax.stages.Traced)
  assert "sin" in str(traced.jaxpr)
  info = traced.out_info
  assert info["s"].shape == (3,) and info["n"].shape == ()
  lowered = traced.lower()
  assert isinstance(lowered, rjax.stages.Lowered)
  compiled = wrapped.lower(x, y).compile()
  assert isinstance(compiled, rjax.stages.Compiled)
  out = compiled(x, y)
  np.testing.assert_allclose(np.asarray(out["s"]), np.sin(np.ones(3)) * 2, rtol=1e-6)
  with pytest.raises(TypeError, match="Argument types differ"):
    compiled(jnp.ones(4), y)
  j = jax.jit(lambda a, b: jjnp.sin(a) * b).lower(jjnp.ones(3), 2.0).compile()
  with pytest.raises(TypeError):
    j(jjnp.ones(4), 2.0)
  assert wrapped.eval_shape(x, y)["s"] == rjax.ShapeDtypeStruct((3,), np.float32)


def test_clear_caches_forgets_every_trace():
  traces = []

  def f(x):
    traces.append(1)
    return x * 2

  rjax.jit(f)(jnp.ones(2))
  rjax.clear_caches()
  rjax.jit(f)(jnp.ones(2))
  assert len(traces) == 2
  jax.clear_caches()                     # the same name exists in JAX


def test_fwd_and_bwd_compile_once_and_match_jax():
  def f(np_, x, W):
    return np_.sin(np_.dot(x, W))

  x = np.linspace(-1, 1, 16).astype(np.float32).reshape(4, 4)
  fwd, bwd = rjax.fwd_and_bwd(lambda a, b: f(jnp, a, b), argnums=(0, 1))
  fj, bj = jax.fwd_and_bwd(lambda a, b: f(jjnp, a, b), argnums=(0, 1))
  for _ in range(3):
    y, res = fwd(jnp.asarray(x), jnp.asarray(x))
    gx, gw = bwd(res, jnp.ones((4, 4)))
  assert fwd._cache_size() == bwd._cache_size() == 1
  yj, rj = fj(jjnp.asarray(x), jjnp.asarray(x))
  gxj, gwj = bj(rj, jjnp.ones((4, 4)))
  np.testing.assert_allclose(np.asarray(gx), np.asarray(gxj), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(gw), np.asarray(gwj), rtol=1e-5, atol=1e-6)
  fwd1, bwd1 = rjax.fwd_and_bwd(lambda a: f(jnp, a, jnp.asarray(x)), argnums=0, jitted=False)
  y, res = fwd1(jnp.asarray(x))
  np.testing.assert_allclose(np.asarray(bwd1(res, jnp.ones((4, 4)))), np.asarray(gxj),
                             rtol=1e-5, atol=1e-6)
