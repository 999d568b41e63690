"""DLPack import (``jax.dlpack.from_dlpack``, ``jnp.from_dlpack``).

An object with ``__dlpack__``/``__dlpack_device__`` on the CPU (a NumPy array,
a PyTorch CPU tensor, ...) is read through NumPy's DLPack consumer and
becomes an rjax Array that borrows its memory when the layout allows
(C-contiguous, aligned, a dtype rjax has): no copy, as in JAX. As in JAX,
the result then aliases the producer's memory, which must not be written
while the rjax array lives; pass ``copy=True`` to get a private copy.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from rjax._rjax import Buffer
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.runtime import devices as _devices
from rjax._src.runtime.array import Array

__all__ = ["from_dlpack", "is_supported_dtype", "SUPPORTED_DTYPES"]

SUPPORTED_DTYPES = frozenset(dtypes.supported_dtypes)

_KDLCPU = 1


def is_supported_dtype(dtype: Any) -> bool:
  """Whether an array of ``dtype`` can be exchanged through DLPack with rjax."""
  try:
    return np.dtype(dtype) in SUPPORTED_DTYPES
  except TypeError:
    return False


def from_dlpack(external_array, device=None, copy: bool | None = None) -> Array:
  """An rjax Array from any object implementing the DLPack protocol
  (``__dlpack__`` and ``__dlpack_device__``) on the CPU.

  ``copy=None`` borrows the memory when it can and copies otherwise,
  ``copy=True`` always copies, ``copy=False`` raises ``BufferError`` when a
  copy would be needed. ``device`` must be None or an rjax device (the data
  is placed there)."""
  if isinstance(external_array, Array):
    return external_array.copy() if copy else external_array
  if not hasattr(external_array, "__dlpack__"):
    raise TypeError("from_dlpack: expected an object implementing the DLPack protocol "
                    f"(__dlpack__ and __dlpack_device__), got {type(external_array).__name__}. "
                    "Legacy DLPack capsules are not accepted: pass the producing array.")
  if hasattr(external_array, "__dlpack_device__"):
    dev_type, _ = external_array.__dlpack_device__()
    if int(dev_type) != _KDLCPU:
      raise BufferError(f"from_dlpack: rjax runs on CPU devices; the array lives on DLPack "
                        f"device type {int(dev_type)}")
  if device is not None and not isinstance(device, _devices.Device):
    raise TypeError(f"from_dlpack: device must be an rjax Device, got {device!r}")
  view = np.from_dlpack(external_array)
  if not is_supported_dtype(view.dtype):
    raise TypeError(f"from_dlpack: dtype {view.dtype} is not supported by rjax "
                    f"(supported: {', '.join(sorted(d.name for d in SUPPORTED_DTYPES))})")
  dt = np.dtype(view.dtype)
  borrowable = view.flags.c_contiguous and view.flags.aligned and view.size > 0
  if copy is False and not borrowable and view.size > 0:
    raise BufferError("from_dlpack: the array's layout needs a copy (not C-contiguous or not "
                      "aligned) and copy=False")
  if borrowable and not copy:
    buf = Buffer.borrow(view.reshape(-1).view(np.uint8), dt.name, list(view.shape))
  else:
    c = np.ascontiguousarray(view)
    buf = Buffer.from_bytes(c.reshape(-1).view(np.uint8), dt.name, list(view.shape))
  out = Array._from_buffer(buf, ShapedArray(view.shape, dtypes.canonicalize_dtype(dt)
                                            if dtypes.canonicalize_dtype(dt) == dt else dt))
  if device is not None:
    out._dev = device
  return out
