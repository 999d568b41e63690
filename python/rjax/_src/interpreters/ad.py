"""Automatic differentiation: forward mode (JVPTrace), linearization (JVP +
partial evaluation) and transposition (backward_pass). ``grad`` = ``vjp`` =
linearize + transpose, as in JAX: there is no separate tape.

Rule tables, filled next to each primitive:
- ``primitive_jvps[prim](primals, tangents, **params) -> (primal_out, tangent_out)``
  (lists for multiple-results primitives); tangents may be symbolic ``Zero``s.
- ``primitive_transposes[prim](ct, *args, **params) -> list of cotangents``, one per
  arg (``None`` for args that are not linear inputs). Linear inputs arrive as
  ``UndefinedPrimal(aval)``.
- ``nondifferentiable``: primitives declared to have no derivative.

The interpreters declare these tables; the lax layer (and the layers above)
fill them, each primitive next to its definition.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes, tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import batching, lax_hooks, lowering, reference
from rjax._src.interpreters.dispatch import apply_primitive
from rjax._src.interpreters import partial_eval as pe
from rjax._src.interpreters.partial_eval import PartialEvalTrace
from rjax._src.runtime.array import Array, to_array

primitive_jvps: dict[Any, Callable] = {}
primitive_transposes: dict[Any, Callable] = {}
#: Primitives that have no derivative by design (integer/bool outputs, etc.):
#: their outputs get symbolic zero tangents (``defnondiff``).
nondifferentiable: set[Any] = set()


class Zero:
  """A symbolic zero tangent/cotangent of a given aval (costs nothing)."""

  __slots__ = ("aval",)

  def __init__(self, aval: ShapedArray):
    self.aval = aval

  def __repr__(self):
    return f"Zero({self.aval.str_short()})"

  @staticmethod
  def from_value(x) -> "Zero":
    return Zero(tangent_aval(core.get_aval(x)))


def tangent_aval(aval: ShapedArray) -> ShapedArray:
  """Tangents of floats have the same dtype and weak type (JAX's
  ``to_tangent_aval``); ints/bools have no tangent space (we use the same
  aval and always keep their tangents symbolic zeros)."""
  return aval


def zeros_like_aval(aval: ShapedArray):
  """Concrete zeros (they depend on no traced value, so they are built
  eagerly), weakly typed if ``aval`` is."""
  with core.set_current_trace(core.eval_trace):
    z = lax_hooks.full(aval.shape, 0, aval.dtype)
  if aval.weak_type and type(z) is Array and not z.aval.weak_type:
    z = Array._from_buffer(z._buf, z.aval.update(weak_type=True))
  return z


def instantiate_zeros(t):
  return zeros_like_aval(t.aval) if isinstance(t, Zero) else t


def add_tangents(x, y):
  if isinstance(x, Zero):
    return y
  if isinstance(y, Zero):
    return x
  return add_jaxvals_p.bind(x, y)


class UndefinedPrimal:
  """A linear input of a function being transposed."""

  __slots__ = ("aval",)

  def __init__(self, aval: ShapedArray):
    self.aval = aval

  def __repr__(self):
    return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined_primal(x) -> bool:
  return isinstance(x, UndefinedPrimal)


# ---------------------------------------------------------------------------
# Forward mode


class JVPTracer(core.Tracer):
  __slots__ = ("_trace", "primal", "tangent")

  def __init__(self, trace, primal, tangent):
    self._trace, self.primal, self.tangent = trace, primal, tangent

  @property
  def aval(self):
    return core.get_aval(self.primal)

  def to_concrete_value(self):
    # The primal of a JVP over concrete values is concrete: Python control
    # flow on it works under grad/jvp outside jit, as in JAX.
    if not self._trace.concrete_ok():
      return None
    return core.to_concrete_value(self.primal)

  def _origin(self):
    return "a value being differentiated"

  def _abstract_inner(self):
    return self.primal

  def _short_repr(self):
    # JAX's reprs: JVPTracer under jvp, GradTracer under linearize/vjp/grad.
    if self._trace.linearizing:
      return (f"GradTracer(primal={core._short_repr(self.primal)}, "
              f"typeof(tangent)={core.get_aval(self.tangent).str_short()})")
    return (f"JVPTracer(primal={core._short_repr(self.primal)}, "
            f"tangent={core._short_repr(self.tangent)})")


class JVPTrace(core.Trace):
  def __init__(self, parent_trace: core.Trace, linearizing: bool = False):
    self.parent_trace = parent_trace
    self.linearizing = linearizing
    self.jit_level = core.jit_level()

  def arg_dependencies(self, tracer):
    t = getattr(tracer, "tangent", None)
    inner = getattr(t, "_trace", None)
    if inner is None or getattr(inner, "debug", None) is None:
      return None
    return inner.arg_dependencies(t)

  def to_primal_tangent(self, x):
    if isinstance(x, JVPTracer) and x._trace is self:
      return x.primal, x.tangent
    return x, Zero.from_value(x)

  def process_primitive(self, prim, args, params):
    primals, tangents = zip(*[self.to_primal_tangent(x) for x in args]) if args else ((), ())
    if all(isinstance(t, Zero) for t in tangents):
      # Nothing being differentiated flows in (as in JAX): no rule needed.
      with core.set_current_trace(self.parent_trace):
        return prim.bind(*primals, **params)
    rule = primitive_jvps.get(prim)
    if rule is None:
      if prim in nondifferentiable:
        with core.set_current_trace(self.parent_trace):
          out = prim.bind(*primals, **params)
        outs = out if prim.multiple_results else [out]
        res = [JVPTracer(self, o, Zero.from_value(o)) for o in outs]
        return res if prim.multiple_results else res[0]
      raise NotImplementedError(f"Differentiation rule for '{prim.name}' not implemented")
    with core.set_current_trace(self.parent_trace):
      primal_out, tangent_out = rule(list(primals), list(tangents), **params)
    if prim.multiple_results:
      return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]
    return JVPTracer(self, primal_out, tangent_out)


def jvp_flat(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any],
             debug: core.DebugInfo | None = None, linearizing: bool = False):
  """Forward mode on a flat function: returns (primals_out, tangents_out)."""
  parent = core.current_trace()
  trace = JVPTrace(parent, linearizing)
  trace.debug = debug
  ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
  with core.set_current_trace(trace):
    outs = fun(*ins)
  pairs = [trace.to_primal_tangent(o) for o in outs]
  p_out, t_out = [p for p, _ in pairs], [t for _, t in pairs]
  del ins, outs
  core.check_leaks(trace)
  return p_out, t_out


# ---------------------------------------------------------------------------
# Helpers that fill the rule tables


def defjvp(prim, *jvp_rules: Callable | None) -> None:
  """One rule per argument: ``rule(g, *primals, **params)`` gives that
  argument's contribution to the output tangent (None: not differentiable)."""

  def rule(primals, tangents, **params):
    ans = prim.bind(*primals, **params)
    out = Zero.from_value(ans)
    for r, t in zip(jvp_rules, tangents):
      if r is not None and not isinstance(t, Zero):
        out = add_tangents(out, r(t, *primals, **params))
    return ans, out

  primitive_jvps[prim] = rule


