"""``rjax.jit``: trace once per abstract signature, lower the whole jaxpr to one
Rust Program, compile it once and cache it.

The Rust compiler optimizes the Program (DCE, CSE, constant folding), fuses
elementwise chains and the reductions that consume them into tiled kernels,
and frees every intermediate at its last use (the buffer pool hands the
memory to the next allocation). ``donate_argnums``/``donate_argnames``
delete the donated arguments after the call, as JAX does. Under another
transformation (grad, vmap, make_jaxpr) the function is traced
inline, so every composition is correct; the outermost jit compiles it all.
"""
from __future__ import annotations

import functools
import inspect
import logging
import threading
from typing import Any, Callable, Sequence

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.base.config import config
from rjax._src.interpreters import lowering
from rjax._src.interpreters import partial_eval as pe
from rjax._src.runtime.array import Array, to_array

logger = logging.getLogger("rjax")


def _as_tuple(x) -> tuple:
  if x is None:
    return ()
  if isinstance(x, (int, str)):
    return (x,)
  return tuple(x)


class _Entry:
  __slots__ = ("exe", "out_tree", "out_avals", "jaxpr", "ctx", "single")

  def __init__(self, exe, out_tree, out_avals, jaxpr, ctx):
    self.exe, self.out_tree, self.out_avals, self.jaxpr, self.ctx = exe, out_tree, out_avals, jaxpr, ctx
    self.single = False


class Lowered:
  """What ``jit(f).lower(*args)`` returns: the jaxpr and the Program."""

  def __init__(self, entry: _Entry):
    self._entry = entry

  def as_text(self) -> str:
    """The jaxpr, the Program as lowered, then what the compiler's passes
    made of it (their counters and the Program that runs)."""
    return f"{self._entry.jaxpr}\n\n{self._entry.ctx.text()}\n\n{self._entry.exe.plan()}"

  def compile_stats(self) -> dict:
    """What the compiler's passes did: instruction counts before and after,
    how many instructions were folded, merged (cse) and dropped (dce), and
    constant counts (``consts_before``, ``consts_after``, ``consts_deduped``)."""
    return self._entry.exe.stats()

  def jaxpr(self):
    return self._entry.jaxpr

  def compile(self) -> "Lowered":
    return self


