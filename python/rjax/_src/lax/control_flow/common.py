"""What the control-flow primitives share: tracing user functions to closed
jaxprs (closed-over tracers hoisted to explicit operands, as JAX does), and
the jaxpr-to-jaxpr transformations their rules are written with (JVP,
batching, partial evaluation, transposition of a sub-jaxpr), plus their eager
impl and the compilation of sub-jaxprs to nested Rust Executables."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from rjax._src import core
from rjax._src.base import dtypes, tree_util
from rjax._src.core import ClosedJaxpr, Jaxpr, ShapedArray, Var
from rjax._src.interpreters import ad, batching, lowering
from rjax._src.interpreters import partial_eval as pe
# (control flow's batching asks which primitives are collectives)
from rjax._src.lax import parallel
from rjax._src.runtime.array import Array, to_array

# ---------------------------------------------------------------------------
# Tracing user functions


def _check_outs(what: str, outs: Sequence[Any]) -> None:
  for o in outs:
    try:
      core.get_aval(o)
    except TypeError:
      raise TypeError(f"{what} must return arrays (or pytrees of arrays), got a value of type "
                      f"{type(o).__name__}: {o!r}") from None


def trace_fun(fun: Callable, in_tree, in_avals: Sequence[ShapedArray], what: str):
  """Trace ``fun`` (taking the pytree ``in_tree`` of ``in_avals``) to a closed
  jaxpr without constants: every constant or closed-over tracer becomes a
  leading input. Returns ``(closed_jaxpr, consts, out_tree)``."""
  trace = pe.DynamicJaxprTrace()
  args = [trace.new_arg(a) for a in in_avals]
  box = []

  def flat_fun():
    out = fun(*tree_util.tree_unflatten(in_tree, args))
    leaves, out_tree = tree_util.tree_flatten(out)
    _check_outs(what, leaves)
    box.append(out_tree)
    return leaves

  with core.set_current_trace(trace):
    outs = flat_fun()
  closed = trace.to_jaxpr(outs)
  j = closed.jaxpr
  hoisted = Jaxpr([], list(j.constvars) + list(j.invars), j.outvars, j.eqns)
  return ClosedJaxpr(hoisted, []), list(closed.consts), box[0]


def trace_flat(fun: Callable, in_avals: Sequence[ShapedArray]) -> ClosedJaxpr:
  """Trace a flat function (list in, list out) used inside a rule. Its
  constants must be concrete (rules only ever create concrete zeros)."""
  closed = pe.trace_to_jaxpr(fun, list(in_avals))
  for c in closed.consts:
    if isinstance(c, core.Tracer):
      raise AssertionError("control flow: a rule's sub-jaxpr closed over a tracer")
  return closed


def jaxpr_fun(closed: ClosedJaxpr) -> Callable:
  return lambda *args: core.eval_jaxpr(closed.jaxpr, closed.consts, *args)


def aval_mismatch(a: ShapedArray, b: ShapedArray) -> bool:
  return a.shape != b.shape or a.dtype != b.dtype


def type_str(a: ShapedArray) -> str:
  return f"{a.dtype.name}[{','.join(map(str, a.shape))}]"


# ---------------------------------------------------------------------------
# Rearranging jaxprs


def move_invars(closed: ClosedJaxpr, perm: Sequence[int]) -> ClosedJaxpr:
  """A jaxpr whose i-th input is ``closed``'s input ``perm[i]``."""
  j = closed.jaxpr
  return ClosedJaxpr(Jaxpr(j.constvars, [j.invars[i] for i in perm], j.outvars, j.eqns),
                     closed.consts)


def move_outvars(closed: ClosedJaxpr, perm: Sequence[int]) -> ClosedJaxpr:
  j = closed.jaxpr
  return ClosedJaxpr(Jaxpr(j.constvars, j.invars, [j.outvars[i] for i in perm], j.eqns),
                     closed.consts)


def add_invars(closed: ClosedJaxpr, avals: Sequence[ShapedArray], at: int) -> ClosedJaxpr:
  """``closed`` with unused inputs of ``avals`` inserted at position ``at``."""
  j = closed.jaxpr
  new = [Var(a) for a in avals]
  invars = list(j.invars[:at]) + new + list(j.invars[at:])
  return ClosedJaxpr(Jaxpr(j.constvars, invars, j.outvars, j.eqns), closed.consts)


def keep_outvars(closed: ClosedJaxpr, keep: Sequence[bool]) -> ClosedJaxpr:
  j = closed.jaxpr
  outs = [v for v, k in zip(j.outvars, keep) if k]
  return ClosedJaxpr(Jaxpr(j.constvars, j.invars, outs, j.eqns), closed.consts)