def defjvp2(prim, *jvp_rules: Callable | None) -> None:
  """Like :func:`defjvp` but each rule also gets the primal output:
  ``rule(g, ans, *primals, **params)``."""

  def rule(primals, tangents, **params):
    ans = prim.bind(*primals, **params)
    out = Zero.from_value(ans)
    for r, t in zip(jvp_rules, tangents):
      if r is not None and not isinstance(t, Zero):
        out = add_tangents(out, r(t, ans, *primals, **params))
    return ans, out

  primitive_jvps[prim] = rule


def deflinear(prim, transpose_rule: Callable) -> None:
  """``prim`` is linear in all its arguments: its JVP applies it to the
  tangents; ``transpose_rule(ct, *args, **params)`` returns one ct per arg."""

  def rule(primals, tangents, **params):
    ans = prim.bind(*primals, **params)
    if all(isinstance(t, Zero) for t in tangents):
      outs = ans if prim.multiple_results else [ans]
      z = [Zero.from_value(o) for o in outs]
      return ans, (z if prim.multiple_results else z[0])
    return ans, prim.bind(*[instantiate_zeros(t) for t in tangents], **params)

  primitive_jvps[prim] = rule
  primitive_transposes[prim] = transpose_rule


def defbilinear(prim, transpose_lhs: Callable, transpose_rhs: Callable) -> None:
  """``prim(lhs, rhs)`` is linear in each operand (dot_general, conv): its
  JVP binds it with one tangent at a time, and its transpose, with exactly
  one operand linear, calls ``transpose_lhs(ct, lhs, rhs, **params)`` or
  ``transpose_rhs(ct, lhs, rhs, **params)``."""
  defjvp(prim, lambda g, lhs, rhs, **params: prim.bind(g, rhs, **params),
         lambda g, lhs, rhs, **params: prim.bind(lhs, g, **params))

  def transpose(ct, lhs, rhs, **params):
    if is_undefined_primal(lhs) and is_undefined_primal(rhs):
      raise ValueError(f"{prim.name}: transposition with respect to both operands is not "
                       f"linear")
    if isinstance(ct, Zero):
      return [None, None]
    if is_undefined_primal(lhs):
      return [transpose_lhs(ct, lhs, rhs, **params), None]
    return [None, transpose_rhs(ct, lhs, rhs, **params)]

  primitive_transposes[prim] = transpose


