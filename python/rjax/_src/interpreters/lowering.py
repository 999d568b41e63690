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

from rjax._rjax import Executable

#: primitive -> lowering rule
lowerings: dict[Any, Callable] = {}


def to_plain(v: Any) -> Any:
  """Convert a param value to data the Rust side accepts."""
  if v is None or isinstance(v, (bool, int, float, str)):
    return v
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
  raise TypeError(f"cannot lower param value {v!r}")


def aval_plain(aval) -> tuple[str, list[int]]:
  return (aval.dtype.name, list(aval.shape))


class LoweringCtx:
  """Accumulates instructions of one Program. Value ids: inputs first, then
  constants, then each instruction's outputs in order."""

  def __init__(self, in_avals: Sequence[Any]):
    self.in_avals = list(in_avals)
    self.consts: list[Any] = []        # Rust buffers
    self.instrs: list[tuple] = []
    self._const_ids: list[int] = []
    self.next_id = len(in_avals)
    self._pending_consts: list[tuple[Any, Any]] = []

  def emit(self, op: str, in_ids: Sequence[int], avals_out: Sequence[Any],
           params: dict | None = None) -> list[int]:
    plain = {k: to_plain(v) for k, v in (params or {}).items()}
    self.instrs.append((op, plain, list(in_ids), [aval_plain(a) for a in avals_out]))
    first = self.next_id
    self.next_id += len(avals_out)
    return list(range(first, first + len(avals_out)))

  def compile(self, out_ids: Sequence[int]) -> Executable:
    if self.consts:
      raise NotImplementedError("constants are added by jit")
    return Executable([aval_plain(a) for a in self.in_avals], [], self.instrs, list(out_ids))


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
