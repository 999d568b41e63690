"""The core of the tracing machinery: abstract values, primitives, traces.

Every ``rjax.lax`` operation is a :class:`Primitive`. ``prim.bind(*args,
**params)`` hands the operation to the *current trace* of this thread: the
eval trace runs it (through the Rust executor, see ``dispatch.py``); a
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

import threading
from contextlib import contextmanager
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import dtypes

# ---------------------------------------------------------------------------
# Abstract values


class ShapedArray:
  """The abstract value of an array: shape, dtype and weak type."""

  __slots__ = ("shape", "dtype", "weak_type")
  array_abstraction_level = 1

  def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
    self.shape = tuple(int(d) for d in shape)
    self.dtype = np.dtype(dtype)
    self.weak_type = bool(weak_type)

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
    return hash((self.shape, self.dtype, self.weak_type))

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

#: Primitives that have no derivative by design (integer/bool outputs, etc.).
nondifferentiable: set[Primitive] = set()


def new_primitive(name: str, multiple_results: bool = False) -> Primitive:
  p = Primitive(name)
  p.multiple_results = multiple_results
  if name in primitives:
    raise ValueError(f"primitive {name} defined twice")
  primitives[name] = p
  return p


# ---------------------------------------------------------------------------
# Traces


class Trace:
  """An interpreter of primitives. Subclasses: EvalTrace here; JVPTrace,
  BatchTrace, JaxprTrace in ``interpreters/``."""

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
  from rjax._src.errors import UnexpectedTracerError
  return UnexpectedTracerError(
      f"Encountered an unexpected tracer: {t}. A function transformed by rjax had a "
      "side effect that let one of its traced values escape (for example by storing it "
      "in a global or an attribute). Return the value from the transformed function "
      "instead.")


eval_trace = EvalTrace()


class _TLS(threading.local):
  trace: Trace = eval_trace


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
