"""``associative_scan``: a parallel prefix scan (Blelloch-style odd/even
recursion) written with slicing, padding and the user's combining function,
so every transformation of it comes for free."""
from __future__ import annotations

from typing import Callable

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.lax import lax, shapes, slicing
from rjax._src.lax.utils import export


def _interleave(a, b, axis: int):
  """``a[0], b[0], a[1], b[1], ...`` along ``axis`` (``a`` may be one longer)."""
  na, nb = core.get_aval(a).shape[axis], core.get_aval(b).shape[axis]
  nd = core.get_aval(a).ndim
  a_pad, b_pad = [(0, 0, 0)] * nd, [(0, 0, 0)] * nd
  a_pad[axis] = (0, 1 if na == nb else 0, 1)
  b_pad[axis] = (1, 0 if na == nb else 1, 1)
  dt = core.get_aval(a).dtype
  zero = lax.convert_element_type(0, dt)
  pa, pb = shapes.pad(a, zero, a_pad), shapes.pad(b, zero, b_pad)
  return lax.bitwise_or(pa, pb) if dt.kind == "b" else lax.add(pa, pb)


@export
def associative_scan(fn: Callable, elems, reverse: bool = False, axis: int = 0):
  """All prefix combinations ``fn(...fn(fn(e0, e1), e2)..., ek)`` of ``elems``
  along ``axis``, for an associative ``fn`` (``jax.lax.associative_scan``)."""
  flat, tree = tree_util.tree_flatten(elems)
  if not flat:
    return elems
  ndim = core.get_aval(flat[0]).ndim
  axis = axis % ndim if ndim else axis
  n = core.get_aval(flat[0]).shape[axis]
  if any(core.get_aval(x).shape[axis] != n for x in flat):
    raise ValueError("Array inputs to associative_scan must have the same first dimension. "
                     f"(saw: {[core.get_aval(x).shape for x in flat]})")
  if reverse:
    flat = [shapes.rev(x, (axis,)) for x in flat]

  def combine(a, b):
    c = fn(tree_util.tree_unflatten(tree, a), tree_util.tree_unflatten(tree, b))
    c_flat, c_tree = tree_util.tree_flatten(c)
    if c_tree != tree:
      raise ValueError(f"associative_scan: fn's output structure {c_tree} does not match the "
                       f"input's {tree}")
    return c_flat

  def sl(x, start, limit, stride=1):
    return slicing.slice_in_dim(x, start, limit, stride, axis)

  def rec(xs):
    m = core.get_aval(xs[0]).shape[axis]
    if m < 2:
      return xs
    reduced = combine([sl(x, 0, -1, 2) for x in xs], [sl(x, 1, None, 2) for x in xs])
    odd = rec(reduced)
    if m % 2 == 0:
      even = combine([sl(e, 0, -1) for e in odd], [sl(x, 2, None, 2) for x in xs])
    else:
      even = combine(odd, [sl(x, 2, None, 2) for x in xs])
    even = [shapes.concatenate([sl(x, 0, 1), e], axis) for x, e in zip(xs, even)]
    return [_interleave(e, o, axis) for e, o in zip(even, odd)]

  out = rec(flat)
  if reverse:
    out = [shapes.rev(x, (axis,)) for x in out]
  return tree_util.tree_unflatten(tree, out)
