"""Lowering: from primitives to the Rust core's op names and plain-data params.

A lowering rule is ``rule(ctx, *in_ids, avals_in, avals_out, **params)`` and
returns the list of output value ids; it emits instructions with
``ctx.emit(op_name, in_ids, avals_out, rust_params)``. Most primitives use
:func:`register_standard`: one Rust op with the primitive's own name and its
params converted to plain data. Eager mode lowers one primitive at a time
(``dispatch.py``); ``jit`` lowers whole jaxprs with the same rules.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.runtime.array import Array, from_numpy, to_array
from rjax._src.runtime.executable import Executable, build

#: primitive -> lowering rule
lowerings: dict[Any, Callable] = {}


def to_plain(v: Any) -> Any:
  """Convert a param value to data the Rust side accepts."""
  if v is None or isinstance(v, (bool, int, float, str, Executable)):
    return v   # an Executable: a control-flow op's compiled sub-program
  if isinstance(v, np.dtype):
    return v.name
  if isinstance(v, type) and issubclass(v, np.generic):
    return np.dtype(v).name
  if isinstance(v, (tuple, list)):
    return [to_plain(x) for x in v]
  if isinstance(v, (np.integer,)):
    return int(v)
  if isinstance(v, (np.floating,)):
    return float(v)
  if isinstance(v, np.bool_):
    return bool(v)
  if hasattr(v, "name") and isinstance(getattr(v, "name"), str):  # enums
    return v.name
  if callable(v):   # a host callback's Python function (rust/src/ops/callback.rs)
    return v
  raise TypeError(f"cannot lower param value {v!r}")


def aval_plain(aval) -> tuple[str, list[int]]:
  return (aval.dtype.name, list(aval.shape))


class LoweringCtx:
  """Accumulates instructions of one Program. Value ids: inputs first, then
  constants, then each instruction's outputs in order."""

  def __init__(self, in_avals: Sequence[Any], consts: Sequence[Any] = ()):
    self.in_avals = list(in_avals)
    self.consts = list(consts)         # Rust buffers, ids right after the inputs
    self.instrs: list[tuple] = []
    self.next_id = len(self.in_avals) + len(self.consts)
    self.producers: dict[int, tuple] = {}

  def emit(self, op: str, in_ids: Sequence[int], avals_out: Sequence[Any],
           params: dict | None = None) -> list[int]:
    plain = {k: to_plain(v) for k, v in (params or {}).items()}
    self.instrs.append((op, plain, list(in_ids), [aval_plain(a) for a in avals_out]))
    first = self.next_id
    self.next_id += len(avals_out)
    if len(avals_out) == 1:
      self.producers[first] = (op, plain, list(in_ids))
    return list(range(first, first + len(avals_out)))

  def producer(self, value_id: int):
    """``(op, params, input_ids)`` of the instruction that made a value
    (None for inputs, constants and multi-output instructions)."""
    return self.producers.get(value_id)

  def compile(self, out_ids: Sequence[int]) -> Executable:
    return build([aval_plain(a) for a in self.in_avals], self.consts, self.instrs,
                 list(out_ids))

  def text(self) -> str:
    """The Program, one instruction a line (for ``jit(f).lower(x).as_text()``)."""
    n_in = len(self.in_avals)
    name = lambda i: f"%{i}" if i < n_in else f"%c{i - n_in}" if i < n_in + len(self.consts) \
        else f"%{i}"
    lines = [f"program(inputs: {', '.join(f'%{i}:{a.str_short()}' for i, a in enumerate(self.in_avals))};"
             f" {len(self.consts)} constants)"]
    nid = n_in + len(self.consts)
    for op, params, ins, outs in self.instrs:
      out_names = ", ".join(f"%{nid + k}:{dt}{shape}" for k, (dt, shape) in enumerate(outs))
      nid += len(outs)
      p = " ".join(f"{k}={_param_text(v)}" for k, v in sorted(params.items()))
      lines.append(f"  {out_names} = {op}{'[' + p + ']' if p else ''} "
                   + " ".join(name(i) for i in ins))
    return "\n".join(lines)


def _param_text(v) -> str:
  if isinstance(v, Executable):   # a control-flow op's sub-program
    return f"<program: {v.n_kernels} kernels>"
  if isinstance(v, list):
    return "[" + ", ".join(_param_text(x) for x in v) + "]"
  return str(v)


def register_standard(prim, op_name: str | None = None,
                      param_fn: Callable[..., dict] | None = None) -> None:
  """Lower ``prim`` to one Rust op (default: same name) with its params
  (or ``param_fn(avals_in, avals_out, **params)``)."""
  name = op_name or prim.name

  def rule(ctx, *in_ids, avals_in, avals_out, **params):
    p = param_fn(avals_in, avals_out, **params) if param_fn else params
    return ctx.emit(name, in_ids, avals_out, p)

  rule.op_name = name  # checked against the Rust registry by the rule-coverage test
  lowerings[prim] = rule


