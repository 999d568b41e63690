"""Loops: the ``while`` and ``scan`` primitives and the functions built on
them (``while_loop``, ``fori_loop``, ``scan``, ``map``).

- ``while[cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts]`` takes
  ``*cond_consts, *body_consts, *init`` and returns the final carry.
- ``scan[jaxpr, length, reverse, num_consts, num_carry, unroll]`` takes ``*consts, *init, *xs`` and returns
  ``*carry, *ys``; the body maps ``(*consts, *carry, *x) -> (*carry, *y)``.

Both run in the Rust executor (ops ``while`` and ``scan``): the loop never
returns to Python. Reverse mode goes through ``scan`` (a forward scan that
stacks the residuals, then a transposed scan in reverse); a ``fori_loop``
with static bounds is a ``scan``, so it is reverse-differentiable too.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes, tree_util
from rjax._src.interpreters import ad, batching, lowering, reference
from rjax._src.interpreters import partial_eval as pe
from rjax._src.lax import lax, parallel, reductions, shapes, slicing
from rjax._src.lax.control_flow import common as cf
from rjax._src.lax.utils import export

# ===========================================================================
# while


while_p = core.new_primitive("while", multiple_results=True)


def _while_abstract_eval(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
  carry = args[cond_nconsts + body_nconsts:]
  (pred,) = cond_jaxpr.out_avals
  if pred.shape != () or pred.dtype != np.bool_:
    raise TypeError(f"while: cond_jaxpr must return a bool scalar, got {pred.str_short()}")
  if any(cf.aval_mismatch(a, b) for a, b in zip(body_jaxpr.out_avals, carry)):
    raise TypeError("while: body_jaxpr's outputs must match the carry's types")
  return [a.update(weak_type=a.weak_type and b.weak_type)
          for a, b in zip(carry, body_jaxpr.out_avals)]


while_p.def_abstract_eval(_while_abstract_eval)
while_p.def_impl(cf.eager_impl(while_p, lambda params: params["body_jaxpr"]))


def _while_reference(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
  cc, bc = args[:cond_nconsts], args[cond_nconsts:cond_nconsts + body_nconsts]
  carry = list(args[cond_nconsts + body_nconsts:])
  while bool(np.asarray(cf.jaxpr_fun(cond_jaxpr)(*cc, *carry)[0])):
    carry = cf.jaxpr_fun(body_jaxpr)(*bc, *carry)
  return [np.asarray(c) for c in carry]


reference.register(while_p, _while_reference)


def _while_lowering(ctx, *args, avals_in, avals_out, cond_jaxpr, body_jaxpr, cond_nconsts,
                    body_nconsts):
  return ctx.emit("while", args, avals_out, {
      "cond_program": cf.compile_jaxpr(cond_jaxpr), "body_program": cf.compile_jaxpr(body_jaxpr),
      "cond_nconsts": cond_nconsts, "body_nconsts": body_nconsts})


_while_lowering.op_name = "while"
lowering.lowerings[while_p] = _while_lowering


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
  cn, bn = cond_nconsts, body_nconsts
  nz = [not isinstance(t, ad.Zero) and cf.differentiable(core.get_aval(p))
        for p, t in zip(primals, tangents)]
  bconst_nz, carry_nz = nz[cn:cn + bn], nz[cn + bn:]
  while True:   # fixed point: which carries get a nonzero tangent
    out_nz = cf.jvp_nonzeros(body_jaxpr, bconst_nz + carry_nz)
    new = [a or b for a, b in zip(carry_nz, out_nz)]
    if new == carry_nz:
      break
    carry_nz = new
  body_jvp, _ = cf.jvp_jaxpr(body_jaxpr, bconst_nz + carry_nz, carry_nz)
  # (bconsts, carry, bconst_ts, carry_ts) -> (bconsts, bconst_ts, carry, carry_ts)
  nb, nc, nbt, nct = bn, len(carry_nz), sum(bconst_nz), sum(carry_nz)
  perm = (list(range(nb)) + list(range(nb + nc, nb + nc + nbt)) + list(range(nb, nb + nc))
          + list(range(nb + nc + nbt, nb + nc + nbt + nct)))
  body_jvp = cf.move_invars(body_jvp, perm)
  ct_avals = [ad.tangent_aval(a) for a, z in zip(body_jaxpr.out_avals, carry_nz) if z]
  cond_jvp = cf.add_invars(cond_jaxpr, ct_avals, len(cond_jaxpr.in_avals))
  cconsts, bconsts, init = primals[:cn], primals[cn:cn + bn], primals[cn + bn:]
  bts = [t for t, z in zip(tangents[cn:cn + bn], bconst_nz) if z]
  its = [ad.instantiate_zeros(t) for t, z in zip(tangents[cn + bn:], carry_nz) if z]
  outs = while_p.bind(*cconsts, *bconsts, *bts, *init, *its, cond_jaxpr=cond_jvp,
                      body_jaxpr=body_jvp, cond_nconsts=cn, body_nconsts=bn + nbt)
  p_out = outs[:nc]
  t_out = cf.fill(carry_nz, outs[nc:], [ad.Zero.from_value(p) for p in p_out])
  return p_out, t_out


ad.primitive_jvps[while_p] = _while_jvp


def _while_partial_eval(trace, args, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
  """As JAX: the known carries (those the unknown ones never flow into) are
  computed now by a loop of their own; the unknown outputs come from the
  whole loop, staged (which recomputes the known part)."""
  params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                body_nconsts=body_nconsts)
  cn, bn = cond_nconsts, body_nconsts
  uk = [not trace.is_known(x) for x in args]
  cconst_uk, bconst_uk, carry_uk = uk[:cn], uk[cn:cn + bn], uk[cn + bn:]
  while True:
    out_uk = cf.out_unknowns(body_jaxpr, bconst_uk + carry_uk)
    new = [a or b for a, b in zip(carry_uk, out_uk)]
    if new == carry_uk:
      break
    carry_uk = new
  if all(carry_uk) or cf.out_unknowns(cond_jaxpr, cconst_uk + carry_uk)[0]:
    return trace.stage(while_p, args, params)
  known = [not u for u in carry_uk]
  cond_k = cf.partial_eval_jaxpr(cond_jaxpr, cconst_uk + carry_uk, [False])
  body_k = cf.partial_eval_jaxpr(body_jaxpr, bconst_uk + carry_uk, carry_uk)
  cond_known = cf.keep_outvars(cond_k.known, [True] + [False] * len(cond_k.res_avals))
  n_kc = sum(known)
  body_known = cf.keep_outvars(body_k.known, [True] * n_kc + [False] * len(body_k.res_avals))
  kargs = [x for x, u in zip(args, cconst_uk + bconst_uk + carry_uk) if not u]
  with core.set_current_trace(trace.parent_trace):
    known_outs = while_p.bind(*kargs, cond_jaxpr=cond_known, body_jaxpr=body_known,
                              cond_nconsts=cn - sum(cconst_uk), body_nconsts=bn - sum(bconst_uk))
  staged = trace.stage(while_p, args, params)
  return cf.interleave(known, known_outs, [o for o, u in zip(staged, carry_uk) if u])


pe.partial_eval_rules[while_p] = _while_partial_eval


def _while_transpose(cts, *args, **params):
  raise ValueError(
      "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with "
      "dynamic start/stop values. Try using lax.scan, or using fori_loop with static "
      "start/stop.")


ad.primitive_transposes[while_p] = _while_transpose


def _while_batch(vals, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts, axis_name,
                 axis_size):
  cn, bn = cond_nconsts, body_nconsts
  size = axis_size
  vals = [batching.moveaxis(v, d, 0) if d is not None else v for v, d in zip(vals, dims)]
  b = [d is not None for d in dims]
  cconst_b, bconst_b, carry_b = b[:cn], b[cn:cn + bn], b[cn + bn:]
  while True:
    out_b = cf.batch_out_mask(body_jaxpr, size, bconst_b + carry_b, axis_name)
    new = [x or y for x, y in zip(carry_b, out_b)]
    if new == carry_b:
      break
    carry_b = new
  pred_b = cf.batch_out_mask(cond_jaxpr, size, cconst_b + carry_b, axis_name)[0]
  if pred_b:
    carry_b = [True] * len(carry_b)
  cconsts, bconsts, init = vals[:cn], vals[cn:cn + bn], vals[cn + bn:]
  init = [batching.bdim_at_front(x, 0 if was else None, size) if want and not was else x
          for x, was, want in zip(init, b[cn + bn:], carry_b)]
  body_b, _ = cf.batch_jaxpr(body_jaxpr, size, bconst_b + carry_b, carry_b, axis_name)
  cond_b, _ = cf.batch_jaxpr(cond_jaxpr, size, cconst_b + carry_b, [False], axis_name)
  if not pred_b:
    outs = while_p.bind(*cconsts, *bconsts, *init, cond_jaxpr=cond_b, body_jaxpr=body_b,
                        cond_nconsts=cn, body_nconsts=bn)
    return outs, [0 if x else None for x in carry_b]
  # A batched predicate: loop while any lane runs; finished lanes keep their values.
  c_avals = [core.get_aval(x) for x in cconsts]
  b_avals = [core.get_aval(x) for x in bconsts]
  carry_avals = [core.get_aval(x) for x in init]

  def cond_any(*args):
    (p,) = cf.jaxpr_fun(cond_b)(*args)
    return [reductions.reduce_or(p, (0,))]

  def body_sel(*args):
    cc, bc, carry = args[:cn], args[cn:cn + bn], args[cn + bn:]
    (p,) = cf.jaxpr_fun(cond_b)(*cc, *carry)
    new = cf.jaxpr_fun(body_b)(*bc, *carry)
    outs = []
    for old, nw in zip(carry, new):
      shape = core.get_aval(nw).shape
      which = shapes.broadcast_in_dim(p, shape, (0,)) if len(shape) > 1 else p
      outs.append(lax.select_n(which, old, nw))
    return outs

  cond_j = cf.trace_flat(cond_any, c_avals + carry_avals)
  body_j = cf.trace_flat(body_sel, c_avals + b_avals + carry_avals)
  outs = while_p.bind(*cconsts, *cconsts, *bconsts, *init, cond_jaxpr=cond_j, body_jaxpr=body_j,
                      cond_nconsts=cn, body_nconsts=cn + bn)
  return outs, [0] * len(outs)


cf.register_batcher(while_p, _while_batch)


@export
def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
  """``while cond_fun(val): val = body_fun(val)``, as one ``while`` primitive
  that runs entirely in the Rust executor."""
  init_vals, in_tree = tree_util.tree_flatten(init_val)
  avals = [core.get_aval(x) for x in init_vals]
  args_tree = tree_util.tree_structure((init_val,))
  for _ in range(2):
    cond_j, cond_consts, _ = cf.trace_fun(cond_fun, args_tree, avals, "while_loop cond_fun")
    body_j, body_consts, body_tree = cf.trace_fun(body_fun, args_tree, avals, "while_loop body")
    n_cc, n_bc = len(cond_consts), len(body_consts)
    cf.check_carry_type("while_loop body", body_fun, in_tree, avals, body_tree,
                        body_j.out_avals)
    avals, changed = cf.promote_weak(avals, body_j.out_avals)
    if not changed:
      break
  pred = cond_j.out_avals
  if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != np.bool_:
    raise TypeError("cond_fun must return a boolean scalar, but got output type(s) "
                    f"{[a.str_short() for a in pred]}.")
  outs = while_p.bind(*cond_consts, *body_consts, *init_vals, cond_jaxpr=cond_j,
                      body_jaxpr=body_j, cond_nconsts=n_cc, body_nconsts=n_bc)
  return tree_util.tree_unflatten(in_tree, outs)


# ===========================================================================
# scan


scan_p = core.new_primitive("scan", multiple_results=True)


def _scan_abstract_eval(*args, jaxpr, length, reverse, num_consts, num_carry, unroll):
  carry = args[num_consts:num_consts + num_carry]
  xs = args[num_consts + num_carry:]
  for x in xs:
    if not x.shape or x.shape[0] != length:
      raise TypeError(f"scan: scanned operand {x.str_short()} has no leading axis of "
                      f"length {length}")
  body_in = list(args[:num_consts + num_carry]) + [x.update(shape=x.shape[1:]) for x in xs]
  if any(cf.aval_mismatch(a, b) for a, b in zip(jaxpr.in_avals, body_in)):
    raise TypeError(f"scan: the body takes {[a.str_short() for a in jaxpr.in_avals]}, the "
                    f"operands give {[a.str_short() for a in body_in]}")
  outs = jaxpr.out_avals
  if any(cf.aval_mismatch(a, b) for a, b in zip(outs[:num_carry], carry)):
    raise TypeError("scan: the body's carry outputs must match the carry's types")
  return ([a.update(weak_type=a.weak_type and b.weak_type) for a, b in zip(carry, outs)]
          + [cf.batched_aval(y, length) for y in outs[num_carry:]])


scan_p.def_abstract_eval(_scan_abstract_eval)
scan_p.def_impl(cf.eager_impl(scan_p, lambda params: params["jaxpr"]))


def _scan_reference(*args, jaxpr, length, reverse, num_consts, num_carry, **_):
  consts, carry = args[:num_consts], list(args[num_consts:num_consts + num_carry])
  xs = args[num_consts + num_carry:]
  ys = [None] * length
  for t in range(length):
    i = length - 1 - t if reverse else t
    outs = cf.jaxpr_fun(jaxpr)(*consts, *carry, *[x[i] for x in xs])
    carry, ys[i] = outs[:num_carry], [np.asarray(y) for y in outs[num_carry:]]
  n_y = len(jaxpr.out_avals) - num_carry
  stacked = [np.stack([ys[i][k] for i in range(length)]) if length else
             np.zeros((0,) + jaxpr.out_avals[num_carry + k].shape,
                      jaxpr.out_avals[num_carry + k].dtype) for k in range(n_y)]
  return [np.asarray(c) for c in carry] + stacked


reference.register(scan_p, _scan_reference)


def _scan_lowering(ctx, *args, avals_in, avals_out, jaxpr, length, reverse, num_consts,
                   num_carry, **_):
  return ctx.emit("scan", args, avals_out, {
      "body": cf.compile_jaxpr(jaxpr), "num_consts": num_consts, "num_carry": num_carry,
      "length": length, "reverse": reverse})


_scan_lowering.op_name = "scan"
lowering.lowerings[scan_p] = _scan_lowering


def _scan_params(p, **changes):
  return {**p, **changes}


def _scan_jvp(primals, tangents, **params):
  jaxpr, nc, ncar = params["jaxpr"], params["num_consts"], params["num_carry"]
  nz = [not isinstance(t, ad.Zero) and cf.differentiable(core.get_aval(p))
        for p, t in zip(primals, tangents)]
  const_nz, carry_nz, xs_nz = nz[:nc], nz[nc:nc + ncar], nz[nc + ncar:]
  n_y = len(jaxpr.out_avals) - ncar
  while True:
    out_nz = cf.jvp_nonzeros(jaxpr, const_nz + carry_nz + xs_nz)
    new = [a or b for a, b in zip(carry_nz, out_nz[:ncar])]
    if new == carry_nz:
      break
    carry_nz = new
  jvp, out_nz = cf.jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz, carry_nz + [False] * n_y)
  nx = len(xs_nz)
  nct, ncart, nxt = sum(const_nz), sum(carry_nz), sum(xs_nz)
  ys_nz = out_nz[ncar:]
  nyt = sum(ys_nz)
  # inputs (consts, carry, xs, const_ts, carry_ts, xs_ts) -> scan layout
  p0, t0 = 0, nc + ncar + nx
  perm = (list(range(p0, p0 + nc)) + list(range(t0, t0 + nct))
          + list(range(p0 + nc, p0 + nc + ncar)) + list(range(t0 + nct, t0 + nct + ncart))
          + list(range(p0 + nc + ncar, t0)) + list(range(t0 + nct + ncart, t0 + nct + ncart + nxt)))
  jvp = cf.move_invars(jvp, perm)
  # outputs (carry, ys, carry_ts, ys_ts) -> (carry, carry_ts, ys, ys_ts)
  operm = (list(range(ncar)) + list(range(ncar + n_y, ncar + n_y + ncart))
           + list(range(ncar, ncar + n_y)) + list(range(ncar + n_y + ncart, ncar + n_y + ncart + nyt)))
  jvp = cf.move_outvars(jvp, operm)
  consts, init, xs = primals[:nc], primals[nc:nc + ncar], primals[nc + ncar:]
  cts = [t for t, z in zip(tangents[:nc], const_nz) if z]
  its = [ad.instantiate_zeros(t) for t, z in zip(tangents[nc:nc + ncar], carry_nz) if z]
  xts = [t for t, z in zip(tangents[nc + ncar:], xs_nz) if z]
  outs = scan_p.bind(*consts, *cts, *init, *its, *xs, *xts, **_scan_params(
      params, jaxpr=jvp, num_consts=nc + nct, num_carry=ncar + ncart))
  carry_out, carry_t = outs[:ncar], outs[ncar:ncar + ncart]
  ys, ys_t = outs[ncar + ncart:ncar + ncart + n_y], outs[ncar + ncart + n_y:]
  p_out = carry_out + ys
  t_out = (cf.fill(carry_nz, carry_t, [ad.Zero.from_value(c) for c in carry_out])
           + cf.fill(ys_nz, ys_t, [ad.Zero.from_value(y) for y in ys]))
  return p_out, t_out


ad.primitive_jvps[scan_p] = _scan_jvp


def _scan_partial_eval(trace, args, **params):
  """A known scan computes the known carries and ys and stacks the
  residuals the unknown part needs (loop-invariant ones, the known consts,
  are passed once; known xs and ys serve as their own stacks); the staged
  scan consumes them. Memory is O(length * residuals); nothing is
  recomputed."""
  jaxpr, nc, ncar = params["jaxpr"], params["num_consts"], params["num_carry"]
  uk = [not trace.is_known(x) for x in args]
  const_uk, carry_uk, xs_uk = uk[:nc], uk[nc:nc + ncar], uk[nc + ncar:]
  n_y = len(jaxpr.out_avals) - ncar
  while True:
    out_uk = cf.out_unknowns(jaxpr, const_uk + carry_uk + xs_uk)
    new = [a or b for a, b in zip(carry_uk, out_uk[:ncar])]
    if new == carry_uk:
      break
    carry_uk = new
  split = cf.partial_eval_jaxpr(jaxpr, const_uk + carry_uk + xs_uk, carry_uk + [False] * n_y)
  out_uk = split.out_uk
  n_kconst = nc - sum(const_uk)
  # Residuals are invariant (a known const, passed once), a known x (the xs
  # themselves are its stack) or computed (stacked by the known scan).
  n_kcarry = ncar - sum(carry_uk)
  x0 = n_kconst + n_kcarry
  invariant = [fwd is not None and fwd < n_kconst for fwd in split.res_fwd]
  is_x = [fwd is not None and fwd >= x0 for fwd in split.res_fwd]
  known = split.known
  n_kout = len(out_uk) - sum(out_uk)
  # A residual that is one of the known ys is that y's stack.
  out_vars = known.jaxpr.outvars
  y_index = {id(v): k for k, v in enumerate(out_vars[n_kcarry:n_kout])
             if not isinstance(v, core.Literal)}
  is_y = [None if inv or x else y_index.get(id(v))
          for v, inv, x in zip(out_vars[n_kout:], invariant, is_x)]
  # Known scan: outputs known carries, known ys, then the computed residuals.
  keep = [True] * n_kout + [not (inv or x or y is not None)
                            for inv, x, y in zip(invariant, is_x, is_y)]
  known_j = cf.keep_outvars(known, keep)
  kargs = [x for x, u in zip(args, const_uk + carry_uk + xs_uk) if not u]
  with core.set_current_trace(trace.parent_trace):
    kouts = scan_p.bind(*kargs, **_scan_params(
        params, jaxpr=known_j, num_consts=n_kconst, num_carry=n_kcarry))
  kvals, computed = kouts[:n_kout], iter(kouts[n_kout:])
  inv_vals = [kargs[fwd] for fwd, inv in zip(split.res_fwd, invariant) if inv]
  stacked = [kargs[fwd] if x else kvals[n_kcarry + y] if y is not None else next(computed)
             for fwd, inv, x, y in zip(split.res_fwd, invariant, is_x, is_y) if not inv]
  # Unknown scan: (invariant res, uk consts, uk carry, stacked res, uk xs).
  n_res = len(invariant)
  inv_idx = [i for i, inv in enumerate(invariant) if inv]
  stk_idx = [i for i, inv in enumerate(invariant) if not inv]
  n_ukc, n_ukcar, n_ukx = sum(const_uk), sum(carry_uk), sum(xs_uk)
  perm = (inv_idx + list(range(n_res, n_res + n_ukc)) +
          list(range(n_res + n_ukc, n_res + n_ukc + n_ukcar)) + stk_idx +
          list(range(n_res + n_ukc + n_ukcar, n_res + n_ukc + n_ukcar + n_ukx)))
  uk_j = cf.move_invars(split.unknown, perm)
  uk_consts = [x for x, u in zip(args[:nc], const_uk) if u]
  uk_init = [x for x, u in zip(args[nc:nc + ncar], carry_uk) if u]
  uk_xs = [x for x, u in zip(args[nc + ncar:], xs_uk) if u]
  uk_args = inv_vals + uk_consts + uk_init + stacked + uk_xs
  uouts = trace.stage(scan_p, uk_args, _scan_params(
      params, jaxpr=uk_j, num_consts=len(inv_vals) + n_ukc, num_carry=n_ukcar))
  return cf.interleave(out_uk, uouts, kvals)


pe.partial_eval_rules[scan_p] = _scan_partial_eval


def _scan_transpose(cts, *args, **params):
  """A scan in the other direction whose carry is the carry's cotangent plus
  accumulators for the linear consts' cotangents."""
  jaxpr, nc, ncar = params["jaxpr"], params["num_consts"], params["num_carry"]
  consts, xs = args[:nc], args[nc + ncar:]
  const_lin = [ad.is_undefined_primal(c) for c in consts]
  xs_lin = [ad.is_undefined_primal(x) for x in xs]
  linear = const_lin + [True] * ncar + xs_lin
  res_c = [c for c, l in zip(consts, const_lin) if not l]
  res_x = [x for x, l in zip(xs, xs_lin) if not l]
  ct_carry = [ad.instantiate_zeros(c) for c in cts[:ncar]]
  ct_ys = [ad.instantiate_zeros(c) for c in cts[ncar:]]
  body_t = cf.transpose_jaxpr(jaxpr, linear)  # (res_c, res_x, ct_carry, ct_y) -> (ctc, ctcar, ctx)
  lin_c_avals = [ad.tangent_aval(c.aval) for c, l in zip(consts, const_lin) if l]
  n_lc, n_rc, n_rx = len(lin_c_avals), len(res_c), len(res_x)

  def body(*a):
    rc = a[:n_rc]
    acc = a[n_rc:n_rc + n_lc]
    ctc = a[n_rc + n_lc:n_rc + n_lc + ncar]
    rx = a[n_rc + n_lc + ncar:n_rc + n_lc + ncar + n_rx]
    cty = a[n_rc + n_lc + ncar + n_rx:]
    outs = cf.jaxpr_fun(body_t)(*rc, *rx, *ctc, *cty)
    d_c, d_carry, d_x = outs[:n_lc], outs[n_lc:n_lc + ncar], outs[n_lc + ncar:]
    return [ad.add_jaxvals_p.bind(s, d) for s, d in zip(acc, d_c)] + list(d_carry) + list(d_x)

  row = lambda x: core.get_aval(x).update(shape=core.get_aval(x).shape[1:])
  avals = ([core.get_aval(c) for c in res_c] + lin_c_avals + [core.get_aval(c) for c in ct_carry]
           + [row(x) for x in res_x] + [row(y) for y in ct_ys])
  body_j = cf.trace_flat(body, avals)
  zeros = [ad.zeros_like_aval(a) for a in lin_c_avals]
  t_args = res_c + zeros + ct_carry + res_x + ct_ys
  outs = scan_p.bind(*t_args, **_scan_params(
      params, jaxpr=body_j, num_consts=n_rc, num_carry=n_lc + ncar,
      reverse=not params["reverse"]))
  ct_consts, ct_init, ct_xs = outs[:n_lc], outs[n_lc:n_lc + ncar], outs[n_lc + ncar:]
  return (cf.interleave(const_lin, ct_consts, [None] * n_rc) + list(ct_init)
          + cf.interleave(xs_lin, ct_xs, [None] * n_rx))


