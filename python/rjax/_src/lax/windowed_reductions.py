"""Windowed reductions: ``reduce_window`` and its monoid primitives
(``reduce_window_sum``, ``reduce_window_max``, ``reduce_window_min``), with the
two primitives of max/min pooling's derivative (``select_and_gather_add`` and
its transpose ``select_and_scatter_add``), each one block with all its rules.

Semantics are JAX 0.10.2's (``jax/_src/lax/windowed_reductions.py``): the
operand is dilated by ``base_dilation`` and padded by ``padding``; a window
``o`` covers positions ``o * stride + w * window_dilation``; padding and
dilation holes hold the reduction's identity. The selected element of a max
(min) window is its first maximum (minimum) in row-major window order.
"""
from __future__ import annotations

import itertools
import operator
from typing import Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.tree_util import tree_flatten
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, reference
# The rules pad and slice, and the max/min JVPs name lax's comparisons: the
# lax modules import each other as modules.
from rjax._src.lax import lax, shapes, slicing
from rjax._src.lax.convolution import (_conv_general_vjp_lhs_padding, _dilate_shape,
                                       padtype_to_pads)
from rjax._src.lax.utils import asarray_lax, export, standard_primitive

_WINDOW_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                  "window_dilation")


# ---------------------------------------------------------------------------
# Shapes


@export
def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None) -> tuple:
  if base_dilation is not None:
    operand_shape = _dilate_shape(operand_shape, base_dilation)
  if window_dilation is not None:
    window_dimensions = _dilate_shape(window_dimensions, window_dilation)
  padded = [d + lo + hi for d, (lo, hi) in zip(operand_shape, padding)]
  return tuple(0 if p < w else (p - w) // s + 1
               for p, w, s in zip(padded, window_dimensions, window_strides))


def _check_shapelike(name, arg, v, positive):
  if any(not isinstance(x, (int, np.integer)) for x in v):
    raise TypeError(f"{name} {arg} must have every element be an integer type, got {tuple(v)}.")
  bad = [x for x in v if (x <= 0 if positive else x < 0)]
  if bad:
    kind = "positive" if positive else "nonnegative"
    raise TypeError(f"{name} {arg} must have every element be {kind}, got {tuple(v)}.")


def _window_shape(name, operand, window_dimensions, window_strides, padding, base_dilation,
                  window_dilation):
  _check_shapelike(name, "window_dimensions", window_dimensions, False)
  _check_shapelike(name, "window_strides", window_strides, True)
  _check_shapelike(name, "base_dilation", base_dilation, True)
  _check_shapelike(name, "window_dilation", window_dilation, True)
  n = len(window_dimensions)
  if operand.ndim != n:
    raise TypeError(f"{name} got the wrong number of window_dimensions for operand: got "
                    f"operand shape {operand.shape} with window_dimensions "
                    f"{tuple(window_dimensions)}.")
  for arg, v in (("window_strides", window_strides), ("base_dilation", base_dilation),
                 ("window_dilation", window_dilation), ("padding", padding)):
    if len(v) != n:
      raise TypeError(f"{name} got inconsistent {arg} and window_dimensions: got {arg} "
                      f"{tuple(v)} and window_dimensions {tuple(window_dimensions)}.")
  dil = _dilate_shape(operand.shape, base_dilation)
  if any(d + lo + hi < 0 for d, (lo, hi) in zip(dil, padding)):
    raise ValueError(f"{name}: negative padding {tuple(padding)} is larger than the operand "
                     f"shape {operand.shape} (dilated: {dil})")
  return reduce_window_shape_tuple(operand.shape, window_dimensions, window_strides, padding,
                                   base_dilation, window_dilation)


def _max_identity(dt):
  dt = np.dtype(dt)
  if dtypes.is_float(dt):
    return np.array(-np.inf, dt)
  if dt == dtypes.bool_:
    return np.array(False)
  return np.array(dtypes.iinfo(dt).min, dt)


def _min_identity(dt):
  dt = np.dtype(dt)
  if dtypes.is_float(dt):
    return np.array(np.inf, dt)
  if dt == dtypes.bool_:
    return np.array(True)
  return np.array(dtypes.iinfo(dt).max, dt)


# ---------------------------------------------------------------------------
# NumPy reference: every window as a stack of strided views, in window order.


