"""User-defined rules of issue #14 against JAX: custom_gradient,
closure_convert, linear_call, symbolic zeros (SymbolicZero, CustomVJPPrimal,
zero_from_primal), custom_vmap/sequential_vmap, higher-order derivatives
through custom_vjp rules that call custom_vjp functions, and JAX's weak
types of custom-rule results."""
import functools

import jax
import jax.custom_batching
import jax.custom_derivatives
import jax.numpy as jjnp
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import custom_batching, custom_derivatives


def _same(a, b, rtol=1e-6):
  la, lb = rjax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(la) == len(lb)
  for x, y in zip(la, lb):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-7)
    assert np.asarray(x).dtype == np.asarray(y).dtype
    assert getattr(x, "weak_type", False) == getattr(y, "weak_type", False)


def test_custom_gradient_matches_jax():
  def build(mod):
    @mod.custom_gradient
    def f(x, y):
      return x * y, lambda g: (g * y * 2.0, g * x)   # a deliberately "wrong" gradient
    return f

  fr, fj = build(rjax), build(jax)
  _same(fr(3.0, 4.0), fj(3.0, 4.0))
  _same(rjax.grad(fr, argnums=(0, 1))(3.0, 4.0), jax.grad(fj, argnums=(0, 1))(3.0, 4.0))
  _same(rjax.jit(rjax.grad(fr))(3.0, 4.0), jax.jit(jax.grad(fj))(3.0, 4.0))
  xs = np.arange(1.0, 4.0, dtype=np.float32)
  _same(rjax.vmap(rjax.grad(fr))(jnp.asarray(xs), jnp.asarray(xs)),
        jax.vmap(jax.grad(fj))(jjnp.asarray(xs), jjnp.asarray(xs)))


def _fixed_point_program(mod, np_):
  @functools.partial(mod.custom_vjp, nondiff_argnums=(0,))
  def fixed_point(f, a, x_guess):
    def cond_fun(carry):
      x_prev, x = carry
      return np_.abs(x_prev - x) > 1e-6

    def body_fun(carry):
      _, x = carry
      return x, f(a, x)

    _, x_star = mod.lax.while_loop(cond_fun, body_fun, (x_guess, f(a, x_guess)))
    return x_star

  def fwd(f, a, x_init):
    x_star = fixed_point(f, a, x_init)
    return x_star, (a, x_star)

  def rev(f, res, x_star_bar):
    a, x_star = res
    _, vjp_a = mod.vjp(lambda a: f(a, x_star), a)
    a_bar, = vjp_a(fixed_point(functools.partial(rev_iter, f), (a, x_star, x_star_bar),
                               x_star_bar))
    return a_bar, np_.zeros_like(x_star)

  def rev_iter(f, packed, u):
    a, x_star, x_star_bar = packed
    _, vjp_x = mod.vjp(lambda x: f(a, x), x_star)
    return x_star_bar + vjp_x(u)[0]

  fixed_point.defvjp(fwd, rev)
  return lambda a: fixed_point(lambda a, x: 0.5 * (x + a / x), a, a)


def test_second_derivative_through_custom_vjp_rules_matches_jax():
  fr, fj = _fixed_point_program(rjax, jnp), _fixed_point_program(jax, jjnp)
  _same(fr(2.0), fj(2.0))
  _same(rjax.grad(fr)(2.0), jax.grad(fj)(2.0))
  _same(rjax.grad(rjax.grad(fr))(2.0), jax.grad(jax.grad(fj))(2.0), rtol=1e-5)
  _same(rjax.jit(rjax.grad(rjax.grad(fr)))(2.0), jax.jit(jax.grad(jax.grad(fj)))(2.0),
        rtol=1e-5)


def test_custom_jvp_rule_nested_under_grad_of_grad_runs_like_jax():
  calls = {}

  def build(mod, np_, tag):
    @mod.custom_jvp
    def f(x):
      calls[tag] = calls.get(tag, "") + "f"
      return np_.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
      calls[tag] = calls.get(tag, "") + "J"
      (x,), (t,) = primals, tangents
      return f(x), np_.cos(x) * t
    return f

  fr, fj = build(rjax, jnp, "r"), build(jax, jjnp, "j")
  _same(rjax.grad(rjax.grad(fr))(3.0), jax.grad(jax.grad(fj))(3.0))
  assert calls["r"] == calls["j"]


def test_custom_vjp_pytree_cotangents_keep_weak_types():
  from collections import namedtuple
  Point = namedtuple("Point", ["x", "y"])

  def build(mod, np_):
    @mod.custom_vjp
    def f(pt):
      return {"a": pt.x ** 2, "b": (np_.sin(pt.x), np_.cos(pt.y))}

    def fwd(pt):
      return f(pt), pt

    def bwd(pt, g):
      x_bar = 2 * pt.x * g["a"] + np_.cos(pt.x) * g["b"][0]
      return (Point(x_bar, -np_.sin(pt.y) * g["b"][1]),)

    f.defvjp(fwd, bwd)
    return lambda pt: f(pt)["a"] + f(pt)["b"][0]

  _same(rjax.grad(build(rjax, jnp))(Point(1.0, 2.0)), jax.grad(build(jax, jjnp))(Point(1.0, 2.0)))


