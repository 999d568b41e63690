"""Structured control flow (lax.cond, switch, while_loop, fori_loop, scan,
map, associative_scan): values against Python loops, derivatives checked
numerically (forward and reverse, order 2), vmap with batched and unbatched
predicates, jit and its compositions, the printed jaxprs, and the errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.test_util import check_grads
from util import arrays, check_vmap, enable_x64, shapes


def _grads(f, *args, modes=("fwd", "rev"), order=2):
  with enable_x64():
    check_grads(f, [jnp.asarray(a) for a in args], order=order, modes=modes)


def _close(got, want, rtol=2e-5, atol=2e-5):
  if isinstance(want, list):
    want = np.asarray(want)
  for g, w in zip(rjax.tree_util.tree_leaves(got), rjax.tree_util.tree_leaves(want)):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# Values against Python


@given(shape=shapes(max_dims=3), data=st.data(), pred=st.booleans())
def test_cond_against_python(shape, data, pred):
  x = data.draw(arrays(np.float32, shape, -3, 3))
  y = data.draw(arrays(np.float32, shape, -3, 3))
  t = lambda a, b: (jnp.sin(a) * b, {"s": a + 1})
  f = lambda a, b: (a - b, {"s": b * 2})
  got = lax.cond(pred, t, f, jnp.asarray(x), jnp.asarray(y))
  want = (np.sin(x) * y, {"s": x + 1}) if pred else (x - y, {"s": y * 2})
  _close(got, want)


def test_cond_pytree_operand_and_closure():
  w = jnp.asarray([1.0, 2.0])
  ops = {"a": jnp.asarray([3.0, 4.0]), "b": (jnp.float32(2.0),)}
  out = lax.cond(jnp.asarray(0), lambda o: o["a"] * w, lambda o: o["a"] * o["b"][0], ops)
  np.testing.assert_allclose(np.asarray(out), [6.0, 8.0])
  # the old-style keyword operand and a numeric predicate
  out = lax.cond(2.5, lambda v: v + w, lambda v: v - w, operand=w)
  np.testing.assert_allclose(np.asarray(out), [2.0, 4.0])


@pytest.mark.parametrize("index", [-3, 0, 1, 2, 7])
def test_switch_clamps_the_index(index):
  branches = [lambda x: x + 1.0, lambda x: x * 10.0, lambda x: -x]
  x = jnp.asarray([1.0, 2.0])
  want = branches[min(max(index, 0), 2)](np.asarray([1.0, 2.0]))
  _close(lax.switch(index, branches, x), want)
  _close(rjax.jit(lambda i, x: lax.switch(i, branches, x))(index, x), want)
  _close(lax.switch(jnp.uint32(max(index, 0)), branches, x),
         branches[min(max(index, 0), 2)](np.asarray([1.0, 2.0])))


@given(n=st.integers(0, 20), data=st.data())
def test_while_loop_against_python(n, data):
  x = data.draw(arrays(np.float32, (3,), -2, 2))
  got = lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.9 + 1.0),
                       (0, jnp.asarray(x)))
  i, v = 0, x.copy()
  while i < n:
    i, v = i + 1, v * np.float32(0.9) + np.float32(1.0)
  assert int(got[0]) == n
  _close(got[1], v)


@given(lo=st.integers(-3, 5), hi=st.integers(-3, 12))
def test_fori_loop_against_python(lo, hi):
  body = lambda i, c: c * 0.5 + i
  want = 0.0
  for i in range(lo, hi):
    want = want * 0.5 + i
  _close(lax.fori_loop(lo, hi, body, 0.0), want)                  # static: a scan
  _close(rjax.jit(lambda a, b: lax.fori_loop(a, b, body, 0.0))(lo, hi), want)  # a while


@given(length=st.integers(0, 7), shape=shapes(max_dims=2, max_side=3), reverse=st.booleans(),
       data=st.data())
def test_scan_against_python(length, shape, reverse, data):
  xs = data.draw(arrays(np.float32, (length,) + shape, -2, 2))
  c0 = data.draw(arrays(np.float32, shape, -2, 2))

  def body(carry, x):
    c, k = carry
    nc = jnp.tanh(c * 0.5 + x["v"])
    return (nc, k + 1), {"y": nc * 2.0, "i": k}

  (c, k), ys = lax.scan(body, (jnp.asarray(c0), jnp.int32(0)), {"v": jnp.asarray(xs)},
                        reverse=reverse)
  cc, ys_want, ks = c0, [None] * length, [None] * length
  order = range(length - 1, -1, -1) if reverse else range(length)
  for step, i in enumerate(order):
    cc = np.tanh(cc * np.float32(0.5) + xs[i])
    ys_want[i], ks[i] = cc * 2, step
  _close(c, cc)
  assert int(k) == length
  if length:
    _close(ys["y"], np.stack(ys_want))
    np.testing.assert_array_equal(np.asarray(ys["i"]), ks)
  assert ys["y"].shape == (length,) + shape


def test_scan_length_only_and_unroll():
  c, ys = lax.scan(lambda c, _: (c * 2.0, c), 1.0, None, length=5, unroll=2)
  _close(c, 32.0)
  _close(ys, [1.0, 2.0, 4.0, 8.0, 16.0])
  c, ys = lax.scan(lambda c, x: (c + x, None), 0.0, jnp.arange(4.0), unroll=True)
  assert ys is None
  _close(c, 6.0)


def test_map_and_batch_size():
  xs = jnp.arange(10.0).reshape(5, 2)
  _close(lax.map(lambda x: x.sum() * 2, xs), np.arange(10.0).reshape(5, 2).sum(1) * 2)
  _close(lax.map(lambda x: x * 3, xs, batch_size=2), np.arange(10.0).reshape(5, 2) * 3)


@given(n=st.integers(1, 17), reverse=st.booleans())
def test_associative_scan(n, reverse):
  x = np.arange(1, n + 1, dtype=np.float32) / n
  want = np.cumsum(x[::-1])[::-1] if reverse else np.cumsum(x)
  _close(lax.associative_scan(jnp.add, jnp.asarray(x), reverse=reverse), want)
  m = np.stack([x, x * 2], 1)
  got = lax.associative_scan(lambda a, b: (a[0] * b[0], a[1] + b[1]), (jnp.asarray(m), m[:, 0]),
                             axis=0)
  _close(got[0], np.cumprod(m, 0), rtol=1e-4)
  _close(got[1], np.cumsum(m[:, 0]))


def test_loops_run_without_returning_to_python():
  calls = []

  def body(i, c):
    calls.append(1)  # runs only while tracing
    return c * 0.999 + 1.0

  f = rjax.jit(lambda x: lax.fori_loop(0, 10_000, body, x))
  got = f(jnp.float32(0.0))
  want = np.float32(0.0)
  for _ in range(10_000):
    want = want * np.float32(0.999) + np.float32(1.0)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4)
  assert len(calls) == 1
  f(jnp.float32(1.0))
  assert len(calls) == 1
  w = rjax.jit(lambda n: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] + 2),
                                        (0, 0)))
  assert [int(v) for v in w(10_000)] == [10_000, 20_000]


# ---------------------------------------------------------------------------
# Derivatives


X = np.array([0.3, -0.7, 1.2])


@pytest.mark.parametrize("p", [1.5, -1.5])
def test_cond_grads(p):
  def f(x, p):
    return lax.cond(p > 0, lambda x: jnp.sin(x) * p, lambda x: jnp.cos(x) * x, x)
  _grads(f, X, p)
  # an operand only one branch uses, and outputs only one branch differentiates
  g = lambda x, y: lax.cond(p > 0, lambda a, b: (a * 2, b), lambda a, b: (a * b, 3.0 * b), x, y)
  _grads(g, X, X[::-1])


@pytest.mark.parametrize("index", [-1, 0, 1, 2, 5])
def test_switch_grads(index):
  branches = [lambda x: x * x, lambda x: jnp.exp(x), lambda x: -x]
  _grads(lambda x: lax.switch(index, branches, x), X)


def test_scan_grads():
  def f(xs, w, c0):
    return lax.scan(lambda c, x: (jnp.tanh(c * w + x), c * x), c0, xs)
  _grads(f, X, 0.8, 0.5)
  _grads(lambda xs, w, c0: f(xs[::-1], w, c0)[1], X, -0.4, 0.2)
  rev = lambda xs, w: lax.scan(lambda c, x: (jnp.sin(c) * w + x, c), 0.1, xs, reverse=True)
  _grads(rev, X, 0.7)


def test_static_fori_loop_is_reverse_differentiable():
  f = lambda x, w: lax.fori_loop(0, 4, lambda i, c: jnp.sin(c) * w + c * i, x)
  _grads(f, X, X[::-1])


def test_while_loop_forward_mode():
  w = lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.sin(c[1]) * 1.5),
                               (0, x))[1]
  _grads(w, X, modes=("fwd",))
  with enable_x64():
    out, lin = rjax.linearize(w, jnp.asarray(X))
    _close(lin(jnp.ones(3)), rjax.jvp(w, (jnp.asarray(X),), (jnp.ones(3),))[1])


def test_rnn_grad_matches_jax_style_reference():
  rng = np.random.default_rng(0)
  W, U = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(3, 4)) * 0.5
  xs = rng.normal(size=(6, 2, 3))

  def loss(W, U, xs):
    h, hs = lax.scan(lambda h, x: (jnp.tanh(h @ W + x @ U),) * 2, jnp.zeros((2, 4)), xs)
    return (hs ** 2).sum() + h.sum()

  _grads(loss, W, U, xs, order=1)


# ---------------------------------------------------------------------------
# vmap


def test_cond_vmap_batched_and_unbatched_predicate():
  f = lambda p, x: lax.cond(p > 0, lambda x: jnp.sin(x) * p, lambda x: jnp.cos(x), x)
  p = np.array([1.0, -1.0, 2.0, -3.0], np.float32)
  x = np.arange(8.0, dtype=np.float32).reshape(4, 2)
  check_vmap(f, (p, x))                                   # batched predicate: select_n
  check_vmap(f, (np.float32(1.0), x), in_axes=(None, 0))   # unbatched predicate
  check_vmap(f, (p, x[0]), in_axes=(0, None))
  check_vmap(f, (p, x.T), in_axes=(0, 1))


def test_switch_vmap():
  branches = [lambda x: x + 1.0, lambda x: x * 10.0, lambda x: -x]
  f = lambda i, x: lax.switch(i, branches, x)
  check_vmap(f, (np.array([0, 2, 1, 7, -1], np.int32), np.arange(5.0, dtype=np.float32)))
  check_vmap(f, (np.int32(1), np.arange(5.0, dtype=np.float32)), in_axes=(None, 0))


def test_while_vmap_batched_predicate_keeps_finished_lanes():
  f = lambda x, n: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))
  check_vmap(f, (np.array([1.0, 3.0, 20.0], np.float32), np.array([0, 3, 5], np.int32)))
  check_vmap(f, (np.array([1.0, 3.0, 20.0], np.float32), np.int32(4)), in_axes=(0, None))
  g = lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)
  check_vmap(g, (np.array([1.0, 3.0, 20.0], np.float32),))


def test_scan_vmap():
  def f(c0, xs, w):
    return lax.scan(lambda c, x: (jnp.tanh(c * w + x), c * x), c0, xs)
  c0 = np.array([0.1, 0.2, 0.3], np.float32)
  xs = np.arange(12.0, dtype=np.float32).reshape(3, 4) / 10
  w = np.array([0.5, -0.5, 1.0], np.float32)
  check_vmap(f, (c0, xs, w))
  check_vmap(f, (np.float32(0.1), xs, np.float32(0.5)), in_axes=(None, 0, None))
  check_vmap(f, (c0, xs[0], np.float32(0.5)), in_axes=(0, None, None))
  check_vmap(f, (np.float32(0.1), xs.T, np.float32(0.5)), in_axes=(None, 1, None))


def test_fori_vmap_dynamic_bounds():
  f = lambda n, x: lax.fori_loop(0, n, lambda i, c: c + i * x, 0.0)
  check_vmap(f, (np.array([0, 3, 5], np.int32), np.array([1.0, 2.0, 3.0], np.float32)))


# ---------------------------------------------------------------------------
# jit and compositions


def _f_all(x):
  y = lax.cond(x.sum() > 0, lambda v: v * 2.0, lambda v: jnp.sin(v), x)
  y = lax.fori_loop(0, 3, lambda i, c: c * 0.5 + jnp.cos(c), y)
  c, ys = lax.scan(lambda c, v: (c + v * c, jnp.sin(c)), 0.3, y)
  return c + ys.sum()


@pytest.mark.parametrize("x", [X, -X])
def test_jit_compositions(x):
  with enable_x64():
    x = jnp.asarray(x)
    want = _f_all(x)
    _close(rjax.jit(_f_all)(x), want, 1e-12, 1e-12)
    g = rjax.grad(_f_all)(x)
    _close(rjax.jit(rjax.grad(_f_all))(x), g, 1e-12, 1e-12)
    _close(rjax.grad(rjax.jit(_f_all))(x), g, 1e-12, 1e-12)
    xs = jnp.stack([x, -x, x * 2])
    _close(rjax.vmap(rjax.jit(_f_all))(xs), [_f_all(v) for v in xs], 1e-12, 1e-12)
    _close(rjax.jit(rjax.vmap(rjax.grad(_f_all)))(xs), [rjax.grad(_f_all)(v) for v in xs],
           1e-12, 1e-12)
    check_grads(rjax.jit(_f_all), (x,), order=2, modes=("fwd", "rev"))


def test_nested_control_flow_grad():
  def f(x):
    def body(c, xi):
      return lax.cond(xi > 0, lambda c: c * xi, lambda c: jnp.sin(c) + xi, c), c
    return lax.scan(body, 0.5, x)
  _grads(f, X)
  _grads(lambda x: lax.fori_loop(0, 2, lambda i, c: f(c)[1], x), X, order=1)


# ---------------------------------------------------------------------------
# Printed jaxprs


def test_jaxpr_text():
  cond_text = str(rjax.make_jaxpr(lambda x: lax.cond(x > 0, jnp.sin, jnp.cos, x))(1.0))
  assert "cond[\n      branches=(\n        { lambda ; " in cond_text
  assert "cos" in cond_text and "sin" in cond_text
  w = str(rjax.make_jaxpr(lambda n: lax.fori_loop(0, n, lambda i, c: c + i, 0))(3))
  assert "while[\n      body_jaxpr={ lambda ; " in w and "cond_jaxpr={ lambda ; " in w
  assert "body_nconsts=0" in w and "cond_nconsts=0" in w
  s = str(rjax.make_jaxpr(lambda x: lax.scan(lambda c, x: (c + x, c), 0.0, x))(jnp.zeros(3)))
  assert "scan[\n      jaxpr={ lambda ; " in s
  for p in ("length=3", "num_carry=1", "num_consts=0", "reverse=False", "unroll=1"):
    assert p in s


def test_jaxpr_golden_scan():
  got = str(rjax.make_jaxpr(lambda x: lax.scan(lambda c, x: (c + x, c * x), 0.0, x))(
      jnp.zeros(5)))
  assert got == """{ lambda ; a:f32[5]. let
    b:f32[] c:f32[5] = scan[
      jaxpr={ lambda ; d:f32[] e:f32[]. let
          f:f32[] = add d e
          g:f32[] = mul d e
        in (f, g) }
      length=5
      num_carry=1
      num_consts=0
      reverse=False
      unroll=1
    ] 0.0:f32[] a
  in (b, c) }"""


# ---------------------------------------------------------------------------
# Errors


def test_while_loop_reverse_mode_error():
  f = lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)
  with pytest.raises(ValueError, match="Reverse-mode differentiation does not work for "
                     "lax.while_loop"):
    rjax.grad(f)(1.0)
  # a trip count traced by jit: a while_loop
  g = lambda x, n: lax.fori_loop(0, n, lambda i, c: c * 2.0, x)
  with pytest.raises(ValueError, match="Reverse-mode differentiation"):
    rjax.jit(rjax.grad(g))(1.0, 3)
  _close(rjax.jit(lambda x, n: rjax.jvp(lambda x: g(x, n), (x,), (1.0,)))(1.0, 3), (8.0, 8.0))


def test_cond_branch_type_errors():
  with pytest.raises(TypeError, match="cond branches must have equal output types"):
    lax.cond(True, lambda x: x, lambda x: x.astype(jnp.int32), jnp.float32(1.0))
  with pytest.raises(TypeError, match="cond branches must have equal output types"):
    lax.cond(True, lambda x: x, lambda x: jnp.stack([x, x]), jnp.float32(1.0))
  with pytest.raises(TypeError, match="same pytree structure"):
    lax.cond(True, lambda x: (x, x), lambda x: x, jnp.float32(1.0))
  with pytest.raises(TypeError, match="switch branches must have equal output types"):
    lax.switch(0, [lambda x: x, lambda x: x[:1]], jnp.zeros(2))


def test_predicate_errors():
  with pytest.raises(TypeError, match="Pred must be a scalar"):
    lax.cond(jnp.array([True, False]), lambda: 1.0, lambda: 2.0)
  with pytest.raises(TypeError, match="Pred must be a scalar"):
    rjax.jit(lambda p: lax.cond(p, lambda: 1.0, lambda: 2.0))(jnp.zeros(3) > 0)
  with pytest.raises(TypeError, match="Pred type must be either boolean or number"):
    lax.cond("yes", lambda: 1.0, lambda: 2.0)
  with pytest.raises(TypeError, match="Branch index must be scalar"):
    lax.switch(jnp.array([0, 1]), [lambda: 1.0, lambda: 2.0])
  with pytest.raises(TypeError, match="Index type must be an integer"):
    lax.switch(1.0, [lambda: 1.0, lambda: 2.0])
  with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
    lax.while_loop(lambda c: c, lambda c: c, 1.0)


def test_carry_type_errors():
  with pytest.raises(TypeError, match="while_loop body function carry input and carry output "
                     "must have equal types"):
    lax.while_loop(lambda c: c < 3, lambda c: c + 1.5, 0)
  with pytest.raises(TypeError, match="scan body function carry input and carry output must "
                     "have equal types"):
    lax.scan(lambda c, x: (jnp.stack([c, c]), x), 0.0, jnp.zeros(3))
  with pytest.raises(TypeError, match="same pytree structure"):
    lax.scan(lambda c, x: ((c, c), x), 0.0, jnp.zeros(3))
  with pytest.raises(TypeError, match="scan body output must be a pair"):
    lax.scan(lambda c, x: c, 0.0, jnp.zeros(3))
  with pytest.raises(ValueError, match="scan got no values to scan over"):
    lax.scan(lambda c, x: (c, x), 0.0, None)
  with pytest.raises(ValueError, match="disagrees with leading axis sizes"):
    lax.scan(lambda c, x: (c, x), 0.0, jnp.zeros(3), length=4)


def test_weak_typed_carry_is_promoted():
  out = lax.fori_loop(0, 3, lambda i, c: c + jnp.float32(1.0), 0.0)
  assert out.dtype == np.float32 and not out.weak_type
  c, _ = lax.scan(lambda c, x: (c + x, None), 0.0, jnp.arange(3.0))
  assert c.dtype == np.float32


def test_scan_grad_with_integer_xs_and_closure():
  w = np.array([0.5, -1.5, 2.0])
  f = lambda w: lax.scan(lambda c, i: (c * w[i] + jnp.sin(c), c), 0.7, jnp.arange(3))[0]
  _grads(f, w)


def test_eager_calls_do_not_grow_the_dispatch_cache():
  from rjax._src.interpreters import dispatch
  x = jnp.arange(3.0)
  lax.cond(True, jnp.sin, jnp.cos, x)
  lax.scan(lambda c, v: (c + v, c), 0.0, x)
  n = dispatch.cache_size()
  for _ in range(5):
    lax.cond(True, jnp.sin, jnp.cos, x)
    lax.scan(lambda c, v: (c + v, c), 0.0, x)
  assert dispatch.cache_size() == n


def test_hessians_agree_every_way():
  def f(x):
    c, ys = lax.scan(lambda c, v: (jnp.sin(c) * v + c, c * v), 0.3, x)
    y = lax.cond(c > 0, lambda a: a * 2, lambda a: jnp.cos(a), ys)
    return y.sum() + lax.fori_loop(0, 3, lambda i, z: z * jnp.tanh(z) + i, c)
  with enable_x64():
    x = jnp.asarray([0.3, -0.7, 1.2, 0.5])
    h = np.asarray(rjax.hessian(f)(x))
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    for other in (rjax.jacrev(rjax.jacrev(f)), rjax.jacfwd(rjax.jacfwd(f)),
                  rjax.jacrev(rjax.jacfwd(f)), rjax.jit(rjax.hessian(f)),
                  rjax.hessian(rjax.jit(f))):
      np.testing.assert_allclose(np.asarray(other(x)), h, atol=1e-12)


def test_scan_residual_that_is_an_output_is_not_stacked_twice():
  def body(c, x):
    u = c * x
    return jnp.sin(u) * u, u

  f = lambda xs: lax.scan(body, 0.5, xs)
  _grads(f, X)
  text = rjax.jit(rjax.grad(lambda xs: f(xs)[1].sum())).lower(jnp.asarray(X)).as_text()
  fwd = [line for line in text.split("plan(")[1].splitlines() if " = scan " in line][0]
  # carry, ys, and the stacked residuals c, sin(u), cos(u): u is the ys'
  # stack and x the xs' own
  assert fwd.split(" = ")[0].count("%") == 5, fwd


def test_collectives_inside_control_flow_under_vmap():
  x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
  f = lambda x: lax.scan(lambda c, v: (c + lax.psum(v, "i"), c), 0.0, x)
  c, ys = rjax.vmap(f, axis_name="i")(jnp.asarray(x))
  tot = x.sum(0)   # the psum over the 3 members, per step
  _close(c, np.full(3, tot.sum()))
  _close(ys, np.tile([0.0, tot[0]], (3, 1)))
  g = lambda x: lax.cond(x > 1, lambda v: lax.pmax(v, "i"), lambda v: v * 0, x)
  _close(rjax.vmap(g, axis_name="i")(jnp.arange(4.0)), [0.0, 0.0, 3.0, 3.0])
  # an unbatched operand: the collective still sees the named axis
  h = lambda y: lax.fori_loop(0, 2, lambda i, c: c + lax.psum(1.0, "i"), y)
  _close(rjax.vmap(lambda x: h(2.0) + x, axis_name="i")(jnp.zeros(5)), np.full(5, 12.0))