def _window_stack(x, fill, *, window_dimensions, window_strides, padding, base_dilation,
                  window_dilation):
  """``(len(window), *out_shape)``: the window elements of every output
  (``fill`` in padding and dilation holes)."""
  x = np.asarray(x)
  for ax, d in enumerate(base_dilation):
    if d > 1 and x.shape[ax] > 0:
      shape = list(x.shape)
      shape[ax] = (shape[ax] - 1) * d + 1
      z = np.full(shape, fill, x.dtype)
      idx = [slice(None)] * x.ndim
      idx[ax] = slice(None, None, d)
      z[tuple(idx)] = x
      x = z
  for ax, (lo, hi) in enumerate(padding):
    idx = [slice(None)] * x.ndim
    idx[ax] = slice(max(-lo, 0), x.shape[ax] - max(-hi, 0))
    x = x[tuple(idx)]
    width = [(0, 0)] * x.ndim
    width[ax] = (max(lo, 0), max(hi, 0))
    x = np.pad(x, width, constant_values=fill)
  out = reduce_window_shape_tuple(x.shape, window_dimensions, window_strides,
                                  [(0, 0)] * x.ndim, None, window_dilation)
  views = []
  for w in itertools.product(*(range(k) for k in window_dimensions)):
    sl = tuple(slice(k * wd, k * wd + (o - 1) * s + 1, s) if o else slice(0, 0)
               for k, wd, o, s in zip(w, window_dilation, out, window_strides))
    views.append(x[sl])
  if not views:
    return np.full((0,) + out, fill, x.dtype)
  return np.stack(views)


def _reduce_window_ref(np_reduce, identity):
  def ref(x, **params):
    x = np.asarray(x)
    stack = _window_stack(x, identity(x.dtype), **params)
    if stack.shape[0] == 0:
      return np.full(stack.shape[1:], identity(x.dtype), x.dtype)
    wide = np.float64 if dtypes.is_float(x.dtype) else x.dtype
    with np.errstate(over="ignore"):
      return np_reduce(stack.astype(wide), axis=0).astype(x.dtype)
  return ref


def _select_stack(operand, select_prim, params, from_init):
  """Indices (into the flat operand, -1 for padding) of each window's
  selected element: a candidate replaces the choice unless
  ``select(choice, candidate)``."""
  operand = np.asarray(operand)
  ge = select_prim.name == "ge"
  ident = (_max_identity if ge else _min_identity)(operand.dtype)
  vals = _window_stack(operand, ident, **params)
  idx = _window_stack(np.arange(operand.size).reshape(operand.shape), -1, **params)
  cur_v = np.full(vals.shape[1:], ident, vals.dtype) if from_init else vals[0]
  cur_i = np.full(vals.shape[1:], -1) if from_init else idx[0]
  for v, i in zip(vals[0 if from_init else 1:], idx[0 if from_init else 1:]):
    with np.errstate(invalid="ignore"):
      keep = (cur_v >= v) if ge else (cur_v <= v)
    cur_v, cur_i = np.where(keep, cur_v, v), np.where(keep, cur_i, i)
  return cur_i


# ---------------------------------------------------------------------------
# reduce_window_{sum,max,min}: sum is linear (its transpose is a sum over the
# same windows); max/min's JVP gathers the tangent at each window's selected
# element (select_and_gather_add, below).


def _window_batch(prim):
  def rule(vals, dims, **params):
    x, = vals
    bdim, = dims
    if bdim is not None:
      one = lambda key, v: params[key][:bdim] + (v,) + params[key][bdim:]
      params = dict(params, window_dimensions=one("window_dimensions", 1),
                    window_strides=one("window_strides", 1), padding=one("padding", (0, 0)),
                    base_dilation=one("base_dilation", 1),
                    window_dilation=one("window_dilation", 1))
    return prim.bind(x, **params), bdim
  return rule


def _reduce_window_primitive(name, np_reduce, identity):
  """A monoid reduction over windows: abstract eval, impl, the Rust op of the
  same name, its batching rule (a size-1 window over the batch dim) and its
  NumPy reference."""
  def abstract_eval(x, **params):
    if x.dtype == dtypes.bool_ or not (dtypes.is_float(x.dtype) or dtypes.is_int(x.dtype)):
      raise TypeError(f"operand to {name} must have a number dtype, got {x.dtype.name}")
    return ShapedArray(_window_shape(name, x, **params), x.dtype, x.weak_type)

  p = standard_primitive(name, abstract_eval)
  batching.primitive_batchers[p] = _window_batch(p)
  reference.register(p, _reduce_window_ref(np_reduce, identity))
  return p


