"""conv_general_dilated (with lax.conv, conv_with_general_padding,
conv_transpose and the dimension-number helpers), one block with all its
rules.

The API and the rules follow JAX 0.10.2's ``jax/_src/lax/convolution.py``:
the transposes are themselves convolutions (the lhs transpose swaps strides
and lhs dilation and flips the kernel; the rhs transpose turns feature groups
into batch groups), and the batching rule folds the vmapped dim into the
batch or feature dim instead of looping.
"""
from __future__ import annotations

import itertools
import operator
from typing import NamedTuple, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lowering, reference
# The transposes and the batching rule reshape, flip and convert (shape and
# elementwise ops): the lax modules import each other as modules.
from rjax._src.lax import lax, matmul, shapes
from rjax._src.lax.matmul import convert_operands, emit_in_dtype
from rjax._src.lax.utils import asarray_lax, export, standard_primitive


@export
class ConvDimensionNumbers(NamedTuple):
  """Batch, feature and spatial dims of a convolution: ``lhs_spec`` and
  ``out_spec`` are ``(batch dim, feature dim, spatial dims...)``; ``rhs_spec``
  is ``(out feature dim, in feature dim, spatial dims...)``."""
  lhs_spec: Sequence[int]
  rhs_spec: Sequence[int]
  out_spec: Sequence[int]


# ---------------------------------------------------------------------------
# Shape helpers (JAX's names)


def _dilate_shape(shape, dilation):
  return tuple(0 if d == 0 else 1 + r * (d - 1) for d, r in zip(shape, dilation))


def _ceil_divide(a, b):
  return -(-a // b)


@export
def padtype_to_pads(in_shape, window_shape, window_strides, padding) -> list:
  """Padding string ('SAME', 'SAME_LOWER', 'VALID') to (low, high) pairs,
  as ``jax.lax.padtype_to_pads``."""
  if not isinstance(padding, str):
    raise TypeError(f"padtype_to_pads: unknown padding type: {padding!r}")
  kind = padding.upper()
  if kind not in ("SAME", "SAME_LOWER", "VALID"):
    raise RuntimeError("Unrecognized padding type: expected 'VALID', 'SAME', or 'SAME_LOWER', "
                       f"got {padding}.")
  if kind == "VALID":
    return [(0, 0)] * len(in_shape)
  pads = []
  for i, w, s in zip(in_shape, window_shape, window_strides):
    out = _ceil_divide(int(i), int(s))
    total = max((out - 1) * int(s) + int(w) - int(i), 0)
    lo = total // 2 if kind == "SAME" else _ceil_divide(total, 2)
    pads.append((lo, total - lo))
  return pads


@export
def conv_general_permutations(dimension_numbers):
  """String dimension numbers (e.g. ('NHWC', 'HWIO', 'NHWC')) to the three
  permutations of ``ConvDimensionNumbers``."""
  lhs_spec, rhs_spec, out_spec = dimension_numbers
  charpairs = (("N", "C"), ("O", "I"), ("N", "C"))
  for i, (a, b) in enumerate(charpairs):
    if not dimension_numbers[i].count(a) == dimension_numbers[i].count(b) == 1:
      raise TypeError(f"convolution dimension_numbers[{i}] must contain the characters '{a}' "
                      f"and '{b}' exactly once, got {dimension_numbers[i]}.")
    if len(dimension_numbers[i]) != len(set(dimension_numbers[i])):
      raise TypeError(f"convolution dimension_numbers[{i}] cannot have duplicate characters, "
                      f"got {dimension_numbers[i]}.")
  if not (set(lhs_spec) - set("NC") == set(rhs_spec) - set("OI") == set(out_spec) - set("NC")):
    raise TypeError("convolution dimension_numbers elements must each have the same set of "
                    f"spatial characters, got {dimension_numbers}.")

  def getperm(spec, pair):
    spatial = [i for i, c in enumerate(spec) if c not in pair]
    if spec is not rhs_spec:
      spatial = sorted(spatial, key=lambda i: rhs_spec.index(spec[i]))
    return (spec.index(pair[0]), spec.index(pair[1])) + tuple(spatial)

  return tuple(getperm(s, p) for s, p in zip(dimension_numbers, charpairs))


@export
def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
  """``dimension_numbers`` (None, a ``ConvDimensionNumbers`` or three strings)
  in the canonical ``ConvDimensionNumbers`` form."""
  if isinstance(dimension_numbers, ConvDimensionNumbers):
    return ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in dimension_numbers))
  if len(lhs_shape) != len(rhs_shape):
    raise TypeError("convolution requires lhs and rhs ndim to be equal, got "
                    f"{len(lhs_shape)} and {len(rhs_shape)}.")
  if dimension_numbers is None:
    iota = tuple(range(len(lhs_shape)))
    return ConvDimensionNumbers(iota, iota, iota)
  if isinstance(dimension_numbers, (list, tuple)):
    if len(dimension_numbers) != 3:
      raise TypeError("convolution dimension_numbers list/tuple must be length 3, got "
                      f"{len(dimension_numbers)}.")
    if not all(isinstance(e, str) for e in dimension_numbers):
      raise TypeError("convolution dimension_numbers elements must be strings, got "
                      f"{tuple(map(type, dimension_numbers))}.")
    for i, e in enumerate(dimension_numbers):
      if len(e) != len(lhs_shape):
        raise TypeError(f"convolution dimension_numbers[{i}] must have len equal to the ndim "
                        f"of lhs and rhs, got {len(e)} for lhs and rhs shapes {tuple(lhs_shape)} "
                        f"and {tuple(rhs_shape)}.")
    return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))
  raise TypeError("convolution dimension_numbers must be tuple/list or None, got "
                  f"{type(dimension_numbers)}.")


