"""Ragged products (``lax.ragged_dot``, ``lax.ragged_dot_general``) and
``lax.scaled_dot``, as composites of ``dot_general``: one dimension of the
lhs is split into consecutive groups (``group_sizes``); each group is
multiplied with its own slice of the rhs. The groups are made dense with a
mask, as JAX's reference implementation (its CPU lowering) does, so the
numbers are JAX's."""
from __future__ import annotations

import dataclasses
import enum
from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.interpreters import batching
from rjax._src.lax import lax, matmul, reductions, shapes, slicing
from rjax._src.lax.utils import asarray_lax, export


def _aval(x):
  return core.get_aval(x)


@export
@dataclasses.dataclass(frozen=True)
class RaggedDotDimensionNumbers:
  """The dimension numbers of ``ragged_dot_general``: the dot's dimension
  numbers, the lhs ragged dimension and the rhs group dimension (if any)."""
  dot_dimension_numbers: tuple
  lhs_ragged_dimensions: Sequence[int]
  rhs_group_dimensions: Sequence[int]

  def __init__(self, dot_dimension_numbers, lhs_ragged_dimensions, rhs_group_dimensions):
    object.__setattr__(self, "dot_dimension_numbers",
                       tuple(tuple(map(tuple, t)) for t in dot_dimension_numbers))
    object.__setattr__(self, "lhs_ragged_dimensions", tuple(lhs_ragged_dimensions))
    object.__setattr__(self, "rhs_group_dimensions", tuple(rhs_group_dimensions))


class _Mode(enum.Enum):
  NONCONTRACTING = 1
  CONTRACTING = 2
  BATCH = 3


_BASIC = RaggedDotDimensionNumbers((([1], [1]), ([], [])), [0], [0])


def _remaining(n, *removed):
  gone = {d for r in removed for d in r}
  return [i for i in range(n) if i not in gone]


def _mode(lhs_rank, rdn):
  if len(rdn.lhs_ragged_dimensions) != 1:
    raise TypeError("ragged_dot_general expects exactly one lhs ragged dimension.")
  dim = rdn.lhs_ragged_dimensions[0]
  if not 0 <= dim < lhs_rank:
    raise TypeError(f"ragged_dot_general requires lhs ragged dimension numbers to be "
                    f"nonnegative and less than the number of axes of the lhs value, got {dim} "
                    f"for lhs of rank {lhs_rank}.")
  (lc, _), (lb, _) = rdn.dot_dimension_numbers
  if dim in _remaining(lhs_rank, lc, lb):
    return _Mode.NONCONTRACTING, dim
  if dim in lc:
    return _Mode.CONTRACTING, dim
  return _Mode.BATCH, dim


def _prefix_dims(mode, rank, ragged_dim, batch, contract):
  batch, contract = list(batch), list(contract)
  noncontract = _remaining(rank, contract, batch)
  if mode is _Mode.NONCONTRACTING:
    return batch + noncontract[:noncontract.index(ragged_dim)]
  if mode is _Mode.CONTRACTING:
    return batch + contract[:contract.index(ragged_dim)]
  return batch[:batch.index(ragged_dim)]


def _ragged_to_dense(x, gs, dim):
  """``x`` repeated once per group (a new leading dim), zero outside the group
  along ``dim``."""
  shape = _aval(gs).shape + _aval(x).shape
  x = shapes.broadcast_in_dim(x, shape, tuple(range(1, len(shape))))
  it = shapes.broadcasted_iota(_aval(gs).dtype, shape, dim + 1)
  ends = reductions.cumsum(gs, 0)
  starts = shapes.concatenate([shapes.full((1,), 0, _aval(gs).dtype),
                               slicing.slice_in_dim(ends, 0, _aval(gs).shape[0] - 1)], 0)
  ends = shapes.broadcast_in_dim(ends, shape, (0,))
  starts = shapes.broadcast_in_dim(starts, shape, (0,))
  mask = lax.bitwise_and(lax.le(starts, it), lax.lt(it, ends))
  return lax.select(mask, x, shapes.full(shape, 0, _aval(x).dtype))


