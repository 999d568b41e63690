"""One process of the two-process MPI test (tests/test_distributed.py runs
``mpiexec -n 2 python tests/mpi_worker.py <dir containing rjax> <mode>``).

Mode ``check``: every collective over the devices of both processes against
``vmap`` of the same function over the global batch (computed locally), and a
data-parallel training step against a single-process full-batch step.
Mode ``init-only``: just ``initialize`` (the device-count mismatch test).
"""
import os
import sys

sys.path.insert(0, sys.argv[1])
mode = sys.argv[2]

import numpy as np  # noqa: E402

import rjax  # noqa: E402
import rjax.numpy as jnp  # noqa: E402
from rjax import lax  # noqa: E402

rjax.distributed.initialize()
P, p = rjax.process_count(), rjax.process_index()
L, N = rjax.local_device_count(), rjax.device_count()
if mode == "init-only":
  print(f"MPI-OK {p}", flush=True)
  sys.exit(0)

assert P == 2 and N == P * L, (P, L, N)
assert [d.id for d in rjax.local_devices()] == list(range(p * L, p * L + L))
assert all(d.process_index == p for d in rjax.local_devices())
assert sorted(d.id for d in rjax.devices()) == list(range(N))

rng = np.random.default_rng(0)          # the same data in every process
xg = rng.standard_normal((N, 4, 6)).astype(np.float32)
mine = slice(p * L, (p + 1) * L)
x = xg[mine]

perm = [(i, (i + 1) % N) for i in range(N)]
FUNS = {
    "psum": lambda v: lax.psum(v, "i"),
    "pmean": lambda v: lax.pmean(v, "i"),
    "pmax": lambda v: lax.pmax(v, "i"),
    "pmin": lambda v: lax.pmin(v, "i"),
    "all_gather": lambda v: lax.all_gather(v, "i"),
    "all_gather_tiled": lambda v: lax.all_gather(v, "i", axis=1, tiled=True),
    "psum_scatter": lambda v: lax.psum_scatter(v, "i", scatter_dimension=0, tiled=True),
    "ppermute": lambda v: lax.ppermute(v, "i", perm),
    "axis_index": lambda v: v * 0 + lax.axis_index("i"),
    "all_to_all": lambda v: lax.all_to_all(v, "i", 0, 0, tiled=True),
    "grad_psum": rjax.grad(lambda v: (lax.psum(v * v, "i") * jnp.sin(v)).sum()),
}
for name, f in FUNS.items():
  got = np.asarray(rjax.pmap(f, axis_name="i")(x))
  want = np.asarray(rjax.vmap(f, axis_name="i")(xg))[mine]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
  again = np.asarray(rjax.pmap(f, axis_name="i")(x))
  assert np.array_equal(got, again), f"{name}: not deterministic"

# The same bits on every process: gather each process's psum result.
from mpi4py import MPI  # noqa: E402

s = np.asarray(rjax.pmap(lambda v: lax.psum(v, "i"), axis_name="i")(x))
both = MPI.COMM_WORLD.allgather(s.tobytes())
assert both[0] == both[1], "psum differs between processes"

# A data-parallel training step against one process on the full batch.
B = 8
X = rng.standard_normal((N * B, 5)).astype(np.float32)
Y = rng.standard_normal((N * B, 3)).astype(np.float32)
W0 = (rng.standard_normal((5, 3)) * 0.1).astype(np.float32)


def loss(w, xb, yb):
  return jnp.mean((jnp.tanh(xb @ w) - yb) ** 2)


def step(w, xb, yb):
  l, g = rjax.value_and_grad(loss)(w, xb, yb)
  g = lax.pmean(g, "batch")
  return w - 0.5 * g, lax.pmean(l, "batch")


Xs = X.reshape(N, B, 5)[mine]
Ys = Y.reshape(N, B, 3)[mine]
w = rjax.device_put_replicated(W0, rjax.local_devices())
train = rjax.pmap(step, axis_name="batch")
w_ref = W0
for _ in range(3):
  w, l = train(w, Xs, Ys)
  lr, g = rjax.value_and_grad(loss)(w_ref, X, Y)
  w_ref = w_ref - 0.5 * np.asarray(g)
  np.testing.assert_allclose(np.asarray(l), np.full(L, lr), rtol=1e-5)
wn = np.asarray(w)
assert all(np.array_equal(wn[0], wn[i]) for i in range(L)), "replicas diverged"
assert len(set(MPI.COMM_WORLD.allgather(wn[0].tobytes()))) == 1, "processes diverged"
np.testing.assert_allclose(wn[0], np.asarray(w_ref), rtol=1e-5, atol=1e-6)
rjax.distributed.shutdown()
print(f"MPI-OK {p}", flush=True)
