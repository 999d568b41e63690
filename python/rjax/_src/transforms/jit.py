"""``rjax.jit``: trace once per abstract signature, lower the whole jaxpr to one
Rust Program, compile it once and cache it.

The cache belongs to the *function*, as in JAX: ``jit(f)(x)`` written inline
(in a loop, in a helper) finds the trace and Program that an earlier
``jit(f)`` made for the same signature, and so does every ``jit(f)`` wrapper
with the same options. The cache is weakly keyed by ``f`` (it goes when
``f`` does) and thread-safe. A signature is the pytree structure, the
avals, the static arguments and the flags that change a trace (x64, rank
promotion, debug_nans, ...). As JAX documents, a global that changes
between calls is not seen by a cached trace.

The Rust compiler optimizes the Program (DCE, CSE, constant folding), fuses
elementwise chains and the reductions that consume them into tiled kernels,
and frees every intermediate at its last use (the buffer pool hands the
memory to the next allocation). ``donate_argnums``/``donate_argnames``
donate arguments as JAX does (``_donation``): a donated Array that an output
can reuse (JAX's matching of inputs to outputs) is deleted, its buffer taken
out of it before the call and handed to the executor owned, so the ops that
read it last (``.at[].set``, scatters, ``dynamic_update_slice``, a loop
carrying it) update it in place; a donation no output can use warns as
JAX's does and leaves the Array alive. Under another
transformation (grad, vmap, make_jaxpr) the function is traced
inline, so every composition is correct; the outermost jit compiles it all.
``jit(f).trace(x)``, ``.lower(x)`` and ``.compile()`` give the stages of
``rjax.stages``.
"""
from __future__ import annotations

import functools
import inspect
import logging
import threading
import warnings
import weakref
from typing import Any, Callable, Sequence

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.base import config as _config_states
from rjax._src.base.config import config
from rjax._src.interpreters import ad, dispatch, lowering, remat
from rjax._src.interpreters.dispatch import check_special
from rjax._src.interpreters import partial_eval as pe
from rjax._src.runtime.array import Array, to_array
from rjax._src.runtime.executable import JaxRuntimeError
from rjax._src.transforms import api

logger = logging.getLogger("rjax")


def _as_tuple(x) -> tuple:
  if x is None:
    return ()
  if isinstance(x, (int, str)):
    return (x,)
  return tuple(x)


class _Entry:
  __slots__ = ("exe", "out_tree", "out_avals", "jaxpr", "ctx", "single", "in_tree",
               "in_avals", "donation")

  def __init__(self, exe, out_tree, out_avals, jaxpr, ctx, in_tree=None, in_avals=()):
    self.exe, self.out_tree, self.out_avals, self.jaxpr, self.ctx = exe, out_tree, out_avals, jaxpr, ctx
    self.in_tree, self.in_avals = in_tree, tuple(in_avals)
    self.single = False
    self.donation: dict = {}   # donated-leaf mask -> the inputs really donated


# ---------------------------------------------------------------------------
# The per-function cache


class _FunCache:
  """What jit keeps for one function and one set of jit options: its traced
  and compiled signatures, the fast path's table, and the last signature
  (to say why it compiled again)."""

  __slots__ = ("entries", "fast", "lock", "last_sig", "sig", "__weakref__")

  def __init__(self, fun):
    self.entries: dict = {}
    self.fast: dict = {}
    self.lock = threading.Lock()
    self.last_sig = None
    try:
      self.sig = inspect.signature(fun)
    except (TypeError, ValueError):
      self.sig = None


#: function -> {jit options -> _FunCache}; weak in the function.
_caches: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()
#: every live _FunCache, for clear_caches()
_all_caches: "weakref.WeakSet[_FunCache]" = weakref.WeakSet()


