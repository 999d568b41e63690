"""NumPy-style universal functions: the ``jnp.ufunc`` class, ``frompyfunc``,
and the ufunc objects JAX exports (``jnp.add``, ``jnp.multiply``, ...), with
``reduce``, ``accumulate``, ``at``, ``reduceat`` and ``outer`` (JAX's
semantics: ``at`` needs ``inplace=False``; a user ufunc's ``reduce``,
``accumulate``, ``at`` and ``reduceat`` apply it one slice at a time in a
loop, so any Python function of jnp operations works)."""
from __future__ import annotations

import math
import operator
from typing import Any, Callable

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.interpreters import batching
from rjax._src.interpreters import partial_eval as pe
from rjax._src.interpreters.custom_derivatives import stop_gradient
from rjax._src.lax import lax, reductions as lr, shapes, slicing
from rjax._src.lax.control_flow import loops
from rjax._src.numpy import functional, indexing, reductions, shape_ops, ufuncs
from rjax._src.numpy.util import (asarray, canonicalize_axis, check_arraylike,
                                  promote_args_inexact)

_AT_INPLACE = ("Because JAX arrays are immutable, jnp.ufunc.at() cannot operate inplace like "
               "np.ufunc.at(). Instead, you can pass inplace=False and capture the result; e.g.\n"
               ">>> arr = jnp.add.at(arr, ind, val, inplace=False)")


def _aval(x):
  return core.get_aval(x)


def _result_dtype(func, *args):
  """The dtype ``func`` returns for 0-d arguments of ``args``' dtypes (traced, not run)."""
  avals = [core.ShapedArray((), _aval(asarray(a)).dtype) for a in args]
  closed = pe.trace_to_jaxpr(lambda *xs: [asarray(func(*xs))], avals)
  return closed.jaxpr.outvars[0].aval.dtype


def _cast(x, dt):
  return lax.convert_element_type(asarray(x), dt)


