"""lax functions built from the other lax modules' primitives: shape helpers
(broadcast_shapes, broadcast_to_rank, broadcast_like, collapse, tile, stack,
unstack, split, index_take), arithmetic helpers (reciprocal, mulhi,
reduce_precision), approximate top-k (exact on CPU, as in JAX), tokens,
``platform_dependent``, ``with_sharding_constraint``, ``composite``,
``dce_sink``, ``stage``, ``dtype``, ``empty`` and ``shape_as_value``.

They are composites: they add no primitive (no Rust kernel), and their
derivatives, batching and lowering come from the primitives they use.
"""
from __future__ import annotations

import functools
import math
import operator
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes, tree_util
from rjax._src.base import errors as base_errors
from rjax._src.interpreters import batching
from rjax._src.lax import lax, reductions, shapes, slicing
from rjax._src.lax.control_flow import loops
from rjax._src.lax.utils import _scalar_like, asarray_lax, broadcasting_shape, export
from rjax._src.runtime.array import Array


def _aval(x):
  return core.get_aval(x)


def _axis(axis, ndim, name):
  axis = operator.index(axis)
  if not -ndim <= axis < ndim:
    raise ValueError(f"{name}: axis {axis} is out of bounds for array of dimension {ndim}")
  return axis % ndim


# ---------------------------------------------------------------------------
# Shapes


@export
def broadcast_shapes(*shapes_: Sequence[int]) -> tuple[int, ...]:
  """The NumPy-broadcast shape of ``shapes_`` (ValueError if incompatible)."""
  shapes_ = [tuple(operator.index(d) for d in s) for s in shapes_]
  if not shapes_:
    return ()
  nd = max(len(s) for s in shapes_)
  padded = [(1,) * (nd - len(s)) + s for s in shapes_]
  out = []
  for ds in zip(*padded):
    big = {d for d in ds if d != 1}
    if len(big) > 1:
      raise ValueError(f"Incompatible shapes for broadcasting: shapes={list(shapes_)}")
    out.append(big.pop() if big else 1)
  return tuple(out)


@export
def broadcast_to_rank(x, rank: int):
  """``x`` with leading size-1 dimensions added up to ``rank``."""
  x = asarray_lax(x)
  nd = _aval(x).ndim
  if nd == rank:
    return x
  return shapes.broadcast(x, (1,) * (rank - nd))


@export
def broadcast_like(arr, like_arr):
  """``arr`` broadcast (NumPy rules) to the shape of ``like_arr``."""
  arr = asarray_lax(arr)
  shape = _aval(like_arr).shape if hasattr(like_arr, "aval") or isinstance(like_arr, Array) \
      else np.shape(like_arr)
  s = _aval(arr).shape
  if broadcast_shapes(s, shape) != tuple(shape):
    raise ValueError(f"broadcast_like: cannot broadcast shape {s} to {tuple(shape)}")
  nd = len(shape)
  return shapes.broadcast_in_dim(arr, tuple(shape), tuple(range(nd - len(s), nd)))


@export
def collapse(operand, start_dimension: int, stop_dimension: int | None = None):
  """Merge dimensions ``start_dimension:stop_dimension`` into one."""
  operand = asarray_lax(operand)
  shape = _aval(operand).shape
  lo, hi, _ = slice(start_dimension, stop_dimension).indices(len(shape))
  if hi < lo:
    raise ValueError(f"Invalid dimension range passed to collapse: "
                     f"{shape}[{start_dimension}:{stop_dimension}]")
  size = math.prod(shape[lo:hi])
  return shapes.reshape(operand, shape[:lo] + (size,) + shape[hi:])


@export
def tile(operand, reps: Sequence[int]):
  """``operand`` repeated ``reps[i]`` times along dimension ``i`` (one entry per dim)."""
  operand = asarray_lax(operand)
  sh = _aval(operand).shape
  reps = tuple(operator.index(r) for r in reps)
  if len(reps) != len(sh):
    raise ValueError(f"tile: reps {reps} must have one entry per operand dimension "
                     f"(operand shape {sh})")
  if any(r < 0 for r in reps):
    raise ValueError(f"tile: reps must be non-negative, got {reps}")
  big = shapes.broadcast_in_dim(operand, tuple(x for r, n in zip(reps, sh) for x in (r, n)),
                                tuple(range(1, 2 * len(sh), 2)))
  return shapes.reshape(big, tuple(r * n for r, n in zip(reps, sh)))


