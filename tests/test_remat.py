"""checkpoint / remat (issue #14, section 3): JAX's ``remat2`` primitive with
its policies; what reverse mode saves, printed as JAX prints it; the
recomputation survives jit's CSE behind an optimization barrier; and
``lax.optimization_barrier``'s own rules.

The Rust core has no ``optimization_barrier`` op yet: the lowering emits a
tagged same-shape ``reshape`` per operand instead (a zero-copy view that CSE
never merges with anything else). ``test_recomputation_survives_jit`` holds
with either."""
import functools
import re

import jax
import jax.ad_checkpoint
import jax.numpy as jjnp
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.ad_checkpoint import checkpoint_name, print_saved_residuals, saved_residuals


def _g(np_, W, x):
  y = np_.dot(W, x)
  return np_.sin(y)


def _f(np_, ckpt, W1, W2, W3, x):
  g = functools.partial(_g, np_)
  g = ckpt(g) if ckpt else g
  return g(W3, g(W2, g(W1, x)))


def _named(np_, name_fn, params, x):
  *Ws, Wlast = params
  for i, W in enumerate(Ws):
    x = np_.sin(np_.dot(W, x))
    x = name_fn(x, name=f"layer{i}_output")
  return np_.sum((np_.dot(Wlast, x) - 1.0) ** 2)


def _args(np_):
  rng = np.random.default_rng(0)
  return [np_.asarray(rng.standard_normal(s).astype(np.float32)) for s in
          [(5, 4), (6, 5), (7, 6), (4,)]]


POLICIES = ["nothing_saveable", "everything_saveable", "dots_saveable",
            "dots_with_no_batch_dims_saveable", "checkpoint_dots"]


def _policy(mod, name):
  return getattr(mod.checkpoint_policies, name)


def _printed(mod, f, *args):
  import contextlib
  import io
  buf = io.StringIO()
  with contextlib.redirect_stdout(buf):
    (print_saved_residuals if mod is rjax else jax.ad_checkpoint.print_saved_residuals)(f, *args)
  return buf.getvalue()


@pytest.mark.parametrize("policy", [None] + POLICIES)
def test_saved_residuals_print_as_jax(policy):
  def build(mod, np_):
    ck = (lambda g: mod.checkpoint(g, policy=_policy(mod, policy))) if policy else mod.checkpoint
    return functools.partial(_f, np_, ck)
  r = _printed(rjax, build(rjax, jnp), *_args(jnp))
  j = _printed(jax, build(jax, jjnp), *_args(jjnp))
  assert r == j
  assert "from the argument W1" in r


def test_saved_residuals_of_uncheckpointed_and_whole_function_match_jax():
  for ckpt_whole in (False, True):
    def build(mod, np_):
      f = functools.partial(_f, np_, None)
      if ckpt_whole:
        f = mod.checkpoint(f, policy=mod.checkpoint_policies.dots_with_no_batch_dims_saveable)
      return f
    assert _printed(rjax, build(rjax, jnp), *_args(jnp)) == \
        _printed(jax, build(jax, jjnp), *_args(jjnp))


@pytest.mark.parametrize("policy", ["save_only_these_names", "save_any_names_but_these",
                                    "save_anything_except_these_names"])
def test_name_policies_match_jax(policy):
  params = lambda np_: [np_.ones((4, 4)) * 0.3, np_.ones((4, 4)) * 0.2, np_.ones((4, 4))]  # noqa

  def build(mod, np_, name_fn):
    f = functools.partial(_named, np_, name_fn)
    return mod.checkpoint(f, policy=getattr(mod.checkpoint_policies, policy)("layer1_output"))

  fr = build(rjax, jnp, checkpoint_name)
  fj = build(jax, jjnp, jax.ad_checkpoint.checkpoint_name)
  r = _printed(rjax, fr, params(jnp), jnp.ones(4))
  j = _printed(jax, fj, params(jjnp), jjnp.ones(4))
  assert r == j
  gr = rjax.grad(fr)(params(jnp), jnp.ones(4))
  gj = jax.grad(fj)(params(jjnp), jjnp.ones(4))
  for a, b in zip(rjax.tree_util.tree_leaves(gr), jax.tree_util.tree_leaves(gj)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5)


