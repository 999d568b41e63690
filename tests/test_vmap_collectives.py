"""Collectives over vmap's named axes: values against NumPy over the mapped
axis, nesting, derivatives (JAX's conventions, values taken from JAX 0.10.2),
and errors for unbound names."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.test_util import check_grads
from util import enable_x64

sizes = st.integers(1, 5)
inner = st.sampled_from([(), (2,), (3, 2)])


def _data(seed, shape):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@given(n=sizes, shape=inner, seed=st.integers(0, 999), axis=st.integers(0, 2))
def test_psum_pmean_pmax_pmin(n, shape, seed, axis):
  axis = axis % (len(shape) + 1)
  x = np.moveaxis(_data(seed, (n,) + shape), 0, axis)
  f = lambda v: (lax.psum(v, "i"), lax.pmean(v, "i"), lax.pmax(v, "i"), lax.pmin(v, "i"))
  outs = rjax.vmap(f, in_axes=axis, axis_name="i")(jnp.asarray(x))
  xs = np.moveaxis(x, axis, 0)
  for got, red in zip(outs, (np.sum, np.mean, np.max, np.min)):
    want = np.broadcast_to(red(xs, axis=0), xs.shape)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@given(n=sizes, seed=st.integers(0, 999))
def test_psum_of_unmapped_values_and_constants(n, seed):
  x = _data(seed, (n,))
  y = _data(seed + 1, (3,))
  out, c, b = rjax.vmap(lambda a, b: (lax.psum(b, "i"), lax.psum(1, "i"), lax.psum(a > 0, "i")),
                        in_axes=(0, None), axis_name="i")(jnp.asarray(x), jnp.asarray(y))
  np.testing.assert_allclose(np.asarray(out), np.broadcast_to(n * y, (n, 3)), rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(c), np.full(n, n))
  assert np.asarray(b).dtype == np.int32
  np.testing.assert_array_equal(np.asarray(b), np.full(n, (x > 0).sum()))


@given(n=sizes, shape=inner, seed=st.integers(0, 999), tiled=st.booleans(),
       axis=st.integers(-3, 2))
def test_all_gather(n, shape, seed, tiled, axis):
  x = _data(seed, (n,) + shape)
  f = rjax.vmap(lambda v: lax.all_gather(v, "i", axis=axis, tiled=tiled), axis_name="i")
  rank = len(shape) + (0 if tiled else 1)
  if not -rank <= axis < rank:
    with pytest.raises(ValueError, match="out of bounds"):
      f(jnp.asarray(x))
    return
  out = f(jnp.asarray(x))
  ax = axis % rank
  one = np.concatenate(list(x), axis=ax) if tiled else np.stack(list(x), axis=ax)
  np.testing.assert_array_equal(np.asarray(out), np.broadcast_to(one, (n,) + one.shape))


@given(n=sizes, k=st.integers(1, 3), seed=st.integers(0, 999), tiled=st.booleans())
def test_psum_scatter(n, k, seed, tiled):
  x = _data(seed, (n, n * k if tiled else n, 2))
  out = rjax.vmap(lambda v: lax.psum_scatter(v, "i", tiled=tiled), axis_name="i")(jnp.asarray(x))
  total = x.sum(0)
  want = total.reshape(n, k, 2) if tiled else total
  np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)


@given(n=st.integers(2, 6), seed=st.integers(0, 999), data=st.data())
def test_ppermute(n, seed, data):
  dsts = data.draw(st.permutations(range(n)))
  k = data.draw(st.integers(0, n))
  perm = [(s, d) for s, d in zip(range(n), dsts)][:k]
  x = _data(seed, (n, 2))
  out = rjax.vmap(lambda v: lax.ppermute(v, "i", perm), axis_name="i")(jnp.asarray(x))
  want = np.zeros_like(x)
  for s, d in perm:
    want[d] = x[s]
  np.testing.assert_array_equal(np.asarray(out), want)


def test_axis_index_and_nesting():
  x = jnp.arange(6.0).reshape(2, 3)
  idx = rjax.vmap(rjax.vmap(lambda v: lax.axis_index("i") * 10 + lax.axis_index("j"),
                            axis_name="j"), axis_name="i")(x)
  np.testing.assert_array_equal(np.asarray(idx), [[0, 1, 2], [10, 11, 12]])
  both = rjax.vmap(rjax.vmap(lambda v: lax.psum(v, ("i", "j")), axis_name="j"),
                   axis_name="i")(x)
  np.testing.assert_array_equal(np.asarray(both), np.full((2, 3), 15.0))
  outer = rjax.vmap(rjax.vmap(lambda v: lax.psum(v, "i"), axis_name="j"), axis_name="i")(x)
  np.testing.assert_array_equal(np.asarray(outer), [[3, 5, 7], [3, 5, 7]])
  # the same name nested: the innermost binding wins
  same = rjax.vmap(rjax.vmap(lambda v: lax.psum(v, "i"), axis_name="i"), axis_name="i")(x)
  np.testing.assert_array_equal(np.asarray(same), [[3, 3, 3], [12, 12, 12]])


def test_collective_derivatives_follow_jax():
  xs = jnp.arange(3.0)
  g = lambda f: np.asarray(rjax.vmap(rjax.grad(f), axis_name="i")(xs))
  np.testing.assert_array_equal(g(lambda x: lax.psum(x, "i")), [3, 3, 3])
  np.testing.assert_array_equal(g(lambda x: lax.psum(x * x, "i")), [0, 6, 12])
  np.testing.assert_array_equal(g(lambda x: lax.pmean(x * x, "i")), [0, 2, 4])
  np.testing.assert_array_equal(g(lambda x: lax.all_gather(x, "i").sum()), [3, 3, 3])
  perm = [(0, 1), (1, 2), (2, 0)]
  np.testing.assert_array_equal(
      g(lambda x: lax.ppermute(x, "i", perm) * jnp.arange(3.0)[lax.axis_index("i")]), [1, 2, 0])
  # outside: the gradient of a psum'd loss through vmap is per-member
  gs = rjax.grad(lambda v: rjax.vmap(lambda x: lax.psum(x * x, "i"), axis_name="i")(v).sum())(xs)
  np.testing.assert_array_equal(np.asarray(gs), [0, 6, 12])


def test_pmax_gradient_goes_to_the_winners():
  xs = jnp.asarray([1.0, 3.0, 3.0, 2.0])
  g = rjax.grad(lambda v: rjax.vmap(lambda x: lax.pmax(x, "i"), axis_name="i")(v)[0])(xs)
  np.testing.assert_array_equal(np.asarray(g), [0, 0.5, 0.5, 0])


def test_collectives_check_grads():
  rng = np.random.default_rng(0)
  with enable_x64():
    x = jnp.asarray(rng.standard_normal((4, 3)))

    def f(v):
      def per(r):
        s = lax.psum(jnp.sin(r), "i")
        gathered = lax.all_gather(r * r, "i")
        sc = lax.psum_scatter(jnp.tile(r[:1], 4), "i")
        return s * r + gathered.sum(0) + lax.ppermute(r, "i", [(0, 1), (1, 2), (2, 3), (3, 0)]) \
            + sc + lax.pmean(jnp.exp(r), "i")
      return rjax.vmap(per, axis_name="i")(v)
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))


def test_unbound_axis_names_raise():
  with pytest.raises(NameError, match="unbound axis name: j"):
    lax.psum(jnp.ones(3), "j")
  with pytest.raises(NameError, match="unbound axis name: j"):
    rjax.vmap(lambda v: lax.psum(v, "j"), axis_name="i")(jnp.ones(3))
  with pytest.raises(NameError, match="unbound axis name"):
    rjax.vmap(lambda v: lax.axis_index("j"))(jnp.ones(3))
  with pytest.raises(ValueError, match="unique"):
    rjax.vmap(lambda v: lax.ppermute(v, "i", [(0, 1), (1, 1)]), axis_name="i")(jnp.ones(3))
  with pytest.raises(ValueError, match="must equal"):
    rjax.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(jnp.ones((3, 2)))


def test_collectives_are_thread_local():
  import threading
  errs, outs = [], []

  def work(k):
    try:
      for _ in range(20):
        outs.append(float(rjax.vmap(lambda v: lax.psum(v, "a"), axis_name="a")(
            jnp.arange(float(k)))[0]))
        with pytest.raises(NameError):
          lax.psum(jnp.ones(2), "a")
    except BaseException as e:  # noqa: BLE001
      errs.append(e)

  ts = [threading.Thread(target=work, args=(k,)) for k in range(2, 6)]
  for t in ts:
    t.start()
  for t in ts:
    t.join()
  assert not errs, errs
  assert len(outs) == 80
