"""Linear algebra in rjax.numpy: dot, matmul, einsum, tensordot, kron, trace,
diagonal, linalg.norm, ... all lowered to dot_general.

Helpers that other families provide after the merge (transpose, slicing,
reductions) are looked up lazily; until then the fallbacks below express them
with dot_general and select_n: sums are contractions with a ones vector,
picking an index range is a masked select followed by such a sum (exact: the
masked-out terms are zeros), and a transpose is a contraction that keeps every
dim as a batch dim against a ones array.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, matmul as dot_mod, reductions, shapes, slicing
from rjax._src.numpy import ufuncs
from rjax._src.numpy.util import (asarray, canonicalize_axes, canonicalize_axis, check_arraylike,
                                  promote_dtypes, promote_dtypes_inexact)

# ---------------------------------------------------------------------------
# Building blocks (all gather-free)


def _shape(x) -> tuple:
  return core.get_aval(x).shape


def _dtype(x) -> np.dtype:
  return core.get_aval(x).dtype


def _transpose(x, perm: Sequence[int]):
  perm = tuple(int(p) for p in perm)
  return x if perm == tuple(range(len(perm))) else shapes.transpose(x, perm)


def _sum_axes(x, axes: Sequence[int]):
  """Sum over ``axes`` (remaining dims keep their order); bool sums are 'any'."""
  axes = tuple(axes)
  if not axes:
    return x
  if dtypes.is_bool(_dtype(x)):
    return reductions.reduce_or(x, axes)
  return reductions.reduce_sum(x, axes)


def _take_range(x, axis: int, start: int, length: int):
  """``x`` restricted to ``[start, start+length)`` along ``axis``."""
  if start == 0 and length == _shape(x)[axis]:
    return x
  if length == 0:
    start = 0
  return slicing.slice_in_dim(x, start, start + length, 1, axis)


def _diagonal(x, offset: int, a1: int, a2: int):
  """np.diagonal: removes a1 and a2, appends the diagonal as the last dim."""
  s = _shape(x)
  n, m = s[a1], s[a2]
  length = max(0, min(n + min(offset, 0), m - max(offset, 0)))
  lo, hi = min(a1, a2), max(a1, a2)
  ms = (s[lo], s[hi])
  rows = shapes.broadcasted_iota(dtypes.int32, ms, 0 if a1 < a2 else 1)
  cols = shapes.broadcasted_iota(dtypes.int32, ms, 1 if a1 < a2 else 0)
  mask2 = lax.eq(lax.sub(cols, rows), shapes.full((), offset, dtypes.int32))
  mask = shapes.broadcast_in_dim(mask2, s, (lo, hi))
  y = lax.select(mask, x, shapes.full_like(x, 0))
  # Sum over the column axis: z[..., i] = x[..., i, i + offset] (rows i on the a1 position).
  z = _sum_axes(y, (a2,))
  a1z = a1 if a1 < a2 else a1 - 1
  z = _take_range(z, a1z, max(0, -offset), length)
  rest = [d for d in range(len(s) - 1) if d != a1z]
  return _transpose(z, rest + [a1z])


def _reduce(x, axes, which: str):
  """max/min over axes."""
  return getattr(reductions, "reduce_" + which)(x, tuple(axes))


def _abs(x):
  return lax.abs(x) if not dtypes.is_unsigned(_dtype(x)) else x


def _expand_dims(x, axes):
  s = list(_shape(x))
  for a in sorted(axes):
    s.insert(a, 1)
  return shapes.reshape(x, s)


# ---------------------------------------------------------------------------
# Products


def _pet(preferred_element_type):
  return None if preferred_element_type is None else dtypes.canonicalize_dtype(
      preferred_element_type)


def _out_type(preferred_element_type, *operands):
  """JAX's products ask dot_general for the result dtype itself (so a jaxpr
  shows ``preferred_element_type=float32``) and give the result the operands'
  weak type only when no dtype was asked for."""
  if preferred_element_type is None:
    return dtypes.result_type_and_weak(*operands)
  return _pet(preferred_element_type), False


def _finish(out, pet, weak):
  return lax.convert_element_type(out, pet, weak)


def dot(a, b, *, precision=None, preferred_element_type=None):
  check_arraylike("dot", a, b)
  a, b = asarray(a), asarray(b)
  pet, weak = _out_type(preferred_element_type, a, b)
  an, bn = len(_shape(a)), len(_shape(b))
  if an == 0 or bn == 0:
    contract = ((), ())
  else:
    contract = ((an - 1,), (0 if bn == 1 else bn - 2,))
  return _finish(dot_mod.dot_general(a, b, (contract, ((), ())), precision, pet), pet, weak)


def vdot(a, b, *, precision=None, preferred_element_type=None):
  check_arraylike("vdot", a, b)
  a, b = asarray(a), asarray(b)
  return dot(shapes.reshape(a, (core.get_aval(a).size,)), shapes.reshape(b, (core.get_aval(b).size,)),
             precision=precision, preferred_element_type=preferred_element_type)


def _broadcast_to(x, shape):
  s = _shape(x)
  if s == tuple(shape):
    return x
  nd = len(shape)
  return shapes.broadcast_in_dim(x, tuple(shape), tuple(range(nd - len(s), nd)))


def matmul(a, b, *, precision=None, preferred_element_type=None):
  """NumPy's matmul, as JAX builds it: one dot_general whose batch dims are
  the leading dims both operands have with equal sizes; a leading dim of size
  1 on one side is squeezed and the other side's dim becomes a free dim; the
  result is transposed into NumPy's order."""
  check_arraylike("matmul", a, b)
  a, b = asarray(a), asarray(b)
  for i, x in enumerate((a, b)):
    if len(_shape(x)) == 0:
      raise ValueError(f"matmul input operand {i} must have ndim at least 1, but it has ndim 0")
  pet, weak = _out_type(preferred_element_type, a, b)
  sa, sb = _shape(a), _shape(b)
  a_mat, b_mat = len(sa) > 1, len(sb) > 1
  ab = sa[:-2] if a_mat else ()
  bb = sb[:-2] if b_mat else ()
  nb = max(len(ab), len(bb))
  ab = (None,) * (nb - len(ab)) + tuple(ab)
  bb = (None,) * (nb - len(bb)) + tuple(bb)
  a_squeeze, b_squeeze, both_squeeze = [], [], []
  a_batch, b_batch = [], []
  idx_batch, idx_a, idx_b = [], [], []
  for i, (x, y) in enumerate(zip(ab, bb)):
    if x is None:
      idx_b.append(i)
    elif y is None:
      idx_a.append(i)
    elif x == 1 and y == 1:
      a_squeeze.append(len(idx_batch) + len(idx_a) + len(a_squeeze))
      b_squeeze.append(len(idx_batch) + len(idx_b) + len(b_squeeze))
      both_squeeze.append(i)
    elif x == 1:
      idx_b.append(i)
      a_squeeze.append(len(idx_batch) + len(idx_a) + len(a_squeeze))
    elif y == 1:
      idx_a.append(i)
      b_squeeze.append(len(idx_batch) + len(idx_b) + len(b_squeeze))
    elif x == y:
      a_batch.append(len(idx_batch) + len(idx_a))
      b_batch.append(len(idx_batch) + len(idx_b))
      idx_batch.append(i)
    else:
      raise ValueError(f"Incompatible types for matmul arguments: {core.get_aval(a)} and "
                       f"{core.get_aval(b)}")
  if a_mat:
    idx_a.append(nb)
  if b_mat:
    idx_b.append(nb + a_mat)
  perm = tuple(int(p) for p in np.argsort(np.array(idx_batch + idx_a + idx_b, dtype=np.int64)))
  if a_squeeze:
    a = shapes.squeeze(a, tuple(a_squeeze))
  if b_squeeze:
    b = shapes.squeeze(b, tuple(b_squeeze))
  na, nbd = len(_shape(a)), len(_shape(b))
  if _shape(a)[-1] != _shape(b)[nbd - 1 - b_mat]:
    raise TypeError(f"dot_general requires contracting dimensions to have the same shape, got "
                    f"{(_shape(a)[-1],)} and {(_shape(b)[nbd - 1 - b_mat],)}.")
  out = dot_mod.dot_general(a, b, (((na - 1,), (nbd - 1 - b_mat,)),
                                   (tuple(a_batch), tuple(b_batch))), precision, pet)
  out = shapes.transpose(out, perm)
  if both_squeeze:
    out = shapes.expand_dims(out, tuple(both_squeeze))
  return _finish(out, pet, weak)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
  check_arraylike("vecdot", x1, x2)
  x1, x2 = promote_dtypes(x1, x2)
  s = np.broadcast_shapes(_shape(x1), _shape(x2))
  x1, x2 = _broadcast_to(x1, s), _broadcast_to(x2, s)
  ax = canonicalize_axis(axis, len(s), "vecdot")
  bd = tuple(d for d in range(len(s)) if d != ax)
  return dot_mod.dot_general(x1, x2, (((ax,), (ax,)), (bd, bd)), precision,
                             _pet(preferred_element_type))


