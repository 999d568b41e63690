"""Collectives over named axes: ``psum``, ``pmean``, ``pmax``, ``pmin``,
``all_gather``, ``psum_scatter``, ``ppermute``, ``axis_index``.

A named axis is brought into scope by ``vmap(..., axis_name=...)`` (and by
``pmap`` later): ``core.extend_axis_env``. Under vmap each collective is a
batching rule over the batch dimension (``batching.collective_batchers``): a
psum is a reduce_sum over the batch dim whose result is the same for every
member (unbatched). A collective whose axis is not the innermost vmap's is
bound again on the enclosing trace, so nested vmaps resolve each name where it
was bound. Outside any such axis a collective raises ``NameError``.

These primitives have no single-device lowering: their meaning is the axis
they reduce over. They live outside ``core.primitives`` (whose members each
lower to one Rust op); ``COLLECTIVES`` lists them for the rule-coverage test.
Inside a pmap each collective is one Rust op that meets the other replicas
(rust/src/ops/collective.rs); every collective left in a pmap's jaxpr names
the pmap's axis (vmap resolves its own names while tracing).

Differentiation: psum, all_gather, psum_scatter and ppermute are linear; the
transpose of a sum over members is a sum over members (JAX's convention),
all_gather and psum_scatter transpose to each other, a permutation to its
inverse. pmax/pmin split the gradient among the members that attain the
extremum (as reduce_max does among ties).
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes, tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lowering
# The batching rules reduce, reshape, gather and select: the lax modules
# import each other as modules.
from rjax._src.lax import lax, reductions, shapes, slicing
from rjax._src.lax.utils import _scalar_like, export
from rjax._src.runtime.array import from_numpy, to_array


def _names(axis_name) -> tuple:
  return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _collective(name: str, abstract_eval) -> core.Primitive:
  p = core.Primitive(name)
  p.def_abstract_eval(abstract_eval)

  def impl(*args, **params):
    # Reached only when no transformation in scope binds the axis.
    for n in _names(params.get("axes", params.get("axis_name"))):
      core.axis_size(n)
    raise NameError(f"{name}: unbound axis name {params}")

  p.def_impl(impl)
  COLLECTIVES.append(p)
  return p


COLLECTIVES: list[core.Primitive] = []


def _same_aval(x, **_):
  return x


def _no_params(avals_in, avals_out, **_):
  return {}


@export
def axis_size(axis_name) -> int:
  """The size of a named axis (a product for a tuple of names)."""
  return math.prod(core.axis_size(n) for n in _names(axis_name))


def _arr(x):
  return x if isinstance(x, core.Tracer) else to_array(x)


def _check_groups(fn, axis_index_groups):
  if axis_index_groups is not None:
    raise NotImplementedError(f"{fn}: axis_index_groups is not supported")


# ---------------------------------------------------------------------------
# psum (and pmean on it)


def _reducer_batch(prim, reduce_name: str, unbatched_fn):
  """psum/pmax/pmin: over this trace's axis, reduce the batch dim (the
  result is the same for every member: unbatched); other names pass up."""
  def rule(name, size, vals, dims, *, axes):
    (x,), (d,) = vals, dims
    if name not in axes:
      return prim.bind(x, axes=axes), d
    out = unbatched_fn(x, size) if d is None else getattr(reductions, reduce_name)(x, (d,))
    rest = tuple(a for a in axes if a != name)
    return (prim.bind(out, axes=rest) if rest else out), None
  return rule


def _times_size(x, size):
  return lax.mul(x, _scalar_like(size, x))


def _psum_transpose(ct, x, *, axes):
  if isinstance(ct, ad.Zero):
    return [None]
  return [psum_p.bind(ct, axes=axes)]


psum_p = _collective("psum", _same_aval)
batching.collective_batchers[psum_p] = _reducer_batch(psum_p, "reduce_sum", _times_size)
ad.deflinear(psum_p, _psum_transpose)
lowering.register_standard(psum_p, param_fn=_no_params)


@export
def psum(x, axis_name, *, axis_index_groups=None):
  """Sum ``x`` (a pytree) over the named axis: every member gets the total."""
  _check_groups("psum", axis_index_groups)
  names = _names(axis_name)
  size = axis_size(names)

  def one(leaf):
    if not isinstance(leaf, core.Tracer):
      # A value not mapped over the axis: every member holds the same one.
      leaf = to_array(leaf)
      if core.get_aval(leaf).dtype == np.bool_:
        leaf = lax.convert_element_type(leaf, np.int32)
      return lax.mul(leaf, _scalar_like(size, leaf))
    if core.get_aval(leaf).dtype == np.bool_:
      leaf = lax.convert_element_type(leaf, np.int32)
    return psum_p.bind(leaf, axes=names)

  return tree_util.tree_map(one, x)


@export
def pmean(x, axis_name, *, axis_index_groups=None):
  """Mean of ``x`` over the named axis."""
  _check_groups("pmean", axis_index_groups)
  size = axis_size(axis_name)
  return tree_util.tree_map(lambda s: _true_divide(s, size), psum(x, axis_name))


def _true_divide(s, size: int):
  """``jnp.true_divide(s, size)`` of a psum result ``s``: integers become
  float first (``dtypes.to_inexact_dtype``); the result is weak if ``s`` is."""
  aval = core.get_aval(s)
  if not dtypes.is_float(aval.dtype):
    s = lax.convert_element_type(s, dtypes.to_inexact_dtype(aval.dtype),
                                 weak_type=aval.weak_type)
  return lax.div(s, _scalar_like(size, s))


# ---------------------------------------------------------------------------
# pmax and pmin


def _extremum_jvp(prim):
  def rule(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    ans = prim.bind(x, axes=axes)
    if isinstance(t, ad.Zero):
      return ans, ad.Zero(ad.tangent_aval(core.get_aval(ans)))
    hit = lax.convert_element_type(lax.eq(x, ans), core.get_aval(t).dtype)
    return ans, lax.div(psum_p.bind(lax.mul(t, hit), axes=axes), psum_p.bind(hit, axes=axes))
  return rule


def _extremum(p, fn):
  def f(x, axis_name, *, axis_index_groups=None):
    _check_groups(fn, axis_index_groups)
    names = _names(axis_name)
    axis_size(names)
    return tree_util.tree_map(lambda l: p.bind(_arr(l), axes=names), x)
  f.__name__ = fn
  f.__doc__ = f"{fn[1:].capitalize()}imum of ``x`` over the named axis."
  return f


pmax_p = _collective("pmax", _same_aval)
batching.collective_batchers[pmax_p] = _reducer_batch(pmax_p, "reduce_max", lambda x, n: x)
ad.primitive_jvps[pmax_p] = _extremum_jvp(pmax_p)
lowering.register_standard(pmax_p, param_fn=_no_params)
pmax = export(_extremum(pmax_p, "pmax"))

pmin_p = _collective("pmin", _same_aval)
batching.collective_batchers[pmin_p] = _reducer_batch(pmin_p, "reduce_min", lambda x, n: x)
ad.primitive_jvps[pmin_p] = _extremum_jvp(pmin_p)
lowering.register_standard(pmin_p, param_fn=_no_params)
pmin = export(_extremum(pmin_p, "pmin"))


# ---------------------------------------------------------------------------
# all_gather


def _all_gather_abstract_eval(x, *, axis_name, axis, tiled, axis_size):
  shape = list(x.shape)
  if tiled:
    shape[axis] *= axis_size
  else:
    shape.insert(axis, axis_size)
  return x.update(shape=tuple(shape), weak_type=False)


def _all_gather_batch(name, size, vals, dims, *, axis_name, axis, tiled, axis_size):
  (x,), (d,) = vals, dims
  if axis_name != name:
    if d is None:
      return all_gather_p.bind(x, axis_name=axis_name, axis=axis, tiled=tiled,
                               axis_size=axis_size), None
    x = batching.moveaxis(x, d, 0)
    return all_gather_p.bind(x, axis_name=axis_name, axis=axis + 1, tiled=tiled,
                             axis_size=axis_size), 0
  y = batching.matchaxis(x, d, axis, size)
  if tiled:
    s = core.get_aval(y).shape
    y = shapes.reshape(y, s[:axis] + (s[axis] * s[axis + 1],) + s[axis + 2:])
  return y, None


def _all_gather_transpose(ct, x, *, axis_name, axis, tiled, axis_size):
  if isinstance(ct, ad.Zero):
    return [None]
  return [psum_scatter_p.bind(ct, axis_name=axis_name, scatter_dimension=axis, tiled=tiled,
                              axis_size=axis_size)]


all_gather_p = _collective("all_gather", _all_gather_abstract_eval)
batching.collective_batchers[all_gather_p] = _all_gather_batch
ad.deflinear(all_gather_p, _all_gather_transpose)
lowering.register_standard(
    all_gather_p, param_fn=lambda avals_in, avals_out, *, axis, **_: {"axis": axis})


@export
def all_gather(x, axis_name, *, axis_index_groups=None, axis: int = 0, tiled: bool = False):
  """Every member gets all members' ``x`` stacked (or, ``tiled``, concatenated)
  along ``axis``."""
  _check_groups("all_gather", axis_index_groups)
  size = axis_size(axis_name)
  def one(leaf):
    leaf = _arr(leaf)
    nd = core.get_aval(leaf).ndim
    ax = axis + (nd + (0 if tiled else 1)) if axis < 0 else axis
    if not 0 <= ax <= nd - (1 if tiled else 0):
      raise ValueError(f"all_gather: axis {axis} is out of bounds for rank {nd}")
    return all_gather_p.bind(leaf, axis_name=axis_name, axis=ax, tiled=tiled, axis_size=size)

  return tree_util.tree_map(one, x)


# ---------------------------------------------------------------------------
# psum_scatter


def _psum_scatter_abstract_eval(x, *, axis_name, scatter_dimension, tiled, axis_size):
  shape = list(x.shape)
  if tiled:
    shape[scatter_dimension] //= axis_size
  else:
    del shape[scatter_dimension]
  return x.update(shape=tuple(shape), weak_type=False)


def _psum_scatter_batch(name, size, vals, dims, *, axis_name, scatter_dimension, tiled,
                        axis_size):
  (x,), (d,) = vals, dims
  if axis_name != name:
    if d is None:
      return psum_scatter_p.bind(x, axis_name=axis_name, scatter_dimension=scatter_dimension,
                                 tiled=tiled, axis_size=axis_size), None
    x = batching.moveaxis(x, d, 0)
    return psum_scatter_p.bind(x, axis_name=axis_name, scatter_dimension=scatter_dimension + 1,
                               tiled=tiled, axis_size=axis_size), 0
  y = _times_size(x, size) if d is None else reductions.reduce_sum(x, (d,))
  s = scatter_dimension
  if tiled:
    shp = core.get_aval(y).shape
    y = shapes.reshape(y, shp[:s] + (size, shp[s] // size) + shp[s + 1:])
  return y, s


def _psum_scatter_transpose(ct, x, *, axis_name, scatter_dimension, tiled, axis_size):
  if isinstance(ct, ad.Zero):
    return [None]
  return [all_gather_p.bind(ct, axis_name=axis_name, axis=scatter_dimension, tiled=tiled,
                            axis_size=axis_size)]


psum_scatter_p = _collective("psum_scatter", _psum_scatter_abstract_eval)
batching.collective_batchers[psum_scatter_p] = _psum_scatter_batch
ad.deflinear(psum_scatter_p, _psum_scatter_transpose)
lowering.register_standard(
    psum_scatter_p, param_fn=lambda avals_in, avals_out, *, scatter_dimension, tiled, **_:
    {"scatter_dimension": scatter_dimension, "tiled": tiled})


@export
def psum_scatter(x, axis_name, *, scatter_dimension: int = 0, axis_index_groups=None,
                 tiled: bool = False):
  """Sum over the named axis, member ``i`` keeping block ``i`` of
  ``scatter_dimension`` (the transpose of ``all_gather``)."""
  _check_groups("psum_scatter", axis_index_groups)
  size = axis_size(axis_name)
  def one(leaf):
    leaf = _arr(leaf)
    aval = core.get_aval(leaf)
    d = scatter_dimension % max(aval.ndim, 1)
    n = aval.shape[d] if aval.ndim else None
    if n is None or (n != size if not tiled else n % size):
      raise ValueError(f"psum_scatter: dimension {scatter_dimension} of an operand of shape "
                       f"{aval.shape} must {'be divisible by' if tiled else 'equal'} the size "
                       f"{size} of axis {axis_name!r}")
    return psum_scatter_p.bind(leaf, axis_name=axis_name, scatter_dimension=d, tiled=tiled,
                               axis_size=size)

  return tree_util.tree_map(one, x)


# ---------------------------------------------------------------------------
# ppermute (and pshuffle on it)


def _ppermute_batch(name, size, vals, dims, *, axis_name, perm):
  (x,), (d,) = vals, dims
  if axis_name != name:
    return ppermute_p.bind(x, axis_name=axis_name, perm=perm), d
  src_of = np.full(size, -1, np.int64)
  for s, t in perm:
    src_of[t] = s
  recv = src_of >= 0
  if d is None:
    if recv.all():
      return x, None
    x, d = batching.bdim_at_front(x, None, size), 0
  # y = x[..., src_of[i], ...] along d (jnp.take's gather; every index is in bounds)
  sh = core.get_aval(x).shape
  dnums = slicing.GatherDimensionNumbers(
      offset_dims=tuple(range(d)) + tuple(range(d + 1, len(sh))), collapsed_slice_dims=(d,),
      start_index_map=(d,))
  idx = np.where(recv, src_of, 0).astype(np.int32)[:, None]
  y = slicing.gather(x, idx, dnums, sh[:d] + (1,) + sh[d + 1:],
                     mode=slicing.GatherScatterMode.FILL_OR_DROP, fill_value=None,
                     unique_indices=False, indices_are_sorted=False)
  if not recv.all():
    aval = core.get_aval(y)
    shape = [1] * aval.ndim
    shape[d] = size
    mask = from_numpy(recv.reshape(shape))
    y = lax.select_n(shapes.broadcast_in_dim(mask, aval.shape, tuple(range(aval.ndim))),
                     shapes.full_like(y, 0), y)
  return y, d


def _ppermute_transpose(ct, x, *, axis_name, perm):
  if isinstance(ct, ad.Zero):
    return [None]
  return [ppermute_p.bind(ct, axis_name=axis_name, perm=tuple((d, s) for s, d in perm))]


ppermute_p = _collective("ppermute", _same_aval)
batching.collective_batchers[ppermute_p] = _ppermute_batch
ad.deflinear(ppermute_p, _ppermute_transpose)
lowering.register_standard(
    ppermute_p, param_fn=lambda avals_in, avals_out, *, perm, **_:
    {"perm": [list(p) for p in perm]})


@export
def ppermute(x, axis_name, perm: Sequence[tuple[int, int]]):
  """Member ``src`` sends ``x`` to member ``dst`` for each pair; members that
  receive nothing get zeros."""
  size = axis_size(axis_name)
  perm = tuple((int(s), int(d)) for s, d in perm)
  srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
  if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
    raise ValueError(f"ppermute: sources and destinations must be unique, got {perm}")
  if any(not 0 <= i < size for i in srcs + dsts):
    raise ValueError(f"ppermute: indices must lie in [0, {size}) for axis {axis_name!r}, "
                     f"got {perm}")
  return tree_util.tree_map(lambda l: ppermute_p.bind(_arr(l), axis_name=axis_name,
                                                      perm=perm), x)


@export
def pshuffle(x, axis_name, perm: Sequence[int]):
  """Member ``i`` receives member ``perm[i]``'s ``x`` (a permutation)."""
  size = axis_size(axis_name)
  perm = [int(p) for p in perm]
  if sorted(perm) != list(range(size)):
    raise ValueError(f"pshuffle: perm must be a permutation of range({size}), got {perm}")
  return ppermute(x, axis_name, [(src, dst) for dst, src in enumerate(perm)])


