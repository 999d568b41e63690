"""A smoke test for a portable build: import, eager ops, jit (fused
elementwise + reduction), grad, GEMM and PRNG, checked against NumPy. Run it
under an emulated older CPU (tools/qemu_portable.sh) to prove the installed
extension never executes an instruction that CPU lacks: an illegal
instruction kills the process with SIGILL, which no Python code can catch."""
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
k = rjax.random.normal(rjax.random.key(0), (5,))
assert np.isfinite(np.asarray(k)).all()
print("portable smoke test passed")
