"""Transformations on concrete values (issue #14, section 1): outside jit,
grad/jvp/vjp/linearize/jacfwd/jacrev/hessian evaluate the primal on concrete
values, so Python control flow on primal values works, as in JAX; vmap too
when the condition is unbatched. Every program runs on JAX as well and the
values (and weak types) must agree. Under jit everything stays abstract
with the same errors as before."""
import functools

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import errors
from rjax._src.interpreters import ad

# ---------------------------------------------------------------------------
# Programs with Python control flow on primal values, written once against a
# numpy-like module ``np_`` and a lax-like module ``lax_``.


def branch(np_, x):
  if x > 0:
    return x * x
  return -x


def newton_sqrt(np_, a):
  a = a * a + 1.0         # positive, so the iteration converges
  x, err = a, 1.0
  while err > 1e-6:       # a while loop on a value
    nx = 0.5 * (x + a / x)
    err = abs(float(np_.asarray(nx - x).item()))  # item() on a differentiated value
    x = nx
  return x


def power_recursive(np_, x, n=5):
  if n == 0:
    return np_.ones_like(x)
  if x < 10:            # recursion steered by the value
    return x * power_recursive(np_, x, n - 1)
  return x


def piecewise_vec(np_, x):
  total = 0.0
  for v in x:             # iterating a differentiated vector
    total = total + (np_.sin(v) if v > 0 else v ** 3)
  return total


def int_index(np_, x):
  k = int(np_.floor(x[0]).astype(np_.int32)) % 3   # int() of a differentiated value
  return x[k] * x[2 - k] + np_.sum(x[: k + 1])


def nested_loops(np_, x):
  y = x
  i = 0
  while np_.sum(y) < 20.0 and i < 10:
    if np_.max(y) > 2.0:
      y = y * 1.5
    else:
      y = y + np_.exp(y)
    i += 1
  return np_.sum(y * y)


SCALAR_PROGRAMS = [branch, newton_sqrt, power_recursive]
VECTOR_PROGRAMS = [piecewise_vec, int_index, nested_loops]


def _both(prog):
  return functools.partial(prog, jnp), functools.partial(prog, jjnp)


def _close(a, b, rtol=2e-5):
  la, lb = rjax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(la) == len(lb)
  for x, y in zip(la, lb):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-6)
    assert np.asarray(x).dtype == np.asarray(y).dtype