def lower_primitive(prim, avals_in, avals_out, params) -> Executable:
  """A one-instruction Program for eager execution."""
  try:
    rule = lowerings[prim]
  except KeyError:
    raise NotImplementedError(f"No lowering rule for primitive '{prim.name}'") from None
  ctx = LoweringCtx(avals_in)
  outs = rule(ctx, *range(len(avals_in)), avals_in=avals_in, avals_out=avals_out, **params)
  return ctx.compile(outs)


#: Call primitives lowered by inlining a sub-jaxpr (remat2, linear_call):
#: ``rule(invars, **params) -> (eqns_before, inputs, body)`` gives the
#: equations to put before the body (an optimization barrier), the atoms the
#: body's inputs become, and the body (a Jaxpr without constvars).
inline_calls: dict[Any, Callable] = {}


def register_inline_call(prim, rule: Callable) -> None:
  inline_calls[prim] = rule
  lowerings[prim] = _inline_only(prim)


def _inline_only(prim):
  def rule(ctx, *ins, avals_in, avals_out, **params):
    # Only whole jaxprs are lowered with inlining; eager calls run the impl.
    raise NotImplementedError(f"{prim.name} is lowered by inlining its jaxpr (lower_jaxpr)")
  return rule


def inline_call_eqns(jaxpr):
  """``jaxpr`` with every call primitive of ``inline_calls`` replaced by its
  body's equations (fresh variables per copy), recursively."""
  if not any(e.primitive in inline_calls for e in jaxpr.eqns):
    return jaxpr
  subst: dict[int, Any] = {}

  def get(v):
    return v if isinstance(v, core.Literal) else subst.get(id(v), v)

  eqns = []
  for e in jaxpr.eqns:
    invars = [get(v) for v in e.invars]
    rule = inline_calls.get(e.primitive)
    if rule is None:
      eqns.append(e if all(a is b for a, b in zip(invars, e.invars)) else e.replace(invars=invars))
      continue
    pre, ins, body = rule(invars, **e.params)
    eqns.extend(pre)
    body = inline_call_eqns(body)
    env = {id(v): a for v, a in zip(body.invars, ins)}

    def bget(v):
      return v if isinstance(v, core.Literal) else env[id(v)]

    for be in body.eqns:
      outs = [core.Var(v.aval) for v in be.outvars]
      env.update((id(v), o) for v, o in zip(be.outvars, outs))
      eqns.append(be.replace(invars=[bget(v) for v in be.invars], outvars=outs))
    for v, bv in zip(e.outvars, body.outvars):
      subst[id(v)] = bget(bv)
  return core.Jaxpr(jaxpr.constvars, jaxpr.invars, [get(v) for v in jaxpr.outvars], eqns)


def lower_jaxpr(closed, in_avals: Sequence[Any]):
  """Lower a ClosedJaxpr to a Program (an unbuilt LoweringCtx and output ids).
  Constants (constvars and literals) become Program constants."""
  jaxpr = inline_call_eqns(closed.jaxpr)
  consts: list = []
  env: dict[int, int] = {}
  n_in = len(in_avals)
  for v, c in zip(jaxpr.constvars, closed.consts):
    c = c if type(c) is Array else to_array(c)
    env[id(v)] = n_in + len(consts)
    consts.append(c._buf)
  lit_ids: dict[int, int] = {}

  def lit(v):
    k = id(v)
    if k not in lit_ids:
      a = from_numpy(np.asarray(v.val, dtype=v.aval.dtype).reshape(()), v.aval.dtype)
      lit_ids[k] = n_in + len(consts)
      consts.append(a._buf)
    return lit_ids[k]

  for e in jaxpr.eqns:
    for v in e.invars:
      if isinstance(v, core.Literal):
        lit(v)
  for v in jaxpr.outvars:
    if isinstance(v, core.Literal):
      lit(v)
  ctx = LoweringCtx(in_avals, consts)
  for v, i in zip(jaxpr.invars, range(n_in)):
    env[id(v)] = i

  def read(v):
    return lit_ids[id(v)] if isinstance(v, core.Literal) else env[id(v)]

  for e in jaxpr.eqns:
    rule = lowerings.get(e.primitive)
    if rule is None:
      raise NotImplementedError(f"No lowering rule for primitive '{e.primitive.name}'")
    outs = rule(ctx, *[read(v) for v in e.invars], avals_in=[v.aval for v in e.invars],
                avals_out=[v.aval for v in e.outvars], **e.params)
    for v, o in zip(e.outvars, outs):
      env[id(v)] = o
  return ctx, [read(v) for v in jaxpr.outvars]
