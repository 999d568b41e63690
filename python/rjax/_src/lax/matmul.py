"""dot_general (and lax.dot and lax.batch_matmul on it), one block with all
its rules: dot_general is bilinear."""
from __future__ import annotations

import enum
from typing import Any, NamedTuple, Sequence, Union

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lowering, reference
# The transposes convert and transpose (elementwise and shape ops): the lax
# modules import each other as modules.
from rjax._src.lax import lax, shapes
from rjax._src.lax.utils import asarray_lax, export, standard_primitive


# ---------------------------------------------------------------------------
# Precision: JAX's Precision / DotAlgorithm / DotAlgorithmPreset, accepted and
# validated as JAX does. The CPU products ignore them (as XLA's CPU backend
# does): every float product is computed in its dtype's full precision.


@export
class Precision(enum.Enum):
  """Precision of a product's operands (``lax.Precision``): DEFAULT, HIGH,
  HIGHEST, or one of their string names ('default', 'bfloat16', 'fastest',
  'high', 'bfloat16_3x', 'tensorfloat32', 'highest', 'float32')."""
  DEFAULT = 0
  HIGH = 1
  HIGHEST = 2

  @classmethod
  def _missing_(cls, value: object):
    return _PRECISION_STRINGS.get(value)

  def __repr__(self) -> str:
    return f"{self.__class__.__name__}.{self.name}"

  def __str__(self) -> str:
    return self.name


_PRECISION_STRINGS: dict[Any, Precision] = {
    "highest": Precision.HIGHEST, "float32": Precision.HIGHEST, "high": Precision.HIGH,
    "bfloat16_3x": Precision.HIGH, "tensorfloat32": Precision.HIGH,
    "default": Precision.DEFAULT, "bfloat16": Precision.DEFAULT, "fastest": Precision.DEFAULT,
    None: Precision.DEFAULT}


@export
class DotAlgorithm(NamedTuple):
  """An explicit dot algorithm: operand and accumulation types and the number
  of primitive products (``lax.DotAlgorithm``)."""
  lhs_precision_type: Any
  rhs_precision_type: Any
  accumulation_type: Any
  lhs_component_count: int = 1
  rhs_component_count: int = 1
  num_primitive_operations: int = 1
  allow_imprecise_accumulation: bool = False


@export
class DotAlgorithmPreset(enum.Enum):
  """Named dot algorithms (``lax.DotAlgorithmPreset``)."""
  DEFAULT = enum.auto()
  ANY_F8_ANY_F8_F32 = enum.auto()
  ANY_F8_ANY_F8_F32_FAST_ACCUM = enum.auto()
  ANY_F8_ANY_F8_ANY = enum.auto()
  ANY_F8_ANY_F8_ANY_FAST_ACCUM = enum.auto()
  F16_F16_F16 = enum.auto()
  F16_F16_F32 = enum.auto()
  BF16_BF16_BF16 = enum.auto()
  BF16_BF16_F32 = enum.auto()
  BF16_BF16_F32_X3 = enum.auto()
  BF16_BF16_F32_X6 = enum.auto()
  BF16_BF16_F32_X9 = enum.auto()
  TF32_TF32_F32 = enum.auto()
  TF32_TF32_F32_X3 = enum.auto()
  F32_F32_F32 = enum.auto()
  F64_F64_F64 = enum.auto()

  def __repr__(self) -> str:
    return f"{self.__class__.__name__}.{self.name}"

  def __str__(self) -> str:
    return self.name

  @property
  def supported_lhs_types(self):
    name = self.name
    if name == "DEFAULT" or name.startswith("ANY_F8"):
      return None
    if name.startswith("F16_"):
      return (np.dtype(np.float16),)
    if name in ("BF16_BF16_BF16", "BF16_BF16_F32"):
      return (dtypes.bfloat16, np.dtype(np.float32))
    if name == "F64_F64_F64":
      return (np.dtype(np.float64),)
    return (np.dtype(np.float32),)

  @property
  def supported_rhs_types(self):
    return self.supported_lhs_types

  @property
  def accumulation_type(self):
    name = self.name
    if name in ("DEFAULT", "ANY_F8_ANY_F8_ANY", "ANY_F8_ANY_F8_ANY_FAST_ACCUM"):
      return None
    return {"F16_F16_F16": np.dtype(np.float16), "BF16_BF16_BF16": dtypes.bfloat16,
            "F64_F64_F64": np.dtype(np.float64)}.get(name, np.dtype(np.float32))


