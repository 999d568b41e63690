"""``rjax.extend`` and the primitive objects (issue #14): a custom
interpreter written against ``rjax.extend.core`` runs on rjax's jaxprs as it
runs on JAX's, the ``lax.*_p`` objects carry JAX's names, the jaxpr types
print as JAX prints them, and a user-defined ``Primitive`` binds eagerly
and under tracing."""
import jax
import jax.extend.core as jcore
import jax.numpy as jjnp
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.extend import core
from rjax._src.util import safe_map, safe_zip


def _inverse_interpreter(mod, ext, np_, lax_):
  """An inverting interpreter in the style of JAX's custom-interpreter
  tutorial (our own code): exp <-> log, tanh <-> arctanh, reading the jaxpr
  backwards."""
  registry = {lax_.exp_p: np_.log, lax_.tanh_p: np_.arctanh}

  def inverse_jaxpr(jaxpr, consts, *args):
    env = {}

    def read(v):
      return v.val if type(v) is ext.Literal else env[v]

    def write(v, val):
      env[v] = val

    safe_map(write, jaxpr.outvars, args)
    safe_map(write, jaxpr.constvars, consts)
    for eqn in jaxpr.eqns[::-1]:
      invals = safe_map(read, eqn.outvars)
      if eqn.primitive not in registry:
        raise NotImplementedError(f"{eqn.primitive} has no inverse")
      safe_map(write, eqn.invars, [registry[eqn.primitive](*invals)])
    return safe_map(read, jaxpr.invars)

  def inverse(fun):
    def wrapped(*args):
      closed = mod.make_jaxpr(fun)(*args)
      return inverse_jaxpr(closed.jaxpr, closed.literals, *args)[0]
    return wrapped

  return inverse


def test_custom_interpreter_runs_like_on_jax():
  f_r = lambda x: jnp.exp(jnp.tanh(x))      # noqa: E731
  f_j = lambda x: jjnp.exp(jjnp.tanh(x))    # noqa: E731
  inv_r = _inverse_interpreter(rjax, core, jnp, lax)(f_r)
  inv_j = _inverse_interpreter(jax, jcore, jjnp, jax.lax)(f_j)
  assert float(inv_r(f_r(1.0))) == pytest.approx(1.0, rel=1e-5)
  xs = (np.arange(5, dtype=np.float32) + 1.0) / 5.0
  got = rjax.jit(rjax.vmap(rjax.grad(inv_r)))(jnp.asarray(xs))
  want = jax.jit(jax.vmap(jax.grad(inv_j)))(jjnp.asarray(xs))
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5)
  assert str(rjax.make_jaxpr(inv_r)(f_r(1.0))) == str(jax.make_jaxpr(inv_j)(f_j(1.0)))


def test_jaxpr_objects_have_jax_names_and_reprs():
  closed = rjax.make_jaxpr(lambda x: jnp.exp(jnp.tanh(x)) + 1.0)(jnp.ones(5))
  closed_j = jax.make_jaxpr(lambda x: jjnp.exp(jjnp.tanh(x)) + 1.0)(jjnp.ones(5))
  assert isinstance(closed, core.ClosedJaxpr) and closed.literals == closed.consts == []
  j, jj = closed.jaxpr, closed_j.jaxpr
  strip = lambda s: __import__("re").sub(r"id=\d+", "id=#", s)   # noqa: E731
  assert strip(repr(j.invars)) == strip(repr(jj.invars))
  assert [e.primitive.name for e in j.eqns] == [e.primitive.name for e in jj.eqns]
  lit = [v for v in j.eqns[-1].invars if type(v) is core.Literal][0]
  lit_j = [v for v in jj.eqns[-1].invars if type(v) is jcore.Literal][0]
  assert repr(lit) == repr(lit_j)
  ints = rjax.make_jaxpr(lambda x: x + 1)(5).eqns[0].invars[1]
  ints_j = jax.make_jaxpr(lambda x: x + 1)(5).eqns[0].invars[1]
  assert repr(ints) == repr(ints_j)
  assert float(core.jaxpr_as_fun(closed)(jnp.zeros(5))[0][0]) == pytest.approx(2.0)


def test_lax_primitive_objects_have_jax_names():
  names = [n for n in dir(lax) if n.endswith("_p")]
  assert len(names) > 100
  for n in names:
    p = getattr(lax, n)
    assert p.name.replace("-", "_") + "_p" == n or (p.name, n) == ("custom_linear_solve",
                                                                   "linear_solve_p")
    assert n in dir(jax.lax) or n in dir(jcore.primitives), n
  assert lax.exp_p is core.primitives.exp_p
  assert lax.scatter_add_p.name == "scatter-add" == jax.lax.scatter_add_p.name
  assert lax.linear_solve_p.name == "custom_linear_solve" == jax.lax.linear_solve_p.name


def test_a_user_primitive_binds_eagerly_and_traced():
  twice_p = core.Primitive("twice")
  twice_p.def_impl(lambda x: x * 2)
  twice_p.def_abstract_eval(lambda x: x)
  assert float(twice_p.bind(jnp.float32(3.0))) == 6.0
  closed = rjax.make_jaxpr(lambda x: twice_p.bind(x) + 1.0)(1.0)
  assert [e.primitive.name for e in closed.eqns] == ["twice", "add"]
  eqn = core.new_jaxpr_eqn(closed.jaxpr.eqns[0].invars, closed.jaxpr.eqns[0].outvars, twice_p,
                           {}, set())
  assert eqn.primitive is twice_p
  core.check_jaxpr(closed.jaxpr)


def test_safe_map_and_zip_check_lengths():
  assert safe_map(lambda a, b: a + b, [1, 2], [3, 4]) == [4, 6]
  assert safe_zip([1, 2], "ab") == [(1, "a"), (2, "b")]
  with pytest.raises(ValueError, match="length mismatch"):
    safe_map(lambda a, b: a, [1], [1, 2])