@export
def stack(operands: Sequence, axis: int = 0):
  """Join arrays of one shape along a new axis."""
  arrays = [asarray_lax(op) for op in operands]
  if not arrays:
    raise ValueError("stack: need at least one operand")
  axis = _axis(axis, _aval(arrays[0]).ndim + 1, "stack")
  return shapes.concatenate([shapes.expand_dims(a, (axis,)) for a in arrays], axis)


@export
def unstack(x, axis: int = 0) -> tuple:
  """The slices of ``x`` along ``axis``."""
  x = asarray_lax(x)
  axis = _axis(axis, _aval(x).ndim, "unstack")
  return tuple(slicing.index_in_dim(x, i, axis, keepdims=False)
               for i in range(_aval(x).shape[axis]))


@export
def split(operand, sizes: Sequence[int], axis: int = 0) -> Sequence:
  """Split ``operand`` along ``axis`` into pieces of ``sizes`` (summing to its size)."""
  operand = asarray_lax(operand)
  axis = _axis(axis, _aval(operand).ndim, "split")
  sizes = tuple(operator.index(s) for s in sizes)
  n = _aval(operand).shape[axis]
  if any(s < 0 for s in sizes) or sum(sizes) != n:
    raise ValueError(f"split: sizes {sizes} must be nonnegative and sum to the size of "
                     f"axis {axis} ({n})")
  out, start = [], 0
  for s in sizes:
    out.append(slicing.slice_in_dim(operand, start, start + s, 1, axis))
    start += s
  return out


@export
def index_take(src, idxs, axes: Sequence[int]):
  """``src`` gathered at the index arrays ``idxs`` (one per entry of ``axes``):
  the result has the indices' leading dimension then ``src``'s other dimensions."""
  src = asarray_lax(src)
  idxs = [asarray_lax(i) for i in idxs]
  axes = tuple(operator.index(a) for a in axes)
  if len(idxs) != len(axes):
    raise ValueError(f"index_take: {len(idxs)} index arrays for {len(axes)} axes")
  idx = stack([lax.convert_element_type(i, dtypes.int32) for i in idxs], axis=1)
  n = _aval(idx).shape[0]
  sh = _aval(src).shape
  sizes = tuple(1 if d in axes else s for d, s in enumerate(sh))
  offset = tuple(range(1, len(sh) - len(axes) + 1))
  dn = slicing.GatherDimensionNumbers(offset_dims=offset, collapsed_slice_dims=tuple(sorted(axes)),
                                      start_index_map=axes)
  out = slicing.gather(src, idx, dn, sizes, mode=slicing.GatherScatterMode.PROMISE_IN_BOUNDS)
  return shapes.reshape(out, (n,) + tuple(s for d, s in enumerate(sh) if d not in axes))


# ---------------------------------------------------------------------------
# Arithmetic


@export
def reciprocal(x):
  """``1 / x`` (JAX's ``integer_pow(x, -1)``: integers are a TypeError)."""
  x = asarray_lax(x)
  if not dtypes.is_float(_aval(x).dtype):
    raise TypeError(f"reciprocal: Integers cannot be raised to negative powers, got "
                    f"{_aval(x).str_short()}")
  return lax.integer_pow(x, -1)


