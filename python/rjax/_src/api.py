"""User-facing transformations. This release: ``make_jaxpr`` and
``eval_shape``; ``grad``/``vjp``/``jvp``/``vmap``/``jit`` build on the same
tracing machinery."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core, tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import partial_eval as pe


def _static_split(args: tuple, static_argnums: Sequence[int]):
  static = set(static_argnums)
  for i in static:
    if not -len(args) <= i < len(args):
      raise ValueError(f"static_argnums {tuple(static_argnums)} out of range for "
                       f"{len(args)} positional arguments")
  static = {i % len(args) for i in static} if args else set()
  dyn = [a for i, a in enumerate(args) if i not in static]
  return static, dyn


def _abstractify(x: Any) -> ShapedArray:
  if isinstance(x, ShapeDtypeStruct):
    return ShapedArray(x.shape, x.dtype, x.weak_type)
  try:
    return core.get_aval(x)
  except TypeError:
    pass
  if isinstance(x, (list, tuple)):
    raise TypeError("a list/tuple leaf is not an array")
  from rjax._src import dtypes
  arr = np.asarray(x)
  return ShapedArray(arr.shape, dtypes.canonicalize_dtype(arr.dtype))


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (),
               return_shape: bool = False) -> Callable:
  """``make_jaxpr(f)(*args)`` traces ``f`` and returns its ClosedJaxpr,
  printed in JAX's textual format."""
  if isinstance(static_argnums, int):
    static_argnums = (static_argnums,)

  @functools.wraps(fun)
  def wrapped(*args, **kwargs):
    static, _ = _static_split(args, static_argnums)
    dyn_args = tuple(a for i, a in enumerate(args) if i not in static)
    leaves, in_tree = tree_util.tree_flatten((dyn_args, kwargs))
    in_avals = [_abstractify(x) for x in leaves]
    out_tree_box = []

    def flat_fun(*flat):
      dargs, kw = tree_util.tree_unflatten(in_tree, flat)
      it = iter(dargs)
      full = [args[i] if i in static else next(it) for i in range(len(args))]
      out = fun(*full, **kw)
      out_leaves, out_tree = tree_util.tree_flatten(out)
      out_tree_box.append(out_tree)
      return out_leaves

    closed = pe.trace_to_jaxpr(flat_fun, in_avals)
    if return_shape:
      shapes = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                for a in closed.out_avals]
      return closed, tree_util.tree_unflatten(out_tree_box[0], shapes)
    return closed

  return wrapped


class ShapeDtypeStruct:
  """A shape and dtype, standing in for an array (``jax.ShapeDtypeStruct``)."""

  __slots__ = ("shape", "dtype", "weak_type", "sharding")

  def __init__(self, shape, dtype, weak_type: bool = False, sharding=None):
    self.shape = tuple(shape)
    self.dtype = np.dtype(dtype)
    self.weak_type = weak_type
    self.sharding = sharding

  @property
  def ndim(self):
    return len(self.shape)

  @property
  def size(self):
    return int(np.prod(self.shape, dtype=np.int64))

  def __eq__(self, other):
    return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
            and self.dtype == other.dtype and self.weak_type == other.weak_type)

  def __hash__(self):
    return hash((self.shape, self.dtype, self.weak_type))

  def __repr__(self):
    w = ", weak_type=True" if self.weak_type else ""
    return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{w})"


def eval_shape(fun: Callable, *args, **kwargs):
  """The shapes and dtypes of ``fun``'s outputs, computed without running it."""
  _, shapes = make_jaxpr(fun, return_shape=True)(*args, **kwargs)
  return shapes