def test_custom_vjp_jvp_error_is_jax_text():
  f = rjax.custom_vjp(lambda x: x * 2)
  f.defvjp(lambda x: (x * 2, None), lambda r, g: (g * 2,))
  with pytest.raises(TypeError, match=r"^can't apply forward-mode autodiff \(jvp\) to a "
                                      r"custom_vjp function\.$"):
    rjax.jvp(f, (1.0,), (1.0,))


def test_symbolic_zeros_match_jax():
  seen = {}

  def build(mod, cd, tag):
    @mod.custom_jvp
    def f(x, y):
      return x * y

    def f_jvp(primals, tangents):
      x, y = primals
      tx, ty = tangents
      seen[tag] = [type(t).__name__ for t in tangents]
      out_t = (0.0 if isinstance(tx, cd.SymbolicZero) else tx * y) + \
          (0.0 if isinstance(ty, cd.SymbolicZero) else x * ty)
      return f(x, y), out_t
    f.defjvp(f_jvp, symbolic_zeros=True)
    return f

  fr = build(rjax, custom_derivatives, "r")
  fj = build(jax, jax.custom_derivatives, "j")
  _same(rjax.grad(fr)(2.0, 3.0), jax.grad(fj)(2.0, 3.0))
  assert seen["r"][1] == seen["j"][1] == "SymbolicZero"
  _same(rjax.jvp(lambda x: fr(x, 3.0), (2.0,), (1.0,)),
        jax.jvp(lambda x: fj(x, 3.0), (2.0,), (1.0,)))


def test_custom_vjp_symbolic_zeros_and_primal_records_match_jax():
  seen = {}

  def build(mod, cd, tag):
    @mod.custom_vjp
    def f(x, y):
      return x * y

    def fwd(x, y):
      seen[tag] = (type(x).__name__, x.perturbed, y.perturbed)
      x, y = cd.custom_vjp_primal_tree_values((x, y))
      return x * y, (x, y)

    def bwd(res, g):
      x, y = res
      return g * y, g * x
    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f

  fr = build(rjax, custom_derivatives, "r")
  fj = build(jax, jax.custom_derivatives, "j")
  _same(rjax.grad(fr)(2.0, 3.0), jax.grad(fj)(2.0, 3.0))
  assert seen["r"] == seen["j"] == ("CustomVJPPrimal", True, False)
  z = custom_derivatives.zero_from_primal({"a": 1.0, "b": jnp.ones(2)}, symbolic_zeros=True)
  zj = jax.custom_derivatives.zero_from_primal({"a": 1.0, "b": jjnp.ones(2)},
                                               symbolic_zeros=True)
  assert [str(v.aval) for v in rjax.tree_util.tree_leaves(
      z, is_leaf=lambda v: isinstance(v, custom_derivatives.SymbolicZero))] == \
      [str(v.aval) for v in jax.tree_util.tree_leaves(
          zj, is_leaf=lambda v: isinstance(v, jax.custom_derivatives.SymbolicZero))]
  _same(custom_derivatives.zero_from_primal(jnp.ones(3)),
        jax.custom_derivatives.zero_from_primal(jjnp.ones(3)))


def test_closure_convert_hoists_differentiable_closures_like_jax():
  def build(mod, np_):
    def outer(w):
      def f(x):
        return np_.sin(x) * w + 1.0

      conv, consts = mod.closure_convert(f, 0.5)
      return conv(0.5, *consts), len(consts)
    return outer

  for mod, np_ in ((rjax, jnp), (jax, jjnp)):
    val, n = build(mod, np_)(2.0)        # w concrete: nothing hoisted
    assert n == 0 and float(val) == pytest.approx(np.sin(0.5) * 2 + 1, rel=1e-6)
  nr = rjax.grad(lambda w: build(rjax, jnp)(w)[0])(2.0)
  nj = jax.grad(lambda w: build(jax, jjnp)(w)[0])(2.0)
  _same(nr, nj)
  count = {}
  rjax.grad(lambda w: count.setdefault("r", build(rjax, jnp)(w)[1]) * 0.0 +
            build(rjax, jnp)(w)[0])(2.0)
  jax.grad(lambda w: count.setdefault("j", build(jax, jjnp)(w)[1]) * 0.0 +
           build(jax, jjnp)(w)[0])(2.0)
  assert count["r"] == count["j"] == 1
  conv, _ = rjax.closure_convert(lambda x: x * 2, 1.0)
  with pytest.raises(TypeError, match="same Pytree structure"):
    conv((1.0, 2.0))