# ---------------------------------------------------------------------------
# axis_index (and all_to_all, written with all_gather and axis_index)


def _axis_index_batch(name, size, vals, dims, *, axis_name):
  if axis_name != name:
    return axis_index_p.bind(axis_name=axis_name), None
  return shapes.iota(np.int32, size), 0


axis_index_p = _collective("axis_index", lambda *, axis_name: ShapedArray((), np.dtype(np.int32)))
batching.collective_batchers[axis_index_p] = _axis_index_batch
ad.defnondiff(axis_index_p)
lowering.register_standard(axis_index_p, param_fn=_no_params)


@export
def axis_index(axis_name):
  """This member's index along the named axis (int32)."""
  axis_size(axis_name)
  return axis_index_p.bind(axis_name=axis_name)


@export
def all_to_all(x, axis_name, split_axis: int, concat_axis: int, *, axis_index_groups=None,
               tiled: bool = False):
  """Split ``x`` along ``split_axis`` into one block per member, send block
  ``j`` to member ``j``, and stack (``tiled``: concatenate) the received
  blocks along ``concat_axis`` in member order (``jax.lax.all_to_all``)."""
  _check_groups("all_to_all", axis_index_groups)
  size = axis_size(axis_name)

  def one(leaf):
    leaf = _arr(leaf)
    aval = core.get_aval(leaf)
    nd = aval.ndim
    sa = split_axis % nd
    if aval.shape[sa] % size:
      raise ValueError(f"all_to_all: dimension {split_axis} of shape {aval.shape} is not "
                       f"divisible by the axis size {size}")
    blk = aval.shape[sa] // size
    if not tiled and blk != 1:
      raise ValueError(f"all_to_all: without tiled, dimension {split_axis} of shape "
                       f"{aval.shape} must equal the axis size {size}")
    # Every member's blocks, then this member's block of each.
    g = all_gather(leaf, axis_name, axis=0)                        # (size, ...)
    mine = slicing.dynamic_slice_in_dim(g, axis_index(axis_name) * blk, blk, sa + 1)
    if not tiled:
      mine = shapes.squeeze(mine, (sa + 1,))                       # (size, ...rest)
      ca = concat_axis % nd
      perm = list(range(1, nd))
      perm.insert(ca, 0)
      return shapes.transpose(mine, perm)
    ca = concat_axis % nd
    perm = list(range(1, nd + 1))
    perm.insert(ca, 0)
    m = shapes.transpose(mine, perm)                               # size next to concat axis
    s = core.get_aval(m).shape
    return shapes.reshape(m, s[:ca] + (s[ca] * s[ca + 1],) + s[ca + 2:])

  return tree_util.tree_map(one, x)