@export
class AccuracyMode(enum.Enum):
  """Accuracy of a transcendental (``lax.AccuracyMode``)."""
  HIGHEST = 1
  DEFAULT = 2


@export
class Tolerance:
  """Requested error bounds of a transcendental (``lax.Tolerance``)."""

  def __init__(self, atol: float = 0.0, rtol: float = 0.0, ulps: int = 0):
    if atol < 0.0 or rtol < 0.0 or ulps < 0.0:
      raise ValueError("Tolerances must be non-negative.")
    if atol == 0.0 and rtol == 0.0 and ulps == 0:
      raise ValueError("At least one of atol, rtol, or ulps must be set.")
    self.atol, self.rtol, self.ulps = atol, rtol, ulps

  def __repr__(self) -> str:
    return f"Tolerance(atol={self.atol}, rtol={self.rtol}, ulps={self.ulps})"


PrecisionLike = Union[None, str, Precision, tuple, DotAlgorithm, DotAlgorithmPreset]
DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]],
                            tuple[Sequence[int], Sequence[int]]]

# The algorithms JAX's CPU backend runs (the others are a ValueError on CPU).
_CPU_ALGORITHMS = frozenset({"DEFAULT", "F16_F16_F16", "F32_F32_F32", "F64_F64_F64",
                             "BF16_BF16_F32", "BF16_BF16_F32_X3", "BF16_BF16_F32_X6"})


def canonicalize_precision(precision, op: str = "dot_general"):
  """``precision`` as None, a pair of :class:`Precision`, a
  :class:`DotAlgorithm` or a :class:`DotAlgorithmPreset` (JAX's
  ``canonicalize_precision``); anything else is a ValueError, and so are the
  algorithms JAX's CPU backend does not run."""
  if precision is None:
    return None
  if isinstance(precision, str):
    if precision in _PRECISION_STRINGS:
      p = Precision(precision)
      return (p, p)
    if precision in DotAlgorithmPreset.__members__:
      return _check_cpu(DotAlgorithmPreset[precision], op)
  elif isinstance(precision, Precision):
    return (precision, precision)
  elif isinstance(precision, DotAlgorithmPreset):
    return _check_cpu(precision, op)
  elif isinstance(precision, DotAlgorithm):
    return _check_cpu(precision, op)
  elif isinstance(precision, (list, tuple)) and len(precision) == 2:
    if all(isinstance(p, Precision) for p in precision):
      return tuple(precision)
    if all(isinstance(p, str) and p in _PRECISION_STRINGS for p in precision):
      return (Precision(precision[0]), Precision(precision[1]))
  raise ValueError(f"{op}: Precision argument must be one of:\n- None,\n- a string in "
                   f"{[k for k in _PRECISION_STRINGS if k is not None]},\n- a lax.Precision "
                   f"value,\n- a tuple of two lax.Precision values or strings,\n- a "
                   f"lax.DotAlgorithmPreset or the name of one of these presets, or\n- a "
                   f"lax.DotAlgorithm value;\nbut got {precision!r}.")


def _check_cpu(alg, op):
  if op != "dot_general":   # (JAX checks the algorithm on CPU for dot_general only)
    return alg
  if not (isinstance(alg, DotAlgorithmPreset) and alg.name in _CPU_ALGORITHMS):
    raise ValueError(f"The precision '{alg}' is not supported by {op} on CPU")
  return alg


def _algorithm_input(x, alg):
  """An operand cast to the algorithm's operand type where it is not one of them."""
  if not isinstance(alg, DotAlgorithmPreset):
    return x
  types = alg.supported_lhs_types
  dt = core.get_aval(x).dtype
  if types is None or dt in types:
    return x
  return lax.convert_element_type(x, types[0])


