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

import functools
import gc
import inspect
import operator
import os
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src.base import dtypes, errors, tree_util
from rjax._src.base.config import config

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
    return f"ShapedArray({_aval_str(self).lstrip('~')}{w})"

  def __str__(self):   # JAX's: "float32[3]", "~float32[]" when weakly typed
    return _aval_str(self)


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
  if isinstance(x, (bool, int, float, complex)):
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
    f = self.fun
    while isinstance(f, functools.partial):   # as JAX names partials: by their function
      f = f.func
    return getattr(f, "__name__", type(f).__name__)

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
  #: How many jit calls enclosed this trace's creation (``jit_level``).
  jit_level = 0

  def concrete_ok(self) -> bool:
    """Whether this trace's tracers may show their concrete values: not
    from inside a jit entered after the trace began (a jit under grad traces
    abstractly, as in JAX)."""
    return self.jit_level >= _tls.jit_level

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


def check_leaks(trace: Trace) -> None:
  """With ``jax_check_tracer_leaks`` on: raise if a tracer of ``trace`` (whose
  transformation just finished) is still referenced, e.g. stored in a
  global (JAX's ``Leaked trace`` error). The caller drops its own tracers
  first."""
  if not (config.checks_active and config.read("jax_check_tracer_leaks")):
    return
  gc.collect()
  leaked = [r for r in gc.get_referrers(trace) if isinstance(r, Tracer)]
  if leaked:
    msgs = "\n\n".join(repr(t) for t in leaked)
    raise Exception(f"Leaked trace {type(trace).__name__}. Leaked tracer(s):\n\n{msgs}\n")


def escaped_tracer_error(t: "Tracer") -> Exception:
  return errors.UnexpectedTracerError(
      f"Encountered an unexpected tracer: {t}. A function transformed by rjax had a "
      "side effect that let one of its traced values escape (for example by storing it "
      "in a global or an attribute). Return the value from the transformed function "
      "instead.")


eval_trace = EvalTrace()


class _TLS(threading.local):
  trace: Trace = eval_trace
  source_info = None
  name_stack: tuple = ()
  jit_level = 0

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


def jit_level() -> int:
  return _tls.jit_level


@contextmanager
def abstract_jit_region():
  """A jit traced inline under another transformation: inside, the values
  of the enclosing transformations' tracers are abstract (not concrete), as
  they are when JAX traces that jit."""
  _tls.jit_level += 1
  try:
    yield
  finally:
    _tls.jit_level -= 1


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
# Tracer conversions that need a concrete value. As in JAX, a tracer whose
# value is known (a JVP tracer over a concrete primal: ``grad``, ``jvp`` and
# friends outside ``jit``) converts like an array; the others raise errors
# that teach.


def to_concrete_value(x):
  """The concrete value behind ``x`` (``x`` itself if it is not a tracer),
  or None while it is only known abstractly (under ``jit``)."""
  if isinstance(x, Tracer):
    return x.to_concrete_value()
  return x


def is_concrete(x) -> bool:
  return to_concrete_value(x) is not None


def concrete_or_error(force: Callable | None, val: Any, context: str = ""):
  """``force(val)`` on the concrete value of ``val``; ConcretizationTypeError
  (with ``context`` in its message) if ``val`` is only known abstractly."""
  force = force if force is not None else (lambda v: v)
  if isinstance(val, Tracer):
    c = val.to_concrete_value()
    if c is None:
      raise _tracer_error("ConcretizationTypeError", val, "Abstract tracer value encountered "
                          "where a concrete value is expected",
                          context or "Mark the argument static (static_argnums) if it is a "
                          "Python constant.")
    return force(c)
  return force(val)


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
  # A JVP tracer is abstract because its primal is: explain the primal (the
  # transformation that traces abstractly, e.g. the jit around a grad).
  inner = getattr(tracer, "_abstract_inner", None)
  while inner is not None:
    nxt = inner()
    if not isinstance(nxt, Tracer):
      break
    tracer = nxt
    inner = getattr(tracer, "_abstract_inner", None)
  return cls(f"{what} of a traced array {tracer.aval.str_short()} ({tracer._origin()}). "
             f"The value is not known while the function is being traced."
             f"{_provenance(tracer)} {fix}")