@pytest.mark.parametrize("prog", SCALAR_PROGRAMS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("x", [2.0, -1.5, 0.7, 12.0])
def test_scalar_control_flow_matches_jax(prog, x):
  fr, fj = _both(prog)
  _close(rjax.grad(fr)(x), jax.grad(fj)(x))
  _close(rjax.value_and_grad(fr)(x), jax.value_and_grad(fj)(x))
  _close(rjax.jvp(fr, (x,), (1.0,)), jax.jvp(fj, (x,), (1.0,)))
  _close(rjax.jacfwd(fr)(x), jax.jacfwd(fj)(x))
  _close(rjax.jacrev(fr)(x), jax.jacrev(fj)(x))
  _close(rjax.hessian(fr)(x), jax.hessian(fj)(x), rtol=1e-4)
  yr, lr = rjax.linearize(fr, x)
  yj, lj = jax.linearize(fj, x)
  _close((yr, lr(2.0)), (yj, lj(2.0)))
  yr, vr = rjax.vjp(fr, x)
  yj, vj = jax.vjp(fj, x)
  _close(vr(3.0), vj(3.0))


def test_scalar_results_keep_jax_weak_types():
  fr, fj = _both(branch)
  for x in (2.0, np.float32(2.0)):
    for tr, tj in [(rjax.grad, jax.grad), (rjax.jacfwd, jax.jacfwd), (rjax.jacrev, jax.jacrev),
                   (rjax.hessian, jax.hessian)]:
      assert tr(fr)(x).weak_type == tj(fj)(x).weak_type, (tr.__name__, type(x))
  assert rjax.jvp(fr, (2.0,), (np.float32(1.0),))[1].weak_type == \
      jax.jvp(fj, (2.0,), (np.float32(1.0),))[1].weak_type


@pytest.mark.parametrize("prog", VECTOR_PROGRAMS, ids=lambda p: p.__name__)
@given(seed=st.integers(0, 2**16))
def test_vector_control_flow_matches_jax(prog, seed):
  x = np.random.default_rng(seed).uniform(-2.0, 3.0, 3).astype(np.float32)
  fr, fj = _both(prog)
  xr, xj = jnp.asarray(x), jjnp.asarray(x)
  _close(rjax.grad(fr)(xr), jax.grad(fj)(xj), rtol=1e-4)
  _close(rjax.jacfwd(fr)(xr), jax.jacfwd(fj)(xj), rtol=1e-4)
  _close(rjax.jacrev(fr)(xr), jax.jacrev(fj)(xj), rtol=1e-4)
  _close(rjax.hessian(fr)(xr), jax.hessian(fj)(xj), rtol=2e-4)
  t = np.ones(3, np.float32)
  _close(rjax.jvp(fr, (xr,), (jnp.asarray(t),)), jax.jvp(fj, (xj,), (jjnp.asarray(t),)),
         rtol=1e-4)


def test_vmap_with_unbatched_condition_matches_jax():
  def f(np_, x, flag, n):
    out = x
    for _ in range(int(n)):          # n is an unbatched Python-level count
      out = np_.sin(out) if flag > 0 else np_.cos(out)
    return out

  xs = np.linspace(-1, 1, 5).astype(np.float32)
  for flag in (1.0, -1.0):
    r = rjax.vmap(functools.partial(f, jnp), in_axes=(0, None, None))(jnp.asarray(xs), flag, 3)
    j = jax.vmap(functools.partial(f, jjnp), in_axes=(0, None, None))(jjnp.asarray(xs), flag, 3)
    _close(r, j)
    g = rjax.vmap(rjax.grad(functools.partial(f, jnp)), in_axes=(0, None, None))
    gj = jax.vmap(jax.grad(functools.partial(f, jjnp)), in_axes=(0, None, None))
    _close(g(jnp.asarray(xs), flag, 2), gj(jjnp.asarray(xs), flag, 2))


def test_vmap_with_batched_condition_raises_jax_error():
  def f(np_, x):
    return x if x > 0 else -x
  with pytest.raises(jax.errors.TracerBoolConversionError):
    jax.vmap(functools.partial(f, jjnp))(jjnp.ones(3))
  with pytest.raises(errors.TracerBoolConversionError, match="for vmap"):
    rjax.vmap(functools.partial(f, jnp))(jnp.ones(3))


def test_under_jit_everything_stays_abstract_with_the_old_errors():
  fr = functools.partial(branch, jnp)
  with pytest.raises(errors.TracerBoolConversionError,
                     match=r"function branch for jit.*depends on the traced argument x.*lax\.cond"):
    rjax.jit(fr)(2.0)
  # a grad inside jit: the primal is a jit tracer, so it is abstract too
  with pytest.raises(errors.TracerBoolConversionError, match=r"for jit"):
    rjax.jit(rjax.grad(fr))(2.0)
  with pytest.raises(errors.TracerBoolConversionError):
    rjax.make_jaxpr(rjax.grad(fr))(2.0)
  # and jit inside grad is traced abstractly as well (as in JAX)
  with pytest.raises(errors.TracerBoolConversionError):
    rjax.grad(rjax.jit(fr))(2.0)
  with pytest.raises(jax.errors.TracerBoolConversionError):
    jax.grad(jax.jit(functools.partial(branch, jjnp)))(2.0)


CONVERSIONS = {
    "float": lambda x: float(x),
    "int": lambda x: int(x),
    "bool": lambda x: bool(x),
    "item": lambda x: x.item(),
    "tolist": lambda x: x.tolist(),
    "index": lambda x: [1, 2, 3][x.astype("int32")],
    "hex": lambda x: hex(x.astype("int32")),
    "complex": lambda x: complex(x),
    "asarray": lambda x: np.asarray(x),
}


def _outcome(transform, conv, mod):
  def f(x):
    try:
      conv(x)
      res = "ok"
    except Exception as e:  # noqa: BLE001  (the exception type is the result)
      res = type(e).__name__
    seen.append(res)
    return x * 2.0
  seen = []
  x = mod.numpy.asarray(1.0, dtype="float32")
  if transform == "vmap_unbatched":
    mod.vmap(f, in_axes=None, axis_size=2)(x)
  elif transform == "vmap_batched":
    mod.vmap(f)(mod.numpy.ones(2))
  elif transform == "jvp":
    mod.jvp(f, (x,), (x,))
  else:
    getattr(mod, transform)(f)(x)
  return seen[0]


@pytest.mark.parametrize("transform", ["grad", "jit", "jacfwd", "jacrev", "jvp",
                                       "vmap_unbatched", "vmap_batched"])
@pytest.mark.parametrize("conv", sorted(CONVERSIONS))
def test_conversions_of_traced_values_match_jax(transform, conv):
  """Which conversions concretize under which transformation (JAX 0.10.2:
  bool/int/item/index do under grad and jvp; float and complex never do)."""
  r = _outcome(transform, CONVERSIONS[conv], rjax)
  j = _outcome(transform, CONVERSIONS[conv], jax)
  r = {"AttributeError": "AttributeError"}.get(r, r)
  assert r == j, (transform, conv, r, j)


def test_print_inside_transformations_shows_jax_reprs():
  got = {}

  def probe(name):
    def f(x):
      got.setdefault(name, []).append(repr(x))
      return x * x
    return f

  for mod, tag in ((rjax, "r"), (jax, "j")):
    mod.grad(probe(tag + "grad"))(2.0)
    mod.jvp(probe(tag + "jvp"), (2.0,), (1.0,))
    mod.jit(probe(tag + "jit"))(2.0)
    mod.jit(probe(tag + "jits"))(mod.numpy.ones(3))
    mod.vmap(probe(tag + "vmap"))(mod.numpy.ones(2))
    mod.linearize(probe(tag + "lin"), 2.0)
    mod.jacfwd(probe(tag + "jacfwd"))(2.0)
  for k in ("grad", "jvp", "jit", "jits", "vmap", "lin", "jacfwd"):
    assert got["r" + k] == got["j" + k], (k, got["r" + k], got["j" + k])


def test_float0_tangents_and_dtype_checks_match_jax():
  out_r = rjax.jvp(lambda n: n * 2, (3,), (np.zeros((), rjax.dtypes.float0),))
  out_j = jax.jvp(lambda n: n * 2, (3,), (np.zeros((), jax.dtypes.float0),))
  assert int(out_r[0]) == int(out_j[0]) and out_r[1].dtype == out_j[1].dtype
  for bad in [((3,), (1,)), ((2.0,), (1,))]:
    with pytest.raises(TypeError):
      jax.jvp(lambda x: x * 2, *bad)
    with pytest.raises(TypeError, match="jvp: primal and tangent arguments must have equal"):
      rjax.jvp(lambda x: x * 2, *bad)


# ---------------------------------------------------------------------------
# The backward pass as one Program


def _mlp(np_, params, x):
  h = x
  for w, b in params:
    h = np_.tanh(h @ w + b)
  return np_.sum(h * h)


def test_backward_pass_compiles_once_and_agrees_with_op_by_op():
  rng = np.random.default_rng(0)
  ps = [(rng.standard_normal((4, 5)).astype(np.float32), np.zeros(5, np.float32)),
        (rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32))]
  x = rng.standard_normal((2, 4)).astype(np.float32)
  pr = [(jnp.asarray(w), jnp.asarray(b)) for w, b in ps]
  rjax.clear_caches()
  f = functools.partial(_mlp, jnp)
  grads = [rjax.grad(f)(pr, jnp.asarray(x)) for _ in range(3)]
  assert len(ad._bwd_cache) == 1        # compiled at the second call, reused at the third
  want = jax.grad(functools.partial(_mlp, jjnp))([(jjnp.asarray(w), jjnp.asarray(b))
                                                  for w, b in ps], jjnp.asarray(x))
  for g in grads:
    _close(g, want, rtol=1e-5)
  # op by op (the first call) and compiled (the others) give the same numbers
  for a, b in zip(rjax.tree_util.tree_leaves(grads[0]), rjax.tree_util.tree_leaves(grads[2])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_backward_pass_with_python_rules_stays_op_by_op():
  """A custom_vjp bwd sees concrete residuals (Python control flow on them
  works), so a backward pass holding one is never compiled."""
  @rjax.custom_vjp
  def f(x):
    return x * 2.0

  def fwd(x):
    return f(x), x

  def bwd(x, g):
    return (g * (3.0 if float(np.asarray(x)) > 0 else -3.0),)

  f.defvjp(fwd, bwd)
  rjax.clear_caches()
  for v, want in [(1.0, 3.0), (1.0, 3.0), (-1.0, -3.0), (1.0, 3.0)]:
    assert float(rjax.grad(f)(v)) == want
  assert not ad._bwd_cache


def test_vjp_pullback_is_a_pytree_of_residuals():
  x = jnp.asarray(np.array([0.5, 1.0], np.float32))
  _, f_vjp = rjax.vjp(lambda v: jnp.sin(v) * v, x)
  _, j_vjp = jax.vjp(lambda v: jjnp.sin(v) * v, jjnp.asarray(np.array([0.5, 1.0], np.float32)))
  leaves, tree = rjax.tree_util.tree_flatten(f_vjp)
  assert len(leaves) == len(jax.tree_util.tree_leaves(j_vjp))
  rebuilt = rjax.tree_util.tree_unflatten(tree, leaves)
  _close(rebuilt(jnp.ones(2)), j_vjp(jjnp.ones(2)))
  # rebuilt from abstract residuals inside make_jaxpr: the backward pass as a jaxpr
  closed = rjax.make_jaxpr(lambda *r: rjax.tree_util.tree_unflatten(tree, r[:-1])(r[-1]))(
      *leaves, jnp.ones(2))
  assert [e.primitive.name for e in closed.eqns].count("mul") >= 2


def test_linearize_jvp_compiles_once_and_takes_has_aux():
  rjax.clear_caches()
  f = lambda np_, x: (np_.sin(x) * np_.cos(x), {"n": 3})   # noqa: E731
  y, f_jvp, aux = rjax.linearize(functools.partial(f, jnp), jnp.arange(3.0), has_aux=True)
  yj, j_jvp, auxj = jax.linearize(functools.partial(f, jjnp), jjnp.arange(3.0), has_aux=True)
  assert aux == auxj == {"n": 3}
  outs = [f_jvp(jnp.ones(3)) for _ in range(3)]
  assert len(ad._bwd_cache) == 1
  for o in outs:
    _close(o, j_jvp(jjnp.ones(3)))
