"""``rjax.Array``: an immutable array whose data lives in a Rust buffer.

Operators and NumPy-style methods (and iteration) are attached by
``numpy/array_methods.py`` (shared with tracers, so the same code works under
every transformation): this layer sits below rjax.numpy.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from rjax._rjax import Buffer
from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.runtime import devices
from rjax._src.runtime.sharding import SingleDeviceSharding


class Array:
  """An immutable n-dimensional array (``jax.Array``)."""

  __slots__ = ("_buf", "aval", "_npy", "_dev", "__weakref__")
  __array_priority__ = 100

  def __init__(self, *args, **kwargs):
    raise TypeError("rjax.Array cannot be constructed directly; use rjax.numpy.asarray")

  @classmethod
  def _from_buffer(cls, buf: Buffer, aval: ShapedArray) -> "Array":
    self = object.__new__(cls)
    self._buf = buf
    self.aval = aval
    self._npy = None
    self._dev = None
    return self

  # -- basic properties -----------------------------------------------------
  @property
  def shape(self) -> tuple[int, ...]:
    return self.aval.shape

  @property
  def dtype(self) -> np.dtype:
    return self.aval.dtype

  @property
  def weak_type(self) -> bool:
    return self.aval.weak_type

  @property
  def ndim(self) -> int:
    return len(self.aval.shape)

  @property
  def size(self) -> int:
    return self.aval.size

  @property
  def nbytes(self) -> int:
    return self.aval.size * self.aval.dtype.itemsize

  @property
  def itemsize(self) -> int:
    return self.aval.dtype.itemsize

  @property
  def device(self):
    """The device holding this array (``jax.Array.device``)."""
    if self._dev is None:
      return devices.local_devices()[0]
    return self._dev

  def devices(self) -> set:
    return {self.device}

  @property
  def sharding(self):
    """Where the array lives: a ``SingleDeviceSharding`` (a pmap result's is
    a ``PmapSharding``)."""
    return SingleDeviceSharding(self.device)

  @property
  def committed(self) -> bool:
    """Whether the array was placed on its device explicitly (``device_put``
    with a device, a pmap); an uncommitted array may move to where it is used."""
    return self._dev is not None

  @property
  def is_fully_replicated(self) -> bool:
    return self.sharding.is_fully_replicated

  @property
  def is_fully_addressable(self) -> bool:
    return self.sharding.is_fully_addressable

  @property
  def addressable_shards(self) -> list:
    return [Shard(self.device, tuple(slice(None) for _ in self.shape), self)]

  @property
  def global_shards(self) -> list:
    """Every device's shard (one process: the addressable ones)."""
    return self.addressable_shards

  def addressable_data(self, index: int) -> "Array":
    """The data of addressable shard ``index``."""
    return self.addressable_shards[index].data

  def copy_to_host_async(self) -> None:
    """Start copying the value to host memory without waiting. rjax's devices
    compute in host memory, so there is nothing to copy: this returns at once,
    and ``np.asarray`` waits only for the computation."""
    if self._buf is None:
      raise RuntimeError("Array has been deleted (e.g. donated to a jitted function).")

  def block_until_ready(self) -> "Array":
    """Wait until the value is computed (work runs asynchronously on the
    device); an error raised by the work that computes it is raised here."""
    if self._buf is None:
      raise RuntimeError("Array has been deleted (e.g. donated to a jitted function).")
    self._buf.wait()
    return self

  def is_ready(self) -> bool:
    """Whether the value is computed (``jax.Array.is_ready``)."""
    if self._buf is None:
      raise RuntimeError("Array has been deleted (e.g. donated to a jitted function).")
    return self._buf.is_ready()

  def is_deleted(self) -> bool:
    return self._buf is None

  def delete(self) -> None:
    """Release this array's memory now (``jax.Array.delete``); using it
    afterwards raises RuntimeError. Donated arguments are deleted this way."""
    self._buf = None
    self._npy = None

  # -- NumPy interop ----------------------------------------------------------
  def _value(self) -> np.ndarray:
    """A read-only NumPy view of the data (zero-copy)."""
    v = self._npy
    if v is None:
      if self._buf is None:
        raise RuntimeError("Array has been deleted (e.g. donated to a jitted function).")
      raw = self._buf.as_bytes()
      raw.flags.writeable = False
      v = raw.view(self.aval.dtype).reshape(self.aval.shape)
      self._npy = v
    return v

  def __array__(self, dtype=None, copy=None):
    v = self._value()
    if dtype is not None and np.dtype(dtype) != v.dtype:
      if copy is False:
        raise ValueError("converting to another dtype requires a copy")
      return v.astype(dtype)
    if copy:
      return v.copy()
    return v

  def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    v = self._value()
    try:
      if max_version is None:
        return v.__dlpack__(stream=stream)
      return v.__dlpack__(stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)
    except BufferError:
      # Older DLPack consumers cannot receive a read-only tensor: give a copy.
      return v.copy().__dlpack__(stream=stream)

  def __dlpack_device__(self) -> tuple[int, int]:
    return (1, 0)  # kDLCPU, device 0

  def item(self, *args):
    return self._value().item(*args)

  def tolist(self):
    return self._value().tolist()

  def __bool__(self) -> bool:
    if self.size != 1:
      raise ValueError("The truth value of an array with more than one element is "
                       "ambiguous. Use a.any() or a.all()")
    return bool(self._value().reshape(()))

  def __int__(self) -> int:
    if self.size != 1:
      raise TypeError("only length-1 arrays can be converted to Python scalars")
    return int(self._value().reshape(()))

  def __float__(self) -> float:
    if self.size != 1:
      raise TypeError("only length-1 arrays can be converted to Python scalars")
    return float(self._value().reshape(()))

  def __complex__(self) -> complex:
    return complex(self._value().reshape(()))

  def __index__(self) -> int:
    if self.ndim != 0 or not dtypes.is_int(self.dtype) and not dtypes.is_bool(self.dtype):
      raise TypeError("only integer scalar arrays can be converted to a scalar index")
    return int(self._value())

  def __len__(self) -> int:
    if self.ndim == 0:
      raise TypeError("len() of unsized object")
    return self.shape[0]

  def __hash__(self):
    raise TypeError("unhashable type: 'Array'")

  def __setitem__(self, idx, value):
    raise TypeError(
        "rjax arrays are immutable and do not support in-place item assignment. "
        "Instead of x[idx] = y, use x = x.at[idx].set(y) or another .at[] method "
        "(as in JAX: https://docs.jax.dev/en/latest/_autosummary/jax.numpy.ndarray.at.html)")

  def __repr__(self) -> str:
    prefix = "Array("
    dtype_str = f"dtype={self.dtype.name}"
    if self.weak_type:
      dtype_str += ", weak_type=True"
    # JAX's repr, to the character (programs print arrays): a dtype that
    # does not fit the last line is set off by spaces, not a new line
    line_width = np.get_printoptions()["linewidth"]
    if self.size == 0:
      s = f"[], shape={self.shape}"
    else:
      s = np.array2string(self._value(), prefix=prefix, suffix=",", separator=", ",
                          max_line_width=line_width)
    last_line_len = len(s) - s.rfind("\n") + 1
    sep = " "
    if last_line_len + len(dtype_str) + 2 > line_width:
      sep = " " * len(prefix)
    return f"{prefix}{s},{sep}{dtype_str})"

  def __str__(self) -> str:
    return str(self._value())

  def __format__(self, spec: str) -> str:
    if self.ndim == 0:
      return format(self._value().item(), spec)
    return format(self._value(), spec)

  def __reduce__(self):
    return (from_numpy, (np.array(self._value()),))

  def copy(self) -> "Array":
    return self

  def __copy__(self):
    return self

  def __deepcopy__(self, memo):
    return self


