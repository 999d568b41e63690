"""Index helpers (mgrid, ogrid, r_, c_, s_, index_exp, ix_, the triangle
and diagonal indices, unravel_index, ravel_multi_index, fill_diagonal) and
the functions that map a Python function over arrays (vectorize,
apply_along_axis, apply_over_axes, piecewise) against JAX."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp

from util_vs_jax import assert_same, same_outcome, check_grads64


def test_grids_and_concatenators():
  for key in [slice(0, 4), (slice(0, 4), slice(0, 3)), (slice(-1, 1, 5j), slice(0, 2, 0.5)),
              (slice(3), slice(1, 7, 2), slice(0, 1, 3j))]:
    assert_same(jnp.mgrid[key], jjnp.mgrid[key])
    assert_same(jnp.ogrid[key], jjnp.ogrid[key])
  a, b = np.array([1, 2, 3]), np.array([4., 5, 6])
  for m in (lambda M: M.r_[a, 0, 0, b], lambda M: M.r_[0:5, a], lambda M: M.r_["0,2", a, a],
            lambda M: M.r_["-1,2,0", a, b], lambda M: M.r_["r", a, b], lambda M: M.r_["c", a],
            lambda M: M.c_[a, b], lambda M: M.c_[np.ones((2, 2)), np.zeros((2, 1))],
            lambda M: M.r_[np.ones((2, 2)), np.zeros((1, 2))]):
    assert_same(m(jnp), m(jjnp))
  assert jnp.s_[1:3, None] == jjnp.s_[1:3, None]
  assert jnp.index_exp[2, ...] == jjnp.index_exp[2, ...]
  with pytest.raises(ValueError, match="directive"):
    jnp.r_["x,y", a]


def test_ix_and_triangles():
  assert_same(jnp.ix_(np.array([0, 1]), np.array([2, 4, 3])),
              jjnp.ix_(np.array([0, 1]), np.array([2, 4, 3])))
  assert_same(jnp.ix_(np.array([], np.int32)), jjnp.ix_(np.array([], np.int32)))
  for args in [(4,), (4, 1, 5), (4, -1, 3), (0,), (3, 5), (2, -4, 6)]:
    assert_same(jnp.tril_indices(*args), jjnp.tril_indices(*args))
    assert_same(jnp.triu_indices(*args), jjnp.triu_indices(*args))
  x = np.ones((3, 5))
  assert_same(jnp.tril_indices_from(x, 1), jjnp.tril_indices_from(x, 1))
  assert_same(jnp.triu_indices_from(x, -1), jjnp.triu_indices_from(x, -1))
  assert_same(jnp.diag_indices(4, 3), jjnp.diag_indices(4, 3))
  assert_same(jnp.diag_indices_from(np.ones((3, 3))), jjnp.diag_indices_from(np.ones((3, 3))))
  assert_same(jnp.mask_indices(4, jnp.triu, 1), jjnp.mask_indices(4, jjnp.triu, 1))
  assert_same(jnp.mask_indices(4, jnp.tril, size=3), jjnp.mask_indices(4, jjnp.tril, size=3))
  for bad in (lambda m: m.tril_indices_from(np.ones(3)), lambda m: m.diag_indices(-1),
              lambda m: m.diag_indices_from(np.ones((2, 3))),
              lambda m: m.ix_(np.ones((2, 2), np.int32))):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-70, 70), min_size=1, max_size=6),
       st.sampled_from([(3, 4), (5,), (2, 3, 4), (7, 1)]))
def test_unravel_and_ravel_multi_index(idx, shape):
  i = np.array(idx, np.int32)
  assert_same(jnp.unravel_index(i, shape), jjnp.unravel_index(i, shape))
  coords = np.stack([np.clip(i, -3, 9) % max(d, 1) if False else i % d for d in shape])
  for mode in ("clip", "wrap"):
    same_outcome(lambda: jnp.ravel_multi_index(tuple(coords - 2), shape, mode=mode),
                 lambda: jjnp.ravel_multi_index(tuple(coords - 2), shape, mode=mode))
  for order in ("C", "F"):
    assert_same(jnp.ravel_multi_index(tuple(coords), shape, order=order),
                jjnp.ravel_multi_index(tuple(coords), shape, order=order))
  same_outcome(lambda: jnp.ravel_multi_index(tuple(coords + 50), shape),
               lambda: jjnp.ravel_multi_index(tuple(coords + 50), shape))
  got = rjax.jit(lambda c: jnp.ravel_multi_index(c, shape, mode="wrap"))(tuple(coords))
  assert_same(got, jjnp.ravel_multi_index(tuple(coords), shape, mode="wrap"))


def test_fill_diagonal():
  for shape, val in [((3, 4), 7.0), ((4, 3), np.array([1., 2.])), ((3, 3, 3), np.arange(5.)),
                     ((2, 2), np.array([], np.float32))]:
    a = np.zeros(shape, np.float32)
    same_outcome(lambda: jnp.fill_diagonal(a, val, inplace=False),
                 lambda: jjnp.fill_diagonal(a, val, inplace=False))
  with pytest.raises(NotImplementedError, match="inplace=False"):
    jnp.fill_diagonal(np.zeros((2, 2)), 1.0)


# ---------------------------------------------------------------------------
# vectorize, apply_along_axis, apply_over_axes, piecewise

X = np.arange(12.).reshape(3, 4).astype(np.float32) - 5


def test_vectorize():
  cases = [
      (lambda m: m.vectorize(lambda a, b: a * b + 1), (X, np.arange(4.))),
      (lambda m: m.vectorize(lambda a: a.sum(), signature="(n)->()"), (X,)),
      (lambda m: m.vectorize(lambda a, b: a @ b, signature="(n,m),(m)->(n)"),
       (np.ones((2, 3, 4), np.float32), np.arange(4., dtype=np.float32))),
      (lambda m: m.vectorize(lambda a, p: a ** p, excluded={1}), (X, 2)),
      (lambda m: m.vectorize(lambda a, b: (a + b, a - b), signature="(),()->(),()"),
       (X, np.float32(2))),
      (lambda m: m.vectorize(lambda a: m.stack([a, -a]), signature="()->(k)"), (X[0],)),
  ]
  for f, args in cases:
    assert_same(f(jnp)(*args), f(jjnp)(*args), exact=False)
    assert_same(rjax.jit(f(jnp))(*args), f(jjnp)(*args), exact=False)
  for bad in (lambda m: m.vectorize(lambda a: a, signature="(n)->(n")(X),
              lambda m: m.vectorize(lambda a: a.sum(), signature="(n)->(n)")(X),
              lambda m: m.vectorize(lambda a, b: a, signature="(n),(n)->(n)")(X, X[:, :2]),
              lambda m: m.vectorize(lambda a: a, excluded={-1})(X)):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))
  check_grads64(jnp.vectorize(lambda a, b: jnp.sin(a) * b), (X[0].astype(np.float64),
                                                           np.float64(1.5)), order=1)


def test_apply_along_and_over_axes():
  y = np.arange(60.).reshape(3, 4, 5).astype(np.float32)
  for axis in (0, 1, 2, -1):
    f = lambda m, ax=axis: (lambda a: m.apply_along_axis(lambda r: m.cumsum(r) * r[0], ax, a))  # noqa
    assert_same(f(jnp)(y), f(jjnp)(y), exact=False)
    g = lambda m, ax=axis: (lambda a: m.apply_along_axis(lambda r: r[:2].sum(), ax, a))  # noqa
    assert_same(g(jnp)(y), g(jjnp)(y), exact=False)
  assert_same(jnp.apply_over_axes(jnp.sum, y, [0, 2]), jjnp.apply_over_axes(jjnp.sum, y, [0, 2]))
  assert_same(jnp.apply_over_axes(lambda a, ax: jnp.max(a, ax, keepdims=True), y, (1,)),
              jjnp.apply_over_axes(lambda a, ax: jjnp.max(a, ax, keepdims=True), y, (1,)))
  same_outcome(lambda: jnp.apply_over_axes(lambda a, ax: a.sum(), y, [0]),
               lambda: jjnp.apply_over_axes(lambda a, ax: a.sum(), y, [0]))


def test_piecewise():
  x = np.linspace(-3, 3, 13).astype(np.float32)
  cases = [
      lambda m: m.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v * 2]),
      lambda m: m.piecewise(x, [x < -1, x > 1], [0.5, lambda v: v ** 2, 7.0]),
      lambda m: m.piecewise(x, [x < 1, x > -1], [1, 2]),          # overlapping: the last wins
      lambda m: m.piecewise(np.arange(5), [np.arange(5) > 2], [lambda v: v * 3]),
      lambda m: m.piecewise(x.reshape(13, 1), [x.reshape(13, 1) > 0], [lambda v, k: v * k], 3.0),
  ]
  for f in cases:
    assert_same(f(jnp), f(jjnp))
  same_outcome(lambda: jnp.piecewise(x, [x > 0], [1, 2, 3]),
               lambda: jjnp.piecewise(x, [x > 0], [1, 2, 3]))
  f = lambda v: jnp.piecewise(v, [v < 0], [jnp.sin, jnp.exp])  # noqa: E731
  check_grads64(f, (np.array([-1.3, -0.2, 0.4, 2.1]),), order=2)
  got = rjax.jit(f)(x)
  assert_same(got, jjnp.piecewise(x, [x < 0], [jjnp.sin, jjnp.exp]), exact=False)