ad.primitive_transposes[scan_p] = _scan_transpose


def _scan_batch(vals, dims, *, axis_name, axis_size, **params):
  jaxpr, nc, ncar = params["jaxpr"], params["num_consts"], params["num_carry"]
  size = axis_size
  b = [d is not None for d in dims]
  const_b, carry_b, xs_b = b[:nc], b[nc:nc + ncar], b[nc + ncar:]
  n_y = len(jaxpr.out_avals) - ncar
  while True:
    out_b = cf.batch_out_mask(jaxpr, size, const_b + carry_b + xs_b, axis_name)
    new = [x or y for x, y in zip(carry_b, out_b[:ncar])]
    if new == carry_b:
      break
    carry_b = new
  body_b, out_b = cf.batch_jaxpr(jaxpr, size, const_b + carry_b + xs_b, carry_b + [False] * n_y,
                                 axis_name)
  consts = [batching.moveaxis(v, d, 0) if d is not None else v
            for v, d in zip(vals[:nc], dims[:nc])]
  init = [batching.bdim_at_front(v, d, size) if want else v
          for v, d, want in zip(vals[nc:nc + ncar], dims[nc:nc + ncar], carry_b)]
  # A batched x has its batch axis right after the scanned one.
  xs = [batching.moveaxis(v, d, 1) if d is not None else v
        for v, d in zip(vals[nc + ncar:], dims[nc + ncar:])]
  outs = scan_p.bind(*consts, *init, *xs, **_scan_params(params, jaxpr=body_b))
  return outs, [0 if x else None for x in carry_b] + [1 if y else None for y in out_b[ncar:]]


