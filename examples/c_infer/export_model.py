"""Export a small MLP with a symbolic batch for examples/c_infer: writes
DIR/model.rjax, DIR/input.f32 (ROWS x 6 float32) and DIR/expected.f32 (what
Python computes for it)."""
import sys

import numpy as np

import rjax
import rjax.numpy as jnp
from rjax import export

out_dir, rows = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
w1 = rng.standard_normal((6, 16)).astype(np.float32)
w2 = rng.standard_normal((16, 3)).astype(np.float32)


def predict(x):
  return jax_nn_softmax(jnp.tanh(x @ w1) @ w2)


def jax_nn_softmax(z):
  z = z - jnp.max(z, axis=-1, keepdims=True)
  return jnp.exp(z) / jnp.sum(jnp.exp(z), axis=-1, keepdims=True)


spec = rjax.ShapeDtypeStruct(export.symbolic_shape("b, 6"), np.float32)
exp = export.export(rjax.jit(predict))(spec)
with open(f"{out_dir}/model.rjax", "wb") as f:
  f.write(exp.serialize())
x = rng.standard_normal((rows, 6)).astype(np.float32)
x.tofile(f"{out_dir}/input.f32")
np.asarray(export.deserialize(exp.serialize()).call(x)).tofile(f"{out_dir}/expected.f32")
print(f"exported {exp.fun_name}: {exp.in_avals} -> {exp.out_avals}")
