"""What reverse mode saves: ``saved_residuals`` and ``print_saved_residuals``
(``jax.ad_checkpoint``). The residuals are the leaves of the pullback that
``vjp`` returns; tracing ``vjp`` to a jaxpr shows where each comes from: an
argument, a constant, or an equation (with the user's source line that
bound it)."""
from __future__ import annotations

from typing import Any, Callable

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.interpreters import ad
from rjax._src.interpreters.remat import name_p
from rjax._src.transforms.api import make_jaxpr


def saved_residuals(f: Callable, *args, **kwargs) -> list[tuple[Any, str]]:
  """``[(aval, description)]`` of the values ``vjp(f, *args)`` saves for the
  backward pass, in JAX's order and words."""
  in_leaves, in_tree = tree_util.tree_flatten((args, kwargs))

  def f_(*leaves):
    a, kw = tree_util.tree_unflatten(in_tree, leaves)
    return f(*a, **kw)

  names = core.debug_info("saved_residuals", f, args, kwargs).arg_names
  closed, out_shape = make_jaxpr(lambda *leaves: ad.vjp(f_, *leaves),
                                 return_shape=True)(*in_leaves)
  jaxpr = closed.jaxpr
  num_res = len(tree_util.tree_leaves(out_shape[1]))
  res_vars = jaxpr.outvars[len(jaxpr.outvars) - num_res:] if num_res else []
  return _describe(jaxpr, res_vars, names)


def _describe(jaxpr: core.Jaxpr, res_vars, arg_names) -> list[tuple[Any, str]]:
  results = []
  res_ids = {id(v) for v in res_vars if not isinstance(v, core.Literal)}
  for v in res_vars:
    if isinstance(v, core.Literal):
      results.append((v.aval, "from a literal"))
  for v in jaxpr.constvars:
    if id(v) in res_ids:
      results.append((v.aval, "from a constant"))
  for i, v in enumerate(jaxpr.invars):
    if id(v) in res_ids:
      name = arg_names[i] if i < len(arg_names) else ""
      src = f"from the argument {name}" if name else \
          f"from the argument at flattened index {i}"
      results.append((v.aval, src))
  for e in jaxpr.eqns:
    for v in e.outvars:
      if id(v) in res_ids:
        src = e.source_info.summarize() if e.source_info is not None else "unknown"
        if e.primitive is name_p:
          results.append((v.aval, f"named '{e.params['name']}' from {src}"))
        else:
          results.append((v.aval, f"output of {e.primitive.name} from {src}"))
  return results


def print_saved_residuals(f: Callable, *args, **kwargs) -> None:
  """Print, one a line, each value ``vjp(f, *args)`` saves for the backward
  pass: its type and where it comes from (``jax.ad_checkpoint``)."""
  for aval, src in saved_residuals(f, *args, **kwargs):
    print(f"{aval.str_short()} {src}")