def defnondiff(prim) -> None:
  """Declare that ``prim`` has no derivative (integer/bool outputs):
  its outputs get symbolic zero tangents."""
  nondifferentiable.add(prim)


# ---------------------------------------------------------------------------
# Linearize (JVP + partial evaluation) and transpose


def linearize_flat(fun: Callable, primals: Sequence[Any], debug: core.DebugInfo | None = None):
  """Returns (primals_out, linear ClosedJaxpr from tangents_in to tangents_out,
  out tangent Zero-ness). Primal values are computed eagerly (on the current
  trace); only the tangent computation is staged into the jaxpr."""
  parent = core.current_trace()
  pe = PartialEvalTrace(parent)
  pe.debug = debug
  tangent_args = [pe.new_arg(tangent_aval(core.get_aval(p))) for p in primals]
  with core.set_current_trace(pe):
    p_out, t_out = jvp_flat(fun, primals, tangent_args, debug, linearizing=True)
  zero_out = [isinstance(t, Zero) for t in t_out]
  closed = pe.to_jaxpr([t for t in t_out if not isinstance(t, Zero)])
  return p_out, closed, zero_out


def backward_pass(jaxpr: core.Jaxpr, consts: Sequence[Any], linear_avals: Sequence[ShapedArray],
                  cts_out: Sequence[Any]) -> list:
  """Transpose a linear jaxpr: cotangents of the outputs -> cotangents of the
  (linear) inputs. Non-linear values are the constvars (residuals) and literals."""
  env: dict[int, Any] = {}     # known (non-linear) values
  ct_env: dict[int, Any] = {}  # accumulated cotangents of linear vars
  for v, c in zip(jaxpr.constvars, consts):
    env[id(v)] = c
  linear_ids = {id(v) for v in jaxpr.invars}
  for e in jaxpr.eqns:
    for v in e.outvars:
      linear_ids.add(id(v))

  def read_primal(v):
    if isinstance(v, core.Literal):
      return v.val
    if id(v) in env:
      return env[id(v)]
    return UndefinedPrimal(v.aval)

  def write_ct(v, ct):
    if isinstance(v, core.Literal) or ct is None or isinstance(ct, Zero):
      return
    if id(v) not in linear_ids:
      return
    prev = ct_env.get(id(v))
    ct_env[id(v)] = ct if prev is None else add_tangents(prev, ct)

  for v, ct in zip(jaxpr.outvars, cts_out):
    write_ct(v, ct)
  for e in reversed(jaxpr.eqns):
    cts = [ct_env.pop(id(v), None) for v in e.outvars]
    if all(c is None for c in cts):
      continue
    rule = primitive_transposes.get(e.primitive)
    if rule is None:
      raise NotImplementedError(f"Transpose rule (for reverse-mode differentiation) for "
                                f"'{e.primitive.name}' not implemented")
    cts = [Zero(v.aval) if c is None else c for v, c in zip(e.outvars, cts)]
    args = [read_primal(v) for v in e.invars]
    ct_in = rule(cts if e.primitive.multiple_results else cts[0], *args, **e.params)
    for v, c in zip(e.invars, ct_in):
      write_ct(v, c)
  out = []
  for v, aval in zip(jaxpr.invars, linear_avals):
    c = ct_env.get(id(v))
    out.append(Zero(aval) if c is None else c)
  return out