@export
def conv_shape_tuple(lhs_shape, rhs_shape, strides, pads, batch_group_count=1):
  """Output shape of a conv with operands in canonical (N, C, spatial) /
  (O, I, spatial) order."""
  if isinstance(pads, str):
    pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
  if len(pads) != len(lhs_shape) - 2:
    raise TypeError("Wrong number of explicit pads for convolution: expected "
                    f"{len(lhs_shape) - 2}, got {len(pads)}.")
  padded = [int(d) + lo + hi for d, (lo, hi) in zip(lhs_shape[2:], pads)]
  if any(p < 0 for p in padded):
    raise ValueError("Negative padding is larger than the size of the corresponding dimension: "
                     f"got padding={tuple(pads)} for lhs_shape[2:]={tuple(lhs_shape[2:])}")
  space = tuple(0 if p < k else (p - k) // s + 1 for p, k, s in zip(padded, rhs_shape[2:], strides))
  n = lhs_shape[0] // batch_group_count if batch_group_count > 1 else lhs_shape[0]
  return (n, rhs_shape[0]) + space


def _conv_sdims(spec):
  return tuple(spec[2:])


def _conv_spec_transpose(spec):
  return (spec[1], spec[0]) + tuple(spec[2:])


# ---------------------------------------------------------------------------
# conv_general_dilated. It is bilinear; each transpose is a conv. The batching
# rule folds the vmapped dim into the batch or feature dims (JAX's rule).


def _check_ints(name, what, v, n, minimum):
  if len(v) != n:
    raise ValueError(f"{name}: {what} must have {n} entries (one per spatial dimension), got "
                     f"{tuple(v)}")
  if any(x < minimum for x in v):
    raise ValueError(f"{name}: {what} must be >= {minimum}, got {tuple(v)}")


def _conv_general_dilated_shape(lhs, rhs, *, window_strides, padding, lhs_dilation,
                                rhs_dilation, dimension_numbers, feature_group_count,
                                batch_group_count):
  dn = dimension_numbers
  if len(lhs.shape) != len(rhs.shape):
    raise ValueError("conv_general_dilated lhs and rhs must have the same number of dimensions, "
                     f"but got {lhs.shape} and {rhs.shape}.")
  nd = len(lhs.shape)
  if nd < 2:
    raise ValueError(f"conv_general_dilated: operands need rank >= 2, got shapes {lhs.shape} "
                     f"and {rhs.shape}")
  for name, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), dn):
    if sorted(spec) != list(range(nd)):
      raise TypeError(f"conv_general_dilated: dimension_numbers.{name} must be a permutation of "
                      f"range({nd}), got {tuple(spec)}")
  if not feature_group_count > 0:
    raise ValueError("conv_general_dilated feature_group_count must be a positive integer, got "
                     f"{feature_group_count}.")
  lhs_features = lhs.shape[dn.lhs_spec[1]]
  quot, rem = divmod(lhs_features, feature_group_count)
  if rem:
    raise ValueError("conv_general_dilated feature_group_count must divide lhs feature dimension "
                     f"size, but {feature_group_count} does not divide {lhs_features}.")
  if quot != rhs.shape[dn.rhs_spec[1]]:
    raise ValueError("conv_general_dilated lhs feature dimension size divided by "
                     "feature_group_count must equal the rhs input feature dimension size, but "
                     f"{lhs_features} // {feature_group_count} != {rhs.shape[dn.rhs_spec[1]]}.")
  if rhs.shape[dn.rhs_spec[0]] % feature_group_count:
    raise ValueError("conv_general_dilated rhs output feature dimension size must be a multiple "
                     f"of feature_group_count, but {rhs.shape[dn.rhs_spec[0]]} is not a multiple "
                     f"of {feature_group_count}.")
  if not batch_group_count > 0:
    raise ValueError("conv_general_dilated batch_group_count must be a positive integer, got "
                     f"{batch_group_count}.")
  lhs_batch = lhs.shape[dn.lhs_spec[0]]
  if batch_group_count > 1 and lhs_batch % batch_group_count != 0:
    raise ValueError("conv_general_dilated batch_group_count must divide lhs batch dimension "
                     f"size, but {batch_group_count} does not divide {lhs_batch}.")
  if rhs.shape[dn.rhs_spec[0]] % batch_group_count:
    raise ValueError("conv_general_dilated rhs output feature dimension size must be a multiple "
                     f"of batch_group_count, but {rhs.shape[dn.rhs_spec[0]]} is not a multiple "
                     f"of {batch_group_count}.")
  if batch_group_count > 1 and feature_group_count > 1:
    raise ValueError("At most one of batch_group_count and feature_group_count may be > 1, got "
                     f"batch_group_count={batch_group_count} and "
                     f"feature_group_count={feature_group_count}")
  n = nd - 2
  if len(window_strides) != n:
    raise ValueError("conv_general_dilated window and window_strides must have the same number "
                     f"of dimensions, but got {n} and {len(window_strides)}")
  _check_ints("conv_general_dilated", "window_strides", window_strides, n, 1)
  _check_ints("conv_general_dilated", "lhs_dilation", lhs_dilation, n, 1)
  _check_ints("conv_general_dilated", "rhs_dilation", rhs_dilation, n, 1)
  if len(padding) != n:
    raise TypeError(f"Wrong number of explicit pads for convolution: expected {n}, got "
                    f"{len(padding)}.")
  lhs_t = _dilate_shape(np.take(lhs.shape, dn.lhs_spec), (1, 1) + tuple(lhs_dilation))
  rhs_t = _dilate_shape(np.take(rhs.shape, dn.rhs_spec), (1, 1) + tuple(rhs_dilation))
  out_t = conv_shape_tuple(lhs_t, rhs_t, window_strides, padding, batch_group_count)
  return tuple(int(d) for d in np.take(out_t, np.argsort(dn.out_spec)))