def _check_bool_conversion(t) -> None:
  if t.aval.size == 0:
    raise ValueError("The truth value of an empty array is ambiguous. Use `array.size > 0` "
                     "to check that an array is not empty.")
  if t.aval.size > 1:
    raise ValueError("The truth value of an array with more than one element is ambiguous. "
                     "Use a.any() or a.all()")


def _check_scalar_conversion(t) -> None:
  if t.aval.ndim > 0:
    raise TypeError(f"Only scalar arrays can be converted to Python scalars; got "
                    f"arr.ndim={t.aval.ndim}")


def _check_integer_conversion(t) -> None:
  if not (t.aval.shape == () and (dtypes.is_int(t.aval.dtype) or dtypes.is_bool(t.aval.dtype))):
    raise TypeError("Only integer scalar arrays can be converted to a scalar index.")


def _tracer_bool(self):
  c = self.to_concrete_value()
  if c is not None:
    return bool(c)
  _check_bool_conversion(self)
  raise _tracer_error(
      "TracerBoolConversionError", self, "Attempted boolean conversion",
      "Use rjax.lax.cond or jnp.where for value-dependent branches, or mark the argument "
      "static (static_argnums) if it is a Python constant.")


def _tracer_int(self):
  c = self.to_concrete_value()
  if c is not None:
    return int(c)
  _check_scalar_conversion(self)
  raise _tracer_error(
      "ConcretizationTypeError", self, "Attempted integer conversion (int())",
      "If trying to convert the data type of a value, use x.astype(int) or jnp.asarray(x, "
      "int) instead; for a traced size, mark the argument static (static_argnums).")


def _tracer_index(self):
  c = self.to_concrete_value()
  if c is not None:
    return operator.index(c)
  _check_integer_conversion(self)
  raise _tracer_error(
      "TracerIntegerConversionError", self, "Attempted integer conversion (__index__)",
      "Use rjax.lax.dynamic_slice / dynamic_index_in_dim for traced indices, or mark the "
      "argument static (static_argnums).")


def _int_like(fn):
  def conv(self):
    c = self.to_concrete_value()
    if c is not None:
      return fn(c)
    _check_integer_conversion(self)
    raise _tracer_error("TracerIntegerConversionError", self,
                        f"Attempted integer conversion ({fn.__name__}())",
                        "Mark the argument static (static_argnums).")
  return conv


def _tracer_float(self):
  # As in JAX, float() and complex() never concretize, even under grad.
  _check_scalar_conversion(self)
  raise _tracer_error(
      "ConcretizationTypeError", self, "Attempted float conversion",
      "If trying to convert the data type of a value, use x.astype(float) or jnp.asarray(x, "
      "float) instead; otherwise keep the value as an array, or mark the argument static "
      "(static_argnums).")


def _tracer_complex(self):
  _check_scalar_conversion(self)
  raise _tracer_error(
      "ConcretizationTypeError", self, "Attempted complex conversion",
      "Use x.astype(complex) or jnp.asarray(x, complex) instead.")


def _tracer_array(self, dtype=None, copy=None):
  raise _tracer_error(
      "TracerArrayConversionError", self, "Attempted NumPy conversion (np.asarray)",
      "Use rjax.numpy functions instead of NumPy ones inside transformed functions, or "
      "rjax.pure_callback for host code.")


def _tracer_item(self, *args):
  c = concrete_or_error(None, self, "This occurred in the item() method of rjax.Array.")
  return c.item(*args)


def _concretization_method(name):
  def method(self, *args, **kwargs):
    raise _tracer_error("ConcretizationTypeError", self, f"The {name}() method was called on",
                        f"{name}() needs a concrete array: call it outside transformed "
                        f"functions.")
  method.__name__ = name
  return method


