"""``custom_jvp`` and ``custom_vjp``: user-defined derivative rules.

A call is handed to the current trace's ``process_custom_jvp_call`` /
``process_custom_vjp_call``: the eval and jaxpr traces just run the function;
the JVP trace applies the user's rule; the batching trace batches the function
and the rules. Reverse mode through ``custom_vjp`` stages a linear
``custom_lin`` primitive whose transpose calls the user's ``bwd``.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable, Sequence

from rjax._src import core
from rjax._src.base import dtypes, tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lax_hooks, lowering, reference
from rjax._src.interpreters import partial_eval as pe
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
    self.symbolic_zeros = False

  def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
    """``jvp(primals, tangents) -> (primal_out, tangent_out)``. With
    ``symbolic_zeros=True`` the rule sees a :class:`SymbolicZero` for each
    zero tangent and may return them."""
    self.jvp = jvp
    self.symbolic_zeros = bool(symbolic_zeros)
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
      # Zero tangents: SymbolicZeros for a symbolic_zeros rule, else zeros.
      tangents = [(SymbolicZero(t.aval) if self.symbolic_zeros else ad.instantiate_zeros(t))
                  if isinstance(t, ad.Zero) else t for t in tangents]
      ps = tree_util.tree_unflatten(in_tree, primals)
      ts = tree_util.tree_unflatten(in_tree, tangents)
      nondiff = [args[i] for i in sorted(nd)]
      res = self.jvp(*nondiff, tuple(ps), tuple(ts))
      if not (isinstance(res, (tuple, list)) and len(res) == 2):
        raise TypeError(f"Custom JVP rule {self.__name__} must return a pair (primal_out, "
                        f"tangent_out), got {type(res).__name__}")
      out, t_out = res
      o, tree = tree_util.tree_flatten(out)
      t, ttree = tree_util.tree_flatten(t_out, is_leaf=lambda x: isinstance(x, SymbolicZero))
      if tree != ttree:
        raise TypeError(f"Custom JVP rule for {self.__name__} must produce primal and tangent "
                        f"outputs with equal container structures, got {tree} and {ttree}")
      t = [_check_jvp_out(self.__name__, p, x) for p, x in zip(o, t)]
      out_tree_box.append(tree)
      return o, t

    outs = core.current_trace().process_custom_jvp_call(flat_fun, flat_jvp, leaves)
    return tree_util.tree_unflatten(out_tree_box[-1], outs)


def _default_custom_jvp(self, fun, jvp, args):
  return fun(*args)


core.Trace.process_custom_jvp_call = _default_custom_jvp


def _check_jvp_out(name, p, t):
  """A custom JVP rule's output tangent: a SymbolicZero becomes a symbolic
  Zero; shapes and dtypes must match the primal's (as JAX checks)."""
  pa = core.get_aval(p)
  if isinstance(t, SymbolicZero):
    return ad.Zero(ad.tangent_aval(pa))
  ta = core.get_aval(t)
  want = pa.dtype if dtypes.is_inexact(pa.dtype) else dtypes.float0
  if ta.shape != pa.shape or (ta.dtype != want and not (want == dtypes.float0)):
    raise TypeError(f"Custom JVP rule {name} must produce primal and tangent outputs with "
                    f"corresponding shapes and dtypes. Expected {pa.str_short()} (tangent type "
                    f"of {pa.str_short()}) but got {ta.str_short()}.")
  if want == dtypes.float0:
    return ad.Zero(pa)
  return t


