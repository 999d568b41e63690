"""make_jaxpr prints what JAX prints, compared against JAX itself: the
products' preferred_element_type, dot_general's list-style dimension numbers,
host-converted scalar literals, jnp.array of traced values, and the batching
rules' NumPy-int parameters (JAX's own programs print these jaxprs: the kernel
least-squares example, the custom-interpreter and gotchas notebooks)."""
import itertools

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp


def _both(build, *args):
  """``build(api, np_module)`` -> function; its jaxpr text under rjax and JAX."""
  r = str(rjax.make_jaxpr(build(rjax, jnp))(*[jnp.asarray(a) if isinstance(a, np.ndarray)
                                               else a for a in args]))
  j = str(jax.make_jaxpr(build(jax, jjnp))(*[jjnp.asarray(a) if isinstance(a, np.ndarray)
                                             else a for a in args]))
  return r, j


M34 = np.ones((3, 4), np.float32)
M45 = np.ones((4, 5), np.float32)
V4 = np.ones(4, np.float32)
XS = np.ones((6, 3), np.float32)

CASES = {
    "dot": (lambda api, np_: np_.dot, M34, M45),
    "dot_vec_mat": (lambda api, np_: np_.dot, V4, M45),
    "dot_mixed_dtypes": (lambda api, np_: np_.dot, M34.astype(np.int32), M45),
    "dot_python_scalars": (lambda api, np_: np_.dot, 3.0, 2),
    "dot_bf16_pet": (lambda api, np_: lambda a: np_.dot(a, a, preferred_element_type=np_.float32),
                     np.ones((2, 2), np.float32)),
    "matmul": (lambda api, np_: np_.matmul, M34, M45),
    "matmul_vec": (lambda api, np_: np_.matmul, V4, M45),
    "matmul_batch_bcast": (lambda api, np_: np_.matmul, np.ones((2, 1, 3, 4), np.float32),
                           np.ones((3, 4, 5), np.float32)),
    "tensordot": (lambda api, np_: lambda a, b: np_.tensordot(a, b, 1), M34, M45),
    "grad_of_dot": (lambda api, np_: api.grad(lambda a: np_.dot(a, np_.ones((4, 5))).sum()), M34),
    "vmap_dot": (lambda api, np_: api.vmap(np_.dot), M34, M34),
    "gram_linear": (lambda api, np_: lambda xs: api.vmap(
        lambda x: api.vmap(lambda y: np_.dot(x, y))(xs))(xs), XS),
    "gram_rbf": (lambda api, np_: lambda xs: api.vmap(
        lambda x: api.vmap(lambda y: np_.exp(-np_.sum((x - y) ** 2)))(xs))(xs), XS),
    "vmap_scalar_times_vector": (lambda api, np_: api.vmap(lambda s, v: s * v),
                                 np.ones(3, np.float32), M34),
    "vmap_unbatched_operand": (lambda api, np_: api.vmap(lambda v: v - np_.arange(4.0)), M34),
    "vmap_reduce": (lambda api, np_: api.vmap(lambda m: m.sum(0)), np.ones((2, 3, 4), np.float32)),
    "add_python_int": (lambda api, np_: lambda x: x + 1, V4),
    "int_times_float": (lambda api, np_: lambda x: x * 2.5, V4.astype(np.int32)),
    "ones_under_trace": (lambda api, np_: lambda x: x + np_.ones(4), V4),
    "array_of_tracers": (lambda api, np_: lambda a, b: np_.array([a, b, 3]), 1, 2),
    "nested_array_of_tracers": (lambda api, np_: lambda a, b: np_.array([[a, b], [b, a]],
                                                                       np_.float32), 1.0, 2.0),
    "wide_array_of_tracers": (lambda api, np_: lambda a: np_.array([a] * 20), np.float32(1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_jaxpr_text_equals_jax(name):
  build, *args = CASES[name]
  r, j = _both(build, *args)
  assert r == j


def test_eqn_params_equal_jax():
  # a user's interpreter reads eqn.params: the same keys, in the same order
  def f(w, b, x):
    return jnp.dot(w, x) + b + jnp.ones(5)

  def g(w, b, x):
    return jjnp.dot(w, x) + b + jjnp.ones(5)

  args = (np.ones((5, 10), np.float32), np.ones(5, np.float32), np.ones(10, np.float32))
  re = rjax.make_jaxpr(f)(*args).jaxpr.eqns
  je = jax.make_jaxpr(g)(*args).jaxpr.eqns
  assert [e.primitive.name for e in re] == [e.primitive.name for e in je]
  for a, b in zip(re, je):
    assert list(a.params) == list(b.params)
    assert repr(a.params) == repr(b.params)


SHAPES = [(4,), (3, 4), (1, 3, 4), (2, 3, 4), (2, 1, 3, 4), (1, 1, 4, 5), (4, 5), (2, 4, 5),
          (1, 4, 5), (3, 1, 4, 5)]


@pytest.mark.parametrize("sa,sb", list(itertools.product(SHAPES, SHAPES)))
def test_matmul_shapes_values_and_errors_equal_jax(sa, sb):
  a = np.arange(np.prod(sa), dtype=np.float32).reshape(sa)
  b = (np.arange(np.prod(sb), dtype=np.float32) / 7).reshape(sb)
  try:
    want = jjnp.matmul(a, b)
  except Exception as e:  # noqa: BLE001 - the reference's exception type
    with pytest.raises(type(e)):
      jnp.matmul(a, b)
    return
  got = jnp.matmul(a, b)
  assert got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
  assert str(rjax.make_jaxpr(jnp.matmul)(a, b)) == str(jax.make_jaxpr(jjnp.matmul)(a, b))


DTYPES = [np.int8, np.uint8, np.int32, jjnp.bfloat16, np.float16, np.bool_, np.float32]


@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)))
def test_product_dtypes_and_weak_types_equal_jax(da, db):
  a, b = np.ones((3, 4), da), np.ones((4, 2), db)
  for op in ("dot", "matmul"):
    got, want = getattr(jnp, op)(a, b), getattr(jjnp, op)(a, b)
    assert (got.dtype, got.weak_type) == (want.dtype, want.weak_type)
    np.testing.assert_array_equal(np.asarray(got, np.float64), np.asarray(want, np.float64))
  for x, y in ((3.0, 2), (np.ones(3, np.int32), 2.5)):
    got, want = jnp.dot(x, y), jjnp.dot(x, y)
    assert (got.dtype, got.weak_type) == (want.dtype, want.weak_type)


@pytest.mark.parametrize("x,dt", [(2**100, np.float32), (-1, np.uint32), (float("nan"), np.int32),
                                  (float("inf"), np.int32), (1e40, np.float16), (True, np.float32),
                                  (np.float64(0.1), np.float32), (300, np.uint8)])
def test_convert_scalar_values_equal_jax(x, dt):
  with np.errstate(over="ignore"):  # (both convert on the host, as NumPy does)
    want = jax.lax.convert_element_type(x, dt)
    got = rjax.lax.convert_element_type(x, dt)
  assert got.dtype == want.dtype and got.weak_type == want.weak_type
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
