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


# -- jit, eager ops and transformations from many threads (the jit issue) -----------------------

import rjax  # noqa: E402
from rjax import lax  # noqa: E402

N_THREADS = 8


def _run_threads(work, n=N_THREADS):
  """Run work(tid) in n threads released together; re-raise the first error."""
  barrier = threading.Barrier(n)
  errors = []

  def wrapped(tid):
    try:
      barrier.wait()
      work(tid)
    except BaseException as e:  # noqa: BLE001  (reported below)
      errors.append((tid, e))

  ts = [threading.Thread(target=wrapped, args=(t,)) for t in range(n)]
  for t in ts:
    t.start()
  for t in ts:
    t.join()
  assert not errors, errors


def _f(v, w):
  h = jnp.tanh(v @ w) * 2.0 + jnp.exp(-v[:, :1] ** 2)
  return jnp.sum(h, axis=0), jnp.cumsum(jnp.sort(h, axis=1), axis=1), jnp.max(h)


def _inputs(shape_id, seed):
  rng = np.random.default_rng(seed)
  m, k = [(3, 4), (50, 7), (700, 33), (1, 1), (2000, 16), (9, 130), (128, 128), (17, 2)][shape_id]
  return (rng.standard_normal((m, k)).astype(np.float32),
          rng.standard_normal((k, 5)).astype(np.float32))


def test_one_jitted_function_compiling_and_running_in_eight_threads():
  """Different shapes per thread: some threads trace and compile while others
  run the cached executable; each thread also repeats its call."""
  jf = rjax.jit(_f)
  cases = [(tid % 8, 100 + tid) for tid in range(N_THREADS)] + \
      [(tid % 3, 200 + tid) for tid in range(N_THREADS)]
  want = {c: [np.asarray(o) for o in rjax.jit(_f)(*map(jnp.asarray, _inputs(*c)))]
          for c in cases}
  got = {}

  def work(tid):
    for c in (cases[tid], cases[N_THREADS + tid], cases[tid]):
      v, w = _inputs(*c)
      outs = jf(jnp.asarray(v), w if tid % 2 else jnp.asarray(w))
      got.setdefault(c, []).append([np.asarray(o) for o in outs])

  _run_threads(work)
  for c, runs in got.items():
    for run in runs:
      for g, w in zip(run, want[c]):
        np.testing.assert_array_equal(g, w)
  assert jf._cache_size() >= len({c[0] for c in cases})


def test_eager_ops_of_every_family_from_eight_threads():
  def ops(a, b):
    return [a + b, jnp.sin(a), jnp.sum(a, axis=0), a @ b.T, jnp.sort(a, axis=1),
            jnp.cumsum(a, axis=1), a[jnp.asarray([2, 0])], a.at[1].add(5.0), a.T.reshape(-1),
            jnp.argmax(a, axis=1), lax.dynamic_slice(a, (1, 2), (2, 3)), (a > b).astype(np.int32),
            jnp.concatenate([a, b]), jnp.where(a > 0, a, b)]

  data = [(np.random.default_rng(t).standard_normal((4, 300)).astype(np.float32),
           np.random.default_rng(t + 50).standard_normal((4, 300)).astype(np.float32))
          for t in range(N_THREADS)]
  want = [[np.asarray(o) for o in ops(jnp.asarray(a), jnp.asarray(b))] for a, b in data]

  def work(tid):
    a, b = map(jnp.asarray, data[tid])
    for _ in range(5):
      for g, w in zip(ops(a, b), want[tid]):
        np.testing.assert_array_equal(np.asarray(g), w)

  _run_threads(work)


def _loss(p, x):
  return jnp.sum(jnp.tanh(x @ p["w"] + p["b"]) ** 2) + 0.1 * jnp.sum(p["w"] ** 2)


def test_grad_vmap_and_jit_of_grad_from_eight_threads():
  """Traces are thread-local: one thread's grad or vmap trace never captures
  another thread's eager ops."""
  rng = np.random.default_rng(0)
  params = [{"w": jnp.asarray(rng.standard_normal((6, 3)).astype(np.float32)),
             "b": jnp.asarray(rng.standard_normal(3).astype(np.float32))} for _ in range(4)]
  xs = [jnp.asarray(rng.standard_normal((10 + 5 * t, 6)).astype(np.float32))
        for t in range(N_THREADS)]
  g, jg = rjax.grad(_loss), rjax.jit(rjax.grad(_loss))
  per_ex = rjax.vmap(rjax.grad(_loss), in_axes=(None, 0))
  want = [(g(params[t % 4], xs[t]), per_ex(params[t % 4], xs[t][:, None, :]))
          for t in range(N_THREADS)]

  def work(tid):
    p, x = params[tid % 4], xs[tid]
    for i in range(6):
      if i % 3 == 0:
        out = g(p, x)
      elif i % 3 == 1:
        out = jg(p, x)
      else:
        out = per_ex(p, x[:, None, :])
      ref = want[tid][1] if i % 3 == 2 else want[tid][0]
      for k in ("w", "b"):
        np.testing.assert_allclose(np.asarray(out[k]), np.asarray(ref[k]), rtol=1e-5,
                                   atol=1e-6)
      # an eager op between traces in other threads: a concrete Array, never a tracer
      y = jnp.sum(x) * 2
      assert type(y) is type(x) and np.isfinite(float(y))

  _run_threads(work)


def test_new_jitted_functions_traced_in_eight_threads():
  """Eight threads each build and trace their own jitted closures at once."""
  def work(tid):
    x = jnp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4) + tid)
    for k in range(4):
      f = rjax.jit(lambda v, k=k: jnp.sum(jnp.square(v - k), axis=1) + tid)
      want = np.sum((np.asarray(x) - k) ** 2, axis=1) + tid
      np.testing.assert_allclose(np.asarray(f(x)), want, rtol=1e-6)
      assert "reduce_sum" in str(rjax.make_jaxpr(f)(x))

  _run_threads(work)