def _jvp_custom_jvp(self, fun, jvp, tracers):
  primals, tangents = zip(*[self.to_primal_tangent(x) for x in tracers]) if tracers else ((), ())
  parent = self.parent_trace
  with core.set_current_trace(parent):
    if all(isinstance(t, ad.Zero) for t in tangents):
      outs = parent.process_custom_jvp_call(fun, jvp, list(primals))
      return [ad.JVPTracer(self, o, ad.Zero.from_value(o)) for o in outs]
    p_out, t_out = jvp(list(primals), list(tangents))
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
    ts = [ad.instantiate_zeros(t) for t in ts]
    with core.set_current_trace(self):
      p_out, t_out = jvp(_wrap_batched(self, ps, dims), _wrap_batched(self, ts, dims))
      t_out = [ad.instantiate_zeros(t) for t in t_out]
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
    self.symbolic_zeros = False

  def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
    """With ``symbolic_zeros=True``, ``fwd`` sees each argument as a
    :class:`CustomVJPPrimal` (``.value``, ``.perturbed``) and ``bwd`` sees a
    :class:`SymbolicZero` for each zero cotangent (and may return them)."""
    self.fwd, self.bwd = fwd, bwd
    self.symbolic_zeros = bool(symbolic_zeros)

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

    def flat_fwd(*xs, perturbed=None):
      if self.symbolic_zeros:
        perturbed = [True] * len(xs) if perturbed is None else perturbed
        xs = [CustomVJPPrimal(x, p) for x, p in zip(xs, perturbed)]
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
      cts = [(SymbolicZero(c.aval) if self.symbolic_zeros else ad.instantiate_zeros(c))
             if isinstance(c, ad.Zero) else c for c in cts]
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
        if c is None or isinstance(c, SymbolicZero):
          flat.extend([None] * len(a_leaves))
        else:
          flat.extend(None if isinstance(x, SymbolicZero) else x
                      for x in tree_util.tree_structure(a).flatten_up_to(c))
      return flat

    outs = core.current_trace().process_custom_vjp_call(flat_fun, flat_fwd, flat_bwd, leaves)
    return tree_util.tree_unflatten(box[-1], outs)


def _default_custom_vjp(self, fun, fwd, bwd, args):
  return fun(*args)


core.Trace.process_custom_vjp_call = _default_custom_vjp


def _pe_custom_vjp(self, fun, fwd, bwd, args):
  # All inputs known (primal values of an outer transformation): the call
  # belongs to the parent trace, which may differentiate it with the rules.
  if all(self.is_known(a) for a in args):
    with core.set_current_trace(self.parent_trace):
      return self.parent_trace.process_custom_vjp_call(fun, fwd, bwd, list(args))
  return fun(*args)


def _pe_custom_jvp(self, fun, jvp, args):
  if all(self.is_known(a) for a in args):
    with core.set_current_trace(self.parent_trace):
      return self.parent_trace.process_custom_jvp_call(fun, jvp, list(args))
  return fun(*args)


pe.PartialEvalTrace.process_custom_vjp_call = _pe_custom_vjp
pe.PartialEvalTrace.process_custom_jvp_call = _pe_custom_jvp


def _custom_lin_abstract_eval(*avals, res, bwd, out_avals):
  return list(out_avals)


custom_lin_p = core.new_primitive("custom_lin", multiple_results=True)
custom_lin_p.def_abstract_eval(_custom_lin_abstract_eval)
# Internal: only ever staged into linear jaxprs and transposed, never lowered.
core.primitives.pop("custom_lin")


def _custom_lin_impl(*args, res, bwd, out_avals):
  raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


custom_lin_p.def_impl(_custom_lin_impl)


def _custom_lin_transpose(cts, *args, res, bwd, out_avals):
  cts_in = bwd(res.value, list(cts))
  return [None if c is None else c for c in cts_in]


ad.primitive_transposes[custom_lin_p] = _custom_lin_transpose


def _jvp_custom_vjp(self, fun, fwd, bwd, tracers):
  primals, tangents = zip(*[self.to_primal_tangent(x) for x in tracers]) if tracers else ((), ())
  parent = self.parent_trace
  with core.set_current_trace(parent):
    if all(isinstance(t, ad.Zero) for t in tangents):
      outs = parent.process_custom_vjp_call(fun, fwd, bwd, list(primals))
      return [ad.JVPTracer(self, o, ad.Zero.from_value(o)) for o in outs]
    p_out, res = fwd(*primals, perturbed=[not isinstance(t, ad.Zero) for t in tangents])
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

  def fwd_b(*vs, perturbed=None):
    with core.set_current_trace(self):
      outs, res = fwd(*_wrap_batched(self, vs, dims), perturbed=perturbed)
      r_flat, r_tree = tree_util.tree_flatten(res)
      r_vals, r_dims = zip(*[self.to_batch_info(r) for r in r_flat]) if r_flat else ((), ())
    return _to_front(self, outs), (r_tree, list(r_vals), list(r_dims))

  def bwd_b(packed, cts):
    r_tree, r_vals, r_dims = packed
    cts = [ad.instantiate_zeros(c) for c in cts]
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
# Symbolic zeros and custom_vjp's primal records (``symbolic_zeros=True``)


