"""Functions that map a Python function over arrays: ``vectorize`` (with
gufunc signatures), ``apply_along_axis``, ``apply_over_axes`` and
``piecewise``. They are built on the batching interpreter (``vmap``), as in
JAX, so the mapped function runs once, traced, not once per element."""
from __future__ import annotations

import functools
import re
from typing import Callable, Collection, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.interpreters import batching
from rjax._src.lax import lax, shapes
from rjax._src.numpy import lax_numpy, reductions, shape_ops
from rjax._src.numpy.util import asarray, canonicalize_axis, check_arraylike

_DIMENSION_NAME = r"\w+"
_CORE_DIMENSION_LIST = "(?:{0:}(?:,{0:})*)?".format(_DIMENSION_NAME)
_ARGUMENT = rf"\({_CORE_DIMENSION_LIST}\)"
_ARGUMENT_LIST = "{0:}(?:,{0:})*".format(_ARGUMENT)
_SIGNATURE = "^{0:}->{0:}$".format(_ARGUMENT_LIST)


def _aval(x):
  return core.get_aval(x)


def _parse_signature(signature: str):
  """``'(m,n),(n)->(m)'`` -> input and output core dimension names."""
  if not re.match(_SIGNATURE, signature):
    raise ValueError(f"not a valid gufunc signature: {signature}")
  return tuple([tuple(re.findall(_DIMENSION_NAME, arg)) for arg in re.findall(_ARGUMENT, part)]
               for part in signature.split("->"))


def _update_dim_sizes(dim_sizes, shape, core_dims, context, *, is_input):
  n = len(core_dims)
  if is_input and len(shape) < n:
    raise ValueError(f"input with shape {shape!r} does not have enough dimensions for all core "
                     f"dimensions {core_dims!r} {context}")
  if not is_input and len(shape) != n:
    raise ValueError(f"output shape {shape!r} does not match core dimensions {core_dims!r} "
                     f"{context}")
  for dim, size in zip(core_dims, shape[len(shape) - n:] if n else ()):
    if dim not in dim_sizes:
      dim_sizes[dim] = size
    elif size != dim_sizes[dim]:
      raise ValueError(f"inconsistent size for core dimension {dim!r}: {size!r} vs "
                       f"{dim_sizes[dim]!r} {context}")


def _check_output_dims(func, dim_sizes, out_core_dims, context):
  def wrapped(*args):
    out = func(*args)
    outs = out if isinstance(out, tuple) else [out]
    if len(out_core_dims) > 1 and not isinstance(out, tuple):
      raise TypeError(f"output must be a tuple when multiple outputs are expected, got: "
                      f"{out!r}\n{context}")
    if len(outs) != len(out_core_dims):
      raise TypeError(f"wrong number of output arguments: expected {len(out_core_dims)!r}, "
                      f"got {len(outs)!r} {context}")
    sizes = dict(dim_sizes)
    for o, dims in zip(outs, out_core_dims):
      _update_dim_sizes(sizes, np.shape(o) if not hasattr(o, "aval") else _aval(o).shape, dims,
                        context, is_input=False)
    return out
  return wrapped


def _apply_excluded(func, excluded, args, kwargs):
  """Bind the excluded (static) positional and keyword arguments into ``func``."""
  if not excluded:
    return func, args, kwargs
  dyn_args = [a for i, a in enumerate(args) if i not in excluded]
  dyn_kwargs = {k: v for k, v in kwargs.items() if k not in excluded}
  static_args = [(i, args[i]) for i in sorted(e for e in excluded if isinstance(e, int))
                 if i < len(args)]
  static_kwargs = {k: v for k, v in kwargs.items() if k in excluded}

  def new_func(*a, **kw):
    a = list(a)
    for i, v in static_args:
      a.insert(i, v)
    return func(*a, **kw, **static_kwargs)
  return new_func, dyn_args, dyn_kwargs


def _vmap(f, in_axes, out_axes=0):
  return batching.vmap(f, in_axes=in_axes, out_axes=out_axes)


