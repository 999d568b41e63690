"""``custom_vmap`` and ``sequential_vmap`` (``jax.custom_batching``): a
function with a user-defined batching rule.

``custom_vmap(f)`` traces ``f`` to a jaxpr and binds ``custom_vmap_call``
(JAX's name). Eagerly, under jit and under grad it is ``f``; under vmap its
rule ``rule(axis_size, in_batched, *args) -> (out, out_batched)`` runs on
the arguments with their batch axes in front. Forward mode differentiates
``f`` and, under vmap, the JVP of the rule (as JAX does); reverse mode
needs a ``custom_vjp`` around it, as in JAX.
"""
from __future__ import annotations

import functools
import inspect
import operator
from typing import Any, Callable

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.interpreters import ad, batching, lowering, reference
from rjax._src.interpreters import partial_eval as pe
from rjax._src.lax.control_flow import loops


class custom_vmap:
  """``f = custom_vmap(f)``; ``@f.def_vmap def rule(axis_size, in_batched,
  *args): return out, out_batched``."""

  def __init__(self, fun: Callable[..., Any]):
    functools.update_wrapper(self, fun, updated=())
    self.fun = fun
    self.vmap_rule: Callable | None = None

  def def_vmap(self, vmap_rule: Callable) -> Callable:
    """Set the batching rule; returns it unchanged."""
    self.vmap_rule = vmap_rule
    return vmap_rule

  def __call__(self, *args, **kwargs):
    name = getattr(self.fun, "__name__", "fun")
    if kwargs:
      try:
        ba = inspect.signature(self.fun).bind(*args, **kwargs)
        ba.apply_defaults()
        args = tuple(ba.args)
      except TypeError as e:
        raise TypeError(f"The input arguments to the custom_vmap-decorated function {name} "
                        f"could not be resolved to positional-only arguments. Binding failed "
                        f"with the error:\n{e}") from e
    if self.vmap_rule is None:
      raise AttributeError(f"No batching rule defined for custom_vmap function {name} using "
                           f"def_vmap.")
    args_flat, in_tree = tree_util.tree_flatten(args)
    box: list = []

    def flat_fun(*xs):
      out = self.fun(*tree_util.tree_unflatten(in_tree, xs))
      leaves, tree = tree_util.tree_flatten(out)
      box.append(tree)
      return leaves

    closed = pe.trace_to_jaxpr(flat_fun, [core.get_aval(x) for x in args_flat])
    call, consts = _open(closed)
    rule = _ClosedRule(self.vmap_rule, len(consts), in_tree)
    out = custom_vmap_p.bind(*consts, *args_flat, call=call, rule=rule,
                             in_tree=tree_util.tree_structure((tuple(consts), args)),
                             out_tree=box[-1])
    return tree_util.tree_unflatten(box[-1], out)


def _open(closed):
  j = closed.jaxpr
  return core.Jaxpr([], list(j.constvars) + list(j.invars), j.outvars, j.eqns), list(closed.consts)


class _ClosedRule:
  """The user's rule, called on ``(consts, args)``: the constants the
  function closes over must not be batched."""

  def __init__(self, rule: Callable, n_consts: int, in_tree):
    functools.update_wrapper(self, rule, updated=())
    self.rule, self.n_consts, self.in_tree = rule, n_consts, in_tree

  def __call__(self, axis_size, all_in_batched, *all_args):
    _, args = all_args
    consts_batched, in_batched = all_in_batched
    if any(tree_util.tree_leaves(consts_batched)):
      raise NotImplementedError("custom_vmap: the function closes over a value being batched; "
                                "pass it as an argument instead")
    return self.rule(axis_size, list(in_batched), *args)

  def __str__(self):
    return str(self.rule)


def _rule_name(rule) -> str:
  return getattr(rule, "__name__", "<unnamed rule>")


def _check_trees(rule, original_out_tree, out_tree, out_batched_tree):
  if out_tree != out_batched_tree:
    raise ValueError(f"structure of output value and output batching specification returned "
                     f"by custom vmap rule ({_rule_name(rule)}) do not match.\n"
                     f"Output values: {out_tree}\nBatching spec: {out_batched_tree}")
  if out_tree != original_out_tree:
    raise ValueError(f"structure of output returned by custom vmap rule ({_rule_name(rule)}) "
                     f"does not match that of original custom-vmapped function.\n"
                     f"Original output: {original_out_tree}\nRule output: {out_tree}")


def _custom_vmap_impl(*args, call, rule, in_tree, out_tree):
  return core.eval_jaxpr(call, (), *args)


def _custom_vmap_batch(vals, dims, *, call, rule, in_tree, out_tree):
  sizes = {core.get_aval(x).shape[d] for x, d in zip(vals, dims) if d is not None}
  (axis_size,) = sizes
  vals = [batching.moveaxis(x, d, 0) if d is not None else x for x, d in zip(vals, dims)]
  args = tree_util.tree_unflatten(in_tree, vals)
  in_batched = tree_util.tree_unflatten(in_tree, [d is not None for d in dims])
  out, out_batched = rule(axis_size, in_batched, *args)
  flat_outs, tree1 = tree_util.tree_flatten(out)
  flat_b, tree2 = tree_util.tree_flatten(out_batched)
  _check_trees(rule, out_tree, tree1, tree2)
  return flat_outs, [0 if b else None for b in flat_b]