def fill(mask: Sequence[bool], vals: Sequence[Any], defaults: Sequence[Any]) -> list:
  """``vals`` at the positions in ``mask``, ``defaults[i]`` elsewhere."""
  it = iter(vals)
  return [next(it) if m else d for m, d in zip(mask, defaults)]


def interleave(mask: Sequence[bool], when_true: Sequence[Any], when_false: Sequence[Any]) -> list:
  t, f = iter(when_true), iter(when_false)
  return [next(t) if m else next(f) for m in mask]


# ---------------------------------------------------------------------------
# JVP of a jaxpr


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros: Sequence[bool], instantiate: Sequence[bool]):
  """The JVP of ``closed`` as a jaxpr ``(*primals, *nonzero_tangents) ->
  (*primal_outs, *nonzero_tangent_outs)``; returns it and the outputs'
  nonzero mask (outputs in ``instantiate`` always get a tangent)."""
  avals = closed.in_avals
  t_avals = [ad.tangent_aval(a) for a, nz in zip(avals, nonzeros) if nz]
  box = []

  def f(*args):
    primals, ts = args[:len(avals)], args[len(avals):]
    tangents = fill(nonzeros, ts, [ad.Zero(ad.tangent_aval(a)) for a in avals])
    p_out, t_out = ad.jvp_flat(jaxpr_fun(closed), primals, tangents)
    out_nz = [not isinstance(t, ad.Zero) or inst for t, inst in zip(t_out, instantiate)]
    box.append(out_nz)
    return list(p_out) + [ad.instantiate_zeros(t) for t, nz in zip(t_out, out_nz) if nz]

  return trace_flat(f, list(avals) + t_avals), box[-1]


def jvp_nonzeros(closed: ClosedJaxpr, nonzeros: Sequence[bool]) -> list[bool]:
  """Which outputs of ``closed`` get a nonzero tangent."""
  return jvp_jaxpr(closed, nonzeros, [False] * len(closed.out_avals))[1]


def differentiable(aval: ShapedArray) -> bool:
  return dtypes.is_inexact(aval.dtype)


# ---------------------------------------------------------------------------
# Batching of a jaxpr


def batched_aval(a: ShapedArray, size: int, axis: int = 0) -> ShapedArray:
  shape = list(a.shape)
  shape.insert(axis, size)
  return a.update(shape=tuple(shape))


def batch_jaxpr(closed: ClosedJaxpr, size: int, batched: Sequence[bool],
                instantiate: Sequence[bool], axis_name: Any = None):
  """``closed`` vmapped over a leading axis of the inputs in ``batched``;
  an output is batched (at axis 0) if it depends on a batched input or is in
  ``instantiate``. Returns the jaxpr and the outputs' batched mask."""
  avals = [batched_aval(a, size) if b else a for a, b in zip(closed.in_avals, batched)]
  box = []

  def f(*args):
    trace = batching.BatchTrace(core.current_trace(), axis_name, size)
    tracers = [batching.BatchTracer(trace, a, 0) if b else a for a, b in zip(args, batched)]
    with core.set_current_trace(trace):
      outs = jaxpr_fun(closed)(*tracers)
    res, out_b = [], []
    for o, inst in zip(outs, instantiate):
      v, d = trace.to_batch_info(o)
      if d is None and not inst:
        res.append(v)
        out_b.append(False)
      else:
        res.append(batching.matchaxis(v, d, 0, size))
        out_b.append(True)
    box.append(out_b)
    return res

  return trace_flat(f, avals), box[-1]


def batch_out_mask(closed: ClosedJaxpr, size: int, batched: Sequence[bool],
                   axis_name: Any = None) -> list[bool]:
  return batch_jaxpr(closed, size, batched, [False] * len(closed.out_avals), axis_name)[1]


def sub_jaxprs(params: dict):
  for v in params.values():
    for j in (v if isinstance(v, tuple) else (v,)):
      if isinstance(j, ClosedJaxpr):
        yield j.jaxpr


def uses_collectives(params: dict) -> bool:
  """Whether a sub-jaxpr (at any depth) holds a collective (psum, ...)."""
  for j in sub_jaxprs(params):
    for e in j.eqns:
      if e.primitive in parallel.COLLECTIVES or uses_collectives(e.params):
        return True
  return False


