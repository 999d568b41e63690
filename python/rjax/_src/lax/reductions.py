"""Reduction, cumulative and sorting primitives (reduce_sum, argmax, cumsum,
sort, top_k, ...), each with all its rules.

Each primitive is one block: abstract eval, NumPy reference, the public lax
function. JVP/transpose/batching rules go next to each block.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from rjax._src import core, dtypes
from rjax._src.core import ShapedArray
from rjax._src.lax import reference
from rjax._src.lax.lax import _any, _intbool, _num, _float, asarray_lax, check_dtype, \
    standard_primitive


def _check_axes(name: str, x: ShapedArray, axes) -> None:
  if len(set(axes)) != len(axes):
    raise ValueError(f"{name}: duplicate value in 'axes' of reduction: {tuple(axes)}")
  if any(not 0 <= a < x.ndim for a in axes):
    raise ValueError(f"{name}: reduction axes {tuple(axes)} contains out-of-bounds indices "
                     f"for {x.str_short()}")


def _reduced_shape(shape, axes) -> tuple:
  return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_primitive(name: str, kinds):
  def abstract_eval(x, *, axes, out_sharding=None):
    check_dtype(name, x, kinds)
    _check_axes(name, x, axes)
    return ShapedArray(_reduced_shape(x.shape, axes), x.dtype, x.weak_type)

  p = standard_primitive(name, abstract_eval)
  return p


def _np_reduce(fn, bool_fn=None, initial=None):
  def ref(x, *, axes, out_sharding=None):
    f = bool_fn if (bool_fn is not None and x.dtype == np.bool_) else fn
    kw = {} if initial is None or x.dtype == np.bool_ else {"initial": initial(x.dtype)}
    return np.asarray(f(x, axis=tuple(axes), **kw)).astype(x.dtype)
  return ref


def _lowest(dt):
  return -np.inf if dt.kind == "f" or dt.name == "bfloat16" else np.iinfo(dt).min


def _highest(dt):
  return np.inf if dt.kind == "f" or dt.name == "bfloat16" else np.iinfo(dt).max


def _ones(dt):
  return ~np.zeros((), dt)


def _canon_axes(x, axes) -> tuple:
  nd = core.get_aval(x).ndim
  if isinstance(axes, (int, np.integer)):
    axes = (axes,)
  return tuple(int(a) + nd if int(a) < 0 else int(a) for a in axes)


reduce_sum_p = _reduce_primitive("reduce_sum", _num)
reference.register(reduce_sum_p, _np_reduce(np.sum))
reduce_prod_p = _reduce_primitive("reduce_prod", _num)
reference.register(reduce_prod_p, _np_reduce(np.prod))
reduce_max_p = _reduce_primitive("reduce_max", _any)
reference.register(reduce_max_p, _np_reduce(np.max, np.any, _lowest))
reduce_min_p = _reduce_primitive("reduce_min", _any)
reference.register(reduce_min_p, _np_reduce(np.min, np.all, _highest))
reduce_and_p = _reduce_primitive("reduce_and", _intbool)
reference.register(reduce_and_p, _np_reduce(np.bitwise_and.reduce, np.all, _ones))
reduce_or_p = _reduce_primitive("reduce_or", _intbool)
reference.register(reduce_or_p, _np_reduce(np.bitwise_or.reduce, np.any))
reduce_xor_p = _reduce_primitive("reduce_xor", _intbool)
reference.register(reduce_xor_p, _np_reduce(np.bitwise_xor.reduce))


def reduce_sum(operand, axes: Sequence[int]):
  """Sum over ``axes`` (``lax.reduce_sum``)."""
  x = asarray_lax(operand)
  return reduce_sum_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


def reduce_prod(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_prod_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


def reduce_max(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_max_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


def reduce_min(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_min_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


def reduce_and(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_and_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


def reduce_or(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_or_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


def reduce_xor(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_xor_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


# ---------------------------------------------------------------------------
# argmax / argmin


def _arg_primitive(name: str):
  def abstract_eval(x, *, axes, index_dtype):
    if len(axes) != 1 or not 0 <= axes[0] < x.ndim:
      raise ValueError(f"{name}: invalid axis {tuple(axes)} for operand shape {x.shape}")
    if not dtypes.is_int(index_dtype):
      raise TypeError(f"{name}: index_dtype must be an integer type, but got "
                      f"{np.dtype(index_dtype).name}")
    if x.shape[axes[0]] == 0:
      raise ValueError(f"{name}: argmin and argmax require non-empty reduced dimension. "
                       f"operand.shape={x.shape} axis={axes[0]}")
    return ShapedArray(_reduced_shape(x.shape, axes), index_dtype, False)

  return standard_primitive(name, abstract_eval)


def _arg_ref(np_fn):
  def ref(x, *, axes, index_dtype):
    xx = x.astype(np.float32) if x.dtype.kind == "V" or x.dtype.name == "bfloat16" else x
    return np.asarray(np_fn(xx, axis=axes[0])).astype(index_dtype)
  return ref


argmax_p = _arg_primitive("argmax")
reference.register(argmax_p, _arg_ref(np.argmax))
argmin_p = _arg_primitive("argmin")
reference.register(argmin_p, _arg_ref(np.argmin))


def argmax(operand, axis: int, index_dtype):
  """Index of the first maximum along ``axis`` (NaN counts as the maximum)."""
  x = asarray_lax(operand)
  return argmax_p.bind(x, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype))


def argmin(operand, axis: int, index_dtype):
  """Index of the first minimum along ``axis`` (NaN counts as the minimum)."""
  x = asarray_lax(operand)
  return argmin_p.bind(x, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype))


# ---------------------------------------------------------------------------
# Cumulative ops


def _cum_primitive(name: str, kinds):
  def abstract_eval(x, *, axis, reverse):
    check_dtype(name, x, kinds)
    if not 0 <= axis < x.ndim:
      raise ValueError(f"{name}: axis {axis} is out of bounds for array of shape {x.shape}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)

  return standard_primitive(name, abstract_eval)


def _cum_ref(np_fn):
  def ref(x, *, axis, reverse):
    if reverse:
      x = np.flip(x, axis)
    wide = np.float32 if x.dtype.itemsize < 4 and x.dtype.kind not in "iub" else None
    r = np_fn(x.astype(wide) if wide else x, axis=axis).astype(x.dtype)
    return np.flip(r, axis) if reverse else r
  return ref


def _logcumsumexp(x, axis):
  return np.logaddexp.accumulate(x.astype(np.float64), axis=axis)


cumsum_p = _cum_primitive("cumsum", _num)
reference.register(cumsum_p, _cum_ref(np.cumsum))
cumprod_p = _cum_primitive("cumprod", _num)
reference.register(cumprod_p, _cum_ref(np.cumprod))
cummax_p = _cum_primitive("cummax", _num)
reference.register(cummax_p, _cum_ref(np.maximum.accumulate))
cummin_p = _cum_primitive("cummin", _num)
reference.register(cummin_p, _cum_ref(np.minimum.accumulate))
cumlogsumexp_p = _cum_primitive("cumlogsumexp", _float)
reference.register(cumlogsumexp_p, _cum_ref(_logcumsumexp))


def _cum(p, operand, axis, reverse):
  x = asarray_lax(operand)
  nd = core.get_aval(x).ndim
  axis = int(axis)
  if not -nd <= axis < nd:
    raise ValueError(f"{p.name}: axis {axis} is out of bounds for array of dimension {nd}")
  return p.bind(x, axis=axis % nd, reverse=bool(reverse))


def cumsum(operand, axis: int = 0, reverse: bool = False):
  return _cum(cumsum_p, operand, axis, reverse)


def cumprod(operand, axis: int = 0, reverse: bool = False):
  return _cum(cumprod_p, operand, axis, reverse)


def cummax(operand, axis: int = 0, reverse: bool = False):
  return _cum(cummax_p, operand, axis, reverse)


def cummin(operand, axis: int = 0, reverse: bool = False):
  return _cum(cummin_p, operand, axis, reverse)


def cumlogsumexp(operand, axis: int = 0, reverse: bool = False):
  return _cum(cumlogsumexp_p, operand, axis, reverse)


# ---------------------------------------------------------------------------
# sort (multi-operand) and top_k


def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
  if not operands:
    raise TypeError("sort: needs at least one operand")
  shape = operands[0].shape
  if any(o.shape != shape for o in operands):
    raise TypeError("sort: arguments to sort must have equal shapes, got: "
                    + " ".join(str(o.shape) for o in operands))
  if not 0 <= dimension < len(shape):
    raise ValueError(f"sort: dimension {dimension} is out of bounds for shape {shape}")
  if not 1 <= num_keys <= len(operands):
    raise ValueError(f"sort: num_keys={num_keys} must be between 1 and "
                     f"len(operand)={len(operands)}")
  return [ShapedArray(o.shape, o.dtype, o.weak_type) for o in operands]


sort_p = standard_primitive("sort", _sort_abstract_eval, multiple_results=True)


def _sort_ref(*operands, dimension, is_stable, num_keys):
  keys = []
  for k in operands[:num_keys][::-1]:
    k = np.moveaxis(np.asarray(k), dimension, -1)
    if k.dtype.name == "bfloat16" or k.dtype == np.float16:
      k = k.astype(np.float32)
    if k.dtype.kind == "f":  # NaNs last
      keys.append(k)
      keys.append(np.isnan(k))
    else:
      keys.append(k)
  # np.lexsort: last key is primary; isnan is placed after its key so it is more primary.
  perm = np.lexsort(keys, axis=-1)
  outs = []
  for o in operands:
    m = np.moveaxis(np.asarray(o), dimension, -1)
    outs.append(np.moveaxis(np.take_along_axis(m, perm, -1), -1, dimension))
  return outs


reference.register(sort_p, _sort_ref)


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
  """Sort ``operand`` (an array or a tuple of arrays, sorted together by the
  first ``num_keys`` of them) along ``dimension``. NaNs sort last."""
  single = not isinstance(operand, (tuple, list))
  ops = [asarray_lax(operand)] if single else [asarray_lax(o) for o in operand]
  nd = core.get_aval(ops[0]).ndim
  dimension = int(dimension)
  if not -nd <= dimension < nd:
    raise ValueError(f"sort: dimension {dimension} is out of bounds for array of dimension {nd}")
  out = sort_p.bind(*ops, dimension=dimension % nd, is_stable=bool(is_stable),
                    num_keys=int(num_keys))
  return out[0] if single else tuple(out)


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
  """Sort ``keys`` and permute ``values`` the same way."""
  k, v = sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
  return k, v


def _top_k_abstract_eval(x, *, k, axis):
  if k < 0:
    raise ValueError(f"top_k: k argument to top_k must be nonnegative, got {k}")
  if x.ndim == 0 or not 0 <= axis < x.ndim:
    raise ValueError(f"top_k: axis {axis} is out of bounds for array of dimension {x.ndim}")
  if x.shape[axis] < k:
    raise ValueError(f"top_k: k argument to top_k must be no larger than size along axis; "
                     f"got k={k} with shape={list(x.shape)} and axis={axis}")
  shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
  return [ShapedArray(shape, x.dtype, x.weak_type), ShapedArray(shape, dtypes.int32, False)]


top_k_p = standard_primitive("top_k", _top_k_abstract_eval, multiple_results=True)


def _top_k_ref(x, *, k, axis):
  m = np.moveaxis(np.asarray(x), axis, -1)
  key = m.astype(np.float32) if m.dtype.name == "bfloat16" or m.dtype == np.float16 else m
  if key.dtype.kind == "f":
    perm = np.lexsort((-key, ~np.isnan(key)), axis=-1)[..., :k]
  elif key.dtype.kind == "u" or key.dtype == np.bool_:
    perm = np.argsort(np.iinfo(np.uint64).max - key.astype(np.uint64), axis=-1, kind="stable")[..., :k]
  else:
    perm = np.argsort(-key.astype(np.int64), axis=-1, kind="stable")[..., :k]
  vals = np.take_along_axis(m, perm, -1)
  return [np.moveaxis(vals, -1, axis), np.moveaxis(perm.astype(np.int32), -1, axis)]


reference.register(top_k_p, _top_k_ref)


def top_k(operand, k: int, *, axis: int = -1):
  """The ``k`` largest entries along ``axis`` (last by default) and their
  int32 indices; NaN is largest; ties go to the lower index."""
  x = asarray_lax(operand)
  nd = core.get_aval(x).ndim
  axis = int(axis)
  if not -nd <= axis < nd:
    raise ValueError(f"top_k: axis {axis} is out of bounds for array of dimension {nd}")
  vals, idx = top_k_p.bind(x, k=int(k), axis=axis % nd)
  return vals, idx


__all__ = ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
           "reduce_xor", "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin",
           "cumlogsumexp", "sort", "sort_key_val", "top_k"]


# ---------------------------------------------------------------------------
# Differentiation and batching rules (first set)

from rjax._src.interpreters import ad as _ad  # noqa: E402
from rjax._src.interpreters import batching as _batching  # noqa: E402


def _reduce_sum_transpose(ct, x, **params):
  from rjax._src.lax import shapes
  axes = params["axes"]
  shape = x.aval.shape
  kept = tuple(d for d in range(len(shape)) if d not in axes)
  return [shapes.broadcast_in_dim(ct, shape, kept)]


_ad.deflinear(reduce_sum_p, _reduce_sum_transpose)
_batching.defreducer(reduce_sum_p)
