"""``custom_jvp`` and ``custom_vjp``: user-defined derivative rules.

A call is handed to the current trace's ``process_custom_jvp_call`` /
``process_custom_vjp_call``: the eval and jaxpr traces just run the function;
the JVP trace applies the user's rule; the batching trace batches the function
and the rules. Reverse mode through ``custom_vjp`` stages a linear
``custom_lin`` primitive whose transpose calls the user's ``bwd``.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lax_hooks, lowering, reference
from rjax._src.runtime.array import Array, to_array


def _resolve_args(fun, args, kwargs):
  if not kwargs:
    return tuple(args)
  sig = inspect.signature(fun)
  ba = sig.bind(*args, **kwargs)
  ba.apply_defaults()
  return tuple(ba.args)


def _split_nondiff(args, nondiff_argnums):
  nd = {i % len(args) for i in nondiff_argnums} if args else set()
  return nd, tuple(a for i, a in enumerate(args) if i not in nd)


def _merge(args, nd, dyn):
  it = iter(dyn)
  return [args[i] if i in nd else next(it) for i in range(len(args))]


# ---------------------------------------------------------------------------
# custom_jvp


class custom_jvp:
  """``f = custom_jvp(f)``; ``@f.defjvp def f_jvp(primals, tangents): ...``."""

  def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
    functools.update_wrapper(self, fun, updated=())
    self.fun = fun
    self.nondiff_argnums = tuple(nondiff_argnums)
    self.jvp: Callable | None = None

  def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
    self.jvp = jvp
    return jvp

  def defjvps(self, *jvps: Callable | None) -> None:
    """One rule per argument: ``rule(g, primal_out, *primals)``."""
    def jvp(primals, tangents):
      out = self.fun(*primals)
      t_out = None
      for rule, t in zip(jvps, tangents):
        if rule is None:
          continue
        contrib = rule(t, out, *primals)
        t_out = contrib if t_out is None else tree_util.tree_map(ad.add_tangents, t_out, contrib)
      if t_out is None:
        t_out = tree_util.tree_map(lambda o: o * 0, out)
      return out, t_out
    self.jvp = jvp

  def __call__(self, *args, **kwargs):
    if self.jvp is None:
      raise AttributeError(f"No JVP defined for custom_jvp function {self.__name__} "
                           "using defjvp.")
    args = _resolve_args(self.fun, args, kwargs)
    nd, dyn = _split_nondiff(args, self.nondiff_argnums)
    leaves, in_tree = tree_util.tree_flatten(dyn)
    out_tree_box: list = []

    def flat_fun(*xs):
      out = self.fun(*_merge(args, nd, tree_util.tree_unflatten(in_tree, xs)))
      o, t = tree_util.tree_flatten(out)
      out_tree_box.append(t)
      return o

    def flat_jvp(primals, tangents):
      ps = tree_util.tree_unflatten(in_tree, primals)
      ts = tree_util.tree_unflatten(in_tree, tangents)
      nondiff = [args[i] for i in sorted(nd)]
      out, t_out = self.jvp(*nondiff, tuple(ps), tuple(ts))
      o, tree = tree_util.tree_flatten(out)
      t, ttree = tree_util.tree_flatten(t_out)
      if tree != ttree:
        raise TypeError(f"Custom JVP rule for {self.__name__} must produce primal and tangent "
                        f"outputs with equal container structures, got {tree} and {ttree}")
      out_tree_box.append(tree)
      return o, t

    outs = core.current_trace().process_custom_jvp_call(flat_fun, flat_jvp, leaves)
    return tree_util.tree_unflatten(out_tree_box[-1], outs)


def _default_custom_jvp(self, fun, jvp, args):
  return fun(*args)


core.Trace.process_custom_jvp_call = _default_custom_jvp


def _jvp_custom_jvp(self, fun, jvp, tracers):
  primals, tangents = zip(*[self.to_primal_tangent(x) for x in tracers]) if tracers else ((), ())
  parent = self.parent_trace
  with core.set_current_trace(parent):
    if all(isinstance(t, ad.Zero) for t in tangents):
      outs = parent.process_custom_jvp_call(fun, jvp, list(primals))
      return [ad.JVPTracer(self, o, ad.Zero.from_value(o)) for o in outs]
    p_out, t_out = jvp(list(primals), [ad.instantiate_zeros(t) for t in tangents])
  return [ad.JVPTracer(self, p, t) for p, t in zip(p_out, t_out)]


ad.JVPTrace.process_custom_jvp_call = _jvp_custom_jvp


def _wrap_batched(trace, vals, dims):
  return [batching.BatchTracer(trace, v, d) if d is not None else v for v, d in zip(vals, dims)]


def _to_front(trace, outs):
  res = []
  for o in outs:
    v, d = trace.to_batch_info(o)
    res.append(batching.matchaxis(v, d, 0, trace.axis_size))
  return res


def _batch_custom_jvp(self, fun, jvp, tracers):
  vals, dims = zip(*[self.to_batch_info(x) for x in tracers]) if tracers else ((), ())
  parent = self.parent_trace
  if all(d is None for d in dims):
    with core.set_current_trace(parent):
      return parent.process_custom_jvp_call(fun, jvp, list(vals))

  def fun_b(*vs):
    with core.set_current_trace(self):
      outs = fun(*_wrap_batched(self, vs, dims))
    return _to_front(self, outs)

  def jvp_b(ps, ts):
    with core.set_current_trace(self):
      p_out, t_out = jvp(_wrap_batched(self, ps, dims), _wrap_batched(self, ts, dims))
    return _to_front(self, p_out), _to_front(self, t_out)

  with core.set_current_trace(parent):
    outs = parent.process_custom_jvp_call(fun_b, jvp_b, list(vals))
  return [batching.BatchTracer(self, o, 0) for o in outs]


batching.BatchTrace.process_custom_jvp_call = _batch_custom_jvp


# ---------------------------------------------------------------------------
# custom_vjp


class _Box:
  """Holds residuals in a primitive's params without hashing them."""

  __slots__ = ("value",)

  def __init__(self, value):
    self.value = value

  def __repr__(self):
    return "<residuals>"