def register_batcher(prim, rule: Callable) -> None:
  """``rule(vals, dims, *, axis_name, axis_size, **params)`` batches ``prim``
  (a control-flow primitive); it also runs with no batched operand when a
  sub-jaxpr holds a collective, which may name the vmapped axis."""
  def plain(vals, dims, **params):
    return rule(vals, dims, axis_name=None, axis_size=axis_size_of(vals, dims), **params)

  def with_axis(axis_name, axis_size, vals, dims, **params):
    if all(d is None for d in dims) and not uses_collectives(params):
      outs = prim.bind(*vals, **params)
      return outs, [None] * len(outs)
    return rule(vals, dims, axis_name=axis_name, axis_size=axis_size, **params)

  batching.primitive_batchers[prim] = plain
  batching.collective_batchers[prim] = with_axis


def axis_size_of(vals, dims) -> int:
  for v, d in zip(vals, dims):
    if d is not None:
      return core.get_aval(v).shape[d]
  raise ValueError("no batched operand")


# ---------------------------------------------------------------------------
# Partial evaluation of a jaxpr


class PartialJaxpr:
  """The result of :func:`partial_eval_jaxpr`.

  - ``known``: known inputs -> (known outputs, residuals);
  - ``unknown``: (residuals, unknown inputs) -> unknown outputs;
  - ``out_uk``: which outputs are unknown; ``res_avals``: the residuals';
  - ``res_fwd``: per residual, the index (among the known inputs) of the
    known input it simply is, or None (then it is computed or a constant).
  """

  def __init__(self, known, unknown, out_uk, res_avals, res_fwd):
    self.known, self.unknown, self.out_uk = known, unknown, out_uk
    self.res_avals, self.res_fwd = res_avals, res_fwd


def partial_eval_jaxpr(closed: ClosedJaxpr, uk_in: Sequence[bool],
                       instantiate: Sequence[bool]) -> PartialJaxpr:
  """Split ``closed`` into what the known inputs determine and the rest:
  interpret it with a PartialEvalTrace whose parent builds the known jaxpr."""
  known_tr = pe.DynamicJaxprTrace()
  pe_tr = pe.PartialEvalTrace(known_tr)
  args = [pe_tr.new_arg(a) if u else known_tr.new_arg(a)
          for a, u in zip(closed.in_avals, uk_in)]
  with core.set_current_trace(pe_tr):
    outs = jaxpr_fun(closed)(*args)
  out_uk = [not pe_tr.is_known(o) or inst for o, inst in zip(outs, instantiate)]
  uk_jaxpr = pe_tr.to_jaxpr([o for o, u in zip(outs, out_uk) if u])
  res = list(uk_jaxpr.consts)
  j = uk_jaxpr.jaxpr
  unknown = ClosedJaxpr(Jaxpr([], list(j.constvars) + list(j.invars), j.outvars, j.eqns), [])
  known_invars = [id(v) for v in known_tr.invars]
  res_fwd = []
  for r in res:
    if isinstance(r, pe.DynamicJaxprTracer) and r._trace is known_tr and id(r.var) in known_invars:
      res_fwd.append(known_invars.index(id(r.var)))
    else:
      res_fwd.append(None)
  known = known_tr.to_jaxpr([o for o, u in zip(outs, out_uk) if not u] + res)
  return PartialJaxpr(known, unknown, out_uk, [core.get_aval(r) for r in res], res_fwd)


def out_unknowns(closed: ClosedJaxpr, uk_in: Sequence[bool]) -> list[bool]:
  return partial_eval_jaxpr(closed, uk_in, [False] * len(closed.out_avals)).out_uk


# ---------------------------------------------------------------------------
# Transposition of a jaxpr


def transpose_jaxpr(closed: ClosedJaxpr, linear: Sequence[bool]) -> ClosedJaxpr:
  """``(*nonlinear_inputs, *cts_out) -> cts of the linear inputs``
  (instantiated), for ``closed`` linear in the inputs marked ``linear``."""
  j = closed.jaxpr
  nonlin = [v for v, l in zip(j.invars, linear) if not l]
  lin = [v for v, l in zip(j.invars, linear) if l]
  as_consts = Jaxpr(list(j.constvars) + nonlin, lin, j.outvars, j.eqns)
  lin_avals = [v.aval for v in lin]
  n_res = len(nonlin)

  def f(*args):
    res, cts = args[:n_res], args[n_res:]
    cts_in = ad.backward_pass(as_consts, list(closed.consts) + list(res), lin_avals, cts)
    return [ad.instantiate_zeros(c) for c in cts_in]

  avals = [v.aval for v in nonlin] + [ad.tangent_aval(a) for a in closed.out_avals]
  return trace_flat(f, avals)


