"""``jax.scipy.stats``' functions of samples: mode, rankdata and sem."""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.numpy.util import canonicalize_axis, check_arraylike, promote_args_inexact
from rjax._src.transforms.api import vmap
from rjax._src.transforms.jit import jit

__all__ = ["ModeResult", "mode", "rankdata", "sem"]


class ModeResult(NamedTuple):
  mode: object
  count: object


def _check_nan_policy(name, nan_policy):
  if nan_policy not in ["propagate", "omit", "raise"]:
    raise ValueError(f"Illegal nan_policy value {nan_policy!r}; expected one of "
                     "{'propagate', 'omit', 'raise'}")
  if nan_policy == "omit":
    raise NotImplementedError(f"Logic for `nan_policy` of {nan_policy} is not implemented")
  if nan_policy == "raise":
    raise NotImplementedError(
        f"In order to best JIT compile `{name}`, we cannot know whether `x` contains nans. "
        f"Please check if nans exist in `x` outside of the `{name}` function.")


@functools.partial(jit, static_argnames=["axis", "nan_policy", "keepdims"])
def mode(a, axis: int | None = 0, nan_policy: str = "propagate", keepdims: bool = False):
  """The most common value along ``axis`` (the smallest on ties) and its count."""
  check_arraylike("mode", a)
  x = jnp.atleast_1d(a)
  _check_nan_policy("mode", nan_policy)
  if axis is not None:
    axis = canonicalize_axis(axis, x.ndim)
  shape = x.shape
  if keepdims:
    out_shape = tuple(1 for _ in shape) if axis is None else \
        tuple(1 if i == axis else s for i, s in enumerate(shape))
  else:
    out_shape = () if axis is None else tuple(s for i, s in enumerate(shape) if i != axis)
  if axis is None:
    axis = 0
    x = x.ravel()

  def one(col):
    if col.size == 0:
      return (jnp.array(np.nan, dtype=dtypes.default_float_dtype()),
              jnp.array(0, dtype=dtypes.default_float_dtype()))
    vals, counts = jnp.unique(col, return_counts=True, size=col.size)
    return vals[jnp.argmax(counts)], counts.max()

  x = jnp.moveaxis(x, axis, 0)
  x = x.reshape(x.shape[0], math.prod(x.shape[1:]))
  vals, counts = vmap(one, in_axes=1)(x)
  return ModeResult(vals.reshape(out_shape), counts.reshape(out_shape))


def _invert_permutation(i):
  """The inverse of the permutation ``i`` (its argsort)."""
  return jnp.argsort(i).astype(i.dtype)


@functools.partial(jit, static_argnames=["method", "axis", "nan_policy"])
def rankdata(a, method: str = "average", *, axis: int | None = None,
             nan_policy: str = "propagate"):
  """Ranks from 1, ties by ``method`` (average, min, max, dense, ordinal);
  all NaN if the data has a NaN."""
  check_arraylike("rankdata", a)
  _check_nan_policy("rankdata", nan_policy)
  if method not in ("average", "min", "max", "dense", "ordinal"):
    raise ValueError(f"unknown method '{method}'")
  if axis is not None:
    return jnp.apply_along_axis(rankdata, axis, a, method)
  a = jnp.ravel(a)
  out_dtype = dtypes.default_float_dtype()

  def ranks(a):
    arr, sorter = lax.sort_key_val(a, jnp.arange(a.size))
    inv = _invert_permutation(sorter)
    if method == "ordinal":
      return (inv + 1).astype(out_dtype)
    obs = jnp.concatenate([jnp.array([True]), arr[1:] != arr[:-1]])
    dense = obs.cumsum()[inv]
    if method == "dense":
      return dense.astype(out_dtype)
    count = jnp.nonzero(obs, size=arr.size + 1, fill_value=obs.size)[0].astype(out_dtype)
    if method == "max":
      return count[dense]
    if method == "min":
      return count[dense - 1] + 1
    return .5 * (count[dense] + count[dense - 1] + 1)

  return lax.cond(jnp.any(jnp.isnan(a)), lambda a: jnp.full_like(a, jnp.nan, out_dtype), ranks, a)


@functools.partial(jit, static_argnames=["axis", "nan_policy", "keepdims"])
def sem(a, axis: int | None = 0, ddof: int = 1, nan_policy: str = "propagate", *,
        keepdims: bool = False):
  """The standard error of the mean: std(ddof) / sqrt(n)."""
  b, = promote_args_inexact("sem", a)
  if nan_policy == "propagate":
    size = b.size if axis is None else b.shape[axis]
    return b.std(axis, ddof=ddof, keepdims=keepdims) / jnp.sqrt(size).astype(b.dtype)
  if nan_policy == "omit":
    count = (~jnp.isnan(b)).sum(axis, keepdims=keepdims)
    return jnp.nanstd(b, axis, ddof=ddof, keepdims=keepdims) / jnp.sqrt(count).astype(b.dtype)
  raise ValueError(f"{nan_policy} is not supported")
