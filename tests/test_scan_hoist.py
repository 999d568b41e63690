"""``lax.scan`` computes the products of its body that do not depend on the
carry for all steps at once, before the loop (``loops.py``: HOIST_BYTES).
The values, gradients and batching must stay JAX's; the hoisting shows in the
jaxpr; bodies with callbacks or collectives, and results over the byte
budget, keep the loop as written."""
import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.lax.control_flow import loops

seeds = st.integers(0, 2**31 - 1)


def _rnn(m, reverse, known_y, with_const_product):
  """An RNN over xs: ``h = tanh(h @ W + x @ U + b)``; optionally also
  returns the carry-free ``x @ U`` as a y, and a loop-invariant product."""
  def loss(W, U, b, h0, xs):
    def cell(h, x):
      proj = x @ U
      if with_const_product:
        proj = proj + (W @ W)[0]
      h = m.numpy.tanh(h @ W + proj + b)
      return h, ((h, proj) if known_y else h)
    h, ys = m.lax.scan(cell, h0, xs, reverse=reverse)
    return h, ys
  return loss


def _args(rng, t, b, d, h, dt=np.float32):
  return [(rng.standard_normal(s) / np.sqrt(max(s[0], 1))).astype(dt)
          for s in ((h, h), (d, h), (h,), (b, h), (t, b, d))]


def _close(got, want, tol):
  for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    g, w = np.asarray(g), np.asarray(w)
    assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
    np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@settings(deadline=None, max_examples=25)
@given(st.integers(2, 7), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5),
       st.booleans(), st.booleans(), st.booleans(), seeds)
def test_values_and_gradients_are_jaxs(t, b, d, h, reverse, known_y, const_product, seed):
  args = _args(np.random.default_rng(seed), t, b, d, h)
  f, jf = (_rnn(m, reverse, known_y, const_product) for m in (rjax, jax))
  _close(f(*args), jf(*args), 2e-5)
  _close(rjax.jit(f)(*args), jf(*args), 2e-5)

  def scalar(m, fn):
    def g(*a):
      hT, ys = fn(*a)
      return sum((m.numpy.sin(y) * y).sum() for y in m.tree_util.tree_leaves(ys)) + hT.sum()
    return g

  argnums = (0, 1, 2, 3, 4)
  want = jax.grad(scalar(jax, jf), argnums)(*args)
  _close(rjax.grad(scalar(rjax, f), argnums)(*args), want, 1e-4)
  _close(rjax.jit(rjax.grad(scalar(rjax, f), argnums))(*args), want, 1e-4)


@settings(deadline=None, max_examples=10)
@given(st.integers(2, 5), st.integers(1, 3), st.booleans(), seeds)
def test_under_vmap_over_the_inputs_or_the_weights(t, n, reverse, seed):
  rng = np.random.default_rng(seed)
  W, U, b, h0, xs = _args(rng, t, 2, 3, 4)
  f, jf = (_rnn(m, reverse, True, False) for m in (rjax, jax))
  xsb = np.stack([xs + i for i in range(n)])
  Ub = np.stack([U * (i + 1) for i in range(n)])
  _close(rjax.vmap(f, (None, None, None, None, 0))(W, U, b, h0, xsb),
         jax.vmap(jf, (None, None, None, None, 0))(W, U, b, h0, xsb), 2e-5)
  _close(rjax.vmap(f, (None, 0, None, None, None))(W, Ub, b, h0, xs),
         jax.vmap(jf, (None, 0, None, None, None))(W, Ub, b, h0, xs), 2e-5)


def _scan_eqns(jaxpr):
  return [e for e in jaxpr.eqns if e.primitive.name == "scan"]


def _dots(jaxpr):
  return sum(e.primitive.name == "dot_general" for e in jaxpr.eqns)


def test_the_jaxpr_shows_the_product_before_the_loop():
  args = _args(np.random.default_rng(0), 5, 2, 3, 4)
  j = rjax.make_jaxpr(_rnn(rjax, False, True, True))(*args).jaxpr
  (scan,) = _scan_eqns(j)
  # x @ U for all steps and the invariant W @ W, outside; h @ W inside
  assert _dots(j) == 2
  assert _dots(scan.params["jaxpr"].jaxpr) == 1
  assert scan.params["length"] == 5
  # a carry-free y is computed outside and not returned by the loop
  assert len(scan.outvars) == 2


def test_integer_products_are_exact_like_jax():
  rng = np.random.default_rng(1)
  xs = rng.integers(-50, 50, (6, 3, 4)).astype(np.int32)
  U = rng.integers(-50, 50, (4, 3)).astype(np.int32)

  def f(m):
    def run(xs, U):
      return m.lax.scan(lambda c, x: (c + x @ U, (x @ U) * c), np.zeros((3, 3), np.int32), xs)
    return run

  got, want = f(rjax)(xs, U), f(jax)(xs, U)
  for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
  assert _dots(_scan_eqns(rjax.make_jaxpr(f(rjax))(xs, U).jaxpr)[0].params["jaxpr"].jaxpr) == 0


