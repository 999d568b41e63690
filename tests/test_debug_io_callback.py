"""rjax.debug's breakpoint/log/sharding inspection, rjax.experimental.io_callback
and ShapeDtypeStruct, eagerly and under jit/vmap/grad, with JAX as the
reference where behaviour is observable without a terminal."""
import logging

import jax
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax.experimental import io_callback
from rjax.sharding import PmapSharding, SingleDeviceSharding


class _FakePdb:
  """Stands in for pdb.Pdb: records what the debugger would show."""
  seen: list = []

  def run(self, stmt, globals_, locals_):
    _FakePdb.seen.append({k: (np.asarray(v) if isinstance(v, rjax.Array) else v)
                          for k, v in locals_.items()})


@pytest.fixture
def fake_pdb(monkeypatch):
  import pdb
  _FakePdb.seen = []
  monkeypatch.setattr(pdb, "Pdb", _FakePdb)
  return _FakePdb.seen


def _f(x):
  y = jnp.sin(x) * 2
  label = "static"
  rjax.debug.breakpoint()
  return y


def test_breakpoint_eager_jit_vmap_grad(fake_pdb, capsys):
  x = jnp.arange(3.)
  _f(x)
  assert len(fake_pdb) == 1 and fake_pdb[0]["label"] == "static"
  np.testing.assert_allclose(fake_pdb[0]["y"], np.sin(np.arange(3.)) * 2, rtol=1e-6)
  rjax.jit(_f)(x + 1)
  rjax.effects_barrier()
  np.testing.assert_allclose(fake_pdb[1]["x"], np.arange(3.) + 1)
  rjax.vmap(_f)(jnp.ones((2, 3)))
  rjax.effects_barrier()
  assert len(fake_pdb) == 4 and fake_pdb[2]["x"].shape == (3,)
  g = rjax.grad(lambda v: _f(v).sum())(x)
  np.testing.assert_allclose(g, 2 * np.cos(np.arange(3.)), rtol=1e-6)
  assert len(fake_pdb) == 5
  assert "Entering rjax debugger" in capsys.readouterr().out
  assert rjax.debug.breakpoint(token=7) == 7
  with pytest.raises(ValueError):
    rjax.debug.breakpoint(backend="web")


def test_log_goes_to_logging(caplog):
  with caplog.at_level(logging.INFO, logger="rjax._src.debugging"):
    rjax.debug.log("value {x} and {}", 3, x=jnp.arange(2))
    rjax.jit(lambda v: rjax.debug.log("twice {}", v * 2) or v)(jnp.ones(2))
    rjax.effects_barrier()
  msgs = [r.getMessage() for r in caplog.records]
  assert msgs == ["value [0 1] and 3", "twice [2. 2.]"]
  assert caplog.records[0].filename == "test_debug_io_callback.py"
  with pytest.raises((IndexError, KeyError)):
    rjax.debug.log("{missing}", 1)


def test_inspect_and_visualize_sharding(capsys):
  seen = []
  x = jnp.ones((4, 6))
  rjax.debug.inspect_array_sharding({"a": x}, callback=seen.append)
  rjax.jit(lambda v: rjax.debug.inspect_array_sharding(v, callback=seen.append) or v)(x)
  assert seen == [SingleDeviceSharding(rjax.devices()[0])] * 2
  n = min(rjax.local_device_count(), 2)
  y = rjax.pmap(lambda v: v)(jnp.ones((n, 3)))
  rjax.debug.inspect_array_sharding(y, callback=seen.append)
  assert isinstance(seen[-1], PmapSharding)
  capsys.readouterr()
  rjax.debug.visualize_array_sharding(jnp.ones(5))
  assert "CPU 0" in capsys.readouterr().out
  rjax.debug.visualize_array_sharding(y)
  out = capsys.readouterr().out
  assert all(f"CPU {i}" in out for i in range(n))
  with pytest.raises(ValueError):
    rjax.debug.visualize_sharding((2, 2, 2), x.sharding)
  assert isinstance(rjax.debug.OrderedDebugEffect(), rjax.debug.DebugEffect)