# ---------------------------------------------------------------------------
# pbroadcast, pswapaxes, pcast: built on the collectives above


@export
def pbroadcast(x, axis_name, source):
  """Every member of the named axis gets member ``source``'s ``x``."""
  size = axis_size(axis_name)
  source = operator.index(source)
  if not 0 <= source < size:
    raise ValueError(f"pbroadcast: source {source} is out of range for an axis of size {size}")

  def one(leaf):
    gathered = all_gather(_arr(leaf), axis_name)
    return slicing.index_in_dim(gathered, source, 0, keepdims=False)

  return tree_util.tree_map(one, x)


@export
def pswapaxes(x, axis_name, axis, *, axis_index_groups=None):
  """Swap the mapped axis ``axis_name`` with the array axis ``axis`` (an
  ``all_to_all`` splitting and concatenating along ``axis``)."""
  return all_to_all(x, axis_name, axis, axis, axis_index_groups=axis_index_groups)


_PCAST_TO = ("unreduced", "reduced", "varying")


@export
def pcast(x, axis_name, *, to: str):
  """Change how a value is typed along the named axes (``'varying'``,
  ``'reduced'`` or ``'unreduced'``). rjax does not type values by their
  variation across mapped axes, so the values are unchanged; the arguments
  are checked as in JAX."""
  if isinstance(axis_name, (set, frozenset)):
    raise TypeError(f"axis_name={axis_name!r} must be a tuple or a str. Got {axis_name}")
  if not axis_name:
    return x
  if to not in _PCAST_TO:
    raise ValueError(f"Got unexpected `to` value. Allowed `to` values are: {set(_PCAST_TO)}")
  axis_size(axis_name)   # the names must be bound
  return tree_util.tree_map(_arr, x)
