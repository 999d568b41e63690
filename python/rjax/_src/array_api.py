"""Top-level runtime helpers of ``jax``: building arrays from per-device
pieces (``make_array_from_callback``, ``make_array_from_single_device_arrays``,
``make_array_from_process_local_data``), ``copy_to_host_async``,
``print_environment_info`` and the old host-named process queries."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src.base import tree_util
from rjax._src.runtime import devices as _devices
from rjax._src.runtime.array import Array, to_array
from rjax._src.runtime.sharding import PmapSharding, Sharding, SingleDeviceSharding
from rjax._src.transforms.pmap import ShardedArray, device_put

__all__ = ["make_array_from_callback", "make_array_from_single_device_arrays",
           "make_array_from_process_local_data", "copy_to_host_async", "print_environment_info",
           "host_count", "host_id", "host_ids", "process_indices"]


def _check_sharding(name: str, sharding) -> None:
  if not isinstance(sharding, (SingleDeviceSharding, PmapSharding)):
    raise TypeError(f"{name}: rjax supports a SingleDeviceSharding or a PmapSharding, got "
                    f"{sharding!r}")


def _sharded(name: str, pieces: list, sharding: PmapSharding, shape: tuple) -> ShardedArray:
  devs = sharding.devices.tolist()
  want = sharding.shard_shape(shape)
  arrs = []
  for p, d in zip(pieces, devs):
    a = to_array(p)
    if tuple(a.shape) != want:
      raise ValueError(f"{name}: the piece for {d} has shape {tuple(a.shape)}, expected {want} "
                       f"for global shape {shape}")
    arrs.append(device_put(a, d))
  dts = {a.dtype for a in arrs}
  if len(dts) > 1:
    raise ValueError(f"{name}: the pieces have different dtypes {sorted(map(str, dts))}")
  aval = arrs[0].aval.update(shape=shape)
  return ShardedArray._from_shards(arrs, sharding.sharded_dim, aval)


def make_array_from_callback(shape: Sequence[int], sharding: Sharding,
                             data_callback: Callable[[tuple], Any], dtype=None) -> Array:
  """An array of ``shape`` laid out as ``sharding``: each device's piece is
  ``data_callback(index)``, ``index`` that device's index into the global array."""
  _check_sharding("make_array_from_callback", sharding)
  shape = tuple(int(d) for d in shape)
  index_map = sharding.devices_indices_map(shape)
  if isinstance(sharding, SingleDeviceSharding):
    (dev, idx), = index_map.items()
    out = device_put(to_array(np.asarray(data_callback(idx), dtype=dtype)
                              if dtype is not None else data_callback(idx)), dev)
    if tuple(out.shape) != shape:
      raise ValueError(f"make_array_from_callback: the callback returned shape "
                       f"{tuple(out.shape)} for a global shape {shape}")
    return out
  pieces = [data_callback(index_map[d]) for d in sharding.devices.tolist()]
  if dtype is not None:
    pieces = [np.asarray(p, dtype=dtype) for p in pieces]
  return _sharded("make_array_from_callback", pieces, sharding, shape)


def make_array_from_single_device_arrays(shape: Sequence[int], sharding: Sharding,
                                         arrays: Sequence[Array], *, dtype=None) -> Array:
  """An array of ``shape`` from one array per device of ``sharding`` (each
  already that device's piece)."""
  _check_sharding("make_array_from_single_device_arrays", sharding)
  shape = tuple(int(d) for d in shape)
  arrays = list(arrays)
  if isinstance(sharding, SingleDeviceSharding):
    if len(arrays) != 1:
      raise ValueError(f"make_array_from_single_device_arrays: a SingleDeviceSharding takes one "
                       f"array, got {len(arrays)}")
    a = to_array(arrays[0])
    if tuple(a.shape) != shape:
      raise ValueError(f"make_array_from_single_device_arrays: array of shape {tuple(a.shape)} "
                       f"for a global shape {shape}")
    return device_put(a, next(iter(sharding.device_set)))
  if len(arrays) != len(sharding.devices):
    raise ValueError(f"make_array_from_single_device_arrays: {len(arrays)} arrays for "
                     f"{len(sharding.devices)} devices")
  return _sharded("make_array_from_single_device_arrays", arrays, sharding, shape)


def make_array_from_process_local_data(sharding: Sharding, local_data,
                                       global_shape: Sequence[int] | None = None) -> Array:
  """The array whose this-process part is ``local_data``. With one process,
  that is all of it: ``local_data`` laid out as ``sharding``."""
  _check_sharding("make_array_from_process_local_data", sharding)
  data = np.asarray(local_data) if not isinstance(local_data, Array) else local_data
  shape = tuple(data.shape) if global_shape is None else tuple(int(d) for d in global_shape)
  if _devices.process_count() > 1 and shape != tuple(data.shape):
    raise NotImplementedError("make_array_from_process_local_data: several processes need a "
                              "global sharding, which rjax does not have yet")
  if shape != tuple(data.shape):
    raise ValueError(f"make_array_from_process_local_data: local data of shape "
                     f"{tuple(data.shape)} for a global shape {shape} in a single process")
  return make_array_from_callback(shape, sharding, lambda idx: data[idx])


def copy_to_host_async(x: Any) -> Any:
  """Start copying each array leaf of ``x`` to the host (``Array.copy_to_host_async``);
  returns ``x``."""
  for leaf in tree_util.tree_leaves(x):
    if isinstance(leaf, Array):
      leaf.copy_to_host_async()
  return x


def print_environment_info(return_string: bool = False) -> str | None:
  """rjax's version, its dependencies', the devices and the platform (to
  include in a bug report)."""
  try:
    version = importlib.metadata.version("rjax")
  except importlib.metadata.PackageNotFoundError:
    version = "(not installed: running from a checkout)"
  devs = _devices.devices()
  lines = [f"rjax:   {version}",
           f"numpy:  {np.__version__}",
           f"python: {sys.version.replace(chr(10), ' ')}",
           f"device info: {devs[0].device_kind}-{len(devs)}, "
           f"{_devices.local_device_count()} local devices",
           f"process_count: {_devices.process_count()}",
           f"platform: {platform.uname()}"]
  lines += [f"{k}={v}" for k, v in os.environ.items() if k.startswith(("RJAX_", "JAX_"))]
  info = "\n".join(lines)
  if return_string:
    return info
  print(info)
  return None


def _renamed(old: str, new: str) -> None:
  warnings.warn(f"rjax.{old} has been renamed to rjax.{new}. This alias will eventually be "
                f"removed; please update your code.", UserWarning, stacklevel=3)


def host_count(backend=None) -> int:
  """Old name of :func:`rjax.process_count` (warns, as in JAX)."""
  _renamed("host_count", "process_count")
  return _devices.process_count(backend)


def host_id(backend=None) -> int:
  """Old name of :func:`rjax.process_index` (warns, as in JAX)."""
  _renamed("host_id", "process_index")
  return _devices.process_index(backend)


def host_ids(backend=None) -> list[int]:
  """Old name of :func:`rjax.process_indices` (warns, as in JAX)."""
  _renamed("host_ids", "process_indices")
  return process_indices(backend)


def process_indices(backend=None) -> list[int]:
  """The indices of all the processes (``range(process_count())``)."""
  return list(range(_devices.process_count(backend)))
