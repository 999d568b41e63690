"""A smoke test for a portable build: import, eager ops, jit (fused
elementwise + reduction), grad, GEMM, linear algebra (faer: eigh, SVD, a
600 x 600 solve on faer's parallel path) and PRNG (threefry's kernel bit for
bit), checked against NumPy. Run it under an emulated older CPU
(tools/qemu_portable.sh) to prove the installed extension never executes an
instruction that CPU lacks: an illegal instruction kills the process with
SIGILL, which no Python code can catch."""
import numpy as np

import rjax
import rjax.numpy as jnp

x = np.linspace(-3, 3, 4099, dtype=np.float32)
f = rjax.jit(lambda v: jnp.tanh(v * 0.5).sum() + jnp.exp(v).max() + v @ v)
want = np.tanh(x * 0.5).sum(dtype=np.float64) + np.exp(x).max() + x.astype(np.float64) @ x
np.testing.assert_allclose(float(f(x)), want, rtol=1e-4)
g = rjax.grad(lambda v: (jnp.sin(v) ** 2).sum())(x)
np.testing.assert_allclose(np.asarray(g), np.sin(2 * x), rtol=1e-4, atol=1e-5)
a = np.random.default_rng(0).standard_normal((67, 129)).astype(np.float32)
np.testing.assert_allclose(np.asarray(jnp.asarray(a) @ jnp.asarray(a.T)), a @ a.T, rtol=1e-4,
                           atol=1e-3)
# faer's kernels (built with pulp's x86-v4 paths, chosen at run time)
m = a[:, :67] @ a[:, :67].T + 67 * np.eye(67, dtype=np.float32)
w, _ = jnp.linalg.eigh(m)
np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(m.astype(np.float64)), rtol=1e-4)
s = jnp.linalg.svd(jnp.asarray(a), compute_uv=False)
np.testing.assert_allclose(np.asarray(s), np.linalg.svd(a.astype(np.float64), compute_uv=False),
                           rtol=1e-4)
big = np.random.default_rng(1).standard_normal((600, 600)) + 600 * np.eye(600)
x = jnp.linalg.solve(jnp.asarray(big.astype(np.float32)), jnp.ones((600,), jnp.float32))
np.testing.assert_allclose(big @ np.asarray(x, np.float64), np.ones(600), rtol=1e-3)
k = rjax.random.normal(rjax.random.key(0), (5,))
assert np.isfinite(np.asarray(k)).all()
# threefry's kernel (AVX-512, AVX2 or SSE2, chosen at run time) against the
# NumPy oracle: full and one-element counters, and a tail past the 16 lanes
from rjax._src.random.prng import _threefry2x32_ref, threefry2x32  # noqa: E402

c = np.arange(70_003, dtype=np.uint32) * np.uint32(2654435761)
for x0 in (c[::-1].copy(), np.uint32(7)):
  got = threefry2x32(np.uint32(0xDEADBEEF), np.uint32(42), x0, c)
  for g, w in zip(got, _threefry2x32_ref(np.uint32(0xDEADBEEF), np.uint32(42), x0, c)):
    np.testing.assert_array_equal(np.asarray(g), w)
print("portable smoke test passed")