def _conv_result_dtype(lhs, rhs, preferred):
  if lhs.dtype != rhs.dtype:
    raise TypeError("conv_general_dilated requires arguments to have the same dtypes, got "
                    f"{lhs.dtype.name}, {rhs.dtype.name}.")
  dt = lhs.dtype
  if dt == dtypes.bool_:
    raise TypeError("conv_general_dilated does not accept operands of dtype bool")
  if preferred is None:
    return dt
  pref = np.dtype(preferred)
  if not ((dtypes.is_int(dt) and (dtypes.is_int(pref) or dtypes.is_float(pref)))
          or (dtypes.is_float(dt) and dtypes.is_float(pref))):
    raise TypeError("Input type is incompatible with `preferred_element_type`. The compatible "
                    "combinations of (input_type, preferred_element_type) are (integral, "
                    "integral), (integral, floating), (floating, floating); got "
                    f"({dt.name}, {pref.name}).")
  if (dtypes.is_float(dt) == dtypes.is_float(pref)) and pref.itemsize < dt.itemsize:
    raise TypeError("`preferred_element_type` must not be narrower than the original type, got "
                    f"preferred_element_type of {pref.name} for result type of {dt.name}.")
  return pref


def _conv_general_dilated_abstract_eval(lhs, rhs, *, window_strides, padding, lhs_dilation,
                                        rhs_dilation, dimension_numbers, feature_group_count,
                                        batch_group_count, precision=None,
                                        preferred_element_type=None):
  shape = _conv_general_dilated_shape(
      lhs, rhs, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
      rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
      feature_group_count=feature_group_count, batch_group_count=batch_group_count)
  dt = _conv_result_dtype(lhs, rhs, preferred_element_type)
  return ShapedArray(shape, dt, lhs.weak_type and rhs.weak_type and preferred_element_type is None)


def _conv_general_vjp_lhs_padding(in_shape, window_dimensions, window_strides, out_shape, padding,
                                  lhs_dilation, rhs_dilation):
  lhs_d = _dilate_shape(in_shape, lhs_dilation)
  rhs_d = _dilate_shape(window_dimensions, rhs_dilation)
  out_d = _dilate_shape(out_shape, window_strides)
  before = [r - lo - 1 for r, (lo, _) in zip(rhs_d, padding)]
  after = [l + r - 1 - o - b for l, r, o, b in zip(lhs_d, rhs_d, out_d, before)]
  return list(zip(before, after))


def _conv_general_vjp_rhs_padding(in_shape, window_dimensions, window_strides, out_shape, padding,
                                  lhs_dilation, rhs_dilation):
  if len(in_shape) == 0:
    return []
  lhs_d = _dilate_shape(in_shape, lhs_dilation)
  rhs_d = _dilate_shape(window_dimensions, rhs_dilation)
  out_d = _dilate_shape(out_shape, window_strides)
  lo = [p for p, _ in padding]
  hi = [o - l + r - p - 1 for o, l, r, p in zip(out_d, lhs_d, rhs_d, lo)]
  return list(zip(lo, hi))


