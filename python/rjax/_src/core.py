"""The core of the tracing machinery: abstract values, primitives, traces.

Every ``rjax.lax`` operation is a :class:`Primitive`. ``prim.bind(*args,
**params)`` hands the operation to the *current trace* of this thread: the
eval trace runs it (through the Rust executor, see ``interpreters/dispatch.py``); a
transformation's trace (JVP, batching, jaxpr building, added by
``interpreters/``) records or transforms it. The current trace is
thread-local, so calls from several threads never see each other's traces.
Each trace that transforms a function keeps its ``parent_trace`` and binds the
primitives it emits there (JAX's "stackless" core).

Rules live in tables keyed by primitive, registered next to the primitive:
abstract evaluation here; JVP, transpose, batching and lowering in
``interpreters/``.
"""
from __future__ import annotations

import inspect
import threading
from contextlib import contextmanager
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src.base import dtypes, errors, tree_util

# ---------------------------------------------------------------------------
# Abstract values


class ShapedArray:
  """The abstract value of an array: shape, dtype and weak type."""

  __slots__ = ("shape", "dtype", "weak_type", "_hash")
  array_abstraction_level = 1

  def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
    self.shape = tuple(int(d) for d in shape)
    self.dtype = np.dtype(dtype)
    self.weak_type = bool(weak_type)
    self._hash = hash((self.shape, self.dtype, self.weak_type))

  @property
  def ndim(self) -> int:
    return len(self.shape)

  @property
  def size(self) -> int:
    return int(np.prod(self.shape, dtype=np.int64))

  def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
    return ShapedArray(self.shape if shape is None else shape,
                       self.dtype if dtype is None else dtype,
                       self.weak_type if weak_type is None else weak_type)

  def strip_weak_type(self) -> "ShapedArray":
    return self.update(weak_type=False) if self.weak_type else self

  def __eq__(self, other):
    return (type(other) is ShapedArray and self.shape == other.shape
            and self.dtype == other.dtype and self.weak_type == other.weak_type)

  def __hash__(self):
    return self._hash

  def str_short(self, short_dtypes: bool = True) -> str:
    return f"{short_dtype_name(self.dtype)}[{','.join(map(str, self.shape))}]"

  def __repr__(self):
    w = ", weak_type=True" if self.weak_type else ""
    return f"ShapedArray({self.str_short()}{w})"

  __str__ = str_short


_SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
          "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
          "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64", "bool": "bool"}


def short_dtype_name(dtype) -> str:
  return _SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)


def get_aval(x: Any) -> ShapedArray:
  """The abstract value of an array, tracer or Python/NumPy scalar."""
  aval = getattr(x, "aval", None)
  if aval is not None:
    return aval
  if isinstance(x, (bool, int, float)):
    dt, weak = dtypes.dtype_and_weak(x)
    return ShapedArray((), dt, weak)
  if isinstance(x, (np.ndarray, np.generic)):
    return ShapedArray(np.shape(x), dtypes.canonicalize_dtype(x.dtype), False)
  raise TypeError(f"Value {x!r} of type {type(x).__name__} is not a valid rjax type")


# ---------------------------------------------------------------------------
# Primitives and rule tables


class Primitive:
  """A named operation. Its rules live in the tables keyed by it."""

  multiple_results = False

  def __init__(self, name: str):
    self.name = name
    self.impl: Callable | None = None
    self.abstract_eval: Callable | None = None

  def __repr__(self):
    return self.name

  def bind(self, *args, **params):
    return current_trace().process_primitive(self, args, params)

  def def_impl(self, impl: Callable) -> Callable:
    self.impl = impl
    return impl

  def def_abstract_eval(self, rule: Callable) -> Callable:
    """``rule(*avals, **params)`` returns an aval (a list for multi-output)."""
    self.abstract_eval = rule
    return rule


#: Every primitive defined, by name (used by the rule-coverage test).
primitives: dict[str, Primitive] = {}


def new_primitive(name: str, multiple_results: bool = False) -> Primitive:
  p = Primitive(name)
  p.multiple_results = multiple_results
  if name in primitives:
    raise ValueError(f"primitive {name} defined twice")
  primitives[name] = p
  return p


# ---------------------------------------------------------------------------
# Traces