def test_io_callback_runs_once_per_call_in_order():
  log = []

  def cb(v):
    log.append(np.array(v))
    return (np.asarray(v) * 2).astype(np.float32)

  spec = rjax.ShapeDtypeStruct((3,), np.float32)
  np.testing.assert_array_equal(io_callback(cb, spec, jnp.ones(3)), [2, 2, 2])
  f = rjax.jit(lambda v: (io_callback(cb, spec, v), v + 1)[1])   # result unused: still runs
  f(jnp.ones(3))
  f(jnp.zeros(3))
  assert len(log) == 3 and float(log[-1][0]) == 0.0
  g = rjax.jit(lambda v: io_callback(cb, spec, v) + io_callback(cb, spec, v))  # not merged
  np.testing.assert_array_equal(g(jnp.ones(3)), [4, 4, 4])
  assert len(log) == 5
  out = rjax.vmap(lambda v: io_callback(cb, spec, v))(jnp.arange(6.).reshape(2, 3))
  np.testing.assert_array_equal(out, np.arange(6.).reshape(2, 3) * 2)
  assert [float(v[0]) for v in log[-2:]] == [0.0, 3.0]


def test_io_callback_errors_match_jax():
  spec = rjax.ShapeDtypeStruct((), np.float32)
  jspec = jax.ShapeDtypeStruct((), np.float32)
  cb = lambda v: np.float32(v)
  with pytest.raises(ValueError):
    jax.grad(lambda v: jax.experimental.io_callback(cb, jspec, v))(1.0)
  with pytest.raises(ValueError):
    rjax.grad(lambda v: io_callback(cb, spec, v))(1.0)
  with pytest.raises(ValueError, match="Cannot `vmap` ordered IO callback"):
    jax.vmap(lambda v: jax.experimental.io_callback(cb, jspec, v, ordered=True))(np.ones(2))
  with pytest.raises(ValueError, match="Cannot `vmap` ordered IO callback"):
    rjax.vmap(lambda v: io_callback(cb, spec, v, ordered=True))(np.ones(2))
  with pytest.raises(TypeError):
    io_callback(3, spec, 1.0)


def test_shape_dtype_struct_matches_jax():
  S, JS = rjax.ShapeDtypeStruct, jax.ShapeDtypeStruct
  for args, kw in [(((2, 3), np.float32), {}), (((), np.int32), {"weak_type": True}),
                   (((4,), "float32"), {})]:
    s, js = S(*args, **kw), JS(*args, **kw)
    assert repr(s) == repr(js) and str(s) == str(js)
    assert (s.shape, s.dtype, s.size, s.ndim, s.weak_type) == \
        (js.shape, js.dtype, js.size, js.ndim, js.weak_type)
    assert s == S(*args, **kw) and hash(s) == hash(S(*args, **kw))
    assert (s == S(args[0], args[1], weak_type=not kw.get("weak_type", False))) is False
  s = S((2, 3), np.float32)
  assert len(s) == 2 and s.update(shape=(5,)) == S((5,), np.float32)
  assert s.update(dtype=np.int32).dtype == np.int32
  with pytest.raises(TypeError):
    len(S((), np.float32))
  with pytest.raises(ValueError):
    S((2,), None)
  with pytest.raises(RuntimeError):
    s.shape = (1,)
  with pytest.raises(ValueError):
    S((2,), np.float32, sharding="cpu")
  assert S.like(jnp.ones((2, 2))) == S((2, 2), np.float32)
  assert S.like(1.0) == S((), np.float32, weak_type=True)
  assert repr(S.like(jnp.ones(2))) == repr(JS.like(jax.numpy.ones(2)))
  d = rjax.devices()[0]
  committed = S.like(rjax.device_put(jnp.ones(2), d))
  assert committed.sharding == SingleDeviceSharding(d)
  assert rjax.eval_shape(lambda v: v.sum(0), s) == S((3,), np.float32)