def test_linear_call_matches_jax():
  def build(mod):
    cd = custom_derivatives if mod is rjax else jax.custom_derivatives

    def div_add(x, denom):
      return x + cd.linear_call(lambda r, x: x / r, lambda r, t: t / r, denom, x)

    def custom_id(x):
      return cd.linear_call(lambda _, x: x, lambda _, t: 7.0 * t, (), x)
    return div_add, custom_id

  (dr, ir), (dj, ij) = build(rjax), build(jax)

  def transpose(mod, f, x):
    return lambda y: mod.linear_transpose(f, x)(y)[0]

  _same(dr(9.0, 3.0), dj(9.0, 3.0))
  _same(transpose(rjax, functools.partial(dr, denom=3.0), 1.0)(18.0),
        transpose(jax, functools.partial(dj, denom=3.0), 1.0)(18.0))
  for k in range(1, 4):
    fr, fj = ir, ij
    for _ in range(k):
      fr, fj = transpose(rjax, fr, 1.0), transpose(jax, fj, 1.0)
    assert float(fr(1.0)) == float(fj(1.0))
  _same(rjax.grad(dr)(9.0, 3.0), jax.grad(dj)(9.0, 3.0))
  _same(rjax.jit(dr)(9.0, 3.0), jax.jit(dj)(9.0, 3.0))
  # JAX has no batching rule for linear_call (NotImplementedError); rjax
  # batches the function and its transpose: check against a Python loop.
  xs, ds = np.ones(3, np.float32), np.arange(1.0, 4.0, dtype=np.float32)
  with pytest.raises(NotImplementedError):
    jax.vmap(dj)(jjnp.asarray(xs), jjnp.asarray(ds))
  got = rjax.vmap(dr)(jnp.asarray(xs), jnp.asarray(ds))
  np.testing.assert_allclose(np.asarray(got), [float(dj(a, b)) for a, b in zip(xs, ds)],
                             rtol=1e-6)
  gt = rjax.vmap(lambda y, d: transpose(rjax, functools.partial(dr, denom=d), 1.0)(y))(
      jnp.asarray(ds), jnp.asarray(ds))
  np.testing.assert_allclose(np.asarray(gt), [float(transpose(jax, functools.partial(
      dj, denom=float(d)), 1.0)(float(d))) for d in ds], rtol=1e-6)


def test_custom_vmap_matches_jax():
  log = {}

  def build(mod, np_, cb, tag):
    @cb.custom_vmap
    def f(x, y):
      return np_.sin(x) * y

    @f.def_vmap
    def rule(axis_size, in_batched, xs, ys):
      log.setdefault(tag, []).append((axis_size, list(in_batched)))
      return np_.sin(xs) * ys, in_batched[0] or in_batched[1]
    return f

  fr = build(rjax, jnp, custom_batching, "r")
  fj = build(jax, jjnp, jax.custom_batching, "j")
  xs = np.linspace(0, 1, 4).astype(np.float32)
  _same(fr(1.0, 2.0), fj(1.0, 2.0))
  _same(rjax.vmap(fr, in_axes=(0, None))(jnp.asarray(xs), 2.0),
        jax.vmap(fj, in_axes=(0, None))(jjnp.asarray(xs), 2.0))
  _same(rjax.jit(rjax.vmap(fr))(jnp.asarray(xs), jnp.asarray(xs)),
        jax.jit(jax.vmap(fj))(jjnp.asarray(xs), jjnp.asarray(xs)))
  _same(rjax.jvp(fr, (1.0, 2.0), (1.0, 0.5)), jax.jvp(fj, (1.0, 2.0), (1.0, 0.5)))
  _same(rjax.vmap(lambda x: rjax.jvp(fr, (x, 2.0), (1.0, 0.0)))(jnp.asarray(xs)),
        jax.vmap(lambda x: jax.jvp(fj, (x, 2.0), (1.0, 0.0)))(jjnp.asarray(xs)))
  assert log["r"] == log["j"]


def test_custom_vmap_errors_match_jax():
  for cb, np_ in ((custom_batching, jnp), (jax.custom_batching, jjnp)):
    f = cb.custom_vmap(lambda x: x * 2)
    with pytest.raises(AttributeError, match="No batching rule"):
      f(1.0)
    f.def_vmap(lambda n, b, x: ((x * 2, x), (True, True)))
    with pytest.raises(ValueError, match="does not match that of original"):
      (rjax if cb is custom_batching else jax).vmap(f)(np_.ones(2))


def test_sequential_vmap_loops_like_jax():
  order = {}

  def build(mod, np_, cb, tag):
    @cb.sequential_vmap
    def f(x, y):
      mod.debug.callback(lambda v: order.setdefault(tag, []).append(float(v)), x)
      return x * 2.0 + y
    return f

  fr = build(rjax, jnp, custom_batching, "r")
  fj = build(jax, jjnp, jax.custom_batching, "j")
  xs = np.arange(3.0, dtype=np.float32)
  _same(rjax.vmap(fr, in_axes=(0, None))(jnp.asarray(xs), 1.0),
        jax.vmap(fj, in_axes=(0, None))(jjnp.asarray(xs), 1.0))
  rjax.effects_barrier()
  jax.effects_barrier()
  assert order["r"] == order["j"] == [0.0, 1.0, 2.0]