cf.register_batcher(scan_p, _scan_batch)


@export
def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False,
         unroll: int | bool = 1, _split_transpose: bool = False):
  """``jax.lax.scan``: ``carry, y = f(carry, x)`` over the leading axis of
  ``xs``, the ys stacked; one ``scan`` primitive run by the Rust executor."""
  xs_flat, xs_tree = tree_util.tree_flatten(xs)
  try:
    lengths = [core.get_aval(x).shape[0] for x in xs_flat]
  except IndexError:
    bad = [core.get_aval(x).str_short() for x in xs_flat if not core.get_aval(x).shape]
    raise ValueError(f"scan got value with no leading axis to scan over: {', '.join(bad)}.") \
        from None
  if length is not None:
    length = int(length)   # a traced length raises TracerIntegerConversionError
    if not all(n == length for n in lengths):
      raise ValueError(f"scan got `length` argument of {length} which disagrees with leading "
                       f"axis sizes {lengths}.")
  else:
    if not lengths:
      raise ValueError("scan got no values to scan over and `length` not provided.")
    if len(set(lengths)) != 1:
      raise ValueError(f"scan got values with different leading axis sizes: "
                       f"{', '.join(map(str, lengths))}.")
    length = lengths[0]
  if isinstance(unroll, bool):
    unroll = max(length, 1) if unroll else 1
  init_flat, init_tree = tree_util.tree_flatten(init)
  carry_avals = [core.get_aval(c) for c in init_flat]
  x_avals = [core.get_aval(x).update(shape=core.get_aval(x).shape[1:]) for x in xs_flat]
  in_tree = tree_util.tree_structure((init, xs))
  for _ in range(2):
    jaxpr, consts, out_tree = cf.trace_fun(f, in_tree, carry_avals + x_avals, "scan body")
    carry_tree, ys_tree = _pair_trees(out_tree)
    ncar = len(init_flat)
    cf.check_carry_type("scan body", f, init_tree, carry_avals, carry_tree,
                        jaxpr.out_avals[:ncar])
    carry_avals, changed = cf.promote_weak(carry_avals, jaxpr.out_avals[:ncar])
    if not changed:
      break
  outs = _scan_hoisting_inputs(jaxpr, list(consts), init_flat, xs_flat, length, bool(reverse),
                               int(unroll))
  if outs is None:
    outs = scan_p.bind(*consts, *init_flat, *xs_flat, jaxpr=jaxpr, length=length,
                       reverse=bool(reverse), num_consts=len(consts), num_carry=len(init_flat),
                       unroll=int(unroll))
  return (tree_util.tree_unflatten(carry_tree, outs[:ncar]),
          tree_util.tree_unflatten(ys_tree, outs[ncar:]))


