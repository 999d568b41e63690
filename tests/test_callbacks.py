"""Host callbacks (``rjax.debug.print``, ``rjax.debug.callback``,
``rjax.pure_callback``): values against NumPy, every transformation, the
order of effects (in one program, across consecutive asynchronous calls,
in every loop iteration), effects kept by dead-code elimination, errors that
surface as the callback's own exception, and calls from several threads."""
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from rjax import _rjax, lax


@pytest.fixture
def always_async():
  """Queue every run (as tests/test_async.py does)."""
  prev = _rjax.set_async_mode("always")
  try:
    yield
  finally:
    _rjax.synchronize()
    _rjax.set_async_mode(prev)


@pytest.fixture
def sync_mode():
  """Run everything on the calling thread (RJAX_ASYNC=never)."""
  prev = _rjax.set_async_mode("never")
  try:
    yield
  finally:
    _rjax.set_async_mode(prev)


def printed(capsys) -> str:
  """What was printed, once every queued print has run."""
  rjax.effects_barrier()
  return capsys.readouterr().out


class Log:
  """A debug callback that records what it saw, in order."""

  def __init__(self):
    self.seen = []
    self.names = []    # static (string) arguments, in order
    self.lock = threading.Lock()

  def __call__(self, *args):
    with self.lock:
      self.names.extend(a for a in args if isinstance(a, str))
      self.seen.append(tuple(np.array(a) for a in args if not isinstance(a, str)))

  def values(self):
    rjax.effects_barrier()
    return [tuple(v.tolist() for v in s) for s in self.seen]


# -- debug.print --------------------------------------------------------------------------------

def _f(x):
  rjax.debug.print("x = {x}", x=x)
  y = jnp.sin(x)
  rjax.debug.print("y = {}", y)
  return y * 2.0


def test_print_eager_jit_and_under_grad(capsys):
  x = jnp.float32(0.5)
  _f(x)
  assert printed(capsys) == f"x = 0.5\ny = {np.sin(np.float32(0.5))}\n"
  g = rjax.jit(_f)
  for _ in range(3):   # every call prints again (jit's cache and fast path)
    g(x)
  assert printed(capsys) == f"x = 0.5\ny = {np.sin(np.float32(0.5))}\n" * 3
  # grad prints the primal values, once (in the forward pass)
  for fn in (rjax.grad(_f), rjax.jit(rjax.grad(_f)), rjax.grad(rjax.jit(_f))):
    np.testing.assert_allclose(fn(x), 2 * np.cos(0.5), rtol=1e-6)
    assert printed(capsys) == f"x = 0.5\ny = {np.sin(np.float32(0.5))}\n"
  _, t = rjax.jvp(_f, (x,), (jnp.float32(1.0),))
  assert printed(capsys) == f"x = 0.5\ny = {np.sin(np.float32(0.5))}\n"


def test_print_under_vmap_prints_each_element(capsys):
  def f(x, s):
    rjax.debug.print("{} {}", x, s)
    return x + s
  rjax.vmap(f, in_axes=(0, None))(jnp.arange(3), 7)
  assert printed(capsys) == "0 7\n1 7\n2 7\n"
  rjax.jit(rjax.vmap(f))(jnp.arange(2), jnp.arange(10, 12))
  assert printed(capsys) == "0 10\n1 11\n"


def test_print_matches_jax_format_and_checks_arguments(capsys):
  rjax.debug.print("{a} and {b:.2f}", a=jnp.arange(3), b=jnp.float32(1.5))
  rjax.debug.print("no placeholders", jnp.int32(4), skip_format_check=True)
  rjax.debug.print(ordered=True)("two-call {}", 1.0)
  assert printed(capsys) == "[0 1 2] and 1.50\nno placeholders 4\ntwo-call 1.0\n"
  with pytest.raises(ValueError, match="Unused keyword arguments"):
    rjax.debug.print("x", x=jnp.ones(2))
  with pytest.raises(ValueError, match="Unused positional arguments"):
    rjax.debug.print("{}", 1, 2)