def _reshape_axis_into(src, dst, x):
  """Merge axis ``src`` into axis ``dst`` (numbered after removing ``src``),
  ``src`` as the major part."""
  shape = core.get_aval(x).shape
  perm = [i for i in range(len(shape)) if i != src]
  perm.insert(dst, src)
  new_shape = list(np.delete(shape, src))
  new_shape[dst] *= shape[src]
  return shapes.reshape(x, tuple(int(d) for d in new_shape), tuple(perm))


def _reshape_axis_out_of(src, size1, x):
  shape = list(core.get_aval(x).shape)
  size2, ragged = divmod(shape[src], size1)
  assert not ragged
  shape[src:src + 1] = [size1, size2]
  return shapes.reshape(x, tuple(shape))


def _conv_general_dilated_transpose_lhs(g, lhs, rhs, *, window_strides, padding, lhs_dilation,
                                        rhs_dilation, dimension_numbers, feature_group_count,
                                        batch_group_count, precision=None,
                                        preferred_element_type=None):
  assert batch_group_count == 1 or feature_group_count == 1
  rhs_shape = core.get_aval(rhs).shape
  lhs_aval = lhs.aval
  lhs_sdims, rhs_sdims, out_sdims = map(_conv_sdims, dimension_numbers)
  lhs_spec, rhs_spec, out_spec = dimension_numbers
  t_rhs_spec = _conv_spec_transpose(rhs_spec)
  if feature_group_count > 1:
    rhs = _reshape_axis_out_of(rhs_spec[0], feature_group_count, rhs)
    rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
  elif batch_group_count > 1:
    rhs = _reshape_axis_out_of(rhs_spec[0], batch_group_count, rhs)
    rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
    feature_group_count = batch_group_count
  trans_dn = ConvDimensionNumbers(out_spec, t_rhs_spec, lhs_spec)
  g_shape = core.get_aval(g).shape
  pads = _conv_general_vjp_lhs_padding(
      np.take(lhs_aval.shape, lhs_sdims), np.take(rhs_shape, rhs_sdims), window_strides,
      np.take(g_shape, out_sdims), padding, lhs_dilation, rhs_dilation)
  revd = shapes.rev(rhs, tuple(int(d) for d in rhs_sdims))
  g_dt = core.get_aval(g).dtype
  if core.get_aval(revd).dtype != g_dt:
    revd = lax.convert_element_type(revd, g_dt)
  out = conv_general_dilated(g, revd, window_strides=lhs_dilation, padding=pads,
                             lhs_dilation=window_strides, rhs_dilation=rhs_dilation,
                             dimension_numbers=trans_dn, feature_group_count=feature_group_count,
                             batch_group_count=1, precision=precision,
                             preferred_element_type=preferred_element_type)
  if core.get_aval(out).dtype != lhs_aval.dtype:
    out = lax.convert_element_type(out, lhs_aval.dtype)
  if batch_group_count > 1:
    out = _reshape_axis_out_of(lhs_spec[1], batch_group_count, out)
    out = _reshape_axis_into(lhs_spec[1], lhs_spec[0], out)
  return out


def _conv_general_dilated_transpose_rhs(g, lhs, rhs, *, window_strides, padding, lhs_dilation,
                                        rhs_dilation, dimension_numbers, feature_group_count,
                                        batch_group_count, precision=None,
                                        preferred_element_type=None):
  rhs_aval = rhs.aval
  g_aval = core.get_aval(g)
  if g_aval.size == 0:
    return shapes.full(rhs_aval.shape, 0, rhs_aval.dtype)
  lhs_shape = core.get_aval(lhs).shape
  lhs_sdims, rhs_sdims, out_sdims = map(_conv_sdims, dimension_numbers)
  lhs_trans, rhs_trans, out_trans = map(_conv_spec_transpose, dimension_numbers)
  assert batch_group_count == 1 or feature_group_count == 1
  if batch_group_count > 1:
    feature_group_count, batch_group_count = batch_group_count, 1
  elif feature_group_count > 1:
    batch_group_count, feature_group_count = feature_group_count, 1
  trans_dn = ConvDimensionNumbers(lhs_trans, out_trans, rhs_trans)
  pads = _conv_general_vjp_rhs_padding(
      np.take(lhs_shape, lhs_sdims), np.take(rhs_aval.shape, rhs_sdims), window_strides,
      np.take(g_aval.shape, out_sdims), padding, lhs_dilation, rhs_dilation)
  if core.get_aval(lhs).dtype != g_aval.dtype:
    lhs = lax.convert_element_type(lhs, g_aval.dtype)
  out = conv_general_dilated(lhs, g, window_strides=rhs_dilation, padding=pads,
                             lhs_dilation=lhs_dilation, rhs_dilation=window_strides,
                             dimension_numbers=trans_dn, feature_group_count=feature_group_count,
                             batch_group_count=batch_group_count, precision=precision,
                             preferred_element_type=preferred_element_type)
  if core.get_aval(out).dtype != rhs_aval.dtype:
    out = lax.convert_element_type(out, rhs_aval.dtype)
  return out