def _bits(dt: np.dtype) -> int:
  return 1 if dt == dtypes.bool_ else dt.itemsize * 8


def _precision_key(dt: np.dtype) -> tuple:
  """XLA's HigherPrecisionType ordering: float range, float precision, width,
  signedness."""
  if dtypes.is_float(dt):
    fi = dtypes.finfo(dt)
    return (int(fi.maxexp), int(fi.nmant), _bits(dt), True)
  return (-1, -1, _bits(dt), dtypes.is_signed(dt))


def _dot_result_dtype(lhs: np.dtype, rhs: np.dtype, preferred) -> np.dtype:
  res = lhs if _precision_key(lhs) >= _precision_key(rhs) else rhs
  if preferred is None:
    return res
  pref = np.dtype(preferred)
  if not dtypes.is_float(res) and not dtypes.is_float(pref) and _bits(pref) < _bits(res):
    raise TypeError("dot_general: `preferred_element_type` must not be narrower than the "
                    f"original type, got preferred_element_type of {pref.name} for result "
                    f"type of {res.name}.")
  return pref


def _check_dims(name: str, shape: tuple, batch, contract) -> None:
  nd = len(shape)
  if any(not 0 <= d < nd for d in tuple(batch) + tuple(contract)):
    raise TypeError(f"dot_general requires {name} dimension numbers to be nonnegative and less "
                    f"than the number of axes of the {name} value, got {name}_batch of "
                    f"{tuple(batch)} and {name}_contracting of {tuple(contract)} for {name} of "
                    f"rank {nd}")
  for kind, ds in (("batch", batch), ("contracting", contract)):
    if len(set(ds)) != len(ds):
      raise TypeError(f"dot_general requires {name} {kind} dimensions to be distinct, got "
                      f"{name}_{kind} {tuple(ds)}.")
  if set(batch) & set(contract):
    raise TypeError(f"dot_general requires {name} batch and contracting dimensions to be "
                    f"disjoint, got {name}_batch {tuple(batch)} and {name}_contracting "
                    f"{tuple(contract)}.")


def _dot_general_shape(lhs_shape, rhs_shape, dimension_numbers) -> tuple:
  (lc, rc), (lb, rb) = dimension_numbers
  _check_dims("lhs", lhs_shape, lb, lc)
  _check_dims("rhs", rhs_shape, rb, rc)
  if len(lb) != len(rb):
    raise TypeError("dot_general requires equal numbers of lhs_batch and rhs_batch dimensions, "
                    f"got lhs_batch {tuple(lb)} and rhs_batch {tuple(rb)}.")
  if len(lc) != len(rc):
    raise TypeError("dot_general requires equal numbers of lhs_contracting and rhs_contracting "
                    f"dimensions, got {tuple(lc)} and {tuple(rc)}.")
  lbs = tuple(lhs_shape[d] for d in lb)
  rbs = tuple(rhs_shape[d] for d in rb)
  if lbs != rbs:
    raise TypeError("dot_general requires lhs batch dimensions and rhs batch dimensions to have "
                    f"the same shape, got {lbs} and {rbs}.")
  lcs = tuple(lhs_shape[d] for d in lc)
  rcs = tuple(rhs_shape[d] for d in rc)
  if lcs != rcs:
    raise TypeError("dot_general requires contracting dimensions to have the same shape, got "
                    f"{lcs} and {rcs}.")
  lf = [d for d in range(len(lhs_shape)) if d not in lb and d not in lc]
  rf = [d for d in range(len(rhs_shape)) if d not in rb and d not in rc]
  return lbs + tuple(lhs_shape[d] for d in lf) + tuple(rhs_shape[d] for d in rf)


def _dot_general_abstract_eval(lhs, rhs, *, dimension_numbers, precision=None,
                               preferred_element_type=None, out_sharding=None):
  shape = _dot_general_shape(lhs.shape, rhs.shape, dimension_numbers)
  dt = _dot_result_dtype(lhs.dtype, rhs.dtype, preferred_element_type)
  return ShapedArray(shape, dt, lhs.weak_type and rhs.weak_type)  # JAX: weak iff both are


