"""Reduction, cumulative and sorting primitives (reduce_sum, argmax, cumsum,
sort, top_k, ...), each one block with all its rules.

Where JAX differentiates a reduction by running ``jvp`` over a tree of
elementwise ops (reduce_prod, the cumulative ops), so do we: the structural
ops (slice, pad, concatenate, rev, gather) bring their own rules, so these
derivatives differentiate again.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lax_hooks, reference
from rjax._src.interpreters.custom_derivatives import custom_jvp
# The rules here use elementwise, shape and slicing ops, whose own rules sum:
# the lax modules import each other as modules, looked up at call time.
from rjax._src.lax import complex_ops, lax, shapes, slicing
from rjax._src.lax.utils import (_float, _inexact, _intbool, _num, _numc, _scalar_like, _any,
                                 asarray_lax,
                                 check_dtype, export, standard_primitive)


def _zero_like_out(out):
  return ad.Zero(ad.tangent_aval(core.get_aval(out)))


# ---------------------------------------------------------------------------
# Reductions over axes


def _check_axes(name: str, x: ShapedArray, axes) -> None:
  if len(set(axes)) != len(axes):
    raise ValueError(f"{name}: duplicate value in 'axes' of reduction: {tuple(axes)}")
  if any(not 0 <= a < x.ndim for a in axes):
    raise ValueError(f"{name}: reduction axes {tuple(axes)} contains out-of-bounds indices "
                     f"for {x.str_short()}")


def _reduced_shape(shape, axes) -> tuple:
  return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_primitive(name: str, kinds):
  """A reduction over ``axes``: abstract eval, impl, the Rust op of the same
  name, and its batching rule (the axes shift past the batch dim)."""
  def abstract_eval(x, *, axes, out_sharding=None):
    check_dtype(name, x, kinds)
    _check_axes(name, x, axes)
    return ShapedArray(_reduced_shape(x.shape, axes), x.dtype, x.weak_type)

  p = standard_primitive(name, abstract_eval)
  batching.defreducer(p)
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


# reduce_sum: linear; its transpose broadcasts the cotangent back.

def _reduce_sum_transpose(ct, x, **params):
  axes = params["axes"]
  shape = x.aval.shape
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval)]
  kept = tuple(d for d in range(len(shape)) if d not in axes)
  return [shapes.broadcast_in_dim(ct, shape, kept)]


reduce_sum_p = _reduce_primitive("reduce_sum", _numc)
ad.deflinear(reduce_sum_p, _reduce_sum_transpose)
reference.register(reduce_sum_p, _np_reduce(np.sum))


@export
def reduce_sum(operand, axes: Sequence[int]):
  """Sum over ``axes`` (``lax.reduce_sum``)."""
  x = asarray_lax(operand)
  return reduce_sum_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


lax_hooks.register(reduce_sum=reduce_sum)


# reduce_prod: JAX's ``_reduce_jvp``: move the reduced axes to the front,
# flatten them to one, and reduce by repeatedly splitting the array in halves
# and multiplying; the JVP of that tree is the product of the others, exact
# where the operand has zeros (no division).

def _reduce_prod_tree(v):
  while core.get_aval(v).shape[0] > 1:
    n = core.get_aval(v).shape[0]
    n1 = (n + 1) // 2
    v1 = slicing.slice_in_dim(v, 0, n1, axis=0)
    v2 = slicing.slice_in_dim(v, n1, None, axis=0)
    if n - n1 != n1:
      cfg = [(0, 0, 0)] * core.get_aval(v).ndim
      cfg[0] = (0, 1, 0)
      v2 = shapes.pad(v2, _scalar_like(1, v2), cfg)
    v = lax.mul(v1, v2)
  return shapes.squeeze(v, (0,))


def _reduce_prod_jvp(primals, tangents, *, axes, out_sharding=None):
  (x,), (t,) = primals, tangents
  shape = core.get_aval(x).shape
  n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
  if isinstance(t, ad.Zero) or n == 0:  # empty product: the constant 1
    out = reduce_prod_p.bind(x, axes=axes, out_sharding=out_sharding)
    return out, _zero_like_out(out)
  non_axes = tuple(i for i in range(len(shape)) if i not in axes)
  perm = tuple(axes) + non_axes
  new_shape = (n,) + tuple(shape[i] for i in non_axes)
  flat = lambda v: shapes.reshape(shapes.transpose(v, perm), new_shape)
  (out,), (t_out,) = ad.jvp_flat(lambda v: [_reduce_prod_tree(v)],
                                 [flat(x)], [flat(t)])
  return out, t_out


reduce_prod_p = _reduce_primitive("reduce_prod", _numc)
ad.primitive_jvps[reduce_prod_p] = _reduce_prod_jvp
reference.register(reduce_prod_p, _np_reduce(np.prod))


@export
def reduce_prod(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_prod_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


# reduce_max / reduce_min: JAX's ``_reduce_chooser_jvp_rule``: the tangent is
# the mean of the tangents at the locations that attain the extremum (ties
# split the gradient evenly).

def _reduce_chooser_jvp(g, ans, x, *, axes, out_sharding=None):
  shape = [1 if i in axes else d for i, d in enumerate(core.get_aval(x).shape)]
  gdt = core.get_aval(g).dtype
  location_indicators = lax.convert_element_type(lax.eq(x, shapes.reshape(ans, shape)), gdt)
  counts = reduce_sum(location_indicators, axes)
  return lax.div(reduce_sum(lax.mul(g, location_indicators), axes), counts)


reduce_max_p = _reduce_primitive("reduce_max", _any)
ad.defjvp2(reduce_max_p, _reduce_chooser_jvp)
reference.register(reduce_max_p, _np_reduce(np.max, np.any, _lowest))


@export
def reduce_max(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_max_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


reduce_min_p = _reduce_primitive("reduce_min", _any)
ad.defjvp2(reduce_min_p, _reduce_chooser_jvp)
reference.register(reduce_min_p, _np_reduce(np.min, np.all, _highest))


@export
def reduce_min(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_min_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


# Integer/bool results: no derivative.

reduce_and_p = _reduce_primitive("reduce_and", _intbool)
ad.defnondiff(reduce_and_p)
reference.register(reduce_and_p, _np_reduce(np.bitwise_and.reduce, np.all, _ones))


@export
def reduce_and(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_and_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


reduce_or_p = _reduce_primitive("reduce_or", _intbool)
ad.defnondiff(reduce_or_p)
reference.register(reduce_or_p, _np_reduce(np.bitwise_or.reduce, np.any))


@export
def reduce_or(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_or_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


reduce_xor_p = _reduce_primitive("reduce_xor", _intbool)
ad.defnondiff(reduce_xor_p)
reference.register(reduce_xor_p, _np_reduce(np.bitwise_xor.reduce))


@export
def reduce_xor(operand, axes: Sequence[int]):
  x = asarray_lax(operand)
  return reduce_xor_p.bind(x, axes=_canon_axes(x, axes), out_sharding=None)


# ---------------------------------------------------------------------------
# argmax / argmin: integer results, no derivative; the batching rule shifts
# the axes (the other params, index_dtype, pass through).


def _arg_primitive(name: str):
  def abstract_eval(x, *, axes, index_dtype):
    if len(axes) != 1 or not 0 <= axes[0] < x.ndim:
      raise ValueError(f"{name}: invalid axis {tuple(axes)} for operand shape {x.shape}")
    if dtypes.is_complex(x.dtype):
      # JAX's reducer compares with gt/lt, which do not take complex values
      raise TypeError(f"{name} does not accept dtype {x.dtype.name}: its comparisons "
                      f"(gt/lt) accept subtypes of integer, floating, bool")
    if not dtypes.is_int(index_dtype):
      raise TypeError(f"{name}: index_dtype must be an integer type, but got "
                      f"{np.dtype(index_dtype).name}")
    if x.shape[axes[0]] == 0:
      raise ValueError(f"{name}: argmin and argmax require non-empty reduced dimension. "
                       f"operand.shape={x.shape} axis={axes[0]}")
    return ShapedArray(_reduced_shape(x.shape, axes), index_dtype, False)

  p = standard_primitive(name, abstract_eval)
  ad.defnondiff(p)
  batching.defreducer(p)
  return p


def _arg_ref(np_fn):
  def ref(x, *, axes, index_dtype):
    xx = x.astype(np.float32) if x.dtype.kind == "V" or x.dtype.name == "bfloat16" else x
    return np.asarray(np_fn(xx, axis=axes[0])).astype(index_dtype)
  return ref


argmax_p = _arg_primitive("argmax")
reference.register(argmax_p, _arg_ref(np.argmax))


@export
def argmax(operand, axis: int, index_dtype):
  """Index of the first maximum along ``axis`` (NaN counts as the maximum)."""
  x = asarray_lax(operand)
  return argmax_p.bind(x, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype))


argmin_p = _arg_primitive("argmin")
reference.register(argmin_p, _arg_ref(np.argmin))


@export
def argmin(operand, axis: int, index_dtype):
  """Index of the first minimum along ``axis`` (NaN counts as the minimum)."""
  x = asarray_lax(operand)
  return argmin_p.bind(x, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype))


# ---------------------------------------------------------------------------
# Cumulative ops. cumsum is linear: its transpose is the cumsum in the other
# direction. The others are differentiated, as in JAX, by the JVP of the
# parallel prefix scan (``associative_scan``) with their combining function.


def _cum_primitive(name: str, kinds):
  """A cumulative op along ``axis``: abstract eval, impl, the Rust op of the
  same name, and its batching rule (the axis shifts past the batch dim)."""
  def abstract_eval(x, *, axis, reverse):
    if name == "cumlogsumexp" and dtypes.is_int(x.dtype):
      # JAX accepts any number here, then fails to convert its initial -inf
      raise OverflowError("cannot convert float infinity to integer")
    check_dtype(name, x, kinds)
    if not 0 <= axis < x.ndim:
      raise ValueError(f"{name}: axis {axis} is out of bounds for array of shape {x.shape}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)

  def batch(vals, dims, *, axis, reverse):
    (x,), (d,) = vals, dims
    return p.bind(x, axis=axis + (d <= axis), reverse=reverse), d

  p = standard_primitive(name, abstract_eval)
  batching.primitive_batchers[p] = batch
  return p


def _cum_ref(np_fn):
  def ref(x, *, axis, reverse):
    if reverse:
      x = np.flip(x, axis)
    wide = np.float32 if x.dtype.itemsize < 4 and x.dtype.kind not in "iub" else None
    r = np_fn(x.astype(wide) if wide else x, axis=axis).astype(x.dtype)
    return np.flip(r, axis) if reverse else r
  return ref


_XLA_SCAN_BASE = 16


def _xla_scan(f, init, x: list, forward: bool, exclusive: bool = False) -> list:
  """One line of a cumulative reduce-window in XLA's CPU evaluation order
  (the Rust kernels' ``xla_scan``, which the complex cummax, cummin and
  cumlogsumexp use): windows folded from ``init``, and past 16 elements
  XLA's tree of row scans and an exclusive scan of the row ends."""
  n = len(x)
  if n <= _XLA_SCAN_BASE:
    if forward:
      wins = [x[:j] for j in range(n + 1)] if exclusive else [x[:j + 1] for j in range(n)]
    else:
      wins = [x[j:] for j in range(n + 1)] if exclusive else [x[j:] for j in range(n)]
    out = []
    for w in wins:
      acc = init
      for v in w:
        acc = f(acc, v)
      out.append(acc)
    return out
  rows = -(-n // _XLA_SCAN_BASE)
  padded = list(x) + [init] * (rows * _XLA_SCAN_BASE - n)
  scans = [_xla_scan(f, init, padded[i:i + _XLA_SCAN_BASE], forward)
           for i in range(0, len(padded), _XLA_SCAN_BASE)]
  ends = [s[-1] if forward else s[0] for s in scans]
  before = _xla_scan(f, init, ends, forward, exclusive=True)
  before = before[:rows] if forward else before[1:]
  out = [f(v, e) for row, e in zip(scans, before) for v in row][:n]
  if exclusive:
    out = [init] + out if forward else out + [init]
  return out


def _xla_cum_ref(f, init):
  """A NumPy reference of a complex cumulative op in XLA's order."""
  def ref(x, *, axis, reverse):
    moved = np.moveaxis(np.asarray(x), axis, -1)
    out = np.empty_like(moved)
    for idx in np.ndindex(*moved.shape[:-1]):
      out[idx] = _xla_scan(f, init(moved.dtype), list(moved[idx]), not reverse)
    return np.moveaxis(out, -1, axis)
  return ref


def _complex_gt(x, y):
  return x.imag > y.imag if x.real == y.real else x.real > y.real


def _complex_lt(x, y):
  return x.imag < y.imag if x.real == y.real else x.real < y.real


def _np_logaddexp_complex(x1, x2):
  """JAX's complex logaddexp (``lax.other.logaddexp``) on NumPy scalars."""
  amax = x1 if _complex_gt(x1, x2) else x2
  with np.errstate(all="ignore"):
    out = amax + np.log1p(np.exp(x1 + x2 - amax * 2))
    t = type(out.real)
    a, two_a = t(np.pi), t(2 * np.pi)
    rem = np.fmod(out.imag + a, two_a)
    rem = rem + two_a if rem < 0 else rem
  return type(out)(complex(out.real, rem - a))


def _cum_ref_or_complex(real_ref, cfn, cinit):
  cref = _xla_cum_ref(cfn, cinit)
  return lambda x, **kw: (cref if np.iscomplexobj(x) else real_ref)(x, **kw)


def _cum(p, operand, axis, reverse):
  x = asarray_lax(operand)
  nd = core.get_aval(x).ndim
  axis = int(axis)
  if not -nd <= axis < nd:
    raise ValueError(f"{p.name}: axis {axis} is out of bounds for array of dimension {nd}")
  return p.bind(x, axis=axis % nd, reverse=bool(reverse))


def _interleave(a, b, axis):
  """Interleave ``a`` and ``b`` along ``axis`` (a first; a has as many or one more)."""
  na, nb = core.get_aval(a).shape[axis], core.get_aval(b).shape[axis]
  a_pad = [(0, 0, 0)] * core.get_aval(a).ndim
  b_pad = [(0, 0, 0)] * core.get_aval(b).ndim
  a_pad[axis] = (0, 1 if na == nb else 0, 1)
  b_pad[axis] = (1, 0 if na == nb else 1, 1)
  # (JAX uses bitwise_or for bool arrays; only floats carry tangents here.)
  return lax.add(shapes.pad(a, _scalar_like(0, a), a_pad),
                 shapes.pad(b, _scalar_like(0, b), b_pad))


def _associative_scan(fn, x, reverse: bool, axis: int):
  """JAX's ``lax.associative_scan`` for one array and an elementwise ``fn``."""
  sl = slicing.slice_in_dim
  if reverse:
    x = shapes.rev(x, (axis,))

  def scan(e):
    n = core.get_aval(e).shape[axis]
    if n < 2:
      return e
    # Combine adjacent pairs, scan the half-size result recursively (the odd
    # elements), then the even elements from the odd ones.
    odd = scan(fn(sl(e, 0, -1, stride=2, axis=axis), sl(e, 1, None, stride=2, axis=axis)))
    if n % 2 == 0:
      even = fn(sl(odd, 0, -1, axis=axis), sl(e, 2, None, stride=2, axis=axis))
    else:
      even = fn(odd, sl(e, 2, None, stride=2, axis=axis))
    even = shapes.concatenate([sl(e, 0, 1, axis=axis), even], axis)
    return _interleave(even, odd, axis)

  out = scan(x)
  return shapes.rev(out, (axis,)) if reverse else out


def _cumred_jvp(prim, combine):
  def rule(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    if isinstance(t, ad.Zero):
      out = prim.bind(x, axis=axis, reverse=reverse)
      return out, _zero_like_out(out)
    (out,), (t_out,) = ad.jvp_flat(lambda v: [_associative_scan(combine, v, reverse, axis)],
                                   [x], [t])
    return out, t_out
  return rule


def _cumsum_transpose(ct, x, *, axis, reverse):
  if isinstance(ct, ad.Zero):
    return [ad.Zero(x.aval)]
  return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


cumsum_p = _cum_primitive("cumsum", _numc)
ad.deflinear(cumsum_p, _cumsum_transpose)
reference.register(cumsum_p, _cum_ref(np.cumsum))


@export
def cumsum(operand, axis: int = 0, reverse: bool = False):
  return _cum(cumsum_p, operand, axis, reverse)


cumprod_p = _cum_primitive("cumprod", _numc)
ad.primitive_jvps[cumprod_p] = _cumred_jvp(cumprod_p, lambda a, b: lax.mul(a, b))
reference.register(cumprod_p, _cum_ref(np.cumprod))


@export
def cumprod(operand, axis: int = 0, reverse: bool = False):
  return _cum(cumprod_p, operand, axis, reverse)


cummax_p = _cum_primitive("cummax", _numc)
ad.primitive_jvps[cummax_p] = _cumred_jvp(cummax_p, lambda a, b: lax.max(a, b))
reference.register(cummax_p, _cum_ref_or_complex(
    _cum_ref(np.maximum.accumulate), lambda a, b: a if _complex_gt(a, b) else b,
    lambda dt: dt.type(complex(-np.inf, 0))))


@export
def cummax(operand, axis: int = 0, reverse: bool = False):
  return _cum(cummax_p, operand, axis, reverse)


cummin_p = _cum_primitive("cummin", _numc)
ad.primitive_jvps[cummin_p] = _cumred_jvp(cummin_p, lambda a, b: lax.min(a, b))
reference.register(cummin_p, _cum_ref_or_complex(
    _cum_ref(np.minimum.accumulate), lambda a, b: a if _complex_lt(a, b) else b,
    lambda dt: dt.type(complex(np.inf, 0))))


@export
def cummin(operand, axis: int = 0, reverse: bool = False):
  return _cum(cummin_p, operand, axis, reverse)


def _replace_inf(x):
  """``x`` with +inf (for complex: a real part of +inf) replaced by 0."""
  zeros = shapes.broadcast_in_dim(_scalar_like(0, x), core.get_aval(x).shape, ())
  re = complex_ops.real(x) if dtypes.is_complex(core.get_aval(x).dtype) else x
  return lax.select(lax.eq(re, _scalar_like(float("inf"), re)), zeros, x)


def _wrap_between(x, a: float):
  """``x`` wrapped into [-a, a] (JAX's ``lax.other._wrap_between``)."""
  two_a = _scalar_like(2 * a, x)
  rem = lax.rem(lax.add(x, _scalar_like(a, x)), two_a)
  rem = lax.select(lax.lt(rem, _scalar_like(0, x)), lax.add(rem, two_a), rem)
  return lax.sub(rem, _scalar_like(a, x))


def _logaddexp_impl(x1, x2):
  amax = lax.max(x1, x2)
  if dtypes.is_complex(core.get_aval(x1).dtype):
    delta = lax.sub(lax.add(x1, x2), lax.mul(amax, _scalar_like(2, amax)))
    out = lax.add(amax, lax.log1p(lax.exp(delta)))
    return complex_ops.complex(complex_ops.real(out), _wrap_between(complex_ops.imag(out), np.pi))
  delta = lax.sub(x1, x2)
  return lax.select(lax.ne(delta, delta),
                    lax.add(x1, x2),  # NaNs or infinities of the same sign
                    lax.add(amax, lax.log1p(lax.exp(lax.neg(lax.abs(delta))))))


def _logaddexp_jvp(primals, tangents):
  x1, x2 = primals
  t1, t2 = tangents
  out = _logaddexp(x1, x2)
  r = _replace_inf(out)
  return out, lax.add(lax.mul(t1, lax.exp(lax.sub(_replace_inf(x1), r))),
                      lax.mul(t2, lax.exp(lax.sub(_replace_inf(x2), r))))


# JAX's lax logaddexp (jax._src.lax.other): a custom_jvp whose derivative
# stays finite where an operand or the result is +inf.
_logaddexp = custom_jvp(_logaddexp_impl)
_logaddexp.defjvp(_logaddexp_jvp)


def _logcumsumexp(x, axis):
  return np.logaddexp.accumulate(x.astype(np.float64), axis=axis)


cumlogsumexp_p = _cum_primitive("cumlogsumexp", _inexact)
ad.primitive_jvps[cumlogsumexp_p] = _cumred_jvp(cumlogsumexp_p, lambda a, b: _logaddexp(a, b))
reference.register(cumlogsumexp_p, _cum_ref_or_complex(
    _cum_ref(_logcumsumexp), _np_logaddexp_complex, lambda dt: dt.type(complex(-np.inf, 0))))


@export
def cumlogsumexp(operand, axis: int = 0, reverse: bool = False):
  return _cum(cumlogsumexp_p, operand, axis, reverse)


# ---------------------------------------------------------------------------
# sort (multi-operand)


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


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
  """JAX's ``_sort_jvp``: sort an iota along with the operands and gather
  each tangent by the resulting permutation."""
  shape = core.get_aval(primals[0]).shape
  index_dtype = np.uint64 if any(d > np.iinfo(np.uint32).max for d in shape) else np.uint32
  outs = sort_p.bind(*primals, shapes.broadcasted_iota(index_dtype, shape, dimension),
                     dimension=dimension, is_stable=is_stable, num_keys=num_keys)
  batch_dims = tuple(i for i in range(len(shape)) if i != dimension)
  dnums = slicing.GatherDimensionNumbers(
      offset_dims=(), collapsed_slice_dims=(dimension,), start_index_map=(dimension,),
      operand_batching_dims=batch_dims, start_indices_batching_dims=batch_dims)
  idx = shapes.expand_dims(outs[-1], (len(shape),))
  if 0 in shape:   # nothing to permute (and no size-1 slice to gather)
    return outs[:-1], [_zero_like_out(o) if isinstance(t, ad.Zero) else t
                       for o, t in zip(outs[:-1], tangents)]
  t_out = [_zero_like_out(o) if isinstance(t, ad.Zero) else
           slicing.gather(t, idx, dnums, (1,) * len(shape),
                          mode=slicing.GatherScatterMode.PROMISE_IN_BOUNDS)
           for o, t in zip(outs[:-1], tangents)]
  return outs[:-1], t_out


def _sort_batch(vals, dims, *, dimension, is_stable, num_keys):
  proto, new_bdim = next((v, d) for v, d in zip(vals, dims) if d is not None)
  pshape = core.get_aval(proto).shape
  new = []
  for v, d in zip(vals, dims):
    if d is None:
      keep = tuple(i for i in range(len(pshape)) if i != new_bdim)
      new.append(shapes.broadcast_in_dim(v, pshape, keep))
    else:
      new.append(batching.moveaxis(v, d, new_bdim))
  outs = sort_p.bind(*new, dimension=dimension + (new_bdim <= dimension), is_stable=is_stable,
                     num_keys=num_keys)
  return outs, [new_bdim] * len(outs)


def _sort_ref(*operands, dimension, is_stable, num_keys):
  keys = []
  for k in operands[:num_keys][::-1]:
    k = np.moveaxis(np.asarray(k), dimension, -1)
    if k.dtype.name == "bfloat16" or k.dtype == np.float16:
      k = k.astype(np.float32)
    if k.dtype.kind == "c":  # by the real parts, then the imaginary parts, NaNs last
      keys.extend([k.imag, np.isnan(k.imag), k.real, np.isnan(k.real)])
    elif k.dtype.kind == "f":  # NaNs last
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


sort_p = standard_primitive("sort", _sort_abstract_eval, multiple_results=True)
ad.primitive_jvps[sort_p] = _sort_jvp
batching.primitive_batchers[sort_p] = _sort_batch
reference.register(sort_p, _sort_ref)


@export
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


@export
def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
  """Sort ``keys`` and permute ``values`` the same way."""
  k, v = sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
  return k, v


# ---------------------------------------------------------------------------
# top_k


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


def _top_k_jvp(primals, tangents, *, k, axis):
  """JAX's ``_top_k_jvp``: gather the tangent at the returned indices."""
  (x,), (t,) = primals, tangents
  vals, idx = top_k_p.bind(x, k=k, axis=axis)
  if isinstance(t, ad.Zero):
    return [vals, idx], [_zero_like_out(vals), _zero_like_out(idx)]
  idx_shape = core.get_aval(idx).shape
  rank = len(idx_shape)
  others = tuple(i for i in range(rank) if i != axis)
  dnums = slicing.GatherDimensionNumbers(
      offset_dims=(), collapsed_slice_dims=(axis,), start_index_map=(axis,),
      operand_batching_dims=others, start_indices_batching_dims=others)
  t_out = slicing.gather(t, shapes.reshape(idx, idx_shape + (1,)), dnums, (1,) * rank,
                         mode=slicing.GatherScatterMode.PROMISE_IN_BOUNDS)
  return [vals, idx], [t_out, _zero_like_out(idx)]


def _top_k_batch(vals, dims, *, k, axis):
  (x,), (d,) = vals, dims
  outs = top_k_p.bind(x, k=k, axis=axis + (d <= axis))
  return outs, [d, d]


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


top_k_p = standard_primitive("top_k", _top_k_abstract_eval, multiple_results=True)
ad.primitive_jvps[top_k_p] = _top_k_jvp
batching.primitive_batchers[top_k_p] = _top_k_batch
reference.register(top_k_p, _top_k_ref)


@export
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