def _conv_general_dilated_batch(vals, dims, *, window_strides, padding, lhs_dilation,
                                rhs_dilation, dimension_numbers, feature_group_count,
                                batch_group_count, precision=None, preferred_element_type=None):
  lhs, rhs = vals
  lhs_bdim, rhs_bdim = dims
  lhs_spec, rhs_spec, out_spec = dimension_numbers
  params = dict(window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
                rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                precision=precision, preferred_element_type=preferred_element_type)
  la, ra = core.get_aval(lhs), core.get_aval(rhs)
  if ((lhs_bdim is not None and la.shape[lhs_bdim] == 0)
      or (rhs_bdim is not None and ra.shape[rhs_bdim] == 0)):
    ls, rs = list(la.shape), list(ra.shape)
    if lhs_bdim is not None:
      ls.pop(lhs_bdim)
    if rhs_bdim is not None:
      rs.pop(rhs_bdim)
    out = _conv_general_dilated_abstract_eval(
        ShapedArray(tuple(ls), la.dtype), ShapedArray(tuple(rs), ra.dtype),
        feature_group_count=feature_group_count, batch_group_count=batch_group_count, **params)
    return shapes.full((0,) + out.shape, 0, out.dtype), 0

  def bind(l, r, fgc, bgc):
    return conv_general_dilated_p.bind(l, r, feature_group_count=fgc, batch_group_count=bgc,
                                       **params)

  if lhs_bdim is not None and rhs_bdim is not None:
    size = la.shape[lhs_bdim]
    if batch_group_count > 1:
      new_lhs = _reshape_axis_into(lhs_bdim, lhs_spec[0], lhs)
      batch_group_count *= size
    else:
      new_lhs = _reshape_axis_into(lhs_bdim, lhs_spec[1], lhs)
      feature_group_count *= size
    new_rhs = _reshape_axis_into(rhs_bdim, rhs_spec[0], rhs)
    out = bind(new_lhs, new_rhs, feature_group_count, batch_group_count)
    return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
  if lhs_bdim is not None:
    size = la.shape[lhs_bdim]
    if batch_group_count == 1:
      new_lhs = _reshape_axis_into(lhs_bdim, lhs_spec[0], lhs)
    else:
      new_lhs = _reshape_axis_out_of(lhs_spec[0] + int(lhs_bdim <= lhs_spec[0]),
                                     batch_group_count, lhs)
      new_lhs = _reshape_axis_into(lhs_bdim + int(lhs_spec[0] < lhs_bdim), lhs_spec[0] + 1,
                                   new_lhs)
      new_lhs = _reshape_axis_into(lhs_spec[0], lhs_spec[0], new_lhs)
    out = bind(new_lhs, rhs, feature_group_count, batch_group_count)
    return _reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
  size = ra.shape[rhs_bdim]
  if feature_group_count == 1 and batch_group_count == 1:
    new_rhs = _reshape_axis_into(rhs_bdim, rhs_spec[0], rhs)
    out = bind(lhs, new_rhs, feature_group_count, batch_group_count)
    return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
  group_count = feature_group_count if feature_group_count > 1 else batch_group_count
  new_rhs = _reshape_axis_out_of(rhs_spec[0] + int(rhs_bdim <= rhs_spec[0]), group_count, rhs)
  new_rhs = _reshape_axis_into(rhs_bdim + int(rhs_spec[0] < rhs_bdim), rhs_spec[0] + 1, new_rhs)
  new_rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[0], new_rhs)
  out = bind(lhs, new_rhs, feature_group_count, batch_group_count)
  out = _reshape_axis_out_of(out_spec[1], group_count, out)
  out = _reshape_axis_out_of(out_spec[1] + 1, size, out)
  out = _reshape_axis_into(out_spec[1], out_spec[1] + 1, out)
  return out, out_spec[1]


def _conv_general_dilated_lowering(ctx, lhs, rhs, *, avals_in, avals_out, window_strides,
                                   padding, lhs_dilation, rhs_dilation, dimension_numbers,
                                   feature_group_count, batch_group_count, precision=None,
                                   preferred_element_type=None):
  """Rust's kernel wants one dtype: convert the operands to the output dtype
  (or compute in the input dtype and convert the result when the output is a
  narrower float)."""
  out = avals_out[0]
  compute = out.dtype
  if dtypes.is_float(avals_in[0].dtype) and out.dtype.itemsize < avals_in[0].dtype.itemsize:
    compute = avals_in[0].dtype
  ids = convert_operands(ctx, (lhs, rhs), avals_in, compute)
  params = {"window_strides": window_strides, "padding": padding, "lhs_dilation": lhs_dilation,
            "rhs_dilation": rhs_dilation, "lhs_spec": dimension_numbers.lhs_spec,
            "rhs_spec": dimension_numbers.rhs_spec, "out_spec": dimension_numbers.out_spec,
            "feature_group_count": feature_group_count, "batch_group_count": batch_group_count}
  return emit_in_dtype(ctx, "conv_general_dilated", ids, out, compute, params)


