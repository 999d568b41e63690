"""End-to-end checks of the core path: NumPy in, Rust kernel, NumPy out."""
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax._rjax import InternalError, _panic_for_test


def test_roundtrip_and_repr():
  x = jnp.asarray(np.arange(6.0).reshape(2, 3))
  assert x.dtype == np.float32 and x.shape == (2, 3)
  np.testing.assert_array_equal(np.asarray(x), np.arange(6.0).reshape(2, 3))
  assert repr(jnp.asarray([1.0, 2.0])) == "Array([1., 2.], dtype=float32)"


def test_output_is_readonly_view():
  x = jnp.asarray(np.arange(4.0))
  v = np.asarray(x)
  assert not v.flags.writeable
  with pytest.raises(ValueError):
    v[0] = 5


def test_input_not_mutated_or_aliased():
  a = np.arange(4.0, dtype=np.float32)
  x = jnp.asarray(a)
  a[0] = 100
  assert float(np.asarray(x)[0]) == 0.0


def test_panic_becomes_exception():
  with pytest.raises(InternalError, match="deliberate test panic"):
    _panic_for_test()
  # the interpreter and the core still work
  assert float(jnp.asarray(1.0) + 1) == 2.0


def test_weak_promotion():
  u = jnp.asarray(np.array([250], np.uint8)) + 10
  assert u.dtype == np.uint8 and int(u[0] if False else np.asarray(u)[0]) == 4
  h = jnp.asarray(np.float16(1)) + 1.5
  assert h.dtype == np.float16


def test_setitem_refused():
  x = jnp.asarray([1.0])
  with pytest.raises(TypeError, match="immutable"):
    x[0] = 2.0
  with pytest.raises(TypeError, match="unhashable"):
    hash(x)


def test_supported_ops_nonempty():
  from rjax._rjax import supported_ops
  assert "add" in supported_ops()
  assert rjax.Array is type(jnp.asarray(1.0))


def test_zero_copy_roundtrip_and_borrow():
  x = jnp.asarray(np.arange(6.0, dtype=np.float32).reshape(2, 3))
  v = np.asarray(x)
  y = jnp.asarray(v)                       # reuses x's buffer: no copy
  assert np.shares_memory(np.asarray(y), v)
  w = jnp.asarray(v.reshape(3, 2))         # same bytes, another shape
  assert np.shares_memory(np.asarray(w), v)
  ro = np.frombuffer(np.arange(4, dtype=np.float32).tobytes(), np.float32)  # immutable bytes
  z = jnp.asarray(ro)
  assert z._buf.borrowed and np.shares_memory(np.asarray(z), ro)
  np.testing.assert_array_equal(np.asarray(z + 1), ro + 1)


def test_writeable_or_flippable_arrays_are_copied():
  a = np.arange(4.0, dtype=np.float32)
  a.flags.writeable = False                # owns its data: could be made writeable again
  x = jnp.asarray(a)
  assert not x._buf.borrowed
  base = np.arange(4.0, dtype=np.float32)
  view = base[:]
  view.flags.writeable = False             # base is still writeable
  y = jnp.asarray(view)
  base[0] = 99
  assert float(np.asarray(y)[0]) == 0.0


@pytest.mark.parametrize("sa,sb", [((40000, 3), (40000, 1)), ((3, 40000, 7), (1, 40000, 1)),
                                   ((999, 999), (1, 999))])
def test_large_broadcast_rows_not_split(sa, sb):
  """Regression: parallel chunks must hold whole output rows."""
  rng = np.random.default_rng(0)
  a = rng.random(sa).astype(np.float32)
  b = rng.random(sb).astype(np.float32)
  np.testing.assert_array_equal(np.asarray(jnp.add(a, b)), a + b)
  np.testing.assert_array_equal(np.asarray(jnp.broadcast_to(b, sa)), np.broadcast_to(b, sa))


def test_dlpack_and_conversions():
  x = jnp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
  y = np.from_dlpack(x)
  np.testing.assert_array_equal(y, np.arange(6).reshape(2, 3))
  assert x.__dlpack_device__() == (1, 0)
  assert x[1, 2].item() == 5.0 and x.tolist() == [[0, 1, 2], [3, 4, 5]]
  assert len(x) == 2 and [r.shape for r in x] == [(3,), (3,)]
  assert bool(jnp.asarray([True])) and int(jnp.asarray(3)) == 3
  with pytest.raises(ValueError, match="ambiguous"):
    bool(x)
  with pytest.raises(TypeError, match="unsized"):
    len(jnp.asarray(1.0))
  assert x.block_until_ready() is x
  assert repr(jnp.asarray(1.0)) == "Array(1., dtype=float32, weak_type=True)"
  assert repr(jnp.asarray(np.int32(3))) == "Array(3, dtype=int32)"
