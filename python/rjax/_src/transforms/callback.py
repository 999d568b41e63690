"""Host callbacks: ``pure_callback``, ``debug.callback`` and ``debug.print``.

Two primitives carry a Python callable as a (hashable) param:

- ``pure_callback[callback, result_avals, vmap_method, sharding]``: calls
  ``callback`` on the operands and returns arrays of ``result_avals``. It is
  pure, as in JAX: the compiler may drop it when nothing reads its results,
  or merge two equal calls. It has no derivative (wrap it in ``custom_jvp``).
- ``debug_callback[callback, ordered, partitioned]``: calls ``callback`` and
  returns nothing; it is an effect. It is never removed as dead code nor
  merged, runs once per call of the program in program order (inside loops,
  once per iteration), and under ``grad``/``jvp`` it sees primal values.

Both lower to a Rust op of the same name that calls back into Python with
read-only NumPy views of its inputs, holding the GIL only for the call
(``rust/src/py/host.rs``). A run that calls back waits behind the work
already queued on the device, so callbacks of consecutive calls run in
order; ``ordered=True`` is accepted for JAX compatibility (rjax never
reorders callbacks). An exception raised by a callback is raised again, as
it was, at the call (or, for work queued asynchronously, at the next wait
on its results); the device keeps working.
"""
from __future__ import annotations

import string
import sys
import threading
from typing import Any, Callable

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes, tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, dispatch, lowering, reference
from rjax._src.lax import shapes, slicing
from rjax._src.lax.control_flow import loops
from rjax._src.runtime import devices
from rjax._src.runtime.array import Array


class _FlatCallback:
  """``callback`` called on flat arguments: rebuilds the ``(args, kwargs)``
  pytree (static leaves put back in place) and flattens the result. Equal
  for the same function and argument structure, so eager calls and jit
  traces of the same callback reuse their compiled program."""

  __slots__ = ("callback", "in_tree", "static", "out_tree", "_hash")

  def __init__(self, callback: Callable, in_tree, static: tuple = (), out_tree=None):
    self.callback, self.in_tree, self.static, self.out_tree = callback, in_tree, static, out_tree
    try:
      self._hash = hash((callback, in_tree, static, out_tree))
    except TypeError:   # an unhashable callable or static argument: identity
      self._hash = id(self)

  def __eq__(self, other):
    if self is other:
      return True
    return (type(other) is _FlatCallback and self._hash == other._hash
            and _same_static((self.callback, self.in_tree, self.static, self.out_tree),
                             (other.callback, other.in_tree, other.static, other.out_tree)))

  def __hash__(self):
    return self._hash

  def __repr__(self):
    return getattr(self.callback, "__name__", repr(self.callback))

  def __call__(self, *flat):
    leaves, it, static = [], iter(flat), dict(self.static)
    for i in range(len(flat) + len(static)):
      leaves.append(static[i] if i in static else next(it))
    args, kwargs = tree_util.tree_unflatten(self.in_tree, leaves)
    out = self.callback(*args, **kwargs)
    if self.out_tree is None:
      return ()
    leaves, tree = tree_util.tree_flatten(out)
    if tree != self.out_tree:
      raise TypeError(f"pure_callback: the callback returned a value of structure {tree}, "
                      f"but result_shape_dtypes has structure {self.out_tree}")
    return leaves


def _same_static(a: tuple, b: tuple) -> bool:
  try:
    return bool(a == b)
  except Exception:  # noqa: BLE001  (arrays compare elementwise: treat as different)
    return False


def _split_args(args, kwargs):
  """Flat dynamic (array-like) leaves, and static ones as ``(index, value)``."""
  leaves, in_tree = tree_util.tree_flatten((args, kwargs))
  dyn, static = [], []
  for i, x in enumerate(leaves):
    try:
      core.get_aval(x)
    except TypeError:
      static.append((i, x))
    else:
      dyn.append(x)
  return dyn, in_tree, tuple(static)


# ---------------------------------------------------------------------------
# Eager execution: the one-op program, through the Rust op like under jit
# (so eager callbacks stay in order with queued work). The cache is bounded:
# callbacks are often fresh lambdas.

_CACHE_MAX = 256
_cache: dict = {}
_cache_lock = threading.Lock()


