"""Helpers that the hostile-input cases (``hostile_cases.py``) call by name;
they run inside the battery's subprocesses, with ``lib`` = rjax or jax."""
from __future__ import annotations

import os
import sys
import tempfile
import threading

import numpy as np


def mutate_after(arr, src):
  """Write to the NumPy source after the array was made from it: the array
  must not change (it copied, or borrowed memory nobody can write)."""
  src[...] = 99
  return arr


def try_write(view):
  """Whether a NumPy view of an array's memory can be written."""
  try:
    view[0] = 5
  except ValueError:
    return np.array(False)
  return np.array(True)


def iadd(x):
  y = x
  x += 1
  return y


def setitem(x):
  x[0] = 1
  return x


def nest(depth):
  t = np.float32(1)
  for _ in range(depth):
    t = [t]
  return t


def cyclic():
  a = [np.float32(1)]
  a.append(a)
  return a


# --- checkpoints (rjax) ---------------------------------------------------------


def _rjax_checkpoints():
  from rjax import checkpoints
  return checkpoints


def restore_corrupted(corrupt):
  """Save a small checkpoint, corrupt its bytes with ``corrupt(data)``,
  restore it."""
  ck = _rjax_checkpoints()
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "c.safetensors")
    ck.save(path, {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.int32(7)})
    with open(path, "rb") as f:
      data = f.read()
    with open(path, "wb") as f:
      f.write(corrupt(data))
    return ck.restore(path)


def foreign_safetensors():
  import safetensors.numpy
  return safetensors.numpy.save({"a": np.zeros(2, np.float32)})


def forged_bool_checkpoint():
  """A checkpoint whose bool tensor holds bytes 2 and 255 (with a valid
  digest): they read as True, as NumPy reads them."""
  import rjax.numpy as jnp
  ck = _rjax_checkpoints()
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "b.safetensors")
    ck.save(path, {"m": np.array([0, 1, 2, 255], np.uint8).view(bool)})
    return jnp.sum(ck.restore(path)["m"])


def roundtrip(x):
  ck = _rjax_checkpoints()
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "r.safetensors")
    ck.save(path, {"x": x})
    return ck.restore(path)["x"]


# --- threads --------------------------------------------------------------------


def _in_threads(work, n=8):
  """Run ``work(i)`` in n threads at once; True if every one returned True."""
  results = [None] * n
  barrier = threading.Barrier(n)

  def run(i):
    try:
      barrier.wait()
      results[i] = bool(work(i))
    except BaseException as e:  # noqa: BLE001 -- reported as a failed thread
      results[i] = e
  ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
  for t in ts:
    t.start()
  for t in ts:
    t.join(120)
  if any(t.is_alive() for t in ts):
    raise RuntimeError("a thread hung")
  bad = [r for r in results if r is not True]
  if bad:
    print("thread results:", bad, file=sys.stderr)
  return np.array(not bad)


def threads_jit(lib, jnp):
  f = lib.jit(lambda x: x * 2 + 1)

  def work(i):
    x = np.arange(1000, dtype=np.float32) + i
    return all(np.array_equal(np.asarray(f(x)), x * 2 + 1) for _ in range(30))
  return _in_threads(work)


def threads_eager(lib, jnp):
  def work(i):
    x = np.arange(500, dtype=np.float32) * i
    return all(np.allclose(np.asarray(jnp.sum(jnp.sin(x))), np.sin(x).sum(), rtol=1e-4, atol=1e-3)
               for _ in range(20))
  return _in_threads(work)


def threads_shapes(lib, jnp):
  f = lib.jit(lambda x: (x * x).sum(axis=0))

  def work(i):
    x = np.ones((i + 1, 7), np.float32)
    return np.array_equal(np.asarray(f(x)), np.full(7, i + 1, np.float32))
  return _in_threads(work)


def threads_grad(lib, jnp):
  g = lib.jit(lib.grad(lambda x: (x ** 3).sum()))

  def work(i):
    x = np.full(10, float(i), np.float32)
    return np.allclose(np.asarray(g(x)), 3 * x ** 2)
  return _in_threads(work)


def threads_errors(lib, jnp):
  f = lib.jit(lambda a, b: a + b)

  def work(i):
    try:
      f(np.ones(3, np.float32), np.ones(4, np.float32))
    except TypeError:
      pass
    else:
      return False
    return np.array_equal(np.asarray(f(np.ones(3, np.float32), np.ones(3, np.float32))),
                          np.full(3, 2.0))
  return _in_threads(work)
