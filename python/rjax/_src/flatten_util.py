"""``ravel_pytree``: a pytree of arrays as one flat vector, and the function
that turns such a vector back into the pytree (``jax.flatten_util``)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import dtypes, tree_util
from rjax._src.lax import lax, shapes, slicing

__all__ = ["ravel_pytree"]


class _HashablePartial:
  """``functools.partial`` that compares and hashes by its function and args
  (so an unravel function can be a static argument of ``jit``)."""

  def __init__(self, f, *args):
    self.f, self.args = f, args

  def __eq__(self, other):
    return (type(other) is _HashablePartial and self.f is other.f
            and self.args == other.args)

  def __hash__(self):
    return hash((self.f, self.args))

  def __call__(self, *args, **kwargs):
    return self.f(*self.args, *args, **kwargs)


def _leaf_dtype(x) -> np.dtype:
  return dtypes.dtype_and_weak(x)[0]


def _shape(x) -> tuple:
  return tuple(core.get_aval(x).shape) if isinstance(x, core.Tracer) else np.shape(x)


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
  """``(flat, unravel)``: the leaves raveled and concatenated into one 1-D
  array of their promoted dtype (float32 and empty when there are no
  leaves), and ``unravel(flat)`` rebuilding the pytree with each leaf's shape
  and dtype."""
  leaves, treedef = tree_util.tree_flatten(pytree)
  flat, unravel_list = _ravel_list(leaves)
  return flat, _HashablePartial(_unravel_pytree, treedef, unravel_list)


def _unravel_pytree(treedef, unravel_list, flat):
  return tree_util.tree_unflatten(treedef, unravel_list(flat))


def _ravel_list(lst: list) -> tuple[Any, Callable]:
  if not lst:
    return jnp.zeros((0,), np.float32), lambda _: []
  from_dtypes = tuple(_leaf_dtype(x) for x in lst)
  to_dtype = dtypes.result_type(*from_dtypes)
  shapes_ = tuple(_shape(x) for x in lst)
  sizes = tuple(int(np.prod(s, dtype=np.int64)) for s in shapes_)
  flat = lax.convert_element_type
  parts = [shapes.reshape(flat(x, to_dtype), (n,)) for x, n in zip(lst, sizes)]
  raveled = shapes.concatenate(parts, 0)
  if all(dt == to_dtype for dt in from_dtypes):
    return raveled, _HashablePartial(_unravel_single_dtype, sizes, shapes_)
  return raveled, _HashablePartial(_unravel_list, sizes, shapes_, from_dtypes, to_dtype)


def _chunks(arr, sizes):
  n = _shape(arr)
  if len(n) != 1 or n[0] != sum(sizes):
    raise ValueError(f"unravel: expected a 1-D array of {sum(sizes)} elements, got shape {n}")
  out, start = [], 0
  for s in sizes:
    out.append(slicing.slice(arr, (start,), (start + s,)))
    start += s
  return out


def _unravel_single_dtype(sizes, shapes_, arr):
  return [shapes.reshape(c, s) for c, s in zip(_chunks(arr, sizes), shapes_)]


def _unravel_list(sizes, shapes_, from_dtypes, to_dtype, arr):
  arr_dtype = _leaf_dtype(arr)
  if arr_dtype != to_dtype:
    raise TypeError(f"unravel function given array of dtype {arr_dtype}, but expected dtype "
                    f"{to_dtype}")
  return [lax.convert_element_type(shapes.reshape(c, s), dt)
          for c, s, dt in zip(_chunks(arr, sizes), shapes_, from_dtypes)]