def _fun_cache(fun, opts) -> _FunCache:
  try:
    per_fun = _caches.get(fun)
  except TypeError:           # not hashable or not weakly referenceable:
    c = _FunCache(fun)        # a cache for this wrapper only
    _all_caches.add(c)
    return c
  if per_fun is not None:
    c = per_fun.get(opts)
    if c is not None:
      return c
  with _caches_lock:
    try:
      per_fun = _caches.setdefault(fun, {})
    except TypeError:
      c = _FunCache(fun)
      _all_caches.add(c)
      return c
    c = per_fun.get(opts)
    if c is None:
      c = per_fun[opts] = _FunCache(fun)
      _all_caches.add(c)
    return c


def clear_caches() -> None:
  """Clear every cache of traces and compiled programs: jit's, the eager
  op-by-op programs and the backward passes (``jax.clear_caches``)."""
  dispatch.clear_cache()
  ad.clear_caches()
  remat.clear_cache()
  with _caches_lock:
    for c in list(_all_caches):
      with c.lock:
        c.entries.clear()
        c.fast.clear()
        c.last_sig = None


# ---------------------------------------------------------------------------
# debug_nans / debug_infs


_NO_NAN_IN_DEOPTIMIZED = (
    ". Because jax_config.debug_nans.value and/or config.jax_debug_infs is set, the "
    "de-optimized function (i.e., the function as if the `jit` decorator were removed) "
    "was called in an attempt to get a more precise error message. However, the "
    "de-optimized function did not produce invalid values during its execution. This "
    "behavior can result from `jit` optimizations causing the invalid value to be "
    "produced. It may also arise from having nan/inf literals as inputs or outputs, like "
    "`jax.jit(lambda ...: jax.numpy.nan)(...)`. \n\nIt may be possible to avoid the "
    "invalid value by removing the `jit` decorator, at the cost of losing optimizations.")


# ---------------------------------------------------------------------------
# Stages: jit(f).trace(x) -> Traced; .lower() -> Lowered; .compile() -> Compiled


class Traced:
  """``jit(f).trace(*args)``: the jaxpr of ``f`` for these arguments
  (``jax.stages.Traced``)."""

  def __init__(self, wrapped: "JitWrapped", args, kwargs):
    self._wrapped, self._args, self._kwargs = wrapped, args, kwargs
    self._entry = wrapped._entry(args, kwargs)[0]
    self._donated = wrapped._donated_leaves(args, kwargs)[0] if wrapped._donates else ()

  @property
  def jaxpr(self):
    return self._entry.jaxpr

  @property
  def out_info(self):
    from_aval = lambda a: _shape_dtype(a)   # noqa: E731
    return tree_util.tree_unflatten(self._entry.out_tree,
                                    [from_aval(a) for a in self._entry.out_avals])

  @property
  def in_avals(self):
    return tree_util.tree_unflatten(self._entry.in_tree, list(self._entry.in_avals))

  def lower(self) -> "Lowered":
    return Lowered(self._entry, self._donated)


def _shape_dtype(aval):
  return api.ShapeDtypeStruct(aval.shape, aval.dtype, weak_type=aval.weak_type)


class Lowered:
  """What ``jit(f).lower(*args)`` returns: the jaxpr and the Program
  (``jax.stages.Lowered``)."""

  def __init__(self, entry: _Entry, donated: tuple = ()):
    self._entry = entry
    self._donated = donated   # per argument leaf: passed in a donated position

  def as_text(self, dialect: str | None = None, **_) -> str:
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

  @property
  def in_tree(self):
    return self._entry.in_tree

  @property
  def out_info(self):
    return tree_util.tree_unflatten(self._entry.out_tree,
                                    [_shape_dtype(a) for a in self._entry.out_avals])

  def compile(self, compiler_options=None) -> "Compiled":
    return Compiled(self._entry, self._donated)

  def cost_analysis(self):
    return None


