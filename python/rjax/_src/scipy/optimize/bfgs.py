"""BFGS (Nocedal and Wright, Algorithm 6.1) with the strong-Wolfe line
search, as one ``while_loop`` (JAX's ``minimize_bfgs``)."""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.scipy.optimize.line_search import line_search
from rjax._src.transforms.api import value_and_grad

_dot = functools.partial(jnp.dot, precision=lax.Precision.HIGHEST)
_einsum = functools.partial(jnp.einsum, precision=lax.Precision.HIGHEST)


class _BFGSResults(NamedTuple):
  """The state and result of BFGS: convergence flags, iteration and
  evaluation counts, the iterate x_k with f_k, g_k and the inverse Hessian
  estimate H_k, and ``status`` (0 converged, 1 maxiter, 2 + line-search
  status when the line search failed)."""
  converged: object
  failed: object
  k: object
  nfev: object
  ngev: object
  nhev: object
  x_k: object
  f_k: object
  g_k: object
  H_k: object
  old_old_fval: object
  status: object
  line_search_status: object


def minimize_bfgs(fun, x0, maxiter: int | None = None, norm=np.inf, gtol: float = 1e-5,
                  line_search_maxiter: int = 10) -> _BFGSResults:
  """Minimise ``fun`` from the 1-d ``x0`` until |grad|_norm < gtol."""
  if maxiter is None:
    maxiter = np.size(x0) * 200
  d = x0.shape[0]
  f_0, g_0 = value_and_grad(fun)(x0)
  state = _BFGSResults(converged=jnp.linalg.norm(g_0, ord=norm) < gtol, failed=False, k=0,
                       nfev=1, ngev=1, nhev=0, x_k=x0, f_k=f_0, g_k=g_0,
                       H_k=jnp.eye(d, dtype=x0.dtype),
                       old_old_fval=f_0 + jnp.linalg.norm(g_0) / 2, status=0,
                       line_search_status=0)

  def body(s):
    p_k = -_dot(s.H_k, s.g_k)
    ls = line_search(fun, s.x_k, p_k, old_fval=s.f_k, old_old_fval=s.old_old_fval, gfk=s.g_k,
                     maxiter=line_search_maxiter)
    s = s._replace(nfev=s.nfev + ls.nfev, ngev=s.ngev + ls.ngev, failed=ls.failed,
                   line_search_status=ls.status)
    s_k = ls.a_k * p_k
    y_k = ls.g_k - s.g_k
    rho_k = jnp.reciprocal(_dot(y_k, s_k))
    w = jnp.eye(d, dtype=rho_k.dtype) - rho_k * (s_k[:, np.newaxis] * y_k[np.newaxis, :])
    H_kp1 = _einsum("ij,jk,lk", w, s.H_k, w) + rho_k * s_k[:, np.newaxis] * s_k[np.newaxis, :]
    H_kp1 = jnp.where(jnp.isfinite(rho_k), H_kp1, s.H_k)
    return s._replace(converged=jnp.linalg.norm(ls.g_k, ord=norm) < gtol, k=s.k + 1,
                      x_k=s.x_k + s_k, f_k=ls.f_k, g_k=ls.g_k, H_k=H_kp1, old_old_fval=s.f_k)

  state = lax.while_loop(lambda s: (~s.converged) & (~s.failed) & (s.k < maxiter), body,
                         state)
  status = jnp.where(state.converged, 0,
                     jnp.where(state.k == maxiter, 1,
                               jnp.where(state.failed, 2 + state.line_search_status, -1)))
  return state._replace(status=status)