def _dilate_np(x, axes, dilation):
  for ax, d in zip(axes, dilation):
    if d > 1 and x.shape[ax] > 0:
      shape = list(x.shape)
      shape[ax] = (shape[ax] - 1) * d + 1
      z = np.zeros(shape, x.dtype)
      idx = [slice(None)] * x.ndim
      idx[ax] = slice(None, None, d)
      z[tuple(idx)] = x
      x = z
  return x


def _pad_np(x, axes, pads):
  for ax, (lo, hi) in zip(axes, pads):
    idx = [slice(None)] * x.ndim
    idx[ax] = slice(max(-lo, 0), x.shape[ax] - max(-hi, 0))
    x = x[tuple(idx)]
    width = [(0, 0)] * x.ndim
    width[ax] = (max(lo, 0), max(hi, 0))
    x = np.pad(x, width)
  return x


def _conv_general_dilated_ref(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                              dimension_numbers, feature_group_count, batch_group_count,
                              precision=None, preferred_element_type=None):
  """Direct reference: canonical layouts, explicit dilation and padding, one
  einsum per kernel position and group."""
  dt = _conv_result_dtype(lhs, rhs, preferred_element_type)
  wide = np.float64 if dtypes.is_float(dt) or dtypes.is_float(lhs.dtype) else np.int64
  lspec, rspec, ospec = dimension_numbers
  x = np.transpose(np.asarray(lhs), lspec).astype(wide)
  w = np.transpose(np.asarray(rhs), rspec).astype(wide)
  sp = tuple(range(2, x.ndim))
  x = _pad_np(_dilate_np(x, sp, lhs_dilation), sp, padding)
  w = _dilate_np(w, sp, rhs_dilation)
  osp = tuple(0 if p < k else (p - k) // s + 1
              for p, k, s in zip(x.shape[2:], w.shape[2:], window_strides))
  fg, bg = feature_group_count, batch_group_count
  n_out = x.shape[0] // bg
  o_all, cin = w.shape[:2]
  og = o_all // (fg * bg)
  out = np.zeros((n_out, o_all) + osp, wide)
  if all(osp) and n_out and og:
    for g in range(fg * bg):
      xs = x[:, g * cin:(g + 1) * cin] if fg > 1 else x[g * n_out:(g + 1) * n_out]
      ws = w[g * og:(g + 1) * og]
      for kp in itertools.product(*(range(k) for k in w.shape[2:])):
        sl = tuple(slice(k, k + (o - 1) * s + 1, s) for k, o, s in zip(kp, osp, window_strides))
        patch = xs[(slice(None), slice(None)) + sl]
        with np.errstate(over="ignore"):
          out[:, g * og:(g + 1) * og] += np.einsum("ni...,oi->no...", patch,
                                                   ws[(slice(None), slice(None)) + kp])
  with np.errstate(over="ignore", invalid="ignore"):
    return np.transpose(out, np.argsort(ospec)).astype(dt)


conv_general_dilated_p = standard_primitive("conv_general_dilated",
                                            _conv_general_dilated_abstract_eval, lower=False)
ad.defbilinear(conv_general_dilated_p, _conv_general_dilated_transpose_lhs,
               _conv_general_dilated_transpose_rhs)
batching.primitive_batchers[conv_general_dilated_p] = _conv_general_dilated_batch
_conv_general_dilated_lowering.op_name = "conv_general_dilated"
lowering.lowerings[conv_general_dilated_p] = _conv_general_dilated_lowering
reference.register(conv_general_dilated_p, _conv_general_dilated_ref)


@export
def conv_general_dilated(lhs, rhs, window_strides: Sequence[int], padding,
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None, dimension_numbers=None,
                         feature_group_count: int = 1, batch_group_count: int = 1,
                         precision=None, preferred_element_type=None, out_sharding=None):
  """General n-d convolution with optional dilation (``lax.conv_general_dilated``).

  ``padding`` is 'SAME', 'SAME_LOWER', 'VALID' or ``n`` (low, high) pairs;
  ``dimension_numbers`` is None (('NCHW', 'OIHW', 'NCHW')-style), a
  ``ConvDimensionNumbers`` or three layout strings such as
  ('NHWC', 'HWIO', 'NHWC')."""
  lhs, rhs = asarray_lax(lhs), asarray_lax(rhs)
  la, ra = core.get_aval(lhs), core.get_aval(rhs)
  dnums = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
  n = la.ndim - 2
  if lhs_dilation is None:
    lhs_dilation = (1,) * n
  elif isinstance(padding, str) and any(d != 1 for d in lhs_dilation):
    raise ValueError("String padding is not implemented for transposed convolution using this "
                     "op. Please either exactly specify the required padding or use "
                     "conv_transpose.")
  if rhs_dilation is None:
    rhs_dilation = (1,) * n
  window_strides = tuple(operator.index(s) for s in window_strides)
  lhs_dilation = tuple(operator.index(s) for s in lhs_dilation)
  rhs_dilation = tuple(operator.index(s) for s in rhs_dilation)
  if isinstance(padding, str):
    rhs_sp = np.take(ra.shape, dnums.rhs_spec)[2:]
    eff = _dilate_shape(rhs_sp, rhs_dilation)
    padding = padtype_to_pads(np.take(la.shape, dnums.lhs_spec)[2:], eff, window_strides, padding)
  try:
    padding = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
  except (ValueError, TypeError) as e:
    raise ValueError("padding argument to conv_general_dilated should be a string or a "
                     f"sequence of (low, high) pairs, got {padding}") from e
  pet = None if preferred_element_type is None else dtypes.canonicalize_dtype(
      preferred_element_type)
  return conv_general_dilated_p.bind(
      lhs, rhs, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
      rhs_dilation=rhs_dilation, dimension_numbers=dnums,
      feature_group_count=operator.index(feature_group_count),
      batch_group_count=operator.index(batch_group_count),
      precision=matmul.canonicalize_precision(precision, "conv_general_dilated"),
      preferred_element_type=pet)