class Compiled(Lowered):
  """``jit(f).lower(*args).compile()``: callable on arguments of the
  signature it was compiled for (``jax.stages.Compiled``)."""

  def __call__(self, *args, **kwargs):
    e = self._entry
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    arrs = [x if type(x) is Array else to_array(x) for x in leaves]
    avals = tuple(a.aval for a in arrs)
    if in_tree != e.in_tree or avals != e.in_avals:
      raise TypeError(f"Argument types differ from the types for which this computation was "
                      f"compiled. The compiled function takes {e.in_avals} with structure "
                      f"{e.in_tree}; it was called with {avals} with structure {in_tree}.")
    bufs = [a._buf for a in arrs]
    if any(b is None for b in bufs):
      raise RuntimeError("Array has been deleted (e.g. donated to an earlier call of a jitted "
                         "function); pass a live array.")
    if any(self._donated):
      donated = e.donation.get(self._donated)
      if donated is None:
        donated = e.donation.setdefault(self._donated, _donation(e, self._donated))
      outs = _run_donating(e.exe, bufs, arrs, donated, leaves)
    else:
      outs = e.exe.run(bufs)
    del bufs
    outs = [Array._from_buffer(b, av) for b, av in zip(outs, e.out_avals)]
    return tree_util.tree_unflatten(e.out_tree, outs)

  def memory_analysis(self):
    return None

  def runtime_executable(self):
    return self._entry.exe


# ---------------------------------------------------------------------------
# The wrapper


