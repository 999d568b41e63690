"""Donation and input immutability under jit: donated Arrays are deleted (and
using them raises RuntimeError, as in JAX; a buffer donated and passed again
raises JAX's JaxRuntimeError), other arguments and outputs stay
alive, results are right even when a donated buffer is also read through
another argument, and no call ever writes into a user's NumPy array, its
views of results, or a donated NumPy input."""
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax.errors import JaxRuntimeError

N = 5000  # large enough for the parallel kernels and buffer reuse


def _arr(seed, n=N, dtype=np.float32):
  return np.random.default_rng(seed).standard_normal(n).astype(dtype)


def test_donate_argnums_deletes_only_the_donated():
  step = rjax.jit(lambda p, g, lr: p - lr * g, donate_argnums=(0,))
  p, g = jnp.asarray(_arr(0)), jnp.asarray(_arr(1))
  want = np.asarray(p) - 0.5 * np.asarray(g)
  out = step(p, g, 0.5)
  np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6)
  assert p.is_deleted() and not g.is_deleted() and not out.is_deleted()
  for use in (lambda: np.asarray(p), lambda: p + 1, lambda: step(p, g, 0.5),
              lambda: rjax.jit(lambda v: v)(p), lambda: float(p[0])):
    with pytest.raises(RuntimeError, match="deleted"):
      use()
  # the output can itself be donated to the next step, many times over
  for _ in range(5):
    new = step(out, g, 0.5)
    assert out.is_deleted()
    want = want - 0.5 * np.asarray(g)
    out = new
  np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)


def test_donate_negative_argnum_and_argnames_in_kwargs():
  f = rjax.jit(lambda a, b: a * 2 + b, donate_argnums=-1)
  a, b = jnp.asarray(_arr(2)), jnp.asarray(_arr(3))
  f(a, b)
  assert b.is_deleted() and not a.is_deleted()
  g = rjax.jit(lambda x, state: (x + state["s"], {"s": state["s"] * 2}), donate_argnames="state")
  s = jnp.asarray(_arr(4))
  x = jnp.asarray(_arr(5))
  out, new_state = g(x, state={"s": s})
  assert s.is_deleted() and not x.is_deleted()
  np.testing.assert_allclose(np.asarray(new_state["s"]), 2 * _arr(4), rtol=1e-6)


def test_donated_buffer_also_passed_undonated():
  """f(x, x) with only the first donated: as in JAX (XLA refuses a buffer
  donated and read in the same call), JaxRuntimeError, and x is neither
  deleted nor changed."""
  x_np = _arr(6)
  for fn in (lambda a, b: jnp.tanh(a) * 2 + b[::-1],
             lambda a, b: jnp.cumsum(a) + jnp.sum(b),
             lambda a, b: a[::-1] + b,
             lambda a, b: jnp.sort(a) - b):
    x = jnp.asarray(x_np)
    with pytest.raises(JaxRuntimeError, match="previously donated"):
      rjax.jit(fn, donate_argnums=0)(x, x)
    assert not x.is_deleted()
    np.testing.assert_array_equal(np.asarray(x), x_np)
    np.testing.assert_array_equal(np.asarray(rjax.jit(fn, donate_argnums=0)(x, x + 0)),
                                  np.asarray(rjax.jit(fn)(jnp.asarray(x_np), jnp.asarray(x_np))))


def test_numpy_views_of_a_donated_array_keep_their_values():
  """np.asarray of an Array is a zero-copy read-only view; donating the
  Array afterwards must not let the output overwrite what the view shows."""
  x = jnp.asarray(_arr(7))
  view = np.asarray(x)
  before = view.copy()
  assert not view.flags.writeable
  out = rjax.jit(lambda v: v * 3 + 1, donate_argnums=0)(x)
  np.testing.assert_array_equal(view, before)
  np.testing.assert_allclose(np.asarray(out), before * 3 + 1, rtol=1e-6)


def test_donated_numpy_inputs_are_never_written():
  x_np, y_np = _arr(8), _arr(9)
  x0, y0 = x_np.copy(), y_np.copy()
  f = rjax.jit(lambda a, b: (a * 2 + b, jnp.exp(a)), donate_argnums=(0, 1))
  out = f(x_np, y_np)
  out2 = f(x_np, y_np)  # NumPy inputs are not deleted: they can be passed again
  np.testing.assert_array_equal(x_np, x0)
  np.testing.assert_array_equal(y_np, y0)
  for o, o2 in zip(out, out2):
    np.testing.assert_array_equal(np.asarray(o), np.asarray(o2))


def test_asarray_of_numpy_then_donated():
  """jnp.asarray may borrow the NumPy memory: donating that Array must still
  leave the user's NumPy array unchanged."""
  for dtype in (np.float32, np.int32, np.uint8):
    x_np = _arr(10).astype(dtype)
    x0 = x_np.copy()
    x = jnp.asarray(x_np)
    out = rjax.jit(lambda v: v + v, donate_argnums=0)(x)
    np.testing.assert_array_equal(x_np, x0)
    np.testing.assert_array_equal(np.asarray(out), x0 + x0)