class ufunc:
  """A universal function: elementwise over broadcast arrays, with the
  methods ``reduce``, ``accumulate``, ``at``, ``reduceat`` and ``outer``
  (``jax.numpy.ufunc``). Build one with :func:`frompyfunc`."""

  def __init__(self, func: Callable, /, nin: int, nout: int, *, name: str | None = None,
               nargs: int | None = None, identity: Any = None, call: Callable | None = None,
               reduce: Callable | None = None, accumulate: Callable | None = None,
               at: Callable | None = None, reduceat: Callable | None = None):
    self.__doc__ = func.__doc__
    self.__name__ = name or func.__name__
    # read-only: a ufunc is hashable and usable as a static argument
    self.__props = {"func": func, "nin": operator.index(nin), "nout": operator.index(nout),
                    "nargs": operator.index(nargs or nin), "identity": identity, "call": call,
                    "reduce": reduce, "accumulate": accumulate, "at": at, "reduceat": reduceat}

  _func = property(lambda self: self.__props["func"])
  nin = property(lambda self: self.__props["nin"])
  nout = property(lambda self: self.__props["nout"])
  nargs = property(lambda self: self.__props["nargs"])
  identity = property(lambda self: self.__props["identity"])

  @property
  def _call(self) -> Callable:
    return self.__props["call"] or self._call_vectorized

  def __hash__(self) -> int:
    return hash((self._func, self.__name__, self.identity, self.nin, self.nout, self.nargs))

  def __eq__(self, other: Any) -> bool:
    return isinstance(other, ufunc) and (
        (self._func, self.__name__, self.identity, self.nin, self.nout, self.nargs) ==
        (other._func, other.__name__, other.identity, other.nin, other.nout, other.nargs))

  def __repr__(self) -> str:
    return f"<jnp.ufunc '{self.__name__}'>"

  def __call__(self, *args, out=None, where=None):
    if out is not None:
      raise NotImplementedError(f"out argument of {self}")
    if where is not None:
      raise NotImplementedError(f"where argument of {self}")
    check_arraylike(self.__name__, *args)
    return self._call(*args)

  def _call_vectorized(self, *args):
    return functional.vectorize(self._func)(*args)

  def _binary_only(self, method: str) -> None:
    if self.nin != 2:
      raise ValueError(f"{method} only supported for binary ufuncs")
    if self.nout != 1:
      raise ValueError(f"{method} only supported for functions returning a single value")

  # -- reduce ---------------------------------------------------------------

  def reduce(self, a, axis=0, dtype=None, out=None, keepdims: bool = False, initial=None,
             where=None):
    """Reduce ``a`` along ``axis`` by repeated application (``np.ufunc.reduce``)."""
    check_arraylike(f"{self.__name__}.reduce", a)
    self._binary_only("reduce")
    if out is not None:
      raise NotImplementedError(f"out argument of {self.__name__}.reduce()")
    if initial is not None:
      check_arraylike(f"{self.__name__}.reduce", initial)
    if where is not None:
      check_arraylike(f"{self.__name__}.reduce", where)
      if self.identity is None and initial is None:
        raise ValueError(f"reduction operation {self.__name__!r} does not have an identity, so "
                         "to use a where mask one has to specify 'initial'.")
      if _aval(asarray(where)).dtype != np.dtype(bool):
        raise ValueError(f"where argument must have dtype=bool; got "
                         f"dtype={_aval(asarray(where)).dtype}")
    red = self.__props["reduce"] or self._reduce_via_loop
    return red(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)

  def _reduce_via_loop(self, arr, axis=0, dtype=None, keepdims=False, initial=None, where=None):
    arr = asarray(arr)
    if initial is None:
      initial = self.identity
    dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else \
        _result_dtype(self._func, arr, arr)
    if where is not None:
      where = shape_ops.broadcast_to(where, _aval(arr).shape)
    if isinstance(axis, tuple):
      raise NotImplementedError("tuple of axes")
    if axis is None:
      final = (1,) * _aval(arr).ndim if keepdims else ()
      arr = shape_ops.ravel(arr)
      where = None if where is None else shape_ops.ravel(where)
      axis = 0
    else:
      axis = canonicalize_axis(axis, _aval(arr).ndim, f"{self.__name__}.reduce")
      sh = _aval(arr).shape
      final = sh[:axis] + (1,) * keepdims + sh[axis + 1:]
    if axis != 0:
      arr = shape_ops.moveaxis(arr, axis, 0)
      where = None if where is None else shape_ops.moveaxis(where, axis, 0)
    n = _aval(arr).shape[0]
    if n == 0:
      if initial is None:
        raise ValueError(f"zero-size array to reduction operation {self.__name__} which has no "
                         "identity")
      return shapes.full(final, np.asarray(initial), dt)

    def row(i):
      return _cast(slicing.dynamic_index_in_dim(arr, i, 0, keepdims=False), dt)

    def body(i, val):
      new = asarray(self(val, row(i)))
      if where is None:
        return new
      return ufuncs.where(slicing.dynamic_index_in_dim(where, i, 0, keepdims=False), new, val)

    if initial is None:
      start, init = 1, slicing.index_in_dim(arr, 0, 0, keepdims=False)
    else:
      start, init = 0, initial
    init = shape_ops.broadcast_to(_cast(init, dt), _aval(arr).shape[1:])
    result = loops.fori_loop(start, n, body, init)
    return shapes.reshape(result, final) if keepdims else result

  # -- accumulate -----------------------------------------------------------

  def accumulate(self, a, axis: int = 0, dtype=None, out=None):
    """Running reduction along ``axis`` (``np.ufunc.accumulate``)."""
    self._binary_only("accumulate")
    if out is not None:
      raise NotImplementedError(f"out argument of {self.__name__}.accumulate()")
    acc = self.__props["accumulate"] or self._accumulate_via_scan
    return acc(a, axis=axis, dtype=dtype)

  def _accumulate_via_scan(self, arr, axis=0, dtype=None):
    check_arraylike(f"{self.__name__}.accumulate", arr)
    arr = asarray(arr)
    dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else \
        _result_dtype(self._func, arr, arr)
    if axis is None or isinstance(axis, tuple):
      raise ValueError("accumulate does not allow multiple axes")
    axis = canonicalize_axis(axis, _aval(arr).ndim, f"{self.__name__}.accumulate")
    if _aval(arr).size == 0:
      return shapes.full(_aval(arr).shape, 0, dt)
    arr = shape_ops.moveaxis(arr, axis, 0)
    first = _cast(slicing.index_in_dim(arr, 0, 0, keepdims=False), dt)

    def step(carry, x):
      y = _cast(self(carry, _cast(x, dt)), dt)
      return y, y

    rest = slicing.slice_in_dim(arr, 1, _aval(arr).shape[0])
    _, ys = loops.scan(step, first, rest)
    result = shapes.concatenate([shapes.expand_dims(first, (0,)), ys], 0)
    return shape_ops.moveaxis(result, 0, axis)

  # -- at -------------------------------------------------------------------

  def at(self, a, indices, b=None, /, *, inplace: bool = True):
    """``a`` with the ufunc applied at ``indices`` (repeated indices apply
    repeatedly), as a new array: requires ``inplace=False``."""
    if inplace:
      raise NotImplementedError(_AT_INPLACE)
    at = self.__props["at"] or self._at_via_scan
    return at(a, indices) if b is None else at(a, indices, b)

  def _at_via_scan(self, a, indices, *args):
    check_arraylike(f"{self.__name__}.at", a, *args)
    dt = _result_dtype(self._func, a, *args)
    a = _cast(a, dt)
    args = tuple(_cast(x, dt) for x in args)
    idx = indices if isinstance(indices, tuple) else (indices,)
    if not idx:
      return a
    idx_shapes = [np.shape(i) if not hasattr(i, "aval") else _aval(i).shape
                  for i in idx if not isinstance(i, slice)]
    shape = shape_ops.broadcast_shapes(*idx_shapes) if idx_shapes else ()
    if not shape:
      ref = indexing._IndexUpdateRef(a, indices)
      return ref.set(self(ref.get(), *args))
    count = math.prod(shape)
    if args:
      x = args[0]
      tail = _aval(x).shape[len(shape):]
      args = (shapes.reshape(shape_ops.broadcast_to(x, shape + tail), (count,) + tail),)
    flat = [i if isinstance(i, slice) else shape_ops.ravel(shape_ops.broadcast_to(asarray(i), shape))
            for i in idx]

    def step(carry, i):
      sel = tuple(ix if isinstance(ix, slice) else
                  slicing.dynamic_index_in_dim(ix, i, 0, keepdims=False) for ix in flat)
      ref = indexing._IndexUpdateRef(carry, sel)
      vals = [slicing.dynamic_index_in_dim(x, i, 0, keepdims=False) for x in args]
      return ref.set(self(ref.get(), *vals)), None

    out, _ = loops.scan(step, a, shapes.iota(dtypes.int32, count))
    return out

  # -- reduceat -------------------------------------------------------------

  def reduceat(self, a, indices, axis: int = 0, dtype=None, out=None):
    """Reductions over the slices ``indices[i]:indices[i+1]`` along ``axis``
    (``np.ufunc.reduceat``: where ``indices[i] >= indices[i+1]`` the result is
    ``a[indices[i]]``)."""
    self._binary_only("reduceat")
    if out is not None:
      raise NotImplementedError(f"out argument of {self.__name__}.reduceat()")
    red = self.__props["reduceat"] or self._reduceat_via_loop
    return red(a, indices, axis=axis, dtype=dtype)

  def _reduceat_via_loop(self, a, indices, axis=0, dtype=None):
    check_arraylike(f"{self.__name__}.reduceat", a, indices)
    a = asarray(a)
    if isinstance(indices, tuple):
      if len(indices) != 1:
        raise ValueError("reduceat: indices must be one array")
      indices = indices[0]
    indices = asarray(indices)
    if _aval(a).ndim == 0:
      raise ValueError(f"reduceat: a must have 1 or more dimension, got a.shape="
                       f"{_aval(a).shape!r}")
    if _aval(indices).ndim != 1:
      raise ValueError(f"reduceat: indices must be one-dimensional, got indices.shape="
                       f"{_aval(indices).shape!r}")
    if axis is None or isinstance(axis, (tuple, list)):
      raise ValueError("reduceat requires a single integer axis.")
    axis = canonicalize_axis(axis, _aval(a).ndim, f"{self.__name__}.reduceat")
    if dtype is not None:
      a = _cast(a, dtypes.canonicalize_dtype(dtype))
    out = shape_ops.take(a, indices, axis=axis)
    m = _aval(indices).shape[0]
    bounds = shape_ops.concatenate([lax.convert_element_type(indices, dtypes.int32),
                                    shapes.full((1,), _aval(a).shape[axis], dtypes.int32)])
    bshape = [1] * _aval(out).ndim
    bshape[axis] = m
    lo = shapes.reshape(slicing.slice_in_dim(bounds, 0, m), tuple(bshape))
    hi = shapes.reshape(slicing.slice_in_dim(bounds, 1, m + 1), tuple(bshape))

    def body(i, acc):
      inside = ufuncs.logical_and(ufuncs.greater(i, lo), ufuncs.less(i, hi))
      row = slicing.dynamic_index_in_dim(a, i, axis, keepdims=True)
      return ufuncs.where(inside, _cast(self(acc, row), _aval(acc).dtype), acc)

    return loops.fori_loop(0, _aval(a).shape[axis], body, out)

  # -- outer ----------------------------------------------------------------

  def outer(self, A, B, /):
    """``func(A[i...], B[j...])`` over all pairs: shape ``A.shape + B.shape``."""
    self._binary_only("outer")
    check_arraylike(f"{self.__name__}.outer", A, B)
    A, B = asarray(A), asarray(B)
    fa, fb = shape_ops.ravel(A), shape_ops.ravel(B)
    inner = batching.vmap(self, in_axes=(None, 0))
    res = batching.vmap(inner, in_axes=(0, None))(fa, fb)
    return shapes.reshape(res, _aval(A).shape + _aval(B).shape)


