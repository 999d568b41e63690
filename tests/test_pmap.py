"""pmap on virtual CPU devices (conftest.py asks for 4): every collective
against vmap on 1, 2 and 4 devices, gradients through collectives, the same
bits on every run, sharded results, the device API, and errors."""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.test_util import check_grads
from util import enable_x64

N_DEVICES = (1, 2, 4)


def _both(f, x, n, **kw):
  """pmap and vmap of ``f`` over the leading axis of ``x`` (size n)."""
  devs = rjax.local_devices()[:n]
  p = rjax.pmap(f, axis_name="i", devices=devs, **kw)(x)
  v = rjax.vmap(f, axis_name="i", **kw)(x)
  return p, v


def _same(a, b):
  for x, y in zip(rjax.tree_util.tree_leaves(a), rjax.tree_util.tree_leaves(b)):
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


def test_four_devices_and_their_threads():
  devs = rjax.devices()
  assert rjax.device_count() == 4 == len(devs) == rjax.local_device_count()
  assert [d.id for d in devs] == [0, 1, 2, 3]
  assert rjax.process_index() == 0 and rjax.process_count() == 1
  assert all(d.platform == "cpu" and d.threads >= 1 for d in devs)
  assert repr(devs[0]) == "CpuDevice(id=0)"   # JAX's repr


def test_the_issue_example():
  out = rjax.pmap(jnp.add)(jnp.arange(2), jnp.arange(2))
  np.testing.assert_array_equal(np.asarray(out), [0, 2])
  assert isinstance(out, rjax.ShardedArray)
  assert out.devices() == set(rjax.devices()[:2])
  assert [s.device for s in out.addressable_shards] == rjax.devices()[:2]
  np.testing.assert_array_equal(np.asarray(out.addressable_shards[1].data), 2)


COLLECTIVE_FNS = {
    "psum": lambda x: lax.psum(x, "i"),
    "pmean": lambda x: lax.pmean(x, "i"),
    "pmax": lambda x: lax.pmax(x, "i"),
    "pmin": lambda x: lax.pmin(x, "i"),
    "all_gather": lambda x: lax.all_gather(x, "i"),
    "all_gather_axis1": lambda x: lax.all_gather(x, "i", axis=1),
    "all_gather_tiled": lambda x: lax.all_gather(x, "i", tiled=True),
    "all_gather_tiled_axis1": lambda x: lax.all_gather(x, "i", axis=1, tiled=True),
    "psum_scatter": lambda x: lax.psum_scatter(
        jnp.broadcast_to(x[:1], (lax.axis_size("i"),) + x.shape[1:]) * x[:1], "i"),
    "psum_scatter_tiled": lambda x: lax.psum_scatter(jnp.tile(x, (lax.axis_size("i"), 1)), "i",
                                                      tiled=True),
    "ppermute_ring": lambda x: lax.ppermute(
        x, "i", [(j, (j + 1) % lax.axis_size("i")) for j in range(lax.axis_size("i"))]),
    "ppermute_partial": lambda x: lax.ppermute(x, "i", [(0, lax.axis_size("i") - 1)]),
    "pshuffle": lambda x: lax.pshuffle(x, "i", list(reversed(range(lax.axis_size("i"))))),
    "all_to_all": lambda x: lax.all_to_all(
        jnp.tile(x[:1], (lax.axis_size("i"), 1)) * (1.0 + lax.axis_index("i")), "i", 0, 0),
    "all_to_all_tiled": lambda x: lax.all_to_all(
        jnp.tile(x, (lax.axis_size("i"), 1)), "i", 0, 1, tiled=True),
    "axis_index": lambda x: x * lax.axis_index("i"),
    "psum_of_a_constant": lambda x: x + lax.psum(1.0, "i"),
    "mixed": lambda x: jnp.tanh(x) - lax.pmean(jnp.tanh(x), "i") + lax.pmax(x.sum(), "i"),
}


@pytest.mark.parametrize("name", sorted(COLLECTIVE_FNS))
@pytest.mark.parametrize("n", N_DEVICES)
@settings(max_examples=5, deadline=None)
@given(rows=st.integers(1, 3), cols=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_pmap_equals_vmap_for_every_collective(name, n, rows, cols, seed):
  x = jnp.asarray(np.random.default_rng(seed).standard_normal((n, rows, cols)), jnp.float32)
  p, v = _both(COLLECTIVE_FNS[name], x, n)
  _same(p, v)


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.int64, np.float16])
def test_collectives_keep_their_dtype(dtype):
  with enable_x64():
    x = jnp.asarray(np.arange(8).reshape(4, 2).astype(dtype))
    for name in ("psum", "pmax", "pmin", "all_gather", "ppermute_ring"):
      p, v = _both(COLLECTIVE_FNS[name], x, 4)
      _same(p, v)