def _callback_impl(prim):
  def impl(*args, **params):
    arrs = [a if type(a) is Array else dispatch._concrete(a) for a in args]
    avals = tuple(a.aval for a in arrs)
    key = (prim, avals, tuple(params.items()))
    entry = _cache.get(key)
    if entry is None:
      entry = dispatch._compile(prim, avals, params)
      with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
          _cache.pop(next(iter(_cache)))
        _cache[key] = entry
    exe, outs, _ = entry
    bufs = exe.run([a._buf for a in arrs])
    return [Array._from_buffer(b, av) for b, av in zip(bufs, outs)]

  return impl


def _lowering(op_name: str):
  def rule(ctx, *in_ids, avals_in, avals_out, callback, **params):
    return ctx.emit(op_name, in_ids, avals_out, {"callback": callback})
  rule.op_name = op_name
  return rule


# ---------------------------------------------------------------------------
# pure_callback

pure_callback_p = core.new_primitive("pure_callback", multiple_results=True)


def _pure_callback_abstract_eval(*avals, callback, result_avals, vmap_method, sharding):
  return list(result_avals)


pure_callback_p.def_abstract_eval(_pure_callback_abstract_eval)
pure_callback_p.def_impl(_callback_impl(pure_callback_p))
lowering.lowerings[pure_callback_p] = _lowering("pure_callback")


def _pure_callback_reference(*args, callback, result_avals, vmap_method, sharding):
  outs = callback(*[np.asarray(a) for a in args])
  return [np.asarray(o, dtype=a.dtype).reshape(a.shape) for o, a in zip(outs, result_avals)]


reference.register(pure_callback_p, _pure_callback_reference)


def _pure_callback_jvp(primals, tangents, **params):
  raise ValueError("Pure callbacks do not support JVP. Please use `jax.custom_jvp` to use "
                   "callbacks while taking gradients.")


def _pure_callback_transpose(ct, *args, **params):
  raise ValueError("Pure callbacks do not support transpose. Please use `jax.custom_vjp` to "
                   "use callbacks while taking gradients.")


ad.primitive_jvps[pure_callback_p] = _pure_callback_jvp
ad.primitive_transposes[pure_callback_p] = _pure_callback_transpose


def _batched_avals(result_avals, size: int) -> tuple:
  return tuple(a.update(shape=(size,) + a.shape) for a in result_avals)


def _pure_callback_batch(vals, dims, *, callback, result_avals, vmap_method, sharding):
  """JAX's rule for callbacks under vmap, by ``vmap_method``."""
  params = dict(callback=callback, vmap_method=vmap_method, sharding=sharding)
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  moved = [v if d is None else batching.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
  out_avals = _batched_avals(result_avals, size)
  if vmap_method == "legacy_vectorized":
    outs = pure_callback_p.bind(*moved, result_avals=out_avals, **params)
  elif vmap_method in ("expand_dims", "broadcast_all"):
    n = size if vmap_method == "broadcast_all" else 1
    args = [shapes.broadcast(v, (n,)) if d is None else v for v, d in zip(moved, dims)]
    outs = pure_callback_p.bind(*args, result_avals=out_avals, **params)
  elif vmap_method in ("sequential", "sequential_unrolled"):
    batched = [d is not None for d in dims]

    def one(xs):
      it = iter(xs)
      args = [next(it) if b else v for v, b in zip(moved, batched)]
      return pure_callback_p.bind(*args, result_avals=result_avals, **params)

    xs = [v for v, b in zip(moved, batched) if b]
    if vmap_method == "sequential":
      _, outs = loops.scan(lambda c, x: (c, one(x)), (), xs)
    else:
      rows = [one([slicing.index_in_dim(x, i, 0, keepdims=False) for x in xs])
              for i in range(size)]
      outs = [_stack([r[k] for r in rows], a) for k, a in enumerate(out_avals)]
  else:
    raise NotImplementedError(
        "vmap is only supported for the pure_callback primitive when vmap_method is one of "
        "'sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all', or "
        f"'legacy_vectorized'. Got vmap_method={vmap_method!r}.")
  return list(outs), [0] * len(outs)


def _stack(xs, aval):
  if not xs:
    return shapes.full(aval.shape, 0, aval.dtype)
  return shapes.concatenate([shapes.expand_dims(x, (0,)) for x in xs], 0)


batching.primitive_batchers[pure_callback_p] = _pure_callback_batch

_VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                 "legacy_vectorized", None)


