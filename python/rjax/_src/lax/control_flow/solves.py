"""Differentiable solves with implicit derivatives (JAX's ``solves.py``):
``custom_linear_solve`` (one ``custom_linear_solve`` primitive carrying the
matvec / vecmat / solve / transpose-solve jaxprs) and ``custom_root`` (a
custom JVP by the implicit function theorem, its tangent solved with
``tangent_solve``).

The derivatives never differentiate through the user's solver: the JVP of a
linear solve is another solve, ``x' = solve(b' - A'x)``, and its transpose
is the transpose solve, so an iterative solver (a ``while_loop``) gives
correct gradients in forward and reverse mode.
"""
from __future__ import annotations

import collections
import operator
from typing import Any, Callable, NamedTuple

import numpy as np

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.interpreters import ad, batching, lowering, reference
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.lax import lax, shapes
from rjax._src.lax.control_flow import common as cf
from rjax._src.lax.utils import export


def _trace(fun, tree, avals, what):
  """``fun`` of one pytree argument (of structure ``tree``) traced: (closed
  jaxpr whose constants are leading inputs, those constants, output tree)."""
  arg_tree = tree_util.tree_structure((tree_util.tree_unflatten(tree, [0] * tree.num_leaves),))
  return cf.trace_fun(fun, arg_tree, avals, what)


def _check_tree(func_name, expected_name, actual_tree, expected_tree, has_aux=False):
  if has_aux:
    skeleton = tree_util.tree_unflatten(actual_tree, [0] * actual_tree.num_leaves)
    if not isinstance(skeleton, (tuple, list)) or len(skeleton) != 2:
      raise TypeError(f"{func_name}() with has_aux=True must return a pair (output, aux)")
    actual_tree = tree_util.tree_structure(skeleton[0])
  if actual_tree != expected_tree:
    raise TypeError(f"{func_name}() output pytree structure must match {expected_name}, got "
                    f"{actual_tree} and {expected_tree}.")


def _split(xs, sizes):
  out, i = [], 0
  for n in sizes:
    out.append(list(xs[i:i + n]))
    i += n
  out.append(list(xs[i:]))
  return out


# ---------------------------------------------------------------------------
# custom_linear_solve


class _LinearSolveTuple(NamedTuple):
  matvec: Any
  vecmat: Any
  solve: Any
  transpose_solve: Any

  def transpose(self):
    return type(self)(self.vecmat, self.matvec, self.transpose_solve, self.solve)


def _split_args(args, const_lengths):
  *params, b = _split(args, list(const_lengths))
  return _LinearSolveTuple(*params), b


def _run(closed, consts, args):
  return core.eval_jaxpr(closed.jaxpr, closed.consts, *consts, *args)


def _check_shapes(name, actual, expected):
  a = [np.shape(x) if not hasattr(x, "aval") else core.get_aval(x).shape for x in actual]
  e = [core.get_aval(x).shape for x in expected]
  if a != e:
    raise ValueError(f"{name}() output shapes must match b, got {a} and {e}")


@export
def custom_linear_solve(matvec: Callable, b, solve: Callable, transpose_solve: Callable | None = None,
                        symmetric: bool = False, has_aux: bool = False):
  """Solve ``matvec(x) == b`` with ``solve(matvec, b)``, with derivatives from
  the implicit function theorem (``transpose_solve(vecmat, b)`` for reverse
  mode; ``symmetric=True`` reuses ``solve``)."""
  if transpose_solve is None and symmetric:
    transpose_solve = solve
  b_flat, tree = tree_util.tree_flatten(b)
  b_flat = [x if isinstance(x, core.Tracer) else lax.asarray_lax(x) for x in b_flat]
  b_avals = [core.get_aval(x) for x in b_flat]

  def checked(fun, name, aux):
    def f(x):
      y = fun(x)
      _check_shapes(name, tree_util.tree_leaves(y[0] if aux else y), b_flat)
      return y
    return f

  matvec_j, matvec_c, out_tree = _trace(checked(matvec, "matvec", False), tree, b_avals,
                                        "custom_linear_solve matvec")
  _check_tree("matvec", "b", out_tree, tree)
  solve_j, solve_c, out_tree = _trace(checked(lambda x: solve(matvec, x), "solve", has_aux), tree,
                                      b_avals, "custom_linear_solve solve")
  _check_tree("solve", "b", out_tree, tree, has_aux)
  if transpose_solve is None:
    vecmat_j = tr_j = None
    vecmat_c, tr_c = [], []
  else:
    if symmetric:
      vecmat = matvec
      vecmat_j, vecmat_c = matvec_j, matvec_c
    else:
      def vecmat(y):   # the transpose of the linear matvec (taken at zero)
        zeros = [ad.zeros_like_aval(a) for a in b_avals]
        _, f_vjp = ad.vjp(matvec, tree_util.tree_unflatten(tree, zeros))
        (ct,) = f_vjp(y)
        return ct
      vecmat_j, vecmat_c, vt = _trace(vecmat, tree, b_avals, "custom_linear_solve vecmat")
      _check_tree("vecmat", "b", vt, tree)
    tr_j, tr_c, out_tree2 = _trace(checked(lambda x: transpose_solve(vecmat, x),
                                           "transpose_solve", has_aux), tree, b_avals,
                                   "custom_linear_solve transpose_solve")
    _check_tree("transpose_solve", "b", out_tree2, tree, has_aux)
  consts = [matvec_c, vecmat_c, solve_c, tr_c]
  const_lengths = _LinearSolveTuple(*[len(c) for c in consts])
  jaxprs = _LinearSolveTuple(matvec_j, vecmat_j, solve_j, tr_j)
  outs = linear_solve_p.bind(*[x for c in consts for x in c], *b_flat,
                             const_lengths=const_lengths, jaxprs=jaxprs)
  return tree_util.tree_unflatten(out_tree, outs)


