"""No crash, no hang, no silent wrong answer (issue 15): each repro of the
issue is a test here.

- a failed allocation is ``rjax.errors.OutOfMemoryError`` (a ``MemoryError``
  and a ``JaxRuntimeError``, as JAX's RESOURCE_EXHAUSTED), naming the shape,
  the dtype and the bytes, eager, jitted, asynchronous and under pmap;
- a byte count beyond the address space is a ``ValueError`` naming the shape;
- bool bytes other than 0/1 read as NumPy reads them (nonzero is True),
  wherever bytes enter;
- a pmap replica that fails before or inside a collective fails every
  replica with the original exception instead of leaving them waiting.

Anything that could crash or hang runs in a subprocess with a timeout."""
import ctypes
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import jax

import rjax
import rjax.numpy as jnp
from rjax.errors import JaxRuntimeError, OutOfMemoryError


def _run(code: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
  """Run ``code`` in a fresh interpreter; a hang is a test failure."""
  e = dict(os.environ)
  e.update(env)
  try:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=e)
  except subprocess.TimeoutExpired as ex:
    pytest.fail(f"hung for {timeout} s: {ex.stdout}\n{ex.stderr}")


# --- out of memory ----------------------------------------------------------


def test_the_out_of_memory_class_is_a_memory_error_and_a_jax_runtime_error():
  assert issubclass(OutOfMemoryError, MemoryError)
  assert issubclass(OutOfMemoryError, JaxRuntimeError)
  assert issubclass(JaxRuntimeError, RuntimeError)
  assert issubclass(jax.errors.JaxRuntimeError, RuntimeError)
  assert issubclass(rjax.errors.InternalError, JaxRuntimeError)


@pytest.mark.parametrize("make, shape, dtype, nbytes", [
    (lambda: jnp.zeros((2**40,), jnp.uint8), (2**40,), "uint8", 2**40),
    (lambda: jnp.ones((10**6, 10**6)), (10**6, 10**6), "float32", 4 * 10**12),
    (lambda: jnp.arange(10**12, dtype=jnp.float32), (10**12,), "float32", 4 * 10**12),
    (lambda: rjax.jit(lambda: jnp.zeros((2**40,), jnp.uint8))(), (2**40,), "uint8", 2**40),
    (lambda: rjax.jit(lambda x: x + jnp.ones((10**6, 10**6)))(jnp.float32(1)), (10**6, 10**6),
     "float32", 4 * 10**12),
])
def test_a_failed_allocation_names_shape_dtype_and_bytes(make, shape, dtype, nbytes):
  with pytest.raises(OutOfMemoryError) as info:
    make().block_until_ready()
  msg = str(info.value)
  assert msg.startswith("RESOURCE_EXHAUSTED"), msg
  assert str(shape) in msg and dtype in msg and f"{nbytes} bytes" in msg, msg
  # and the interpreter goes on working
  np.testing.assert_array_equal(jnp.arange(4) * 2, [0, 2, 4, 6])


_OOM_CASES = """
import numpy as np
import rjax, rjax.numpy as jnp
from rjax.errors import OutOfMemoryError
cases = [
    lambda: jnp.zeros((2**40,), jnp.uint8),
    lambda: jnp.ones((10**6, 10**6)),
    lambda: rjax.jit(lambda x: jnp.broadcast_to(x, (2**22, 2**22)) * 2.0 + 1.0)(jnp.ones(())),
    lambda: rjax.jit(lambda: jnp.zeros((2**40,), jnp.uint8))(),
    lambda: rjax.pmap(lambda x: x + jnp.ones((10**6, 10**6)), axis_name="i")(jnp.ones(2)),
]
for make in cases:
  try:
    make().block_until_ready()
  except OutOfMemoryError as e:
    assert "RESOURCE_EXHAUSTED" in str(e) and "bytes" in str(e), str(e)
  else:
    raise AssertionError("no error")
  # the runtime survives, queue and all
  np.testing.assert_array_equal(rjax.jit(lambda a: a * 3)(jnp.arange(3)), [0, 3, 6])
print("ok")
"""