class JitWrapped:
  def __init__(self, fun: Callable, static_argnums, static_argnames, donate_argnums,
               donate_argnames, inline: bool, keep_unused: bool):
    functools.update_wrapper(self, fun, updated=())  # never copy fun's __dict__
    self._fun = fun
    try:
      self._sig = inspect.signature(fun)
    except (TypeError, ValueError):
      self._sig = None
    self._static_argnums = _as_tuple(static_argnums)
    self._static_argnames = _as_tuple(static_argnames)
    self._donate_argnums = _as_tuple(donate_argnums)
    self._donate_argnames = _as_tuple(donate_argnames)
    self._cache: dict = {}
    self._fast: dict = {}
    self._plain = not (self._static_argnums or self._static_argnames or self._donate_argnums
                       or self._donate_argnames)
    self._lock = threading.Lock()
    self._last_sig = None

  def __get__(self, obj, objtype=None):
    if obj is None:
      return self
    return functools.partial(self, obj)

  def _split(self, args, kwargs):
    static_nums = {i % len(args) for i in self._static_argnums if -len(args) <= i < len(args)}
    static_names = set(self._static_argnames)
    if self._sig is not None:
      params = list(self._sig.parameters)
      for i in list(static_nums):
        if i < len(params):
          static_names.add(params[i])
      for n in self._static_argnames:
        if n in params and params.index(n) < len(args):
          static_nums.add(params.index(n))
    static = tuple((i, args[i]) for i in sorted(static_nums)) + \
        tuple(sorted((k, v) for k, v in kwargs.items() if k in static_names))
    for _, v in static:
      try:
        hash(v)
      except TypeError:
        raise ValueError(f"Non-hashable static arguments are not supported. An error occurred "
                         f"while trying to hash an object of type {type(v)}, {v!r}.") from None
    dyn_args = tuple(a for i, a in enumerate(args) if i not in static_nums)
    dyn_kwargs = {k: v for k, v in kwargs.items() if k not in static_names}
    return static_nums, static_names, static, dyn_args, dyn_kwargs

  def _entry(self, args, kwargs):
    static_nums, static_names, static, dyn_args, dyn_kwargs = self._split(args, kwargs)
    leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
    arrs = [x if type(x) is Array else to_array(x) for x in leaves]
    avals = tuple(a.aval for a in arrs)
    key = (in_tree, avals, static, config.read("jax_enable_x64"))
    entry = self._cache.get(key)
    if entry is None:
      entry = self._compile(key, args, kwargs, static_nums, static_names, in_tree, avals)
      with self._lock:
        self._cache[key] = entry
    return entry, arrs

  def _compile(self, key, args, kwargs, static_nums, static_names, in_tree, avals):
    box = []

    def flat_fun(*flat):
      dargs, dkw = tree_util.tree_unflatten(in_tree, flat)
      it = iter(dargs)
      full = [args[i] if i in static_nums else next(it) for i in range(len(args))]
      kw = {k: (v if k in static_names else dkw[k]) for k, v in kwargs.items()}
      out = self._fun(*full, **kw)
      out_leaves, out_tree = tree_util.tree_flatten(out)
      box.append(out_tree)
      return out_leaves

    if config.read("jax_log_compiles"):
      logger.warning("Compiling %s for %s%s", getattr(self._fun, "__name__", "fun"),
                     ", ".join(a.str_short() for a in avals), self._why(key))
    debug = core.debug_info("jit", self._fun, [a for i, a in enumerate(args)
                                               if i not in static_nums],
                            {k: v for k, v in kwargs.items() if k not in static_names},
                            [i for i in range(len(args)) if i not in static_nums])
    closed = pe.trace_to_jaxpr(flat_fun, list(avals), debug)
    ctx, out_ids = lowering.lower_jaxpr(closed, list(avals))
    exe = ctx.compile(out_ids)
    self._last_sig = key
    return _Entry(exe, box[-1], closed.out_avals, closed, ctx)

  def _why(self, key) -> str:
    prev = self._last_sig
    if prev is None:
      return " (first call)"
    if prev[0] != key[0]:
      return " (the arguments' pytree structure changed)"
    if prev[2] != key[2]:
      return f" (static arguments changed: {prev[2]} -> {key[2]})"
    if prev[3] != key[3]:
      return f" (jax_enable_x64 changed to {key[3]})"
    for i, (a, b) in enumerate(zip(prev[1], key[1])):
      if a != b:
        return f" (argument {i} changed from {a.str_short()}{' weak' if a.weak_type else ''} " \
               f"to {b.str_short()}{' weak' if b.weak_type else ''})"
    return ""

  def __call__(self, *args, **kwargs):
    if core.current_trace() is not core.eval_trace:
      return self._fun(*args, **kwargs)   # traced inline under other transformations
    # Fast path: positional Array arguments only, nothing static or donated.
    # Keyed by the avals alone (the pytree is then just a tuple of leaves).
    if self._plain and not kwargs:
      key = tuple([a.aval if type(a) is Array else None for a in args])
      if config._values["jax_enable_x64"]:
        key += (True,)   # Python scalars trace to 64-bit types
      entry = self._fast.get(key)
      if entry is not None:
        try:
          bufs = entry.exe.run([a._buf for a in args])
        except TypeError:
          # A deleted argument: the slow path says so. Any other TypeError
          # (one a host callback raised) is the call's own: running the
          # program again would repeat its effects.
          if all(a._buf is not None for a in args):
            raise
        else:
          outs = [Array._from_buffer(b, av) for b, av in zip(bufs, entry.out_avals)]
          return outs[0] if entry.single else tree_util.tree_unflatten(entry.out_tree, outs)
    entry, arrs = self._entry(args, kwargs)
    if self._plain and not kwargs and all(type(a) is Array for a in args):
      entry.single = entry.out_tree == tree_util.tree_structure(0)
      fkey = tuple(a.aval for a in args)
      self._fast[fkey + (True,) if config._values["jax_enable_x64"] else fkey] = entry
    bufs = [a._buf for a in arrs]
    if any(b is None for b in bufs):
      raise RuntimeError("Array has been deleted (e.g. donated to an earlier call of a jitted "
                         "function); pass a live array.")
    donated = self._donated(args, kwargs) if self._donate_argnums or self._donate_argnames \
        else None
    outs = entry.exe.run(bufs)
    del bufs
    if donated:
      # As in JAX: a donated argument is deleted, whether or not its memory
      # was reused. Its buffer returns to the pool once nothing else holds it,
      # so the next allocations of that size reuse it.
      for a in donated:
        a.delete()
    outs = [Array._from_buffer(b, av) for b, av in zip(outs, entry.out_avals)]
    return tree_util.tree_unflatten(entry.out_tree, outs)

  def _donated(self, args, kwargs) -> list:
    """The Arrays passed in donated positions (argnums and argnames)."""
    nums = {i % len(args) for i in self._donate_argnums if -len(args) <= i < len(args)}
    if self._sig is not None:
      params = list(self._sig.parameters)
      for n in self._donate_argnames:
        if n in params and params.index(n) < len(args):
          nums.add(params.index(n))
    trees = [args[i] for i in sorted(nums)] + [v for k, v in kwargs.items()
                                                if k in self._donate_argnames]
    return [x for x in tree_util.tree_leaves(trees) if isinstance(x, Array)]

  def lower(self, *args, **kwargs) -> Lowered:
    return Lowered(self._entry(args, kwargs)[0])

  def _cache_size(self) -> int:
    return len(self._cache)

  def clear_cache(self) -> None:
    with self._lock:
      self._cache.clear()
      self._fast.clear()


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] | None = None,
        static_argnames: str | Sequence[str] | None = None,
        donate_argnums: int | Sequence[int] | None = None,
        donate_argnames: str | Sequence[str] | None = None, inline: bool = False,
        keep_unused: bool = False):
  """Compile ``fun`` (``jax.jit``); usable as ``@jit`` or ``@jit(static_argnums=...)``."""
  def wrap(f):
    return JitWrapped(f, static_argnums, static_argnames, donate_argnums, donate_argnames,
                      inline, keep_unused)
  return wrap if fun is None else wrap(fun)