class custom_vjp:
  """``f = custom_vjp(f)``; ``f.defvjp(fwd, bwd)`` with ``fwd(*args) -> (out,
  residuals)`` and ``bwd(residuals, ct) -> tuple of cotangents`` (one per
  differentiable argument; None for zero)."""

  def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
    functools.update_wrapper(self, fun, updated=())
    self.fun = fun
    self.nondiff_argnums = tuple(nondiff_argnums)
    self.fwd: Callable | None = None
    self.bwd: Callable | None = None

  def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
    self.fwd, self.bwd = fwd, bwd

  def __call__(self, *args, **kwargs):
    if self.fwd is None:
      raise AttributeError(f"No VJP defined for custom_vjp function {self.__name__} "
                           "using defvjp.")
    args = _resolve_args(self.fun, args, kwargs)
    nd, dyn = _split_nondiff(args, self.nondiff_argnums)
    leaves, in_tree = tree_util.tree_flatten(dyn)
    nondiff = [args[i] for i in sorted(nd)]
    box: list = []

    def flat_fun(*xs):
      out = self.fun(*_merge(args, nd, tree_util.tree_unflatten(in_tree, xs)))
      o, t = tree_util.tree_flatten(out)
      box.append(t)
      return o

    def flat_fwd(*xs):
      res = self.fwd(*_merge(args, nd, tree_util.tree_unflatten(in_tree, xs)))
      if not (isinstance(res, tuple) and len(res) == 2):
        raise TypeError(f"Custom VJP fwd rule for {self.__name__} must return a pair "
                        "(output, residuals)")
      out, r = res
      o, t = tree_util.tree_flatten(out)
      box.append(t)
      return o, r

    def flat_bwd(r, cts):
      ct_tree = box[-1]
      cts_in = self.bwd(*nondiff, r, tree_util.tree_unflatten(ct_tree, cts))
      if not isinstance(cts_in, tuple):
        raise TypeError(f"Custom VJP bwd rule for {self.__name__} must return a tuple (one "
                        f"cotangent per differentiable argument), got {type(cts_in).__name__}")
      if len(cts_in) != len(dyn):
        raise TypeError(f"Custom VJP bwd rule for {self.__name__} must return {len(dyn)} "
                        f"cotangents, got {len(cts_in)}")
      flat: list = []
      for a, c in zip(dyn, cts_in):
        a_leaves = tree_util.tree_leaves(a)
        if c is None:
          flat.extend([None] * len(a_leaves))
        else:
          flat.extend(tree_util.tree_structure(a).flatten_up_to(c))
      return flat

    outs = core.current_trace().process_custom_vjp_call(flat_fun, flat_fwd, flat_bwd, leaves)
    return tree_util.tree_unflatten(box[-1], outs)


def _default_custom_vjp(self, fun, fwd, bwd, args):
  return fun(*args)


core.Trace.process_custom_vjp_call = _default_custom_vjp


def _custom_lin_abstract_eval(*avals, res, bwd, out_avals):
  return list(out_avals)


custom_lin_p = core.new_primitive("custom_lin", multiple_results=True)
custom_lin_p.def_abstract_eval(_custom_lin_abstract_eval)
# Internal: only ever staged into linear jaxprs and transposed, never lowered.
core.primitives.pop("custom_lin")


