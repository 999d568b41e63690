"""jnp.ufunc objects (JAX's 14 and frompyfunc) and the Array methods and
properties, against JAX: values, dtypes and exception types, on arrays and
on tracers."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from rjax import errors

from util_vs_jax import assert_same, same_outcome, check_grads64

X8 = np.array([[1, 2, 3], [4, 5, 6]], np.int8)
F = np.array([[1.5, -2.0, 3.25], [0.5, 4.0, -1.0]], np.float32)

UFUNCS = ["add", "multiply", "subtract", "negative", "maximum", "minimum", "bitwise_and",
          "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor", "logaddexp",
          "logaddexp2"]


def test_ufunc_objects_and_attributes():
  for name in UFUNCS:
    u, v = getattr(jnp, name), getattr(jjnp, name)
    assert isinstance(u, jnp.ufunc)
    assert (u.nin, u.nout, u.nargs, u.__name__) == (v.nin, v.nout, v.nargs, v.__name__)
    assert u.identity == v.identity or (np.isnan(u.identity) if isinstance(u.identity, float) and
                                        u.identity != u.identity else False)
    assert repr(u) == f"<jnp.ufunc '{name}'>"
    assert hash(u) == hash(getattr(jnp, name)) and u == getattr(jnp, name) and u != jnp.abs
  # operators still work (and use the plain functions)
  assert_same(jnp.asarray(F) + 1, jjnp.asarray(F) + 1)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["add", "multiply", "subtract", "maximum", "minimum", "bitwise_or",
                        "bitwise_xor", "bitwise_and", "logical_and", "logical_xor"]),
       st.sampled_from([0, 1, -1, None]), st.booleans())
def test_reduce_accumulate(name, axis, keepdims):
  x = X8 if "bitwise" in name or "logical" in name else F
  u, v = getattr(jnp, name), getattr(jjnp, name)
  same_outcome(lambda: u.reduce(x, axis=axis, keepdims=keepdims),
               lambda: v.reduce(x, axis=axis, keepdims=keepdims))
  if axis is not None and name in ("add", "multiply", "subtract", "maximum", "bitwise_or"):
    same_outcome(lambda: u.accumulate(x, axis=axis), lambda: v.accumulate(x, axis=axis))


def test_reduce_options():
  for kw in (dict(where=np.array([True, False, True]), initial=2),
             dict(axis=(0, 1)), dict(dtype=np.float32), dict(initial=10)):
    assert_same(jnp.add.reduce(X8, **kw), jjnp.add.reduce(X8, **kw))
  assert_same(jnp.logaddexp.reduce(F, axis=1), jjnp.logaddexp.reduce(F, axis=1), exact=False)
  assert_same(jnp.logaddexp2.reduce(F, axis=None), jjnp.logaddexp2.reduce(F, axis=None),
              exact=False)
  assert_same(jnp.maximum.reduce(F, axis=1, keepdims=True, initial=0.0),
              jjnp.maximum.reduce(F, axis=1, keepdims=True, initial=0.0))
  for bad in (lambda m: m.negative.reduce(F), lambda m: m.maximum.reduce(F, where=F > 0),
              lambda m: m.add.reduce(F, where=np.array([1, 0, 1])),
              lambda m: m.subtract.reduce(np.zeros((0,))),
              lambda m: m.negative.outer(F, F), lambda m: m.add.at(F, 0, 1.0),
              lambda m: m.add(F, F, where=F > 0), lambda m: m.negative.accumulate(F)):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))


def test_at_reduceat_outer():
  idx = np.array([0, 0, 2])
  assert_same(jnp.add.at(np.zeros(4, np.float32), idx, 1., inplace=False),
              jjnp.add.at(np.zeros(4, np.float32), idx, 1., inplace=False))
  assert_same(jnp.add.at(np.zeros(4, bool), idx, True, inplace=False),
              jjnp.add.at(np.zeros(4, bool), idx, True, inplace=False))
  assert_same(jnp.multiply.at(np.full(4, 2.), idx, 3., inplace=False),
              jjnp.multiply.at(np.full(4, 2.), idx, 3., inplace=False))
  assert_same(jnp.negative.at(np.arange(4.), idx, inplace=False),
              jjnp.negative.at(np.arange(4.), idx, inplace=False))
  assert_same(jnp.subtract.at(np.zeros(4), idx, np.array([1., 2, 3]), inplace=False),
              jjnp.subtract.at(np.zeros(4), idx, np.array([1., 2, 3]), inplace=False))
  assert_same(jnp.maximum.at(np.zeros((3, 2), np.float32), (idx, np.array([1, 1, 0])),
                             np.array([1., 2, 3], np.float32), inplace=False),
              jjnp.maximum.at(np.zeros((3, 2), np.float32), (idx, np.array([1, 1, 0])),
                              np.array([1., 2, 3], np.float32), inplace=False))
  for m_idx in (np.array([0, 4, 1, 5]), np.array([3]), np.array([5, 2, 2])):
    for name in ("add", "minimum", "multiply"):
      assert_same(getattr(jnp, name).reduceat(np.arange(1., 9.), m_idx),
                  getattr(jjnp, name).reduceat(np.arange(1., 9.), m_idx))
  assert_same(jnp.add.reduceat(np.arange(12).reshape(3, 4), np.array([0, 2]), axis=1),
              jjnp.add.reduceat(np.arange(12).reshape(3, 4), np.array([0, 2]), axis=1))
  assert_same(jnp.add.outer(np.arange(3), np.arange(2.)), jjnp.add.outer(np.arange(3),
                                                                       np.arange(2.)))
  assert_same(jnp.subtract.outer(F, np.arange(3)), jjnp.subtract.outer(F, np.arange(3)))
  assert_same(rjax.jit(jnp.multiply.outer)(F[0], F[1]), jjnp.multiply.outer(F[0], F[1]))
  check_grads64(lambda a: jnp.multiply.reduce(a), (np.array([1.5, -2., 3.]),), order=2)


def test_frompyfunc():
  f = lambda m: m.frompyfunc(lambda a, b: a * 2 + b, 2, 1, identity=0)  # noqa: E731
  cases = [lambda u: u(np.arange(3), 1), lambda u: u.reduce(np.arange(4)),
           lambda u: u.reduce(np.arange(6).reshape(2, 3), axis=1, keepdims=True),
           lambda u: u.reduce(np.zeros((0,), np.int32)), lambda u: u.accumulate(np.arange(4)),
           lambda u: u.accumulate(np.arange(6).reshape(2, 3), axis=1),
           lambda u: u.outer(np.arange(2), np.arange(3)),
           lambda u: u.at(np.arange(4), np.array([1, 1]), 5, inplace=False),
           lambda u: u.reduceat(np.arange(6), np.array([0, 3]))]
  for c in cases:
    assert_same(c(f(jnp)), c(f(jjnp)))
  g = lambda m: m.frompyfunc(lambda a: m.sin(a) * a, 1, 1)  # noqa: E731
  assert_same(g(jnp)(F), g(jjnp)(F), exact=False)
  assert_same(g(jnp).at(F, (np.array([0, 0]), np.array([1, 1])), inplace=False),
              g(jjnp).at(F, (np.array([0, 0]), np.array([1, 1])), inplace=False), exact=False)
  u = f(jnp)
  assert_same(rjax.jit(u.reduce)(np.arange(4)), f(jjnp).reduce(np.arange(4)))
  assert u.identity == 0 and u.nin == 2 and repr(u) == "<jnp.ufunc '<lambda>'>"


# ---------------------------------------------------------------------------
# Array methods and properties

METHOD_CALLS = [
    ("all", (), {}), ("any", (0,), {}), ("argmax", (), {}), ("argmin", (1,), {"keepdims": True}),
    ("argsort", (), {}), ("astype", (np.int32,), {}), ("byteswap", (), {}),
    ("clip", (1, 4), {}), ("compress", ([True, False, True],), {"axis": 1}),
    ("conj", (), {}), ("conjugate", (), {}), ("copy", (), {}), ("cumprod", (), {"axis": 1}),
    ("cumsum", (), {}), ("diagonal", (), {}), ("dot", (np.ones(4, np.float32),), {}),
    ("flatten", (), {}), ("flatten", ("F",), {}), ("item", (3,), {}), ("max", (), {"axis": 0}),
    ("mean", (), {}), ("min", (), {"initial": 2, "axis": 1}), ("nonzero", (), {}),
    ("prod", (), {}), ("ptp", (), {}), ("ravel", (), {"order": "F"}),
    ("repeat", (2,), {"axis": 0}), ("reshape", (4, 3), {}), ("reshape", ((2, 6),), {}),
    ("reshape", ((6, 2),), {"order": "F"}), ("round", (1,), {}), ("sort", (), {}),
    ("squeeze", (), {}), ("std", (), {"ddof": 1}), ("sum", (), {"axis": (0, 1)}),
    ("swapaxes", (0, 1), {}), ("take", (np.array([0, 2]),), {}), ("trace", (), {}),
    ("transpose", (), {}), ("transpose", (1, 0), {}), ("var", (), {}),
    ("view", (np.int32,), {}), ("view", (np.uint8,), {}), ("view", (np.int16,), {}),
    ("tolist", (), {}), ("tobytes", (), {}), ("searchsorted", (2.0,), {}),
    ("choose", None, {}), ("argpartition", (1,), {}),
]
XM = (np.arange(12.).reshape(3, 4) * 1.5 - 4).astype(np.float32)


def test_array_methods_against_jax():
  for name, args, kw in METHOD_CALLS:
    if args is None:
      continue
    x = XM[0] if name == "searchsorted" else XM
    if name == "argpartition":   # (any valid partition: compare the partitioned values)
      r = np.take_along_axis(XM, np.asarray(jnp.asarray(XM).argpartition(1)), -1)
      assert (r[:, :1] <= r[:, 1:2]).all() and (r[:, 1:2] <= r[:, 2:].min(1, keepdims=True)).all()
      continue
    same_outcome(lambda: getattr(jnp.asarray(x), name)(*args, **kw),
                 lambda: getattr(jjnp.asarray(x), name)(*args, **kw))
  assert_same(jnp.asarray(np.array([0, 2, 1])).choose([np.arange(3), np.arange(3) * 10,
                                                        np.ones(3, np.int32)]),
              jjnp.asarray(np.array([0, 2, 1])).choose([np.arange(3), np.arange(3) * 10,
                                                         np.ones(3, np.int32)]))
  a, j = jnp.asarray(XM), jjnp.asarray(XM)
  for p in ("T", "mT", "real", "imag", "nbytes", "itemsize", "ndim", "size", "shape", "dtype"):
    assert_same(np.asarray(getattr(a, p)), np.asarray(getattr(j, p)))
  assert_same(round(a[0, 0]), round(j[0, 0]))
  assert_same(round(a[0, 1], 1), round(j[0, 1], 1))
  assert hex(jnp.int32(255)) == hex(jjnp.int32(255)) and oct(jnp.int8(9)) == oct(jjnp.int8(9))
  assert (1.0 in jnp.arange(3.)) == (1.0 in jjnp.arange(3.))
  assert a.__array_namespace__() is jnp.ndarray.__array_namespace__(a)
  assert a.__array_namespace__().sum is jnp.sum
  assert np.array_equal(a.clone(), a)
  assert a.copy_to_host_async() is None and a.on_device_size_in_bytes() == XM.nbytes
  assert a.__numpy_dtype__ == XM.dtype
  for bad in (lambda m: m.asarray(XM).flat, lambda m: hex(m.asarray(XM)[0, 0]),
              lambda m: "a" in m.asarray(XM[0]), lambda m: 1.0 in m.asarray(XM),
              lambda m: m.asarray(XM[:, :3]).view(np.float16),
              lambda m: m.asarray(XM).reshape(5), lambda m: m.asarray(XM).reshape(-1, -1),
              lambda m: m.asarray(XM).flatten(order="K"),
              lambda m: m.asarray(XM).view(np.float32, type=np.ndarray)):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))


def test_tracer_methods():
  def f(v):
    out = [v.flatten(), v.ravel("F"), v.view(np.int32).astype(np.float32), v.byteswap(),
           v.reshape(2, 6, order="F"), round(v[0, 0]), v.copy()]
    return out
  assert_same(rjax.jit(f)(XM), jax.jit(f)(XM))
  assert rjax.jit(lambda v: (v.itemsize, v.nbytes, v.size))(XM) == (4, 48, 12)
  for bad in (lambda v: v.item(), lambda v: v.tolist(), lambda v: v.tobytes()):
    with pytest.raises(errors.ConcretizationTypeError):
      rjax.jit(bad)(XM)
  with pytest.raises(TypeError, match="immutable"):
    rjax.jit(lambda v: v.__setitem__(0, 1.0))(XM)
  with pytest.raises(errors.TracerBoolConversionError):   # (`in` makes a Python bool, as in JAX)
    rjax.jit(lambda v: 2.0 in v)(XM[0])


@settings(max_examples=20, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.data())
def test_reshape_and_ravel_order_f(shape, data):
  x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
  perm = data.draw(st.permutations(shape))
  for order in ("C", "F"):
    assert_same(jnp.reshape(x, tuple(perm), order=order), np.reshape(x, tuple(perm), order=order))
    assert_same(jnp.ravel(x, order=order), np.ravel(x, order=order))
    assert_same(jnp.asarray(x).reshape(-1, order=order), x.reshape(-1, order=order))
  check_grads64(lambda v: jnp.reshape(v, tuple(perm), order="F") * 2, (x.astype(np.float64),),
              order=1)