def test_print_in_loops_runs_every_iteration(capsys):
  def body(i, c):
    rjax.debug.print("i={i} c={c}", i=i, c=c)
    return c * 2
  assert int(rjax.jit(lambda c: lax.fori_loop(0, 4, body, c))(1)) == 16
  assert printed(capsys) == "".join(f"i={i} c={2 ** i}\n" for i in range(4))

  n = jnp.int32(3)   # a traced bound: a while loop
  rjax.jit(lambda c, n: lax.fori_loop(0, n, body, c))(1, n)
  assert printed(capsys) == "".join(f"i={i} c={2 ** i}\n" for i in range(3))

  def step(c, x):
    rjax.debug.print("{} {}", c, x)
    return c + x, None
  lax.scan(step, 0, jnp.arange(3))
  assert printed(capsys) == "0 0\n0 1\n1 2\n"

  lax.cond(True, lambda x: rjax.debug.print("true {}", x), lambda x: None, 5)
  assert printed(capsys) == "true 5\n"


def test_grad_through_scan_prints_each_iteration_once(capsys):
  def f(x):
    def step(c, _):
      rjax.debug.print("c={}", c)
      return jnp.sin(c), None
    return lax.scan(step, x, None, length=3)[0]
  g = rjax.grad(f)(0.5)
  want = [0.5, np.sin(np.float32(0.5))]
  want.append(np.sin(want[1]))
  assert printed(capsys) == "".join(f"c={np.float32(c)}\n" for c in want)
  np.testing.assert_allclose(g, np.prod(np.cos(np.array(want, np.float32))), rtol=1e-5)


# -- debug.callback: ordering, effects, dead-code elimination -----------------------------------

def test_callbacks_run_in_program_order():
  log = Log()

  def f(x):
    for k in range(5):
      rjax.debug.callback(log, k, x)   # the same callback on equal values: never merged
      rjax.debug.callback(log, k, x)
    return x
  rjax.jit(f)(jnp.float32(1.0))
  assert log.values() == [(k, 1.0) for k in range(5) for _ in range(2)]


def test_dead_code_elimination_keeps_effects():
  log = Log()

  def f(x):
    y = jnp.exp(x) * 3.0            # only the callback reads y
    rjax.debug.callback(log, y)
    z = lax.fori_loop(0, 2, lambda i, c: (rjax.debug.callback(log, i), c)[1], x)
    del z                           # a loop whose outputs nobody reads
    return x + 1.0
  g = rjax.jit(f)
  g(jnp.float32(0.0))
  assert log.values() == [(3.0,), (0,), (1,)]
  assert "debug_callback" in g.lower(jnp.float32(0.0)).as_text().split("plan(")[-1]


def test_pure_callback_is_pure_under_dce():
  calls = []

  def cb(x):
    calls.append(1)
    return np.sin(x)
  f = rjax.jit(lambda x: (rjax.pure_callback(cb, jax_struct(x), x), x + 1)[1])
  np.testing.assert_array_equal(f(jnp.ones(3)), 2 * np.ones(3, np.float32))
  assert calls == []   # nothing reads it: dropped, as JAX may


def jax_struct(x):
  return rjax.ShapeDtypeStruct(x.shape, x.dtype)


def test_order_across_consecutive_async_calls(always_async):
  log = Log()
  f = rjax.jit(lambda x: (rjax.debug.callback(log, x), x + 1.0)[1])
  x = jnp.float32(0.0)
  for _ in range(20):
    x = f(x)             # each call is queued; each callback sees the previous result
    rjax.debug.callback(log, x)   # eager ones interleave in call order
  assert float(x) == 20.0
  want = []
  for k in range(20):
    want += [(float(k),), (float(k + 1),)]
  assert log.values() == want


def test_sync_call_waits_behind_queued_callbacks():
  log = Log()
  big = jnp.zeros(1 << 19)   # 2 MiB: queued on the device even in auto mode
  slow = rjax.jit(lambda x: (rjax.debug.callback(log, "big"), x + 1.0)[1])
  small = rjax.jit(lambda x: (rjax.debug.callback(log, "small"), x)[1])
  for _ in range(3):
    slow(big)                  # queued
    small(jnp.float32(1.0))    # small enough to run at once, but waits its turn
  rjax.effects_barrier()
  assert log.names == ["big", "small"] * 3