# Input projections hoisted out of a scan (rjax's; XLA keeps them in the
# loop). The part of the body that depends on the consts and xs only, not on
# the carry, is computed for every step at once, vmapped over the scanned
# axis, before the loop; the loop gets its results as xs (or as consts where
# they do not depend on xs). An RNN cell's x_t @ U is then one GEMM of
# length * batch rows instead of `length` small ones, and in reverse mode
# U's cotangent is one GEMM contracting over (time, batch) instead of an
# accumulator updated at every step. Only where that part holds a product
# (dot_general, conv) and no nested jaxpr, never with callbacks or
# collectives in the body (an effect's order or a named axis would change),
# and only while everything it computes, stacked, stays under HOIST_BYTES (a
# `lax.map` written to bound memory keeps its loop beyond that).
HOIST_BYTES = 256 << 20
_HOIST_WORK = frozenset({"dot_general", "conv_general_dilated"})


def _hoist_blocked(jaxpr) -> bool:
  """Whether ``jaxpr`` (at any depth) holds a callback or a collective."""
  for e in jaxpr.eqns:
    if "callback" in e.primitive.name or e.primitive in parallel.COLLECTIVES:
      return True
    if any(_hoist_blocked(j) for j in cf.sub_jaxprs(e.params)):
      return True
  return False