def _batched_to_dense(dim, *axes):
  if not axes:
    return lambda x, gs: _ragged_to_dense(x, gs, dim)
  ax, *rest = axes
  decr = lambda d: d - 1 if d >= ax else d  # noqa: E731
  return batching.vmap(_batched_to_dense(decr(dim), *[decr(a) for a in rest]), in_axes=(ax, 0))


def _expand(x, dim, gs, *axes):
  dense = _batched_to_dense(dim, *axes)(x, gs)
  incr = [a + 1 for a in axes]
  order = incr + [0] + [d + 1 for d in _remaining(_aval(x).ndim, axes)]
  return shapes.transpose(dense, tuple(int(i) for i in np.argsort(order)))


@export
def ragged_dot_general(lhs, rhs, group_sizes, ragged_dot_dimension_numbers, precision=None,
                       preferred_element_type=None, group_offset=None, out_sharding=None):
  """A dot_general whose lhs ragged dimension is split into groups of
  ``group_sizes``: a non-contracting ragged dimension picks an rhs slice per
  group; a contracting one gives a result per group; a batch one is a plain
  batched product."""
  if group_offset is not None:
    raise NotImplementedError("ragged_dot_general: group_offset is not supported (as in JAX)")
  lhs, rhs, gs = asarray_lax(lhs), asarray_lax(rhs), asarray_lax(group_sizes)
  rdn = ragged_dot_dimension_numbers
  if not isinstance(rdn, RaggedDotDimensionNumbers):
    raise TypeError(f"ragged_dot_general: expected RaggedDotDimensionNumbers, got {rdn!r}")
  if not dtypes.is_int(_aval(gs).dtype):
    raise TypeError(f"ragged_dot_general: group_sizes must be integers, got {_aval(gs).dtype}")
  if _aval(gs).ndim == 0:
    raise TypeError("expected rank of group_sizes to be >=1.")
  la, ra = _aval(lhs), _aval(rhs)
  mode, rdim = _mode(la.ndim, rdn)
  (lc, rc), (lb, rb) = rdn.dot_dimension_numbers
  prefix = _prefix_dims(mode, la.ndim, rdim, lb, lc)
  num_groups = _aval(gs).shape[-1]
  if _aval(gs).ndim != 1:
    want = tuple(la.shape[i] for i in prefix) + (num_groups,)
    if _aval(gs).shape != want:
      raise TypeError(f"expected group_sizes to have shape {want}, got {_aval(gs).shape}.")
  else:
    gs = shapes.broadcast(gs, tuple(la.shape[i] for i in prefix))
  dot = lambda a, b, dn: matmul.dot_general(a, b, dn, precision=precision,  # noqa: E731
                                            preferred_element_type=preferred_element_type)
  rg = rdn.rhs_group_dimensions
  if mode is _Mode.NONCONTRACTING:
    if len(rg) != 1:
      raise TypeError("ragged_dot_general requires exactly one rhs group dimension when lhs "
                      "ragged dimension is noncontracting.")
    if not 0 <= rg[0] < ra.ndim or rg[0] in rb or rg[0] in rc:
      raise TypeError("ragged_dot_general requires the rhs group dimension to be in range and "
                      "distinct from contracting and batch dimensions.")
    if ra.shape[rg[0]] != num_groups:
      raise TypeError(f"expected rhs group dimension size to be {num_groups}, got "
                      f"{ra.shape[rg[0]]}.")
    dense = _expand(lhs, rdim, gs, *prefix)
    return dot(dense, rhs, (([c + 1 for c in lc] + [0], list(rc) + [rg[0]]),
                            ([b + 1 for b in lb], list(rb))))
  if rg:
    raise TypeError("ragged_dot_general requires zero group dimensions in the rhs when lhs "
                    "ragged dimension is contracting or batch.")
  if mode is _Mode.CONTRACTING:
    rr = rc[list(lc).index(rdim)]
    rprefix = _prefix_dims(mode, ra.ndim, rr, rb, rc)
    return dot(_expand(lhs, rdim, gs, *prefix), _expand(rhs, rr, gs, *rprefix),
               (([c + 1 for c in lc], [c + 1 for c in rc]),
                ([0] + [b + 1 for b in lb], [0] + [b + 1 for b in rb])))
  return dot(lhs, rhs, rdn.dot_dimension_numbers)