def _linear_solve_abstract_eval(*args, const_lengths, jaxprs):
  return list(jaxprs.solve.out_avals)


def _linear_solve_impl(*args, const_lengths, jaxprs):
  params, b = _split_args(args, const_lengths)
  return _run(jaxprs.solve, params.solve, b)


def _linear_solve_reference(*args, const_lengths, jaxprs):
  return [np.asarray(o) for o in _linear_solve_impl(*args, const_lengths=const_lengths,
                                                    jaxprs=jaxprs)]


def _linear_solve_lowering(ctx, *ids, avals_in, avals_out, const_lengths, jaxprs):
  """The solve jaxpr as a one-branch ``cond`` (its sub-program) on a constant
  branch index made with ``iota``."""
  i32 = np.dtype(np.int32)
  one = core.ShapedArray((1,), i32)
  idx = lowering.lowerings[shapes.iota_p](ctx, avals_in=[], avals_out=[one], dtype=i32,
                                          shape=(1,), dimension=0, sharding=None)
  idx = lowering.lowerings[shapes.reshape_p](ctx, *idx, avals_in=[one],
                                             avals_out=[core.ShapedArray((), i32)],
                                             new_sizes=(), dimensions=None)
  n_solve = const_lengths.solve
  start = const_lengths.matvec + const_lengths.vecmat
  solve_ids = list(ids[start:start + n_solve]) + list(ids[sum(const_lengths):])
  exe = cf.compile_jaxpr(jaxprs.solve)
  return ctx.emit("cond", [idx[0], *solve_ids], avals_out, {"branches": (exe,)})


def _linear_solve_jvp(primals, tangents, *, const_lengths, jaxprs):
  kw = dict(const_lengths=const_lengths, jaxprs=jaxprs)
  x = linear_solve_p.bind(*primals, **kw)
  params, _ = _split_args(primals, const_lengths)
  params_dot, b_dot = _split_args(tangents, const_lengths)
  n = len(b_dot)
  x_leaves = x[:n]
  if all(isinstance(p, ad.Zero) for p in params_dot.matvec):
    rhs = b_dot
  else:   # x' = solve(b' - A' x): the matvec's tangent in its constants, at x
    zeros = [ad.Zero(ad.tangent_aval(core.get_aval(v))) for v in x_leaves]
    _, mv_t = ad.jvp_flat(lambda *a: _run(jaxprs.matvec, a[:len(params.matvec)],
                                          a[len(params.matvec):]),
                          list(params.matvec) + list(x_leaves), list(params_dot.matvec) + zeros)
    rhs = [ad.add_tangents(bd, lax.neg(ad.instantiate_zeros(t)) if not isinstance(t, ad.Zero)
                           else t) for bd, t in zip(b_dot, mv_t)]
  rhs = [ad.instantiate_zeros(r) for r in rhs]
  x_dot = linear_solve_p.bind(*[p for ps in params for p in ps], *rhs, **kw)
  aux_dot = [ad.Zero(ad.tangent_aval(core.get_aval(a))) for a in x_dot[n:]]
  return x, list(x_dot[:n]) + aux_dot


def _linear_solve_transpose(cts, *primals, const_lengths, jaxprs):
  if jaxprs.transpose_solve is None:
    raise TypeError("transpose_solve required for backwards mode automatic differentiation of "
                    "custom_linear_solve")
  params, b = _split_args(primals, const_lengths)
  if any(ad.is_undefined_primal(p) for ps in params for p in ps):
    raise NotImplementedError("custom_linear_solve: differentiating with respect to the "
                              "operator's constants in reverse mode is not supported (as in JAX)")
  n = len(b)
  x_ct = [ad.instantiate_zeros(c) if not isinstance(c, ad.Zero) else ad.zeros_like_aval(c.aval)
          for c in cts[:n]]
  if any(not isinstance(c, ad.Zero) for c in cts[n:]):
    raise NotImplementedError("custom_linear_solve: cotangents of aux outputs")
  b_ct = linear_solve_p.bind(*[p for ps in params.transpose() for p in ps], *x_ct,
                             const_lengths=const_lengths.transpose(), jaxprs=jaxprs.transpose())
  return [None] * sum(const_lengths) + list(b_ct[:n])