def _no_attribute(name):
  def get(self):
    raise AttributeError(f"The '{name}' attribute is not available on a traced array with "
                         f"shape {self.aval.str_short()}.")
  return property(get)


def _raise(e):
  raise e


def _aval_str(aval) -> str:
  """JAX's ``str(aval)``: ``float32[3]``, and ``~float32[]`` for a weak type."""
  return f"{'~' if aval.weak_type else ''}{aval.dtype.name}[{','.join(map(str, aval.shape))}]"


def _short_repr(x) -> str:
  return x._short_repr() if isinstance(x, Tracer) else str(x)


Tracer.to_concrete_value = lambda self: None
Tracer.__bool__ = _tracer_bool
Tracer.__int__ = _tracer_int
Tracer.__index__ = _tracer_index
Tracer.__hex__ = _int_like(hex)
Tracer.__oct__ = _int_like(oct)
Tracer.__float__ = _tracer_float
Tracer.__complex__ = _tracer_complex
Tracer.__array__ = _tracer_array
Tracer.item = _tracer_item
Tracer.tolist = _concretization_method("tolist")
Tracer.tobytes = _concretization_method("tobytes")
Tracer.__dlpack__ = _concretization_method("__dlpack__")
Tracer.__reduce__ = _concretization_method("__reduce__")
Tracer.device = _no_attribute("device")
Tracer.sharding = _no_attribute("sharding")
Tracer.shape = property(lambda self: self.aval.shape)
Tracer.dtype = property(lambda self: self.aval.dtype)
Tracer.ndim = property(lambda self: self.aval.ndim)
Tracer.size = property(lambda self: self.aval.size)
Tracer.weak_type = property(lambda self: self.aval.weak_type)
Tracer.__len__ = lambda self: (self.aval.shape[0] if self.aval.shape
                               else _raise(TypeError("len() of unsized object")))
Tracer.__iter__ = lambda self: iter([self[i] for i in range(len(self))])
Tracer.__reversed__ = lambda self: iter(self[::-1])
Tracer._origin = lambda self: "a tracer"
Tracer._short_repr = lambda self: f"{type(self).__name__}({_aval_str(self.aval)})"
Tracer.__repr__ = lambda self: self._short_repr()
Tracer.__hash__ = None


# ---------------------------------------------------------------------------
# Jaxprs: the inspectable IR, printed in JAX's textual form.


class Var:
  """A variable of a jaxpr (named at print time: a, b, ..., z, ba, ...)."""

  __slots__ = ("aval",)

  def __init__(self, aval: ShapedArray):
    self.aval = aval

  def __repr__(self):
    return f"Var(id={id(self)}):{_aval_str(self.aval).lstrip('~')}"


class Literal:
  """A constant scalar inlined into a jaxpr (printed as ``2.0:f32[]``)."""

  __slots__ = ("val", "aval")

  def __init__(self, val: Any, aval: ShapedArray):
    self.val = val
    self.aval = aval

  def __repr__(self):   # as JAX prints them: Literal(1.0), Literal(TypedInt(1, dtype=int32))
    v = self.val.item() if isinstance(self.val, (np.ndarray, np.generic)) else self.val
    dt = self.aval.dtype
    if dtypes.is_bool(dt):
      v = bool(v)
    elif dtypes.is_inexact(dt):
      v = float(v) if not isinstance(v, complex) else v
    elif isinstance(self.val, int) and self.aval.weak_type:
      return f"Literal(TypedInt({int(v)}, dtype={dt.name}))"
    return f"Literal({v})"


class JaxprEqn:
  __slots__ = ("invars", "outvars", "primitive", "params", "source_info")

  def __init__(self, invars, outvars, primitive, params, source_info=None):
    self.invars, self.outvars, self.primitive, self.params = invars, outvars, primitive, params
    self.source_info = source_info

  def replace(self, **kw) -> "JaxprEqn":
    d = {k: getattr(self, k) for k in self.__slots__}
    d.update(kw)
    return JaxprEqn(**d)

  def __repr__(self):
    return f"JaxprEqn({self.primitive.name})"