def inner(a, b, *, precision=None, preferred_element_type=None):
  check_arraylike("inner", a, b)
  a, b = promote_dtypes(a, b)
  an, bn = len(_shape(a)), len(_shape(b))
  if an == 0 or bn == 0:
    return dot(a, b, preferred_element_type=preferred_element_type)
  return dot_mod.dot_general(a, b, (((an - 1,), (bn - 1,)), ((), ())), precision,
                             _pet(preferred_element_type))


def outer(a, b, out=None):
  check_arraylike("outer", a, b)
  a, b = promote_dtypes(a, b)
  a = shapes.reshape(a, (core.get_aval(a).size,))
  b = shapes.reshape(b, (core.get_aval(b).size,))
  return dot_mod.dot_general(a, b, (((), ()), ((), ())))


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
  check_arraylike("tensordot", a, b)
  a, b = asarray(a), asarray(b)
  pet, weak = _out_type(preferred_element_type, a, b)
  an, bn = len(_shape(a)), len(_shape(b))
  if isinstance(axes, (int, np.integer)):
    n = operator.index(axes)
    if not 0 <= n <= min(an, bn):
      raise TypeError(f"tensordot: number of contracting axes {n} must be between 0 and "
                      f"min(a.ndim, b.ndim) = {min(an, bn)}")
    ca, cb = tuple(range(an - n, an)), tuple(range(n))
  else:
    try:
      xa, xb = axes
    except (TypeError, ValueError):
      raise TypeError("tensordot: axes must be an int or a pair of sequences of axes, got "
                      f"{axes!r}") from None
    xa = (xa,) if isinstance(xa, (int, np.integer)) else tuple(xa)
    xb = (xb,) if isinstance(xb, (int, np.integer)) else tuple(xb)
    if len(xa) != len(xb):
      raise TypeError(f"tensordot: axes lists must have equal length, got {xa} and {xb}")
    ca = tuple(canonicalize_axis(x, an, "tensordot") for x in xa)
    cb = tuple(canonicalize_axis(x, bn, "tensordot") for x in xb)
  return _finish(dot_mod.dot_general(a, b, ((ca, cb), ((), ())), precision, pet), pet, weak)