def _vmap_unrestricted(f: Callable, args, in_axes, axis_size):
  """vmap of flat ``f`` that reports which outputs come out batched (at 0)."""
  parent = core.current_trace()
  trace = batching.BatchTrace(parent, None, axis_size)
  tracers = [batching.BatchTracer(trace, a, d) if d is not None else a
             for a, d in zip(args, in_axes)]
  with core.set_current_trace(trace):
    outs = f(*tracers)
  res, axes = [], []
  for o in outs:
    v, d = trace.to_batch_info(o)
    res.append(batching.moveaxis(v, d, 0) if d is not None else v)
    axes.append(None if d is None else 0)
  return res, axes


def _custom_vmap_jvp(primals, tangents, *, call, rule, in_tree, out_tree):
  def jvp_of_rule(axis_size, in_batched, primals, tangents):
    in_b_ps, in_b_ts = in_batched
    mutually = tree_util.tree_map(operator.and_, in_b_ps, in_b_ts)
    extra_ps = tree_util.tree_map(lambda pb, tb: 0 if pb and not tb else None, in_b_ps, in_b_ts)
    extra_ts = tree_util.tree_map(lambda pb, tb: 0 if tb and not pb else None, in_b_ps, in_b_ts)
    store: list = []

    def to_jvp(*ps):
      out, out_b = rule(axis_size, mutually, *ps)
      _check_trees(rule, out_tree, tree_util.tree_structure(out),
                   tree_util.tree_structure(out_b))
      store.append(out_b)
      return out

    flat_ps_ts, tree_ps_ts = tree_util.tree_flatten((primals, tangents))
    flat_extra = tree_util.tree_leaves((extra_ps, extra_ts), is_leaf=lambda x: x is None)
    box: list = []

    def flat(*xs):
      ps, ts = tree_util.tree_unflatten(tree_ps_ts, xs)
      out = ad.jvp(to_jvp, ps, ts)
      leaves, tree = tree_util.tree_flatten(out)
      box.append(tree)
      return leaves

    outs, axes = _vmap_unrestricted(flat, flat_ps_ts, flat_extra, axis_size)
    n = len(outs) // 2
    out_ps, out_ts = tree_util.tree_unflatten(box[-1], outs)
    ex_ps, ex_ts = tree_util.tree_unflatten(box[-1], [d is not None for d in axes[:n]] +
                                            [d is not None for d in axes[n:]])
    b_ps = tree_util.tree_map(operator.or_, store[-1], ex_ps)
    b_ts = tree_util.tree_map(operator.or_, store[-1], ex_ts)
    return (out_ps, out_ts), (b_ps, b_ts)

  tangents = [ad.instantiate_zeros(t) for t in tangents]
  jvp_call = _jvp_call(call)
  outs = custom_vmap_p.bind(*primals, *tangents, call=jvp_call, rule=jvp_of_rule,
                            in_tree=_pair_tree(in_tree), out_tree=_pair_tree(out_tree))
  n = len(outs) // 2
  return outs[:n], outs[n:]


def _pair_tree(tree):
  """The treedef of ``(t, t)`` for a treedef ``t``."""
  x = tree_util.tree_unflatten(tree, [0] * tree.num_leaves)
  return tree_util.tree_structure((x, x))


def _jvp_call(call: core.Jaxpr) -> core.Jaxpr:
  avals = [v.aval for v in call.invars]

  def f(*args):
    ps, ts = args[:len(avals)], args[len(avals):]
    p_out, t_out = ad.jvp_flat(lambda *xs: core.eval_jaxpr(call, (), *xs), ps, ts)
    return list(p_out) + [ad.instantiate_zeros(t) for t in t_out]

  j, consts = _open(pe.trace_to_jaxpr(f, avals + [ad.tangent_aval(a) for a in avals]))
  if consts:   # constants were hoisted into the call's inputs already
    raise NotImplementedError("custom_vmap: unexpected constants in the JVP of the function")
  return j


def _custom_vmap_inline(invars, *, call, rule, in_tree, out_tree):
  return [], list(invars), call


custom_vmap_p = core.new_primitive("custom_vmap_call", multiple_results=True)
custom_vmap_p.def_abstract_eval(lambda *avals, call, **_: [v.aval for v in call.outvars])
custom_vmap_p.def_impl(_custom_vmap_impl)
ad.primitive_jvps[custom_vmap_p] = _custom_vmap_jvp
batching.primitive_batchers[custom_vmap_p] = _custom_vmap_batch
lowering.register_inline_call(custom_vmap_p, _custom_vmap_inline)
reference.register(custom_vmap_p, lambda *args, call, **_: core.eval_jaxpr(call, (), *args))


def _tree_split(mask, tree):
  lhs = tree_util.tree_map(lambda m, x: x if m else None, mask, tree)
  rhs = tree_util.tree_map(lambda m, x: None if m else x, mask, tree)
  return lhs, rhs


def _tree_merge(mask, lhs, rhs):
  return tree_util.tree_map(lambda m, a, b: a if m else b, mask, lhs, rhs,
                            is_leaf=lambda x: x is None)


def sequential_vmap(f: Callable) -> custom_vmap:
  """``custom_vmap`` whose rule runs ``f`` once per batch element in a loop
  (``lax.map``): for functions that cannot batch natively."""
  f = custom_vmap(f)

  @f.def_vmap
  def rule(axis_size, in_batched, *args):
    def to_map(mapped_args):
      return f(*_tree_merge(in_batched, mapped_args, bcast_args))

    mapped_args, bcast_args = _tree_split(in_batched, list(args))
    out = loops.map(to_map, mapped_args)
    return out, tree_util.tree_map(lambda _: True, out)

  return f
