"""Rematerialization (``jax.checkpoint`` / ``jax.remat``), as JAX does it.

``checkpoint(f)`` traces ``f`` to a jaxpr and binds ``remat2`` (JAX's name)
with it. Its rules:

- JVP: ``remat2`` of the JVP jaxpr (primals and tangents in, both out);
- partial evaluation (linearize, hence grad/vjp): the JVP jaxpr is split by
  :func:`partial_eval_jaxpr_custom`. The known side (primal outputs and the
  residuals the policy lets us save) runs now; the rest, which recomputes
  every primal value it needs that was not saved, is staged as a
  ``remat2[differentiated=True]`` equation;
- transpose: the staged jaxpr is split again into its non-linear part (the
  recomputation) and its linear part, transposed; the result is bound as
  another ``remat2[differentiated=True]``;
- batching: ``remat2`` of the batched jaxpr;
- lowering: the jaxpr is inlined into the Program. Where
  ``differentiated`` and ``prevent_cse``, its inputs first pass an
  ``optimization_barrier``, so that the Program's CSE cannot merge the
  recomputation back into the forward pass (the point of remat under jit).

A *policy* ``policy(prim, *avals, **params) -> bool`` says which primal
intermediates may be saved (``checkpoint_policies``); ``checkpoint_name``
names a value for the name-based policies. ``optimization_barrier`` is
``lax.optimization_barrier``: the identity, opaque to the Program passes.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import types
import weakref
from typing import Any, Callable, Sequence

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.base.config import config
from rjax._src.core import Jaxpr, JaxprEqn, Literal, Var
from rjax._src.interpreters import ad, batching, lowering, reference
from rjax._src.interpreters import partial_eval as pe
from rjax._src.runtime.array import Array, to_array
from rjax._src.runtime.executable import supported_ops

logger = logging.getLogger("rjax")

# ---------------------------------------------------------------------------
# optimization_barrier


def _barrier_abstract_eval(*avals):
  return list(avals)


def _barrier_impl(*args):
  return [a if type(a) is Array else to_array(a) for a in args]


def _barrier_jvp(primals, tangents):
  tangents = [ad.instantiate_zeros(t) for t in tangents]
  return (optimization_barrier_p.bind(*primals), optimization_barrier_p.bind(*tangents))


def _barrier_transpose(cts, *args):
  cts = [ad.instantiate_zeros(c) for c in cts]
  return optimization_barrier_p.bind(*cts)


def _barrier_batch(vals, dims):
  return optimization_barrier_p.bind(*vals), list(dims)


_HAS_BARRIER_OP = "optimization_barrier" in set(supported_ops())


def _barrier_lowering(ctx, *ins, avals_in, avals_out):
  """One Rust ``optimization_barrier`` (identity on all operands, never
  merged by CSE) where the core has it; otherwise a same-shape ``reshape``
  per operand, tagged so that it equals no other instruction: a zero-copy
  view that CSE and folding see as a new value, so nothing computed from it
  is merged with what was computed from its input."""
  if _HAS_BARRIER_OP:
    return ctx.emit("optimization_barrier", ins, avals_out)
  return [ctx.emit("reshape", [i], [a], {"optimization_barrier": True})[0]
          for i, a in zip(ins, avals_out)]


optimization_barrier_p = core.new_primitive("optimization_barrier", multiple_results=True)
optimization_barrier_p.def_abstract_eval(_barrier_abstract_eval)
optimization_barrier_p.def_impl(_barrier_impl)
ad.primitive_jvps[optimization_barrier_p] = _barrier_jvp
ad.primitive_transposes[optimization_barrier_p] = _barrier_transpose
batching.primitive_batchers[optimization_barrier_p] = _barrier_batch
lowering.lowerings[optimization_barrier_p] = _barrier_lowering
reference.register(optimization_barrier_p, lambda *xs: list(xs))


def optimization_barrier(operand):
  """The identity on a pytree of arrays, which the compiler may not optimize
  across (``lax.optimization_barrier``): no common-subexpression elimination
  or constant folding through it."""
  leaves, tree = tree_util.tree_flatten(operand)
  return tree_util.tree_unflatten(tree, optimization_barrier_p.bind(*leaves))


# ---------------------------------------------------------------------------
# checkpoint_name: the identity, with a name the policies can see


def _name_jvp(primals, tangents, *, name):
  (x,), (t,) = primals, tangents
  return name_p.bind(x, name=name), t   # the tangent is not named


name_p = core.new_primitive("name")
name_p.def_abstract_eval(lambda x, *, name: x)
name_p.def_impl(lambda x, *, name: x if type(x) is Array else to_array(x))
ad.primitive_jvps[name_p] = _name_jvp
batching.primitive_batchers[name_p] = lambda vals, dims, *, name: (name_p.bind(vals[0], name=name),
                                                                   dims[0])
lowering.lowerings[name_p] = lambda ctx, x, *, avals_in, avals_out, name: [x]
reference.register(name_p, lambda x, *, name: x)


def checkpoint_name(x, name: str):
  """``x`` (a pytree), unchanged, named ``name`` for the checkpoint policies
  (``jax.ad_checkpoint.checkpoint_name``)."""
  return tree_util.tree_map(lambda v: name_p.bind(v, name=name), x)


# ---------------------------------------------------------------------------
# Policies (``checkpoint_policies``): which intermediates may be saved


def everything_saveable(*_, **__) -> bool:
  """Save everything: as if ``checkpoint`` were not used."""
  return True


def nothing_saveable(*_, **__) -> bool:
  """Save nothing: recompute every intermediate (checkpoint's default)."""
  return False


def _no_batch_dims(params) -> bool:
  (_, _), (lb, rb) = params["dimension_numbers"]
  return not lb and not rb


@dataclasses.dataclass(frozen=True)
class DotsSaveable:
  only_if_no_batch_dims: bool

  def __call__(self, prim, *avals, **params):
    if self.only_if_no_batch_dims:
      return prim.name == "dot_general" and _no_batch_dims(params)
    return prim.name in ("dot_general", "conv_general_dilated")


dots_saveable = checkpoint_dots = DotsSaveable(False)
dots_with_no_batch_dims_saveable = checkpoint_dots_with_no_batch_dims = DotsSaveable(True)


def save_anything_except_these_names(*names_not_to_save):
  """Save any values (not just named ones) excluding the names given. (As
  in JAX 0.10.2, this saves every value.)"""
  return lambda *_, **__: True


@dataclasses.dataclass(frozen=True)
class SaveOnlyTheseNames:
  saveable_names: frozenset

  def __call__(self, prim, *_, **params):
    return prim is name_p and params["name"] in self.saveable_names


@dataclasses.dataclass(frozen=True)
class SaveAnyNamesButThese:
  names: frozenset

  def __call__(self, prim, *_, **params):
    return prim is name_p and params["name"] not in self.names


def save_only_these_names(*names_which_can_be_saved):
  """Save only named values, and only among the names given."""
  return SaveOnlyTheseNames(frozenset(names_which_can_be_saved))


def save_any_names_but_these(*names_not_to_save):
  """Save only named values (outputs of ``checkpoint_name``), excluding the
  names given."""
  return SaveAnyNamesButThese(frozenset(names_not_to_save))


def save_from_both_policies(policy_1, policy_2):
  """Logical OR of two policies: saveable iff either policy saves it."""
  def policy(prim, *args, **params):
    out1 = policy_1(prim, *args, **params)
    out2 = policy_2(prim, *args, **params)
    if not (isinstance(out1, bool) and isinstance(out2, bool)):
      raise ValueError(f"The return value of the policies should be a boolean. Got: {out1} "
                       f"and {out2}. Please write a custom policy function directly, rather "
                       f"than using this helper function.")
    return out1 or out2
  return policy


_NO_OFFLOAD = ("rjax has no separate host memory to offload residuals to (its arrays already "
               "live in host memory): use dots_with_no_batch_dims_saveable or "
               "save_only_these_names instead")


def offload_dot_with_no_batch_dims(offload_src, offload_dst):
  """JAX's offloading policy: not available in rjax (NotImplementedError)."""
  raise NotImplementedError(f"checkpoint_policies.offload_dot_with_no_batch_dims: {_NO_OFFLOAD}")


def save_and_offload_only_these_names(*, names_which_can_be_saved, names_which_can_be_offloaded,
                                      offload_src, offload_dst):
  """JAX's offloading policy: not available in rjax (NotImplementedError)."""
  both = set(names_which_can_be_saved) & set(names_which_can_be_offloaded)
  if both:
    raise ValueError(f"The names should be exclusive and should not intersect in "
                     f"`names_which_can_be_saved` and `names_which_can_be_offloaded`. Got "
                     f"names_which_can_be_saved={set(names_which_can_be_saved)}, "
                     f"names_which_can_be_offloaded={set(names_which_can_be_offloaded)} and "
                     f"the intersection={both}")
  raise NotImplementedError(f"checkpoint_policies.save_and_offload_only_these_names: "
                            f"{_NO_OFFLOAD}")


checkpoint_policies = types.SimpleNamespace(
    everything_saveable=everything_saveable,
    nothing_saveable=nothing_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=dots_saveable,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=dots_with_no_batch_dims_saveable,
    offload_dot_with_no_batch_dims=offload_dot_with_no_batch_dims,
    save_anything_except_these_names=save_anything_except_these_names,
    save_any_names_but_these=save_any_names_but_these,
    save_only_these_names=save_only_these_names,
    save_from_both_policies=save_from_both_policies,
    save_and_offload_only_these_names=save_and_offload_only_these_names)


# ---------------------------------------------------------------------------
# Jaxpr helpers


def _fun(jaxpr: Jaxpr) -> Callable:
  return lambda *args: core.eval_jaxpr(jaxpr, (), *args)


def _open(closed: core.ClosedJaxpr) -> tuple[Jaxpr, list]:
  """A closed jaxpr's constants as leading inputs (``convert_constvars``)."""
  j = closed.jaxpr
  return Jaxpr([], list(j.constvars) + list(j.invars), j.outvars, j.eqns), list(closed.consts)


def _trace(fun: Callable, in_avals) -> tuple[Jaxpr, list]:
  return _open(pe.trace_to_jaxpr(fun, list(in_avals)))


def _jvp_jaxpr(jaxpr: Jaxpr, nonzeros: tuple) -> tuple[Jaxpr, list, list]:
  """``(*primals, *nonzero_tangents) -> (*primal_outs, *nonzero_tangent_outs)``;
  cached on the jaxpr per nonzero pattern."""
  cache = jaxpr.__dict__.setdefault("_jvp_cache", {})
  hit = cache.get(nonzeros)
  if hit is not None:
    return hit
  avals = [v.aval for v in jaxpr.invars]
  box = []

  def f(*args):
    primals, ts = list(args[:len(avals)]), iter(args[len(avals):])
    tangents = [next(ts) if nz else ad.Zero(ad.tangent_aval(a)) for a, nz in zip(avals, nonzeros)]
    p_out, t_out = ad.jvp_flat(_fun(jaxpr), primals, tangents)
    nz_out = [not isinstance(t, ad.Zero) for t in t_out]
    box.append(nz_out)
    return list(p_out) + [t for t in t_out if not isinstance(t, ad.Zero)]

  t_avals = [ad.tangent_aval(a) for a, nz in zip(avals, nonzeros) if nz]
  j, consts = _trace(f, avals + t_avals)
  cache[nonzeros] = hit = (j, consts, box[-1])
  return hit


def _policy_saves(policy, e: JaxprEqn) -> bool:
  if e.primitive.name == "debug_callback":
    return True      # an effect runs once, in the forward pass; never recomputed
  return bool(policy(e.primitive, *[v.aval for v in e.invars], **e.params))


def partial_eval_jaxpr_custom(jaxpr: Jaxpr, in_unknowns: Sequence[bool], policy: Callable):
  """Split ``jaxpr`` (no constvars) given which inputs are unknown:

  - ``known``: known inputs -> (known outputs, residuals);
  - ``staged``: (residuals, unknown inputs) -> unknown outputs. It holds the
    equations that touch unknown values and recomputes every known value
    they need that ``policy`` does not let us save.

  Returns ``(known, staged, out_unknowns, n_res)``. The residuals are known
  inputs or outputs of saveable known equations (JAX's
  ``partial_eval_jaxpr_custom``)."""
  uk = {id(v) for v, u in zip(jaxpr.invars, in_unknowns) if u}
  known_eqns, staged = [], []
  saveable = {id(v) for v, u in zip(jaxpr.invars, in_unknowns) if not u}
  for e in jaxpr.eqns:
    in_uk_e = [not isinstance(v, Literal) and id(v) in uk for v in e.invars]
    if any(in_uk_e) and e.primitive is remat_p:
      # a nested checkpoint: split it too (its own policy decides what it saves)
      k_eqn, s_eqn = _split_remat_eqn(e, in_uk_e)
      known_eqns.append(k_eqn)
      if _policy_saves(policy, k_eqn):
        saveable.update(id(v) for v in k_eqn.outvars)
      else:
        staged.append(k_eqn)
      staged.append(s_eqn)
      uk.update(id(v) for v in s_eqn.outvars)
    elif any(in_uk_e):
      staged.append(e)
      uk.update(id(v) for v in e.outvars)
    else:
      known_eqns.append(e)
      if _policy_saves(policy, e):
        saveable.update(id(v) for v in e.outvars)
      else:
        staged.append(e)       # recomputed if the staged side needs it
  out_uk = [not isinstance(v, Literal) and id(v) in uk for v in jaxpr.outvars]
  # DCE the staged side, from its unknown outputs
  need = {id(v) for v, u in zip(jaxpr.outvars, out_uk) if u}
  live = []
  for e in reversed(staged):
    if any(id(v) in need for v in e.outvars):
      live.append(e)
      need.update(id(v) for v in e.invars if not isinstance(v, Literal))
  live.reverse()
  produced = {id(v) for e in live for v in e.outvars}
  uk_in = [v for v, u in zip(jaxpr.invars, in_unknowns) if u]
  produced.update(id(v) for v in uk_in)
  res, seen = [], set()
  for e in live:
    for v in e.invars:
      if not isinstance(v, Literal) and id(v) not in produced and id(v) not in seen:
        assert id(v) in saveable, "partial_eval_jaxpr_custom: an unsaveable residual"
        seen.add(id(v))
        res.append(v)
  # DCE the known side, from its known outputs and the residuals
  known_out = [v for v, u in zip(jaxpr.outvars, out_uk) if not u]
  need = {id(v) for v in known_out if not isinstance(v, Literal)} | {id(v) for v in res}
  live_known = []
  for e in reversed(known_eqns):
    if any(id(v) in need for v in e.outvars) or e.primitive.name == "debug_callback":
      live_known.append(e)
      need.update(id(v) for v in e.invars if not isinstance(v, Literal))
  live_known.reverse()
  known = Jaxpr([], [v for v, u in zip(jaxpr.invars, in_unknowns) if not u],
                known_out + res, live_known)
  staged_j = Jaxpr([], res + uk_in, [v for v, u in zip(jaxpr.outvars, out_uk) if u], live)
  return known, staged_j, out_uk, len(res)


def _split_remat_eqn(e: JaxprEqn, in_uk: Sequence[bool]) -> tuple[JaxprEqn, JaxprEqn]:
  """A remat2 equation with some unknown inputs as a known remat2 (known
  outputs and residuals) and a staged remat2[differentiated=True]."""
  p = e.params
  known, staged, out_uk, n_res = partial_eval_jaxpr_custom(p["jaxpr"], in_uk,
                                                           p["policy"] or nothing_saveable)
  res = [Var(v.aval) for v in known.outvars[len(known.outvars) - n_res:]]
  cse = p["prevent_cse"]
  k_cse, s_cse = cse, cse
  if isinstance(cse, tuple):
    k_cse = tuple(c for c, u in zip(cse, in_uk) if not u)
    s_cse = (True,) * n_res + tuple(c for c, u in zip(cse, in_uk) if u)
  k_eqn = JaxprEqn([v for v, u in zip(e.invars, in_uk) if not u],
                   [v for v, u in zip(e.outvars, out_uk) if not u] + res, remat_p,
                   dict(p, jaxpr=known, prevent_cse=k_cse), e.source_info)
  s_eqn = JaxprEqn(res + [v for v, u in zip(e.invars, in_uk) if u],
                   [v for v, u in zip(e.outvars, out_uk) if u], remat_p,
                   dict(p, jaxpr=staged, prevent_cse=s_cse, differentiated=True), e.source_info)
  return k_eqn, s_eqn


# ---------------------------------------------------------------------------
# remat2


def _cse_flags(prevent_cse, n: int) -> tuple:
  return (bool(prevent_cse),) * n if isinstance(prevent_cse, bool) else tuple(prevent_cse)


def _remat_abstract_eval(*avals, jaxpr, prevent_cse, differentiated, policy):
  return [v.aval for v in jaxpr.outvars]


def _remat_impl(*args, jaxpr, prevent_cse, differentiated, policy):
  return core.eval_jaxpr(jaxpr, (), *args)


def _remat_jvp(primals, tangents, *, jaxpr, prevent_cse, differentiated, policy):
  nonzeros = tuple(not isinstance(t, ad.Zero) for t in tangents)
  jvp_j, consts, nz_out = _jvp_jaxpr(jaxpr, nonzeros)
  nz_t = [t for t in tangents if not isinstance(t, ad.Zero)]
  cse = prevent_cse
  if isinstance(cse, tuple):
    cse = (False,) * len(consts) + cse + (True,) * len(nz_t)
  outs = remat_p.bind(*consts, *primals, *nz_t, jaxpr=jvp_j, prevent_cse=cse,
                      differentiated=differentiated, policy=policy)
  n = len(jaxpr.outvars)
  p_out, t_it = outs[:n], iter(outs[n:])
  t_out = [next(t_it) if nz else ad.Zero.from_value(p) for p, nz in zip(p_out, nz_out)]
  return p_out, t_out


def _remat_partial_eval(trace, args, *, jaxpr, prevent_cse, differentiated, policy):
  in_uk = [not trace.is_known(a) for a in args]
  known, staged, out_uk, n_res = partial_eval_jaxpr_custom(jaxpr, in_uk,
                                                           policy or nothing_saveable)
  known_args = [a for a, u in zip(args, in_uk) if not u]
  with core.set_current_trace(trace.parent_trace):
    outs = core.eval_jaxpr(known, (), *known_args)
  n_known = len(outs) - n_res
  known_outs, residuals = outs[:n_known], outs[n_known:]
  if config.read("jax_log_checkpoint_residuals"):
    logger.warning("remat-decorated function saving these residuals:\n%s",
                   "\n".join(f"  {core.get_aval(r).str_short()}" for r in residuals))
  uk_args = [a for a, u in zip(args, in_uk) if u]
  cse = prevent_cse
  if isinstance(cse, tuple):
    cse = (True,) * n_res + tuple(c for c, u in zip(cse, in_uk) if u)
  staged_outs = trace.stage(remat_p, list(residuals) + uk_args,
                            dict(jaxpr=staged, prevent_cse=cse, differentiated=True,
                                 policy=policy))
  k, s = iter(known_outs), iter(staged_outs)
  return [next(s) if u else next(k) for u in out_uk]


def _transposed_jaxpr(jaxpr: Jaxpr, linear: tuple, ct_nonzero: tuple):
  """``(*nonlinear_inputs, *nonzero_cts) -> nonzero cts of the linear
  inputs``: the non-linear part of ``jaxpr`` (the recomputation) runs first,
  then the transpose of its linear part. Cached on the jaxpr."""
  cache = jaxpr.__dict__.setdefault("_transpose_cache", {})
  hit = cache.get((linear, ct_nonzero))
  if hit is not None:
    return hit
  in_avals = [v.aval for v in jaxpr.invars]
  out_avals = [v.aval for v in jaxpr.outvars]
  lin_avals = [a for a, l in zip(in_avals, linear) if l]
  n_nonlin = len(in_avals) - len(lin_avals)
  box = []

  def f(*args):
    nonlin, cts = iter(args[:n_nonlin]), iter(args[n_nonlin:])
    ptrace = pe.PartialEvalTrace(core.current_trace())
    ins = [ptrace.new_arg(a) if l else next(nonlin) for a, l in zip(in_avals, linear)]
    with core.set_current_trace(ptrace):
      outs = core.eval_jaxpr(jaxpr, (), *ins)
    lin_outs = [(o, next(cts) if nz else ad.Zero(a))
                for o, a, nz in zip(outs, out_avals, ct_nonzero)]
    lin_outs = [(o, c) for o, c in lin_outs if not ptrace.is_known(o)]
    lin = ptrace.to_jaxpr([o for o, _ in lin_outs])
    res = ad.backward_pass(lin.jaxpr, lin.consts, lin_avals, [c for _, c in lin_outs])
    box.append([not isinstance(r, ad.Zero) for r in res])
    return [r for r in res if not isinstance(r, ad.Zero)]

  ct_avals = [ad.tangent_aval(a) for a, nz in zip(out_avals, ct_nonzero) if nz]
  j, consts = _trace(f, [a for a, l in zip(in_avals, linear) if not l] + ct_avals)
  cache[(linear, ct_nonzero)] = hit = (j, consts, box[-1])
  return hit


def _remat_transpose(cts, *args, jaxpr, prevent_cse, differentiated, policy):
  linear = tuple(ad.is_undefined_primal(a) for a in args)
  ct_nonzero = tuple(not isinstance(c, ad.Zero) for c in cts)
  t_j, consts, nz_in = _transposed_jaxpr(jaxpr, linear, ct_nonzero)
  nonlin = [a for a in args if not ad.is_undefined_primal(a)]
  nz_cts = [c for c in cts if not isinstance(c, ad.Zero)]
  cse = prevent_cse
  if isinstance(cse, tuple):
    cse = (False,) * len(consts) + tuple(c for c, l in zip(cse, linear) if not l) + \
        (True,) * len(nz_cts)
  outs = iter(remat_p.bind(*consts, *nonlin, *nz_cts, jaxpr=t_j, prevent_cse=cse,
                           differentiated=True, policy=policy))
  lin_nz = iter(nz_in)
  res = []
  for a, l in zip(args, linear):
    if not l:
      res.append(None)
    else:
      res.append(next(outs) if next(lin_nz) else ad.Zero(a.aval))
  return res


def _remat_batch(vals, dims, *, jaxpr, prevent_cse, differentiated, policy):
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  batched = tuple(d is not None for d in dims)
  cache = jaxpr.__dict__.setdefault("_batch_cache", {})
  hit = cache.get((size, batched))
  if hit is None:
    avals = []
    for v, b in zip(jaxpr.invars, batched):
      a = v.aval
      avals.append(a.update(shape=(size,) + a.shape) if b else a)
    box = []

    def f(*args):
      trace = batching.BatchTrace(core.current_trace(), None, size)
      tracers = [batching.BatchTracer(trace, a, 0) if b else a for a, b in zip(args, batched)]
      with core.set_current_trace(trace):
        outs = _fun(jaxpr)(*tracers)
      res, out_b = [], []
      for o in outs:
        v, d = trace.to_batch_info(o)
        res.append(v if d is None else batching.moveaxis(v, d, 0))
        out_b.append(d is not None)
      box.append(out_b)
      return res

    j, consts = _trace(f, avals)
    cache[(size, batched)] = hit = (j, consts, box[-1])
  j, consts, out_b = hit
  vals = [batching.moveaxis(v, d, 0) if d is not None else v for v, d in zip(vals, dims)]
  cse = prevent_cse if isinstance(prevent_cse, bool) else (False,) * len(consts) + prevent_cse
  outs = remat_p.bind(*consts, *vals, jaxpr=j, prevent_cse=cse, differentiated=differentiated,
                      policy=policy)
  return outs, [0 if b else None for b in out_b]


def _inline_remat(invars, *, jaxpr, prevent_cse, differentiated, policy):
  """Lowering: the jaxpr's equations in place of the call, behind an
  optimization barrier on its inputs where it recomputes (differentiated)
  and prevent_cse asks for one."""
  eqns = []
  ins = list(invars)
  cse = _cse_flags(prevent_cse, len(ins))
  if differentiated and any(cse):
    idx = [i for i, (c, v) in enumerate(zip(cse, ins)) if c and not isinstance(v, Literal)]
    if idx:
      outs = [Var(ins[i].aval) for i in idx]
      eqns.append(JaxprEqn([ins[i] for i in idx], outs, optimization_barrier_p, {}))
      for i, o in zip(idx, outs):
        ins[i] = o
  return eqns, ins, jaxpr


remat_p = core.new_primitive("remat2", multiple_results=True)
remat_p.def_abstract_eval(_remat_abstract_eval)
remat_p.def_impl(_remat_impl)
ad.primitive_jvps[remat_p] = _remat_jvp
ad.primitive_transposes[remat_p] = _remat_transpose
pe.partial_eval_rules[remat_p] = _remat_partial_eval
batching.primitive_batchers[remat_p] = _remat_batch
lowering.register_inline_call(remat_p, _inline_remat)
reference.register(remat_p, lambda *args, jaxpr, **_: core.eval_jaxpr(jaxpr, (), *args))


# ---------------------------------------------------------------------------
# checkpoint


#: fun -> {signature: (jaxpr, consts, out_tree)}: as in JAX, a checkpointed
#: function is traced once per signature (so its jvp/transpose jaxprs are
#: reused too); weak in the function.
_trace_cache: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()
_trace_lock = threading.Lock()


def _trace_cache_get(fun, key):
  try:
    return _trace_cache.get(fun, {}).get(key)
  except TypeError:          # unhashable static values or function
    return None


def _trace_cache_put(fun, key, value) -> None:
  try:
    with _trace_lock:
      _trace_cache.setdefault(fun, {})[key] = value
  except TypeError:
    pass


def clear_cache() -> None:
  with _trace_lock:
    _trace_cache.clear()


def _static_nums(static_argnums, n: int) -> set:
  nums = (static_argnums,) if isinstance(static_argnums, int) else static_argnums
  if not (isinstance(nums, tuple) and all(type(d) is int for d in nums)):
    raise TypeError(f"the `static_argnums` argument to `jax.checkpoint` / `jax.remat` must be "
                    f"an int, tuple of ints or, bool, but got value {static_argnums}")
  if not all(-n <= d < n for d in nums):
    raise ValueError(f"the `static_argnums` argument to `jax.checkpoint` / `jax.remat` can only "
                     f"take integer values greater than or equal to `-len(args)` and less than "
                     f"`len(args)`, but got {nums}, while `len(args)` = {n}")
  return {d % n for d in nums}


def checkpoint(fun: Callable, *, prevent_cse: bool | Sequence[bool] = True,
               policy: Callable[..., bool] | None = None,
               static_argnums: int | tuple[int, ...] = (), static_argnames=()) -> Callable:
  """Make ``fun`` recompute its intermediate values when differentiated
  instead of saving them (``jax.checkpoint``, alias ``remat``). ``policy``
  (one of ``checkpoint_policies``) says which intermediates may be saved;
  ``prevent_cse`` (default True) keeps jit's common-subexpression
  elimination from undoing the recomputation."""
  if isinstance(prevent_cse, (list, tuple)):
    prevent_cse = tuple(bool(p) for p in prevent_cse)
  elif not isinstance(prevent_cse, bool):
    raise TypeError(f"prevent_cse must be a bool or tuple of bools, got "
                    f"type(prevent_cse)={type(prevent_cse)}")
  if isinstance(static_argnames, str):
    static_argnames = (static_argnames,)

  @functools.wraps(fun, updated=())
  def fun_remat(*args, **kwargs):
    static = _static_nums(static_argnums, len(args)) if static_argnums != () else set()
    kw_static = {k: v for k, v in kwargs.items() if k in static_argnames}
    kwargs = {k: v for k, v in kwargs.items() if k not in static_argnames}
    dyn = tuple(a for i, a in enumerate(args) if i not in static)
    leaves, in_tree = tree_util.tree_flatten((dyn, kwargs))
    box: list = []

    def flat_fun(*xs):
      dargs, kw = tree_util.tree_unflatten(in_tree, xs)
      it = iter(dargs)
      full = [args[i] if i in static else next(it) for i in range(len(args))]
      out = fun(*full, **kw, **kw_static)
      o, t = tree_util.tree_flatten(out)
      box.append(t)
      return o

    avals = tuple(core.get_aval(x) for x in leaves)
    statics = (tuple((i, args[i]) for i in sorted(static)), tuple(sorted(kw_static.items())))
    key = (in_tree, avals, statics, config.trace_context())
    hit = _trace_cache_get(fun, key)
    if hit is None:
      debug = core.debug_info("checkpoint / remat", fun, dyn, kwargs,
                              [i for i in range(len(args)) if i not in static])
      closed = pe.trace_to_jaxpr(flat_fun, list(avals), debug)
      jaxpr, consts = _open(closed)
      hit = (jaxpr, consts, box[-1])
      if not any(isinstance(c, core.Tracer) for c in consts):
        _trace_cache_put(fun, key, hit)
    jaxpr, consts, out_tree = hit
    cse = prevent_cse
    if isinstance(cse, tuple):
      flags = batching.broadcast_prefix(cse, dyn, "prevent_cse") if cse else []
      cse = (False,) * len(consts) + tuple(bool(f) for f in flags) + \
          (True,) * (len(leaves) - len(flags))
    outs = remat_p.bind(*consts, *leaves, jaxpr=jaxpr, prevent_cse=cse, differentiated=False,
                        policy=policy)
    return tree_util.tree_unflatten(out_tree, outs)

  return fun_remat


def remat(fun: Callable, *, prevent_cse: bool = True, policy: Callable[..., bool] | None = None,
          static_argnums: int | tuple[int, ...] = ()) -> Callable:
  """Alias of :func:`checkpoint`."""
  return checkpoint(fun, prevent_cse=prevent_cse, policy=policy, static_argnums=static_argnums)
