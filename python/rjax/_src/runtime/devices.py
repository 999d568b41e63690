"""Devices: each virtual CPU device is a Rust worker thread with its own
in-order queue and its own share of the cores (a rayon pool).

The number of devices is ``RJAX_NUM_CPU_DEVICES`` or the config option
``rjax_num_cpu_devices`` (default 1, as JAX), fixed at the first use.
With MPI (``rjax.distributed.initialize()``) the global device list holds
every process's local devices.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Sequence

from rjax._rjax import InternalError, device_threads, init_devices, set_transport
from rjax._rjax import synchronize as _synchronize
from rjax._src.base.config import config


class Device:
  """A CPU device (``jax.Device``)."""

  platform = "cpu"
  device_kind = "cpu"

  def __init__(self, id: int, local_id: int, process_index: int, threads: int):
    self.id = id
    self.local_id = local_id
    self.process_index = process_index
    self.threads = threads

  @property
  def local_hardware_id(self) -> int:
    return self.local_id

  def __repr__(self) -> str:
    # JAX's repr (programs print devices); the thread count is `.threads`
    return f"CpuDevice(id={self.id})"

  def __eq__(self, other) -> bool:
    return isinstance(other, Device) and other.id == self.id

  def __hash__(self) -> int:
    return hash(("rjax-cpu", self.id))


_lock = threading.Lock()
_local: list[Device] | None = None
_global: list[Device] | None = None
_process = {"index": 0, "count": 1}
_transport = {"set": False}   # a cross-process transport (rjax.distributed, MPI)


def _ensure() -> list[Device]:
  global _local, _global
  if _local is None:
    with _lock:
      if _local is None:
        threads = init_devices(int(config.read("rjax_num_cpu_devices")))
        n = len(threads)
        p = _process["index"]
        _local = [Device(p * n + i, i, p, t) for i, t in enumerate(threads)]
        _global = [Device(q * n + i, i, q, threads[i]) if q != p else _local[i]
                   for q in range(_process["count"]) for i in range(n)]
  return _local


def _check_count(n) -> None:
  """Create the devices now (so no later work creates them with another
  count), or refuse if they already exist with another count."""
  try:
    init_devices(int(n))
  except InternalError:
    raise RuntimeError(f"rjax_num_cpu_devices must be set before the devices are first used "
                       f"(rjax already runs with {len(device_threads())} CPU "
                       f"device(s))") from None


config.on_change("rjax_num_cpu_devices", _check_count)


def _set_process(index: int, count: int) -> None:
  """Called by ``rjax.distributed.initialize`` before any device is used."""
  global _local, _global
  with _lock:
    _process.update(index=index, count=count)
    _local = _global = None


def install_transport(rank: int | None, size: int = 1, allgather=None) -> None:
  """Install (``rjax.distributed.initialize``) or remove (``rank=None``) the
  transport through which collectives meet the other processes."""
  if rank is None:
    set_transport(None)
  else:
    set_transport(rank, size, allgather)
  _transport["set"] = rank is not None


def spanning(devs) -> bool:
  """True when ``devs`` (a pmap's devices, global order) are every device of
  every process, so its collectives cross processes."""
  return _transport["set"] and process_count() > 1 and list(devs) == devices()


def synchronize() -> None:
  """Wait until the work queued on every device has run."""
  _synchronize()


def local_devices(process_index: int | None = None, backend: str | None = None) -> list[Device]:
  devs = _ensure()
  if process_index is not None and process_index != _process["index"]:
    return [d for d in _global if d.process_index == process_index]
  return list(devs)


def devices(backend: str | None = None) -> list[Device]:
  _ensure()
  return list(_global)


def device_count(backend: str | None = None) -> int:
  return len(devices())


def local_device_count(backend: str | None = None) -> int:
  return len(_ensure())


def process_index(backend: str | None = None) -> int:
  return _process["index"]


def process_count(backend: str | None = None) -> int:
  return _process["count"]


_default = threading.local()


def default_device_obj() -> Device:
  d = getattr(_default, "device", None)
  return d if d is not None else _ensure()[0]


@contextlib.contextmanager
def default_device(device: Device | None):
  """Make ``device`` the default for new arrays in this thread
  (``jax.default_device``)."""
  prev = getattr(_default, "device", None)
  _default.device = device
  try:
    yield
  finally:
    _default.device = prev


def check_local(devs: Sequence[Any]) -> list[Device]:
  local = _ensure()
  out = []
  for d in devs:
    if not isinstance(d, Device):
      raise TypeError(f"expected an rjax Device, got {d!r}")
    if d.process_index != _process["index"]:
      raise ValueError(f"{d} belongs to process {d.process_index}, not this process")
    out.append(local[d.local_id])
  return out