class SymbolicZero:
  """A zero tangent/cotangent that is not materialized: what a custom rule
  defined with ``symbolic_zeros=True`` sees for a zero (``.aval``, and the
  aval's ``.shape``/``.dtype``); falsy."""

  def __init__(self, aval):
    self.aval = aval

  def __bool__(self):
    return False

  def __getattr__(self, name):
    if name == "aval":
      raise AttributeError(name)
    return getattr(self.aval, name)

  @staticmethod
  def from_primal_value(val) -> "SymbolicZero":
    return SymbolicZero(ad.tangent_aval(core.get_aval(val)))

  def __repr__(self):
    return f"SymbolicZero({self.aval.str_short()})"


def zero_from_primal(val, symbolic_zeros: bool = False):
  """Zero tangents (symbolic ones if ``symbolic_zeros``) for a pytree of
  primal values (``jax.custom_derivatives.zero_from_primal``)."""
  def zero(x):
    aval = ad.tangent_aval(core.get_aval(x))
    return SymbolicZero(aval) if symbolic_zeros else ad.zeros_like_aval(aval)
  return tree_util.tree_map(zero, val)


@dataclasses.dataclass
class CustomVJPPrimal:
  """A ``custom_vjp`` forward rule's argument when ``symbolic_zeros`` is set:
  the primal ``value`` and whether it is ``perturbed`` (has a nonzero
  tangent)."""
  value: Any
  perturbed: bool


def custom_vjp_primal_tree_values(tree):
  """The values of a tree of :class:`CustomVJPPrimal` records."""
  def value(leaf):
    if type(leaf) is not CustomVJPPrimal:
      raise TypeError(f"unexpected leaf type {type(leaf)}")
    return leaf.value
  return tree_util.tree_map(value, tree, is_leaf=lambda x: type(x) is CustomVJPPrimal)


# ---------------------------------------------------------------------------
# custom_gradient and closure_convert


def _trace_flat(fun: Callable, avals):
  """``fun`` on flat lists traced to a jaxpr; its constants as a list."""
  closed = pe.trace_to_jaxpr(fun, list(avals))
  return closed.jaxpr, list(closed.consts)


class _GradientResiduals:
  """custom_gradient's residuals: the traced gradient rule and its
  constants (the pytree leaves, so transformations see them)."""

  def __init__(self, jaxpr, in_tree, out_tree, consts):
    self.jaxpr, self.in_tree, self.out_tree, self.consts = jaxpr, in_tree, out_tree, consts


tree_util.register_pytree_node(
    _GradientResiduals, lambda r: (r.consts, (r.jaxpr, r.in_tree, r.out_tree)),
    lambda aux, consts: _GradientResiduals(aux[0], aux[1], aux[2], list(consts)))


def custom_gradient(fun: Callable) -> Callable:
  """``fun(*args) -> (value, vjp_fn)``, where ``vjp_fn(ct)`` returns one
  cotangent per argument, as a function with that custom gradient
  (``jax.custom_gradient``, TensorFlow's convention). ``vjp_fn`` may close
  over values of the forward computation; it is traced, so it may not use
  Python control flow on them."""
  @custom_vjp
  def wrapped_fun(*args, **kwargs):
    ans, _ = fun(*args, **kwargs)
    return ans

  def fwd(*args, **kwargs):
    ans, rule = fun(*args, **kwargs)
    ans_flat, out_tree = tree_util.tree_flatten((ans,))
    box: list = []

    def flat_rule(*cts):
      out = rule(*tree_util.tree_unflatten(out_tree, cts))
      leaves, tree = tree_util.tree_flatten(out)
      box.append(tree)
      return leaves

    jaxpr, consts = _trace_flat(flat_rule, [ad.tangent_aval(core.get_aval(x))
                                           for x in ans_flat])
    return ans, _GradientResiduals(jaxpr, box[-1], out_tree, consts)

  def bwd(res, cts):
    cts_flat, tree = tree_util.tree_flatten((cts,))
    if tree != res.out_tree:
      raise TypeError(f"custom_gradient: cotangent structure {tree} != {res.out_tree}")
    out = tree_util.tree_unflatten(res.in_tree, core.eval_jaxpr(res.jaxpr, res.consts, *cts_flat))
    return (out,) if tree_util.treedef_is_leaf(res.in_tree) else tuple(out)

  wrapped_fun.defvjp(fwd, bwd)
  return wrapped_fun