def test_bodies_with_callbacks_keep_their_loop_and_order():
  seen, jseen = [], []
  U = np.eye(3, dtype=np.float32) * 2
  xs = np.arange(12, dtype=np.float32).reshape(4, 3)

  def f(m, log):
    def run(xs):
      def cell(c, x):
        p = x @ U
        m.debug.callback(lambda v: log.append(float(v)), p[0])
        return c + p, p
      return m.lax.scan(cell, np.zeros(3, np.float32), xs)
    return run

  got, want = f(rjax, seen)(xs), f(jax, jseen)(xs)
  _close(got, want, 0)
  assert seen == jseen == [0.0, 6.0, 12.0, 18.0]
  (scan,) = _scan_eqns(rjax.make_jaxpr(f(rjax, []))(xs).jaxpr)
  assert _dots(scan.params["jaxpr"].jaxpr) == 1


def test_over_the_byte_budget_the_loop_is_kept(monkeypatch):
  args = _args(np.random.default_rng(2), 6, 2, 3, 4)
  f = _rnn(rjax, False, False, False)
  hoisted = rjax.make_jaxpr(f)(*args).jaxpr
  assert _dots(_scan_eqns(hoisted)[0].params["jaxpr"].jaxpr) == 1
  # x @ U stacked: 6 steps of f32[2, 4]; one float short of it
  monkeypatch.setattr(loops, "HOIST_BYTES", 6 * 2 * 4 * 4 - 4)
  kept = rjax.make_jaxpr(f)(*args).jaxpr
  assert _dots(_scan_eqns(kept)[0].params["jaxpr"].jaxpr) == 2
  _close(f(*args), _rnn(jax, False, False, False)(*args), 2e-5)


@pytest.mark.parametrize("t", [0, 1])
def test_empty_and_single_step_scans(t):
  args = _args(np.random.default_rng(3), t, 2, 3, 4)
  _close(_rnn(rjax, False, True, False)(*args), _rnn(jax, False, True, False)(*args), 2e-5)


def test_the_xs_themselves_and_invariants_are_not_stacked():
  """A y that is only an x, and a product of consts only: no stack made for
  them (the x is passed as it is, the invariant once)."""
  W = np.eye(3, dtype=np.float32)
  xs = np.ones((4, 2, 3), np.float32)

  def run(m):
    def f(W, xs):
      return m.lax.scan(lambda c, x: (c @ W + x @ (W @ W), x), np.zeros((2, 3), np.float32), xs)
    return f

  j = rjax.make_jaxpr(run(rjax))(W, xs).jaxpr
  (scan,) = _scan_eqns(j)
  avals = [v.aval.shape for v in scan.invars]
  assert (4, 2, 3) in avals and (3, 3) in avals
  _close(run(rjax)(W, xs), run(jax)(W, xs), 1e-6)
  _close(rjax.grad(lambda W: run(rjax)(W, xs)[0].sum())(W),
         jax.grad(lambda W: run(jax)(W, xs)[0].sum())(W), 1e-5)


def test_scan_without_xs_and_under_pmap_with_a_collective():
  n = rjax.local_device_count()
  out = lax.scan(lambda c, _: (c @ np.eye(2, dtype=np.float32) + 1, c.sum()),
                 np.zeros((2, 2), np.float32), None, length=3)
  _close(out, jax.lax.scan(lambda c, _: (c @ np.eye(2, dtype=np.float32) + 1, c.sum()),
                           np.zeros((2, 2), np.float32), None, length=3), 0)
  xs = np.ones((n, 3, 2), np.float32)
  U = np.eye(2, dtype=np.float32)

  def per_device(xs):
    return lax.scan(lambda c, x: (c + lax.psum(x @ U, "i"), c), jnp.zeros(2), xs)

  hT, ys = rjax.pmap(per_device, axis_name="i")(xs)
  np.testing.assert_allclose(np.asarray(hT), np.full((n, 2), 3.0 * n))


def test_a_map_of_products_needs_no_loop():
  xs = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
  M = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
  f = lambda m: lambda xs: m.lax.map(lambda x: m.numpy.sin(x @ M), xs)  # noqa: E731
  assert not _scan_eqns(rjax.make_jaxpr(f(rjax))(xs).jaxpr)
  _close(f(rjax)(xs), f(jax)(xs), 2e-6)
  _close(rjax.grad(lambda xs: f(rjax)(xs).sum())(xs), jax.grad(lambda xs: f(jax)(xs).sum())(xs),
         2e-5)