class JitWrapped:
  """``jit(f)`` (``jax.stages.Wrapped``)."""

  def __init__(self, fun: Callable, static_argnums, static_argnames, donate_argnums,
               donate_argnames, inline: bool, keep_unused: bool):
    if not callable(fun):
      raise TypeError(f"Expected a callable value, got {fun}")
    functools.update_wrapper(self, fun, updated=())  # never copy fun's __dict__
    self._fun = fun
    self._static_argnums = _as_tuple(static_argnums)
    self._static_argnames = _as_tuple(static_argnames)
    self._donate_argnums = _as_tuple(donate_argnums)
    self._donate_argnames = _as_tuple(donate_argnames)
    self._donates = bool(self._donate_argnums or self._donate_argnames)
    self._plain = not (self._static_argnums or self._static_argnames or self._donates)
    self._fc = _fun_cache(fun, (self._static_argnums, self._static_argnames,
                                self._donate_argnums, self._donate_argnames,
                                bool(inline), bool(keep_unused)))
    self._sig = self._fc.sig

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
    key = (in_tree, avals, static, config.trace_context())
    fc = self._fc
    entry = fc.entries.get(key)
    if entry is None:
      entry = self._compile(key, args, kwargs, static_nums, static_names, in_tree, avals)
      with fc.lock:
        entry = fc.entries.setdefault(key, entry)
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

    name = getattr(self._fun, "__name__", "fun")
    if config.read("jax_no_tracing"):
      raise RuntimeError(f"re-tracing function {name} for `jit`, but 'no_tracing' is set")
    why = self._why(key)
    if config.read("jax_log_compiles"):
      logger.warning("Compiling %s for %s%s", name, ", ".join(a.str_short() for a in avals),
                     why)
    if config.read("jax_explain_cache_misses"):
      logger.warning("TRACING CACHE MISS for jit(%s) defined at %s because:%s", name,
                     _where(self._fun), why.replace(" (", "\n  ").rstrip(")"))
    debug = core.debug_info("jit", self._fun, [a for i, a in enumerate(args)
                                               if i not in static_nums],
                            {k: v for k, v in kwargs.items() if k not in static_names},
                            [i for i in range(len(args)) if i not in static_nums])
    closed = pe.trace_to_jaxpr(flat_fun, list(avals), debug)
    ctx, out_ids = lowering.lower_jaxpr(closed, list(avals))
    exe = ctx.compile(out_ids)
    self._fc.last_sig = key
    return _Entry(exe, box[-1], closed.out_avals, closed, ctx, in_tree, avals)

  def _why(self, key) -> str:
    prev = self._fc.last_sig
    if prev is None:
      return " (first call)"
    if prev[0] != key[0]:
      return " (the arguments' pytree structure changed)"
    if prev[2] != key[2]:
      return f" (static arguments changed: {prev[2]} -> {key[2]})"
    if prev[3] != key[3]:
      names = [n for n, s in config._states.items() if s.in_jit_key]
      diff = [f"{n} changed to {b!r}" for n, a, b in zip(names, prev[3], key[3]) if a != b]
      return f" ({'; '.join(diff)})"
    for i, (a, b) in enumerate(zip(prev[1], key[1])):
      if a != b:
        return f" (argument {i} changed from {a.str_short()}{' weak' if a.weak_type else ''} " \
               f"to {b.str_short()}{' weak' if b.weak_type else ''})"
    return ""

  def __call__(self, *args, **kwargs):
    if core.current_trace() is not core.eval_trace:
      if config.checks_active and config.read("jax_disable_jit"):
        return self._fun(*args, **kwargs)
      # Traced inline under other transformations; as in JAX, the values of
      # the enclosing transformations are abstract inside.
      with core.abstract_jit_region():
        return self._fun(*args, **kwargs)
    if config.checks_active:
      return self._call_checked(args, kwargs)
    # Fast path: positional Array arguments only, nothing static or donated.
    # Keyed by the avals alone (the pytree is then just a tuple of leaves).
    fast = self._fc.fast
    if self._plain and not kwargs:
      key = tuple([a.aval if type(a) is Array else None for a in args])
      ctx = config._global_ctx
      entry = fast.get((key, ctx))
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
      fast[(tuple(a.aval for a in args), config._global_ctx)] = entry
    return self._run(entry, arrs, args, kwargs)

  def _run(self, entry, arrs, args, kwargs):
    bufs = [a._buf for a in arrs]
    if any(b is None for b in bufs):
      raise RuntimeError("Array has been deleted (e.g. donated to an earlier call of a jitted "
                         "function); pass a live array.")
    if not self._donates:
      outs = entry.exe.run(bufs)
    else:
      mask, leaves = self._donated_leaves(args, kwargs)
      donated = entry.donation.get(mask)
      if donated is None:
        donated = entry.donation.setdefault(mask, _donation(entry, mask))
      outs = _run_donating(entry.exe, bufs, arrs, donated, leaves)
    del bufs
    outs = [Array._from_buffer(b, av) for b, av in zip(outs, entry.out_avals)]
    return tree_util.tree_unflatten(entry.out_tree, outs)

  def _call_checked(self, args, kwargs):
    """The slow path while debugging flags are on: disable_jit runs the
    Python function; debug_nans/infs check the outputs and, on a bad value,
    re-run the function without jit to name the primitive (as JAX does)."""
    if config.read("jax_disable_jit"):
      return self._fun(*args, **kwargs)
    if config.read("jax_no_execution"):
      raise RuntimeError(f"JAX execution is disallowed (jax_no_execution is set): "
                         f"jit({getattr(self._fun, '__name__', 'fun')})")
    entry, arrs = self._entry(args, kwargs)
    out = self._run(entry, arrs, args, kwargs)
    try:
      check_special(f"jit({getattr(self._fun, '__name__', 'fun')})",
                    tree_util.tree_leaves(out))
    except FloatingPointError as e:
      print("Invalid nan value encountered in the output of a jax.jit function. Calling the "
            "de-optimized version.")
      self._fun(*args, **kwargs)   # raises, naming the primitive, if eager finds it
      raise FloatingPointError(f"{e}{_NO_NAN_IN_DEOPTIMIZED}") from None
    return out

  def _donated_leaves(self, args, kwargs) -> tuple[tuple, list]:
    """The leaves of the dynamic arguments (as ``_entry`` flattens them)
    and, per leaf, whether it is passed in a donated position (argnums and
    argnames)."""
    static_nums, static_names, _, dyn_args, dyn_kwargs = self._split(args, kwargs)
    nums = {i % len(args) for i in self._donate_argnums if -len(args) <= i < len(args)}
    if self._sig is not None:
      params = list(self._sig.parameters)
      for n in self._donate_argnames:
        if n in params and params.index(n) < len(args):
          nums.add(params.index(n))
    names = set(self._donate_argnames)
    marks = tuple(tree_util.tree_map(lambda _, d=i in nums: d, a)
                  for i, a in enumerate(args) if i not in static_nums)
    kw = {k: tree_util.tree_map(lambda _, d=k in names: d, v)
          for k, v in kwargs.items() if k not in static_names}
    return tuple(tree_util.tree_leaves((marks, kw))), tree_util.tree_leaves((dyn_args, dyn_kwargs))

  def trace(self, *args, **kwargs) -> Traced:
    return Traced(self, args, kwargs)

  def lower(self, *args, **kwargs) -> Lowered:
    return Lowered(self._entry(args, kwargs)[0],
                   self._donated_leaves(args, kwargs)[0] if self._donates else ())

  def eval_shape(self, *args, **kwargs):
    return self.trace(*args, **kwargs).out_info

  def _cache_size(self) -> int:
    return len(self._fc.entries)

  def clear_cache(self) -> None:
    with self._fc.lock:
      self._fc.entries.clear()
      self._fc.fast.clear()

  def __repr__(self):
    return f"<rjax.jit of {self._fun!r}>"


