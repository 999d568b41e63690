"""The autodiff machinery (JVPTrace, linearize = JVP + partial evaluation,
transpose) on a few test-local primitives with hand-written rules. The real
primitives' rules are tested from the op tables; this checks the interpreters
themselves: nesting, symbolic zeros, pytrees, has_aux, error messages."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax._src import core
from rjax._src.interpreters import ad, lowering
from rjax._src.lax.lax import standard_binop, standard_unop


def _prim(make, name, op):
  p = make(f"_test_{name}", ("float",))
  core.primitives.pop(p.name)             # keep the rule-coverage test to real primitives
  lowering.register_standard(p, op_name=op)
  return p


tmul_p = _prim(standard_binop, "mul", "mul")
tadd_p = _prim(standard_binop, "add", "add")
texp_p = _prim(standard_unop, "exp", "exp")
tneg_p = _prim(standard_unop, "neg", "neg")
tnorule_p = _prim(standard_binop, "norule", "atan2")   # no JVP/transpose/batching rules


def tmul(x, y):
  return tmul_p.bind(x, y)


def tadd(x, y):
  return tadd_p.bind(x, y)


def texp(x):
  return texp_p.bind(x)


def tneg(x):
  return tneg_p.bind(x)


def _mul_transpose(ct, x, y):
  if ad.is_undefined_primal(x):
    return [tmul(ct, y), None]
  return [None, tmul(x, ct)]


ad.defjvp(tmul_p, lambda g, x, y: tmul(g, y), lambda g, x, y: tmul(x, g))
ad.primitive_transposes[tmul_p] = _mul_transpose
ad.deflinear(tadd_p, lambda ct, x, y: [ct, ct])
ad.deflinear(tneg_p, lambda ct, x: [tneg(ct)])
ad.defjvp2(texp_p, lambda g, ans, x: tmul(g, ans))


def f(x):                      # x^3 + 2x via the test primitives
  two = jnp.asarray(np.float32(2.0))
  return tadd(tmul(tmul(x, x), x), tmul(two, x))


def _arr(v):
  return jnp.asarray(np.float32(v))


def test_seed_example_derivatives():
  x = _arr(2.0)
  assert float(rjax.grad(f)(x)) == 14.0
  assert float(rjax.grad(rjax.grad(f))(x)) == 12.0
  assert float(rjax.grad(rjax.grad(rjax.grad(f)))(x)) == 6.0


@given(st.floats(-3, 3))
def test_jvp_vjp_linearize_agree_with_numerics(v):
  g = lambda x: tmul(texp(tneg(tmul(x, x))), x)          # x * exp(-x^2)
  x, t = _arr(v), _arr(1.0)
  primal, tangent = rjax.jvp(g, (x,), (t,))
  eps = 1e-3
  num = (np.float64(v + eps) * np.exp(-(v + eps) ** 2) - (v - eps) * np.exp(-(v - eps) ** 2)) / (2 * eps)
  np.testing.assert_allclose(float(tangent), num, rtol=1e-3, atol=1e-4)
  _, f_vjp = rjax.vjp(g, x)
  (ct,) = f_vjp(_arr(1.0))
  np.testing.assert_allclose(float(ct), float(tangent), rtol=1e-5, atol=1e-6)
  _, f_jvp = rjax.linearize(g, x)
  np.testing.assert_allclose(float(f_jvp(t)), float(tangent), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(float(primal), v * np.exp(-v * v), rtol=1e-5, atol=1e-6)


def test_pytrees_argnums_has_aux_and_zeros():
  def loss(params, x):
    return tmul(params["w"], x), {"note": 1}
  params = {"w": _arr(3.0), "unused": _arr(1.0)}
  (val, aux), g = rjax.value_and_grad(loss, has_aux=True)(params, _arr(5.0))
  assert float(val) == 15.0 and aux == {"note": 1}
  assert float(g["w"]) == 5.0 and float(g["unused"]) == 0.0     # symbolic zero, instantiated
  gx, gw = rjax.grad(lambda w, x: tmul(w, x), argnums=(1, 0))(_arr(3.0), _arr(5.0))
  assert (float(gx), float(gw)) == (3.0, 5.0)


def test_errors():
  with pytest.raises(TypeError, match="scalar-output"):
    rjax.grad(lambda x: x)(jnp.asarray(np.ones(3, np.float32)))
  with pytest.raises(TypeError, match="allow_int"):
    rjax.grad(lambda x: x)(jnp.asarray(np.int32(1)))
  with pytest.raises(NotImplementedError,
                     match="Differentiation rule for '_test_norule' not implemented"):
    rjax.grad(lambda x: tnorule_p.bind(x, x))(_arr(1.0))


def test_jvp_of_vjp_and_make_jaxpr_of_grad():
  x = _arr(1.5)
  # forward-over-reverse gives the second derivative: 6x
  _, t = rjax.jvp(rjax.grad(f), (x,), (_arr(1.0),))
  assert float(t) == pytest.approx(9.0)
  text = str(rjax.make_jaxpr(rjax.grad(f))(x))
  assert "_test_mul" in text and "_test_add" in text


# ---------------------------------------------------------------------------
# vmap machinery (with the test primitives' batching rules)

from rjax._src.interpreters import batching  # noqa: E402

batching.defbroadcasting(tmul_p)
batching.defbroadcasting(tadd_p)
batching.defvectorized(texp_p)
batching.defvectorized(tneg_p)


@given(st.integers(1, 4), st.integers(1, 3))
def test_vmap_matches_loop(n, m):
  rng = np.random.default_rng(n * 10 + m)
  xs = rng.standard_normal((n, m)).astype(np.float32)
  ys = rng.standard_normal(m).astype(np.float32)
  g = lambda x, y: tadd(tmul(texp(x), y), tneg(x))
  out = rjax.vmap(g, in_axes=(0, None))(jnp.asarray(xs), jnp.asarray(ys))
  ref = np.stack([np.exp(x) * ys - x for x in xs])
  np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-6)


def test_vmap_of_grad_and_pytrees():
  xs = jnp.asarray(np.arange(1.0, 4.0, dtype=np.float32))
  out = rjax.vmap(rjax.grad(f))(xs)            # d/dx (x^3 + 2x) = 3x^2 + 2
  np.testing.assert_allclose(np.asarray(out), 3 * np.arange(1.0, 4.0) ** 2 + 2)
  res = rjax.vmap(lambda d: {"s": tmul(d["a"], d["a"])}, in_axes=({"a": 0},))({"a": xs})
  np.testing.assert_allclose(np.asarray(res["s"]), np.arange(1.0, 4.0) ** 2)


def test_vmap_errors():
  a = jnp.asarray(np.ones(3, np.float32))
  b = jnp.asarray(np.ones(4, np.float32))
  with pytest.raises(ValueError, match="inconsistent sizes"):
    rjax.vmap(tmul)(a, b)
  with pytest.raises(ValueError, match="in_axes"):
    rjax.vmap(tmul, in_axes=(0,))(a, a)
  with pytest.raises(NotImplementedError, match="Batching rule for '_test_norule'"):
    rjax.vmap(lambda x: tnorule_p.bind(x, x))(a)


# ---------------------------------------------------------------------------
# jit composes with the transformations (first version: inlined under them)


def test_jit_compositions():
  x = _arr(2.0)
  jf = rjax.jit(f)
  assert float(jf(x)) == 12.0
  assert float(rjax.grad(jf)(x)) == 14.0
  assert float(rjax.jit(rjax.grad(f))(x)) == 14.0
  assert float(rjax.jit(rjax.grad(rjax.jit(f)))(x)) == 14.0
  _, t = rjax.jvp(jf, (x,), (_arr(1.0),))
  assert float(t) == 14.0
  xs = jnp.asarray(np.arange(1.0, 4.0, dtype=np.float32))
  np.testing.assert_allclose(np.asarray(rjax.vmap(jf)(xs)), np.arange(1.0, 4.0) ** 3 + 2 * np.arange(1.0, 4.0))
  np.testing.assert_allclose(np.asarray(rjax.jit(rjax.vmap(rjax.grad(f)))(xs)),
                             3 * np.arange(1.0, 4.0) ** 2 + 2)


# ---------------------------------------------------------------------------
# check_grads itself: accepts correct rules, rejects a wrong one

from rjax.test_util import check_grads  # noqa: E402
from util import enable_x64  # noqa: E402


def test_check_grads_accepts_correct_rules():
  with enable_x64():
    x = jnp.asarray(np.array([0.3, -1.2, 2.0]))
    y = jnp.asarray(np.array([1.5, 0.5, -0.7]))
    g = lambda a, b: tmul(texp(tneg(tmul(a, a))), b)
    check_grads(g, (x, y), order=2, modes=("fwd", "rev"))


def test_check_grads_rejects_a_wrong_rule():
  bad_p = _prim(standard_unop, "bad_exp", "exp")
  ad.defjvp(bad_p, lambda g, x: tmul(g, x))          # wrong: d/dx exp(x) is exp(x)
  ad.primitive_transposes[bad_p] = lambda ct, x: [ct]
  with enable_x64():
    x = jnp.asarray(np.array([0.3, 1.1]))
    with pytest.raises(AssertionError, match="numerical"):
      check_grads(lambda a: bad_p.bind(a), (x,), order=1, modes=("fwd",))


# ---------------------------------------------------------------------------
# custom_jvp, custom_vjp, stop_gradient


def test_custom_jvp_rule_is_used_under_grad_jvp_vmap():
  @rjax.custom_jvp
  def g(x):
    return texp(x)

  @g.defjvp
  def g_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return g(x), tmul(_arr(7.0), t)        # deliberately not exp: proves the rule is used

  x = _arr(0.5)
  assert float(g(x)) == pytest.approx(np.exp(0.5))
  assert float(rjax.grad(g)(x)) == 7.0
  assert float(rjax.jvp(g, (x,), (_arr(2.0),))[1]) == 14.0
  xs = jnp.asarray(np.array([0.1, 0.2], np.float32))
  np.testing.assert_allclose(np.asarray(rjax.vmap(rjax.grad(g))(xs)), [7.0, 7.0])
  np.testing.assert_allclose(np.asarray(rjax.vmap(g)(xs)), np.exp([0.1, 0.2]), rtol=1e-6)


def test_custom_jvp_defjvps_and_nondiff():
  @rjax.custom_jvp
  def h(x, y):
    return tmul(x, y)
  h.defjvps(lambda g, ans, x, y: tmul(g, y), lambda g, ans, x, y: tmul(x, g))
  assert float(rjax.grad(h, argnums=1)(_arr(3.0), _arr(4.0))) == 3.0

  from functools import partial

  @partial(rjax.custom_jvp, nondiff_argnums=(0,))
  def scale(k, x):
    return tmul(_arr(k), x)

  @scale.defjvp
  def scale_jvp(k, primals, tangents):
    return scale(k, primals[0]), tmul(_arr(k), tangents[0])

  assert float(rjax.grad(lambda x: scale(3.0, x))(_arr(1.0))) == 3.0


def test_custom_vjp_under_grad_and_vmap():
  @rjax.custom_vjp
  def clip_grad(x):
    return x

  def fwd(x):
    return x, None

  def bwd(res, ct):
    return (tmul(ct, _arr(0.5)),)

  clip_grad.defvjp(fwd, bwd)
  x = _arr(3.0)
  assert float(rjax.grad(lambda x: tmul(clip_grad(x), x))(x)) == pytest.approx(3.0 * 0.5 + 3.0)
  with pytest.raises(TypeError, match="forward-mode"):
    rjax.jvp(clip_grad, (x,), (_arr(1.0),))
  xs = jnp.asarray(np.array([1.0, 2.0], np.float32))
  np.testing.assert_allclose(np.asarray(rjax.vmap(rjax.grad(clip_grad))(xs)), [0.5, 0.5])


def test_custom_vjp_residuals():
  @rjax.custom_vjp
  def e(x):
    return texp(x)

  def fwd(x):
    y = texp(x)
    return y, y

  def bwd(y, ct):
    return (tmul(ct, y),)

  e.defvjp(fwd, bwd)
  x = _arr(0.3)
  assert float(rjax.grad(e)(x)) == pytest.approx(np.exp(0.3), rel=1e-6)
  assert float(rjax.grad(lambda x: tmul(e(x), e(x)))(x)) == pytest.approx(2 * np.exp(0.6), rel=1e-5)


def test_stop_gradient():
  g = rjax.grad(lambda x: tmul(rjax.lax.stop_gradient(tmul(x, x)), x))(_arr(3.0))
  assert float(g) == 9.0
  assert float(rjax.lax.stop_gradient(_arr(2.0))) == 2.0


def test_checkpoint_recomputes_and_agrees():
  calls = []

  def inner(x):
    calls.append(1)
    return texp(tmul(x, x))

  x = _arr(0.7)
  plain = rjax.grad(lambda x: tmul(inner(x), x))(x)
  calls.clear()
  ck = rjax.grad(lambda x: tmul(rjax.checkpoint(inner)(x), x))(x)
  assert float(ck) == pytest.approx(float(plain), rel=1e-6)
  # As in JAX, the function is traced once (to a remat2 jaxpr); the backward
  # pass recomputes from that jaxpr, not by calling Python again.
  assert len(calls) == 1
  _, t = rjax.jvp(rjax.checkpoint(inner), (x,), (_arr(1.0),))
  assert float(t) == pytest.approx(2 * 0.7 * np.exp(0.49), rel=1e-5)


def test_integer_inputs_get_float0_cotangents():
  g = rjax.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
  assert float(g[0]) == 3.0
  assert g[1].dtype == rjax.dtypes.float0 and g[1].shape == ()
  _, f_vjp = rjax.vjp(lambda x, b: x * 2, jnp.ones(2), jnp.array([True, False]))
  cx, cb = f_vjp(jnp.ones(2))
  np.testing.assert_array_equal(np.asarray(cx), [2.0, 2.0])
  assert cb.dtype == rjax.dtypes.float0 and cb.shape == (2,)
  with pytest.raises(TypeError, match="allow_int"):
    rjax.grad(lambda n: n * 2.0)(3)


def test_has_aux_returns_values_not_tracers_under_every_transformation():
  """aux leaves come back as the primal values: under jit they are the jit's
  outputs, and an outer grad still differentiates through them (as in JAX)."""
  import rjax
  import rjax.numpy as jnp
  from rjax._src import core

  def f(x):
    return jnp.sum(x ** 2), {"m": jnp.mean(x), "n": 3}

  x = jnp.arange(1.0, 4.0)
  cases = [(rjax.value_and_grad(f, has_aux=True), lambda o: o[0][1]),
           (rjax.jit(rjax.value_and_grad(f, has_aux=True)), lambda o: o[0][1]),
           (rjax.jit(rjax.grad(f, has_aux=True)), lambda o: o[1]),
           (lambda x: rjax.vjp(f, x, has_aux=True), lambda o: o[2]),
           (lambda x: rjax.jvp(f, (x,), (x,), has_aux=True), lambda o: o[2]),
           (rjax.jacrev(f, has_aux=True), lambda o: o[1]),
           (rjax.jacfwd(f, has_aux=True), lambda o: o[1])]
  for fn, get_aux in cases:
    out = fn(x)
    aux = get_aux(out)
    for leaf in rjax.tree_util.tree_leaves(aux):
      assert not isinstance(leaf, core.Tracer), out
    assert float(aux["m"]) == 2.0 and int(aux["n"]) == 3
  g = rjax.grad(lambda x: rjax.grad(f, has_aux=True)(x)[1]["m"] * x.sum())(x)
  np.testing.assert_allclose(np.asarray(g), np.full(3, 6.0 / 3 + 2.0), rtol=1e-6)
