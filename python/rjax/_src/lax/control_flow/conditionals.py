"""``cond`` and ``switch``: the ``cond`` primitive, carrying one closed jaxpr
per branch (``branches``, JAX's order: index 0 is ``false_fun``) and taking
``index, *operands``. It runs in the Rust executor (op ``cond``), which picks
the branch's compiled sub-program at run time."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.interpreters import ad, batching, lowering, reference
from rjax._src.interpreters import partial_eval as pe
from rjax._src.lax import lax, shapes
from rjax._src.lax.control_flow import common as cf
from rjax._src.lax.utils import export

cond_p = core.new_primitive("cond", multiple_results=True)


def _cond_abstract_eval(index, *args, branches):
  if index.shape != () or index.dtype != np.int32:
    raise TypeError(f"cond: the branch index must be an int32 scalar, got {index.str_short()}")
  for b in branches:
    if len(b.in_avals) != len(args) or any(map(cf.aval_mismatch, b.in_avals, args)):
      raise TypeError(f"cond: a branch takes {[a.str_short() for a in b.in_avals]}, the "
                      f"operands are {[a.str_short() for a in args]}")
    if any(map(cf.aval_mismatch, b.out_avals, branches[0].out_avals)):
      raise TypeError("cond: branches must have equal output types")
  return [a.update(weak_type=all(b.out_avals[i].weak_type for b in branches))
          for i, a in enumerate(branches[0].out_avals)]


cond_p.def_abstract_eval(_cond_abstract_eval)
cond_p.def_impl(cf.eager_impl(cond_p, lambda params: params["branches"][0]))


def _cond_reference(index, *args, branches):
  i = int(np.clip(index, 0, len(branches) - 1))
  return [np.asarray(o) for o in core.eval_jaxpr(branches[i].jaxpr, branches[i].consts, *args)]


reference.register(cond_p, _cond_reference)


def _cond_lowering(ctx, index, *args, avals_in, avals_out, branches):
  exes = tuple(cf.compile_jaxpr(b) for b in branches)
  return ctx.emit("cond", [index, *args], avals_out, {"branches": exes})


_cond_lowering.op_name = "cond"
lowering.lowerings[cond_p] = _cond_lowering


# --- JVP: the branches' JVPs, with the union of their nonzero tangents -----


def _cond_jvp(primals, tangents, *, branches):
  index, *ops = primals
  nz = [not isinstance(t, ad.Zero) and cf.differentiable(core.get_aval(p))
        for p, t in zip(ops, tangents[1:])]
  out_nz = [any(m) for m in zip(*[cf.jvp_nonzeros(b, nz) for b in branches])]
  jvps = tuple(cf.jvp_jaxpr(b, nz, out_nz)[0] for b in branches)
  ts = [t for t, z in zip(tangents[1:], nz) if z]
  outs = cond_p.bind(index, *ops, *ts, branches=jvps)
  n = len(out_nz)
  t_out = cf.fill(out_nz, outs[n:], [ad.Zero.from_value(o) for o in outs[:n]])
  return outs[:n], t_out


ad.primitive_jvps[cond_p] = _cond_jvp


# --- Partial evaluation: a known cond computes the residuals of the branch
# taken (the others' slots hold zeros); the staged cond consumes them. ------


def _join_residuals(splits):
  """All branches' residuals, each branch filling the others' with zeros."""
  all_res = [a for s in splits for a in s.res_avals]
  known = []
  offset = 0
  for s in splits:
    k, n_res = s.known, len(s.res_avals)
    j = k.jaxpr
    n_out = len(j.outvars) - n_res
    before, after = all_res[:offset], all_res[offset + n_res:]

    def f(*args, k=k, n_out=n_out, before=before, after=after):
      outs = cf.jaxpr_fun(k)(*args)
      zeros = lambda avals: [ad.zeros_like_aval(a) for a in avals]
      return outs[:n_out] + zeros(before) + outs[n_out:] + zeros(after)

    known.append(cf.trace_flat(f, k.in_avals))
    offset += n_res
  return known, all_res


def _cond_partial_eval(trace, args, *, branches):
  index, *ops = args
  if not trace.is_known(index):
    return trace.stage(cond_p, args, {"branches": branches})
  uk = [not trace.is_known(x) for x in ops]
  n_out = len(branches[0].out_avals)
  out_uk = [any(m) for m in zip(*[cf.out_unknowns(b, uk) for b in branches])]
  if not any(out_uk):   # the unknown operands reach no output
    known_brs = tuple(cf.partial_eval_jaxpr(b, uk, out_uk).known for b in branches)
    known_brs = tuple(cf.keep_outvars(k, [True] * n_out + [False] * (len(k.out_avals) - n_out))
                      for k in known_brs)
    with core.set_current_trace(trace.parent_trace):
      return cond_p.bind(index, *[x for x, u in zip(ops, uk) if not u], branches=known_brs)
  splits = [cf.partial_eval_jaxpr(b, uk, out_uk) for b in branches]
  known_brs, all_res = _join_residuals(splits)
  known_ops = [x for x, u in zip(ops, uk) if not u]
  with core.set_current_trace(trace.parent_trace):
    known_outs = cond_p.bind(index, *known_ops, branches=tuple(known_brs))
  n_known = n_out - sum(out_uk)
  known_vals, res = known_outs[:n_known], known_outs[n_known:]
  uk_brs = []
  offset = 0
  for s in splits:
    n_res = len(s.res_avals)
    # The unknown branch takes all residuals and uses its own slice of them.
    u = cf.add_invars(s.unknown, all_res[:offset], 0)
    u = cf.add_invars(u, all_res[offset + n_res:], offset + n_res)
    uk_brs.append(u)
    offset += n_res
  uk_ops = [x for x, u in zip(ops, uk) if u]
  uk_vals = trace.stage(cond_p, [index, *res, *uk_ops], {"branches": tuple(uk_brs)})
  return cf.interleave(out_uk, uk_vals, known_vals)


pe.partial_eval_rules[cond_p] = _cond_partial_eval


# --- Transpose: a cond of the branches' transposes --------------------------


def _cond_transpose(cts, index, *args, branches):
  if ad.is_undefined_primal(index):
    raise ValueError("cond: the branch index cannot be a linear input")
  linear = [ad.is_undefined_primal(x) for x in args]
  res = [x for x, l in zip(args, linear) if not l]
  cts = [ad.instantiate_zeros(c) for c in cts]
  brs = tuple(cf.transpose_jaxpr(b, linear) for b in branches)
  ct_lin = cond_p.bind(index, *res, *cts, branches=brs)
  return [None] + cf.interleave(linear, ct_lin, [None] * len(res))


ad.primitive_transposes[cond_p] = _cond_transpose


# --- Batching: a batched index runs every branch and selects (select_n);
# otherwise the branches are batched. -----------------------------------------


def _cond_batch(vals, dims, *, branches, axis_name, axis_size):
  size = axis_size
  index, *ops = vals
  idim, *odims = dims
  ops = [batching.moveaxis(x, d, 0) if d is not None else x for x, d in zip(ops, odims)]
  batched = [d is not None for d in odims]
  if idim is not None:
    index = batching.moveaxis(index, idim, 0)
    outs = [cf.jaxpr_fun(cf.batch_jaxpr(b, size, batched, [True] * len(b.out_avals),
                                        axis_name)[0])(*ops)
            for b in branches]
    res = []
    for k in range(len(outs[0])):
      shape = core.get_aval(outs[0][k]).shape
      which = shapes.broadcast_in_dim(index, shape, (0,)) if len(shape) > 1 else index
      res.append(lax.select_n(which, *[o[k] for o in outs]))
    return res, [0] * len(res)
  out_b = [any(m) for m in zip(*[cf.batch_out_mask(b, size, batched, axis_name)
                                 for b in branches])]
  brs = tuple(cf.batch_jaxpr(b, size, batched, out_b, axis_name)[0] for b in branches)
  outs = cond_p.bind(index, *ops, branches=brs)
  return outs, [0 if b else None for b in out_b]


cf.register_batcher(cond_p, _cond_batch)


# ---------------------------------------------------------------------------
# The user-facing functions


_no_operand = object()


def _with_operand_keyword(operands: tuple, operand) -> tuple:
  """The branches' operands, given positionally or (JAX's older form) as
  ``operand=``; not both."""
  if operand is _no_operand:
    return operands
  if operands:
    raise TypeError("if 'operand' keyword is passed then no positional operands can be "
                    f"passed, got operand={operand} and positional operands {operands}")
  return (operand,)


def _branch_jaxprs(funs: Sequence[Callable], ops, what: str, names: Sequence[str]):
  leaves, in_tree = tree_util.tree_flatten(tuple(ops))
  avals = [core.get_aval(x) for x in leaves]
  traced = [cf.trace_fun(f, in_tree, avals, what) for f in funs]
  # Every branch takes every branch's constants (unused ones ignored).
  consts = [c for _, cs, _ in traced for c in cs]
  jaxprs, offset = [], 0
  c_avals = [core.get_aval(c) for c in consts]
  for j, cs, _ in traced:
    j = cf.add_invars(j, c_avals[:offset], 0)
    j = cf.add_invars(j, c_avals[offset + len(cs):], offset + len(cs))
    jaxprs.append(j)
    offset += len(cs)
  out_trees = [t for _, _, t in traced]
  for i in range(1, len(funs)):
    _check_branch_outputs(what, names[0], names[i], out_trees[0], out_trees[i],
                          jaxprs[0].out_avals, jaxprs[i].out_avals)
  return jaxprs, consts, leaves, out_trees[0]


def _check_branch_outputs(what, name1, name2, tree1, tree2, avals1, avals2):
  if tree1 != tree2:
    raise TypeError(f"{what} branch outputs must have the same pytree structure, but they "
                    f"differ:\n\n{name1} output is {tree1}\n{name2} output is {tree2}\n\n"
                    f"Revise {name1} and/or {name2} so that they have the same pytree "
                    "structure.")
  dummy = tree_util.tree_unflatten(tree1, list(range(len(avals1))))
  paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(dummy)[0]]
  diffs = [f"the output of {name1}{p} has type {a.str_short()} but the corresponding output "
           f"of {name2} has type {b.str_short()}"
           for p, a, b in zip(paths, avals1, avals2) if cf.aval_mismatch(a, b)]
  if diffs:
    differences = "\n".join(f"  * {d};" for d in diffs)
    raise TypeError(f"{what} branches must have equal output types but they differ.\n\n"
                    f"{differences}\n\nRevise {name1} and/or {name2} so that all output "
                    "types match.")


def _shape(x):
  return core.get_aval(x).shape if hasattr(x, "aval") else np.shape(x)


@export
def cond(pred, true_fun: Callable, false_fun: Callable, *operands, operand=_no_operand):
  """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, staged
  as one ``cond`` primitive (both branches are traced; one runs)."""
  if not (callable(true_fun) and callable(false_fun)):
    raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
  operands = _with_operand_keyword(operands, operand)
  if pred is None:
    raise TypeError("cond predicate is None")
  if isinstance(pred, (list, tuple)):
    raise TypeError(f"Pred must be a scalar, got {pred} of type {type(pred)}.")
  if _shape(pred) != ():
    raise TypeError(f"Pred must be a scalar, got {pred} of shape {_shape(pred)}.")
  try:
    aval = core.get_aval(pred)
  except TypeError:
    raise TypeError(f"Pred type must be either boolean or number, got {pred}.") from None
  if aval.dtype.kind != "b":
    if aval.dtype.kind not in "iuf":
      raise TypeError(f"Pred type must be either boolean or number, got {aval.dtype}.")
    pred = lax.ne(pred, lax.convert_element_type(0, aval.dtype))
  index = lax.convert_element_type(pred, np.int32)
  jaxprs, consts, leaves, out_tree = _branch_jaxprs(
      (false_fun, true_fun), operands, "cond", ("false_fun", "true_fun"))
  outs = cond_p.bind(index, *consts, *leaves, branches=tuple(jaxprs))
  return tree_util.tree_unflatten(out_tree, outs)


@export
def switch(index, branches: Sequence[Callable], *operands, operand=_no_operand):
  """``branches[clamp(index, 0, len(branches) - 1)](*operands)``."""
  if not isinstance(branches, (list, tuple)) or not all(callable(b) for b in branches):
    raise TypeError("lax.switch: branches argument should be a sequence of callables.")
  operands = _with_operand_keyword(operands, operand)
  if _shape(index) != ():
    raise TypeError(f"Branch index must be scalar, got {index} of shape {_shape(index)}.")
  dt = core.get_aval(index).dtype
  if dt.kind not in "iu":
    raise TypeError(f"Index type must be an integer, got {index} as {dt}")
  if len(branches) == 0:
    raise ValueError("Empty branch sequence")
  if len(branches) == 1:
    return branches[0](*operands)
  index = lax.convert_element_type(index, np.int32)
  index = lax.clamp(np.int32(0), index, np.int32(len(branches) - 1))
  jaxprs, consts, leaves, out_tree = _branch_jaxprs(
      branches, operands, "switch", [f"branch {i}" for i in range(len(branches))])
  outs = cond_p.bind(index, *consts, *leaves, branches=tuple(jaxprs))
  return tree_util.tree_unflatten(out_tree, outs)