# ---------------------------------------------------------------------------
# On pytrees: jvp, linearize and vjp as users call them (``rjax.jvp`` and
# friends are these), and as rules that differentiate a function call them
# (``checkpoint``).


def flatten_fun(fun, in_tree, out_tree_box, has_aux=False):
  def flat_fun(*flat):
    args = tree_util.tree_unflatten(in_tree, flat)
    out = fun(*args)
    if has_aux:
      if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("a function with has_aux=True must return a pair (output, aux), "
                        f"got {type(out).__name__}")
      out, aux = out
      # aux is not differentiated: hand back its primal values, not the
      # differentiation trace's tracers (which would leak out of jvp/vjp).
      trace = core.current_trace()
      if isinstance(trace, JVPTrace):
        aux = tree_util.tree_map(
            lambda l: l.primal if isinstance(l, JVPTracer) and l._trace is trace else l, aux)
      out_tree_box.append(("aux", aux))
    leaves, tree = tree_util.tree_flatten(out)
    out_tree_box.append(tree)
    return leaves
  return flat_fun


def _check_tangent(p, t, i):
  pa = core.get_aval(p)
  want = dtypes.float0 if not dtypes.is_inexact(pa.dtype) else pa.dtype
  if getattr(t, "dtype", None) == dtypes.float0:
    ta = ShapedArray(np.shape(t), pa.dtype) if want == dtypes.float0 else None
  else:
    ta = core.get_aval(t)
  if ta is None or ta.dtype != want and ta.dtype != pa.dtype or want == dtypes.float0 and \
      getattr(t, "dtype", None) != dtypes.float0:
    raise TypeError(f"jvp: primal and tangent arguments must have equal dtypes (or float0 "
                    f"tangents for int/bool primals); got primal dtype {pa.dtype.name} and "
                    f"tangent dtype {ta.dtype.name} for argument {i}")
  if pa.shape != ta.shape:
    raise ValueError(f"jvp: primal and tangent arguments must have equal shapes, got "
                     f"{pa.shape} and {ta.shape} for argument {i}")


def _weak_like(p, t):
  """A concrete tangent of a weakly typed primal, weakly typed too: JAX's
  jnp functions convert both (so jvp's output tangents come out weak)."""
  if isinstance(t, (bool, int, float, complex)):
    return t       # already weakly typed (and returned as is where unused, as in JAX)
  if not isinstance(t, (Array, core.Tracer)):
    t = to_array(t)
  if type(t) is Array and t.aval.weak_type != core.get_aval(p).weak_type \
      and t.aval.dtype == core.get_aval(p).dtype:
    return Array._from_buffer(t._buf, t.aval.update(weak_type=core.get_aval(p).weak_type))
  return t


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False):
  """Forward mode: ``(fun(*primals), J·tangents)``."""
  if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
    raise TypeError("jvp: primal and tangent arguments must be tuples or lists")
  p_flat, in_tree = tree_util.tree_flatten(tuple(primals))
  t_flat, t_tree = tree_util.tree_flatten(tuple(tangents))
  if in_tree != t_tree:
    raise TypeError(f"jvp: primal and tangent arguments must have the same tree structure, "
                    f"got {in_tree} and {t_tree}")
  for i, (p, t) in enumerate(zip(p_flat, t_flat)):
    _check_tangent(p, t, i)
  t_flat = [Zero.from_value(p) if getattr(t, "dtype", None) == dtypes.float0
            else _weak_like(p, t) for p, t in zip(p_flat, t_flat)]
  box: list = []
  p_out, t_out = jvp_flat(flatten_fun(fun, in_tree, box, has_aux), p_flat, t_flat,
                             core.debug_info("jvp", fun, primals))
  t_out = [np.zeros(core.get_aval(p).shape, dtypes.float0)
           if not dtypes.is_inexact(core.get_aval(p).dtype) else instantiate_zeros(t)
           for p, t in zip(p_out, t_out)]
  out_tree = box[-1]
  res = (tree_util.tree_unflatten(out_tree, p_out), tree_util.tree_unflatten(out_tree, t_out))
  if has_aux:
    return res + (box[0][1],)
  return res


