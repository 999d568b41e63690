"""Calls from several Python threads at once are safe and give the right answers."""
import threading

import numpy as np

import rjax.numpy as jnp


def test_eight_threads_at_once():
  n_threads, iters = 8, 30
  errors = []
  barrier = threading.Barrier(n_threads)

  def work(tid):
    try:
      rng = np.random.default_rng(tid)
      barrier.wait()
      for i in range(iters):
        size = [3, 1000, 70_000][i % 3]      # small (no pool) and large (parallel) paths
        a_np = rng.standard_normal(size).astype(np.float32)
        b_np = rng.standard_normal(size).astype(np.float32)
        a, b = jnp.asarray(a_np), jnp.asarray(b_np)
        out = jnp.tanh(a * b + tid) - b
        np.testing.assert_allclose(np.asarray(out), np.tanh(a_np * b_np + tid) - b_np,
                                   rtol=1e-5, atol=1e-6)
    except Exception as e:  # pragma: no cover - reported below
      errors.append((tid, repr(e)))

  threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert not errors, errors