_OPS = [
    ("elementwise", lambda a, b: jnp.tanh(a) * b + 1.0),
    ("reduction", lambda a, b: jnp.sum(a * b, axis=0)),
    ("matmul", lambda a, b: a @ b.T),
    ("sort", lambda a, b: jnp.sort(a, axis=-1) + b),
    ("cumsum", lambda a, b: jnp.cumsum(a, axis=1) - b),
    ("scatter", lambda a, b: jnp.asarray(a).at[0].add(b[1])),
    ("gather", lambda a, b: a[jnp.asarray([1, 0, 1])] * b[:3]),
    ("transpose", lambda a, b: (a.T + b.T).T),
    ("dynamic_update", lambda a, b: lax.dynamic_update_slice(a, b[:1, :2], (1, 1))),
    ("where", lambda a, b: jnp.where(a > 0, a, b)),
    ("concatenate", lambda a, b: jnp.concatenate([a, b], 0)),
    ("reshape", lambda a, b: a.reshape(-1) + b.reshape(-1)),
    ("astype", lambda a, b: a.astype(np.int32) + b.astype(np.int32)),
]


@pytest.mark.parametrize("name,fn", _OPS, ids=[n for n, _ in _OPS])
@pytest.mark.parametrize("how", ["eager", "jit", "jit_donate", "contiguous_views"])
@pytest.mark.filterwarnings("ignore:Some donated buffers were not usable")   # (as JAX's)
def test_user_numpy_inputs_unchanged(name, fn, how):
  rng = np.random.default_rng(11)
  a = rng.standard_normal((3, 40)).astype(np.float32)
  b = rng.standard_normal((3, 40)).astype(np.float32)
  if how == "contiguous_views":  # slices of a bigger user array, C-contiguous
    big = rng.standard_normal((6, 40)).astype(np.float32)
    a, b = big[:3], big[3:]
  snap = [np.array(v, copy=True) for v in (a, b)]
  if how == "eager":
    outs = [fn(a, b), fn(a, b)]
  else:
    jf = rjax.jit(fn, donate_argnums=(0, 1) if how in ("jit_donate", "contiguous_views") else ())
    outs = [jf(a, b), jf(a, b)]
  for v, s in zip((a, b), snap):
    np.testing.assert_array_equal(v, s)
  np.testing.assert_array_equal(np.asarray(outs[0]), np.asarray(outs[1]))
  if how == "contiguous_views":
    np.testing.assert_array_equal(big, np.concatenate(snap))


def _iota(n=N):
  return np.arange(n, dtype=np.float32)


_DOUBLE = rjax.jit(lambda v: v * 2 + 1, donate_argnums=0)


def test_donating_an_output_that_aliases_an_input_or_a_constant():
  """An output may share its buffer with an input (identity, reshape) or
  with a constant of the executable: donating that output must leave the
  other holders' values alone."""
  x = jnp.asarray(_iota())
  y = rjax.jit(lambda v: v)(x)
  _DOUBLE(y)
  assert y.is_deleted() and not x.is_deleted()
  np.testing.assert_array_equal(np.asarray(x), _iota())

  x = jnp.asarray(_iota())
  for alias in (lambda v: v.reshape(50, 100), rjax.jit(lambda v: v.reshape(50, 100)),
                rjax.jit(lambda v: lax.stop_gradient(v)), lambda v: v[:],
                rjax.jit(lambda v: (v, v))):
    out = alias(x)
    out = out[0] if isinstance(out, tuple) else out
    if out is not x:
      _DOUBLE(out)
    np.testing.assert_array_equal(np.asarray(x), _iota())

  c = jnp.asarray(_iota())
  f = rjax.jit(lambda v: (c, v + 1))
  for _ in range(3):
    const_out, _ = f(jnp.ones(3))
    np.testing.assert_array_equal(np.asarray(const_out), _iota())
    _DOUBLE(const_out)
  np.testing.assert_array_equal(np.asarray(c), _iota())

  donated_identity = rjax.jit(lambda v: v, donate_argnums=0)
  x = jnp.asarray(_iota())
  y = donated_identity(x)
  assert x.is_deleted()
  np.testing.assert_array_equal(np.asarray(y), _iota())


def test_duplicate_outputs_and_the_same_array_donated_twice():
  x = jnp.asarray(_iota())
  a, b = rjax.jit(lambda v: (v + 1, v + 1))(x)     # CSE may make them one buffer
  _DOUBLE(a)
  np.testing.assert_array_equal(np.asarray(b), _iota() + 1)
  h = rjax.jit(lambda p, q: p * 2 + q, donate_argnums=(0, 1))
  x = jnp.asarray(_iota())
  # one output: the second donation is unusable (JAX's warning), and the
  # buffer donated first is passed again (JAX's error); nothing deleted
  with pytest.warns(UserWarning, match="not usable"), \
       pytest.raises(JaxRuntimeError, match="previously donated"):
    h(x, x)
  assert not x.is_deleted()
  np.testing.assert_array_equal(np.asarray(x), _iota())
  h2 = rjax.jit(lambda p, q: (p * 2 + q, p - q), donate_argnums=(0, 1))
  with pytest.raises(JaxRuntimeError, match="donate the same buffer twice"):
    h2(x, x)
  np.testing.assert_array_equal(np.asarray(h2(x, x * 1)[0]), _iota() * 3)
  assert x.is_deleted()
