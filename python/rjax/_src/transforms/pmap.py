"""``rjax.pmap``: one compiled Program run on every device at once.

The function is traced once per signature on one shard's avals (the mapped
axis removed) with its ``axis_name`` in scope, lowered to one Program, and
compiled once. A call splits the mapped axis of each argument across the
devices and queues one replica per device (``Executable.run_replicas``); the
replicas run concurrently on their device threads and meet in the
collectives (psum, all_gather, ...), which the Rust runtime performs with a
rendezvous and a fixed reduction order. Results are ``ShardedArray``\\ s whose
shards stay on their devices until read; passing them to the next pmap call
uses the shards in place.

Under another transformation (grad, vmap, jit, make_jaxpr) ``pmap(f)`` means
``vmap(f, axis_name=...)``: the same values, computed where the enclosing
computation runs.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.base.config import config
from rjax._src.core import ShapedArray
from rjax._src.interpreters import batching, lowering
from rjax._src.interpreters import partial_eval as pe
from rjax._src.lax import shapes, slicing
from rjax._src.runtime import devices as _devices
from rjax._src.runtime.array import Array, Shard, to_array
from rjax._src.runtime.sharding import PmapSharding
from rjax._src.transforms.jit import Lowered


class ShardedArray(Array):
  """An array split along ``axis`` into one shard per device. Reading it as
  a whole (``np.asarray``, printing, an op that is not a pmap) gathers the
  shards once."""

  __slots__ = ("_shards", "_axis", "_whole")

  @classmethod
  def _from_shards(cls, shards: Sequence[Array], axis: int, aval: ShapedArray):
    self = object.__new__(cls)
    self._shards = list(shards)
    self._axis = axis
    self._whole = None
    self.aval = aval
    self._npy = None
    self._dev = None
    return self

  @property
  def _buf(self):
    if self._shards is None:
      return None
    if self._whole is None:
      parts = [shapes.expand_dims(s, (self._axis,)) for s in self._shards]
      self._whole = shapes.concatenate(parts, self._axis)._buf
    return self._whole

  @_buf.setter
  def _buf(self, value):
    if value is not None:
      raise AttributeError("a ShardedArray's buffer cannot be replaced")
    self._shards = None
    self._whole = None

  @property
  def device(self):
    raise ValueError("a ShardedArray lives on several devices; use .devices() or "
                     ".addressable_shards")

  def devices(self) -> set:
    self._check_live()
    return {s.device for s in self._shards}

  @property
  def sharding(self):
    """One shard per device along ``axis`` (a ``PmapSharding``)."""
    self._check_live()
    return PmapSharding([s.device for s in self._shards], self._axis)

  @property
  def committed(self) -> bool:
    return True

  @property
  def addressable_shards(self) -> list:
    self._check_live()
    out = []
    for i, s in enumerate(self._shards):
      idx = tuple(slice(None) for _ in range(self._axis)) + (i,)
      out.append(Shard(s.device, idx, s))
    return out

  def _check_live(self):
    if self._shards is None:
      raise RuntimeError("Array has been deleted (e.g. donated to a pmapped function).")

  def block_until_ready(self):
    self._check_live()
    for s in self._shards:
      s.block_until_ready()
    return self

  def is_ready(self) -> bool:
    self._check_live()
    return all(s.is_ready() for s in self._shards)

  def is_deleted(self) -> bool:
    return self._shards is None

  def delete(self) -> None:
    if self._shards is not None:
      for s in self._shards:
        s.delete()
    self._shards = None
    self._whole = None
    self._npy = None


def _on_device(x: Array, dev) -> Array:
  """The same buffer, placed on ``dev`` (CPU devices share memory)."""
  out = Array._from_buffer(x._buf, x.aval)
  out._dev = dev
  return out


def device_put(x, device=None):
  """Place ``x`` (a pytree) on ``device`` (default: the default device)."""
  dev = device if device is not None else _devices.default_device_obj()
  if not isinstance(dev, _devices.Device):
    raise TypeError(f"device_put: expected an rjax Device, got {dev!r}")
  _devices.check_local([dev])
  return tree_util.tree_map(lambda l: _on_device(to_array(l), dev), x)


def device_put_sharded(shards: Sequence[Any], devices: Sequence[Any]):
  """Stack ``shards`` (pytrees of equal structure) along a new leading axis,
  shard ``i`` on ``devices[i]``."""
  devs = _devices.check_local(devices)
  if len(shards) != len(devs):
    raise ValueError(f"device_put_sharded: {len(shards)} shards for {len(devs)} devices")

  def one(*leaves):
    arrs = [to_array(l) for l in leaves]
    a0 = arrs[0].aval
    if any(a.aval.shape != a0.shape or a.aval.dtype != a0.dtype for a in arrs):
      raise ValueError("device_put_sharded: the shards must have equal shapes and dtypes")
    return ShardedArray._from_shards([_on_device(a, d) for a, d in zip(arrs, devs)], 0,
                                     ShapedArray((len(arrs),) + a0.shape, a0.dtype))

  return tree_util.tree_map(one, *shards)


def device_put_replicated(x, devices: Sequence[Any]):
  """``x`` (a pytree) on every device, stacked along a new leading axis."""
  devs = _devices.check_local(devices)
  return device_put_sharded([x] * len(devs), devs)


# ---------------------------------------------------------------------------


def _static_nums(nums, n_args) -> set:
  if isinstance(nums, int):
    nums = (nums,)
  return {i % n_args for i in nums if -n_args <= i < n_args}


class _Entry:
  __slots__ = ("exe", "out_tree", "out_avals", "jaxpr", "ctx", "out_dims")


class PmapWrapped:
  def __init__(self, fun, axis_name, in_axes, out_axes, static_broadcasted_argnums, devices,
               donate_argnums, axis_size):
    functools.update_wrapper(self, fun, updated=())
    self._fun = fun
    self._axis_name = axis_name
    self._in_axes = tuple(in_axes) if isinstance(in_axes, list) else in_axes
    self._out_axes = out_axes
    self._static = (static_broadcasted_argnums,) \
        if isinstance(static_broadcasted_argnums, int) else tuple(static_broadcasted_argnums)
    self._devices = devices
    self._donate = (donate_argnums,) if isinstance(donate_argnums, int) else \
        tuple(donate_argnums)
    self._axis_size = axis_size
    self._cache: dict = {}
    self._lock = threading.Lock()

  def __get__(self, obj, objtype=None):
    return self if obj is None else functools.partial(self, obj)

  def _bind_static(self, args):
    static = _static_nums(self._static, len(args))
    if not static:
      return self._fun, args, ()
    svals = tuple((i, args[i]) for i in sorted(static))
    for _, v in svals:
      try:
        hash(v)
      except TypeError:
        raise ValueError(f"Non-hashable static arguments are not supported: {v!r}") from None
    dyn = tuple(a for i, a in enumerate(args) if i not in static)

    def f(*dargs, **kw):
      it = iter(dargs)
      full = [args[i] if i in static else next(it) for i in range(len(args))]
      return self._fun(*full, **kw)

    return f, dyn, svals

  def _dyn_in_axes(self, args):
    in_axes = self._in_axes
    if isinstance(in_axes, tuple):
      static = _static_nums(self._static, len(args))
      if len(in_axes) != len(args):
        raise ValueError(f"pmap in_axes must be an int, None, or a tuple of entries corresponding "
                         f"to the positional arguments passed to the function, but got "
                         f"len(in_axes)={len(in_axes)}, len(args)={len(args)}")
      in_axes = tuple(a for i, a in enumerate(in_axes) if i not in static)
    return in_axes

  def __call__(self, *args, **kwargs):
    in_axes = self._dyn_in_axes(args)
    f, dyn, svals = self._bind_static(args)
    if core.current_trace() is not core.eval_trace:
      # Inside another transformation: the same values as vmap.
      return batching.vmap(f, in_axes=in_axes, out_axes=self._out_axes, axis_name=self._axis_name,
                  axis_size=self._axis_size)(*dyn, **kwargs)
    flat, in_tree = tree_util.tree_flatten((dyn, kwargs))
    spec = (in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(dyn), 0)
    dims = batching.broadcast_prefix(spec, (dyn, kwargs), "in_axes")
    flat = [x if isinstance(x, Array) else to_array(x) for x in flat]
    canon, n = batching.mapped_axes("pmap", flat, dims, (dyn, kwargs), self._axis_size)
    leaves = list(zip(flat, canon))
    avals = [x.aval if d is None else
             ShapedArray(x.aval.shape[:d] + x.aval.shape[d + 1:], x.aval.dtype, x.aval.weak_type)
             for x, d in leaves]
    devs, spanning = self._pick_devices(n)
    axis_size = n * _devices.process_count() if spanning else n
    key = (in_tree, tuple(dims), tuple(avals), svals, n, tuple(d.id for d in devs), spanning,
           bool(config.read("jax_enable_x64")))
    entry = self._cache.get(key)
    if entry is None:
      entry = self._compile(f, in_tree, avals, axis_size, args, kwargs)
      with self._lock:
        self._cache[key] = entry
    per_dev = [[] for _ in range(n)]
    for x, d in leaves:
      for r, buf in enumerate(_shard_bufs(x, d, n, devs)):
        per_dev[r].append(buf)
    outs = entry.exe.run_replicas(per_dev, [d.local_id for d in devs], spanning)
    if self._donate:
      donated = [args[i] for i in sorted(_static_nums(self._donate, len(args)))]
      for x in tree_util.tree_leaves(donated):
        if isinstance(x, Array):
          x.delete()
    results = []
    for k, (aval, od) in enumerate(zip(entry.out_avals, entry.out_dims)):
      shards = []
      for r, dev in enumerate(devs):
        a = Array._from_buffer(outs[r][k], aval)
        a._dev = dev
        shards.append(a)
      if od is None:
        results.append(shards[0])
      else:
        od = od % (aval.ndim + 1)
        whole = ShapedArray(aval.shape[:od] + (n,) + aval.shape[od:], aval.dtype)
        results.append(ShardedArray._from_shards(shards, od, whole))
    return tree_util.tree_unflatten(entry.out_tree, results)

  def _pick_devices(self, n: int):
    """This process's devices for a mapped axis of size ``n``, and whether
    the pmap spans every process (``rjax.distributed``): then each process
    maps its local devices and the collectives see all of them."""
    if self._devices is not None:
      if _devices.spanning(self._devices):
        devs = _devices.local_devices()
        if n != len(devs):
          raise ValueError(f"pmap over the devices of all {_devices.process_count()} processes: "
                           f"each process maps its {len(devs)} local devices, but the mapped "
                           f"axis has size {n}")
        return devs, True
      devs = _devices.check_local(self._devices)
      if len(devs) != n:
        raise ValueError(f"pmap: the mapped axis has size {n} but {len(devs)} devices were "
                         f"given")
      return devs, False
    devs = _devices.local_devices()
    if _devices.spanning(_devices.devices()):
      if n != len(devs):
        raise ValueError(f"pmap in a job of {_devices.process_count()} processes: the mapped "
                         f"axis must have the local device count ({len(devs)}) on every "
                         f"process, got {n}")
      return devs, True
    if n > len(devs):
      raise ValueError(f"compiling computation that requires {n} logical devices, but only "
                       f"{len(devs)} XLA devices are available (num_replicas={n})")
    return devs[:n], False

  def _compile(self, f, in_tree, avals, n, args, kwargs):
    box = []

    def flat_fun(*xs):
      a, kw = tree_util.tree_unflatten(in_tree, xs)
      out = f(*a, **kw)
      out_leaves, out_tree = tree_util.tree_flatten(out)
      box.append((out, out_tree))
      return out_leaves

    debug = core.debug_info("pmap", self._fun, args, kwargs)
    with core.extend_axis_env(self._axis_name, n):
      closed = pe.trace_to_jaxpr(flat_fun, list(avals), debug)
      ctx, out_ids = lowering.lower_jaxpr(closed, list(avals))
    e = _Entry()
    e.exe = ctx.compile(out_ids)
    e.out_tree = box[-1][1]
    e.out_avals = closed.out_avals
    e.jaxpr, e.ctx = closed, ctx
    e.out_dims = batching.broadcast_prefix(self._out_axes, box[-1][0], "out_axes")
    return e

  def lower(self, *args, **kwargs):
    """The jaxpr of one replica and its Program (``as_text()``)."""
    self(*args, **kwargs)   # compiles (and runs) once
    entry = list(self._cache.values())[-1]
    return Lowered(entry)

  def _cache_size(self) -> int:
    return len(self._cache)


def _shard_bufs(x: Array, d, n: int, devs) -> list:
  """One buffer per replica: ``x``'s slices along ``d`` (or ``x`` itself when
  unmapped). A ShardedArray split the same way gives its shards."""
  if d is None:
    return [x._buf] * n
  if (isinstance(x, ShardedArray) and x._shards is not None and x._axis == d
      and len(x._shards) == n):
    return [s._buf for s in x._shards]
  if x._buf is None:
    raise RuntimeError("Array has been deleted (e.g. donated to a pmapped function).")
  return [slicing.index_in_dim(x, i, d, keepdims=False)._buf for i in range(n)]


def pmap(fun: Callable | None = None, axis_name: Any = None, *, in_axes: Any = 0,
         out_axes: Any = 0, static_broadcasted_argnums: int | Sequence[int] = (),
         devices: Sequence[Any] | None = None, backend: str | None = None,
         axis_size: int | None = None, donate_argnums: int | Sequence[int] = ()):
  """Run ``fun`` on every device at once, the leading axis of its arguments
  split across the devices (``jax.pmap``)."""
  def wrap(f):
    return PmapWrapped(f, axis_name, in_axes, out_axes, static_broadcasted_argnums, devices,
                       donate_argnums, axis_size)
  return wrap if fun is None else wrap(fun)
