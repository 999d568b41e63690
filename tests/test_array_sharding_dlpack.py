"""Array placement APIs (sharding, devices, shards, committed), rjax.sharding,
the make_array_from_* constructors, DLPack import/export and the top-level
runtime helpers; JAX's behaviour as the reference where it applies on CPU."""
import warnings

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from rjax.sharding import PartitionSpec, PmapSharding, Sharding, SingleDeviceSharding


def test_single_device_array_properties():
  x = jnp.arange(6.).reshape(2, 3)
  s = x.sharding
  assert isinstance(s, Sharding) and isinstance(s, SingleDeviceSharding)
  assert s == SingleDeviceSharding(x.device) and hash(s) == hash(SingleDeviceSharding(x.device))
  assert s.device_set == x.devices() == {rjax.devices()[0]}
  assert s.is_fully_replicated and s.is_fully_addressable and s.num_devices == 1
  assert s.memory_kind == "device" and s.addressable_devices == {x.device}
  assert s.devices_indices_map((2, 3)) == {x.device: (slice(None), slice(None))}
  assert s.shard_shape((2, 3)) == (2, 3)
  assert repr(s).startswith("SingleDeviceSharding(device=") and "memory_kind=device" in repr(s)
  assert x.is_fully_replicated and x.is_fully_addressable and not x.committed
  (shard,) = x.addressable_shards
  assert shard.device == x.device and shard.index == (slice(None), slice(None))
  assert shard.replica_id == 0
  np.testing.assert_array_equal(shard.data, x)
  assert len(x.global_shards) == 1
  np.testing.assert_array_equal(x.addressable_data(0), x)
  assert x.copy_to_host_async() is None
  np.testing.assert_array_equal(np.asarray(x), np.arange(6.).reshape(2, 3))
  # the same answers as JAX's for a one-device array
  jx = jax.numpy.arange(6.).reshape(2, 3)
  assert jx.is_fully_replicated == x.is_fully_replicated and jx.committed == x.committed
  assert jx.sharding.shard_shape((2, 3)) == s.shard_shape((2, 3))


def test_committed_after_device_put():
  d = rjax.devices()[-1]
  y = rjax.device_put(jnp.ones(3), d)
  assert y.committed and y.sharding == SingleDeviceSharding(d) and y.device == d
  with pytest.raises(TypeError):
    SingleDeviceSharding("cpu:0")
  with pytest.raises(ValueError):
    SingleDeviceSharding(d, memory_kind="pinned_host")


def test_pmap_results_have_a_pmap_sharding():
  n = min(rjax.local_device_count(), 3)
  y = rjax.pmap(lambda v: v * 2)(jnp.arange(n * 4.).reshape(n, 4))
  s = y.sharding
  assert isinstance(s, PmapSharding) and s.sharded_dim == 0
  assert s.device_set == y.devices() == set(rjax.local_devices()[:n])
  assert s.num_devices == n and s.is_fully_replicated == (n == 1)
  assert s.shard_shape((n, 4)) == (4,)
  idx = s.devices_indices_map((n, 4))
  for i, shard in enumerate(y.addressable_shards):
    assert idx[shard.device][0] == i
    np.testing.assert_array_equal(shard.data, np.asarray(y)[idx[shard.device]])
  assert y.committed
  assert s == PmapSharding.default((n, 4))
  with pytest.raises(ValueError):
    s.devices_indices_map((n + 1, 4))


def test_make_array_from_callback_and_friends():
  n = min(rjax.local_device_count(), 2)
  data = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
  s = PmapSharding.default((n, 3))
  x = rjax.make_array_from_callback((n, 3), s, lambda idx: data[idx])
  assert isinstance(x.sharding, PmapSharding)
  np.testing.assert_array_equal(x, data)
  np.testing.assert_array_equal(rjax.pmap(lambda v: v + 1)(x), data + 1)
  y = rjax.make_array_from_single_device_arrays((n, 3), s, [jnp.asarray(r) for r in data])
  np.testing.assert_array_equal(y, data)
  z = rjax.make_array_from_process_local_data(s, data)
  np.testing.assert_array_equal(z, data)
  one = SingleDeviceSharding(rjax.devices()[0])
  w = rjax.make_array_from_callback((n, 3), one, lambda idx: data[idx])
  np.testing.assert_array_equal(w, data)
  # JAX gives the same values for a single-device sharding
  jw = jax.make_array_from_callback((n, 3), jax.sharding.SingleDeviceSharding(jax.devices()[0]),
                                    lambda idx: data[idx])
  np.testing.assert_array_equal(w, jw)
  with pytest.raises(ValueError):
    rjax.make_array_from_single_device_arrays((n, 3), s, [jnp.ones(2)] * n)
  with pytest.raises(ValueError):
    rjax.make_array_from_single_device_arrays((n, 3), one, [jnp.ones((n, 3))] * 2)
  with pytest.raises(TypeError):
    rjax.make_array_from_callback((2,), "bad", lambda i: 0)