def frompyfunc(func: Callable, /, nin: int, nout: int, *, identity: Any = None) -> ufunc:
  """A :class:`ufunc` from a Python function of jnp operations on scalars."""
  return ufunc(func, nin, nout, identity=identity)


# ---------------------------------------------------------------------------
# The ufunc objects of jax.numpy, with their fast reductions


def _bool_int_at(update):
  def at(a, indices, b):
    a = asarray(a)
    if _aval(a).dtype == np.dtype(bool):
      a = lax.convert_element_type(a, dtypes.int32)
      b = lax.convert_element_type(lax.convert_element_type(asarray(b), np.dtype(bool)),
                                   dtypes.int32)
      return lax.convert_element_type(update(indexing._IndexUpdateRef(a, indices), b),
                                      np.dtype(bool))
    return update(indexing._IndexUpdateRef(a, indices), b)
  return at


_BITWISE_OPS = {"and": (lax.bitwise_and, -1, True), "or": (lax.bitwise_or, 0, False),
                "xor": (lax.bitwise_xor, 0, False)}


def _bitwise_reduce(name, prim_reduce, kind, logical):
  """The ``reduce`` of a bitwise (integer/bool input) or logical (any input,
  as bool) ufunc, on the lax reduce_and/or/xor primitives."""
  op, int_ident, bool_ident = _BITWISE_OPS[kind]

  def red(a, axis=None, dtype=None, keepdims=False, initial=None, where=None):
    arr = asarray(a)
    dt = _aval(arr).dtype
    if logical:
      arr = arr if dt == np.dtype(bool) else lax.ne(arr, lax._scalar_like(0, arr))
    elif not (dtypes.is_int(dt) or dt == np.dtype(bool)):
      raise ValueError(f"{name}: integer or boolean input required, got dtype {dt}")
    if dtype is not None:
      arr = _cast(arr, dtypes.canonicalize_dtype(dtype))
    nd = _aval(arr).ndim
    axes = tuple(range(nd)) if axis is None else \
        tuple(canonicalize_axis(x, nd, name) for x in (axis if isinstance(axis, tuple) else
                                                        (axis,)))
    odt = _aval(arr).dtype
    ident = np.asarray(bool_ident if odt == np.dtype(bool) else int_ident).astype(odt)
    if where is not None:
      w = shape_ops.broadcast_to(where, _aval(arr).shape)
      arr = lax.select(w, arr, shapes.full(_aval(arr).shape, ident, odt))
    y = prim_reduce(arr, axes) if axes else arr
    if initial is not None:
      y = op(y, shapes.full(_aval(y).shape, np.asarray(initial).astype(odt), odt))
    if keepdims:
      y = shapes.reshape(y, tuple(1 if i in axes else d for i, d in enumerate(_aval(arr).shape)))
    return y
  return red