@export
def conv(lhs, rhs, window_strides: Sequence[int], padding: str, precision=None,
         preferred_element_type=None):
  """``conv_general_dilated`` with NCHW/OIHW layouts and no dilation."""
  return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                              preferred_element_type=preferred_element_type)


@export
def conv_with_general_padding(lhs, rhs, window_strides: Sequence[int], padding,
                              lhs_dilation, rhs_dilation, precision=None,
                              preferred_element_type=None):
  """``conv_general_dilated`` with NCHW/OIHW layouts."""
  return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                              rhs_dilation=rhs_dilation, precision=precision,
                              preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k, s, padding):
  if padding == "SAME":
    pad_len = k + s - 2
    pad_a = k - 1 if s > k - 1 else int(np.ceil(pad_len / 2))
  elif padding == "VALID":
    pad_len = k + s - 2 + max(k - s, 0)
    pad_a = k - 1
  elif isinstance(padding, tuple):
    pads = tuple(k - p - 1 for p in padding)
    pad_a = pads[0]
    pad_len = sum(pads)
  else:
    raise ValueError(f"Invalid padding mode: {padding}")
  return pad_a, pad_len - pad_a


@export
def conv_transpose(lhs, rhs, strides: Sequence[int], padding, rhs_dilation=None,
                   dimension_numbers=None, transpose_kernel: bool = False, precision=None,
                   preferred_element_type=None, use_consistent_padding: bool = False):
  """Fractionally strided convolution (``lax.conv_transpose``), defaulting to
  TensorFlow layouts (NHWC/HWIO)."""
  lhs, rhs = asarray_lax(lhs), asarray_lax(rhs)
  la, ra = core.get_aval(lhs), core.get_aval(rhs)
  if not (la.ndim == ra.ndim and la.ndim >= 2):
    raise ValueError(f"conv_transpose: lhs and rhs need equal rank >= 2, got shapes {la.shape} "
                     f"and {ra.shape}")
  nd = la.ndim
  one = (1,) * (nd - 2)
  if dimension_numbers is None:
    defaults = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                5: ("NHWDC", "HWDIO", "NHWDC")}
    if nd not in defaults:
      raise ValueError("No 4+ dimensional dimension_number defaults.")
    dimension_numbers = defaults[nd]
  dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
  k_sdims = np.take(ra.shape, dn.rhs_spec)[2:]
  if rhs_dilation is None:
    rhs_dilation = (1,) * (nd - 2)
  if use_consistent_padding or (isinstance(padding, str) and padding in {"SAME", "VALID"}):
    eff = _dilate_shape(k_sdims, rhs_dilation)
    rep = [padding] * len(strides) if isinstance(padding, str) else [tuple(p) for p in padding]
    pads = tuple(_conv_transpose_padding(int(k), int(s), p) for k, s, p in zip(eff, strides, rep))
  else:
    pads = padding
  if transpose_kernel:
    rhs = shapes.rev(rhs, tuple(int(d) for d in dn.rhs_spec[2:]))
    perm = list(range(nd))
    perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = perm[dn.rhs_spec[1]], perm[dn.rhs_spec[0]]
    rhs = shapes.transpose(rhs, tuple(perm))
  return conv_general_dilated(lhs, rhs, one, pads, strides, rhs_dilation, dn,
                              precision=precision, preferred_element_type=preferred_element_type)


#: ``dimension_numbers`` of the convolutions: three layout strings, a
#: ConvDimensionNumbers, or None (``lax.ConvGeneralDilatedDimensionNumbers``).
ConvGeneralDilatedDimensionNumbers = tuple | ConvDimensionNumbers | None
__all__ += ["ConvGeneralDilatedDimensionNumbers"]  # noqa: F821  (a type alias)


