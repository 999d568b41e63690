"""rjax.experimental.checkify against jax.experimental.checkify: the same
error messages (or None) and outputs for user, NaN, division and index
checks, eagerly and under jit/vmap/grad and through cond/scan/while."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from jax.experimental import checkify as jcheckify

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.experimental import checkify


def _pair(build):
  """build(ck, np_, lax_, transform) -> function; the rjax and JAX versions."""
  return (build(checkify, jnp, lax), build(jcheckify, jjnp, jax.lax))


def _f_all(ck, np_, lax_):
  def f(x, i):
    ck.check(x[0] > 0, "x0 must be positive, got {}", x[0])
    y = np_.log(x)
    return x[i] / y.sum()
  return f


def _f_loop(ck, np_, lax_):
  return lambda x: lax_.fori_loop(0, 4, lambda i, c: (ck.check(c < 2.5, "c big {c}", c=c),
                                                      c + 1.)[1], x)


def _f_cond(ck, np_, lax_):
  return lambda x: lax_.cond(x > 0, lambda: (ck.check(x < 5, "lt5 {}", x), x * 2)[1],
                             lambda: -x)


def _f_while(ck, np_, lax_):
  return lambda x: lax_.while_loop(lambda c: c < 6.,
                                   lambda c: (ck.check(c < x, "w {} {}", c, x), c + 1.)[1], 0.)


def _f_div(ck, np_, lax_):
  return lambda x: (x // np_.array([1, 0, 2]), 1. / x.astype(np.float32))


def _f_index(ck, np_, lax_):
  return lambda x: (x[np_.array([2, 7, -9])], lax_.dynamic_slice(x, (4,), (2,)),
                    x.at[np_.array([9])].set(1))


CASES = [
    ("all", _f_all, "all_checks", [(np.array([1., -1.], np.float32), 1),
                                   (np.array([-1., 2.], np.float32), 0),
                                   (np.array([1., 2.], np.float32), 1)]),
    ("user_only", _f_all, "user_checks", [(np.array([-1., 2.], np.float32), 0),
                                          (np.array([1., -2.], np.float32), 1)]),
    ("nan_only", _f_all, "nan_checks", [(np.array([1., -2.], np.float32), 1)]),
    ("loop", _f_loop, "user_checks", [(np.float32(0.),), (np.float32(-3.),)]),
    ("cond", _f_cond, "user_checks", [(np.float32(7.),), (np.float32(2.),),
                                      (np.float32(-1.),)]),
    ("while", _f_while, "user_checks", [(np.float32(3.),), (np.float32(9.),)]),
    ("div", _f_div, "div_checks", [(np.array([1, 2, 3], np.int32),),
                                   (np.array([0, 2, 3], np.int32),)]),
    ("index", _f_index, "index_checks", [(np.arange(5, dtype=np.int32),)]),
]


def _same(r_out, j_out):
  for a, b in zip(rjax.tree.leaves(r_out), jax.tree.leaves(j_out)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name,build,errors,inputs", CASES, ids=[c[0] for c in CASES])
def test_matches_jax(name, build, errors, inputs):
  rf, jf = _pair(build)
  rc = checkify.checkify(rf, errors=getattr(checkify, errors))
  jc = jcheckify.checkify(jf, errors=getattr(jcheckify, errors))
  for args in inputs:
    args_r = [jnp.asarray(a) if isinstance(a, (np.ndarray, np.generic)) else a for a in args]
    args_j = [jjnp.asarray(a) if isinstance(a, (np.ndarray, np.generic)) else a for a in args]
    r_err, r_out = rc(*args_r)
    j_err, j_out = jc(*args_j)
    assert r_err.get() == j_err.get(), (args, r_err.get(), j_err.get())
    if name != "index":          # out-of-bounds results follow each library's clamping
      _same(r_out, j_out)
    jr_err, _ = rjax.jit(rc)(*args_r)
    assert jr_err.get() == j_err.get()
    if j_err.get() is None:
      r_err.throw()
      assert r_err.get_exception() is None
    else:
      with pytest.raises(checkify.JaxRuntimeError):
        r_err.throw()
      assert isinstance(r_err.get_exception(), Exception)


def test_vmap_and_grad_match_jax():
  def build(ck, np_, lax_):
    return lambda x: (ck.check(x > 0, "pos {}", x), np_.sin(x))[1]
  rf, jf = _pair(build)
  xs = np.array([1., -2., 3., -4.], np.float32)
  r_err, r_out = rjax.vmap(checkify.checkify(rf))(xs)
  j_err, j_out = jax.vmap(jcheckify.checkify(jf))(xs)
  assert r_err.get() == j_err.get()
  _same(r_out, j_out)
  r_err, r_g = checkify.checkify(rjax.grad(rf))(np.float32(-1.))
  j_err, j_g = jcheckify.checkify(jax.grad(jf))(np.float32(-1.))
  assert r_err.get() == j_err.get()
  _same(r_g, j_g)
  r_err, _ = rjax.jit(rjax.vmap(checkify.checkify(rf)))(xs)
  assert r_err.get() == j_err.get() or "at mapped index 1" in r_err.get()


def test_check_outside_checkify_matches_jax():
  with pytest.raises(TypeError):
    checkify.check(False, "bad {x}", x=1)
  with pytest.raises(TypeError):
    jcheckify.check(False, "bad {x}", x=1)
  assert checkify.check(True, "fine") is None
  with pytest.raises(checkify.JaxRuntimeError, match="bad 3"):
    checkify.check(jnp.asarray(False), "bad {}", jnp.asarray(3))
  with pytest.raises(ValueError, match="not functionalized"):
    rjax.jit(lambda x: checkify.check(x > 0, "neg"))(1.)
  with pytest.raises(ValueError, match="not functionalized"):
    jax.jit(lambda x: jcheckify.check(x > 0, "neg"))(1.)
  assert checkify.debug_check(False, "ignored") is None
  err, _ = checkify.checkify(lambda x: (checkify.debug_check(x > 0, "dbg {}", x), x)[1])(-1.)
  assert err.get() == "dbg -1.0 (`check` failed)"


def test_error_sets_and_init_error():
  assert checkify.float_checks == checkify.nan_checks | checkify.div_checks
  assert checkify.automatic_checks == checkify.float_checks | checkify.index_checks
  assert checkify.all_checks == checkify.automatic_checks | checkify.user_checks
  assert {c.__name__ for c in checkify.all_checks} == {c.__name__ for c in jcheckify.all_checks}
  assert checkify.init_error.get() is None and str(checkify.init_error) == "Error(None)"
  div_err, _ = checkify.checkify(lambda x: x // 0, errors=checkify.div_checks)(jnp.arange(2))
  with pytest.raises(checkify.JaxRuntimeError, match="division by zero"):
    checkify.check_error(div_err)
  err, _ = checkify.checkify(lambda: checkify.check_error(div_err))()
  assert err.get() == "division by zero"
  leaves, treedef = rjax.tree.flatten(div_err)
  assert rjax.tree.unflatten(treedef, leaves).get() == "division by zero"
  with pytest.raises(TypeError):
    checkify.checkify(lambda x: x, errors={int})