def kron(a, b):
  check_arraylike("kron", a, b)
  a, b = promote_dtypes(a, b)
  sa, sb = _shape(a), _shape(b)
  nd = max(len(sa), len(sb))
  sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
  a4 = shapes.reshape(a, tuple(x for d in sa for x in (d, 1)))
  b4 = shapes.reshape(b, tuple(x for d in sb for x in (1, d)))
  full = tuple(x for da, db in zip(sa, sb) for x in (da, db))
  prod = lax.mul(_broadcast_to(a4, full), _broadcast_to(b4, full))
  return shapes.reshape(prod, tuple(da * db for da, db in zip(sa, sb)))


# ---------------------------------------------------------------------------
# einsum


def einsum_path(subscripts, *operands, optimize="greedy"):
  import opt_einsum
  if optimize is True:
    optimize = "greedy"
  return opt_einsum.contract_path(subscripts, *operands, optimize=optimize)


class _ShapeOnly:
  __slots__ = ("shape",)

  def __init__(self, shape):
    self.shape = tuple(shape)


def einsum(subscripts, *operands, out=None, optimize="greedy", precision=None,
           preferred_element_type=None, _dot_general=None):
  """Einstein summation, contracted pairwise in opt_einsum's order; each step
  is one dot_general plus diagonals/sums/transposes as needed."""
  import opt_einsum
  if out is not None:
    raise NotImplementedError("einsum: the 'out' argument is not supported")
  if not isinstance(subscripts, str):
    raise TypeError("einsum: only the subscripts-string form is supported")
  check_arraylike("einsum", *operands)
  ops = promote_dtypes(*operands)
  if optimize is True:
    optimize = "greedy"
  elif optimize is False:
    optimize = "optimal" if len(ops) <= 2 else "greedy"
  _, contractions = opt_einsum.contract_path(subscripts, *[_ShapeOnly(_shape(o)) for o in ops],
                                             einsum_call=True, use_blas=True, optimize=optimize)
  ops = list(ops)
  pet = _pet(preferred_element_type)
  for c in contractions:
    inds, einstr = c[0], c[2]
    args = [ops.pop(i) for i in inds]
    ins, outn = einstr.split("->")
    names = ins.split(",")
    if len(args) == 1:
      r = _einsum_unary(args[0], names[0], outn)
    else:
      r = _einsum_binary(args[0], args[1], names[0], names[1], outn, precision, pet)
    ops.append(r)
  res = ops[0]
  if pet is not None and _dtype(res) != pet:
    res = lax.convert_element_type(res, pet)
  return res