def linearize(fun: Callable, *primals, has_aux: bool = False):
  """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the
  linearization without re-running the primal computation (outside every
  transformation, as one cached Program from its second call on)."""
  p_flat, in_tree = tree_util.tree_flatten(primals)
  box: list = []
  p_out, closed, zero_out = linearize_flat(flatten_fun(fun, in_tree, box, has_aux), p_flat,
                                              core.debug_info("linearize", fun, primals))
  out_tree = box[-1]
  out_avals = [tangent_aval(core.get_aval(p)) for p in p_out]

  def f_jvp(*tangents):
    t_flat, t_tree = tree_util.tree_flatten(tangents)
    if t_tree != in_tree:
      raise TypeError(f"linearize: tangent structure {t_tree} != primal structure {in_tree}")
    vals = None
    if core.current_trace() is core.eval_trace:
      vals = _eval_compiled(closed.jaxpr, closed.consts, t_flat)
    if vals is None:
      vals = core.eval_jaxpr(closed.jaxpr, closed.consts, *t_flat)
    vals = iter(vals)
    outs = [zeros_like_aval(a) if z else next(vals) for a, z in zip(out_avals, zero_out)]
    return tree_util.tree_unflatten(out_tree, outs)

  res = (tree_util.tree_unflatten(out_tree, p_out), f_jvp)
  return res + (box[0][1],) if has_aux else res


def vjp(fun: Callable, *primals, has_aux: bool = False, _debug: core.DebugInfo | None = None):
  """``(fun(*primals), f_vjp)`` where ``f_vjp(ct)`` pulls a cotangent of the
  output back to cotangents of the inputs (reverse mode). ``f_vjp`` is a
  pytree whose leaves are the residuals (as JAX's is)."""
  p_flat, in_tree = tree_util.tree_flatten(primals)
  box: list = []
  debug = _debug or core.debug_info("vjp", fun, primals)
  p_out, closed, zero_out = linearize_flat(flatten_fun(fun, in_tree, box, has_aux), p_flat,
                                              debug)
  out_tree = box[-1]
  f_vjp = VJPFunction(closed.jaxpr, closed.consts, (tuple(zero_out), in_tree, out_tree,
                                                    tuple(core.get_aval(p) for p in p_flat),
                                                    tuple(core.get_aval(p) for p in p_out)))
  primal_out = tree_util.tree_unflatten(out_tree, p_out)
  if has_aux:
    return primal_out, f_vjp, box[0][1]
  return primal_out, f_vjp


class VJPFunction:
  """The pullback ``vjp`` returns: ``f_vjp(ct)`` transposes the linear jaxpr
  on the cotangent. A pytree: its leaves are the residuals (the linear
  jaxpr's constants), so ``make_jaxpr`` of a function returning it shows
  what reverse mode saves."""

  __slots__ = ("jaxpr", "consts", "info")

  def __init__(self, jaxpr: core.Jaxpr, consts: Sequence[Any], info: tuple):
    self.jaxpr, self.consts, self.info = jaxpr, list(consts), info

  def __call__(self, ct):
    zero_out, in_tree, out_tree, in_avals, out_avals = self.info
    ct_flat, ct_tree = tree_util.tree_flatten(ct)
    if ct_tree != out_tree:
      raise TypeError(f"vjp: cotangent structure {ct_tree} does not match the output "
                      f"structure {out_tree}")
    for c, a in zip(ct_flat, out_avals):
      if core.get_aval(c).shape != a.shape:
        raise ValueError(f"vjp: cotangent shape {core.get_aval(c).shape} does not match the "
                         f"output shape {a.shape}")
    cts = [c for c, z in zip(ct_flat, zero_out) if not z]
    lin_avals = [v.aval for v in self.jaxpr.invars]
    cts_in = None
    if core.current_trace() is core.eval_trace:
      cts_in = _backward_pass_compiled(self.jaxpr, self.consts, lin_avals, cts)
    if cts_in is None:
      cts_in = backward_pass(self.jaxpr, self.consts, lin_avals, cts)
    cts_in = [np.zeros(a.shape, dtypes.float0) if not dtypes.is_inexact(a.dtype)
              else instantiate_zeros(c) for c, a in zip(cts_in, in_avals)]
    return tree_util.tree_unflatten(in_tree, cts_in)

  def __repr__(self):
    return f"<vjp pullback with {len(self.consts)} residuals>"


