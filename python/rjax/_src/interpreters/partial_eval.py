"""Building jaxprs by tracing: ``DynamicJaxprTrace`` records every primitive
bound while it is the current trace (``make_jaxpr``, and later ``jit``)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base.config import config
from rjax._src.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, ShapedArray, Var


class DynamicJaxprTracer(core.Tracer):
  __slots__ = ("_trace", "_aval", "var")

  def __init__(self, trace, aval: ShapedArray, var: Var):
    self._trace, self._aval, self.var = trace, aval, var

  @property
  def aval(self) -> ShapedArray:
    return self._aval

  def _origin(self):
    return "an argument or intermediate value of a function being traced to a jaxpr"

  def _short_repr(self):
    return f"JitTracer({core._aval_str(self._aval)})"


class DynamicJaxprTrace(core.Trace):
  #: Record where the user's code bound each equation (print_saved_residuals
  #: and errors read it; the linear jaxprs of linearize do not need it).
  record_source_info = True

  def __init__(self):
    self.eqns: list[JaxprEqn] = []
    self.invars: list[Var] = []
    self.constvars: list[Var] = []
    self.consts: list[Any] = []
    self._const_ids: dict[int, Var] = {}

  def arg_dependencies(self, tracer) -> list[str] | None:
    if self.debug is None or not isinstance(tracer, DynamicJaxprTracer) or tracer._trace is not self:
      return None
    producer = {id(v): e for e in self.eqns for v in e.outvars}
    index = {id(v): i for i, v in enumerate(self.invars)}
    seen, stack, hit = set(), [tracer.var], set()
    while stack:
      v = stack.pop()
      if id(v) in seen or isinstance(v, core.Literal):
        continue
      seen.add(id(v))
      if id(v) in index:
        hit.add(index[id(v)])
      elif id(v) in producer:
        stack.extend(producer[id(v)].invars)
    names = self.debug.arg_names
    return [names[i] for i in sorted(hit) if i < len(names)]

  def new_arg(self, aval: ShapedArray) -> DynamicJaxprTracer:
    v = Var(aval)
    self.invars.append(v)
    return DynamicJaxprTracer(self, aval, v)

  def getvar(self, x: Any):
    if isinstance(x, DynamicJaxprTracer) and x._trace is self:
      return x.var
    if isinstance(x, (bool, int, float)):
      return Literal(x, core.get_aval(x))
    aval = core.get_aval(x)
    if not isinstance(x, core.Tracer) and aval.shape == ():
      val = np.asarray(x).reshape(())
      if aval.weak_type:
        # a weakly typed scalar stays a Python scalar, so binding the literal
        # again (eval_jaxpr) gives a weakly typed value too
        py = val.item()
        if core.get_aval(py).dtype == aval.dtype:
          val = py
      return Literal(val, aval)
    # An array (or a tracer of an enclosing transformation): a constvar.
    v = self._const_ids.get(id(x))
    if v is None:
      v = Var(aval)
      self._const_ids[id(x)] = v
      self.constvars.append(v)
      self.consts.append(x)
    return v

  def process_primitive(self, prim, args, params):
    if config.checks_active and config.read("jax_eager_constant_folding") and \
        not any(isinstance(a, core.Tracer) for a in args):
      # ensure_compile_time_eval: an operation on concrete values runs now
      with core.set_current_trace(core.eval_trace):
        return prim.bind(*args, **params)
    invars = [self.getvar(a) for a in args]
    out = prim.abstract_eval(*[v.aval for v in invars], **params)
    outs = list(out) if prim.multiple_results else [out]
    outvars = [Var(a) for a in outs]
    src = core.current_source_info() if self.record_source_info else None
    self.eqns.append(JaxprEqn(invars, outvars, prim, params, src))
    tracers = [DynamicJaxprTracer(self, a, v) for a, v in zip(outs, outvars)]
    return tracers if prim.multiple_results else tracers[0]

  def to_jaxpr(self, outs: Sequence[Any]) -> ClosedJaxpr:
    outvars = [self.getvar(o) for o in outs]
    jaxpr = Jaxpr(list(self.constvars), list(self.invars), outvars, list(self.eqns))
    if config.jax_enable_checks:
      core.typecheck_jaxpr(jaxpr)
    return ClosedJaxpr(jaxpr, list(self.consts))


def trace_to_jaxpr(fun: Callable, in_avals: Sequence[ShapedArray],
                   debug: core.DebugInfo | None = None) -> ClosedJaxpr:
  """Trace ``fun`` (taking and returning flat lists) on abstract inputs."""
  trace = DynamicJaxprTrace()
  trace.debug = debug
  args = [trace.new_arg(a) for a in in_avals]
  with core.set_current_trace(trace):
    outs = fun(*args)
  closed = trace.to_jaxpr(outs)
  del args, outs
  core.check_leaks(trace)
  return closed


#: Partial evaluation rules of higher-order primitives (control flow):
#: ``rule(trace, args, **params)`` runs what it can on the known values now
#: (on ``trace.parent_trace``) and stages the rest with
#: :meth:`PartialEvalTrace.stage`. Without a rule an equation that touches
#: an unknown value is staged whole.
partial_eval_rules: dict[Any, Callable] = {}


class PartialEvalTrace(DynamicJaxprTrace):
  """Stages only the operations that touch its own (unknown) tracers; every
  operation on known values runs on the parent trace right away. With the
  tangents unknown and the primals known, a JVP becomes a linearization."""

  record_source_info = False

  def __init__(self, parent_trace: core.Trace):
    super().__init__()
    self.parent_trace = parent_trace

  def process_primitive(self, prim, args, params):
    if not any(isinstance(a, DynamicJaxprTracer) and a._trace is self for a in args):
      with core.set_current_trace(self.parent_trace):
        return prim.bind(*args, **params)
    rule = partial_eval_rules.get(prim)
    if rule is not None:
      return rule(self, list(args), **params)
    return super().process_primitive(prim, args, params)

  def getvar(self, x: Any):
    # A known array is a residual: a constvar (never a literal, which would
    # wait for its value and lose its weak type).
    if isinstance(x, (bool, int, float)) or isinstance(x, DynamicJaxprTracer) and x._trace is self:
      return super().getvar(x)
    v = self._const_ids.get(id(x))
    if v is None:
      v = Var(core.get_aval(x))
      self._const_ids[id(x)] = v
      self.constvars.append(v)
      self.consts.append(x)
    return v

  def is_known(self, x) -> bool:
    return not (isinstance(x, DynamicJaxprTracer) and x._trace is self)

  def stage(self, prim, args, params):
    """Record one equation (known args become constants of the staged jaxpr)."""
    return DynamicJaxprTrace.process_primitive(self, prim, args, params)