def _dedupe(x, names: str, keep: str):
  """Take diagonals of repeated names and sum out names not in ``keep``."""
  while True:
    dup = next((c for c in names if names.count(c) > 1), None)
    if dup is None:
      break
    i = names.index(dup)
    j = names.index(dup, i + 1)
    x = _diagonal(x, 0, i, j)
    names = "".join(c for k, c in enumerate(names) if k not in (i, j)) + dup
  drop = tuple(k for k, c in enumerate(names) if c not in keep)
  if drop:
    x = _sum_axes(x, drop)
    names = "".join(c for k, c in enumerate(names) if k not in drop)
  return x, names


def _einsum_unary(x, names: str, outn: str):
  x, names = _dedupe(x, names, outn)
  return _transpose(x, [names.index(c) for c in outn])


def _einsum_binary(x, y, xn: str, yn: str, outn: str, precision, pet):
  x, xn = _dedupe(x, xn, outn + yn)
  y, yn = _dedupe(y, yn, outn + xn)
  sx, sy = _shape(x), _shape(y)
  # NumPy-style broadcasting of size-1 dims between the operands (from ellipses).
  for c in set(xn) & set(yn):
    dx, dy = sx[xn.index(c)], sy[yn.index(c)]
    if dx != dy and 1 in (dx, dy):
      if dx == 1:
        sx = sx[:xn.index(c)] + (dy,) + sx[xn.index(c) + 1:]
        x = shapes.broadcast_in_dim(x, sx, tuple(range(len(sx))))
      else:
        sy = sy[:yn.index(c)] + (dx,) + sy[yn.index(c) + 1:]
        y = shapes.broadcast_in_dim(y, sy, tuple(range(len(sy))))
  shared = [c for c in xn if c in yn]
  batch = [c for c in shared if c in outn]
  contract = [c for c in shared if c not in outn]
  dn = ((tuple(xn.index(c) for c in contract), tuple(yn.index(c) for c in contract)),
        (tuple(xn.index(c) for c in batch), tuple(yn.index(c) for c in batch)))
  r = dot_mod.dot_general(x, y, dn, precision, None)
  rn = "".join(batch) + "".join(c for c in xn if c not in shared) + \
      "".join(c for c in yn if c not in shared)
  return _transpose(r, [rn.index(c) for c in outn])


# ---------------------------------------------------------------------------
# trace, diagonal, norms


def diagonal(a, offset: int = 0, axis1: int = 0, axis2: int = 1):
  check_arraylike("diagonal", a)
  a = asarray(a)
  nd = len(_shape(a))
  if nd < 2:
    raise ValueError(f"diagonal requires an array of at least two dimensions, got shape "
                     f"{_shape(a)}")
  a1 = canonicalize_axis(axis1, nd, "diagonal")
  a2 = canonicalize_axis(axis2, nd, "diagonal")
  if a1 == a2:
    raise ValueError("diagonal: axis1 and axis2 must be different")
  return _diagonal(a, operator.index(offset), a1, a2)


def _sum_dtype(dt: np.dtype) -> np.dtype:
  """jnp.sum's default accumulation dtype: small ints and bool widen."""
  if dtypes.is_bool(dt) or (dtypes.is_signed(dt) and dt.itemsize < dtypes.default_int_dtype().itemsize):
    return dtypes.default_int_dtype()
  if dtypes.is_unsigned(dt) and dt.itemsize < dtypes.default_uint_dtype().itemsize:
    return dtypes.default_uint_dtype()
  return dt


def trace(a, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype=None, out=None):
  check_arraylike("trace", a)
  d = diagonal(a, offset, axis1, axis2)
  dt = _sum_dtype(_dtype(d)) if dtype is None else dtypes.canonicalize_dtype(dtype)
  d = lax.convert_element_type(d, dt)
  return _sum_axes(d, (len(_shape(d)) - 1,))