def test_callback_gets_read_only_numpy_views():
  seen = []

  def cb(x):
    seen.append(type(x))
    with pytest.raises(ValueError):
      x[...] = 0
  x = jnp.arange(4.0)
  rjax.debug.callback(cb, x)
  rjax.jit(lambda v: rjax.debug.callback(cb, v))(x)
  rjax.effects_barrier()
  assert seen == [np.ndarray, np.ndarray]
  np.testing.assert_array_equal(x, np.arange(4.0))


# -- pure_callback ------------------------------------------------------------------------------

_DTYPES = [np.float32, np.int32, np.uint8, np.bool_, np.float16]


@settings(max_examples=25)
@given(data=st.data())
def test_pure_callback_values_match_numpy(data):
  dt = np.dtype(data.draw(st.sampled_from(_DTYPES)))
  shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
  x = data.draw(hnp.arrays(dt, shape, elements=hnp.from_dtype(dt, allow_nan=False,
                                                              allow_infinity=False)))
  before = x.copy()

  def cb(a, k=None):
    assert a.dtype == dt and a.shape == shape and not a.flags.writeable
    return {"rev": np.flip(a).copy(), "sum": np.asarray(a.astype(np.float32).sum() + k)}

  spec = {"rev": rjax.ShapeDtypeStruct(shape, dt), "sum": rjax.ShapeDtypeStruct((), np.float32)}
  for fn in (lambda a: rjax.pure_callback(cb, spec, a, k=2.0),
             rjax.jit(lambda a: rjax.pure_callback(cb, spec, a, k=2.0))):
    out = fn(jnp.asarray(x))
    np.testing.assert_array_equal(out["rev"], np.flip(x))
    assert out["rev"].dtype == dt
    np.testing.assert_allclose(out["sum"], x.astype(np.float32).sum() + 2.0, rtol=1e-6)
  np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("method", ["sequential", "sequential_unrolled", "expand_dims",
                                    "broadcast_all", "legacy_vectorized"])
def test_pure_callback_under_vmap(method):
  shapes = []

  def cb(x, y):
    shapes.append((x.shape, y.shape))
    return (x * 2 + y).astype(np.float32)

  def f(x, y):
    return rjax.pure_callback(cb, jax_struct(x), x, y, vmap_method=method)

  xs = jnp.arange(12.0).reshape(4, 3)
  y = jnp.asarray([1.0, 2.0, 3.0])   # unbatched
  for fn in (rjax.vmap(f, in_axes=(0, None)), rjax.jit(rjax.vmap(f, in_axes=(0, None)))):
    shapes.clear()
    out = fn(xs, y)
    np.testing.assert_array_equal(out, np.arange(12.0).reshape(4, 3) * 2 + np.array([1, 2, 3]))
    want = {"sequential": [((3,), (3,))] * 4, "sequential_unrolled": [((3,), (3,))] * 4,
            "expand_dims": [((4, 3), (1, 3))], "broadcast_all": [((4, 3), (4, 3))],
            "legacy_vectorized": [((4, 3), (3,))]}[method]
    assert shapes == want
  # vmapped on its second axis and nested: the same values
  out = rjax.vmap(rjax.vmap(f, in_axes=(1, None)), in_axes=(0, None))(
      jnp.arange(24.0).reshape(2, 3, 4), y)
  np.testing.assert_array_equal(
      out, np.swapaxes(np.arange(24.0).reshape(2, 3, 4), 1, 2) * 2 + np.array([1, 2, 3]))


def test_pure_callback_vmap_needs_a_method():
  f = lambda x: rjax.pure_callback(lambda a: a, jax_struct(x), x)  # noqa: E731
  with pytest.raises(NotImplementedError, match="vmap_method"):
    rjax.vmap(f)(jnp.ones((2, 3)))
  with pytest.raises(ValueError, match="vmap_method"):
    rjax.pure_callback(lambda a: a, jax_struct(jnp.ones(2)), jnp.ones(2), vmap_method="nope")