@export
def ragged_dot(lhs, rhs, group_sizes, precision=None, preferred_element_type=None,
               group_offset=None, out_sharding=None):
  """``lhs`` [m, k] rows in consecutive groups of ``group_sizes`` [g], each
  group times its ``rhs`` [g, k, n] matrix: an [m, n] result (rows past the
  groups are zero)."""
  return ragged_dot_general(lhs, rhs, group_sizes, _BASIC, precision=precision,
                            preferred_element_type=preferred_element_type,
                            group_offset=group_offset)


def _scale_broadcast(scale, shape, contract):
  """A block scale repeated over its blocks of the contracting dimensions."""
  for d in contract:
    sh = _aval(scale).shape
    if sh[d] != shape[d]:
      block = shape[d] // sh[d]
      scale = shapes.broadcast_in_dim(scale, sh[:d + 1] + (block,) + sh[d + 1:],
                                      tuple(range(d + 1)) + tuple(range(d + 2, len(sh) + 1)))
      scale = shapes.reshape(scale, sh[:d] + (sh[d] * block,) + sh[d + 1:])
  return scale


def _check_scale(side, x, scale, contract):
  for i, size in enumerate(_aval(x).shape):
    ss = _aval(scale).shape[i]
    if i in contract:
      if ss == 0 or size % ss:
        raise TypeError(f"{side} contracting dim {i} of size {size} must be divisible by its "
                        f"scale's dim size {ss}.")
      if size // ss < 2:
        raise TypeError(f"The ratio of {side} contracting dim {i} to its scale's dim size "
                        f"({size // ss}) must be at least 2.")
    elif ss != size:
      raise TypeError(f"{side} dim {i} of size {size} does not match scale dim size {ss}.")


@export
def scaled_dot(lhs, rhs, *, lhs_scale=None, rhs_scale=None, dimension_numbers=None,
               preferred_element_type=None):
  """A product of block-scaled operands (``lax.scaled_dot``): each operand and
  its scale (repeated over the blocks of the contracting dimensions) are cast
  to bfloat16 and multiplied, then contracted, with a bfloat16 result unless
  ``preferred_element_type`` says otherwise (JAX's composite)."""
  lhs, rhs = asarray_lax(lhs), asarray_lax(rhs)
  if dimension_numbers is None:
    n = _aval(lhs).ndim
    if n < 2:
      raise TypeError("scaled_dot does not support 0-rank and 1-rank operands.")
    dimension_numbers = (((n - 1,), (n - 2,)), (tuple(range(n - 2)), tuple(range(n - 2))))
  (lc, rc), (lb, rb) = dimension_numbers
  ranks = {_aval(lhs).ndim, _aval(rhs).ndim} | {_aval(asarray_lax(s)).ndim for s in
                                                  (lhs_scale, rhs_scale) if s is not None}
  if len(ranks) != 1:
    raise TypeError("scaled_dot: all input tensors must have the same rank.")
  bf16 = dtypes.bfloat16
  out_dt = dtypes.canonicalize_dtype(preferred_element_type) if preferred_element_type is not None \
      else bf16

  def scaled(x, scale, contract, side):
    x = lax.convert_element_type(x, bf16)
    if scale is None:
      return x
    scale = asarray_lax(scale)
    _check_scale(side, x, scale, contract)
    scale = lax.convert_element_type(_scale_broadcast(scale, _aval(x).shape, contract), bf16)
    return lax.mul(x, scale)

  return matmul.dot_general(scaled(lhs, lhs_scale, lc, "LHS"), scaled(rhs, rhs_scale, rc, "RHS"),
                            ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb))),
                            preferred_element_type=out_dt)