def _scan_hoisting_inputs(jaxpr, consts, init, xs, length, reverse, unroll):
  """``scan``'s outputs with the carry-independent products hoisted (see
  HOIST_BYTES), or None where that does not apply."""
  nc, ncar, nx = len(consts), len(init), len(xs)
  n_y = len(jaxpr.out_avals) - ncar
  # (the cheap tests first: partial evaluation retraces the body, on every
  # eager scan too; the hoisted part's products are some of the body's own)
  if (length < 2 or not nx or not any(e.primitive.name in _HOIST_WORK for e in jaxpr.jaxpr.eqns)
      or _hoist_blocked(jaxpr.jaxpr)):
    return None
  split = cf.partial_eval_jaxpr(jaxpr, [False] * nc + [True] * ncar + [False] * nx,
                                [True] * ncar + [False] * n_y)
  eqns = split.known.jaxpr.eqns
  if not any(e.primitive.name in _HOIST_WORK for e in eqns):
    return None
  # Every value the hoisted part makes, as if stacked (an upper bound on
  # the memory it adds); no nested jaxprs (a batched while loop runs every
  # lane to the longest one's end).
  if any(next(cf.sub_jaxprs(e.params), None) is not None for e in eqns):
    return None
  hoisted_bytes = sum(int(np.prod(v.aval.shape, dtype=np.int64)) * v.aval.dtype.itemsize
                      for e in eqns for v in e.outvars) * length
  if hoisted_bytes > HOIST_BYTES:
    return None
  y_uk = split.out_uk[ncar:]
  n_ky, n_res = n_y - sum(y_uk), len(split.res_avals)
  try:
    batched, out_b = cf.batch_jaxpr(split.known, length, [False] * nc + [True] * nx,
                                    [True] * n_ky + [False] * n_res)
  except NotImplementedError:   # an op without a batching rule: keep it in the loop
    return None
  kouts = cf.jaxpr_fun(batched)(*consts, *xs)
  known_ys, res, res_b = kouts[:n_ky], kouts[n_ky:], out_b[n_ky:]
  if not ncar and not any(y_uk):   # a map whose body was all hoisted: no loop left
    return list(known_ys)
  # The loop: (invariant residuals, carry, stacked residuals) -> (carry, unknown ys).
  inv_idx = [i for i, b in enumerate(res_b) if not b]
  stk_idx = [i for i, b in enumerate(res_b) if b]
  body = cf.move_invars(split.unknown, inv_idx + list(range(n_res, n_res + ncar)) + stk_idx)
  outs = scan_p.bind(*[res[i] for i in inv_idx], *init, *[res[i] for i in stk_idx],
                     jaxpr=body, length=length, reverse=reverse, num_consts=len(inv_idx),
                     num_carry=ncar, unroll=unroll)
  return list(outs[:ncar]) + cf.interleave(y_uk, outs[ncar:], known_ys)