def test_pure_callback_has_no_jvp_but_custom_jvp_works():
  f = lambda x: rjax.pure_callback(np.sin, jax_struct(x), x)  # noqa: E731
  with pytest.raises(ValueError, match="Pure callbacks do not support JVP"):
    rjax.grad(f)(1.0)

  @rjax.custom_jvp
  def sin(x):
    return rjax.pure_callback(np.sin, jax_struct(x), x)
  sin.defjvp(lambda p, t: (sin(p[0]), rjax.pure_callback(np.cos, jax_struct(p[0]), p[0]) * t[0]))
  np.testing.assert_allclose(rjax.grad(sin)(jnp.float32(0.3)), np.cos(0.3), rtol=1e-6)
  np.testing.assert_allclose(rjax.jit(rjax.grad(sin))(jnp.float32(0.3)), np.cos(0.3), rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_wrong_result_shape_or_dtype_is_a_clear_error(jit):
  x = jnp.ones(3)
  wrap = rjax.jit if jit else (lambda f: f)
  bad_shape = wrap(lambda x: rjax.pure_callback(lambda a: np.ones(4, np.float32), jax_struct(x), x))
  with pytest.raises(RuntimeError, match=r"Incorrect output shape for return value #0: "
                     r"Expected: \[3\], Actual: \[4\]"):
    np.asarray(bad_shape(x))
  bad_dtype = wrap(lambda x: rjax.pure_callback(lambda a: np.ones(3), jax_struct(x), x))
  with pytest.raises(RuntimeError, match="Incorrect output dtype for return value #0: "
                     "Expected: float32, Actual: float64"):
    np.asarray(bad_dtype(x))
  with pytest.raises(ValueError, match="64-bit"):
    rjax.pure_callback(lambda a: a, rjax.ShapeDtypeStruct((3,), np.float64), x)
  np.testing.assert_array_equal(x + 1, 2 * np.ones(3))   # still working


# -- errors -------------------------------------------------------------------------------------

class CallbackBoom(Exception):
  pass


def _boom(x):
  raise CallbackBoom(f"boom at {x}")


@pytest.mark.parametrize("jit", [False, True])
def test_exception_in_callback_propagates_sync(jit, sync_mode):
  wrap = rjax.jit if jit else (lambda f: f)
  f = wrap(lambda x: (rjax.debug.callback(_boom, x), x * 2)[1])
  with pytest.raises(CallbackBoom, match="boom at 1.5"):
    np.asarray(f(jnp.float32(1.5)))
  g = wrap(lambda x: rjax.pure_callback(_boom, jax_struct(x), x))
  with pytest.raises(CallbackBoom, match="boom at"):
    np.asarray(g(jnp.float32(1.5)))
  ok = wrap(lambda x: rjax.pure_callback(np.negative, jax_struct(x), x))
  assert float(ok(jnp.float32(2.0))) == -2.0   # the runtime keeps working


def test_exception_in_callback_propagates_async(always_async):
  log = Log()
  f = rjax.jit(lambda x: (rjax.debug.callback(_boom, x), x * 2)[1])
  y = f(jnp.float32(3.0))       # queued: returns at once
  with pytest.raises(CallbackBoom, match="boom at 3.0"):
    y.block_until_ready()
  with pytest.raises(CallbackBoom):   # every read raises it again
    np.asarray(y)
  z = y + 1.0                   # work that depends on it fails with it too
  with pytest.raises(CallbackBoom):
    np.asarray(z)
  # an eager debug callback has no output to carry its error: the next
  # effects barrier raises it (once)
  rjax.debug.callback(_boom, jnp.float32(5.0))
  with pytest.raises(CallbackBoom, match="boom at 5.0"):
    rjax.effects_barrier()
  rjax.effects_barrier()
  # the device keeps working, callbacks included
  ok = rjax.jit(lambda x: (rjax.debug.callback(log, x), x * 2)[1])
  np.testing.assert_array_equal(ok(jnp.float32(4.0)), 8.0)
  assert log.values() == [(4.0,)]


def test_callback_may_call_rjax(always_async):
  """A callback that runs rjax work itself (on the device's worker thread)
  does not wait behind its own job."""
  def cb(x):
    return np.asarray(jnp.sin(jnp.asarray(x)) + 1.0)
  f = rjax.jit(lambda x: rjax.pure_callback(cb, jax_struct(x), x) * 2)
  np.testing.assert_allclose(f(jnp.arange(3.0)), (np.sin(np.arange(3.0)) + 1) * 2, rtol=1e-6)


# -- threads ------------------------------------------------------------------------------------

def test_callbacks_from_several_threads():
  errors = []
  results = {}

  def work(t):
    try:
      log = Log()
      f = rjax.jit(lambda x: (rjax.debug.callback(log, x),
                              rjax.pure_callback(lambda a: a + t, jax_struct(x), x))[1])
      outs = [float(f(jnp.float32(i))) for i in range(20)]
      results[t] = (outs, log.values())
    except Exception as e:  # noqa: BLE001
      errors.append(e)

  threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
  for th in threads:
    th.start()
  for th in threads:
    th.join(60)
  assert not errors, errors
  for t in range(4):
    outs, seen = results[t]
    assert outs == [float(i + t) for i in range(20)]
    assert seen == [(float(i),) for i in range(20)]


def test_make_jaxpr_shows_the_callbacks():
  def f(x):
    rjax.debug.print("{}", x)
    return rjax.pure_callback(np.sin, jax_struct(x), x)
  text = str(rjax.make_jaxpr(f)(jnp.ones(2)))
  assert "debug_callback" in text and "pure_callback" in text


def test_callbacks_under_pmap():
  """Replicas run on the devices' own threads: each re-acquires the GIL."""
  n = min(rjax.device_count(), 4)
  seen = Log()

  def f(x):
    rjax.debug.callback(seen, x.sum())
    y = rjax.pure_callback(lambda v: v * 2, jax_struct(x), x)
    return lax.psum(y, "i")
  x = np.arange(2.0 * n, dtype=np.float32).reshape(n, 2)
  out = rjax.pmap(f, axis_name="i")(jnp.asarray(x))
  np.testing.assert_array_equal(out, np.broadcast_to(2 * x.sum(0), (n, 2)))
  assert sorted(seen.values()) == sorted((float(r.sum()),) for r in x)


def test_bad_input_is_caught_at_trace_time():
  x = jnp.ones(2)
  with pytest.raises(TypeError, match="must be callable"):
    rjax.pure_callback(3, jax_struct(x), x)
  with pytest.raises(TypeError, match="must be callable"):
    rjax.debug.callback("not a function", x)
  with pytest.raises(TypeError, match="shape"):
    rjax.pure_callback(lambda a: a, [object()], x)
  with pytest.raises(TypeError, match="not a valid rjax type"):
    rjax.jit(lambda v: rjax.pure_callback(lambda a, b: a, jax_struct(v), v, "text"))(x)
  with pytest.raises(TypeError, match="structure"):
    np.asarray(rjax.pure_callback(lambda a: (a, a), jax_struct(x), x))


def test_effects_barrier_inside_a_callback_does_not_wait_for_itself(always_async):
  log = Log()

  def cb(x):
    rjax.effects_barrier()
    log(x)
  f = rjax.jit(lambda x: (rjax.debug.callback(cb, x), x + 1)[1])
  assert float(f(jnp.float32(1.0))) == 2.0
  assert log.values() == [(1.0,)]


def test_the_error_says_it_came_from_a_callback():
  f = rjax.jit(lambda x: rjax.pure_callback(_boom, jax_struct(x), x))
  with pytest.raises(CallbackBoom) as info:
    np.asarray(f(jnp.float32(2.0)))
  assert str(info.value) == "boom at 2.0"   # the callback's own message, unchanged
  if sys.version_info >= (3, 11):            # (older Pythons have no exception notes)
    assert any("host callback of rjax's pure_callback op" in n for n in info.value.__notes__)


def test_a_failing_callback_runs_once_per_call():
  calls = []

  def cb(x):
    calls.append(float(x))
    raise TypeError("bad type in callback")   # the kind of error jit's fast path also sees
  f = rjax.jit(lambda x: (rjax.debug.callback(cb, x), x + 1)[1])
  for k in range(3):   # the first call compiles, the next ones take the fast path
    with pytest.raises(TypeError, match="bad type in callback"):
      np.asarray(f(jnp.float32(k)))
  assert calls == [0.0, 1.0, 2.0]