def vectorize(pyfunc: Callable, *, excluded: Collection[int | str] = frozenset(),
              signature: str | None = None) -> Callable:
  """Define a vectorized function with broadcasting (``np.vectorize``), by
  ``vmap`` over the broadcast (non-core) dimensions."""
  if any(not isinstance(e, (str, int)) for e in excluded):
    raise TypeError(f"jax.numpy.vectorize can only exclude integer or string arguments, but "
                    f"excluded={excluded!r}")
  if any(isinstance(e, int) and e < 0 for e in excluded):
    raise ValueError(f"excluded={excluded!r} contains negative numbers")

  @functools.wraps(pyfunc)
  def wrapped(*args, **kwargs):
    context = f"on vectorized function with excluded={excluded!r} and signature={signature!r}"
    func, args, kwargs = _apply_excluded(pyfunc, excluded, args, kwargs)
    if signature is not None:
      in_core, out_core = _parse_signature(signature)
    else:
      in_core, out_core = [()] * len(args), None
    none_args = {i for i, a in enumerate(args) if a is None}
    if none_args:
      if any(in_core[i] != () for i in none_args):
        raise ValueError(f"Cannot pass None at locations {none_args} with "
                         f"signature={signature!r}")
      func, args, _ = _apply_excluded(func, none_args, args, {})
      in_core = [d for i, d in enumerate(in_core) if i not in none_args]
    args = tuple(asarray(a) for a in args)
    if len(args) != len(in_core):
      raise TypeError(f"wrong number of positional arguments: expected {len(in_core)!r}, got "
                      f"{len(args)!r} {context}")
    dim_sizes: dict = {}
    noncore = []
    for a, dims in zip(args, in_core):
      _update_dim_sizes(dim_sizes, _aval(a).shape, dims, context, is_input=True)
      noncore.append(_aval(a).shape[:_aval(a).ndim - len(dims)])
    bshape = shape_ops.broadcast_shapes(*noncore)
    checked = func if out_core is None else _check_output_dims(func, dim_sizes, out_core, context)
    squeezed, rev_filled = [], []
    for a, nc in zip(args, noncore):
      rev_filled.append(((1,) * (len(bshape) - len(nc)) + nc)[::-1])
      squeezed.append(shape_ops.squeeze(a, tuple(i for i, s in enumerate(nc) if s == 1)))
    vf = checked
    expand = []
    for negdim, sizes in enumerate(zip(*rev_filled)):
      in_axes = tuple(None if s == 1 else 0 for s in sizes)
      if all(ax is None for ax in in_axes):
        expand.append(len(bshape) - 1 - negdim)
      else:
        vf = _vmap(vf, in_axes)
    result = vf(*squeezed)
    if not expand:
      return result
    if isinstance(result, tuple):
      return tuple(shape_ops.expand_dims(r, expand) for r in result)
    return shape_ops.expand_dims(result, expand)

  return wrapped


def apply_along_axis(func1d: Callable, axis: int, arr, *args, **kwargs):
  """Apply ``func1d`` to 1-d slices of ``arr`` along ``axis`` (by ``vmap``)."""
  check_arraylike("apply_along_axis", arr)
  arr = asarray(arr)
  nd = _aval(arr).ndim
  axis = canonicalize_axis(axis, nd, "apply_along_axis")
  func = lambda a: func1d(a, *args, **kwargs)  # noqa: E731
  for i in range(1, nd - axis):
    func = _vmap(func, i, -1)
  for _ in range(axis):
    func = _vmap(func, 0, 0)
  return func(arr)


def apply_over_axes(func: Callable, a, axes: Sequence[int]):
  """Apply ``func(a, axis)`` repeatedly over ``axes``, keeping the rank."""
  check_arraylike("apply_over_axes", a)
  a = asarray(a)
  for axis in axes:
    b = func(a, axis)
    if _aval(b).ndim == _aval(a).ndim:
      a = b
    elif _aval(b).ndim == _aval(a).ndim - 1:
      a = shape_ops.expand_dims(b, axis)
    else:
      raise ValueError("function is not returning an array of the correct shape")
  return a


def piecewise(x, condlist, funclist: list, *args, **kw):
  """Evaluate a piecewise-defined function: ``funclist[i]`` where
  ``condlist[i]`` (the last true condition wins), the extra function (or 0)
  elsewhere. Every function runs on all of ``x``; the results are selected."""
  check_arraylike("piecewise", x)
  x = asarray(x)
  nc, nf = len(condlist), len(funclist)
  if nf == nc + 1:
    funclist = list(funclist[-1:]) + list(funclist[:-1])
  elif nf == nc:
    funclist = [0] + list(funclist)
  else:
    raise ValueError(f"with {nc} condition(s), either {nc} or {nc + 1} functions are expected; "
                     f"got {nf}")
  conds = lax_numpy.asarray(condlist, dtype=dtypes.bool_)
  shape, dt = _aval(x).shape, _aval(x).dtype
  if _aval(conds).shape[1:] != shape:
    conds = shape_ops.broadcast_to(conds, (nc,) + shape)
  zero = shapes.full((1,) + shape, False, dtypes.bool_)
  # index of the branch: 0 if no condition holds, else 1 + the last true condition
  which = reductions.argmax(reductions.cumsum(shape_ops.concatenate([zero, conds], 0), axis=0,
                                              dtype=dtypes.int32), axis=0)
  cases = []
  for f in funclist:
    v = f(x, *args, **kw) if callable(f) else f
    v = lax.convert_element_type(asarray(v), dt)
    cases.append(shape_ops.broadcast_to(v, shape))
  return lax.select_n(lax.convert_element_type(which, dtypes.int32), *cases)


__all__ = ["vectorize", "apply_along_axis", "apply_over_axes", "piecewise"]