def test_the_same_bits_on_every_run():
  x = jnp.asarray(np.random.default_rng(0).standard_normal((4, 1000)) * 1e3, jnp.float32)
  f = rjax.pmap(lambda v: lax.psum(v * 1.1, "i"), axis_name="i")
  first = np.asarray(f(x))
  for _ in range(5):
    np.testing.assert_array_equal(np.asarray(f(x)), first)
  # every replica holds the same bits
  assert all((row == first[0]).all() for row in first)


def _loss(w, x, y):
  return jnp.mean((jnp.tanh(x @ w) - y) ** 2)


def test_grad_through_collectives_inside_pmap():
  with enable_x64():
    rng = np.random.default_rng(1)
    w = jnp.asarray(rng.standard_normal((3, 2)))
    x = jnp.asarray(rng.standard_normal((4, 5, 3)))
    y = jnp.asarray(rng.standard_normal((4, 5, 2)))

    def step(w, x, y):
      g = rjax.grad(lambda w: lax.pmean(_loss(w, x, y), "i"))(w)
      return lax.pmean(g, "i")

    got = rjax.pmap(step, axis_name="i", in_axes=(None, 0, 0))(w, x, y)
    want = rjax.grad(lambda w: _loss(w, x.reshape(20, 3), y.reshape(20, 2)))(w)
    for r in range(4):
      np.testing.assert_allclose(np.asarray(got)[r], np.asarray(want), rtol=1e-10)
    # and numerically, through every collective's rules (grad of the pmapped
    # function runs as vmap under the outer transformation)
    def h(x):
      return rjax.pmap(lambda v: lax.psum(jnp.sin(v), "i") * lax.pmax(v, "i")
                       + lax.all_gather(v, "i").sum(0) * lax.ppermute(v, "i", [(0, 1), (1, 0)])
                       + lax.psum_scatter(jnp.outer(jnp.ones(2), v), "i"),
                       axis_name="i")(x)
    check_grads(h, (jnp.asarray(rng.standard_normal((2, 2))),), order=2, modes=["fwd", "rev"])


def test_grad_inside_pmap_matches_numerical_differences():
  with enable_x64():
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((2, 3)))

    def per_device(v):
      return rjax.grad(lambda u: lax.psum(jnp.sum(jnp.sin(u) * lax.all_gather(u, "i")[0]), "i"))(v)

    got = np.asarray(rjax.pmap(per_device, axis_name="i")(x))
    want = np.asarray(rjax.vmap(per_device, axis_name="i")(x))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    eps = 1e-6
    xn = np.asarray(x)

    def total(xn):
      return np.sum(np.sum(np.sin(xn) * xn[0], axis=1))

    num = np.zeros_like(xn)
    for idx in np.ndindex(*xn.shape):
      d = np.zeros_like(xn)
      d[idx] = eps
      num[idx] = (total(xn + d) - total(xn - d)) / (2 * eps)
    # JAX's convention: psum transposes to psum, so each of the 2 replicas
    # gets twice the gradient of the total with respect to its shard.
    np.testing.assert_allclose(got, 2 * num, rtol=1e-6, atol=1e-8)


def test_pmap_of_vmap_and_vmap_of_pmap_with_both_axis_names():
  x = jnp.asarray(np.random.default_rng(3).standard_normal((2, 3, 4)), jnp.float32)

  def f(v):
    return lax.psum(v, "i") * 2 + lax.psum(v, "j") - lax.pmax(v, ("i", "j"))

  pv = rjax.pmap(rjax.vmap(f, axis_name="j"), axis_name="i")(x)
  vv = rjax.vmap(rjax.vmap(f, axis_name="j"), axis_name="i")(x)
  _same(pv, vv)
  vp = rjax.vmap(rjax.pmap(f, axis_name="i"), axis_name="j", in_axes=1, out_axes=1)(x)
  _same(vp, vv)


def test_in_axes_out_axes_static_args_and_kwargs():
  x = jnp.arange(12.0).reshape(3, 4)
  f = rjax.pmap(lambda a, b, k: a * k + b, in_axes=(1, None, None),
                static_broadcasted_argnums=(2,))
  out = f(x, 1.0, 3)
  np.testing.assert_array_equal(np.asarray(out), (np.arange(12.0).reshape(3, 4) * 3 + 1).T)
  g = rjax.pmap(lambda a: (a, a.sum()), out_axes=(1, None), axis_name="i")
  a, s = g(x)      # rows mapped in, stacked along axis 1 out
  np.testing.assert_array_equal(np.asarray(a), np.arange(12.0).reshape(3, 4).T)
  assert s.shape == () and float(s) == 6.0     # out_axes=None: device 0's value
  h = rjax.pmap(lambda a, *, b: a + b)
  np.testing.assert_array_equal(np.asarray(h(jnp.ones((2, 2)), b=jnp.ones((2, 2)))), 2.0)