class DebugInfo:
  """What a transformation is tracing, for errors that teach: the
  transformation (``"jit"``, ``"grad"``...), the function, and a name for
  each flat input (``x``, ``params['w']``), computed only when an error needs
  them (so the hot path pays nothing)."""

  __slots__ = ("what", "fun", "_args", "_names", "_keep")

  def __init__(self, what: str, fun: Any, args: Any = (), names: Sequence[str] | None = None,
               keep: Sequence[bool] | None = None):
    self.what, self.fun, self._args = what, fun, args
    self._names = None if names is None else list(names)
    self._keep = keep

  @property
  def fun_name(self) -> str:
    return getattr(self.fun, "__name__", type(self.fun).__name__)

  @property
  def arg_names(self) -> list[str]:
    if self._names is None:
      self._names = _arg_names(self.fun, *self._args)
    if self._keep is not None:
      return [n for n, k in zip(self._names, self._keep) if k]
    return self._names

  def keep_only(self, keep: Sequence[bool]) -> "DebugInfo":
    """The same, naming only the inputs where ``keep`` is true."""
    d = DebugInfo(self.what, self.fun, self._args, self._names, None)
    d._names = self.arg_names
    d._keep = list(keep)
    return d


def debug_info(what: str, fun: Callable, args: Sequence[Any], kwargs: dict | None = None,
               positions: Sequence[int] | None = None) -> DebugInfo:
  return DebugInfo(what, fun, (tuple(args), kwargs, positions))


