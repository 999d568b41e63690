"""Asynchronous dispatch: large work is queued on the device and returns
pending arrays; reading them waits; an error inside queued work surfaces at
the next wait, flows to the work that depends on it, and the device keeps
working afterwards."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import _rjax, lax
from rjax._src.runtime.array import Array


@pytest.fixture
def always_async():
  """Queue every run, however small, so these tests see pending buffers."""
  prev = _rjax.set_async_mode("always")
  try:
    yield
  finally:
    _rjax.synchronize()
    _rjax.set_async_mode(prev)


def _failing(x, message="boom", panic=False):
  """An Array whose (queued) computation fails after ``x`` is ready."""
  return Array._from_buffer(_rjax._queue_failure_for_test(x._buf, message, panic), x.aval)


def test_set_async_mode_checks_its_argument():
  with pytest.raises(ValueError, match="async mode"):
    _rjax.set_async_mode("sometimes")


def test_large_work_is_queued_and_reading_waits():
  x = jnp.asarray(np.linspace(-3, 3, 1 << 20, dtype=np.float32))
  f = rjax.jit(lambda x: jnp.tanh(x) * 2 + 1)
  y = f(x)
  assert "pending" in repr(y._buf) or y.is_ready()   # queued (may be done already)
  np.testing.assert_allclose(np.asarray(y), np.tanh(np.asarray(x)) * 2 + 1, rtol=2e-6,
                             atol=2e-6)
  assert y.is_ready()
  assert y.block_until_ready() is y


def test_chains_of_pending_work_run_in_order(always_async):
  x = jnp.arange(8.0)
  f = rjax.jit(lambda x: x * 2.0 - 1.0)
  y = x
  for _ in range(50):
    y = f(y)        # every call reads the previous call's pending output
    y = y + 1.0     # and so does every eager op
  np.testing.assert_array_equal(np.asarray(y), np.arange(8.0) * 2.0 ** 50)


def test_all_readers_wait(always_async):
  x = jnp.arange(6.0).reshape(2, 3) + 1.0
  assert repr(x) == "Array([[1., 2., 3.],\n       [4., 5., 6.]], dtype=float32)"
  s = jnp.sum(x)
  assert float(s) == 21.0 and s.item() == 21.0 and int(s) == 21 and bool(s)
  assert str(x[0]) == "[1. 2. 3.]"
  assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
  assert f"{s:.1f}" == "21.0"
  tree = rjax.block_until_ready({"a": x * 2, "b": [s]})
  assert all(leaf.is_ready() for leaf in rjax.tree_util.tree_leaves(tree))
  np.testing.assert_array_equal(rjax.device_get(tree)["a"], np.asarray(x) * 2)


def test_error_surfaces_at_the_next_wait_and_the_device_survives(always_async):
  x = jnp.arange(4.0)
  bad = _failing(x, "deliberate failure")   # returns at once: nothing raised yet
  f = rjax.jit(lambda v: jnp.exp(v) + 1.0)
  y = f(bad)                                # queued behind the failing work
  z = jnp.sin(bad)                          # eager work too
  for arr in (bad, y, z):
    with pytest.raises(rjax.errors.RjaxError, match="deliberate failure"):
      arr.block_until_ready()
  with pytest.raises(rjax.errors.RjaxError, match="deliberate failure"):
    np.asarray(y)
  # The device keeps working: later work and independent arrays are fine.
  np.testing.assert_allclose(np.asarray(f(x)), np.exp(np.arange(4.0)) + 1.0, rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(x), np.arange(4.0))


def test_a_panic_inside_queued_work_is_an_exception(always_async):
  x = jnp.ones(3)
  bad = _failing(x, "deliberate panic", panic=True)
  with pytest.raises(rjax.errors.RjaxError, match="deliberate panic"):
    bad.block_until_ready()
  assert float(jnp.sum(x + 1.0)) == 6.0


def test_a_failed_input_raises_when_used_synchronously():
  x = jnp.ones(3)
  prev = _rjax.set_async_mode("always")
  bad = _failing(x, "failed input")
  _rjax.synchronize()
  _rjax.set_async_mode("never")
  try:
    with pytest.raises(rjax.errors.RjaxError, match="failed input"):
      bad + 1.0
  finally:
    _rjax.set_async_mode(prev)


def test_donation_of_a_pending_array(always_async):
  f = rjax.jit(lambda p: p * 0.5, donate_argnums=0)
  p = jnp.ones(1000) * 4.0       # pending
  q = f(p)
  assert p.is_deleted()
  with pytest.raises(RuntimeError, match="deleted"):
    np.asarray(p)
  np.testing.assert_array_equal(np.asarray(q), np.full(1000, 2.0, np.float32))


def _mlp_loss(params, x):
  w1, w2 = params
  h = jnp.tanh(x @ w1)
  return jnp.mean(jax_logsumexp(h @ w2))


def jax_logsumexp(z):
  m = jnp.max(z, axis=-1, keepdims=True)
  return (m + jnp.log(jnp.sum(jnp.exp(z - m), axis=-1, keepdims=True)))[..., 0]


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 9), hidden=st.integers(1, 17), seed=st.integers(0, 1000))
def test_async_results_equal_synchronous_results(batch, hidden, seed):
  rng = np.random.default_rng(seed)
  params = (jnp.asarray(rng.standard_normal((5, hidden), np.float32)),
            jnp.asarray(rng.standard_normal((hidden, 3), np.float32)))
  x = jnp.asarray(rng.standard_normal((batch, 5), np.float32))
  step = rjax.jit(rjax.value_and_grad(_mlp_loss))
  per_example = rjax.vmap(rjax.grad(_mlp_loss), in_axes=(None, 0))
  results = {}
  for mode in ("never", "always"):
    prev = _rjax.set_async_mode(mode)
    try:
      results[mode] = rjax.device_get((step(params, x), per_example(params, x[:, None]),
                                       lax.cumsum(x, axis=0), jnp.sort(x, axis=1)))
    finally:
      _rjax.synchronize()
      _rjax.set_async_mode(prev)
  for a, b in zip(rjax.tree_util.tree_leaves(results["never"]),
                  rjax.tree_util.tree_leaves(results["always"])):
    np.testing.assert_array_equal(a, b)


def test_eight_threads_dispatching_async_work(always_async):
  f = rjax.jit(lambda x, k: jnp.sum(jnp.sin(x) * k))
  xs = [jnp.arange(float(100 + t)) for t in range(8)]
  want = [float(np.sum(np.sin(np.arange(100.0 + t, dtype=np.float32)) * 2.0)) for t in range(8)]
  got = [None] * 8
  errors = []

  def work(t):
    try:
      acc = []
      for _ in range(20):
        acc.append(f(xs[t], 2.0))
      got[t] = [float(a) for a in acc]
    except Exception as e:  # pragma: no cover - reported below
      errors.append(e)

  threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
  for th in threads:
    th.start()
  for th in threads:
    th.join()
  assert not errors
  for t in range(8):
    np.testing.assert_allclose(got[t], [want[t]] * 20, rtol=1e-5)