def _remaining(n: int, *taken) -> list:
  return [d for d in range(n) if not any(d in t for t in taken)]


def _ranges_like(*xs) -> list:
  out, start = [], 0
  for x in xs:
    out.append(tuple(range(start, start + len(x))))
    start += len(x)
  return out


def _dot_general_transpose_lhs(g, x, y, *, dimension_numbers, precision=None,
                               preferred_element_type=None, swap_ans=False, **_):
  """JAX's ``_dot_general_transpose_lhs``: contract ``g`` with ``y`` over y's
  free dims (batch dims stay batch dims), then permute to x's layout."""
  (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
  x_aval = x.aval
  x_kept = _remaining(x_aval.ndim, x_contract, x_batch)
  y_kept = _remaining(core.get_aval(y).ndim, y_contract, y_batch)
  if swap_ans:
    ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
  else:
    ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
  dims = ((ans_y, tuple(y_kept)), (ans_batch, tuple(y_batch)))
  x_contract_sorted_by_y = [x_contract[i] for i in np.argsort(y_contract)]
  out_axes = np.argsort(list(x_batch) + x_kept + x_contract_sorted_by_y)
  out = dot_general_p.bind(g, y, dimension_numbers=dims, precision=precision,
                           preferred_element_type=preferred_element_type, out_sharding=None)
  x_bar = shapes.transpose(out, tuple(int(a) for a in out_axes))
  if core.get_aval(x_bar).dtype != x_aval.dtype:
    x_bar = lax.convert_element_type(x_bar, x_aval.dtype, x_aval.weak_type)
  return x_bar


def _dot_general_transpose_rhs(g, x, y, *, dimension_numbers, **params):
  (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
  swapped = ((y_contract, x_contract), (y_batch, x_batch))
  return _dot_general_transpose_lhs(g, y, x, dimension_numbers=swapped, swap_ans=True, **params)


def _dot_general_batch_dim_nums(ndims, bdims, dimension_numbers):
  """JAX's ``_dot_general_batch_dim_nums``: two batched operands make their
  batch dims a (first) batch dimension of the dot; one batched operand keeps
  its batch dim as a free dimension. No operand is transposed. Returns the new
  dimension numbers and where the batch dim lands in the output."""
  lhs_ndim, _ = ndims
  lbd, rbd = bdims
  (lc, rc), (lb, rb) = dimension_numbers
  bump = lambda ds, b: tuple(d + (d >= b) for d in ds)
  if lbd is not None and rbd is not None:
    lb, rb = (lbd,) + bump(lb, lbd), (rbd,) + bump(rb, rbd)
    lc, rc = bump(lc, lbd), bump(rc, rbd)
    out_dim = 0
  elif lbd is not None:
    lhs_free = _remaining(lhs_ndim, lb, lc)       # (unbatched dims below lbd)
    out_dim = len(lb) + sum(d < lbd for d in lhs_free)
    lb, lc = bump(lb, lbd), bump(lc, lbd)
  else:
    rhs_free = _remaining(ndims[1], rb, rc)
    out_dim = (lhs_ndim - len(lc)) + sum(d < rbd for d in rhs_free)
    rb, rc = bump(rb, rbd), bump(rc, rbd)
  return ((lc, rc), (lb, rb)), out_dim


def _dot_general_batch(vals, dims, *, dimension_numbers, **params):
  (lhs, rhs), (lbd, rbd) = vals, dims
  ndims = (core.get_aval(lhs).ndim, core.get_aval(rhs).ndim)
  dn, out_dim = _dot_general_batch_dim_nums(ndims, (lbd, rbd), dimension_numbers)
  return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), out_dim


def _dot_general_lowering(ctx, lhs, rhs, *, avals_in, avals_out, dimension_numbers,
                          precision=None, preferred_element_type=None, out_sharding=None):
  """Rust's dot_general wants one dtype: convert the operands to the output
  dtype first (to the wider operand dtype when the output is a narrower float,
  converting the result afterwards)."""
  out = avals_out[0]
  compute = _dot_result_dtype(avals_in[0].dtype, avals_in[1].dtype, None)
  if not (dtypes.is_float(compute) and dtypes.is_float(out.dtype)
          and _precision_key(out.dtype) < _precision_key(compute)):
    compute = out.dtype
  ids = convert_operands(ctx, (lhs, rhs), avals_in, compute)
  ids, dimension_numbers = _fold_transposes(ctx, ids, [a.ndim for a in avals_in],
                                            dimension_numbers)
  return emit_in_dtype(ctx, "dot_general", ids, out, compute,
                       {"dimension_numbers": dimension_numbers})


def convert_operands(ctx, ids, avals, dtype) -> list:
  """The operands ``ids`` converted to ``dtype`` where they differ (the Rust
  products take one dtype)."""
  out = []
  for i, a in zip(ids, avals):
    if a.dtype != dtype:
      i = ctx.emit("convert_element_type", [i], [a.update(dtype=dtype, weak_type=False)],
                   {"new_dtype": dtype, "weak_type": False})[0]
    out.append(i)
  return out


def emit_in_dtype(ctx, op, ids, out, compute, params):
  """Emit ``op`` computing in ``compute``, then convert its result to the
  output's dtype when they differ (a narrower float output)."""
  if compute == out.dtype:
    return ctx.emit(op, ids, [out], params)
  tmp = ctx.emit(op, ids, [out.update(dtype=compute)], params)
  return ctx.emit("convert_element_type", tmp, [out], {"new_dtype": out.dtype, "weak_type": False})


def _fold_transposes(ctx, ids, ndims, dimension_numbers):
  """Read a transposed operand in place: ``dot_general(x, transpose(w, p))``
  becomes ``dot_general(x, w)`` with the dimension numbers mapped through
  ``p`` (the GEMM packs strided operands), when that keeps the free
  dimensions in order. The transpose is left to dead-code elimination."""
  (lc, rc), (lb, rb) = dimension_numbers
  dims = [[list(lc), list(lb)], [list(rc), list(rb)]]
  new_ids = list(ids)
  for k in range(2):
    prod = ctx.producer(ids[k])
    if prod is None or prod[0] != "transpose":
      continue
    perm = list(prod[1]["permutation"])
    contract, batch = dims[k]
    free = [i for i in range(ndims[k]) if i not in contract and i not in batch]
    mapped_free = [perm[i] for i in free]
    if mapped_free != sorted(mapped_free):
      continue
    dims[k] = [[perm[i] for i in contract], [perm[i] for i in batch]]
    new_ids[k] = prod[2][0]
  (lc, lb), (rc, rb) = dims
  return new_ids, ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _dot_general_ref(lhs, rhs, *, dimension_numbers, precision=None, preferred_element_type=None,
                     out_sharding=None):
  (lc, rc), (lb, rb) = dimension_numbers
  li = list(_LETTERS[:lhs.ndim])
  ri = list(_LETTERS[lhs.ndim:lhs.ndim + rhs.ndim])
  for a, b in zip(lc, rc):
    ri[b] = li[a]
  for a, b in zip(lb, rb):
    ri[b] = li[a]
  out = ([li[d] for d in lb] + [li[d] for d in range(lhs.ndim) if d not in lb and d not in lc]
         + [ri[d] for d in range(rhs.ndim) if d not in rb and d not in rc])
  dt = _dot_result_dtype(lhs.dtype, rhs.dtype, preferred_element_type)
  if dt == dtypes.bool_:
    r = np.einsum(f"{''.join(li)},{''.join(ri)}->{''.join(out)}", lhs.astype(np.int64),
                  rhs.astype(np.int64))
    return r != 0
  wide = np.float64 if dtypes.is_float(dt) else (np.uint64 if dtypes.is_unsigned(dt) else np.int64)
  with np.errstate(over="ignore"):
    r = np.einsum(f"{''.join(li)},{''.join(ri)}->{''.join(out)}", lhs.astype(wide),
                  rhs.astype(wide))
  return np.asarray(r).astype(dt)


dot_general_p = standard_primitive("dot_general", _dot_general_abstract_eval, lower=False)
ad.defbilinear(dot_general_p, _dot_general_transpose_lhs, _dot_general_transpose_rhs)
batching.primitive_batchers[dot_general_p] = _dot_general_batch
lowering.lowerings[dot_general_p] = _dot_general_lowering
reference.register(dot_general_p, _dot_general_ref)


def _dot_general_pp(e):
  # JAX's text: no None-valued params, dimension numbers as lists, and no
  # out_sharding (the output type shows it)
  out = {k: v for k, v in e.params.items() if v is not None and k != "out_sharding"}
  (lc, rc), (lb, rb) = e.params["dimension_numbers"]
  out["dimension_numbers"] = ((list(lc), list(rc)), (list(lb), list(rb)))
  return out


core.pp_params[dot_general_p] = _dot_general_pp


def _canon_dn(dimension_numbers) -> tuple:
  try:
    (lc, rc), (lb, rb) = dimension_numbers
    return ((tuple(int(d) for d in lc), tuple(int(d) for d in rc)),
            (tuple(int(d) for d in lb), tuple(int(d) for d in rb)))
  except (TypeError, ValueError):
    raise TypeError("dot_general: dimension_numbers must be "
                    "((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch)), got "
                    f"{dimension_numbers!r}") from None


@export
def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
                out_sharding=None):
  """General tensor contraction (``lax.dot_general``): output dims are the
  batch dims, then lhs free dims, then rhs free dims."""
  pet = None if preferred_element_type is None else dtypes.canonicalize_dtype(
      preferred_element_type)
  prec = canonicalize_precision(precision)
  lhs, rhs = asarray_lax(lhs), asarray_lax(rhs)
  if isinstance(prec, DotAlgorithmPreset) and prec.name != "DEFAULT":
    lhs, rhs = _algorithm_input(lhs, prec), _algorithm_input(rhs, prec)
    if pet is None and prec.accumulation_type is not None:
      pet = dtypes.canonicalize_dtype(prec.accumulation_type)
  return dot_general_p.bind(lhs, rhs, dimension_numbers=_canon_dn(dimension_numbers),
                            precision=prec, preferred_element_type=pet, out_sharding=None)