def test_sharded_results_stay_on_their_devices():
  f = rjax.pmap(lambda v: v * 2.0)
  x = jnp.ones((4, 8))
  y = f(x)
  z = f(y)                       # the shards are used in place
  assert y._whole is None and z._whole is None
  np.testing.assert_array_equal(np.asarray(z), 4.0)
  assert z._whole is not None    # reading gathers once
  np.testing.assert_array_equal(np.asarray(z + 1.0), 5.0)   # ordinary ops read the whole
  assert rjax.jit(lambda a: a.sum())(z).item() == 128.0


def test_compiled_once_per_signature():
  traces = []

  def f(v):
    traces.append(1)
    return v + 1

  p = rjax.pmap(f)
  for _ in range(3):
    p(jnp.ones((2, 3)))
  assert len(traces) == 1
  p(jnp.ones((2, 4)))
  p(jnp.ones((4, 3)))
  assert len(traces) == 3


def test_more_shards_than_devices_is_a_value_error():
  with pytest.raises(ValueError, match="requires 5 logical devices"):
    rjax.pmap(lambda v: v)(jnp.ones((5, 2)))
  with pytest.raises(ValueError, match="inconsistent sizes"):
    rjax.pmap(jnp.add)(jnp.ones((2, 2)), jnp.ones((3, 2)))
  with pytest.raises(ValueError, match="2 devices were given"):
    rjax.pmap(lambda v: v, devices=rjax.devices()[:2])(jnp.ones((3,)))
  with pytest.raises(NameError, match="unbound axis name"):
    rjax.pmap(lambda v: lax.psum(v, "j"), axis_name="i")(jnp.ones((2,)))


def test_donation_deletes_the_argument():
  f = rjax.pmap(lambda v: v + 1, donate_argnums=0)
  x = jnp.ones((2, 3))
  y = f(x)
  assert x.is_deleted()
  y2 = f(y)
  assert y.is_deleted()
  np.testing.assert_array_equal(np.asarray(y2), 3.0)


def test_device_put_variants_and_default_device():
  devs = rjax.devices()
  a = rjax.device_put(jnp.arange(3), devs[2])
  assert a.device == devs[2]
  s = rjax.device_put_sharded([jnp.full((2,), float(i)) for i in range(4)], devs)
  assert isinstance(s, rjax.ShardedArray) and s.shape == (4, 2)
  np.testing.assert_array_equal(np.asarray(rjax.pmap(lambda v: v * 2)(s)),
                                np.repeat(np.arange(4.0), 2).reshape(4, 2) * 2)
  r = rjax.device_put_replicated({"w": jnp.ones(3)}, devs[:2])
  assert r["w"].shape == (2, 3)
  with rjax.default_device(devs[1]):
    assert rjax.device_put(1.0).device == devs[1]
  with pytest.raises(ValueError, match="shards for"):
    rjax.device_put_sharded([jnp.ones(2)], devs[:2])


def test_data_parallel_training_matches_one_device_and_replicas_agree():
  rng = np.random.default_rng(4)
  w = jnp.asarray(rng.standard_normal((6, 3)) * 0.3, jnp.float32)
  x = jnp.asarray(rng.standard_normal((64, 6)), jnp.float32)
  y = jnp.asarray(rng.standard_normal((64, 3)), jnp.float32)

  @functools.partial(rjax.pmap, axis_name="batch", in_axes=(0, 0, 0))
  def train_step(w, xb, yb):
    loss, g = rjax.value_and_grad(_loss)(w, xb, yb)
    g = lax.pmean(g, "batch")
    return w - 0.1 * g, lax.pmean(loss, "batch")

  ws = rjax.device_put_replicated(w, rjax.devices())
  xs, ys = x.reshape(4, 16, 6), y.reshape(4, 16, 3)
  w1 = w
  for _ in range(5):
    ws, loss = train_step(ws, xs, ys)
    w1 = w1 - 0.1 * rjax.grad(_loss)(w1, x, y)
  wn = np.asarray(ws)
  assert all((wn[r] == wn[0]).all() for r in range(4))     # replicas stay identical
  np.testing.assert_allclose(wn[0], np.asarray(w1), rtol=2e-5, atol=2e-6)


def test_device_count_comes_from_the_environment_and_is_fixed():
  code = ("import rjax, rjax.numpy as jnp; print(rjax.device_count())\n"
          "try:\n  rjax.config.update('rjax_num_cpu_devices', 3)\n"
          "except RuntimeError as e:\n  print('RuntimeError', 'before' in str(e))\n"
          "print(rjax.device_count())")
  env = dict(os.environ)
  env.pop("RJAX_NUM_CPU_DEVICES", None)
  env["PYTHONPATH"] = os.path.dirname(os.path.dirname(rjax.__file__))
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       check=True, cwd=os.path.dirname(__file__))
  assert out.stdout.split() == ["1", "RuntimeError", "True", "1"]
  code = ("import rjax; rjax.config.update('rjax_num_cpu_devices', 3); "
          "print(rjax.device_count(), rjax.devices()[2])")
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       check=True, cwd=os.path.dirname(__file__))
  assert out.stdout.startswith("3 CpuDevice(id=2")