def _arg_names(fun, args, kwargs, positions) -> list[str]:
  """Names for the flat leaves of ``(args, kwargs)``, positional args named
  from ``fun``'s signature (``positions`` maps them to parameters)."""
  try:
    params = [p.name for p in inspect.signature(fun).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  except (TypeError, ValueError):
    params = []
  positions = list(positions) if positions is not None else list(range(len(args)))
  names = []
  for a, pos in zip(args, positions):
    base = params[pos] if pos < len(params) else f"args[{pos}]"
    for path, _ in tree_util.tree_flatten_with_path(a)[0]:
      names.append(base + tree_util.keystr(path))
  for k, v in (kwargs or {}).items():
    for path, _ in tree_util.tree_flatten_with_path(v)[0]:
      names.append(k + tree_util.keystr(path))
  return names


class Trace:
  """An interpreter of primitives. Subclasses: EvalTrace here; JVPTrace,
  BatchTrace, JaxprTrace in ``interpreters/``."""

  debug: DebugInfo | None = None

  def arg_dependencies(self, tracer: "Tracer") -> list[str] | None:
    """The names of the traced inputs ``tracer`` depends on (None: unknown)."""
    return None

  def process_primitive(self, prim: Primitive, args: Sequence[Any], params: dict):
    raise NotImplementedError

  def full_raise(self, x):
    return x


class Tracer:
  """A value flowing through a trace. Subclasses carry the trace's data."""

  __array_priority__ = 1000
  _trace: Trace

  @property
  def aval(self) -> ShapedArray:
    raise NotImplementedError


class EvalTrace(Trace):
  """Runs primitives: the bottom of every stack of traces."""

  def process_primitive(self, prim, args, params):
    # Leaked tracers are detected in dispatch (cheaply, off the fast path).
    return prim.impl(*args, **params)


def escaped_tracer_error(t: "Tracer") -> Exception:
  return errors.UnexpectedTracerError(
      f"Encountered an unexpected tracer: {t}. A function transformed by rjax had a "
      "side effect that let one of its traced values escape (for example by storing it "
      "in a global or an attribute). Return the value from the transformed function "
      "instead.")


eval_trace = EvalTrace()


class _TLS(threading.local):
  trace: Trace = eval_trace

  def __init__(self):
    # Named axes in scope (vmap's and pmap's ``axis_name``), innermost last:
    # a list of (name, size). Thread-local like the current trace.
    self.axis_env: list = []


_tls = _TLS()


def current_trace() -> Trace:
  return _tls.trace


@contextmanager
def set_current_trace(trace: Trace):
  prev = _tls.trace
  _tls.trace = trace
  try:
    yield
  finally:
    _tls.trace = prev


@contextmanager
def extend_axis_env(name: Any, size: int):
  """Bring the named axis ``name`` of size ``size`` into scope while a
  transformation (vmap, pmap) traces its function."""
  if name is None:
    yield
    return
  _tls.axis_env.append((name, size))
  try:
    yield
  finally:
    _tls.axis_env.pop()


def axis_size(name: Any) -> int:
  """The size of the innermost named axis ``name``; NameError if unbound."""
  for n, size in reversed(_tls.axis_env):
    if n == name:
      return size
  raise NameError(f"unbound axis name: {name}. Collectives such as psum need an enclosing "
                  f"vmap(..., axis_name={name!r}) or pmap(..., axis_name={name!r}).")


# ---------------------------------------------------------------------------
# Tracer conversions that need a concrete value: errors that teach.


def _provenance(tracer: "Tracer") -> str:
  trace = getattr(tracer, "_trace", None)
  info = getattr(trace, "debug", None)
  if info is None:
    return ""
  msg = f" The error occurred while tracing the function {info.fun_name} for {info.what}."
  try:
    deps = trace.arg_dependencies(tracer)
  except Exception:  # noqa: BLE001  (provenance is best effort; never mask the error)
    deps = None
  if deps is None:
    deps, how = info.arg_names, "may depend on"
  else:
    how = "depends on"
  if deps:
    names = deps[0] if len(deps) == 1 else ", ".join(deps[:-1]) + f" and {deps[-1]}"
    plural = "s" if len(deps) > 1 else ""
    msg += f" This value {how} the traced argument{plural} {names}."
  return msg


def _tracer_error(cls_name: str, tracer: "Tracer", what: str, fix: str):
  cls = getattr(errors, cls_name)
  return cls(f"{what} of a traced array {tracer.aval.str_short()} ({tracer._origin()}). "
             f"The value is not known while the function is being traced."
             f"{_provenance(tracer)} {fix}")


def _tracer_bool(self):
  return bool(_raise(_tracer_error(
      "TracerBoolConversionError", self, "Attempted boolean conversion",
      "Use rjax.lax.cond or jnp.where for value-dependent branches, or mark the argument "
      "static (static_argnums) if it is a Python constant.")))


def _tracer_int(self):
  return int(_raise(_tracer_error(
      "TracerIntegerConversionError", self, "Attempted integer conversion",
      "Use rjax.lax.dynamic_slice / dynamic_index_in_dim for traced indices, or mark the "
      "argument static (static_argnums).")))


def _tracer_to_int(self):
  # int(tracer) is a ConcretizationTypeError in JAX; only __index__ (a tracer
  # used as an index) is a TracerIntegerConversionError.
  return int(_raise(_tracer_error(
      "ConcretizationTypeError", self, "Attempted integer conversion",
      "Use rjax.lax.dynamic_slice / dynamic_index_in_dim for traced indices, or mark the "
      "argument static (static_argnums).")))


def _tracer_float(self):
  return float(_raise(_tracer_error(
      "ConcretizationTypeError", self, "Attempted float conversion",
      "Keep the value as an array, or mark the argument static (static_argnums).")))


def _tracer_array(self, dtype=None, copy=None):
  raise _tracer_error(
      "TracerArrayConversionError", self, "Attempted NumPy conversion (np.asarray)",
      "Use rjax.numpy functions instead of NumPy ones inside transformed functions, or "
      "rjax.pure_callback for host code.")


def _raise(e):
  raise e


Tracer.__bool__ = _tracer_bool
Tracer.__int__ = _tracer_to_int
Tracer.__index__ = _tracer_int
Tracer.__float__ = _tracer_float
Tracer.__array__ = _tracer_array
Tracer.shape = property(lambda self: self.aval.shape)
Tracer.dtype = property(lambda self: self.aval.dtype)
Tracer.ndim = property(lambda self: self.aval.ndim)
Tracer.size = property(lambda self: self.aval.size)
Tracer.weak_type = property(lambda self: self.aval.weak_type)
Tracer.__len__ = lambda self: (self.aval.shape[0] if self.aval.shape
                               else _raise(TypeError("len() of unsized object")))
Tracer.__iter__ = lambda self: iter([self[i] for i in range(len(self))])
Tracer._origin = lambda self: "a tracer"
Tracer.__repr__ = lambda self: f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"
Tracer.__hash__ = None


# ---------------------------------------------------------------------------
# Jaxprs: the inspectable IR, printed in JAX's textual form.


class Var:
  """A variable of a jaxpr (named at print time: a, b, ..., z, ba, ...)."""

  __slots__ = ("aval",)

  def __init__(self, aval: ShapedArray):
    self.aval = aval

  def __repr__(self):
    return f"Var({self.aval.str_short()})"


class Literal:
  """A constant scalar inlined into a jaxpr (printed as ``2.0:f32[]``)."""

  __slots__ = ("val", "aval")

  def __init__(self, val: Any, aval: ShapedArray):
    self.val = val
    self.aval = aval

  def __repr__(self):
    return f"Literal({self.val})"


class JaxprEqn:
  __slots__ = ("invars", "outvars", "primitive", "params")

  def __init__(self, invars, outvars, primitive, params):
    self.invars, self.outvars, self.primitive, self.params = invars, outvars, primitive, params


class Jaxpr:
  """``{ lambda constvars ; invars . let eqns in outvars }``."""

  def __init__(self, constvars: list, invars: list, outvars: list, eqns: list):
    self.constvars, self.invars, self.outvars, self.eqns = constvars, invars, outvars, eqns

  @property
  def in_avals(self):
    return [v.aval for v in self.invars]

  @property
  def out_avals(self):
    return [v.aval for v in self.outvars]

  def __str__(self):
    return pp_jaxpr(self)

  __repr__ = __str__

  def pretty_print(self, width: int = 80) -> str:
    return pp_jaxpr(self, width)


class ClosedJaxpr:
  """A jaxpr together with the values of its constvars."""

  def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
    self.jaxpr, self.consts = jaxpr, list(consts)

  in_avals = property(lambda self: self.jaxpr.in_avals)
  out_avals = property(lambda self: self.jaxpr.out_avals)
  eqns = property(lambda self: self.jaxpr.eqns)

  def __str__(self):
    return pp_jaxpr(self.jaxpr)

  __repr__ = __str__

  def pretty_print(self, width: int = 80) -> str:
    return pp_jaxpr(self.jaxpr, width)


def _encode_name(n: int) -> str:
  s = ""
  while not s or n:
    n, i = divmod(n, 26)
    s = chr(97 + i) + s
  return s


def _pp_value(v) -> str:
  if isinstance(v, np.dtype):
    return v.name
  if isinstance(v, type) and issubclass(v, np.generic):
    return np.dtype(v).name
  if isinstance(v, (ClosedJaxpr, Jaxpr)):
    return str(v)
  if isinstance(v, tuple):
    inner = ", ".join(_pp_value(x) for x in v)
    return f"({inner},)" if len(v) == 1 else f"({inner})"
  if isinstance(v, list):
    return "[" + ", ".join(_pp_value(x) for x in v) + "]"
  return str(v)


def _pp_literal(lit: Literal) -> str:
  val = lit.val
  if isinstance(val, np.ndarray):
    val = val.item() if val.ndim == 0 else val
  if isinstance(val, float) and val.is_integer() and abs(val) < 1e16:
    s = f"{val:.1f}"
  else:
    s = str(val)
  return f"{s}:{lit.aval.str_short()}"


def _has_jaxpr(v) -> bool:
  if isinstance(v, (ClosedJaxpr, Jaxpr)):
    return True
  return isinstance(v, (tuple, list)) and any(_has_jaxpr(x) for x in v)


def pp_jaxpr(jaxpr: Jaxpr, width: int = 80, names: dict | None = None, indent: int = 0) -> str:
  """``jaxpr`` in JAX's textual form. Sub-jaxprs in params (control flow)
  print nested and indented, their variables named on from the outer ones',
  as JAX does."""
  names = {} if names is None else names
  used = {id(v) for e in jaxpr.eqns for v in e.invars} | {id(v) for v in jaxpr.outvars}

  def name(v) -> str:
    if isinstance(v, Literal):
      return _pp_literal(v)
    if v is None:
      return "_"
    k = id(v)
    if k not in names:
      names[k] = _encode_name(len(names))
    return names[k]

  def binder(v) -> str:
    return f"{name(v)}:{v.aval.str_short()}"

  def out_binder(v) -> str:
    # An equation's output nothing reads prints as JAX's drop var ``_``.
    return f"_:{v.aval.str_short()}" if v is None or id(v) not in used else binder(v)

  def sub(v, ind: int) -> str:
    """A param value; nested jaxprs print at indentation ``ind``."""
    if isinstance(v, (ClosedJaxpr, Jaxpr)):
      return pp_jaxpr(v.jaxpr if isinstance(v, ClosedJaxpr) else v, width, names, ind)
    if isinstance(v, tuple) and _has_jaxpr(v):
      pad = " " * ind
      inner = "".join(f"\n{pad}  {sub(x, ind + 2)}" for x in v)
      return f"({inner}\n{pad})"
    return _pp_value(v)

  consts = " ".join(binder(v) for v in jaxpr.constvars)
  ins = " ".join(binder(v) for v in jaxpr.invars)
  head = f"{{ lambda {consts}{'; ' if consts else ' ; '}{ins}. let" if consts else \
      f"{{ lambda ; {ins}. let"
  eqn_lines = []
  for e in jaxpr.eqns:
    outs = " ".join(out_binder(v) for v in e.outvars)
    args = " ".join(name(v) for v in e.invars)
    pp = pp_params.get(e.primitive)
    params = sorted((pp(e) if pp else e.params).items())
    nested = any(_has_jaxpr(v) for _, v in params)
    flat = None if nested else " ".join(f"{k}={_pp_value(v)}" for k, v in params)
    lhs = f"{outs} = {e.primitive.name}"
    eqn_lines.append((lhs, flat, params, args))
  outs = ", ".join(name(v) for v in jaxpr.outvars)
  tail = f"in ({outs},) }}" if len(jaxpr.outvars) == 1 else f"in ({outs}) }}"

  def one(lhs, flat, args):
    return f"{lhs}[{flat}] {args}".rstrip() if flat else f"{lhs} {args}".rstrip()

  pad = " " * indent
  if all(flat is not None for _, flat, _, _ in eqn_lines):
    body = "; ".join(one(lhs, flat, args) for lhs, flat, _, args in eqn_lines)
    flat_all = f"{head} {body} {tail}"   # JAX prints "let  in" for no equations
    if len(flat_all) + indent <= width and "\n" not in flat_all:
      return flat_all
  lines = [head]
  for lhs, flat, params, args in eqn_lines:
    line = f"{pad}    " + one(lhs, flat, args) if flat is not None else None
    if line is None or (len(line) > width and params):
      lines.append(f"{pad}    {lhs}[")
      for k, v in params:
        lines.append(f"{pad}      {k}={sub(v, indent + 6)}")
      lines.append(f"{pad}    ] {args}".rstrip())
    else:
      lines.append(line)
  lines.append(f"{pad}  " + tail)
  return "\n".join(lines)


#: Per-primitive parameter printers (JAX elides some parameters in its text,
#: e.g. broadcast_in_dim's shape, which the output type already shows).
pp_params: dict[Primitive, Callable] = {}


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args: Any) -> list:
  """Run a jaxpr by binding each equation's primitive (under the current trace)."""
  env: dict[int, Any] = {}

  def read(v):
    return v.val if isinstance(v, Literal) else env[id(v)]

  for v, x in zip(jaxpr.constvars, consts):
    env[id(v)] = x
  if len(args) != len(jaxpr.invars):
    raise TypeError(f"eval_jaxpr: expected {len(jaxpr.invars)} arguments, got {len(args)}")
  for v, x in zip(jaxpr.invars, args):
    env[id(v)] = x
  for e in jaxpr.eqns:
    out = e.primitive.bind(*[read(v) for v in e.invars], **e.params)
    outs = out if e.primitive.multiple_results else [out]
    for v, x in zip(e.outvars, outs):
      if v is not None:
        env[id(v)] = x
  return [read(v) for v in jaxpr.outvars]


