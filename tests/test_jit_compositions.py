"""The composition matrix under jit (float64): for the functions of
test_compositions.py, every placement of jit around and inside grad, jvp,
vmap, jacfwd, jacrev and hessian gives the transformation's value without
jit; make_jaxpr of a jitted function is a valid jaxpr that computes f."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax._src import core
from test_compositions import FUNCS, _x
from util import enable_x64

jit, grad, vmap = rjax.jit, rjax.grad, rjax.vmap
RTOL, ATOL = 1e-10, 1e-12


def _close(got, want, what):
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=RTOL, atol=ATOL,
                             err_msg=what)


def _batch(seed, n):
  return np.stack([_x(seed + i) for i in range(n)])


@pytest.mark.parametrize("name,f", FUNCS, ids=[n for n, _ in FUNCS])
@settings(max_examples=8)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 3))
def test_every_jit_placement_agrees(name, f, seed, n):
  with enable_x64():
    x = jnp.asarray(_x(seed))
    v = jnp.asarray(np.random.default_rng(seed + 7).standard_normal(3))
    xs = jnp.asarray(_batch(seed, n))
    value, g = f(x), grad(f)(x)
    assert g.dtype == np.float64

    for label, fn in [("jit(grad(f))", jit(grad(f))), ("grad(jit(f))", grad(jit(f))),
                      ("jit(grad(jit(f)))", jit(grad(jit(f)))),
                      ("jacfwd(jit(f))", rjax.jacfwd(jit(f))),
                      ("jacrev(jit(f))", rjax.jacrev(jit(f))),
                      ("jit(jacrev(f))", jit(rjax.jacrev(f)))]:
      out = fn(x)
      assert out.shape == g.shape and out.dtype == g.dtype, label
      _close(out, g, label)

    primal, tangent = rjax.jvp(jit(f), (x,), (v,))
    _close(primal, value, "jvp(jit(f)) primal")
    _close(tangent, np.asarray(g) @ np.asarray(v), "jvp(jit(f)) tangent")
    primal, tangent = jit(lambda a, b: rjax.jvp(f, (a,), (b,)))(x, v)
    _close(tangent, np.asarray(g) @ np.asarray(v), "jit(jvp(f)) tangent")
    val, pullback = rjax.vjp(jit(f), x)
    _close(pullback(jnp.asarray(1.5))[0], 1.5 * np.asarray(g), "vjp(jit(f))")

    per_value = np.stack([np.asarray(f(r)) for r in xs])
    per_grad = np.stack([np.asarray(grad(f)(r)) for r in xs])
    _close(vmap(jit(f))(xs), per_value, "vmap(jit(f))")
    _close(jit(vmap(f))(xs), per_value, "jit(vmap(f))")
    _close(jit(vmap(grad(f)))(xs), per_grad, "jit(vmap(grad(f)))")
    _close(vmap(jit(grad(f)))(xs), per_grad, "vmap(jit(grad(f)))")
    _close(jit(vmap(grad(jit(f)), in_axes=1))(xs.T), per_grad, "jit(vmap(grad(jit(f))), 1)")


@pytest.mark.parametrize("name,f", FUNCS, ids=[n for n, _ in FUNCS])
@settings(max_examples=5)
@given(seed=st.integers(0, 2**16))
def test_hessians_under_jit(name, f, seed):
  with enable_x64():
    x = jnp.asarray(_x(seed))
    h = np.asarray(rjax.hessian(f)(x))
    for label, fn in [("hessian(jit(f))", rjax.hessian(jit(f))),
                      ("jit(hessian(f))", jit(rjax.hessian(f))),
                      ("jacfwd(jit(grad(f)))", rjax.jacfwd(jit(grad(f)))),
                      ("jit(jacrev(grad(jit(f))))", jit(rjax.jacrev(grad(jit(f)))))]:
      _close(fn(x), h, label)


def _eqn_count(jaxpr) -> int:
  return len(jaxpr.eqns)


@pytest.mark.parametrize("name,f", FUNCS, ids=[n for n, _ in FUNCS])
def test_make_jaxpr_of_jit_is_valid(name, f):
  with enable_x64():
    x = jnp.asarray(_x(3))
    closed = rjax.make_jaxpr(jit(f))(x)
    core.typecheck_jaxpr(closed.jaxpr)
    text = str(closed)
    assert text.startswith("{ lambda") and "f64[3]" in text
    out, = core.eval_jaxpr(closed.jaxpr, closed.consts, x)
    _close(out, f(x), "eval_jaxpr(make_jaxpr(jit(f)))")
    # and of the gradient, jitted inside and out
    gj = rjax.make_jaxpr(jit(grad(jit(f))))(x)
    core.typecheck_jaxpr(gj.jaxpr)
    g, = core.eval_jaxpr(gj.jaxpr, gj.consts, x)
    _close(g, grad(f)(x), "eval_jaxpr(make_jaxpr(jit(grad(jit(f)))))")
    assert _eqn_count(gj) > 0


def test_pytree_params_every_placement():
  """grad with respect to a dict of parameters, with jit outside, inside,
  and both, and vmap over examples with the parameters unbatched."""
  with enable_x64():
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.standard_normal((3, 2))), "b": jnp.asarray(np.zeros(2))}
    xs = jnp.asarray(rng.standard_normal((5, 3)))
    ys = jnp.asarray(rng.standard_normal((5, 2)))

    def loss(p, x, y):
      return jnp.sum((jnp.tanh(x @ p["w"] + p["b"]) - y) ** 2)

    want = grad(loss)(params, xs[0], ys[0])
    for label, fn in [("jit(grad)", jit(grad(loss))), ("grad(jit)", grad(jit(loss))),
                      ("jit(grad(jit))", jit(grad(jit(loss))))]:
      got = fn(params, xs[0], ys[0])
      assert set(got) == {"w", "b"}, label
      for k in got:
        _close(got[k], want[k], f"{label}[{k}]")
    per = jit(vmap(grad(jit(loss)), in_axes=(None, 0, 0)))(params, xs, ys)
    for i in range(5):
      gi = grad(loss)(params, xs[i], ys[i])
      for k in gi:
        _close(per[k][i], gi[k], f"per-example [{k}][{i}]")