def _result_aval(x) -> ShapedArray:
  if not (hasattr(x, "shape") and hasattr(x, "dtype")):
    raise TypeError("pure_callback: each leaf of result_shape_dtypes must have `shape` and "
                    f"`dtype` attributes (e.g. rjax.ShapeDtypeStruct), got {x!r}")
  dt = np.dtype(x.dtype)
  if dtypes.canonicalize_dtype(dt) != dt:
    raise ValueError("result_shape_dtypes cannot specify 64-bit types when `jax_enable_x64` "
                     "is disabled")
  return ShapedArray(tuple(x.shape), dt)


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None, **kwargs: Any):
  """Call a pure Python function from rjax code, under any transformation
  (``jax.pure_callback``). ``callback`` gets read-only NumPy arrays (the
  leaves of ``args`` and ``kwargs``) and returns a pytree of arrays matching
  ``result_shape_dtypes`` (shapes and dtypes exactly). Under ``vmap`` the
  call is batched as ``vmap_method`` says ("sequential",
  "sequential_unrolled", "expand_dims", "broadcast_all"); without one,
  ``vmap`` raises NotImplementedError, as in JAX."""
  if not callable(callback):
    raise TypeError(f"pure_callback: the callback must be callable, got {type(callback)}")
  if vmap_method not in _VMAP_METHODS:
    raise ValueError(f"vmap_method must be on of the allowed methods {list(_VMAP_METHODS)}, "
                     f"but got: {vmap_method}")
  flat, in_tree = tree_util.tree_flatten((args, kwargs))
  for x in flat:
    core.get_aval(x)   # TypeError naming a non-array argument
  res_leaves, out_tree = tree_util.tree_flatten(result_shape_dtypes)
  result_avals = tuple(_result_aval(x) for x in res_leaves)
  outs = pure_callback_p.bind(*flat, callback=_FlatCallback(callback, in_tree, (), out_tree),
                              result_avals=result_avals, vmap_method=vmap_method,
                              sharding=sharding)
  return tree_util.tree_unflatten(out_tree, outs)


# ---------------------------------------------------------------------------
# debug_callback

debug_callback_p = core.new_primitive("debug_callback", multiple_results=True)


def _debug_callback_abstract_eval(*avals, callback, ordered, partitioned):
  return []


debug_callback_p.def_abstract_eval(_debug_callback_abstract_eval)
debug_callback_p.def_impl(_callback_impl(debug_callback_p))
lowering.lowerings[debug_callback_p] = _lowering("debug_callback")


def _debug_callback_reference(*args, callback, ordered, partitioned):
  callback(*[np.asarray(a) for a in args])
  return []


reference.register(debug_callback_p, _debug_callback_reference)


def _debug_callback_jvp(primals, tangents, **params):
  # As JAX: the callback sees the primal values; it has no outputs.
  return debug_callback_p.bind(*primals, **params), []


def _debug_callback_transpose(ct, *args, **params):
  return [None] * len(args)


ad.primitive_jvps[debug_callback_p] = _debug_callback_jvp
ad.primitive_transposes[debug_callback_p] = _debug_callback_transpose


def _debug_callback_batch(vals, dims, **params):
  """As JAX: one call per element of the mapped axis (unmapped operands are
  passed whole to each)."""
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  for i in range(size):
    debug_callback_p.bind(*[v if d is None else slicing.index_in_dim(v, i, d, keepdims=False)
                            for v, d in zip(vals, dims)], **params)
  return [], []


batching.primitive_batchers[debug_callback_p] = _debug_callback_batch