def _linear_solve_batch(vals, dims, *, axis_name, axis_size, const_lengths, jaxprs):
  """Everything batched: the constants that are, and every ``b`` (broadcast)."""
  size = axis_size
  vals = [batching.moveaxis(v, d, 0) if d is not None and d != 0 else v for v, d in zip(vals, dims)]
  params, b = _split_args(vals, const_lengths)
  pdims, bdims = _split_args(dims, const_lengths)
  b = [v if d is not None else batching.bdim_at_front(v, None, size) for v, d in zip(b, bdims)]

  def batch(closed, k):
    if closed is None:
      return None
    mask = [d is not None for d in pdims[k]] + [True] * len(b)
    j, _ = cf.batch_jaxpr(closed, size, mask, [True] * len(closed.out_avals), axis_name)
    return j

  new = _LinearSolveTuple(*[batch(j, k) for k, j in enumerate(jaxprs)])
  outs = linear_solve_p.bind(*[p for ps in params for p in ps], *b, const_lengths=const_lengths,
                             jaxprs=new)
  return outs, [0] * len(outs)


linear_solve_p = core.new_primitive("custom_linear_solve", multiple_results=True)
linear_solve_p.def_abstract_eval(_linear_solve_abstract_eval)
linear_solve_p.def_impl(_linear_solve_impl)
reference.register(linear_solve_p, _linear_solve_reference)
lowering.lowerings[linear_solve_p] = _linear_solve_lowering
ad.primitive_jvps[linear_solve_p] = _linear_solve_jvp
ad.primitive_transposes[linear_solve_p] = _linear_solve_transpose
cf.register_batcher(linear_solve_p, _linear_solve_batch)


# ---------------------------------------------------------------------------
# custom_root

_RootTuple = collections.namedtuple("_RootTuple", "f, solve, l_and_s")


@export
def custom_root(f: Callable, initial_guess, solve: Callable, tangent_solve: Callable,
                has_aux: bool = False):
  """The root of ``f`` found by ``solve(f, initial_guess)``, differentiated
  implicitly: ``x'`` solves ``∂f/∂x · x' = -∂f/∂θ · θ'`` with
  ``tangent_solve(g, y)`` (``g`` the linearization of ``f`` at the root)."""
  guess_flat, tree = tree_util.tree_flatten(initial_guess)
  guess_flat = [x if isinstance(x, core.Tracer) else lax.asarray_lax(x) for x in guess_flat]
  avals = [core.get_aval(x) for x in guess_flat]
  f_j, f_c, ft = _trace(f, tree, avals, "custom_root f")
  _check_tree("f", "initial_guess", ft, tree)
  solve_j, solve_c, st = _trace(lambda x: solve(f, x), tree, avals, "custom_root solve")
  _check_tree("solve", "initial_guess", st, tree, has_aux)

  def linearize_and_solve(x, b):
    _, f_jvp = ad.linearize(f, x)
    return tangent_solve(f_jvp, b)

  pair_tree = tree_util.tree_structure((initial_guess, initial_guess))
  ls_j, ls_c, lt = cf.trace_fun(linearize_and_solve, pair_tree, avals + avals,
                                "custom_root tangent_solve")
  _check_tree("tangent_solve", "x", lt, tree)
  consts = [f_c, solve_c, ls_c]
  lengths = _RootTuple(*[len(c) for c in consts])
  jaxprs = _RootTuple(f_j, solve_j, ls_j)
  out = _custom_root(lengths, jaxprs, *[x for c in consts for x in c], *guess_flat)
  return tree_util.tree_unflatten(st, out)


def _root_solution(lengths, jaxprs, *args):
  *params, guess = _split(args, list(lengths))
  return list(_run(jaxprs.solve, params[1], guess))


_custom_root = custom_jvp(_root_solution, nondiff_argnums=(0, 1))


def _root_jvp(lengths, jaxprs, primals, tangents):
  *params, _ = _split(primals, list(lengths))
  sol = _root_solution(lengths, jaxprs, *primals)
  n = len(jaxprs.f.out_avals)
  solution, aux = sol[:n], sol[n:]
  *params_dot, _ = _split(tangents, list(lengths))
  f_params, f_dot = params[0], params_dot[0]
  _, rhs = ad.jvp_flat(lambda *p: _run(jaxprs.f, p, solution), list(f_params), list(f_dot))
  rhs = [ad.instantiate_zeros(r) for r in rhs]
  sol_dot = [operator.neg(t) for t in _run(jaxprs.l_and_s, params[2], list(solution) + rhs)]
  aux_dot = [lax.sub(a, a) if np.issubdtype(core.get_aval(a).dtype, np.inexact) else
             ad.zeros_like_aval(ad.tangent_aval(core.get_aval(a))) for a in aux]
  return solution + aux, sol_dot + aux_dot


_custom_root.defjvp(_root_jvp)