def _logsumexp(a, axis=None, dtype=None, keepdims=False, initial=None, where=None):
  """``log(sum(exp(a)))`` stably: the finite max is taken out (without gradient)."""
  (arr,) = promote_args_inexact("logaddexp.reduce", a)
  nd = _aval(arr).ndim
  axes = tuple(range(nd)) if axis is None else \
      tuple(canonicalize_axis(x, nd, "logaddexp.reduce") for x in
            (axis if isinstance(axis, tuple) else (axis,)))
  amax = reductions.max(arr, axis=axes, keepdims=True, where=where, initial=-np.inf)
  amax = stop_gradient(lax.select(lax.is_finite(amax), amax, shapes.full_like(amax, 0)))
  e = lax.exp(lax.sub(arr, shapes.broadcast_in_dim(amax, _aval(arr).shape, tuple(range(nd)))))
  s = reductions.sum(e, axis=axes, keepdims=keepdims, where=where)
  out = lax.add(lax.log(s), amax if keepdims else shapes.reshape(amax, _aval(s).shape))
  return out if initial is None else ufuncs.logaddexp(initial, out)


def _logsumexp2(a, axis=None, dtype=None, keepdims=False, initial=None, where=None):
  ln2 = float(np.log(2))
  if initial is not None:
    initial = ufuncs.multiply(initial, ln2)
  out = _logsumexp(ufuncs.multiply(a, ln2), axis=axis, keepdims=keepdims, initial=initial,
                   where=where)
  return ufuncs.true_divide(out, ln2)


