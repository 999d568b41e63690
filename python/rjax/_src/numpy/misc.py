"""Comparison helpers of rjax.numpy: isclose, allclose, array_equal,
array_equiv. Like JAX they return (0-d) bool Arrays, built from lax
comparisons, select_n and dot_general ('any' is an or-of-ands contraction)."""
from __future__ import annotations

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, matmul as dot_mod, shapes
from rjax._src.numpy import ufuncs
from rjax._src.numpy.util import asarray, promote_args


def _false(x):
  return shapes.full_like(x, False, dtypes.bool_)


def _and(p, q):
  return lax.select(p, q, _false(p))


def _or(p, q):
  return lax.select(p, shapes.full_like(p, True, dtypes.bool_), q)


def _not(p):
  return lax.eq(p, _false(p))


def _abs(x):
  return lax.max(x, lax.neg(x))


def _isnan(x):
  return lax.ne(x, x)


def _isinf(x):
  return lax.eq(_abs(x), shapes.full_like(x, np.inf))


def _any(p):
  """Or over all elements of a bool array (False for an empty one)."""
  n = core.get_aval(p).size
  flat = shapes.reshape(p, (n,))
  return dot_mod.dot_general(flat, shapes.full((n,), True, dtypes.bool_), (((0,), (0,)), ((), ())))


def _all(p):
  return _not(_any(_not(p)))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan: bool = False):
  """``|a - b| <= atol + rtol * |b|`` elementwise, with JAX's inf/nan rules."""
  a, b = promote_args("isclose", a, b)
  dt = core.get_aval(a).dtype
  if not dtypes.is_float(dt):
    return lax.eq(a, b)
  shape = np.broadcast_shapes(core.get_aval(a).shape, core.get_aval(b).shape)
  a = shapes.broadcast_in_dim(a, shape, ()) if core.get_aval(a).ndim == 0 else a
  b = shapes.broadcast_in_dim(b, shape, ()) if core.get_aval(b).ndim == 0 else b
  rt = shapes.full((), float(rtol), dt)
  at = shapes.full((), float(atol), dt)
  out = lax.le(_abs(lax.sub(a, b)), lax.add(at, lax.mul(rt, _abs(b))))
  a_inf, b_inf = _isinf(a), _isinf(b)
  out = _and(out, _not(_or(a_inf, b_inf)))
  out = _or(out, _and(_and(a_inf, b_inf), lax.eq(a, b)))
  a_nan, b_nan = _isnan(a), _isnan(b)
  out = _and(out, _not(_or(a_nan, b_nan)))
  if equal_nan:
    out = _or(out, _and(a_nan, b_nan))
  return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan: bool = False):
  return _all(isclose(a, b, rtol, atol, equal_nan))


def _bool(v: bool):
  return asarray(np.bool_(v))


def array_equal(a1, a2, equal_nan: bool = False):
  """True (as a 0-d bool Array) if shapes and all elements are equal."""
  try:
    a1, a2 = asarray(a1), asarray(a2)
  except Exception:
    return _bool(False)
  if core.get_aval(a1).shape != core.get_aval(a2).shape:
    return _bool(False)
  eq = ufuncs.equal(a1, a2)
  if equal_nan:
    x, y = promote_args("array_equal", a1, a2)
    if dtypes.is_float(core.get_aval(x).dtype):
      eq = _or(eq, _and(_isnan(x), _isnan(y)))
  return _all(eq)


def array_equiv(a1, a2):
  """True if the arrays are equal after broadcasting."""
  a1, a2 = asarray(a1), asarray(a2)
  try:
    shape = np.broadcast_shapes(core.get_aval(a1).shape, core.get_aval(a2).shape)
  except ValueError:
    return _bool(False)
  nd = len(shape)
  b = [shapes.broadcast_in_dim(x, shape, tuple(range(nd - core.get_aval(x).ndim, nd)))
       for x in (a1, a2)]
  return _all(ufuncs.equal(*b))


__all__ = ["isclose", "allclose", "array_equal", "array_equiv"]
