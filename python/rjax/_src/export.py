"""``rjax.export``, modelled on ``jax.export``: a jitted function lowered to
a Program that is written to bytes (``Exported.serialize``), read back
(``deserialize``) in Python or by the Rust and C APIs without Python, and
called again. The format (docs/EXPORT.md) holds the lowered Program (the op
table's names and plain params, avals, constants' bytes) and a JSON
metadata string (the function's name, its pytrees, the VJP's export); the
one reader and writer is the Rust core's ``api::format``.

Symbolic dimensions (``symbolic_shape("b, 784")``): the function is traced
at a few sizes of each dimension; every integer of the Program (extents,
params) must be an affine function of the dimensions (``2*b + 1``), which
the exporter fits and checks. At call time the Program is compiled for the
concrete sizes (passes, fusion), once per size.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.interpreters import lowering
from rjax._src.interpreters import partial_eval as pe
from rjax._src.runtime import codegen
from rjax._src.runtime import executable as _exe
from rjax._src.runtime.array import Array, to_array
from rjax._src.transforms import api
from rjax._src.transforms.callback import pure_callback
from rjax._src.transforms.jit import JitWrapped
from rjax._src.interpreters.custom_derivatives import custom_vjp

__all__ = ["Exported", "export", "deserialize", "symbolic_shape", "symbolic_args_specs",
           "DimExpr"]

# The sizes the exporter traces a symbolic dimension at: the base point,
# the point with only that dimension changed, and a check with all changed.
_BASE = (23, 29, 31, 37, 41, 43, 47, 53)
_ALT = (59, 61, 67, 71, 73, 79, 83, 89)
_CHECK = (97, 101, 103, 107, 109, 113, 127, 131)


# ---------------------------------------------------------------------------
# Symbolic dimensions


class DimExpr:
  """An affine expression of symbolic dimensions, ``c + k1*d1 + ...``
  (what ``symbolic_shape`` puts in shapes)."""

  __slots__ = ("c", "terms")

  def __init__(self, c: int = 0, terms: dict | None = None):
    self.c = int(c)
    self.terms = {k: int(v) for k, v in sorted((terms or {}).items()) if v != 0}

  @staticmethod
  def var(name: str) -> "DimExpr":
    return DimExpr(0, {name: 1})

  def _lift(self, o) -> "DimExpr":
    if isinstance(o, DimExpr):
      return o
    if isinstance(o, (int, np.integer)) and not isinstance(o, bool):
      return DimExpr(int(o))
    return NotImplemented

  def __add__(self, o):
    o = self._lift(o)
    if o is NotImplemented:
      return o
    t = dict(self.terms)
    for k, v in o.terms.items():
      t[k] = t.get(k, 0) + v
    return DimExpr(self.c + o.c, t)

  __radd__ = __add__

  def __neg__(self):
    return DimExpr(-self.c, {k: -v for k, v in self.terms.items()})

  def __sub__(self, o):
    o = self._lift(o)
    return o if o is NotImplemented else self + (-o)

  def __rsub__(self, o):
    o = self._lift(o)
    return o if o is NotImplemented else o + (-self)

  def __mul__(self, o):
    if isinstance(o, (int, np.integer)) and not isinstance(o, bool):
      return DimExpr(self.c * int(o), {k: v * int(o) for k, v in self.terms.items()})
    if isinstance(o, DimExpr) and not o.terms:
      return self * o.c
    if isinstance(o, DimExpr) and not self.terms:
      return o * self.c
    return NotImplemented

  __rmul__ = __mul__

  def __eq__(self, o):
    o = self._lift(o)
    if o is NotImplemented:
      return False
    return self.c == o.c and self.terms == o.terms

  def __hash__(self):
    return hash((self.c, tuple(self.terms.items())))

  def evaluate(self, env: dict) -> int:
    return self.c + sum(k * env[n] for n, k in self.terms.items())

  def __str__(self):
    parts = [n if k == 1 else f"-{n}" if k == -1 else f"{k}*{n}" for n, k in self.terms.items()]
    if self.c or not parts:
      parts.append(str(self.c))
    return " + ".join(parts).replace("+ -", "- ")

  __repr__ = __str__


_TERM = re.compile(r"^(?:(\d+)\s*\*\s*)?([A-Za-z_][A-Za-z0-9_]*)(?:\s*\*\s*(\d+))?$")


def _parse_dim(text: str, spec: str):
  s = text.strip()
  if not s:
    raise ValueError(f"symbolic_shape: empty dimension in {spec!r}")
  if re.fullmatch(r"\d+", s):
    return int(s)
  expr = DimExpr()
  for sign, term in re.findall(r"([+-]?)\s*([^+-]+)", s):
    term = term.strip()
    k = -1 if sign == "-" else 1
    if re.fullmatch(r"\d+", term):
      expr = expr + k * int(term)
      continue
    m = _TERM.match(term)
    if m is None:
      raise ValueError(f"symbolic_shape: syntax error in dimension {s!r} of {spec!r}: rjax "
                       "reads sums of integers, names and integer*name products")
    coef = int(m.group(1) or 1) * int(m.group(3) or 1)
    expr = expr + k * coef * DimExpr.var(m.group(2))
  if not expr.terms:
    return expr.c
  return expr


def symbolic_shape(shape_spec: str | None, *, constraints: Sequence[str] = (), scope=None,
                   like: Sequence[int | None] | None = None) -> tuple:
  """``jax.export.symbolic_shape``: ``"b, 784"`` -> ``(b, 784)`` with ``b``
  a symbolic dimension (a :class:`DimExpr`)."""
  if constraints:
    raise NotImplementedError("symbolic_shape: rjax does not support dimension constraints")
  if shape_spec is None:
    shape_spec = ", ".join("_" if d is None else str(d) for d in like or ())
  spec = shape_spec.strip()
  if spec.startswith("(") and spec.endswith(")"):
    spec = spec[1:-1]
  dims = [] if not spec.strip() else spec.split(",")
  if dims and not dims[-1].strip():
    dims = dims[:-1]
  out = tuple(_parse_dim(d, shape_spec) for d in dims)
  if like is not None:
    if len(like) != len(out):
      raise ValueError(f"symbolic_shape: {shape_spec!r} has rank {len(out)} but like has "
                       f"rank {len(like)}")
    for d, l in zip(out, like):
      if l is not None and isinstance(d, int) and d != l:
        raise ValueError(f"symbolic_shape: {shape_spec!r} does not match like={like}")
  return out


def symbolic_args_specs(args, shapes_specs, constraints=(), scope=None):
  """``jax.export.symbolic_args_specs``: ShapeDtypeStructs with the shapes
  of ``shapes_specs`` (one spec string for every argument, or a pytree of
  them) and the dtypes of ``args``."""
  leaves, tree = tree_util.tree_flatten(args)
  if isinstance(shapes_specs, str) or shapes_specs is None:
    specs = [shapes_specs] * len(leaves)
  else:
    specs = tree.flatten_up_to(shapes_specs)
  return tree.unflatten([
      api.ShapeDtypeStruct(symbolic_shape(s, like=np.shape(a)) if s is not None else np.shape(a),
                           np.asarray(a).dtype if not hasattr(a, "dtype") else a.dtype)
      for a, s in zip(leaves, specs)])


def _dims_of(shapes) -> list[str]:
  names: list[str] = []
  for shape in shapes:
    for d in shape:
      if isinstance(d, DimExpr):
        for n in d.terms:
          if n not in names:
            names.append(n)
  return names


def _concrete(shape, env) -> tuple:
  return tuple(d.evaluate(env) if isinstance(d, DimExpr) else int(d) for d in shape)


def _sym_aval(shape, dtype, weak_type=False) -> core.ShapedArray:
  """A ShapedArray whose shape may hold DimExprs (as JAX's do)."""
  a = core.ShapedArray.__new__(core.ShapedArray)
  a.shape = tuple(shape)
  a.dtype = np.dtype(dtype)
  a.weak_type = bool(weak_type)
  a._hash = hash((a.shape, a.dtype, a.weak_type))
  return a


def _dim_from_rust(d, names) -> Any:
  return d if isinstance(d, int) else _parse_dim(d, d)


# ---------------------------------------------------------------------------
# Pytrees as JSON


def _tree_to_json(treedef) -> Any:
  marker = object()
  example = tree_util.tree_unflatten(treedef, [marker] * treedef.num_leaves)

  def enc(x):
    if x is marker:
      return "*"
    if x is None:
      return {"none": True}
    if type(x) is tuple:
      return {"tuple": [enc(c) for c in x]}
    if type(x) is list:
      return {"list": [enc(c) for c in x]}
    if type(x) is dict:
      keys = list(x)
      if not all(isinstance(k, str) for k in keys):
        raise ValueError("export: only dicts with str keys can be serialized, got keys "
                         f"{keys!r}")
      return {"dict": [[k, enc(x[k])] for k in keys]}
    raise ValueError(f"export: cannot serialize a pytree node of type {type(x).__name__}: "
                     "rjax serializes tuples, lists, dicts with str keys and None")
  return enc(example)


def _tree_from_json(j):
  def dec(x):
    if x == "*":
      return 0
    if not isinstance(x, dict) or len(x) != 1:
      raise ValueError(f"deserialize: malformed pytree {x!r}")
    (kind, v), = x.items()
    if kind == "none":
      return None
    if kind == "tuple":
      return tuple(dec(c) for c in v)
    if kind == "list":
      return [dec(c) for c in v]
    if kind == "dict":
      return {k: dec(c) for k, c in v}
    raise ValueError(f"deserialize: unknown pytree node {kind!r}")
  return tree_util.tree_structure(dec(j))


# ---------------------------------------------------------------------------
# Exported


class Exported:
  """A lowered function (``jax.export.Exported``): ``fun_name``,
  ``in_tree``/``in_avals`` (the flat ``(args, kwargs)``), ``out_tree``/
  ``out_avals``; ``serialize()``, ``call(*args)``, ``vjp()``."""

  def __init__(self, prog, fun_name: str, in_tree, in_avals, out_tree, out_avals,
               get_vjp: Callable[[], "Exported"] | None):
    self._prog = prog
    self.fun_name = fun_name
    self.in_tree = in_tree
    self.in_avals = tuple(in_avals)
    self.out_tree = out_tree
    self.out_avals = tuple(out_avals)
    self._get_vjp = get_vjp
    self._vjp_cache: Exported | None = None
    # the concrete shapes whose executable the native tier has seen
    self._native: set[tuple] = set()
    self.nr_devices = 1
    self.platforms = ("cpu",)

  def __str__(self):
    return f"Exported(fun_name={self.fun_name}, in_avals={self.in_avals}, " \
           f"out_avals={self.out_avals})"

  __repr__ = __str__

  def has_vjp(self) -> bool:
    """Whether :meth:`vjp` is available."""
    return self._get_vjp is not None

  def vjp(self) -> "Exported":
    """The export of the VJP: it takes the primal arguments' leaves then
    the outputs' cotangents, and returns the arguments' cotangents."""
    if self._get_vjp is None:
      raise ValueError("No VJP is available")
    if self._vjp_cache is None:
      self._vjp_cache = self._get_vjp()
    return self._vjp_cache

  def _meta(self, vjp_order: int) -> dict:
    m = {"fun_name": self.fun_name, "in_tree": _tree_to_json(self.in_tree),
         "out_tree": _tree_to_json(self.out_tree),
         "in_weak": [a.weak_type for a in self.in_avals],
         "out_weak": [a.weak_type for a in self.out_avals]}
    if vjp_order > 0:
      m["vjp"] = base64.b64encode(bytes(self.vjp().serialize(vjp_order - 1))).decode()
    return m

  def serialize(self, vjp_order: int = 0) -> bytearray:
    """The export's bytes (docs/EXPORT.md); with ``vjp_order`` n, the VJP's
    export n levels deep travels with it."""
    if vjp_order < 0:
      raise ValueError(f"serialize: vjp_order must be >= 0, got {vjp_order}")
    return bytearray(self._prog.with_meta(json.dumps(self._meta(vjp_order))))

  def mlir_module(self) -> str:
    raise NotImplementedError("rjax exports its own Program, not StableHLO")

  def _check(self, avals) -> list[int]:
    for k, (exp, got) in enumerate(zip(self.in_avals, avals)):
      where = f"args[{k}]" if self.in_tree.num_leaves else "args"
      if len(exp.shape) != len(got.shape):
        raise ValueError(f"Rank mismatch for {where}: expected {exp.shape} and called with "
                         f"{got.shape}")
      if exp.dtype != got.dtype:
        raise ValueError(f"Dtype mismatch for {where}: expected {exp.dtype} and called with "
                         f"{got.dtype}")
      for d, (e, g) in enumerate(zip(exp.shape, got.shape)):
        if isinstance(e, int) and e != g:
          raise ValueError(f"Shape mismatch for {where}.shape[{d}] (expected same constant): "
                           f"expected {exp.shape} and called with {got.shape}")
    return self._prog.bind([list(a.shape) for a in avals])

  def _run_flat(self, arrs: list) -> list:
    dims = self._check([a.aval for a in arrs])
    exe = self._prog.executable(dims)
    if tuple(dims) not in self._native:
      # the native tier, as for a jitted function (the executable is cached
      # per shape in Rust; compile its groups once)
      self._native.add(tuple(dims))
      codegen.attach(exe)
    shapes = self._prog.out_shapes(dims)
    bufs = exe.run([a._buf for a in arrs])
    return [Array._from_buffer(b, core.ShapedArray(s, a.dtype, a.weak_type))
            for b, s, a in zip(bufs, shapes, self.out_avals)]

  def call(self, *args, **kwargs):
    """Calls the exported function (``jax.export.Exported.call``): on
    arrays, or under ``jit``/``vmap``/``grad`` (as a host call; ``grad``
    needs :meth:`vjp`)."""
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    if in_tree != self.in_tree:
      raise ValueError(
          "The invocation args and kwargs must have the same pytree structure as when the "
          f"function '{self.fun_name}' was exported, but they differ: called with {in_tree}, "
          f"exported with {self.in_tree}")
    if not any(isinstance(x, core.Tracer) for x in leaves):
      outs = self._run_flat([x if type(x) is Array else to_array(x) for x in leaves])
      return tree_util.tree_unflatten(self.out_tree, outs)
    outs = self._traced_call()(*leaves)
    return tree_util.tree_unflatten(self.out_tree, list(outs))

  def _traced_call(self):
    def run(*flat):
      avals = [core.get_aval(x) for x in flat]
      dims = self._check(avals)
      shapes = self._prog.out_shapes(dims)
      res = [api.ShapeDtypeStruct(s, a.dtype) for s, a in zip(shapes, self.out_avals)]
      return tuple(pure_callback(lambda *xs: [np.asarray(o) for o in self._run_flat(
          [to_array(np.asarray(x)) for x in xs])], res, *flat, vmap_method="sequential"))

    if not self.has_vjp():
      return run
    f = custom_vjp(run)

    def fwd(*flat):
      return run(*flat), flat

    def bwd(flat, cts):
      exp_vjp = self.vjp()
      return tuple(exp_vjp.call(*flat, *cts))

    f.defvjp(fwd, bwd)
    return f


def _export_flat(fun: Callable, fun_name: str, in_tree, specs: list) -> Exported:
  """Export ``fun`` (taking ``in_tree``'s ``(args, kwargs)``) for the leaf
  specs ``[(shape with DimExprs, dtype, weak_type)]``."""
  names = _dims_of([s for s, _, _ in specs])
  if len(names) > len(_BASE):
    raise ValueError(f"export: at most {len(_BASE)} symbolic dimensions, got {names}")
  for n in names:
    if not any(isinstance(d, DimExpr) and d == DimExpr.var(n) for s, _, _ in specs for d in s):
      raise ValueError(f"export: symbolic dimension '{n}' must be the whole extent of some "
                       "argument's dimension, so that a call can find its value")
  points = [dict(zip(names, _BASE))]
  for k, n in enumerate(names):
    points.append({**points[0], n: _ALT[k]})
  if names:
    points.append(dict(zip(names, _CHECK)))
  probes, box, closed0 = [], [], None
  for env in points:
    avals = [core.ShapedArray(_concrete(s, env), dt, w) for s, dt, w in specs]
    closed = pe.trace_to_jaxpr(tree_util.flatten_fun(fun, in_tree, box), avals, None)
    if closed0 is None:
      closed0 = closed
    ctx, out_ids = lowering.lower_jaxpr(closed, avals)
    exe = _exe.Executable([lowering.aval_plain(a) for a in ctx.in_avals], ctx.consts,
                          ctx.instrs, list(out_ids))
    probes.append(([env[n] for n in names], exe))
  meta = json.dumps({"fun_name": fun_name})
  raw = _exe.export_program(names, probes, meta)
  prog = _exe.ExportedProgram.from_bytes(raw)
  out_avals = [_sym_aval([_dim_from_rust(d, names) for d in shape], dt, a.weak_type)
               for (dt, shape), a in zip(prog.out_avals(), closed0.out_avals)]
  in_avals = [_sym_aval(s, dt, w) for s, dt, w in specs]
  out_tree = box[0]

  def get_vjp():
    n_in = len(in_avals)

    def vjp_fun(*flat):
      primals, cts = flat[:n_in], flat[n_in:]

      def f_flat(*xs):
        args, kwargs = tree_util.tree_unflatten(in_tree, list(xs))
        return tree_util.tree_leaves(fun(*args, **kwargs))
      _, pullback = api.vjp(f_flat, *primals)
      return list(pullback(list(cts)))

    vjp_specs = [(a.shape, a.dtype, False) for a in in_avals] + \
                [(a.shape, a.dtype, False) for a in out_avals]
    vjp_tree = tree_util.tree_structure((tuple(range(len(vjp_specs))), {}))
    return _export_flat(lambda *xs: vjp_fun(*xs), f"vjp({fun_name})", vjp_tree, vjp_specs)

  return Exported(prog, fun_name, in_tree, in_avals, out_tree, out_avals, get_vjp)


def export(fun_jit, *, platforms: Sequence[str] | None = None,
           disabled_checks: Sequence[Any] = ()) -> Callable[..., Exported]:
  """``jax.export.export``: ``export(jit(f))(*args, **kwargs)`` with arrays
  or ShapeDtypeStructs (shapes may hold :func:`symbolic_shape` dimensions)
  gives an :class:`Exported`."""
  if not isinstance(fun_jit, JitWrapped):
    raise ValueError(f"Function to be exported must be the result of `jit` but is: {fun_jit}")
  if platforms is not None and any(p != "cpu" for p in platforms):
    raise ValueError(f"export: rjax exports for the 'cpu' platform only, got {platforms}")
  if fun_jit._static_argnums or fun_jit._static_argnames:
    raise ValueError("export: functions with static arguments cannot be exported; close over "
                     "them instead")
  fun = fun_jit._fun
  fun_name = getattr(fun, "__name__", "fun")

  def do_export(*args, **kwargs) -> Exported:
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    specs = []
    for x in leaves:
      if hasattr(x, "shape") and hasattr(x, "dtype"):
        specs.append((tuple(x.shape), np.dtype(x.dtype), bool(getattr(x, "weak_type", False))))
      else:
        a = core.get_aval(x)
        specs.append((a.shape, a.dtype, a.weak_type))
    return _export_flat(fun, fun_name, in_tree, specs)

  return do_export


def deserialize(blob) -> Exported:
  """``jax.export.deserialize``: the :class:`Exported` of ``blob``'s bytes.
  Bytes that are not a readable export raise ValueError."""
  prog = _exe.ExportedProgram.from_bytes(bytes(blob))
  try:
    meta = json.loads(prog.meta)
    in_tree = _tree_from_json(meta["in_tree"])
    out_tree = _tree_from_json(meta["out_tree"])
    in_weak, out_weak = meta["in_weak"], meta["out_weak"]
    fun_name = meta["fun_name"]
  except (ValueError, KeyError, TypeError) as e:
    raise ValueError(f"deserialize: the export's metadata is not rjax.export's: {e}") from None
  names = prog.dims
  ins, outs = prog.in_avals(), prog.out_avals()
  if len(in_weak) != len(ins) or len(out_weak) != len(outs) or \
      in_tree.num_leaves != len(ins) or out_tree.num_leaves != len(outs):
    raise ValueError("deserialize: the export's metadata does not match its Program")
  in_avals = [_sym_aval([_dim_from_rust(d, names) for d in s], dt, w)
              for (dt, s), w in zip(ins, in_weak)]
  out_avals = [_sym_aval([_dim_from_rust(d, names) for d in s], dt, w)
               for (dt, s), w in zip(outs, out_weak)]
  vjp_blob = meta.get("vjp")
  get_vjp = None if vjp_blob is None else (lambda: deserialize(base64.b64decode(vjp_blob)))
  return Exported(prog, fun_name, in_tree, in_avals, out_tree, out_avals, get_vjp)

