"""The rest of ``jax.debug``: ``breakpoint``, ``log``, ``inspect_array_sharding``,
``visualize_sharding``/``visualize_array_sharding`` and the effect classes.

``breakpoint`` and ``log`` ride on ``debug.callback`` (transforms/callback.py),
so they work eagerly and under ``jit``/``vmap``/``grad`` alike: the values
they see are the concrete ones of the run.
"""
from __future__ import annotations

import inspect
import logging
import pdb
import string
import sys
from typing import Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import tree_util
from rjax._src.runtime import devices as _devices
from rjax._src.runtime.array import Array
from rjax._src.runtime.sharding import Sharding, SingleDeviceSharding
from rjax._src.transforms.callback import debug_callback

__all__ = ["breakpoint", "log", "inspect_array_sharding", "visualize_sharding",
           "visualize_array_sharding", "DebugEffect", "OrderedDebugEffect", "debug_effect",
           "ordered_debug_effect"]


class DebugEffect:
  """The effect of a ``debug.callback``/``debug.print`` (JAX's effect type;
  rjax runs every debug effect in program order)."""

  def __repr__(self):
    return "Debug"


class OrderedDebugEffect(DebugEffect):
  """The effect of an ``ordered=True`` debug callback."""

  def __repr__(self):
    return "OrderedDebug"


debug_effect = DebugEffect()
ordered_debug_effect = OrderedDebugEffect()


# ---------------------------------------------------------------------------
# log


logger = logging.getLogger("rjax._src.debugging")


class _Logger:
  """The callback of one ``debug.log`` call site (hashable, like debug.print's)."""

  __slots__ = ("fmt", "printoptions", "placeholders", "where")

  def __init__(self, fmt: str, printoptions: tuple, placeholders: bool, where: tuple):
    self.fmt, self.printoptions, self.placeholders, self.where = (fmt, printoptions,
                                                                 placeholders, where)

  def _key(self):
    return (self.fmt, self.printoptions, self.placeholders, self.where)

  def __eq__(self, other):
    return type(other) is _Logger and self._key() == other._key()

  def __hash__(self):
    return hash(self._key())

  def __repr__(self):
    return f"log({self.fmt!r})"

  def __call__(self, *args, **kwargs):
    if self.placeholders:
      with np.printoptions(**dict(self.printoptions)):
        msg = self.fmt.format(*args, **kwargs)
    else:
      msg = " ".join((self.fmt, *(str(a) for a in args)))
    filename, lineno = self.where
    logger.handle(logger.makeRecord(logger.name, logging.INFO, filename, lineno, msg, (), None))


def _printoptions() -> tuple:
  return tuple(sorted((k, v) for k, v in np.get_printoptions().items()
                      if isinstance(v, (bool, int, float, str, type(None)))))


def log(fmt: str | None = None, *args, ordered: bool = False, partitioned: bool = False,
        skip_format_check: bool = False, **kwargs):
  """Like :func:`rjax.debug.print`, but the message goes to the Python logger
  ``rjax._src.debugging`` at INFO level, with the caller's file and line."""
  caller = inspect.currentframe().f_back
  where = (caller.f_code.co_filename, caller.f_lineno) if caller else ("(unknown file)", 0)

  def call(fmt: str, *c_args, **c_kwargs):
    if not skip_format_check:
      string.Formatter().format(fmt, *c_args, **c_kwargs)
    placeholders = False
    if fmt:
      _, field, *_ = next(iter(string.Formatter().parse(fmt)))
      placeholders = field is not None
    debug_callback(_Logger(fmt, _printoptions(), placeholders, where), *c_args, ordered=ordered,
                   partitioned=partitioned, **c_kwargs)

  if fmt is not None:
    call(fmt, *args, **kwargs)
    return None
  if args or kwargs:
    raise TypeError(f"debug_log received unexpected arguments in the two-call form: "
                    f"args={args} kwargs={kwargs}")
  return call


# ---------------------------------------------------------------------------
# breakpoint


def _is_array_like(x) -> bool:
  if isinstance(x, (bool, int, float, str)) or x is None:
    return False
  try:
    core.get_aval(x)
  except TypeError:
    return False
  return True


class _Breakpoint:
  """Run-time half of a breakpoint: the traced locals come back as arrays and
  the debugger opens on them (with the rest of the frame's locals and its
  globals)."""

  def __init__(self, static_locals: dict, names: list, globals_: dict, where: str):
    self.static_locals, self.names, self.globals_, self.where = (static_locals, names, globals_,
                                                                 where)

  def __call__(self, *values):
    local_vars = dict(self.static_locals)
    local_vars.update({n: jnp.asarray(v) for n, v in zip(self.names, values)})
    sys.stdout.write(f"Entering rjax debugger at {self.where}\n")
    debugger = pdb.Pdb()
    debugger.run("pass", self.globals_, local_vars)