def _maybe_perturbed(x) -> bool:
  """False if ``x`` cannot carry a nonzero tangent (up to heuristics)."""
  if not isinstance(x, core.Tracer):
    return False
  if isinstance(x, ad.JVPTracer) and isinstance(x.tangent, ad.Zero):
    return _maybe_perturbed(x.primal)
  if isinstance(x, pe.DynamicJaxprTracer):
    return dtypes.is_inexact(x.aval.dtype)
  if isinstance(x, batching.BatchTracer):
    return _maybe_perturbed(x.val)
  return True


def closure_convert(fun: Callable, *example_args):
  """``(converted_fun, consts)``: ``fun`` with the values it closes over
  that may be differentiated hoisted out as explicit trailing arguments
  (``converted_fun(*args, *consts)``), for custom_vjp rules that must not
  close over traced values (``jax.closure_convert``)."""
  flat_args, in_tree = tree_util.tree_flatten(example_args)
  box: list = []

  def flat_fun(*xs):
    out = fun(*tree_util.tree_unflatten(in_tree, xs))
    leaves, tree = tree_util.tree_flatten(out)
    box.append(tree)
    return leaves

  jaxpr, consts = _trace_flat(flat_fun, [core.get_aval(x) for x in flat_args])
  out_tree = box[-1]
  which = [_maybe_perturbed(c) for c in consts]
  closure_consts = [c for c, w in zip(consts, which) if not w]
  hoisted = [c for c, w in zip(consts, which) if w]

  def converted_fun(*args_hconsts):
    n = len(args_hconsts) - len(hoisted)
    args, hconsts = args_hconsts[:n], args_hconsts[n:]
    cl, h = iter(closure_consts), iter(hconsts)
    all_consts = [next(h) if w else next(cl) for w in which]
    all_args, in_tree2 = tree_util.tree_flatten(tuple(args))
    if in_tree != in_tree2:
      raise TypeError(f"The inputs to the closure produced by closure_convert must have the "
                      f"same Pytree structure as the example arguments passed when "
                      f"closure_convert was called. Expected {in_tree}, but got {in_tree2}")
    return tree_util.tree_unflatten(out_tree, core.eval_jaxpr(jaxpr, all_consts, *all_args))

  return converted_fun, hoisted


# ---------------------------------------------------------------------------
# linear_call: a linear function with a custom transpose


def _open_jaxpr(jaxpr, consts):
  return core.Jaxpr([], list(jaxpr.constvars) + list(jaxpr.invars), jaxpr.outvars,
                    jaxpr.eqns), list(consts)


def linear_call(fun: Callable, fun_transpose: Callable, residual_args, linear_args):
  """``fun(residual_args, linear_args)``, linear in ``linear_args``, whose
  transpose (for reverse mode and ``linear_transpose``) is
  ``fun_transpose(residual_args, cts)`` (``jax.custom_derivatives.linear_call``)."""
  res_flat, res_tree = tree_util.tree_flatten(residual_args)
  lin_flat, lin_tree = tree_util.tree_flatten(linear_args)
  box: list = []

  def f(*xs):
    out = fun(tree_util.tree_unflatten(res_tree, xs[:len(res_flat)]),
              tree_util.tree_unflatten(lin_tree, xs[len(res_flat):]))
    leaves, tree = tree_util.tree_flatten(out)
    box.append(tree)
    return leaves

  res_avals = [core.get_aval(x) for x in res_flat]
  lin_avals = [core.get_aval(x) for x in lin_flat]
  jaxpr, consts = _trace_flat(f, res_avals + lin_avals)
  callee, f_consts = _open_jaxpr(jaxpr, consts)
  out_tree = box[-1]
  out_avals = [v.aval for v in callee.outvars]
  memo: list = []

  def transpose_thunk():
    if not memo:
      tbox: list = []

      def t(*xs):
        out = fun_transpose(tree_util.tree_unflatten(res_tree, xs[:len(res_flat)]),
                            tree_util.tree_unflatten(out_tree, xs[len(res_flat):]))
        leaves, tree = tree_util.tree_flatten(out)
        tbox.append(tree)
        return leaves

      tj, tc = _trace_flat(t, res_avals + [ad.tangent_aval(a) for a in out_avals])
      if tbox[-1] != lin_tree:
        raise TypeError(f"transpose output pytree structure must match that of linear inputs, "
                        f"got output structure {tbox[-1]} and input structure {lin_tree}.")
      memo.append(_open_jaxpr(tj, tc))
    return memo[0]

  out = linear_call_p.bind(*f_consts, *res_flat, *lin_flat, callee=callee,
                           transpose_thunk=transpose_thunk, num_callee_consts=len(f_consts),
                           num_res=len(res_flat))
  return tree_util.tree_unflatten(out_tree, out)