@export
def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding, dimension_numbers):
  """The output shape of ``conv_general_dilated`` (no dilation) in the output layout."""
  lhs_perm, rhs_perm, out_perm = conv_general_permutations(dimension_numbers)
  lhs_trans = np.take(lhs_shape, lhs_perm)
  rhs_trans = np.take(rhs_shape, rhs_perm)
  out_trans = conv_shape_tuple(lhs_trans, rhs_trans, window_strides, padding)
  return tuple(int(d) for d in np.take(out_trans, np.argsort(out_perm)))


@export
def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding, dimension_numbers):
  """The output shape of ``conv_transpose`` in the output layout."""
  lhs_perm, rhs_perm, out_perm = conv_general_permutations(dimension_numbers)
  lhs_trans = np.take(lhs_shape, lhs_perm)
  rhs_trans = np.take(rhs_shape, rhs_perm)
  if isinstance(padding, str):
    padding = [_conv_transpose_padding(k, s, padding) for k, s in zip(rhs_trans[2:],
                                                                      window_strides)]
  padding = [int(np.sum(p)) for p in padding]
  unpad = [(i - 1) * s - k + 2 for i, k, s in zip(lhs_trans[2:], rhs_trans[2:], window_strides)]
  out_space = [int(u + p) for u, p in zip(unpad, padding)]
  out_trans = (int(lhs_trans[0]), int(rhs_trans[0])) + tuple(out_space)
  return tuple(int(d) for d in np.take(out_trans, np.argsort(out_perm)))


def _moveaxes(x, src, dst):
  nd = core.get_aval(x).ndim
  src = [s % nd for s in src]
  dst = [d % nd for d in dst]
  perm = [i for i in range(nd) if i not in src]
  for d, s_ in sorted(zip(dst, src)):
    perm.insert(d, s_)
  return shapes.transpose(x, tuple(perm))


@export
def conv_general_dilated_patches(lhs, filter_shape: Sequence[int], window_strides: Sequence[int],
                                 padding, lhs_dilation=None, rhs_dilation=None,
                                 dimension_numbers=None, precision=None,
                                 preferred_element_type=None):
  """The patches a convolution with a ``filter_shape`` filter sees, as
  channels of the output: ``(channels * prod(filter_shape))`` features, in
  channel-major order (JAX's identity-kernel grouped convolution)."""
  lhs = asarray_lax(lhs)
  la = core.get_aval(lhs)
  filter_shape = tuple(operator.index(d) for d in filter_shape)
  dn = conv_dimension_numbers(la.shape, (1, 1) + filter_shape, dimension_numbers)
  lhs_spec, rhs_spec, _ = dn
  size = int(np.prod(filter_shape))
  n_channels = la.shape[lhs_spec[1]]
  eye = lax.convert_element_type(
      lax.eq(shapes.broadcasted_iota(dtypes.int32, (size, size), 0),
             shapes.broadcasted_iota(dtypes.int32, (size, size), 1)), la.dtype)
  rhs = shapes.broadcast_in_dim(eye, (n_channels, size, size), (1, 2))
  rhs = shapes.reshape(rhs, (n_channels * size, 1) + filter_shape)
  rhs = _moveaxes(rhs, (0, 1), (rhs_spec[0], rhs_spec[1]))
  prec = None if precision is None else (precision, matmul.Precision.DEFAULT)
  return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                              rhs_dilation=rhs_dilation, dimension_numbers=dn, precision=prec,
                              feature_group_count=n_channels,
                              preferred_element_type=preferred_element_type)


@export
def conv_general_dilated_local(lhs, rhs, window_strides: Sequence[int], padding,
                               filter_shape: Sequence[int], lhs_dilation=None, rhs_dilation=None,
                               dimension_numbers=None, precision=None):
  """A convolution whose filter is different at each output position (an
  unshared, locally connected layer): the patches of ``lhs`` contracted with
  ``rhs``, which has one filter per output location."""
  lhs = asarray_lax(lhs)
  c = matmul.canonicalize_precision(precision, "conv_general_dilated_local")
  if c is None:
    lhs_precision = None
  elif isinstance(c, tuple) and len(c) == 2:
    lhs_precision = c[0]
  else:
    raise ValueError(f"Unsupported precision for conv_general_dilated_local: {precision}")
  patches = conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                         lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                                         dimension_numbers=dimension_numbers,
                                         precision=lhs_precision)
  _, rhs_spec, out_spec = conv_dimension_numbers(core.get_aval(lhs).shape,
                                                 (1, 1) + tuple(filter_shape), dimension_numbers)
  lhs_b = list(out_spec[2:])
  rhs_b = list(rhs_spec[2:])
  rhs_b = [rhs_b[i] for i in sorted(range(len(rhs_b)), key=lambda k: lhs_b[k])]
  lhs_b = sorted(lhs_b)
  dn = (([out_spec[1]], [rhs_spec[1]]), (lhs_b, rhs_b))
  out = matmul.dot_general(patches, rhs, dn, precision=precision)
  return _moveaxes(out, (-2, -1), (out_spec[0], out_spec[1]))