def matrix_transpose(x, /):
  check_arraylike("matrix_transpose", x)
  x = asarray(x)
  nd = len(_shape(x))
  if nd < 2:
    raise ValueError(f"matrix_transpose: input must be at least 2-d, got shape {_shape(x)}")
  return _transpose(x, list(range(nd - 2)) + [nd - 1, nd - 2])


def _sqrt_sum_sq(x, axes):
  """sqrt(sum(real(x * conj(x)))): real for complex ``x``, as in JAX."""
  if dtypes.is_complex(_dtype(x)):
    return ufuncs.sqrt(_sum_axes(ufuncs.real(ufuncs.multiply(x, ufuncs.conj(x))), axes))
  return lax.sqrt(_sum_axes(lax.mul(x, x), axes))


def _pow_sum(x, p: float, axes):
  ax = _abs(x)
  pp = shapes.full((), float(p), _dtype(ax))
  s = _sum_axes(lax.exp(lax.mul(lax.log(ax), shapes.broadcast_in_dim(pp, _shape(ax), ()))), axes)
  return lax.exp(lax.div(lax.log(s), shapes.full((), float(p), _dtype(ax))))


def _keep(x, axes, keepdims):
  return _expand_dims(x, axes) if keepdims else x


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
  check_arraylike("vector_norm", x)
  xdt = _dtype(asarray(x))
  if (ord is None or ord == 2) and not dtypes.is_inexact(xdt):
    # JAX sums the squares of integers as integers (the default int, or
    # uint for unsigned input) and takes the float square root of that sum
    idt = dtypes.default_uint_dtype() if dtypes.is_unsigned(xdt) else dtypes.default_int_dtype()
    x = lax.convert_element_type(asarray(x), dtypes.to_inexact_dtype(idt))
  (x,) = promote_dtypes_inexact(x)
  nd = len(_shape(x))
  axes = canonicalize_axes(axis, nd, "vector_norm")
  if ord is None or ord == 2:
    r = _sqrt_sum_sq(x, axes)
  elif ord == np.inf:
    r = _reduce(_abs(x), axes, "max")
  elif ord == -np.inf:
    r = _reduce(_abs(x), axes, "min")
  elif ord == 1:
    r = _sum_axes(_abs(x), axes)
  elif ord == 0:
    r = _sum_axes(lax.convert_element_type(lax.ne(x, shapes.full_like(x, 0)),
                                           dtypes.real_dtype(_dtype(x))), axes)
  else:
    r = _pow_sum(x, float(ord), axes)
  return _keep(r, axes, keepdims)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
  check_arraylike("matrix_norm", x)
  return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims: bool = False):
  check_arraylike("norm", x)
  (x,) = promote_dtypes_inexact(x)
  nd = len(_shape(x))
  if axis is None:
    if ord is None:
      return _keep(_sqrt_sum_sq(x, tuple(range(nd))), tuple(range(nd)), keepdims)
    axes = tuple(range(nd))
  else:
    axes = canonicalize_axes(axis, nd, "norm")
  if len(axes) == 1:
    return vector_norm(x, axis=axes, keepdims=keepdims, ord=2 if ord is None else ord)
  if len(axes) != 2:
    raise ValueError(f"norm: improper number of dimensions to norm: axis={axis}")
  r0, c0 = axes
  if ord is None or ord == "fro":
    r = _sqrt_sum_sq(x, axes)
  elif ord in (1, -1, np.inf, -np.inf):
    which = "max" if ord in (1, np.inf) else "min"
    inner_ax, outer_ax = (r0, c0) if ord in (1, -1) else (c0, r0)
    s = _sum_axes(_abs(x), (inner_ax,))
    r = _reduce(s, (outer_ax - (outer_ax > inner_ax),), which)
  elif ord in (2, -2, "nuc"):
    from rjax._src.numpy import linalg_decomp  # cycle: linalg_decomp imports this module
    return linalg_decomp.matrix_norm_svd(x, ord, axes, keepdims)
  else:
    raise ValueError(f"Invalid order '{ord}' for matrix norm.")
  return _keep(r, tuple(sorted(axes)), keepdims)


__all__ = ["dot", "vdot", "vecdot", "matmul", "inner", "outer", "tensordot", "kron", "einsum",
           "einsum_path", "trace", "diagonal", "matrix_transpose"]