def _linear_call_impl(*args, callee, transpose_thunk, num_callee_consts, num_res):
  return core.eval_jaxpr(callee, (), *args)


def _linear_call_jvp(primals, tangents, *, callee, transpose_thunk, num_callee_consts, num_res):
  k = num_callee_consts + num_res
  params = dict(callee=callee, transpose_thunk=transpose_thunk,
                num_callee_consts=num_callee_consts, num_res=num_res)
  p_out = linear_call_p.bind(*primals, **params)
  t_out = linear_call_p.bind(*primals[:k], *[ad.instantiate_zeros(t) for t in tangents[k:]],
                             **params)
  return p_out, t_out


def _linear_call_transpose(cts, *args, callee, transpose_thunk, num_callee_consts, num_res):
  t_jaxpr, t_consts = transpose_thunk()
  f_consts = args[:num_callee_consts]
  res = args[num_callee_consts:num_callee_consts + num_res]
  cts = [ad.instantiate_zeros(c) for c in cts]
  out = linear_call_p.bind(*t_consts, *res, *cts, callee=t_jaxpr,
                           transpose_thunk=lambda: (callee, list(f_consts)),
                           num_callee_consts=len(t_consts), num_res=len(res))
  return [None] * (num_callee_consts + num_res) + list(out)


def _linear_call_batch(vals, dims, *, callee, transpose_thunk, num_callee_consts, num_res):
  size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
  vals = [batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]

  def batched(jaxpr):
    avals = [v.aval.update(shape=(size,) + v.aval.shape) for v in jaxpr.invars]

    def f(*xs):
      return batching.vmap_flat(lambda *ys: core.eval_jaxpr(jaxpr, (), *ys), xs,
                                [0] * len(xs), lambda n: [0] * n, None, size)

    return _open_jaxpr(*_trace_flat(f, avals))

  b_callee, b_consts = batched(callee)
  memo: list = []

  def b_transpose():
    if not memo:
      tj, tc = transpose_thunk()
      tc = [batching.bdim_at_front(c, None, size) for c in tc]
      bj, bc = batched(tj)
      memo.append((core.Jaxpr([], bj.invars[len(bc):], bj.outvars, bj.eqns)
                   if not bc else bj, list(bc) + tc if bc else tc))
    return memo[0]

  out = linear_call_p.bind(*b_consts, *vals, callee=b_callee, transpose_thunk=b_transpose,
                           num_callee_consts=len(b_consts) + num_callee_consts,
                           num_res=num_res)
  return out, [0] * len(out)


def _linear_call_inline(invars, *, callee, transpose_thunk, num_callee_consts, num_res):
  return [], list(invars), callee


linear_call_p = core.new_primitive("linear_call", multiple_results=True)
linear_call_p.def_abstract_eval(lambda *avals, callee, **_: [v.aval for v in callee.outvars])
linear_call_p.def_impl(_linear_call_impl)
ad.primitive_jvps[linear_call_p] = _linear_call_jvp
ad.primitive_transposes[linear_call_p] = _linear_call_transpose
batching.primitive_batchers[linear_call_p] = _linear_call_batch
lowering.register_inline_call(linear_call_p, _linear_call_inline)
reference.register(linear_call_p, lambda *args, callee, **_: core.eval_jaxpr(callee, (), *args))


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


__all__ = ["custom_jvp", "custom_vjp", "custom_gradient", "closure_convert", "linear_call",
           "SymbolicZero", "CustomVJPPrimal", "custom_vjp_primal_tree_values",
           "zero_from_primal", "stop_gradient"]