# ---------------------------------------------------------------------------
# Eager execution and lowering to nested Executables


def compile_jaxpr(closed: ClosedJaxpr):
  """The Rust Executable of ``closed`` (built once per jaxpr object)."""
  exe = getattr(closed, "_rjax_exe", None)
  if exe is None:
    ctx, outs = lowering.lower_jaxpr(closed, closed.in_avals)
    exe = ctx.compile(outs)
    closed._rjax_exe = exe
  return exe


def _jaxpr_ids(params: dict) -> tuple:
  ids = []
  for v in params.values():
    for j in (v if isinstance(v, tuple) else (v,)):
      if isinstance(j, ClosedJaxpr):
        ids.append(id(j))
  return tuple(ids)


def eager_impl(prim, jaxpr_param: Callable[[dict], ClosedJaxpr]):
  """``prim``'s eager impl: lower the one equation (its sub-jaxprs compiled
  to nested Executables) and run it. The compiled program is cached on the
  primitive's first sub-jaxpr (keyed by all its sub-jaxprs and the input
  avals), so re-running the same equation (a jaxpr evaluated again) compiles
  nothing; a freshly traced call compiles once."""

  def impl(*args, **params):
    arrs = [a if type(a) is Array else _concrete(a, to_array) for a in args]
    avals = tuple(a.aval for a in arrs)
    holder = jaxpr_param(params)
    cache = getattr(holder, "_rjax_eager", None)
    if cache is None:
      cache = holder._rjax_eager = {}
    key = (avals, _jaxpr_ids(params))
    entry = cache.get(key)
    if entry is None:
      outs = prim.abstract_eval(*avals, **params)
      exe = lowering.lower_primitive(prim, list(avals), list(outs), params)
      # (the params keep the sub-jaxprs, hence their ids, alive)
      entry = cache[key] = (exe, list(outs), params)
    exe, outs, _ = entry
    bufs = exe.run([a._buf for a in arrs])
    return [Array._from_buffer(b, av) for b, av in zip(bufs, outs)]

  return impl


def _concrete(x, to_array):
  if isinstance(x, core.Tracer):
    raise core.escaped_tracer_error(x)
  return to_array(x)


# ---------------------------------------------------------------------------
# Carry type checks (JAX's messages)


def check_carry_type(name: str, body_fun: Callable, in_tree, in_avals, out_tree, out_avals):
  """TypeError unless the carry output has the carry input's pytree
  structure and types (weak types may differ)."""
  try:
    carry_name = list(inspect.signature(body_fun).parameters)[0]
  except (ValueError, TypeError, IndexError):
    carry_name = None

  def component(p):
    if carry_name:
      return f"the input carry component {carry_name}{p}" if p else f"the input carry {carry_name}"
    return f"the input carry at path {p}" if p else "the input carry"

  if in_tree != out_tree:
    raise TypeError(
        f"{name} function carry input and carry output must have the same pytree structure, "
        f"but they differ:\n\nthe input tree structure is:\n{in_tree}\nthe output tree "
        f"structure is:\n{out_tree}\n\nRevise the function so that the carry output has the "
        "same pytree structure as the carry input.")
  dummy = tree_util.tree_unflatten(in_tree, list(range(len(in_avals))))
  paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(dummy)[0]]
  diffs = []
  for p, a, b in zip(paths, in_avals, out_avals):
    if aval_mismatch(a, b):
      extra = ", so the dtypes do not match" if a.dtype != b.dtype else \
          ", so the shapes do not match"
      diffs.append(f"{component(p)} has type {a.str_short()} but the corresponding output "
                   f"carry component has type {b.str_short()}{extra}")
  if diffs:
    if len(diffs) == 1:
      differences = diffs[0][0].upper() + diffs[0][1:] + ".\n"
    else:
      differences = "".join(f"  * {d};\n" for d in diffs[:-1]) + f"  * {diffs[-1]}.\n"
    raise TypeError(
        f"{name} function carry input and carry output must have equal types, but they "
        f"differ:\n\n{differences}\nRevise the function so that all output types match the "
        "corresponding input types.")


def promote_weak(in_avals, out_avals) -> tuple[list, bool]:
  """Carry avals that are weakly typed in but strongly typed out become
  strong (JAX retraces then, so the carry has one type)."""
  new = [a.update(weak_type=False) if a.weak_type and not b.weak_type else a
         for a, b in zip(in_avals, out_avals)]
  return new, any(a.weak_type != n.weak_type for a, n in zip(in_avals, new))