def debug_callback(callback: Callable[..., None] | None = None, *args: Any,
                   ordered: bool = False, partitioned: bool = False, **kwargs: Any):
  """Call ``callback(*args, **kwargs)`` for its side effect, from rjax code
  under any transformation (``jax.debug.callback``): array leaves arrive as
  read-only NumPy arrays; other leaves are passed as given. Never removed as
  dead code; runs every time the program runs (every iteration in a loop).
  Also usable as ``debug_callback(ordered=True)(callback, *args)``."""
  def call(callback, *c_args, **c_kwargs):
    if not callable(callback):
      raise TypeError("first argument to jax.debug.callback must be callable, but got an "
                      f"object of type {type(callback)}")
    dyn, in_tree, static = _split_args(c_args, c_kwargs)
    debug_callback_p.bind(*dyn, callback=_FlatCallback(callback, in_tree, static),
                          ordered=bool(ordered), partitioned=bool(partitioned))

  if callback is not None:
    call(callback, *args, **kwargs)
    return None
  if args or kwargs:
    raise TypeError("debug_callback received unexpected arguments in the two-call form: "
                    f"args={args} kwargs={kwargs}")
  return call


# ---------------------------------------------------------------------------
# debug.print


class _FormatChecker(string.Formatter):
  """JAX's check that every argument of ``debug.print`` is used."""

  def format_field(self, value, format_spec):
    return ""

  def check_unused_args(self, used_args, args, kwargs):
    unused = [a for i, a in enumerate(args) if i not in used_args]
    unused_kw = [k for k in kwargs if k not in used_args]
    if unused:
      raise ValueError(f"Unused positional arguments to `jax.debug.print`: {unused}")
    if unused_kw:
      raise ValueError(
          f"Unused keyword arguments to `jax.debug.print`: {unused_kw}. You may be passing an "
          "f-string (i.e, `f\"{x}\"`) into `jax.debug.print` and instead should pass in a "
          "regular string.")


_checker = _FormatChecker()


class _Printer:
  """The callback of one ``debug.print`` format (hashable, so repeated
  eager prints of the same format reuse one compiled program)."""

  __slots__ = ("fmt", "printoptions", "placeholders")

  def __init__(self, fmt: str, printoptions: tuple, placeholders: bool):
    self.fmt, self.printoptions, self.placeholders = fmt, printoptions, placeholders

  def _key(self):
    return (self.fmt, self.printoptions, self.placeholders)

  def __eq__(self, other):
    return type(other) is _Printer and self._key() == other._key()

  def __hash__(self):
    return hash(self._key())

  def __repr__(self):
    return f"print({self.fmt!r})"

  def __call__(self, *args, **kwargs):
    if self.placeholders:
      with np.printoptions(**dict(self.printoptions)):
        msg = self.fmt.format(*args, **kwargs)
    else:
      msg = " ".join((self.fmt, *(str(a) for a in args)))
    sys.stdout.write(msg + "\n")


def _printoptions() -> tuple:
  return tuple(sorted((k, v) for k, v in np.get_printoptions().items()
                      if isinstance(v, (bool, int, float, str, type(None)))))


def debug_print(fmt: str | None = None, *args, ordered: bool = False, partitioned: bool = False,
                skip_format_check: bool = False, **kwargs):
  """Print with ``fmt.format(*args, **kwargs)`` when the program runs, under
  any transformation (``jax.debug.print``): under ``jit`` at each call,
  under ``vmap`` once per element, under ``grad`` with the primal values,
  in loops at every iteration. Not an f-string: ``"x = {x}"`` with ``x=x``.
  Also usable as ``debug_print(ordered=True)(fmt, *args)``. Work queued on
  the device (large, or ``RJAX_ASYNC=always``) prints when it runs:
  ``rjax.effects_barrier()`` waits for that."""
  def call(fmt: str, *c_args, **c_kwargs):
    if not skip_format_check:
      _checker.format(fmt, *c_args, **c_kwargs)
    placeholders = False
    if fmt:
      _, field, *_ = next(iter(string.Formatter().parse(fmt)))
      placeholders = field is not None
    printer = _Printer(fmt, _printoptions(), placeholders)
    debug_callback(printer, *c_args, ordered=ordered, partitioned=partitioned, **c_kwargs)

  if fmt is not None:
    call(fmt, *args, **kwargs)
    return None
  if args or kwargs:
    raise TypeError(f"debug_print received unexpected arguments in the two-call form: "
                    f"args={args} kwargs={kwargs}")
  return call


def effects_barrier() -> None:
  """Wait until every callback of the work queued so far has run
  (``jax.effects_barrier``)."""
  devices.synchronize()