def _reduce_window_sum_transpose(ct, operand, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
  """JAX's rule: pad the cotangent (interior padding by the strides) and sum
  it over the same windows with strides and base dilation swapped."""
  assert ad.is_undefined_primal(operand)
  in_shape = operand.aval.shape
  ct_aval = core.get_aval(ct)
  pads = _conv_general_vjp_lhs_padding(in_shape, window_dimensions, window_strides,
                                       ct_aval.shape, padding, base_dilation, window_dilation)
  cfg = tuple((lo, hi, s - 1) for (lo, hi), s in zip(pads, window_strides))
  padded = shapes.pad(ct, np.zeros((), ct_aval.dtype), cfg)
  n = len(in_shape)
  out = reduce_window_sum_p.bind(padded, window_dimensions=window_dimensions,
                                 window_strides=base_dilation, padding=((0, 0),) * n,
                                 base_dilation=(1,) * n, window_dilation=window_dilation)
  assert core.get_aval(out).shape == in_shape, (core.get_aval(out).shape, in_shape)
  return [out]


reduce_window_sum_p = _reduce_window_primitive("reduce_window_sum", np.sum,
                                               lambda dt: np.array(0, dt))
ad.deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)


def _chooser_jvp(select_prim):
  def jvp(g, operand, **params):
    return select_and_gather_add_p.bind(g, operand, select_prim=select_prim, **params)
  return jvp


reduce_window_max_p = _reduce_window_primitive("reduce_window_max", np.max, _max_identity)
ad.defjvp(reduce_window_max_p, _chooser_jvp(lax.ge_p))

reduce_window_min_p = _reduce_window_primitive("reduce_window_min", np.min, _min_identity)
ad.defjvp(reduce_window_min_p, _chooser_jvp(lax.le_p))


# ---------------------------------------------------------------------------
# select_and_gather_add (the tangent at each window's selected element) and
# its transpose select_and_scatter_add (each window's source value added at
# its selected element): linear in their first operand.


def _linear_in_source_jvp(prim):
  """JVP of ``prim(source, operand)``, linear in ``source``; ``operand`` only
  chooses positions (no derivative flows through it)."""
  def jvp(primals, tangents, **params):
    source, operand = primals
    g_source, _ = tangents
    out = prim.bind(source, operand, **params)
    if isinstance(g_source, ad.Zero):
      return out, ad.Zero.from_value(out)
    return out, prim.bind(g_source, operand, **params)
  return jvp