@export
def dot(lhs, rhs, precision=None, preferred_element_type=None, out_sharding=None):
  """Vector/matrix products (``lax.dot``): 1-d·1-d, 2-d·1-d, 1-d·2-d, 2-d·2-d."""
  lhs, rhs = asarray_lax(lhs), asarray_lax(rhs)
  ls, rs = core.get_aval(lhs).shape, core.get_aval(rhs).shape
  if 1 <= len(ls) <= 2 and 1 <= len(rs) <= 2 and ls[-1] == rs[0]:
    return dot_general(lhs, rhs, (((len(ls) - 1,), (0,)), ((), ())), precision,
                       preferred_element_type)
  raise ValueError("rjax.lax.dot: dimension_numbers must be specified when not performing "
                   "simple un-batched matrix-matrix, matrix-vector, or vector-vector products; "
                   f"got lhs_shape={ls} rhs_shape={rs}")


@export
def batch_matmul(lhs, rhs, precision=None):
  """Batched matrix product over leading dims: (..., m, k) @ (..., k, n)."""
  lhs, rhs = asarray_lax(lhs), asarray_lax(rhs)
  ls, rs = core.get_aval(lhs).shape, core.get_aval(rhs).shape
  if len(ls) < 2 or len(ls) != len(rs):
    raise ValueError("batch_matmul: arguments must have equal rank >= 2, got shapes "
                     f"{ls} and {rs}")
  nb = len(ls) - 2
  return dot_general(lhs, rhs, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))),
                     precision)


__all__ += ["PrecisionLike", "DotDimensionNumbers"]  # noqa: F821  (type aliases, not @export-able)
