"""Batching (vmap): BatchTrace carries, for each value, the axis along which it
is batched (``None``: not batched). Each primitive has a rule
``primitive_batchers[prim](vals, dims, **params) -> (out, out_dim)`` (lists for
multiple results) that moves batch dimensions as little as possible."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.interpreters import lax_hooks

not_mapped = None
primitive_batchers: dict[Any, Callable] = {}
#: Rules for collectives over named axes (psum, all_gather, axis_index, ...):
#: ``rule(axis_name, axis_size, vals, dims, **params) -> (out, out_dim)``. They
#: run on every BatchTrace, batched operands or not; a rule whose axes do not
#: include this trace's name binds the collective again on the parent trace.
collective_batchers: dict[Any, Callable] = {}


class BatchTracer(core.Tracer):
  __slots__ = ("_trace", "val", "batch_dim")

  def __init__(self, trace, val, batch_dim):
    self._trace, self.val, self.batch_dim = trace, val, batch_dim

  @property
  def aval(self):
    aval = core.get_aval(self.val)
    if self.batch_dim is None:
      return aval
    shape = list(aval.shape)
    del shape[self.batch_dim]
    return aval.update(shape=tuple(shape))

  def _origin(self):
    return "a value being batched by vmap"

  def to_concrete_value(self):
    # An unbatched value's concrete value (JAX never wraps those in a tracer).
    if self.batch_dim is not None or not self._trace.concrete_ok():
      return None
    return core.to_concrete_value(self.val)

  def _short_repr(self):
    return (f"VmapTracer(aval={core._aval_str(self.aval)}, "
            f"batched={core._aval_str(core.get_aval(self.val))})")


class BatchTrace(core.Trace):
  def __init__(self, parent_trace: core.Trace, axis_name: Any, axis_size: int):
    self.parent_trace = parent_trace
    self.axis_name = axis_name
    self.axis_size = axis_size
    self.jit_level = core.jit_level()

  def to_batch_info(self, x):
    if isinstance(x, BatchTracer) and x._trace is self:
      return x.val, x.batch_dim
    return x, not_mapped

  def process_primitive(self, prim, args, params):
    vals, dims = zip(*[self.to_batch_info(x) for x in args]) if args else ((), ())
    coll = collective_batchers.get(prim)
    if coll is not None:
      with core.set_current_trace(self.parent_trace):
        out, out_dim = coll(self.axis_name, self.axis_size, list(vals), list(dims), **params)
      if prim.multiple_results:
        return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
      return BatchTracer(self, out, out_dim)
    if all(d is None for d in dims):
      with core.set_current_trace(self.parent_trace):
        return prim.bind(*vals, **params)
    rule = primitive_batchers.get(prim)
    if rule is None:
      raise NotImplementedError(f"Batching rule for '{prim.name}' not implemented")
    with core.set_current_trace(self.parent_trace):
      out, out_dim = rule(list(vals), list(dims), **params)
    if prim.multiple_results:
      return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
    return BatchTracer(self, out, out_dim)


# ---------------------------------------------------------------------------
# Moving batch dimensions


def moveaxis(x, src: int, dst: int):
  """Move axis ``src`` of ``x`` to ``dst`` (a transpose; free if src == dst)."""
  nd = core.get_aval(x).ndim
  src, dst = src % nd, dst % nd
  if src == dst:
    return x
  perm = [i for i in range(nd) if i != src]
  perm.insert(dst, src)
  return lax_hooks.transpose(x, tuple(perm))


def bdim_at_front(x, bdim, size: int):
  """``x`` with its batch dim first (broadcast along a new axis if unbatched)."""
  if bdim is None:
    return broadcast(x, size, 0)
  return moveaxis(x, bdim, 0)


def broadcast(x, size: int, axis: int):
  """``x`` broadcast along a new axis ``axis`` of ``size`` (JAX's helper: its
  broadcast_dimensions are NumPy ints, as JAX's jaxprs print them)."""
  shape = list(core.get_aval(x).shape)
  shape.insert(axis, size)
  return lax_hooks.broadcast_in_dim(x, tuple(shape), tuple(np.delete(np.arange(len(shape)), axis)))


def matchaxis(x, src, dst, size: int):
  """Move (or create) the batch dim of ``x`` from ``src`` to ``dst``."""
  if src == dst:
    return x
  if src is None:
    return broadcast(x, size, dst)
  if dst is None:
    raise ValueError("vmap: cannot unbatch a batched value (out_axes=None for a value that "
                     "depends on a mapped input)")
  return moveaxis(x, src, dst)


# ---------------------------------------------------------------------------
# Helpers that fill the rule table


def defvectorized(prim) -> None:
  """Elementwise unary primitive: the batch dim stays where it is."""

  def rule(vals, dims, **params):
    return prim.bind(*vals, **params), dims[0]

  primitive_batchers[prim] = rule


def defbroadcasting(prim) -> None:
  """Elementwise n-ary primitive with lax's broadcasting (rank-0 operands and
  size-1 dims). Operands batched at the same dim with equal rank, next to
  unbatched rank-0 operands, bind as they are (JAX does so only for equal
  shapes: otherwise it moves the batch dims to the front, a copy unless they
  are there already). Otherwise JAX's rule: batch dims to the front, a leading
  size-1 axis for unbatched operands, trailing size-1 axes for a batched
  value that was rank 0."""

  def rule(vals, dims, **params):
    avals = [core.get_aval(v) for v in vals]
    dim, nd = next((d, a.ndim) for a, d in zip(avals, dims) if d is not None)
    if all((a.ndim == 0) if d is None else (d == dim and a.ndim == nd)
           for a, d in zip(avals, dims)):
      return prim.bind(*vals, **params), dim
    new = [bdim_at_front(v, d, 1) if a.ndim else v for v, d, a in zip(vals, dims, avals)]
    nd = max(core.get_aval(v).ndim for v in new)
    new = [v if d is None or core.get_aval(v).ndim == nd else
           lax_hooks.expand_dims(v, tuple(range(core.get_aval(v).ndim, nd)))
           for v, d in zip(new, dims)]
    return prim.bind(*new, **params), 0

  primitive_batchers[prim] = rule


def defreducer(prim, axes_param: str = "axes") -> None:
  """Reduction over ``axes`` of the unbatched value: shift the axes past the
  batch dim; the batch dim's position in the output is counted accordingly."""

  def rule(vals, dims, **params):
    (x,), (d,) = vals, dims
    # (NumPy ints, as JAX's rule makes them and its jaxprs print them)
    axes = tuple(np.where(np.less(params[axes_param], d), params[axes_param],
                          np.add(params[axes_param], 1)))
    out = prim.bind(x, **{**params, axes_param: axes})
    return out, d - sum(int(a) < d for a in axes)

  primitive_batchers[prim] = rule


# ---------------------------------------------------------------------------
# vmap on flat lists


def vmap_flat(fun: Callable, args: Sequence[Any], in_dims: Sequence[Any], out_dims_fn: Callable,
              axis_name: Any, axis_size: int, debug: core.DebugInfo | None = None):
  parent = core.current_trace()
  trace = BatchTrace(parent, axis_name, axis_size)
  if debug is not None:  # only the mapped arguments are traced
    debug = debug.keep_only([d is not None for d in in_dims])
  trace.debug = debug
  tracers = [BatchTracer(trace, a, d) if d is not None else a for a, d in zip(args, in_dims)]
  with core.set_current_trace(trace), core.extend_axis_env(axis_name, axis_size):
    outs = fun(*tracers)
  out_dims = out_dims_fn(len(outs))
  res, o = [], None
  for o, od in zip(outs, out_dims):
    v, d = trace.to_batch_info(o)
    if od is None and d is not None:
      raise ValueError("vmap has mapped output but out_axes is None")
    res.append(v if od is None and d is None else matchaxis(v, d, od % (core.get_aval(v).ndim +
                                                                           (d is None)), axis_size))
  del tracers, outs, o
  core.check_leaks(trace)
  return res


# ---------------------------------------------------------------------------
# vmap on pytrees (``rjax.vmap`` is this one; lax.map and pmap call it too)


def broadcast_prefix(prefix, tree, what: str) -> list:
  """One entry per leaf of ``tree`` from a prefix tree of axis specs (int/None)."""
  if prefix is None or isinstance(prefix, int):
    return [prefix] * len(tree_util.tree_leaves(tree))
  spec_leaves, spec_tree = tree_util.tree_flatten(prefix, is_leaf=lambda x: x is None)
  try:
    subtrees = spec_tree.flatten_up_to(tree)
  except ValueError as e:
    raise ValueError(f"vmap {what} specification must be a tree prefix of the corresponding "
                     f"value, got specification {prefix!r}: {e}") from None
  out = []
  for s, sub in zip(spec_leaves, subtrees):
    if s is not None and not isinstance(s, int):
      raise TypeError(f"vmap {what} must be an int, None, or a tree of them; got {s!r}")
    out.extend([s] * len(tree_util.tree_leaves(sub)))
  return out


def mapped_axes(what: str, flat, dims, tree, axis_size=None):
  """Check each leaf's mapped axis (``dims``, int or None) against its rank
  and the others' sizes; returns the axes made non-negative and the common
  size (``axis_size`` when nothing is mapped). Shared by vmap and pmap."""
  sizes = []
  canon = []
  paths = [tree_util.keystr(k) for k, _ in tree_util.tree_flatten_with_path(tree)[0]]
  for x, d, p in zip(flat, dims, paths):
    if d is None:
      canon.append(None)
      continue
    aval = core.get_aval(x)
    if not -aval.ndim <= d < aval.ndim or aval.ndim == 0:
      raise ValueError(f"{what} was requested to map its argument along axis {d}, which "
                       f"implies that its rank should be at least {max(d, -d - 1) + 1}, but "
                       f"is only {aval.ndim} (its shape is {aval.shape}); argument {p}")
    canon.append(d % aval.ndim)
    sizes.append((aval.shape[d % aval.ndim], d, p, aval))
  if not sizes and axis_size is None:
    raise ValueError(f"{what} must have at least one non-None value in in_axes "
                     "(or axis_size must be given)")
  size = axis_size if axis_size is not None else sizes[0][0]
  if any(s != size for s, *_ in sizes):
    lines = "\n".join(f"  * one axis had size {s}: axis {d} of argument {p} of type "
                      f"{a.str_short()};" for s, d, p, a in sizes)
    raise ValueError(f"{what} got inconsistent sizes for array axes to be mapped:\n{lines}")
  return canon, size


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_name: Any = None,
         axis_size: int | None = None, spmd_axis_name=None) -> Callable:
  """Vectorize ``fun`` over an axis of its arguments (``jax.vmap``)."""
  if isinstance(in_axes, list):
    in_axes = tuple(in_axes)

  @functools.wraps(fun, updated=())
  def wrapped(*args, **kwargs):
    if isinstance(in_axes, tuple) and len(in_axes) != len(args):
      raise ValueError(f"vmap in_axes must be an int, None, or a tuple of entries corresponding "
                       f"to the positional arguments passed to the function, but got "
                       f"len(in_axes)={len(in_axes)}, len(args)={len(args)}")
    flat, in_tree = tree_util.tree_flatten((args, kwargs))
    spec = (in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args), 0)
    dims = broadcast_prefix(spec, (args, kwargs), "in_axes")
    canon, size = mapped_axes("vmap", flat, dims, (args, kwargs), axis_size)
    box: list = []

    def flat_fun(*xs):
      a, kw = tree_util.tree_unflatten(in_tree, xs)
      out = fun(*a, **kw)
      leaves, tree = tree_util.tree_flatten(out)
      box.append((None, tree))
      return leaves

    def out_dims_fn(n):
      _, tree = box[-1]   # the structure only: holding the tracers would leak them
      return broadcast_prefix(out_axes, tree_util.tree_unflatten(tree, [0] * n), "out_axes")

    outs = vmap_flat(flat_fun, flat, canon, out_dims_fn, axis_name, size,
                              core.debug_info("vmap", fun, args, kwargs))
    return tree_util.tree_unflatten(box[-1][1], outs)

  return wrapped