def _ext_reduce(fn):
  def red(a, axis=None, dtype=None, keepdims=False, initial=None, where=None):
    out = fn(a, axis=axis, keepdims=keepdims, initial=initial, where=where)
    return out if dtype is None else _cast(out, dtypes.canonicalize_dtype(dtype))
  return red


def _make(func, nin, identity=None, **methods):
  return ufunc(func, nin, 1, name=func.__name__, identity=identity, call=func, **methods)


add = _make(ufuncs.add, 2, 0, reduce=reductions.sum, accumulate=reductions.cumsum,
            at=_bool_int_at(lambda ref, b: ref.add(b)))
multiply = _make(ufuncs.multiply, 2, 1, reduce=reductions.prod, accumulate=reductions.cumprod,
                 at=_bool_int_at(lambda ref, b: ref.multiply(b)))
subtract = _make(ufuncs.subtract, 2, at=lambda a, i, b: indexing._IndexUpdateRef(
    asarray(a), i).subtract(b))
negative = ufunc(ufuncs.negative, 1, 1, name="negative", call=ufuncs.negative)
maximum = _make(ufuncs.maximum, 2, reduce=_ext_reduce(reductions.max))
minimum = _make(ufuncs.minimum, 2, reduce=_ext_reduce(reductions.min))
bitwise_and = _make(ufuncs.bitwise_and, 2, -1,
                    reduce=_bitwise_reduce("bitwise_and.reduce", lr.reduce_and, "and", False))
bitwise_or = _make(ufuncs.bitwise_or, 2, 0,
                   reduce=_bitwise_reduce("bitwise_or.reduce", lr.reduce_or, "or", False))
bitwise_xor = _make(ufuncs.bitwise_xor, 2, 0,
                    reduce=_bitwise_reduce("bitwise_xor.reduce", lr.reduce_xor, "xor", False))
logical_and = _make(ufuncs.logical_and, 2, True,
                    reduce=_bitwise_reduce("logical_and.reduce", lr.reduce_and, "and", True))
logical_or = _make(ufuncs.logical_or, 2, False,
                   reduce=_bitwise_reduce("logical_or.reduce", lr.reduce_or, "or", True))
logical_xor = _make(ufuncs.logical_xor, 2, False,
                    reduce=_bitwise_reduce("logical_xor.reduce", lr.reduce_xor, "xor", True))
logaddexp = _make(ufuncs.logaddexp, 2, -np.inf, reduce=_logsumexp)
logaddexp2 = _make(ufuncs.logaddexp2, 2, -np.inf,
                   reduce=_logsumexp2)

__all__ = ["ufunc", "frompyfunc", "add", "multiply", "subtract", "negative", "maximum", "minimum",
           "bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor",
           "logaddexp", "logaddexp2"]