def _custom_lin_impl(*args, res, bwd, out_avals):
  raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function; use "
                  "reverse mode (grad/vjp), or define the rule with custom_jvp instead.")


custom_lin_p.def_impl(_custom_lin_impl)


def _custom_lin_transpose(cts, *args, res, bwd, out_avals):
  cts = [ad.instantiate_zeros(c) for c in cts]
  cts_in = bwd(res.value, cts)
  return [None if c is None else c for c in cts_in]


ad.primitive_transposes[custom_lin_p] = _custom_lin_transpose


def _jvp_custom_vjp(self, fun, fwd, bwd, tracers):
  primals, tangents = zip(*[self.to_primal_tangent(x) for x in tracers]) if tracers else ((), ())
  parent = self.parent_trace
  with core.set_current_trace(parent):
    if all(isinstance(t, ad.Zero) for t in tangents):
      outs = parent.process_custom_vjp_call(fun, fwd, bwd, list(primals))
      return [ad.JVPTracer(self, o, ad.Zero.from_value(o)) for o in outs]
    p_out, res = fwd(*primals)
    out_avals = tuple(ad.tangent_aval(core.get_aval(p)) for p in p_out)
    t_out = custom_lin_p.bind(*[ad.instantiate_zeros(t) for t in tangents], res=_Box(res),
                              bwd=bwd, out_avals=out_avals)
  return [ad.JVPTracer(self, p, t) for p, t in zip(p_out, t_out)]


ad.JVPTrace.process_custom_vjp_call = _jvp_custom_vjp


def _batch_custom_vjp(self, fun, fwd, bwd, tracers):
  vals, dims = zip(*[self.to_batch_info(x) for x in tracers]) if tracers else ((), ())
  parent = self.parent_trace
  if all(d is None for d in dims):
    with core.set_current_trace(parent):
      return parent.process_custom_vjp_call(fun, fwd, bwd, list(vals))

  def fun_b(*vs):
    with core.set_current_trace(self):
      outs = fun(*_wrap_batched(self, vs, dims))
    return _to_front(self, outs)

  def fwd_b(*vs):
    with core.set_current_trace(self):
      outs, res = fwd(*_wrap_batched(self, vs, dims))
      r_flat, r_tree = tree_util.tree_flatten(res)
      r_vals, r_dims = zip(*[self.to_batch_info(r) for r in r_flat]) if r_flat else ((), ())
    return _to_front(self, outs), (r_tree, list(r_vals), list(r_dims))

  def bwd_b(packed, cts):
    r_tree, r_vals, r_dims = packed
    with core.set_current_trace(self):
      res = tree_util.tree_unflatten(r_tree, _wrap_batched(self, r_vals, r_dims))
      cts_in = bwd(res, _wrap_batched(self, cts, [0] * len(cts)))
      out = []
      for c, d in zip(cts_in, dims):
        if c is None:
          out.append(None)
          continue
        v, cd = self.to_batch_info(c)
        if d is None:
          if cd is not None:   # unbatched input, batched cotangent: sum over the batch
            v = lax_hooks.reduce_sum(v, (cd,))
          out.append(v)
        else:
          out.append(batching.matchaxis(v, cd, d, self.axis_size))
    return out

  with core.set_current_trace(parent):
    outs = parent.process_custom_vjp_call(fun_b, fwd_b, bwd_b, list(vals))
  return [batching.BatchTracer(self, o, 0) for o in outs]


batching.BatchTrace.process_custom_vjp_call = _batch_custom_vjp


# ---------------------------------------------------------------------------
# stop_gradient (``rjax.lax.stop_gradient``): the identity with a zero derivative


def _stop_gradient_abstract_eval(x):
  return x


def _stop_gradient_jvp(primals, tangents):
  (x,) = primals
  return stop_gradient_p.bind(x), ad.Zero.from_value(x)


stop_gradient_p = core.new_primitive("stop_gradient")
stop_gradient_p.def_abstract_eval(_stop_gradient_abstract_eval)
stop_gradient_p.def_impl(lambda x: x if type(x) is Array else to_array(x))
ad.primitive_jvps[stop_gradient_p] = _stop_gradient_jvp
batching.defvectorized(stop_gradient_p)
lowering.lowerings[stop_gradient_p] = lambda ctx, x, avals_in, avals_out: [x]
reference.register(stop_gradient_p, lambda x: x)


def stop_gradient(x: Any) -> Any:
  """The identity, but with a zero derivative (applies to every leaf of a pytree)."""
  return tree_util.tree_map(lambda v: stop_gradient_p.bind(v), x)


__all__ = ["custom_jvp", "custom_vjp", "stop_gradient"]