# ---------------------------------------------------------------------------
# Donation


_DONATION_FAQ = "See an explanation at https://docs.jax.dev/en/latest/faq.html#buffer-donation."


def _donation(entry, mask: tuple) -> tuple:
  """Which donated inputs the call really donates: JAX's matching
  (``mlir._set_up_aliases``). An input the program never reads is not
  donated (JAX prunes it). The others are matched to outputs first by
  shape and dtype, then by element count; a match of equal byte size is
  donated (an output can take its memory), a match of another byte size is
  not (XLA on CPU does not alias it), and an input with no match at all is
  not, with JAX's warning. Donated inputs are deleted after the call;
  undonated ones stay alive."""
  jaxpr = entry.jaxpr.jaxpr
  used = {id(v) for e in jaxpr.eqns for v in e.invars} | {id(v) for v in jaxpr.outvars}
  avals = entry.in_avals
  out = [False] * len(avals)
  by_aval: dict = {}
  for i, (a, d, v) in enumerate(zip(avals, mask, jaxpr.invars)):
    if d and id(v) in used:
      by_aval.setdefault((a.shape, a.dtype), []).append(i)
  free_outs = []
  for o in entry.out_avals:
    cands = by_aval.get((o.shape, o.dtype))
    if cands:
      out[cands.pop(0)] = True
    else:
      free_outs.append(o)
  by_size: dict = {}
  for o in free_outs:
    by_size.setdefault(o.size, []).append(o)
  unusable = []
  for i in sorted(i for c in by_aval.values() for i in c):
    a = avals[i]
    cands = by_size.get(a.size)
    if cands:
      o = cands.pop(0)
      out[i] = o.dtype.itemsize == a.dtype.itemsize
    else:
      unusable.append(str(a))
  if unusable:
    warnings.warn(f"Some donated buffers were not usable: {', '.join(unusable)}.\n"
                  f"{_DONATION_FAQ}", stacklevel=4)
  return tuple(out)


