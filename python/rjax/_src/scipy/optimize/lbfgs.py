"""Limited-memory BFGS (Nocedal and Wright, Algorithm 7.5: the two-loop
recursion over the last ``maxcor`` pairs ``(s, y)``), with the strong-Wolfe
line search, as one ``while_loop``: JAX's
``method="l-bfgs-experimental-do-not-rely-on-this"``. Complex ``x`` is
handled as in Sorber, Van Barel and De Lathauwer (2012): inner products take
the conjugate of their first argument and keep the real part."""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.scipy.optimize.line_search import line_search
from rjax._src.transforms.api import value_and_grad

_dot = functools.partial(jnp.dot, precision=lax.Precision.HIGHEST)


class LBFGSResults(NamedTuple):
  """The state and result of L-BFGS: the flags ``converged`` and ``failed``;
  the iteration count ``k`` and evaluation counts ``nfev``, ``ngev``; the
  iterate ``x_k`` with ``f_k`` and ``g_k``; the history of steps
  ``s_history``, gradient changes ``y_history`` and ``rho_history``
  (1 / <y, s>), oldest first; the initial Hessian scale ``gamma``; ``status``
  (0 converged, 1 maxiter, 2 maxfun, 3 maxgrad, 4 no progress by ``ftol``,
  5 line search failed) and the last line search's ``ls_status``."""
  converged: object
  failed: object
  k: object
  nfev: object
  ngev: object
  x_k: object
  f_k: object
  g_k: object
  s_history: object
  y_history: object
  rho_history: object
  gamma: object
  status: object
  ls_status: object


def _search_direction(state: LBFGSResults):
  """``-H_k g_k`` by the two-loop recursion over the ``min(k, maxcor)``
  newest pairs (the last rows of the history)."""
  dtype = state.rho_history.dtype
  m = state.rho_history.shape[0]
  used = jnp.minimum(state.k, m)

  def newest_first(j, carry):
    q, alpha = carry
    i = m - 1 - j
    a_i = state.rho_history[i] * _dot(jnp.conj(state.s_history[i]), q).real.astype(dtype)
    return q - a_i * jnp.conj(state.y_history[i]), lax.dynamic_update_index_in_dim(
        alpha, a_i, i, 0)

  q, alpha = lax.fori_loop(0, used, newest_first,
                           (-jnp.conj(state.g_k), jnp.zeros_like(state.rho_history)))
  q = state.gamma * q

  def oldest_first(j, q):
    i = m - used + j
    b_i = state.rho_history[i] * _dot(state.y_history[i], q).real.astype(dtype)
    return q + (alpha[i] - b_i) * state.s_history[i]

  return lax.fori_loop(0, used, oldest_first, q)


def _push(history, new):
  """The history with its oldest row dropped and ``new`` appended."""
  return jnp.concatenate([history[1:], jnp.expand_dims(new, 0).astype(history.dtype)], axis=0)


def minimize_lbfgs(fun, x0, maxiter: float | None = None, norm=np.inf, maxcor: int = 10,
                   ftol: float = 2.220446049250313e-09, gtol: float = 1e-05,
                   maxfun: float | None = None, maxgrad: float | None = None,
                   maxls: int = 20) -> LBFGSResults:
  """Minimise the real ``fun`` from the 1-d ``x0`` until |grad|_norm < gtol,
  or until a limit (``maxiter``, default 200 per variable when no limit is
  given; ``maxfun``; ``maxgrad``), slow progress (``ftol``) or a failed line
  search stops it."""
  x0 = jnp.asarray(x0)
  d = len(x0)
  dtype = x0.dtype
  if maxiter is None and maxfun is None and maxgrad is None:
    maxiter = d * 200
  maxiter = np.inf if maxiter is None else maxiter
  maxfun = np.inf if maxfun is None else maxfun
  maxgrad = np.inf if maxgrad is None else maxgrad

  f_0, g_0 = value_and_grad(fun)(x0)
  start = LBFGSResults(converged=jnp.array(False), failed=jnp.array(False), k=0, nfev=1, ngev=1,
                       x_k=x0, f_k=f_0, g_k=g_0, s_history=jnp.zeros((maxcor, d), dtype),
                       y_history=jnp.zeros((maxcor, d), dtype),
                       rho_history=jnp.zeros((maxcor,), dtype),
                       gamma=jnp.ones((), g_0.dtype), status=0,
                       ls_status=0)

  def step(state: LBFGSResults) -> LBFGSResults:
    p_k = _search_direction(state)
    ls = line_search(fun, state.x_k, p_k, old_fval=state.f_k, gfk=state.g_k, maxiter=maxls)
    s_k = jnp.asarray(ls.a_k).astype(p_k.dtype) * p_k
    y_k = ls.g_k - state.g_k
    sy = jnp.real(_dot(y_k, s_k))
    rho_k = jnp.reciprocal(sy).astype(y_k.dtype)
    gamma = sy / jnp.real(_dot(jnp.conj(y_k), y_k))
    # the last applicable reason wins, as in JAX
    status = jnp.array(0)
    status = jnp.where(state.f_k - ls.f_k < ftol, 4, status)
    status = jnp.where(state.ngev >= maxgrad, 3, status)
    status = jnp.where(state.nfev >= maxfun, 2, status)
    status = jnp.where(state.k >= maxiter, 1, status)
    status = jnp.where(ls.failed, 5, status)
    converged = jnp.linalg.norm(ls.g_k, ord=norm) < gtol
    return state._replace(
        converged=converged, failed=(status > 0) & ~converged, k=state.k + 1,
        nfev=state.nfev + ls.nfev, ngev=state.ngev + ls.ngev,
        x_k=(state.x_k + s_k).astype(state.x_k.dtype), f_k=ls.f_k.astype(state.f_k.dtype),
        g_k=ls.g_k.astype(state.g_k.dtype), s_history=_push(state.s_history, s_k),
        y_history=_push(state.y_history, y_k), rho_history=_push(state.rho_history, rho_k),
        gamma=gamma.astype(state.g_k.dtype), status=jnp.where(converged, 0, status),
        ls_status=ls.status)

  return lax.while_loop(lambda s: ~s.converged & ~s.failed, step, start)