def _pair_trees(tree):
  """The carry's and the ys' tree structures of the body's output pair."""
  dummy = tree_util.tree_unflatten(tree, [0] * tree.num_leaves)
  if not (isinstance(dummy, tuple) and len(dummy) == 2):
    raise TypeError(f"scan body output must be a pair, got {tree}.")
  return tree_util.tree_structure(dummy[0]), tree_util.tree_structure(dummy[1])


# ===========================================================================
# fori_loop and map


def _concrete_int(x):
  """``x`` as a Python int if it is known now (not a tracer), else None."""
  if isinstance(x, core.Tracer):
    return None
  try:
    return int(np.asarray(x))
  except (TypeError, ValueError):
    return None


@export
def fori_loop(lower, upper, body_fun: Callable, init_val, *, unroll: int | bool | None = None):
  """``for i in range(lower, upper): val = body_fun(i, val)``. With static
  bounds it is a ``scan`` (so reverse-mode differentiable); otherwise a
  ``while_loop``."""
  lo, hi = _concrete_int(lower), _concrete_int(upper)
  dt_lo, dt_hi = core.get_aval(lower).dtype, core.get_aval(upper).dtype
  if dt_lo.kind not in "iu" or dt_hi.kind not in "iu":
    raise TypeError(f"lower and upper arguments to fori_loop must have integer dtypes, got "
                    f"{dt_lo.name} and {dt_hi.name}")
  dtype = dtypes.canonicalize_dtype(np.promote_types(dt_lo, dt_hi)) if dt_lo != dt_hi else dt_lo
  dtype = np.dtype(dtypes.canonicalize_dtype(dtype))
  one = np.array(1, dtype)
  if lo is not None and hi is not None:
    length = max(hi - lo, 0)

    def scan_body(carry, _):
      i, x = carry
      return (lax.add(i, one), body_fun(i, x)), None

    (_, out), _ = scan(scan_body, (np.array(lo, dtype), init_val), None, length=length,
                       unroll=1 if unroll is None else unroll)
    return out
  if unroll not in (None, 1, False):
    raise ValueError("Can only use `unroll` in `fori_loop` if the loop bounds are statically "
                     "known.")
  def as_index(v, c):
    if c is not None:
      return np.array(c, dtype)
    aval = core.get_aval(v)
    return v if aval.dtype == dtype and not aval.weak_type else lax.convert_element_type(v, dtype)

  def cond_fun(c):
    return lax.lt(c[0], c[1])

  def body(c):
    i, u, x = c
    return lax.add(i, one), u, body_fun(i, x)

  return while_loop(cond_fun, body, (as_index(lower, lo), as_index(upper, hi), init_val))[2]


