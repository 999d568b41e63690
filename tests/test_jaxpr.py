"""make_jaxpr: JAX's textual format (golden strings produced by JAX 0.10.2),
the type checker, eval_jaxpr, eval_shape, and the tracer-misuse errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import errors, lax
from rjax._src import core


def _check(closed):
  core.typecheck_jaxpr(closed.jaxpr)
  return str(closed)


def test_golden_closure_constant():
  c = jnp.asarray(np.arange(3.0))
  assert _check(rjax.make_jaxpr(lambda x: x + c)(c)) == \
      "{ lambda a:f32[3]; b:f32[3]. let c:f32[3] = add b a in (c,) }"


def test_golden_promotion_and_literals():
  c = jnp.asarray(np.arange(3.0))
  assert _check(rjax.make_jaxpr(lambda x, y: (x, 1.0, x * y))(c, 2)) == (
      "{ lambda ; a:f32[3] b:i32[]. let\n"
      "    c:f32[] = convert_element_type[new_dtype=float32 weak_type=False] b\n"
      "    d:f32[3] = mul a c\n"
      "  in (a, 1.0:f32[], d) }")


def test_golden_chain():
  c = jnp.asarray(np.arange(3.0))
  assert _check(rjax.make_jaxpr(lambda x: jnp.tanh(x) * 2 + 1)(c)) == (
      "{ lambda ; a:f32[3]. let\n"
      "    b:f32[3] = tanh a\n"
      "    c:f32[3] = mul b 2.0:f32[]\n"
      "    d:f32[3] = add c 1.0:f32[]\n"
      "  in (d,) }")


def test_golden_identity_and_bool_literal():
  assert _check(rjax.make_jaxpr(lambda x: x)(1.0)) == "{ lambda ; a:f32[]. let  in (a,) }"
  b = jnp.asarray(np.array([True, False, True]))
  assert _check(rjax.make_jaxpr(lambda x: x == True)(b)) == (  # noqa: E712
      "{ lambda ; a:bool[3]. let b:bool[3] = eq a True:bool[] in (b,) }")


def test_golden_long_params_break_lines():
  x = jnp.asarray(np.ones((3, 4), np.float32))
  assert _check(rjax.make_jaxpr(lambda x: lax.convert_element_type(x, np.int32))(x)) == (
      "{ lambda ; a:f32[3,4]. let\n"
      "    b:i32[3,4] = convert_element_type[new_dtype=int32 weak_type=False] a\n"
      "  in (b,) }")


def test_pytrees_and_static_args():
  def f(d, n):
    return {"s": d["a"] * n, "t": [d["b"]]}
  x = jnp.asarray(np.ones(2, np.float32))
  closed = rjax.make_jaxpr(f, static_argnums=1)({"a": x, "b": x}, 3)
  assert len(closed.jaxpr.invars) == 2 and len(closed.jaxpr.outvars) == 2
  assert "mul a 3.0:f32[]" in str(closed)


@given(st.lists(st.sampled_from(["add", "mul", "sub", "tanh", "exp"]), min_size=1, max_size=6),
       st.integers(1, 5))
def test_eval_jaxpr_matches_direct_call(ops, n):
  def f(x, y):
    for op in ops:
      x = {"add": lambda: x + y, "mul": lambda: x * y, "sub": lambda: x - y,
           "tanh": lambda: jnp.tanh(x), "exp": lambda: jnp.exp(x * 0.1)}[op]()
    return x
  rng = np.random.default_rng(n)
  a = jnp.asarray(rng.standard_normal(n).astype(np.float32))
  b = jnp.asarray(rng.standard_normal(n).astype(np.float32))
  closed = rjax.make_jaxpr(f)(a, b)
  core.typecheck_jaxpr(closed.jaxpr)
  (out,) = core.eval_jaxpr(closed.jaxpr, closed.consts, a, b)
  np.testing.assert_allclose(np.asarray(out), np.asarray(f(a, b)), rtol=1e-6)


def test_eval_shape():
  x = jnp.asarray(np.ones((2, 3), np.float32))
  out = rjax.eval_shape(lambda x: {"a": x * 2, "b": x > 0}, x)
  assert out["a"] == rjax.ShapeDtypeStruct((2, 3), np.float32)
  assert out["b"].dtype == np.bool_


def test_tracer_misuse_errors():
  def branch(x):
    if x > 0:
      return x
    return -x
  with pytest.raises(errors.TracerBoolConversionError, match="lax.cond"):
    rjax.make_jaxpr(branch)(1.0)
  with pytest.raises(errors.TracerArrayConversionError):
    rjax.make_jaxpr(lambda x: np.asarray(x))(1.0)
  with pytest.raises(errors.TracerIntegerConversionError, match="static_argnums"):
    rjax.make_jaxpr(lambda x: [1, 2][x])(1)
  assert issubclass(errors.TracerBoolConversionError, TypeError)
  assert issubclass(errors.ConcretizationTypeError, TypeError)


def test_leaked_tracer():
  leak = []
  rjax.make_jaxpr(lambda x: leak.append(x) or x)(1.0)
  with pytest.raises(errors.UnexpectedTracerError, match="escape"):
    leak[0] + 1


def test_typecheck_catches_bad_jaxpr():
  closed = rjax.make_jaxpr(lambda x: x + 1.0)(1.0)
  closed.jaxpr.eqns[0].outvars[0].aval = core.ShapedArray((2,), np.float32)
  with pytest.raises(TypeError, match="typecheck"):
    core.typecheck_jaxpr(closed.jaxpr)


def test_errors_name_the_traced_argument():
  from rjax import errors

  def f(x, y):
    return x * y if x > 0 else y

  with pytest.raises(errors.TracerBoolConversionError,
                     match=r"tracing the function f for jit\. This value depends on the traced "
                           r"argument x\..*lax\.cond"):
    rjax.jit(f)(1.0, 2.0)
  # Outside jit, grad sees concrete values (as in JAX): the branch works.
  assert float(rjax.grad(f)(1.0, 2.0)) == 2.0
  assert float(rjax.grad(f, argnums=1)(1.0, 2.0)) == 1.0
  with pytest.raises(errors.ConcretizationTypeError, match=r"function f for jit.* argument x\b"):
    rjax.jit(rjax.grad(f))(1.0, 2.0)

  def g(params, n):
    return jnp.ones(int(params["w"])) * n

  # int(tracer) is a ConcretizationTypeError, as in JAX (a tracer used as an
  # index, through __index__, is a TracerIntegerConversionError)
  with pytest.raises(errors.ConcretizationTypeError,
                     match=r"function g for make_jaxpr\. This value depends on the traced "
                           r"argument params\['w'\]\..*static_argnums"):
    rjax.make_jaxpr(g)({"w": 1.0, "b": 2.0}, 3)
  with pytest.raises(errors.TracerBoolConversionError, match=r"function f for vmap.*argument x\."):
    rjax.vmap(f, in_axes=(0, None))(jnp.ones(3), 2.0)
  with pytest.raises(errors.TracerBoolConversionError, match=r"arguments a and b\."):
    rjax.jit(lambda a, b, c: f(a + b, c))(1.0, 2.0, 3.0)
  assert issubclass(errors.TracerBoolConversionError, TypeError)
  assert issubclass(errors.TracerIntegerConversionError, TypeError)
  assert issubclass(errors.TracerArrayConversionError, TypeError)


def test_traced_shape_is_a_concretization_error():
  from rjax import errors
  with pytest.raises(errors.ConcretizationTypeError, match=r"argument n\..*static_argnums"):
    rjax.jit(lambda x, n: jnp.ones(n) * x)(1.0, 3)
  np.testing.assert_array_equal(
      np.asarray(rjax.jit(lambda x, n: jnp.ones(n) * x, static_argnums=1)(2.0, 3)), [2, 2, 2])


def test_golden_transformations_match_jax():
  """The text JAX 0.10.2 prints for the same functions (its batching rules
  make NumPy-int broadcast_in_dim dims, printed as np.int64(1); ours too)."""
  f = lambda x: x ** 3 + 2 * x
  assert _check(rjax.make_jaxpr(rjax.grad(f))(2.0)) == (
      "{ lambda ; a:f32[]. let\n"
      "    b:f32[] = integer_pow[y=3] a\n"
      "    c:f32[] = integer_pow[y=2] a\n"
      "    d:f32[] = mul 3.0:f32[] c\n"
      "    e:f32[] = mul 2.0:f32[] a\n"
      "    _:f32[] = add b e\n"
      "    f:f32[] = mul 2.0:f32[] 1.0:f32[]\n"
      "    g:f32[] = mul 1.0:f32[] d\n"
      "    h:f32[] = add_any f g\n"
      "  in (h,) }")
  assert _check(rjax.make_jaxpr(lambda x: rjax.jvp(jnp.sin, (x,), (1.0,)))(2.0)) == (
      "{ lambda ; a:f32[]. let\n"
      "    b:f32[] = sin a\n"
      "    c:f32[] = cos a\n"
      "    d:f32[] = mul 1.0:f32[] c\n"
      "  in (b, d) }")
  vm = rjax.vmap(lambda x, y: jnp.tanh(x) * y, in_axes=(0, None))
  assert _check(rjax.make_jaxpr(vm)(jnp.ones((3, 2)), jnp.ones(2))) == (
      "{ lambda ; a:f32[3,2] b:f32[2]. let\n"
      "    c:f32[3,2] = tanh a\n"
      "    d:f32[1,2] = broadcast_in_dim[broadcast_dimensions=(np.int64(1),)] b\n"
      "    e:f32[3,2] = mul c d\n"
      "  in (e,) }")
  assert _check(rjax.make_jaxpr(rjax.grad(lambda x: jnp.sum(jnp.exp(x) * x)))(jnp.ones(3))) == (
      "{ lambda ; a:f32[3]. let\n"
      "    b:f32[3] = exp a\n"
      "    c:f32[3] = mul b a\n"
      "    _:f32[] = reduce_sum[axes=(0,) out_sharding=None] c\n"
      "    d:f32[3] = broadcast_in_dim 1.0:f32[]\n"
      "    e:f32[3] = mul b d\n"
      "    f:f32[3] = mul d a\n"
      "    g:f32[3] = mul f b\n"
      "    h:f32[3] = add_any e g\n"
      "  in (h,) }")
  assert _check(rjax.make_jaxpr(lambda x: (jnp.sin(x), x * 2)[1])(1.0)) == (
      "{ lambda ; a:f32[]. let _:f32[] = sin a; b:f32[] = mul a 2.0:f32[] in (b,) }")