@pytest.mark.parametrize("mode", ["never", "always"])
def test_out_of_memory_in_every_path_and_the_process_survives(mode):
  r = _run(_OOM_CASES, RJAX_ASYNC=mode, RJAX_NUM_CPU_DEVICES="2")
  assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]


# --- sizes beyond the address space ---------------------------------------------


def test_the_segfault_repro_is_a_value_error_naming_the_shape():
  f = rjax.jit(lambda a: jnp.broadcast_to(a, (2**31, 2**31)) * 2.0 + 1.0)
  with pytest.raises(ValueError, match=r"\(2147483648, 2147483648\)"):
    f(jnp.ones(()))
  with pytest.raises(ValueError, match=r"\(2147483648, 2147483648\).*float32"):
    jnp.zeros((2**31, 2**31))


def test_more_elements_than_int64_is_a_type_error():
  # (JAX aborts in XLA here: "overflow in static extent product")
  with pytest.raises(TypeError):
    jnp.zeros((2**32, 2**32))
  with pytest.raises(TypeError):
    rjax.jit(lambda: jnp.zeros((2**32, 2**32)).sum())()
  with pytest.raises(TypeError):
    rjax.jit(lambda a: jnp.broadcast_to(a, (2**32, 2**32)).sum())(jnp.ones(()))


def test_a_zero_extent_makes_any_shape_fit():
  # JAX builds (0, 2**40, 2**40); a wrapped product must not make it fail
  for shape in [(0, 2**40, 2**40), (2**40, 0, 2**40)]:
    a = jnp.zeros(shape)
    assert a.shape == shape and a.size == 0
    assert np.asarray(rjax.jit(lambda x: (x * 2).sum())(a)) == 0.0


# --- bools --------------------------------------------------------------------


def _bad_bools():
  raw = np.array([0, 1, 2, 255], np.uint8)
  return raw, raw.view(bool)


def test_invalid_bool_bytes_read_as_numpy_reads_them():
  raw, b = _bad_bools()
  x = jnp.asarray(b)
  assert int(x.sum()) == int(np.sum(b)) == 3
  np.testing.assert_array_equal(np.asarray(jnp.logical_not(x)), np.logical_not(b))
  np.testing.assert_array_equal(np.asarray(x.astype(jnp.float32)), b.astype(np.float32))
  np.testing.assert_array_equal(np.asarray(rjax.jit(lambda v: v.astype(jnp.int32).sum())(b)), 3)
  np.testing.assert_array_equal(np.asarray(x).view(np.uint8), [0, 1, 1, 1])
  np.testing.assert_array_equal(raw, [0, 1, 2, 255])  # the caller's bytes are untouched


def test_invalid_bools_through_every_entry():
  raw, b = _bad_bools()
  expect = np.array([False, True, True, True])
  # read-only memory that rjax borrows instead of copying
  ro = np.frombuffer(bytes(raw), dtype=bool)
  assert not ro.flags.writeable
  np.testing.assert_array_equal(np.asarray(jnp.asarray(ro)).view(np.uint8), [0, 1, 1, 1])
  # DLPack
  np.testing.assert_array_equal(np.asarray(rjax.dlpack.from_dlpack(b)).view(np.uint8),
                                [0, 1, 1, 1])
  # a view of an rjax uint8 array's memory
  u = np.asarray(jnp.asarray(raw))
  np.testing.assert_array_equal(int(jnp.asarray(u.view(bool)).sum()), 3)
  # a host callback's result
  f = rjax.jit(lambda x: rjax.pure_callback(lambda _: b, rjax.ShapeDtypeStruct((4,), jnp.bool_),
                                            x))
  np.testing.assert_array_equal(np.asarray(jnp.logical_not(f(jnp.zeros(4)))), ~expect)
  np.testing.assert_array_equal(raw, [0, 1, 2, 255])


