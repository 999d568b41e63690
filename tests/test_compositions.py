"""The composition matrix: for a handful of functions every way of taking a
derivative agrees — grad, grad of jit, jvp, jacfwd, jacrev, the Hessian seven
ways, vmap of grad, and grad of a vmapped sum — and the first derivatives
match numerical differences (float64)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.test_util import check_grads
from util import enable_x64


def _mlp(x):
  w1 = jnp.asarray(np.linspace(-1, 1, 12).reshape(3, 4))
  w2 = jnp.asarray(np.linspace(0.5, -0.5, 4))
  h = jnp.tanh(x @ w1)
  return jnp.dot(h, w2) + 0.1 * jnp.sum(x ** 2)


def _logsumexp(x):
  m = jnp.max(x)
  return m + jnp.log(jnp.sum(jnp.exp(x - m)))


def _indexing(x):
  y = x.at[1].mul(3.0)
  return jnp.sum(jnp.where(y > 0, y, 0.5 * y) * x[::-1]) + jnp.prod(x[:2]) + jnp.cumsum(x)[-1]


def _shapes(x):
  m = jnp.concatenate([x, jnp.sin(x)]).reshape(2, 3)
  return jnp.sum(jnp.transpose(m) @ m) + jnp.sum(jnp.sort(x) * jnp.arange(3.0))


FUNCS = [("mlp", _mlp), ("logsumexp", _logsumexp), ("indexing", _indexing),
         ("shapes", _shapes)]


def _x(seed):
  x = np.random.default_rng(seed).standard_normal(3)
  x = np.where(x < 0, x - 0.05, x + 0.05)   # away from where()'s kink at 0 (finite differences)
  return x + np.array([0.0, 0.01, 0.02])  # no ties for max/sort


@pytest.mark.parametrize("name,f", FUNCS, ids=[n for n, _ in FUNCS])
@given(seed=st.integers(0, 2**16))
def test_first_derivatives_agree(name, f, seed):
  with enable_x64():
    x = jnp.asarray(_x(seed))
    check_grads(f, (x,), order=1, modes=("fwd", "rev"))
    g = np.asarray(rjax.grad(f)(x))
    np.testing.assert_allclose(np.asarray(rjax.grad(rjax.jit(f))(x)), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rjax.jacfwd(f)(x)), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rjax.jacrev(f)(x)), g, rtol=1e-10, atol=1e-12)
    v = jnp.asarray(np.random.default_rng(seed + 1).standard_normal(3))
    _, t = rjax.jvp(f, (x,), (v,))
    np.testing.assert_allclose(float(t), g @ np.asarray(v), rtol=1e-10, atol=1e-12)
    val, vjp_fn = rjax.vjp(f, x)
    np.testing.assert_allclose(np.asarray(vjp_fn(jnp.asarray(2.0))[0]), 2 * g, rtol=1e-10,
                               atol=1e-12)
    val2, g2 = rjax.value_and_grad(f)(x)
    np.testing.assert_allclose(float(val2), float(val), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g2), g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,f", FUNCS, ids=[n for n, _ in FUNCS])
@given(seed=st.integers(0, 2**16))
def test_hessian_seven_ways(name, f, seed):
  with enable_x64():
    x = jnp.asarray(_x(seed))
    ways = [rjax.hessian(f), rjax.jacfwd(rjax.jacfwd(f)), rjax.jacfwd(rjax.jacrev(f)),
            rjax.jacrev(rjax.jacfwd(f)), rjax.jacrev(rjax.jacrev(f)), rjax.jacfwd(rjax.grad(f)),
            rjax.jacrev(rjax.grad(f))]
    hs = [np.asarray(h(x)) for h in ways]
    for h in hs[1:]:
      np.testing.assert_allclose(h, hs[0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(hs[0], hs[0].T, rtol=1e-9, atol=1e-10)
    # and the Hessian is the derivative of the gradient, numerically
    eps = 1e-5
    num = np.stack([(np.asarray(rjax.grad(f)(x + eps * e)) - np.asarray(rjax.grad(f)(x - eps * e)))
                    / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(hs[0], num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,f", FUNCS, ids=[n for n, _ in FUNCS])
@given(n=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_vmap_of_grad_and_grad_of_vmap(name, f, n, seed):
  with enable_x64():
    xs = np.stack([_x(seed + i) for i in range(n)])
    per = np.stack([np.asarray(rjax.grad(f)(jnp.asarray(x))) for x in xs])
    np.testing.assert_allclose(np.asarray(rjax.vmap(rjax.grad(f))(jnp.asarray(xs))), per,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rjax.vmap(rjax.grad(f), in_axes=1)(
        jnp.asarray(xs.T))), per, rtol=1e-10, atol=1e-12)
    # the examples are independent: the gradient of the summed batch is per-example
    gsum = rjax.grad(lambda b: jnp.sum(rjax.vmap(f)(b)))(jnp.asarray(xs))
    np.testing.assert_allclose(np.asarray(gsum), per, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rjax.jit(rjax.vmap(rjax.grad(f)))(jnp.asarray(xs))),
                               per, rtol=1e-10, atol=1e-12)


def test_per_example_gradients_of_a_loss():
  """The issue's example: vmap(grad(loss), in_axes=(None, 0, 0))."""
  rng = np.random.default_rng(0)
  params = {"w": jnp.asarray(rng.standard_normal((3, 2)).astype(np.float32)),
            "b": jnp.zeros(2)}
  xs = jnp.asarray(rng.standard_normal((5, 3)).astype(np.float32))
  ys = jnp.asarray(rng.standard_normal((5, 2)).astype(np.float32))

  def loss(p, x, y):
    return jnp.sum((jnp.tanh(x @ p["w"] + p["b"]) - y) ** 2)

  per = rjax.vmap(rjax.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)
  assert per["w"].shape == (5, 3, 2) and per["b"].shape == (5, 2)
  for i in range(5):
    gi = rjax.grad(loss)(params, xs[i], ys[i])
    np.testing.assert_allclose(np.asarray(per["w"][i]), np.asarray(gi["w"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(per["b"][i]), np.asarray(gi["b"]), rtol=1e-5, atol=1e-6)
  total = rjax.grad(lambda p: sum(loss(p, xs[i], ys[i]) for i in range(5)))(params)
  np.testing.assert_allclose(np.asarray(per["w"].sum(0)), np.asarray(total["w"]), rtol=1e-4,
                             atol=1e-5)


def test_seed_mat_vec():
  mat_vec = rjax.vmap(jnp.dot, in_axes=(0, None), out_axes=0)
  out = mat_vec(jnp.ones((2, 3)), jnp.array([1.0, 2.0, 2.0]))
  np.testing.assert_array_equal(np.asarray(out), [5.0, 5.0])
  assert str(out.dtype) == "float32"


def test_lax_level_compositions():
  with enable_x64():
    x = jnp.asarray(np.linspace(0.2, 1.4, 6).reshape(2, 3))
    f = lambda x: lax.reduce_max(lax.dot_general(x, x, (((1,), (1,)), ((), ()))), (0, 1))
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    g = lambda x: jnp.sum(lax.cumsum(lax.rev(x, (1,)), 1) * lax.pad(x, 0.0, ((0, 0, 0),
                                                                             (1, -1, 0))))
    check_grads(g, (x,), order=2, modes=("fwd", "rev"))


def test_take_along_axis_with_traced_indices():
  x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
  xs = jnp.asarray(x)
  top = lambda v: jnp.take_along_axis(v, jnp.argsort(v, axis=1), axis=1)[:, -1]
  g = rjax.grad(lambda v: jnp.sum(top(v)))(xs)
  np.testing.assert_array_equal(np.asarray(g), (x == x.max(1, keepdims=True)).astype(np.float32))
  np.testing.assert_array_equal(
      np.asarray(rjax.vmap(lambda r: jnp.take_along_axis(r, jnp.argsort(r), 0))(xs)),
      np.sort(x, 1))
  idx = jnp.asarray([[-1], [0], [1]])
  np.testing.assert_array_equal(
      np.asarray(rjax.jit(lambda v, i: jnp.take_along_axis(v, i, 1))(xs, idx)),
      np.take_along_axis(x, np.asarray([[3], [0], [1]]), 1))