@export
def map(f: Callable, xs, *, batch_size: int | None = None):  # noqa: A001
  """``jax.lax.map``: ``f`` applied over the leading axis of ``xs`` with a
  ``scan`` (``batch_size``: that many at a time, under ``vmap``)."""
  if batch_size is not None:
    leaves, tree = tree_util.tree_flatten(xs)
    n = core.get_aval(leaves[0]).shape[0]
    nb, rem = divmod(n, batch_size)
    main = [shapes.reshape(slicing.slice_in_dim(x, 0, nb * batch_size),
                           (nb, batch_size) + core.get_aval(x).shape[1:]) for x in leaves]
    _, ys = scan(lambda c, x: (c, batching.vmap(f)(tree_util.tree_unflatten(tree, x))), (), main)
    ys = tree_util.tree_map(lambda y: shapes.reshape(y, (nb * batch_size,) + y.shape[2:]), ys)
    if rem:
      tail = [slicing.slice_in_dim(x, nb * batch_size, n) for x in leaves]
      ys_tail = batching.vmap(f)(tree_util.tree_unflatten(tree, tail))
      ys = tree_util.tree_map(lambda a, b: shapes.concatenate([a, b], 0), ys, ys_tail)
    return ys
  _, ys = scan(lambda c, x: (c, f(x)), (), xs)
  return ys
