"""Shardings: where an array's pieces live (``jax.sharding``).

rjax places an array on one device (``SingleDeviceSharding``) or, as a
``pmap`` result or input, one slice along an axis per device
(``PmapSharding``: shard ``i`` is ``x[..., i, ...]`` on ``devices[i]``, the
axis squeezed out, as rjax stores it). Meshes and ``NamedSharding`` come
later; ``PartitionSpec`` is here as the plain data it is.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rjax._src.runtime import devices as _devices

__all__ = ["Sharding", "SingleDeviceSharding", "PmapSharding", "PartitionSpec",
           "make_single_device_sharding"]


class Sharding:
  """The base class: a map from devices to the piece of an array of a given
  global shape each one holds."""

  @property
  def device_set(self) -> set:
    raise NotImplementedError

  @property
  def is_fully_replicated(self) -> bool:
    raise NotImplementedError

  @property
  def is_fully_addressable(self) -> bool:
    return all(d.process_index == _devices.process_index() for d in self.device_set)

  @property
  def memory_kind(self) -> str:
    return "device"

  @property
  def num_devices(self) -> int:
    return len(self.device_set)

  @property
  def addressable_devices(self) -> set:
    p = _devices.process_index()
    return {d for d in self.device_set if d.process_index == p}

  def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
    raise NotImplementedError

  def addressable_devices_indices_map(self, global_shape: Sequence[int]) -> dict:
    p = _devices.process_index()
    return {d: i for d, i in self.devices_indices_map(global_shape).items()
            if d.process_index == p}

  def shard_shape(self, global_shape: Sequence[int]) -> tuple:
    raise NotImplementedError

  def is_equivalent_to(self, other: "Sharding", ndim: int) -> bool:
    return self == other

  def with_memory_kind(self, kind: str) -> "Sharding":
    if kind != "device":
      raise ValueError(f"rjax arrays live in device memory only, got memory_kind={kind!r}")
    return self

  @property
  def _device_assignment(self) -> tuple:
    return tuple(sorted(self.device_set, key=lambda d: d.id))


class SingleDeviceSharding(Sharding):
  """The whole array on one device."""

  def __init__(self, device, *, memory_kind: str | None = None):
    if not isinstance(device, _devices.Device):
      raise TypeError(f"SingleDeviceSharding: expected an rjax Device, got {device!r}")
    if memory_kind not in (None, "device"):
      raise ValueError(f"rjax arrays live in device memory only, got memory_kind={memory_kind!r}")
    self._device = device

  @property
  def device_set(self) -> set:
    return {self._device}

  @property
  def is_fully_replicated(self) -> bool:
    return True

  def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
    return {self._device: (slice(None),) * len(global_shape)}

  def shard_shape(self, global_shape: Sequence[int]) -> tuple:
    return tuple(global_shape)

  def __eq__(self, other):
    return isinstance(other, SingleDeviceSharding) and other._device == self._device

  def __hash__(self):
    return hash(("SingleDeviceSharding", self._device))

  def __repr__(self):
    return f"SingleDeviceSharding(device={self._device!r}, memory_kind=device)"


def make_single_device_sharding(device) -> SingleDeviceSharding:
  return SingleDeviceSharding(device)


class PmapSharding(Sharding):
  """One slice along ``sharded_dim`` per device: device ``devices[i]`` holds
  ``x[(slice(None),) * sharded_dim + (i,)]`` (a ``pmap``'s inputs and outputs)."""

  def __init__(self, devices: Sequence[Any], sharded_dim: int = 0):
    self.devices = np.array(list(devices), dtype=object)
    self.sharded_dim = int(sharded_dim)

  @classmethod
  def default(cls, shape: Sequence[int], sharded_dim: int = 0, devices=None) -> "PmapSharding":
    n = shape[sharded_dim]
    devs = list(devices) if devices is not None else _devices.local_devices()[:n]
    if len(devs) != n:
      raise ValueError(f"PmapSharding.default: {n} shards along axis {sharded_dim} but "
                       f"{len(devs)} devices")
    return cls(devs, sharded_dim)

  @property
  def device_set(self) -> set:
    return set(self.devices.tolist())

  @property
  def is_fully_replicated(self) -> bool:
    return len(self.devices) == 1

  def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
    n = global_shape[self.sharded_dim]
    if n != len(self.devices):
      raise ValueError(f"PmapSharding over {len(self.devices)} devices cannot map an array "
                       f"of shape {tuple(global_shape)} (axis {self.sharded_dim} has {n})")
    before = (slice(None),) * self.sharded_dim
    after = (slice(None),) * (len(global_shape) - self.sharded_dim - 1)
    return {d: before + (i,) + after for i, d in enumerate(self.devices.tolist())}

  def shard_shape(self, global_shape: Sequence[int]) -> tuple:
    s = tuple(global_shape)
    return s[:self.sharded_dim] + s[self.sharded_dim + 1:]

  def __eq__(self, other):
    return (isinstance(other, PmapSharding) and other.sharded_dim == self.sharded_dim
            and other.devices.tolist() == self.devices.tolist())

  def __hash__(self):
    return hash(("PmapSharding", tuple(self.devices.tolist()), self.sharded_dim))

  def __repr__(self):
    return (f"PmapSharding(devices={self.devices.tolist()!r}, "
            f"sharded_dim={self.sharded_dim})")


class _Unconstrained:
  def __repr__(self):
    return "UNCONSTRAINED"


class PartitionSpec:
  """How each array axis is split over mesh axes: per axis, None (not
  split), a mesh axis name, or a tuple of names (``P('x', None, ('y', 'z'))``).
  Plain data with JAX's repr, equality and hashing (a one-name tuple is the
  name); it compares equal only to another PartitionSpec, as in JAX."""

  UNCONSTRAINED = _Unconstrained()
  __slots__ = ("_partitions", "_unreduced", "_reduced")

  def __init__(self, *partitions, unreduced=frozenset(), reduced=frozenset()):
    parts = []
    for p in partitions:
      if isinstance(p, list):
        p = tuple(p)
      if isinstance(p, tuple) and len(p) == 1:
        p = p[0]
      parts.append(p)
    self._partitions = tuple(parts)
    self._unreduced = frozenset(unreduced)
    self._reduced = frozenset(reduced)

  @property
  def unreduced(self):
    return self._unreduced

  @property
  def reduced(self):
    return self._reduced

  def __iter__(self):
    return iter(self._partitions)

  def __len__(self):
    return len(self._partitions)

  def __getitem__(self, i):
    return self._partitions[i]

  def __repr__(self):
    body = ", ".join("UNCONSTRAINED" if p is PartitionSpec.UNCONSTRAINED else repr(p)
                     for p in self._partitions)
    return f"P({body}{',' if len(self._partitions) == 1 else ''})"

  def __eq__(self, other):
    return (isinstance(other, PartitionSpec) and self._partitions == other._partitions
            and self._unreduced == other._unreduced and self._reduced == other._reduced)

  def __ne__(self, other):
    return not self == other

  def __hash__(self):
    return hash((self._partitions, self._unreduced, self._reduced))

  def __reduce__(self):
    return (PartitionSpec, self._partitions)

  def _normalized_spec_for_aval(self, ndim: int) -> "PartitionSpec":
    return PartitionSpec(*(list(self._partitions) + [None] * (ndim - len(self._partitions))))

  def update(self, **kwargs) -> "PartitionSpec":
    parts = kwargs.pop("partitions", self._partitions)
    return PartitionSpec(*parts, unreduced=kwargs.pop("unreduced", self._unreduced),
                         reduced=kwargs.pop("reduced", self._reduced))