def _uint_of(dt) -> np.dtype:
  return np.dtype({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[np.dtype(dt).itemsize])


@export
def mulhi(x, y, /):
  """The high half of the bits of ``x * y`` (the full double-width product),
  for signed and unsigned integers."""
  x, y = lax._lax_binary_args(x, y)
  dt = _aval(x).dtype
  if dt != _aval(y).dtype or not dtypes.is_int(dt):
    raise TypeError(f"mulhi requires integer arguments of one dtype, got {_aval(x).dtype} and "
                    f"{_aval(y).dtype}")
  shape = broadcasting_shape("mulhi", [_aval(x).shape, _aval(y).shape])
  x = shapes.broadcast_in_dim(x, shape, ()) if _aval(x).shape != shape else x
  y = shapes.broadcast_in_dim(y, shape, ()) if _aval(y).shape != shape else y
  nbits = dt.itemsize * 8
  udt = _uint_of(dt)
  ux, uy = lax.bitcast_convert_type(x, udt), lax.bitcast_convert_type(y, udt)
  half = nbits // 2
  mask = _scalar_like((1 << half) - 1, ux)
  sh = _scalar_like(half, ux)
  x0, x1 = lax.bitwise_and(ux, mask), lax.shift_right_logical(ux, sh)
  y0, y1 = lax.bitwise_and(uy, mask), lax.shift_right_logical(uy, sh)
  p00, p01, p10, p11 = lax.mul(x0, y0), lax.mul(x0, y1), lax.mul(x1, y0), lax.mul(x1, y1)
  mid = lax.add(lax.add(lax.shift_right_logical(p00, sh), lax.bitwise_and(p01, mask)),
                lax.bitwise_and(p10, mask))
  hi = lax.add(lax.add(lax.add(p11, lax.shift_right_logical(p01, sh)),
                       lax.shift_right_logical(p10, sh)), lax.shift_right_logical(mid, sh))
  if dtypes.is_signed(dt):
    zero = _scalar_like(0, x)
    hi = lax.sub(hi, lax.select(lax.lt(x, zero), uy, lax.sub(uy, uy)))
    hi = lax.sub(hi, lax.select(lax.lt(y, zero), ux, lax.sub(ux, ux)))
    return lax.bitcast_convert_type(hi, dt)
  return hi


@export
def reduce_precision(operand, exponent_bits: int, mantissa_bits: int):
  """Round ``operand`` to a float format with ``exponent_bits`` and
  ``mantissa_bits`` (ties to even; overflow to inf and underflow below the
  smallest normal to a signed zero, as XLA's ReducePrecision), keeping its
  dtype. Built from bitcasts and integer operations."""
  x = asarray_lax(operand)
  dt = _aval(x).dtype
  if not dtypes.is_float(dt):
    raise TypeError(f"reduce_precision: operand must be a float, got {dt}")
  exponent_bits, mantissa_bits = operator.index(exponent_bits), operator.index(mantissa_bits)
  if exponent_bits < 1 or mantissa_bits < 0:
    raise ValueError(f"reduce_precision: need exponent_bits >= 1 and mantissa_bits >= 0, got "
                     f"{exponent_bits} and {mantissa_bits}")
  info = dtypes.finfo(dt)
  src_m = int(info.nmant)
  src_e = dt.itemsize * 8 - 1 - src_m
  udt = _uint_of(dt)
  bits = lax.bitcast_convert_type(x, udt)

  def c(v):
    return _scalar_like(int(v), bits)

  if mantissa_bits < src_m:
    shift = src_m - mantissa_bits
    last_bit = 1 << shift
    bias = (last_bit >> 1) - 1
    lsb = lax.shift_right_logical(lax.bitwise_and(bits, c(last_bit)), c(shift))
    trunc = ~(last_bit - 1) & ((1 << (dt.itemsize * 8)) - 1)
    bits = lax.bitwise_and(lax.add(bits, lax.add(lsb, c(bias))), c(trunc))
  if exponent_bits < src_e:
    sign_mask = 1 << (dt.itemsize * 8 - 1)
    exp_mask = ((1 << src_e) - 1) << src_m
    exp_bias = (1 << (src_e - 1)) - 1
    red_bias = (1 << (exponent_bits - 1)) - 1
    exp = lax.bitwise_and(bits, c(exp_mask))
    over = lax.gt(exp, c((exp_bias + red_bias) << src_m))
    under = lax.le(exp, c((exp_bias - red_bias) << src_m))
    signed_zero = lax.bitwise_and(bits, c(sign_mask))
    signed_inf = lax.bitwise_or(signed_zero, c(exp_mask))
    bits = lax.select(over, signed_inf, lax.select(under, signed_zero, bits))
  out = lax.bitcast_convert_type(bits, dt)
  if mantissa_bits < src_m:
    out = lax.select(lax.ne(x, x), x, out)   # NaN stays NaN
  return out


# ---------------------------------------------------------------------------
# Approximate top-k: exact on CPU, as in JAX (its CPU fallback sorts)

_TPU_CHUNK, _TPU_LANE = 1024, 128


def _log2_ceil(v: int) -> int:
  return (v - 1).bit_length() if v > 0 else 0


def _approx_output_size(n, rank, k, recall_target, aggregate, size_override):
  """XLA's ApproxTopKReductionOutputSize: how many entries the reduction keeps."""
  if aggregate:
    return k
  tiling = _TPU_CHUNK if rank == 1 else _TPU_LANE
  if n <= tiling:
    return n
  if size_override >= 0 and n > size_override:
    raise ValueError(f"reduction_input_size_override: {size_override} should be greater "
                     f"equals to operands[reduction_dim]: {n}")
  logical = size_override if size_override >= 0 else n
  if k == 1:
    return tiling
  if not 0 < recall_target <= 1:
    raise ValueError("recall_target should range in (0,1]")
  if recall_target == 1:
    return n
  m = min(max(int((1.0 - k) / math.log(recall_target)), tiling), n)
  q = logical // m
  log2_red = q.bit_length() - 1 if q else 0
  if log2_red == 0:
    return n
  log2_red = min(log2_red, _log2_ceil(n // tiling))
  return -(-(-(-n // tiling)) // (1 << log2_red)) * tiling


def _approx_top_k(operand, k, reduction_dimension, recall_target, is_max_k,
                  reduction_input_size_override, aggregate_to_topk, name):
  x = asarray_lax(operand)
  aval = _aval(x)
  k = operator.index(k)
  if k <= 0:
    raise ValueError(f"{name}: k must be positive, got {k}")
  if aval.ndim == 0:
    raise TypeError(f"{name}: operand must have >= 1 dimension, got {aval.shape}")
  dim = _axis(reduction_dimension, aval.ndim, name)
  n = aval.shape[dim]
  if n < k:
    raise ValueError(f"{name}: k must be smaller than the size of reduction_dim {n}, got {k}")
  if not dtypes.is_float(aval.dtype):
    raise ValueError(f"{name}: operand must be a floating type, got {aval.dtype}")
  size = _approx_output_size(n, aval.ndim, k, recall_target, aggregate_to_topk,
                             reduction_input_size_override)
  last = aval.ndim - 1
  moved = shapes.transpose(x, tuple(d for d in range(aval.ndim) if d != dim) + (dim,)) \
      if dim != last else x
  if is_max_k:   # NaN first, ties to the lower index
    vals, idx = reductions.top_k(moved, size)
  else:          # ascending, NaN last, ties to the lower index
    it = shapes.broadcasted_iota(dtypes.int32, _aval(moved).shape, last)
    vals, idx = reductions.sort_key_val(moved, it, dimension=last, is_stable=True)
    vals = slicing.slice_in_dim(vals, 0, size, 1, last)
    idx = slicing.slice_in_dim(idx, 0, size, 1, last)
  if dim != last:
    back = tuple(range(dim)) + (last,) + tuple(range(dim, last))
    vals, idx = shapes.transpose(vals, back), shapes.transpose(idx, back)
  return vals, idx


@export
def approx_max_k(operand, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True):
  """The ``k`` largest values along ``reduction_dimension`` and their indices
  (exact here, as on JAX's CPU backend)."""
  return _approx_top_k(operand, k, reduction_dimension, recall_target, True,
                       reduction_input_size_override, aggregate_to_topk, "approx_max_k")


@export
def approx_min_k(operand, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True):
  """The ``k`` smallest values along ``reduction_dimension`` and their indices
  (exact here, as on JAX's CPU backend)."""
  return _approx_top_k(operand, k, reduction_dimension, recall_target, False,
                       reduction_input_size_override, aggregate_to_topk, "approx_min_k")


# ---------------------------------------------------------------------------
# Tokens: the executor runs a device's work in order, so a token only has to
# carry a data dependency; it is a zero-size bool array.


def _is_token(t) -> bool:
  try:
    a = _aval(t)
  except TypeError:
    return False
  return a.shape == (0,) and a.dtype == dtypes.bool_


@export
def create_token(_=None):
  """A new token (a zero-size value that orders effects by data dependency)."""
  return shapes.full((0,), False, dtypes.bool_)


@export
def after_all(*operands):
  """A token that depends on all the ``operands`` tokens."""
  for t in operands:
    if not _is_token(t):
      raise TypeError(f"after_all: operands must be tokens, got {t!r}")
  if not operands:
    return create_token()
  return shapes.concatenate([asarray_lax(t) for t in operands], 0) if len(operands) > 1 \
      else asarray_lax(operands[0])


# ---------------------------------------------------------------------------
# Staging helpers


@export
def platform_dependent(*args, default: Callable | None = None, **per_platform: Callable):
  """Call the function for the platform rjax runs on (``cpu``), else ``default``."""
  for p in per_platform:
    if p not in ("cpu", "cuda", "rocm", "tpu", "gpu", "metal"):
      raise ValueError(f"platform_dependent: unrecognized platform {p!r}")
  fn = per_platform.get("cpu", default)
  if fn is None:
    raise NotImplementedError(f"platform_dependent: no function for platform 'cpu' and no "
                              f"default (given: {sorted(per_platform)})")
  return fn(*args)


_SHARDING_TYPES = ("PartitionSpec", "NamedSharding", "SingleDeviceSharding", "PositionalSharding",
                   "GSPMDSharding", "PmapSharding")


def _is_sharding(s) -> bool:
  return s is None or hasattr(s, "device_set") or type(s).__name__ in _SHARDING_TYPES


@export
def with_sharding_constraint(x, shardings):
  """On one device a sharding constraint changes nothing: ``x`` is returned
  after checking that ``shardings`` is a sharding (or partition spec, or None)
  or a tree prefix of ``x`` made of them."""
  if not _is_sharding(shardings):
    leaves, tree = tree_util.tree_flatten(shardings, is_leaf=_is_sharding)
    for s in leaves:
      if not _is_sharding(s):
        raise TypeError(f"with_sharding_constraint: shardings must be Sharding, PartitionSpec "
                        f"or None (or a tree of them), got {s!r}")
    try:
      tree.flatten_up_to(x)
    except (ValueError, TypeError) as e:
      raise ValueError(f"with_sharding_constraint: shardings must be a tree prefix of x: "
                       f"{e}") from None
  return tree_util.tree_map(asarray_lax, x)


@export
def composite(decomposition: Callable, name: str, version: int = 0):
  """Mark ``decomposition`` as the composite op ``name``: its semantics are
  the decomposition's (which is what rjax runs)."""
  if not isinstance(name, str):
    raise TypeError(f"composite: name must be a string, got {name!r}")

  @functools.wraps(decomposition)
  def wrapped(*args, **kwargs):
    if any(isinstance(v, core.Tracer) for v in tree_util.tree_leaves(kwargs)):
      raise base_errors.UnexpectedTracerError(
          f"Found a JAX Tracer as an attribute in the decomposition for the composite op "
          f"'{name}'. Values that aren't known at compile time must be passed as arguments.")
    return decomposition(*args, **kwargs)
  return wrapped


@export
def dce_sink(val, *, prevent_mlir_dce: bool = False):
  """Keep ``val`` from being dead-code eliminated (rjax keeps every value a
  program returns; nothing else needs doing). Returns None, as in JAX."""
  tree_util.tree_map(asarray_lax, val)


@export
def stage(x, /):
  """``x`` as a value of the current trace (an array for a Python scalar)."""
  return asarray_lax(x)


@export
def dtype(x: Any) -> np.dtype:
  """The canonical dtype of a value or type (``float64`` is float32 unless x64 is on)."""
  if isinstance(x, (bool, int, float)):
    return dtypes.canonicalize_dtype(dtypes.dtype_and_weak(x)[0])
  dt = getattr(x, "dtype", None)
  return dtypes.canonicalize_dtype(dt if isinstance(dt, np.dtype) else x)


@export
def empty(shape, dtype, *, out_sharding=None):
  """An array of ``shape`` and ``dtype`` whose values are unspecified (zeros here)."""
  return shapes.full(tuple(operator.index(d) for d in shape), 0, dtypes.canonicalize_dtype(dtype))


@export
def shape_as_value(shape: Sequence[int]):
  """A shape as an int32 array (int64 when a dimension needs it)."""
  shape = tuple(operator.index(d) for d in shape)
  dt = np.int64 if any(d >= 2**31 for d in shape) else np.int32
  if not shape:
    return shapes.full((0,), 0, dt)
  return np.asarray(shape, dtype=dt)


# ---------------------------------------------------------------------------
# The generic reduction: any monoid, any number of operands


def _monoid_reducer(computation, inits):
  """The reduce primitive for a known monoid whose (single, concrete, 0-d)
  init value is its identity, as JAX recognises them; else None."""
  if len(inits) != 1:
    return None
  x = inits[0]
  if isinstance(x, core.Tracer) or np.shape(x) != ():
    return None
  val = np.asarray(x)
  dt = _aval(asarray_lax(x)).dtype
  intlike = dt == dtypes.bool_ or dtypes.is_int(dt)
  if computation is lax.add:
    return reductions.reduce_sum if val == 0 else None
  if computation is lax.mul:
    return reductions.reduce_prod if val == 1 else None
  if intlike and computation in (lax.bitwise_or, lax.bitwise_xor):
    ok = val == (False if dt == dtypes.bool_ else 0)
    return (reductions.reduce_or if computation is lax.bitwise_or else reductions.reduce_xor) \
        if ok else None
  if intlike and computation is lax.bitwise_and:
    ident = True if dt == dtypes.bool_ else np.array(-1).astype(dt)
    return reductions.reduce_and if val == ident else None
  if computation in (lax.max, lax.min):
    if dt == dtypes.bool_:
      ident = computation is lax.min
    elif dtypes.is_float(dt):
      ident = -np.inf if computation is lax.max else np.inf
    else:
      info = np.iinfo(dt)
      ident = info.min if computation is lax.max else info.max
    if val == ident:
      return reductions.reduce_max if computation is lax.max else reductions.reduce_min
  return None


@export
def reduce(operands, init_values, computation: Callable, dimensions: Sequence[int],
           out_sharding=None):
  """Reduce ``operands`` (a pytree of arrays of one shape) over
  ``dimensions`` with the monoid ``computation`` and its ``init_values``
  (XLA's Reduce). Known monoids (lax.add, mul, max, min, bitwise and/or/xor
  with their identity) use the reduce primitives; any other computation is
  applied in order, ``acc = computation(acc, x)`` from ``init_values``, as
  XLA's CPU backend does."""
  flat_ops, tree = tree_util.tree_flatten(operands)
  flat_init, init_tree = tree_util.tree_flatten(init_values)
  if tree != init_tree:
    raise ValueError(f"reduce: operands must have the same tree structure as init_values: "
                     f"{tree} vs. {init_tree}")
  if not flat_ops:
    raise ValueError("reduce: need at least one operand")
  flat_ops = [asarray_lax(o) for o in flat_ops]
  shape = _aval(flat_ops[0]).shape
  if any(_aval(o).shape != shape for o in flat_ops):
    raise ValueError(f"reduce: operands must have one shape, got "
                     f"{[_aval(o).shape for o in flat_ops]}")
  nd = len(shape)
  dims = tuple(operator.index(d) for d in dimensions)
  if any(not 0 <= d < nd for d in dims) or len(set(dims)) != len(dims):
    raise ValueError(f"reduce: dimensions {dims} must be unique and within the operand rank "
                     f"{nd}")
  red = _monoid_reducer(computation, flat_init)
  if red is not None:
    init = asarray_lax(flat_init[0])
    weak = _aval(flat_ops[0]).weak_type and _aval(init).weak_type
    out = red(flat_ops[0], dims) if dims else flat_ops[0]
    if _aval(out).dtype != _aval(init).dtype:
      raise TypeError(f"reduce: operand dtype {_aval(out).dtype} does not match init value dtype "
                      f"{_aval(init).dtype}")
    return tree_util.tree_unflatten(tree, [lax.convert_element_type(out, _aval(out).dtype,
                                                                    weak_type=weak)])
  inits = []
  for o, i in zip(flat_ops, flat_init):
    i = asarray_lax(i) if not isinstance(i, (bool, int, float)) else _scalar_like(i, o)
    if _aval(i).shape != ():
      raise TypeError(f"reduce: init values must be scalars, got shape {_aval(i).shape}")
    if _aval(i).dtype != _aval(o).dtype:
      raise TypeError(f"reduce: operand dtype {_aval(o).dtype} does not match init value dtype "
                      f"{_aval(i).dtype}")
    inits.append(i)
  keep = tuple(d for d in range(nd) if d not in dims)
  rest = tuple(shape[d] for d in keep)
  n = math.prod(shape[d] for d in dims)
  r = math.prod(rest)

  def moved(o):
    o = shapes.transpose(o, dims + keep) if dims + keep != tuple(range(nd)) else o
    return shapes.reshape(o, (n, r))

  xs = [moved(o) for o in flat_ops]

  def combine(acc, x):   # on scalars, vectorized over the kept elements
    out = computation(tree_util.tree_unflatten(tree, list(acc)),
                      tree_util.tree_unflatten(tree, list(x)))
    leaves, out_tree = tree_util.tree_flatten(out)
    if out_tree != tree:
      raise TypeError(f"reduce: computation must return the operands' structure {tree}, got "
                      f"{out_tree}")
    return [lax.convert_element_type(asarray_lax(v), _aval(a).dtype) for v, a in zip(leaves, acc)]

  vcombine = batching.vmap(lambda acc, x: combine(acc, x), in_axes=(0, 0))
  acc0 = [shapes.broadcast_in_dim(i, (r,), ()) for i in inits]
  if n:
    acc, _ = loops.scan(lambda acc, x: (vcombine(acc, x), None), acc0, xs)
  else:
    acc = acc0
  outs = [shapes.reshape(a, rest) for a in acc]
  return tree_util.tree_unflatten(tree, outs)


# ---------------------------------------------------------------------------
# scatter_sub and scatter_apply


@export
def scatter_sub(operand, scatter_indices, updates, dimension_numbers, *,
                indices_are_sorted: bool = False, unique_indices: bool = False, mode=None):
  """``operand`` minus the ``updates`` scattered to ``scatter_indices``
  (a scatter-add of the negated updates: the same IEEE results)."""
  updates = asarray_lax(updates)
  return slicing.scatter_add(operand, scatter_indices, lax.neg(updates), dimension_numbers,
                             indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices, mode=mode)


@export
def scatter_apply(operand, scatter_indices, func: Callable, dimension_numbers, *,
                  update_shape: Sequence[int] = (), indices_are_sorted: bool = False,
                  unique_indices: bool = False, mode=None):
  """``operand`` with ``func`` applied to each element at the scattered
  locations (``update_shape`` is the shape the updates would have). A
  location indexed twice gets ``func`` twice, as with XLA's scatter."""
  operand = asarray_lax(operand)
  idx = asarray_lax(scatter_indices)
  dn = slicing.ScatterDimensionNumbers(*dimension_numbers)
  update_shape = tuple(operator.index(d) for d in update_shape)
  mode = slicing.GatherScatterMode.from_any(mode)
  oa = _aval(operand)
  fn = func

  def elementwise(v):
    flat = shapes.reshape(v, (_aval(v).size,))
    out = batching.vmap(lambda s: lax.convert_element_type(asarray_lax(fn(s)), oa.dtype),
                        in_axes=0)(flat) if _aval(v).size else flat
    return shapes.reshape(out, _aval(v).shape)

  gdn = slicing._scatter_to_gather_dn(dn)
  sizes = slicing._scatter_slice_sizes(oa.shape, update_shape, dn)
  if unique_indices:
    cur = slicing.gather(operand, idx, gdn, sizes, mode=mode, fill_value=None)
    if _aval(cur).shape != update_shape:
      raise TypeError(f"scatter_apply: update_shape {update_shape} does not match the scattered "
                      f"windows' shape {_aval(cur).shape}")
    return slicing.scatter(operand, idx, elementwise(cur), dn, indices_are_sorted=True,
                           unique_indices=True, mode=mode)
  ishape = _aval(idx).shape
  batch = ishape[:-1]
  count = math.prod(batch)
  flat_idx = shapes.reshape(idx, (count, ishape[-1]))
  window = tuple(update_shape[d] for d in dn.update_window_dims)
  one_shape = (1,) + window
  one_dn = slicing.ScatterDimensionNumbers(
      update_window_dims=tuple(range(1, 1 + len(window))),
      inserted_window_dims=dn.inserted_window_dims,
      scatter_dims_to_operand_dims=dn.scatter_dims_to_operand_dims)
  one_gdn = slicing._scatter_to_gather_dn(one_dn)
  if count == 0:
    return operand

  def step(x, i):
    ind = shapes.reshape(slicing.dynamic_index_in_dim(flat_idx, i, 0, keepdims=False),
                         (1, ishape[-1]))
    cur = slicing.gather(x, ind, one_gdn, sizes, mode=mode, fill_value=None)
    if _aval(cur).shape != one_shape:
      raise TypeError(f"scatter_apply: update_shape {update_shape} does not match the "
                      f"scattered windows' shape")
    return slicing.scatter(x, ind, elementwise(cur), one_dn, indices_are_sorted=True,
                           unique_indices=True, mode=mode), None

  out, _ = loops.scan(step, operand, shapes.iota(dtypes.int32, count))
  return out
