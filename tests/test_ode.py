"""rjax.experimental.ode.odeint against jax.experimental.ode.odeint: values
and adjoint gradients (arguments, initial state, times, closed-over arrays),
pytree states, jit and vmap; float64 gradients against finite differences."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax.experimental.ode import odeint as jodeint

import rjax
import rjax.numpy as jnp
from rjax.experimental import ode
from rjax.experimental.ode import odeint
from rjax.test_util import check_grads

from util import enable_x64


def _decay(np_):
  return lambda y, t, a, b: -a * y + b * np_.sin(t)


@settings(max_examples=5, deadline=None)
@given(a=st.floats(0.1, 2.0), b=st.floats(-1.0, 1.0), y0=st.floats(-2.0, 2.0),
       tmax=st.floats(0.5, 3.0), n=st.integers(2, 6))
def test_values_and_gradients_match_jax(a, b, y0, tmax, n):
  ts = np.linspace(0., tmax, n).astype(np.float32)
  args = (np.float32(y0), ts, np.float32(a), np.float32(b))
  got = odeint(_decay(jnp), *args)
  want = jodeint(_decay(jjnp), *args)
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
  loss = lambda f, m: lambda y, t, a_, b_: m.sum(f(y, t, a_, b_) ** 2)
  g = rjax.grad(lambda *p: jnp.sum(odeint(_decay(jnp), *p) ** 2), argnums=(0, 1, 2, 3))(*args)
  jg = jax.grad(lambda *p: jjnp.sum(jodeint(_decay(jjnp), *p) ** 2), argnums=(0, 1, 2, 3))(*args)
  for x, y in zip(g, jg):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-4, atol=2e-5)
  del loss


def test_pytree_state_closure_jit_and_vmap():
  w = np.float32(1.7)

  def rf(s, t):
    return {"x": s["v"], "v": -w * jnp.sin(s["x"])}

  def jf(s, t):
    return {"x": s["v"], "v": -w * jjnp.sin(s["x"])}
  ts = np.linspace(0., 2., 4).astype(np.float32)
  s0 = {"x": np.float32(1.), "v": np.float32(0.)}
  got, want = odeint(rf, s0, ts), jodeint(jf, s0, ts)
  for k in ("x", "v"):
    np.testing.assert_allclose(got[k], want[k], rtol=2e-5, atol=2e-6)
  # the gradient with respect to a closed-over array
  gw = rjax.grad(lambda w_: odeint(lambda s, t: {"x": s["v"], "v": -w_ * jnp.sin(s["x"])},
                                   s0, ts)["x"][-1])(w)
  jw = jax.grad(lambda w_: jodeint(lambda s, t: {"x": s["v"], "v": -w_ * jjnp.sin(s["x"])},
                                   s0, ts)["x"][-1])(w)
  np.testing.assert_allclose(gw, jw, rtol=2e-4, atol=2e-5)
  ys = rjax.vmap(lambda y: odeint(_decay(jnp), y, ts, 0.5, 0.2))(np.array([1., 2.], np.float32))
  jys = jax.vmap(lambda y: jodeint(_decay(jjnp), y, ts, 0.5, 0.2))(np.array([1., 2.],
                                                                             np.float32))
  np.testing.assert_allclose(ys, jys, rtol=2e-5, atol=2e-6)
  jitted = rjax.jit(lambda y: odeint(_decay(jnp), y, ts, 0.5, 0.2))(np.float32(1.))
  np.testing.assert_allclose(jitted, jys[0], rtol=2e-5, atol=2e-6)


def test_float64_gradients_numerically():
  with enable_x64():
    ts = np.linspace(0., 1., 3)
    f = lambda y0, a: odeint(lambda y, t, a_: -a_ * y ** 3 + jnp.cos(t), y0, ts, a,
                             rtol=1e-10, atol=1e-10)
    check_grads(f, (np.array([0.5, 1.0]), 0.8), order=1, modes=("rev",), atol=1e-5,
                rtol=1e-5)


def test_errors_and_helpers():
  with pytest.raises(TypeError, match="floats"):
    odeint(lambda y, t: -y, 1.0, np.arange(3))
  with pytest.raises(TypeError, match="arrays or scalars"):
    odeint(lambda y, t, s: -y, 1.0, np.linspace(0., 1., 3), "bad")
  assert ode.map is ode.safe_map and ode.zip is ode.safe_zip
  for name in ["optimal_step_size", "mean_error_ratio", "abs2", "fit_4th_order_polynomial"]:
    assert callable(getattr(ode, name))
  np.testing.assert_allclose(
      ode.optimal_step_size(jnp.float32(0.1), jnp.float32(0.5)),
      jax.experimental.ode.optimal_step_size(jjnp.float32(0.1), jjnp.float32(0.5)), rtol=1e-6)