def test_invalid_bools_in_a_crafted_checkpoint(tmp_path):
  from rjax import checkpoints
  raw, b = _bad_bools()
  path = tmp_path / "bools.safetensors"
  checkpoints.save(path, {"m": b})  # a valid digest over the invalid bytes
  assert bytes([0, 1, 2, 255]) in path.read_bytes()
  m = checkpoints.restore(path)["m"]
  assert int(jnp.sum(m)) == 3
  np.testing.assert_array_equal(np.asarray(jnp.logical_not(m)), [True, False, False, False])
  np.testing.assert_array_equal(np.asarray(m.astype(jnp.float32)), [0, 1, 1, 1])


# --- a NumPy array that another thread writes ------------------------------------


def test_a_writable_array_is_copied_whole_while_another_thread_writes_it():
  # The copy of a writable array keeps the GIL, so a writer that holds the
  # GIL (here a memset called through a PYFUNCTYPE, which does not release
  # it) never runs in the middle of it: each copy is one state of the
  # array, never a mix. (A copy without the GIL tears under this writer:
  # NumPy's own ``a.copy()``, which releases it, came back torn in about one
  # copy in ten here.)
  a = np.zeros(8 << 20, np.uint8)  # over the parallel copy's 1 MiB grain
  memset = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                             ctypes.c_size_t)(ctypes._memset_addr)
  stop = threading.Event()
  writes = [0]

  def writer():
    while not stop.is_set():
      writes[0] += 1
      memset(a.ctypes.data, 0x11 * (writes[0] % 2), a.nbytes)

  old = sys.getswitchinterval()
  sys.setswitchinterval(1e-5)
  t = threading.Thread(target=writer)
  t.start()
  try:
    torn = 0
    for _ in range(100):
      r = np.asarray(jnp.asarray(a))
      torn += int(r.min() != r.max())
  finally:
    stop.set()
    t.join()
    sys.setswitchinterval(old)
  assert writes[0] > 100  # the writer did run alongside
  assert torn == 0


# --- pmap and collectives -------------------------------------------------------

_PMAP_FAULT = """
import numpy as np
import rjax, rjax.numpy as jnp

class Boom(Exception):
  pass

def fail(x):
  raise Boom("replica input failed")

bad_fn = rjax.jit(lambda x: rjax.pure_callback(fail, rjax.ShapeDtypeStruct((3,), jnp.float32), x))
n = rjax.device_count()
psum = rjax.pmap(lambda x: rjax.lax.psum(x, "i"), axis_name="i")
for k in range(n):
  try:
    # (synchronously, the callback raises here already)
    shards = [bad_fn(jnp.ones(3)) if i == k else jnp.full(3, float(i)) for i in range(n)]
    out = psum(rjax.device_put_sharded(shards, rjax.devices()))
    np.asarray(out)
  except Boom as e:
    assert "replica input failed" in str(e)
  else:
    raise AssertionError(f"device {k}: no error")
  # a failure inside the collective computation, on device k only
  def body(x):
    y = rjax.pure_callback(lambda v: (_ for _ in ()).throw(Boom("inside")) if v[0] == k else v,
                           rjax.ShapeDtypeStruct((3,), jnp.float32), x)
    return rjax.lax.psum(y, "i")
  try:
    np.asarray(rjax.pmap(body, axis_name="i")(jnp.arange(n * 3.0).reshape(n, 3) // 3))
  except Boom as e:
    assert "inside" in str(e)
  else:
    raise AssertionError(f"device {k}: no error inside")
  # queued work behind the failure fails too, and later work runs
  good = psum(jnp.ones((n, 3)))
  np.testing.assert_array_equal(np.asarray(good), np.full((n, 3), n))
print("ok")
"""


@pytest.mark.parametrize("devices", ["2", "4"])
@pytest.mark.parametrize("mode", ["always", "never"])
def test_a_failing_replica_fails_the_collective_on_each_device(mode, devices):
  r = _run(_PMAP_FAULT, timeout=120, RJAX_ASYNC=mode, RJAX_NUM_CPU_DEVICES=devices)
  assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]
