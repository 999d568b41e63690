"""``jax.scipy.optimize.minimize``: methods ``"BFGS"`` and JAX's
``"l-bfgs-experimental-do-not-rely-on-this"``."""
from __future__ import annotations

from typing import NamedTuple

from rjax._src import numpy as jnp
from rjax._src.scipy.optimize.bfgs import minimize_bfgs
from rjax._src.scipy.optimize.lbfgs import minimize_lbfgs

__all__ = ["OptimizeResults", "minimize"]


class OptimizeResults(NamedTuple):
  """The result of ``minimize``: the solution ``x``, ``success``, ``status``
  (method-specific), ``fun`` and ``jac`` at x, the inverse Hessian estimate
  ``hess_inv``, and the counts ``nfev``, ``njev``, ``nit``."""
  x: object
  success: object
  status: object
  fun: object
  jac: object
  hess_inv: object
  nfev: object
  njev: object
  nit: object


def minimize(fun, x0, args: tuple = (), *, method: str, tol: float | None = None,
             options=None) -> OptimizeResults:
  """Minimise ``fun(x, *args)`` over a 1-d ``x`` from ``x0``. ``method``:
  "BFGS" (``options``: maxiter, norm, gtol, line_search_maxiter) or
  "l-bfgs-experimental-do-not-rely-on-this" (``options``: maxiter, norm,
  maxcor, ftol, gtol, maxfun, maxgrad, maxls; ``hess_inv`` is None). ``tol``
  is unused, as in JAX."""
  if options is None:
    options = {}
  if not isinstance(args, tuple):
    raise TypeError(f"args argument to jax.scipy.optimize.minimize must be a tuple, got {args}")
  fun_with_args = lambda x: fun(x, *args)
  if method.lower() == "bfgs":
    r = minimize_bfgs(fun_with_args, x0, **options)
    return OptimizeResults(x=r.x_k, success=r.converged & jnp.logical_not(r.failed),
                           status=r.status, fun=r.f_k, jac=r.g_k, hess_inv=r.H_k, nfev=r.nfev,
                           njev=r.ngev, nit=r.k)
  if method.lower() == "l-bfgs-experimental-do-not-rely-on-this":
    r = minimize_lbfgs(fun_with_args, x0, **options)
    return OptimizeResults(x=r.x_k, success=r.converged & jnp.logical_not(r.failed),
                           status=r.status, fun=r.f_k, jac=r.g_k, hess_inv=None, nfev=r.nfev,
                           njev=r.ngev, nit=r.k)
  raise ValueError(f"Method {method} not recognized")