def _run_donating(exe, bufs: list, arrs: list, donated: tuple, leaves: list):
  """Run ``exe`` with the inputs ``donated`` marks given to it: checked
  first as XLA does (a buffer donated and also passed again raises JAX's
  error, and nothing is deleted), then each donated Array that the caller
  passed is deleted before the run, so that its buffer's only holder is the
  list handed to the executor (which then owns it: ``Executable.run``'s
  ``donated``)."""
  if not any(donated):
    return exe.run(bufs)
  first: dict = {}
  # (ids, not the handles: a local name holding a handle would count as
  # another holder of its buffer)
  for j, key in enumerate([id(b) for b in bufs]):
    i = first.setdefault(key, j)
    if i == j:
      continue
    if donated[i] and donated[j]:
      what = "Attempt to donate the same buffer twice in Execute()"
      toy = "f(donate(a), donate(a))"
    elif donated[i]:
      what = "Attempt to use a buffer that was previously donated in the same call to Execute()"
      toy = "f(donate(a), a)"
    elif donated[j]:
      what = "Attempt to donate a buffer which is also used by the same call to Execute()"
      toy = "f(a, donate(a))"
    else:
      continue
    raise JaxRuntimeError(f"INVALID_ARGUMENT: {what} (flattened argument {j}, replica 0, "
                          f"partition 0, first use: {i}). Toy example for this bug: `{toy}`.")
  for k, d in enumerate(donated):
    # (an Array made here from a NumPy array or a Python scalar is left
    # alone: it may be shared, and then its buffer is only read)
    if d and leaves[k] is arrs[k]:
      arrs[k].delete()
  return exe.run(bufs, list(donated))


def _where(fun) -> str:
  code = getattr(fun, "__code__", None)
  return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else repr(fun)


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] | None = None,
        static_argnames: str | Sequence[str] | None = None,
        donate_argnums: int | Sequence[int] | None = None,
        donate_argnames: str | Sequence[str] | None = None, inline: bool = False,
        keep_unused: bool = False, device=None, backend=None, in_shardings=None,
        out_shardings=None, compiler_options=None, abstracted_axes=None):
  """Compile ``fun`` (``jax.jit``); usable as ``@jit`` or ``@jit(static_argnums=...)``.
  ``device``/``backend``/shardings are accepted for compatibility (rjax runs
  a jit on the default device)."""
  def wrap(f):
    return JitWrapped(f, static_argnums, static_argnames, donate_argnums, donate_argnames,
                      inline, keep_unused)
  return wrap if fun is None else wrap(fun)


class disable_jit:
  """``with rjax.disable_jit():`` (or ``rjax.disable_jit(False)``): jitted
  functions run their Python eagerly in this thread (``jax.disable_jit``);
  also usable as a decorator."""

  def __init__(self, disable: bool = True):
    self._cm = _config_states.disable_jit(disable)

  def __enter__(self):
    self._cm.__enter__()

  def __exit__(self, *exc):
    self._cm.__exit__(*exc)

  def __call__(self, func):
    return self._cm(func)


def fwd_and_bwd(fun: Callable, argnums: int | Sequence[int], has_aux: bool = False,
                jitted: bool = True) -> tuple[Callable, Callable]:
  """``(fwd, bwd)``: ``fwd(*args)`` is ``vjp(fun, *args)`` with respect to
  ``argnums`` (the pullback is a pytree of residuals), ``bwd(residuals, ct)``
  applies it; both jitted by default, so the backward pass compiles once
  (``jax.fwd_and_bwd``)."""
  if not callable(fun):
    raise TypeError(f"Expected a callable value, got {fun}")
  nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

  def fwd(*args):
    idx = [n % len(args) for n in nums]

    def f_partial(*dyn):
      full = list(args)
      for i, a in zip(idx, dyn):
        full[i] = a
      return fun(*full)

    return ad.vjp(f_partial, *[args[i] for i in idx], has_aux=has_aux)

  def bwd(f_vjp, outgrad):
    g = f_vjp(outgrad)
    return g[0] if isinstance(argnums, int) else g

  if jitted:
    return jit(fwd), jit(bwd)
  return fwd, bwd