class Shard:
  """One device's piece of an array (``jax.Shard``)."""

  def __init__(self, device, index, data, replica_id: int = 0):
    self.device, self.index, self.data, self.replica_id = device, index, data, replica_id

  def __repr__(self) -> str:
    return (f"Shard(device={self.device!r}, index={self.index}, replica_id={self.replica_id}, "
            f"data={self.data})")


def _immutable_root(x: np.ndarray):
  """The object at the end of ``x``'s base chain if no array on the way can
  ever be written (so ``x``'s memory is immutable), else None."""
  b = x.base
  while isinstance(b, np.ndarray):
    if b.flags.writeable:
      return None
    b = b.base
  return b if isinstance(b, (Buffer, bytes)) else None


def _np_to_buffer(x: np.ndarray, dtype: np.dtype) -> Buffer:
  shape = list(np.shape(x))
  if (x.dtype == dtype and x.size and not x.flags.writeable and x.flags.c_contiguous
      and x.flags.aligned):
    root = _immutable_root(x)
    if isinstance(root, Buffer):
      # An array that rjax produced: reuse its buffer when x spans all of it.
      raw = root.as_bytes()
      if (x.nbytes == root.nbytes and x.__array_interface__["data"][0]
          == raw.__array_interface__["data"][0]):
        return root.view(dtype.name, shape)
    if root is not None:
      return Buffer.borrow(x.reshape(-1).view(np.uint8), dtype.name, shape)
  x = np.ascontiguousarray(x, dtype=dtype)  # (0-d input comes back 1-d)
  return Buffer.from_bytes(x.reshape(-1).view(np.uint8), dtype.name, shape)


def from_numpy(x: Any, dtype: Any = None, weak_type: bool = False) -> Array:
  """Copy a NumPy array (or array-like) into a new rjax Array."""
  x = np.asarray(x)
  if x.dtype == object:
    raise TypeError("rjax cannot build an array from objects of mixed or unknown type")
  dt = dtypes.canonicalize_dtype(x.dtype if dtype is None else dtype)
  return Array._from_buffer(_np_to_buffer(x, dt), ShapedArray(x.shape, dt, weak_type))


def from_scalar(x: Any, dtype: Any = None) -> Array:
  """A 0-d Array from a Python scalar; weakly typed unless ``dtype`` is given."""
  if dtype is None:
    dt, weak = dtypes.dtype_and_weak(x)
  else:
    dt, weak = dtypes.canonicalize_dtype(dtype), False
  if isinstance(x, float) and dtypes.is_int(dt):
    raise TypeError(f"cannot convert float {x} to {dt} without a cast")
  if isinstance(x, int) and not isinstance(x, bool) and dtypes.is_int(dt):
    info = np.iinfo(dt)
    if not info.min <= x <= info.max:
      raise OverflowError(f"Python int {x} too large to convert to {dt.name}")
  if dtypes.is_complex(dt):
    # (Buffer.scalar takes real values; a complex scalar goes through NumPy)
    return Array._from_buffer(_np_to_buffer(np.asarray(x, dt), dt), ShapedArray((), dt, weak))
  return Array._from_buffer(Buffer.scalar(x, dt.name), ShapedArray((), dt, weak))


def to_array(x: Any) -> Array:
  """Concrete value -> Array (Arrays pass through)."""
  if isinstance(x, Array):
    return x
  if isinstance(x, (bool, int, float, complex)):
    return from_scalar(x)
  if isinstance(x, core.Tracer):
    raise TypeError(f"to_array: got a tracer {x}")
  if hasattr(x, "__jax_array__"):
    return to_array(x.__jax_array__())
  return from_numpy(x)