def typecheck_jaxpr(jaxpr: Jaxpr) -> None:
  """Check that every equation's output avals are what its primitive's
  abstract evaluation gives for its inputs, and that variables are defined
  before use. Raises TypeError naming the equation."""
  defined = {id(v) for v in jaxpr.constvars} | {id(v) for v in jaxpr.invars}
  for i, e in enumerate(jaxpr.eqns):
    for v in e.invars:
      if not isinstance(v, Literal) and id(v) not in defined:
        raise TypeError(f"typecheck: equation {i} ({e.primitive}) reads an undefined variable")
    out = e.primitive.abstract_eval(*[v.aval for v in e.invars], **e.params)
    outs = list(out) if e.primitive.multiple_results else [out]
    got = [v.aval for v in e.outvars]
    if [(a.shape, a.dtype) for a in outs] != [(a.shape, a.dtype) for a in got]:
      raise TypeError(f"typecheck: equation {i} ({e.primitive}) produces {outs}, "
                      f"the jaxpr says {got}")
    for v in e.params.values():
      for j in (v if isinstance(v, (tuple, list)) else (v,)):
        if isinstance(j, (ClosedJaxpr, Jaxpr)):   # control flow's sub-jaxprs
          typecheck_jaxpr(j.jaxpr if isinstance(j, ClosedJaxpr) else j)
    defined |= {id(v) for v in e.outvars}
  for v in jaxpr.outvars:
    if not isinstance(v, Literal) and id(v) not in defined:
      raise TypeError("typecheck: an output variable is undefined")