def breakpoint(*, backend: str | None = None, filter_frames: bool = True,  # noqa: A001
               num_frames: int | None = None, ordered: bool = False, token=None, **kwargs):
  """Stop in the Python debugger (``pdb``) when the program reaches this
  point, eagerly and under ``jit``/``vmap``/``grad`` (``jax.debug.breakpoint``).
  The caller's locals are there, with their values of this run (arrays as
  rjax arrays), and its globals; ``c`` continues. Under ``vmap`` it stops once
  per element. Only the calling frame is shown (``num_frames`` is accepted for
  JAX compatibility); ``backend`` may be None, 'cli' or 'pdb'. Returns
  ``token`` when one is given (JAX's way to order breakpoints)."""
  if backend not in (None, "cli", "pdb"):
    raise ValueError(f"breakpoint: rjax's debugger backend is Python's pdb ('cli'/'pdb'), got "
                     f"backend={backend!r}")
  if kwargs:
    raise TypeError(f"breakpoint got unexpected keyword arguments {sorted(kwargs)}")
  frame = inspect.currentframe().f_back
  try:
    local_vars = dict(frame.f_locals)
    globals_ = frame.f_globals
    where = f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
  finally:
    del frame
  names = [n for n, v in local_vars.items() if _is_array_like(v)]
  static = {n: v for n, v in local_vars.items() if n not in names}
  debug_callback(_Breakpoint(static, names, globals_, where), *[local_vars[n] for n in names],
                 ordered=ordered)
  return token


# ---------------------------------------------------------------------------
# shardings


def _default_sharding() -> Sharding:
  return SingleDeviceSharding(_devices.default_device_obj())


def inspect_array_sharding(value, *, callback: Callable[[Sharding], None]) -> None:
  """Call ``callback(sharding)`` for each array leaf of ``value``: at once for
  a concrete array (its ``.sharding``); for a traced value, when it is traced
  (once per compilation, as JAX calls it at compile time), with the sharding
  the value has when the program runs: one device, rjax's jit programs run
  on one device."""
  def one(x):
    if isinstance(x, Array):
      callback(x.sharding)
    elif isinstance(x, core.Tracer):
      callback(_default_sharding())
    else:
      raise TypeError(f"inspect_array_sharding: expected arrays, got {type(x).__name__}")
  for leaf in tree_util.tree_leaves(value):
    one(leaf)


def _as_slice(i, n):
  if isinstance(i, slice):
    start, stop, _ = i.indices(n)
    return start, stop
  return int(i), int(i) + 1


def _layout(shape: Sequence[int], sharding: Sharding):
  """{(row, col): device ids} and the row/column boundaries of the blocks."""
  index_map = sharding.devices_indices_map(tuple(shape))
  blocks: dict = {}
  for dev, idx in index_map.items():
    spans = [_as_slice(i, n) for i, n in zip(idx, shape)]
    if len(shape) == 1:
      spans = [(0, 1)] + spans
    blocks.setdefault(tuple(spans), set()).add(dev.id)
  rows = sorted({s[0] for s in blocks})
  cols = sorted({s[1] for s in blocks})
  return {(rows.index(k[0]), cols.index(k[1])): ids for k, ids in blocks.items()}, rows, cols


def visualize_sharding(shape: Sequence[int], sharding: Sharding, *, use_color: bool = True,
                       scale: float = 1., min_width: int = 9, max_width: int = 80,
                       color_map=None) -> None:
  """Print which device holds which block of an array of ``shape`` (1-D or
  2-D) laid out by ``sharding``, as a text grid of boxes labelled with the
  device ids (plain text: ``use_color`` and ``color_map`` are accepted for
  JAX compatibility and ignored)."""
  if not isinstance(sharding, Sharding):
    raise TypeError(f"visualize_sharding: expected a Sharding, got {sharding!r}")
  if len(shape) > 2 or len(shape) < 1:
    raise ValueError("`visualize_sharding` only works for shapes with 1 and 2 dimensions.")
  blocks, rows, cols = _layout(shape, sharding)
  platform = next(iter(sharding.device_set)).platform.upper()
  labels = {k: f"{platform} " + ",".join(str(i) for i in sorted(ids)) for k, ids in blocks.items()}
  ncols = len(cols)
  inner = max(max(len(v) for v in labels.values()) + 2, min_width - 2)
  inner = min(inner, max(max_width // max(ncols, 1) - 1, 3))
  height = max(1, int(round(scale))) if len(shape) == 2 else 1
  line = "+" + "+".join("-" * inner for _ in range(ncols)) + "+"
  out = [line]
  for r in range(len(rows)):
    for h in range(height):
      cells = []
      for c in range(ncols):
        text = labels.get((r, c), "") if h == height // 2 else ""
        cells.append(text.center(inner)[:inner])
      out.append("|" + "|".join(cells) + "|")
    out.append(line)
  sys.stdout.write("\n".join(out) + "\n\n")


def visualize_array_sharding(arr, **kwargs) -> None:
  """:func:`visualize_sharding` of ``arr``'s shape and sharding."""
  inspect_array_sharding(arr, callback=lambda s: visualize_sharding(arr.shape, s, **kwargs))