def test_partition_spec_is_plain_data_like_jax():
  for parts in [(), ("a",), ("a", None), ("a", ("b", "c")), (None, ["x", "y"]), (("b",),)]:
    p, jp = PartitionSpec(*parts), jax.sharding.PartitionSpec(*parts)
    assert repr(p) == repr(jp) and tuple(p) == tuple(jp) and len(p) == len(jp)
    assert p == PartitionSpec(*parts) and hash(p) == hash(PartitionSpec(*parts))
    assert (p == tuple(p)) == (jp == tuple(jp))
    assert list(p) == list(jp) and all(a == b for a, b in zip(p, jp))
  assert repr(PartitionSpec(PartitionSpec.UNCONSTRAINED)) == "P(UNCONSTRAINED,)"
  assert PartitionSpec(("b",)) == PartitionSpec("b")
  assert PartitionSpec("a", None) != PartitionSpec("a")


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float32, np.int32, np.uint8, np.bool_, np.float64,
                                   np.int64, np.float16]),
                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
       st.sampled_from([None, True]))
def test_from_dlpack_round_trips(a, copy):
  x = rjax.dlpack.from_dlpack(a, copy=copy)
  assert x.shape == a.shape and x.dtype == a.dtype
  np.testing.assert_array_equal(np.asarray(x), a)
  if a.size and copy is None and a.flags.c_contiguous:
    assert x._buf.borrowed            # zero-copy
  if copy:
    assert not x._buf.borrowed
  np.testing.assert_array_equal(np.from_dlpack(x), a)        # and back out
  np.testing.assert_array_equal(jnp.from_dlpack(a), a)


def test_from_dlpack_with_jax_and_strided():
  j = jax.numpy.arange(8.0).reshape(2, 4)
  x = rjax.dlpack.from_dlpack(j)
  np.testing.assert_array_equal(x, np.asarray(j))
  np.testing.assert_array_equal(jax.dlpack.from_dlpack(jnp.arange(5)), np.arange(5))
  a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
  y = rjax.dlpack.from_dlpack(a)
  np.testing.assert_array_equal(y, a)
  with pytest.raises(BufferError):
    rjax.dlpack.from_dlpack(a, copy=False)
  assert (x.__dlpack_device__()) == (1, 0)
  with pytest.raises(TypeError):
    rjax.dlpack.from_dlpack([1, 2])
  assert rjax.dlpack.is_supported_dtype(np.float32) and rjax.dlpack.is_supported_dtype("int8")
  for dt in (np.complex64, np.complex128, np.float16, np.uint64):   # as JAX's
    assert rjax.dlpack.is_supported_dtype(dt) == jax.dlpack.is_supported_dtype(dt)
  assert rjax.dlpack.is_supported_dtype(np.float32) == jax.dlpack.is_supported_dtype(np.float32)


def test_top_level_runtime_names():
  assert rjax.float0 == jax.float0
  assert rjax.process_indices() == jax.process_indices() == [0]
  for name in ["host_count", "host_id", "host_ids"]:
    with pytest.warns(UserWarning, match="renamed"):
      got = getattr(rjax, name)()
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      assert got == getattr(jax, name)()
  info = rjax.print_environment_info(return_string=True)
  assert "numpy:" in info and "device info: cpu-" in info
  x = {"a": jnp.ones(2)}
  assert rjax.copy_to_host_async(x) is x


def test_typing_names():
  import typing as _t
  import rjax.typing as rt
  assert rjax.Array in _t.get_args(rt.ArrayLike) and np.ndarray in _t.get_args(rt.ArrayLike)
  assert int in _t.get_args(rt.ArrayLike) and list not in _t.get_args(rt.ArrayLike)
  assert str in _t.get_args(rt.DTypeLike) and np.dtype in _t.get_args(rt.DTypeLike)

  def f(x: rt.ArrayLike, dtype: rt.DTypeLike = None) -> rjax.Array:
    return jnp.asarray(x, dtype)
  assert _t.get_type_hints(f)["x"] == rt.ArrayLike