def _pair_batch(prim, keys):
  """Both operands batched at the front, with a size-1 window over it."""
  def rule(vals, dims, **params):
    size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
    vals = [batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
    new = dict(params)
    for k in keys:
      new[k] = (((0, 0),) if k == "padding" else (1,)) + tuple(params[k])
    return prim.bind(*vals, **new), 0
  return rule


def _select_and_gather_add_abstract_eval(tangents, operand, *, select_prim, **params):
  if tangents.shape != operand.shape:
    raise TypeError("select_and_gather_add tangents and operand shapes must match, got "
                    f"{tangents.shape} and {operand.shape}.")
  if tangents.dtype != operand.dtype:
    raise TypeError("select_and_gather_add tangents and operand dtypes must match, got "
                    f"{tangents.dtype.name} and {operand.dtype.name}.")
  if select_prim.name not in ("ge", "le"):
    raise ValueError(f"select_and_gather_add: select_prim must be ge or le, got {select_prim}")
  shape = _window_shape("select_and_gather_add", operand, **params)
  return ShapedArray(shape, tangents.dtype, tangents.weak_type)


def _select_and_gather_add_transpose(t, tangents, operand, *, select_prim, window_dimensions,
                                     window_strides, padding, base_dilation, window_dilation):
  assert ad.is_undefined_primal(tangents) and not ad.is_undefined_primal(operand)
  if any(d != 1 for d in window_dilation):
    raise NotImplementedError("VJP not implemented for select_and_gather (MaxPool) with window "
                              f"dilation, got window_dilation={window_dilation}.")
  if isinstance(t, ad.Zero):
    return [None, None]
  has_base = any(d != 1 for d in base_dilation)
  if has_base:
    ident = (_max_identity if select_prim.name == "ge" else _min_identity)(
        core.get_aval(operand).dtype)
    operand = shapes.pad(operand, ident, tuple((0, 0, d - 1) for d in base_dilation))
  res = select_and_scatter_add_p.bind(t, operand, select_prim=select_prim,
                                      window_dimensions=window_dimensions,
                                      window_strides=window_strides, padding=padding)
  if has_base:
    shape = core.get_aval(res).shape
    res = slicing.slice(res, (0,) * len(shape), shape, base_dilation)
  return [res, None]


def _select_and_gather_add_ref(tangents, operand, *, select_prim, **params):
  sel = _select_stack(operand, select_prim, params, from_init=True)
  t = np.asarray(tangents).reshape(-1)
  return np.where(sel >= 0, t[np.maximum(sel, 0)] if t.size else 0, 0).astype(tangents.dtype)


select_and_gather_add_p = standard_primitive("select_and_gather_add",
                                             _select_and_gather_add_abstract_eval)
ad.primitive_jvps[select_and_gather_add_p] = _linear_in_source_jvp(select_and_gather_add_p)
ad.primitive_transposes[select_and_gather_add_p] = _select_and_gather_add_transpose
batching.primitive_batchers[select_and_gather_add_p] = _pair_batch(
    select_and_gather_add_p, _WINDOW_PARAMS)
reference.register(select_and_gather_add_p, _select_and_gather_add_ref)


def _select_and_scatter_add_abstract_eval(source, operand, *, select_prim, window_dimensions,
                                          window_strides, padding):
  n = len(window_dimensions)
  out = _window_shape("select_and_scatter_add", operand, window_dimensions, window_strides,
                      padding, (1,) * n, (1,) * n)
  if source.shape != out:
    raise TypeError(f"select_and_scatter_add: source shape {source.shape} must be the window "
                    f"output shape {out} of operand {operand.shape}")
  if source.dtype != operand.dtype:
    raise TypeError("select_and_scatter_add source and operand dtypes must match, got "
                    f"{source.dtype.name} and {operand.dtype.name}.")
  return ShapedArray(operand.shape, source.dtype, source.weak_type)


def _select_and_scatter_add_transpose(t, source, operand, *, select_prim, window_dimensions,
                                      window_strides, padding):
  assert ad.is_undefined_primal(source) and not ad.is_undefined_primal(operand)
  if isinstance(t, ad.Zero):
    return [None, None]
  ones = (1,) * len(window_dimensions)
  return [select_and_gather_add_p.bind(t, operand, select_prim=select_prim,
                                       window_dimensions=window_dimensions,
                                       window_strides=window_strides, padding=padding,
                                       base_dilation=ones, window_dilation=ones), None]


def _select_and_scatter_add_ref(source, operand, *, select_prim, window_dimensions,
                                window_strides, padding):
  n = len(window_dimensions)
  params = dict(window_dimensions=window_dimensions, window_strides=window_strides,
                padding=padding, base_dilation=(1,) * n, window_dilation=(1,) * n)
  sel = _select_stack(operand, select_prim, params, from_init=False).reshape(-1)
  src = np.asarray(source).reshape(-1)
  wide = np.float64 if dtypes.is_float(source.dtype) else np.int64
  out = np.zeros(np.asarray(operand).size, wide)
  keep = sel >= 0
  np.add.at(out, sel[keep], src[keep].astype(wide))
  with np.errstate(over="ignore"):
    return out.reshape(np.shape(operand)).astype(source.dtype)


select_and_scatter_add_p = standard_primitive("select_and_scatter_add",
                                              _select_and_scatter_add_abstract_eval)
ad.primitive_jvps[select_and_scatter_add_p] = _linear_in_source_jvp(select_and_scatter_add_p)
ad.primitive_transposes[select_and_scatter_add_p] = _select_and_scatter_add_transpose
batching.primitive_batchers[select_and_scatter_add_p] = _pair_batch(
    select_and_scatter_add_p, ("window_dimensions", "window_strides", "padding"))
reference.register(select_and_scatter_add_p, _select_and_scatter_add_ref)


# ---------------------------------------------------------------------------
# reduce_window: the user-facing function


def _canon_window(operand, window_dimensions, window_strides, padding, base_dilation,
                  window_dilation):
  n = len(window_dimensions)
  ints = lambda v: tuple(operator.index(d) for d in v)
  window_dimensions = ints(window_dimensions)
  window_strides = (1,) * n if window_strides is None else ints(window_strides)
  base_dilation = (1,) * n if base_dilation is None else ints(base_dilation)
  window_dilation = (1,) * n if window_dilation is None else ints(window_dilation)
  if isinstance(padding, str):
    shape = core.get_aval(operand).shape
    if len(shape) != n:
      raise TypeError(f"reduce_window got the wrong number of window_dimensions for operand: "
                      f"got operand shape {shape} with window_dimensions {window_dimensions}.")
    padding = padtype_to_pads(shape, _dilate_shape(window_dimensions, window_dilation),
                              window_strides, padding)
  try:
    padding = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
  except (TypeError, ValueError) as e:
    raise ValueError("reduce_window: padding should be a string or a sequence of (low, high) "
                     f"pairs, got {padding}") from e
  return dict(window_dimensions=window_dimensions, window_strides=window_strides,
              padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)


def _reduce_window_sum(operand, window_dimensions, window_strides, padding, base_dilation=None,
                       window_dilation=None):
  operand = asarray_lax(operand)
  return reduce_window_sum_p.bind(operand, **_canon_window(
      operand, window_dimensions, window_strides, padding, base_dilation, window_dilation))


def _reduce_window_max(operand, window_dimensions, window_strides, padding, base_dilation=None,
                       window_dilation=None):
  operand = asarray_lax(operand)
  return reduce_window_max_p.bind(operand, **_canon_window(
      operand, window_dimensions, window_strides, padding, base_dilation, window_dilation))


def _reduce_window_min(operand, window_dimensions, window_strides, padding, base_dilation=None,
                       window_dilation=None):
  operand = asarray_lax(operand)
  return reduce_window_min_p.bind(operand, **_canon_window(
      operand, window_dimensions, window_strides, padding, base_dilation, window_dilation))


def _concrete_scalar(x):
  """The value of a concrete scalar, or None (a tracer, or not a scalar)."""
  if isinstance(x, core.Tracer):
    return None
  try:
    a = np.asarray(x)
  except Exception:  # noqa: BLE001 -- anything without a concrete value
    return None
  return a if a.shape == () else None


@export
def reduce_window(operand, init_value, computation: Callable, window_dimensions: Sequence[int],
                  window_strides: Sequence[int] | None = None, padding="VALID",
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None):
  """Reduction over padded windows (``lax.reduce_window``).

  ``computation`` must be ``lax.add``, ``lax.max`` or ``lax.min`` with its
  identity as ``init_value`` (0, -inf/lowest, +inf/highest): these run as the
  ``reduce_window_{sum,max,min}`` primitives. Other reducers raise
  ``NotImplementedError``."""
  leaves, _ = tree_flatten(operand)
  if len(leaves) != 1 or len(tree_flatten(init_value)[0]) != 1:
    raise NotImplementedError("reduce_window: only a single operand array is supported, got "
                              f"{len(leaves)} operands")
  operand = asarray_lax(leaves[0])
  init = _concrete_scalar(tree_flatten(init_value)[0][0])
  dt = core.get_aval(operand).dtype
  fn = None
  if init is not None:
    if computation is lax.add and init == 0:
      fn = _reduce_window_sum
    elif computation is lax.max and init == _max_identity(dt):
      fn = _reduce_window_max
    elif computation is lax.min and init == _min_identity(dt):
      fn = _reduce_window_min
  if fn is None:
    raise NotImplementedError(
        "reduce_window: only the monoid reductions are supported: computation lax.add with "
        "init_value 0, lax.max with -inf (the dtype's lowest value), or lax.min with +inf (its "
        f"highest value); got {getattr(computation, '__name__', computation)!r} with "
        f"init_value {init_value!r}")
  return fn(operand, window_dimensions, window_strides, padding, base_dilation, window_dilation)