tree_util.register_pytree_node(
    VJPFunction, lambda f: (f.consts, (f.jaxpr, f.info)),
    lambda aux, consts: VJPFunction(aux[0], consts, aux[1]))


# ---------------------------------------------------------------------------
# The backward pass as one Rust program. Outside every transformation,
# ``f_vjp`` runs the transposed linear jaxpr as one compiled Program (fused,
# one dispatch) instead of op by op. A Program is built for a linear jaxpr
# the second time its structure is seen (a one-off vjp stays op by op) and
# cached by that structure, with the residuals as its inputs.


class _Uncacheable(Exception):
  pass


_PLAIN = (type(None), bool, int, float, str, np.dtype, type)


def _param_key(v):
  if type(v) in _PLAIN:
    return v
  if isinstance(v, (tuple, list)):
    return tuple([x if type(x) in _PLAIN else _param_key(x) for x in v])
  if isinstance(v, core.ClosedJaxpr):
    if v.consts:
      raise _Uncacheable   # constants baked into a Program may differ next time
    return ("closed", jaxpr_key(v.jaxpr))
  if isinstance(v, core.Jaxpr):
    return ("jaxpr", jaxpr_key(v))
  if isinstance(v, (np.integer, np.floating, np.bool_)):
    return (type(v), v.item())
  if isinstance(v, np.dtype):
    return v
  if hasattr(v, "name") and isinstance(getattr(v, "name"), str) and not callable(v):
    try:
      hash(v)
      return v                     # enums
    except TypeError:
      raise _Uncacheable from None
  raise _Uncacheable   # callables, boxes, arrays: identity would never match again


def jaxpr_key(jaxpr: core.Jaxpr) -> tuple:
  """A hashable key equal for two jaxprs with the same equations (primitives,
  params, wiring, types, literal values). Raises _Uncacheable."""
  ids: dict[int, int] = {}
  for v in (*jaxpr.constvars, *jaxpr.invars):
    ids[id(v)] = len(ids)
  Literal = core.Literal

  def ref(v):
    if type(v) is Literal:
      val = v.val.item() if isinstance(v.val, (np.ndarray, np.generic)) else v.val
      return ("lit", val, v.aval)
    return ids[id(v)]

  parts: list = [tuple([v.aval for v in jaxpr.constvars]),
                 tuple([v.aval for v in jaxpr.invars])]
  for e in jaxpr.eqns:
    params = tuple([(k, x if type(x) in _PLAIN else _param_key(x))
                    for k, x in e.params.items()])
    parts.append((e.primitive, tuple([ref(v) for v in e.invars]), params,
                  tuple([v.aval for v in e.outvars])))
    for v in e.outvars:
      ids[id(v)] = len(ids)
  parts.append(tuple([ref(v) for v in jaxpr.outvars]))
  return tuple(parts)


_bwd_cache: dict = {}
_bwd_seen: dict = {}
_BWD_CACHE_MAX = 256


def _backward_pass_compiled(jaxpr, consts, lin_avals, cts):
  """``backward_pass`` as one cached Program; None where that cannot be done
  (residuals that are not concrete arrays, equations whose params cannot be
  keyed, user rules that must see concrete values)."""
  if not all(type(c) is Array for c in consts) or not all(type(c) is Array for c in cts):
    return None
  try:
    key = (jaxpr_key(jaxpr), tuple(c.aval for c in cts))
    entry = _bwd_cache.get(key)
  except (_Uncacheable, TypeError):
    return None
  if entry is None:
    if _bwd_seen.get(key, 0) < 1 or len(_bwd_cache) >= _BWD_CACHE_MAX:
      if len(_bwd_seen) >= 4 * _BWD_CACHE_MAX:
        _bwd_seen.clear()
      _bwd_seen[key] = _bwd_seen.get(key, 0) + 1
      return None
    entry = _compile_backward(jaxpr, [c.aval for c in consts], lin_avals,
                              [c.aval for c in cts])
    _bwd_cache[key] = entry
  exe, nonzero, out_avals = entry
  bufs = exe.run([c._buf for c in consts] + [c._buf for c in cts])
  outs = iter(Array._from_buffer(b, a) for b, a in zip(bufs, out_avals))
  return [next(outs) if nz else Zero(a) for nz, a in zip(nonzero, lin_avals)]