def test_both_policies_and_recursive_checkpoints_match_jax():
  def rc(mod, funs):
    if len(funs) == 1:
      return funs[0]
    if len(funs) == 2:
      f1, f2 = funs
      return lambda x: f1(f2(x))
    f1 = rc(mod, funs[:len(funs) // 2])
    f2 = rc(mod, funs[len(funs) // 2:])
    return lambda x: f1(mod.checkpoint(f2)(x))

  for n in (4, 8, 16):
    assert _printed(rjax, rc(rjax, [jnp.sin] * n), 3.0) == \
        _printed(jax, rc(jax, [jjnp.sin] * n), 3.0)
  both_r = rjax.checkpoint_policies.save_from_both_policies(
      rjax.checkpoint_policies.dots_saveable, rjax.checkpoint_policies.save_only_these_names("a"))
  both_j = jax.checkpoint_policies.save_from_both_policies(
      jax.checkpoint_policies.dots_saveable, jax.checkpoint_policies.save_only_these_names("a"))
  def h(np_, name_fn, W, x):
    return np_.sin(name_fn(np_.cos(np_.dot(W, x)), "a"))
  fr = rjax.checkpoint(functools.partial(h, jnp, checkpoint_name), policy=both_r)
  fj = jax.checkpoint(functools.partial(h, jjnp, jax.ad_checkpoint.checkpoint_name),
                      policy=both_j)
  assert _printed(rjax, fr, jnp.ones((3, 3)), jnp.ones(3)) == \
      _printed(jax, fj, jjnp.ones((3, 3)), jjnp.ones(3))


@pytest.mark.parametrize("policy", [None] + POLICIES)
def test_checkpoint_values_and_derivatives_match_jax(policy):
  def build(mod, np_):
    ck = (lambda g: mod.checkpoint(g, policy=_policy(mod, policy))) if policy else mod.checkpoint
    return lambda *a: np_.sum(_f(np_, ck, *a))
  fr, fj = build(rjax, jnp), build(jax, jjnp)
  ar, aj = _args(jnp), _args(jjnp)
  for tr, tj in [(rjax.grad, jax.grad), (rjax.jacfwd, jax.jacfwd), (rjax.jacrev, jax.jacrev)]:
    gr = tr(fr, argnums=(0, 3))(*ar)
    gj = tj(fj, argnums=(0, 3))(*aj)
    for a, b in zip(gr, gj):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(rjax.jit(rjax.grad(fr, argnums=3))(*ar)),
                             np.asarray(jax.grad(fj, argnums=3)(*aj)), rtol=2e-5, atol=1e-6)
  xs = np.stack([np.asarray(ar[3]), 2 * np.asarray(ar[3])])
  vr = rjax.vmap(rjax.grad(fr, argnums=3), in_axes=(None, None, None, 0))(*ar[:3], xs)
  vj = jax.vmap(jax.grad(fj, argnums=3), in_axes=(None, None, None, 0))(*aj[:3], xs)
  np.testing.assert_allclose(np.asarray(vr), np.asarray(vj), rtol=2e-5, atol=1e-6)


def test_checkpoint_jaxprs_print_as_jax():
  f = lambda x: jnp.sin(jnp.sin(x))     # noqa: E731
  fj = lambda x: jjnp.sin(jjnp.sin(x))  # noqa: E731
  assert str(rjax.make_jaxpr(rjax.checkpoint(f))(1.0)) == \
      str(jax.make_jaxpr(jax.checkpoint(fj))(1.0))
  g = rjax.grad(lambda x: rjax.checkpoint(f)(x) * 2.0)
  gj = jax.grad(lambda x: jax.checkpoint(fj)(x) * 2.0)
  assert [e.primitive.name for e in rjax.make_jaxpr(g)(1.0).eqns] == \
      [e.primitive.name for e in jax.make_jaxpr(gj)(1.0).eqns]
  np.testing.assert_allclose(float(g(1.3)), float(gj(1.3)), rtol=1e-6)


def _count(text: str, op: str) -> int:
  plan = text.split("plan(")[-1]
  return len(re.findall(rf"\b{op}\b", plan))


def test_recomputation_survives_jit():
  """Without a barrier the Program's CSE would merge the recomputed sin
  and dot_general with the forward pass's; with it, the backward pass
  recomputes them (the point of remat)."""
  W = jnp.ones((6, 6)) * 0.1

  def loss(ck, x):
    h = x
    for _ in range(3):
      h = ck(lambda v: jnp.sin(W @ v))(h)
    return jnp.sum(h)

  plain = rjax.jit(rjax.grad(functools.partial(loss, lambda f: f))).lower(jnp.ones(6))
  remat = rjax.jit(rjax.grad(functools.partial(loss, rjax.checkpoint))).lower(jnp.ones(6))
  no_cse = rjax.jit(rjax.grad(functools.partial(
      loss, lambda f: rjax.checkpoint(f, prevent_cse=False)))).lower(jnp.ones(6))
  # forward + backward: 3 dots forward, 3 transposed dots back; remat adds
  # the recomputed forward dots, which prevent_cse=False lets CSE merge away.
  n_plain, n_remat = _count(plain.as_text(), "dot_general"), _count(remat.as_text(), "dot_general")
  assert n_remat > n_plain
  assert _count(no_cse.as_text(), "dot_general") == n_plain
  np.testing.assert_allclose(
      np.asarray(rjax.jit(rjax.grad(functools.partial(loss, rjax.checkpoint)))(jnp.ones(6))),
      np.asarray(rjax.grad(functools.partial(loss, lambda f: f))(jnp.ones(6))), rtol=1e-6)


def test_checkpoint_static_argnums_and_errors():
  calls = []

  @functools.partial(rjax.checkpoint, static_argnums=(1,))
  def f(x, training):
    calls.append(training)
    return jnp.sin(x) * (2.0 if training else 1.0)

  assert float(rjax.grad(f)(1.0, True)) == pytest.approx(2 * np.cos(1.0), rel=1e-6)
  assert float(rjax.grad(f)(1.0, False)) == pytest.approx(np.cos(1.0), rel=1e-6)
  rjax.grad(f)(1.0, True)
  assert calls == [True, False]        # traced once per static value (cached as in JAX)
  with pytest.raises(ValueError, match="static_argnums"):
    rjax.checkpoint(lambda x: x, static_argnums=(3,))(1.0)
  with pytest.raises(TypeError, match="prevent_cse"):
    rjax.checkpoint(lambda x: x, prevent_cse="yes")


def test_offload_policies_say_why_they_are_not_available():
  with pytest.raises(NotImplementedError, match="offload"):
    rjax.checkpoint_policies.offload_dot_with_no_batch_dims("device", "pinned_host")
  with pytest.raises(ValueError, match="exclusive"):
    rjax.checkpoint_policies.save_and_offload_only_these_names(
        names_which_can_be_saved=["a"], names_which_can_be_offloaded=["a"],
        offload_src="device", offload_dst="pinned_host")
  with pytest.raises(NotImplementedError):
    rjax.checkpoint_policies.save_and_offload_only_these_names(
        names_which_can_be_saved=["a"], names_which_can_be_offloaded=["b"],
        offload_src="device", offload_dst="pinned_host")


def test_saved_residuals_returns_avals_and_descriptions():
  from jax._src.ad_checkpoint import saved_residuals as jax_saved_residuals
  f = lambda np_, x: np_.sin(np_.sin(x))  # noqa: E731
  res = saved_residuals(functools.partial(f, jnp), 2.0)
  resj = jax_saved_residuals(functools.partial(f, jjnp), 2.0)
  assert [(str(a), s) for a, s in res] == [(str(a), s) for a, s in resj]


# ---------------------------------------------------------------------------
# optimization_barrier


def test_optimization_barrier_is_the_identity_with_jax_rules():
  x = np.array([0.5, -1.0, 2.0], np.float32)
  f = lambda np_, ob: lambda v: np_.sum(ob((np_.sin(v), v * 2))[0] * v)  # noqa: E731
  fr, fj = f(jnp, lax.optimization_barrier), f(jjnp, jax.lax.optimization_barrier)
  np.testing.assert_allclose(np.asarray(fr(jnp.asarray(x))), np.asarray(fj(jjnp.asarray(x))),
                             rtol=1e-6)
  for tr, tj in [(rjax.grad, jax.grad), (rjax.jacfwd, jax.jacfwd), (rjax.jacrev, jax.jacrev)]:
    np.testing.assert_allclose(np.asarray(tr(fr)(jnp.asarray(x))),
                               np.asarray(tj(fj)(jjnp.asarray(x))), rtol=1e-6)
  xs = np.stack([x, x + 1])
  np.testing.assert_allclose(np.asarray(rjax.vmap(fr)(jnp.asarray(xs))),
                             np.asarray(jax.vmap(fj)(jjnp.asarray(xs))), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(rjax.jit(fr)(jnp.asarray(x))),
                             np.asarray(jax.jit(fj)(jjnp.asarray(x))), rtol=1e-6)
  assert str(rjax.make_jaxpr(lambda v: lax.optimization_barrier(v * 2))(1.0)) == \
      str(jax.make_jaxpr(lambda v: jax.lax.optimization_barrier(v * 2))(1.0))


def test_optimization_barrier_prevents_cse_under_jit():
  """What is computed from the barrier's outputs is never merged with what
  is computed from its inputs."""
  def f(ob, x):
    return jnp.sin(ob(x)) + jnp.sin(x)

  with_b = rjax.jit(functools.partial(f, lax.optimization_barrier)).lower(jnp.ones(4))
  without = rjax.jit(functools.partial(f, lambda v: v)).lower(jnp.ones(4))
  assert without.compile_stats()["cse"] == 1
  assert with_b.compile_stats()["cse"] == 0