# ---------------------------------------------------------------------------
# Source info: where the user's code bound each equation (the first frame
# outside rjax), and the name stack (named_scope / named_call). Recorded when
# a jaxpr is built; the file/line/column text is computed only when asked
# for (print_saved_residuals, error messages).

_RJAX_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_internal_files: dict[str, bool] = {}


class SourceInfo:
  """A frame's code object and instruction (cheap to record) and the name
  stack active then."""

  __slots__ = ("code", "lasti", "name_stack")

  def __init__(self, code, lasti: int, name_stack: tuple = ()):
    self.code, self.lasti, self.name_stack = code, lasti, name_stack

  def position(self) -> tuple[str, int, int, str]:
    """``(file, line, column, function)``; the column is 0-based, as JAX prints it."""
    line, col = self.code.co_firstlineno, 0
    try:
      pos = list(self.code.co_positions())[self.lasti // 2]
      line = pos[0] if pos[0] is not None else line
      col = pos[2] if pos[2] is not None else 0
    except (AttributeError, IndexError):   # Python < 3.11: line only
      for start, _, ln in self.code.co_lines():
        if start <= self.lasti and ln is not None:
          line = ln
    return self.code.co_filename, line, col, getattr(self.code, "co_qualname", self.code.co_name)

  def summarize(self) -> str:
    """``file:line:col (function)``, JAX's ``source_info_util.summarize``."""
    f, line, col, fn = self.position()
    return f"{f}:{line}:{col} ({fn})"

  def __repr__(self):
    return f"SourceInfo({self.summarize()})"


def current_source_info() -> SourceInfo | None:
  """Where the user's code is now: the innermost frame outside rjax (or the
  source info an interpreter re-binding an equation set)."""
  ov = _tls.source_info
  if ov is not None:
    return ov
  f = sys._getframe(2)
  internal = _internal_files
  while f is not None:
    c = f.f_code
    fn = c.co_filename
    r = internal.get(fn)
    if r is None:
      r = internal[fn] = fn.startswith(_RJAX_DIR)
    if not r:
      return SourceInfo(c, f.f_lasti, _tls.name_stack)
    f = f.f_back
  return None


@contextmanager
def source_info_override(info: SourceInfo | None):
  """Equations bound inside get ``info`` (an interpreter re-binding an
  equation of an existing jaxpr keeps the equation's source info)."""
  prev = _tls.source_info
  _tls.source_info = info
  try:
    yield
  finally:
    _tls.source_info = prev


@contextmanager
def extend_name_stack(name: str):
  """``named_scope``: equations traced inside carry ``name`` in their name stack."""
  if not isinstance(name, str):
    raise TypeError("named_scope name argument must be a string.")
  prev = _tls.name_stack
  _tls.name_stack = prev + (name,)
  try:
    yield
  finally:
    _tls.name_stack = prev


class Jaxpr:
  """``{ lambda constvars ; invars . let eqns in outvars }``."""

  def __init__(self, constvars: list, invars: list, outvars: list, eqns: list):
    self.constvars, self.invars, self.outvars, self.eqns = constvars, invars, outvars, eqns

  def replace(self, **kw) -> "Jaxpr":
    d = dict(constvars=self.constvars, invars=self.invars, outvars=self.outvars, eqns=self.eqns)
    d.update(kw)
    return Jaxpr(d["constvars"], d["invars"], d["outvars"], d["eqns"])

  @property
  def in_avals(self):
    return [v.aval for v in self.invars]

  @property
  def out_avals(self):
    return [v.aval for v in self.outvars]

  def __str__(self):
    return pp_jaxpr(self)

  __repr__ = __str__

  def pretty_print(self, width: int = 80, *, name_stack: bool = False, **_) -> str:
    """The text of the jaxpr; ``name_stack=True`` ends each equation's line
    with its ``named_scope`` stack (``# [outer/inner]``), as JAX does."""
    return pp_jaxpr(self, width, name_stack=name_stack)


class ClosedJaxpr:
  """A jaxpr together with the values of its constvars (``.consts``, also
  ``.literals`` as JAX names them)."""

  def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
    self.jaxpr, self.consts = jaxpr, list(consts)

  @property
  def literals(self) -> list:
    return self.consts

  def replace(self, *, jaxpr=None, consts=None) -> "ClosedJaxpr":
    return ClosedJaxpr(self.jaxpr if jaxpr is None else jaxpr,
                       self.consts if consts is None else consts)

  in_avals = property(lambda self: self.jaxpr.in_avals)
  out_avals = property(lambda self: self.jaxpr.out_avals)
  eqns = property(lambda self: self.jaxpr.eqns)

  def __str__(self):
    return pp_jaxpr(self.jaxpr)

  __repr__ = __str__

  def pretty_print(self, width: int = 80, *, name_stack: bool = False, **_) -> str:
    return pp_jaxpr(self.jaxpr, width, name_stack=name_stack)


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
    inner = ", ".join(_pp_item(x) for x in v)
    return f"({inner},)" if len(v) == 1 else f"({inner})"
  if isinstance(v, list):
    return "[" + ", ".join(_pp_item(x) for x in v) + "]"
  return str(v)


def _pp_item(x) -> str:
  # inside a tuple or list, a plain value prints as Python's str(tuple)
  # does, by its repr (JAX prints `precision=(Precision.HIGH, Precision.HIGH)`)
  if isinstance(x, (np.dtype, type, ClosedJaxpr, Jaxpr, tuple, list)):
    return _pp_value(x)
  return repr(x)


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


def pp_jaxpr(jaxpr: Jaxpr, width: int = 80, names: dict | None = None, indent: int = 0,
             name_stack: bool = False) -> str:
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
    # (JAX keeps the space before the arguments even when there are none)
    return f"{lhs}[{flat}] {args}" if flat else f"{lhs} {args}"

  pad = " " * indent
  if name_stack and all(flat is not None for _, flat, _, _ in eqn_lines):
    body = [f"{pad}    " + one(lhs, flat, args) for lhs, flat, _, args in eqn_lines]
    w = max((len(b) for b in body), default=0)
    stacks = ["/".join(e.source_info.name_stack) if e.source_info is not None else ""
              for e in jaxpr.eqns]
    lines = [_fill_head([binder(v) for v in jaxpr.constvars],
                        [binder(v) for v in jaxpr.invars], width, indent)]
    lines += [f"{b.ljust(w)} # [{st}]" for b, st in zip(body, stacks)]
    return "\n".join(lines + [f"{pad}  " + tail])
  if all(flat is not None for _, flat, _, _ in eqn_lines):
    body = "; ".join(one(lhs, flat, args) for lhs, flat, _, args in eqn_lines)
    flat_all = f"{head} {body} {tail}"   # JAX prints "let  in" for no equations
    if len(flat_all) + indent <= width and "\n" not in flat_all:
      return flat_all
  lines = [_fill_head([binder(v) for v in jaxpr.constvars], [binder(v) for v in jaxpr.invars],
                      width, indent)]
  for lhs, flat, params, args in eqn_lines:
    line = f"{pad}    " + one(lhs, flat, args) if flat is not None else None
    if line is None or (len(line) > width and params):
      lines.append(f"{pad}    {lhs}[")
      for k, v in params:
        lines.append(f"{pad}      {k}={sub(v, indent + 6)}")
      lines.append(f"{pad}    ] {args}")
    else:
      lines.append(line)
  lines.append(f"{pad}  " + tail)
  return "\n".join(lines)


def _fill_head(consts: list[str], ins: list[str], width: int, indent: int) -> str:
  """``{ lambda consts; ins. let`` with JAX's line filling: a binder goes on
  a new line (indented 4) once the line has reached ``width``."""
  parts, col = ["{ lambda "], indent + 9

  def add(vs):
    nonlocal col
    for i, b in enumerate(vs):
      if i:
        if col + 1 > width:
          parts.append("\n" + " " * (indent + 4))
          col = indent + 4
        else:
          parts.append(" ")
          col += 1
      parts.append(b)
      col += len(b)

  add(consts)
  parts.append("; " if consts else "; ")
  col += 2
  add(ins)
  parts.append(". let")
  return "".join(parts)


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
  tls = _tls
  prev = tls.source_info
  try:
    for e in jaxpr.eqns:
      # equations re-bound into a new jaxpr keep their source info
      tls.source_info = e.source_info or prev
      out = e.primitive.bind(*[read(v) for v in e.invars], **e.params)
      outs = out if e.primitive.multiple_results else [out]
      for v, x in zip(e.outvars, outs):
        if v is not None:
          env[id(v)] = x
  finally:
    tls.source_info = prev
  return [read(v) for v in jaxpr.outvars]


def jaxpr_as_fun(closed: ClosedJaxpr, *consts) -> Callable:
  """``closed`` as a function of its inputs (binds each equation under the
  current trace, so it can be transformed)."""
  if isinstance(closed, Jaxpr):
    return lambda *args: eval_jaxpr(closed, consts, *args)
  return lambda *args: eval_jaxpr(closed.jaxpr, closed.consts, *args)


def new_jaxpr_eqn(invars, outvars, primitive, params, effects=None, source_info=None,
                  ctx=None) -> JaxprEqn:
  """A jaxpr equation (``jax.extend.core.new_jaxpr_eqn``; effects are not
  tracked by rjax)."""
  return JaxprEqn(list(invars), list(outvars), primitive, dict(params), source_info)


def primal_dtype_to_tangent_dtype(dtype):
  """The dtype of tangents of a ``dtype`` value: itself for floats, float0
  for ints and bools."""
  return np.dtype(dtype) if dtypes.is_inexact(dtype) else dtypes.float0


def valid_jaxtype(x) -> bool:
  """Whether ``x`` is a value rjax can trace (an array or a scalar)."""
  try:
    get_aval(x)
  except TypeError:
    return False
  return True


def typecheck_jaxpr(jaxpr: Jaxpr) -> None:
  """Check that every equation's output avals are what its primitive's
  abstract evaluation gives for its inputs, and that variables are defined
  before use. Raises TypeError naming the equation."""
  defined = {id(v) for v in jaxpr.constvars} | {id(v) for v in jaxpr.invars}
  for i, e in enumerate(jaxpr.eqns):
    for v in e.invars:
      if not isinstance(v, Literal) and id(v) not in defined:
        raise errors.JaxprTypeError(f"typecheck: equation {i} ({e.primitive}) reads an "
                                  f"undefined variable")
    out = e.primitive.abstract_eval(*[v.aval for v in e.invars], **e.params)
    outs = list(out) if e.primitive.multiple_results else [out]
    got = [v.aval for v in e.outvars]
    if [(a.shape, a.dtype) for a in outs] != [(a.shape, a.dtype) for a in got]:
      raise errors.JaxprTypeError(f"typecheck: equation {i} ({e.primitive}) produces {outs}, "
                      f"the jaxpr says {got}")
    for v in e.params.values():
      for j in (v if isinstance(v, (tuple, list)) else (v,)):
        if isinstance(j, (ClosedJaxpr, Jaxpr)):   # control flow's sub-jaxprs
          typecheck_jaxpr(j.jaxpr if isinstance(j, ClosedJaxpr) else j)
    defined |= {id(v) for v in e.outvars}
  for v in jaxpr.outvars:
    if not isinstance(v, Literal) and id(v) not in defined:
      raise errors.JaxprTypeError("typecheck: an output variable is undefined")