def _eval_compiled(jaxpr, consts, args):
  """``eval_jaxpr`` as one cached Program (built the second time the
  jaxpr's structure is seen); None where that cannot be done."""
  args = [to_array(a) if isinstance(a, (bool, int, float, np.ndarray, np.generic)) else a
          for a in args]
  if not all(type(c) is Array for c in consts) or not all(type(a) is Array for a in args):
    return None
  try:
    key = ("eval", jaxpr_key(jaxpr), tuple(a.aval for a in args))
    entry = _bwd_cache.get(key)
  except (_Uncacheable, TypeError):
    return None
  if entry is None:
    if _bwd_seen.get(key, 0) < 1 or len(_bwd_cache) >= _BWD_CACHE_MAX:
      if len(_bwd_seen) >= 4 * _BWD_CACHE_MAX:
        _bwd_seen.clear()
      _bwd_seen[key] = _bwd_seen.get(key, 0) + 1
      return None
    opened = core.Jaxpr([], list(jaxpr.constvars) + list(jaxpr.invars), jaxpr.outvars,
                        jaxpr.eqns)
    in_avals = [c.aval for c in consts] + [a.aval for a in args]
    ctx, out_ids = lowering.lower_jaxpr(core.ClosedJaxpr(opened, []), in_avals)
    entry = (ctx.compile(out_ids), [v.aval for v in jaxpr.outvars])
    _bwd_cache[key] = entry
  exe, out_avals = entry
  bufs = exe.run([c._buf for c in consts] + [a._buf for a in args])
  return [Array._from_buffer(b, a) for b, a in zip(bufs, out_avals)]


def clear_caches() -> None:
  """Forget the compiled backward passes."""
  _bwd_cache.clear()
  _bwd_seen.clear()


def _compile_backward(jaxpr, const_avals, lin_avals, ct_avals):
  n = len(const_avals)
  nonzero: list = []

  def transposed(*args):
    res = backward_pass(jaxpr, args[:n], lin_avals, list(args[n:]))
    nonzero.extend(not isinstance(r, Zero) for r in res)
    return [r for r in res if not isinstance(r, Zero)]

  closed = pe.trace_to_jaxpr(transposed, list(const_avals) + list(ct_avals))
  in_avals = list(const_avals) + list(ct_avals)
  ctx, out_ids = lowering.lower_jaxpr(closed, in_avals)
  return ctx.compile(out_ids), nonzero, closed.out_avals


# ---------------------------------------------------------------------------
# add_any: the accumulation of tangents and cotangents (JAX's ``add_jaxvals``).
# The interpreters own it (it is what ``add_tangents`` binds); it is linear
# and lowers to the Rust op ``add``.


def _add_any_abstract_eval(x, y):
  if x.shape != y.shape or x.dtype != y.dtype:
    raise TypeError(f"add_any: operands must match, got {x.str_short()} and {y.str_short()}")
  return ShapedArray(x.shape, x.dtype, x.weak_type and y.weak_type)


def _add_any_batch(vals, dims):
  (x, y), (dx, dy) = vals, dims
  if dx == dy:
    return add_jaxvals_p.bind(x, y), dx
  size = core.get_aval(x if dx is not None else y).shape[dx if dx is not None else dy]
  return add_jaxvals_p.bind(batching.bdim_at_front(x, dx, size),
                            batching.bdim_at_front(y, dy, size)), 0


add_jaxvals_p = core.new_primitive("add_any")
add_jaxvals_p.def_abstract_eval(_add_any_abstract_eval)
add_jaxvals_p.def_impl(lambda x, y: apply_primitive(add_jaxvals_p, x, y))
deflinear(add_jaxvals_p, lambda ct, x, y: [ct, ct])
batching.primitive_batchers[add_jaxvals_p] = _add_any_batch
lowering.register_standard(add_jaxvals_p, op_name="add")
reference.register(add_jaxvals_p, np.add)
