"""The strong-Wolfe line search of JAX's BFGS (Nocedal and Wright,
Algorithms 3.5 and 3.6: bracketing, then zoom by cubic, quadratic or
bisection steps), written as ``while_loop``s so that it jits."""
from __future__ import annotations

import functools
from typing import NamedTuple

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.numpy.util import promote_dtypes_inexact
from rjax._src.transforms.api import value_and_grad

_dot = functools.partial(jnp.dot, precision=lax.Precision.HIGHEST)


def _cubicmin(a, fa, fpa, b, fb, c, fc):
  """The minimiser of the cubic through (a, fa) with slope fpa, (b, fb), (c, fc)."""
  dtype = dtypes.result_type(a, fa, fpa, b, fb, c, fc)
  db, dc = b - a, c - a
  denom = (db * dc) ** 2 * (db - dc)
  d1 = jnp.array([[dc ** 2, -db ** 2], [-dc ** 3, db ** 3]], dtype=dtype)
  d2 = jnp.array([fb - fa - fpa * db, fc - fa - fpa * dc], dtype=dtype)
  A, B = _dot(d1, d2) / denom
  return a + (-B + jnp.sqrt(B * B - 3. * A * fpa)) / (3. * A)


def _quadmin(a, fa, fpa, b, fb):
  """The minimiser of the quadratic through (a, fa) with slope fpa and (b, fb)."""
  db = b - a
  B = (fb - fa - fpa * db) / (db ** 2)
  return a - fpa / (2. * B)


def _replace_where(pred, state, new):
  return state._replace(**{k: jnp.where(pred, v, getattr(state, k)) for k, v in new.items()})


class _ZoomState(NamedTuple):
  done: object
  failed: object
  j: object
  a_lo: object
  phi_lo: object
  dphi_lo: object
  a_hi: object
  phi_hi: object
  dphi_hi: object
  a_rec: object
  phi_rec: object
  a_star: object
  phi_star: object
  dphi_star: object
  g_star: object
  nfev: object
  ngev: object


def _zoom(func_and_grad, wolfe_one, wolfe_two, a_lo, phi_lo, dphi_lo, a_hi, phi_hi, dphi_hi,
          g_0, pass_through):
  """Shrink [a_lo, a_hi] until a step satisfies both Wolfe conditions (at
  most 30 steps; fails when the interval collapses)."""
  state = _ZoomState(done=False, failed=False, j=0, a_lo=a_lo, phi_lo=phi_lo, dphi_lo=dphi_lo,
                     a_hi=a_hi, phi_hi=phi_hi, dphi_hi=dphi_hi, a_rec=(a_lo + a_hi) / 2.,
                     phi_rec=(phi_lo + phi_hi) / 2., a_star=1., phi_star=phi_lo,
                     dphi_star=dphi_lo, g_star=g_0, nfev=0, ngev=0)
  delta1, delta2 = 0.2, 0.1

  def body(s):
    dalpha = s.a_hi - s.a_lo
    lo, hi = jnp.minimum(s.a_hi, s.a_lo), jnp.maximum(s.a_hi, s.a_lo)
    cchk, qchk = delta1 * dalpha, delta2 * dalpha
    threshold = jnp.where(dtypes.finfo(dalpha.dtype).bits < 64, 1e-5, 1e-10)
    s = s._replace(failed=s.failed | (dalpha <= threshold))
    a_cubic = _cubicmin(s.a_lo, s.phi_lo, s.dphi_lo, s.a_hi, s.phi_hi, s.a_rec, s.phi_rec)
    use_cubic = (s.j > 0) & (a_cubic > lo + cchk) & (a_cubic < hi - cchk)
    a_quad = _quadmin(s.a_lo, s.phi_lo, s.dphi_lo, s.a_hi, s.phi_hi)
    use_quad = (~use_cubic) & (a_quad > lo + qchk) & (a_quad < hi - qchk)
    use_bisection = (~use_cubic) & (~use_quad)
    a_j = jnp.where(use_cubic, a_cubic, s.a_rec)
    a_j = jnp.where(use_quad, a_quad, a_j)
    a_j = jnp.where(use_bisection, (s.a_lo + s.a_hi) / 2., a_j)
    phi_j, dphi_j, g_j = func_and_grad(a_j)
    phi_j = phi_j.astype(s.phi_lo.dtype)
    dphi_j = dphi_j.astype(s.dphi_lo.dtype)
    g_j = g_j.astype(s.g_star.dtype)
    s = s._replace(nfev=s.nfev + 1, ngev=s.ngev + 1)
    hi_to_j = wolfe_one(a_j, phi_j) | (phi_j >= s.phi_lo)
    star_to_j = wolfe_two(dphi_j) & (~hi_to_j)
    hi_to_lo = (dphi_j * (s.a_hi - s.a_lo) >= 0.) & (~hi_to_j) & (~star_to_j)
    lo_to_j = (~hi_to_j) & (~star_to_j)
    s = _replace_where(hi_to_j, s, dict(a_hi=a_j, phi_hi=phi_j, dphi_hi=dphi_j, a_rec=s.a_hi,
                                        phi_rec=s.phi_hi))
    s = s._replace(done=star_to_j | s.done)
    s = _replace_where(star_to_j, s, dict(a_star=a_j, phi_star=phi_j, dphi_star=dphi_j,
                                          g_star=g_j))
    s = _replace_where(hi_to_lo, s, dict(a_hi=s.a_lo, phi_hi=s.phi_lo, dphi_hi=s.dphi_lo,
                                         a_rec=s.a_hi, phi_rec=s.phi_hi))
    s = _replace_where(lo_to_j & ~hi_to_lo, s, dict(a_rec=s.a_lo, phi_rec=s.phi_lo))
    s = _replace_where(lo_to_j, s, dict(a_lo=a_j, phi_lo=phi_j, dphi_lo=dphi_j))
    s = s._replace(j=s.j + 1)
    return s._replace(failed=s.failed | (s.j >= 30))

  return lax.while_loop(lambda s: (~s.done) & (~pass_through) & (~s.failed), body, state)


class _LineSearchState(NamedTuple):
  done: object
  failed: object
  i: object
  a_i1: object
  phi_i1: object
  dphi_i1: object
  nfev: object
  ngev: object
  a_star: object
  phi_star: object
  dphi_star: object
  g_star: object


class _LineSearchResults(NamedTuple):
  """Results of the line search: ``failed``, ``nit``, ``nfev``, ``ngev``, the
  last iteration ``k``, the step ``a_k``, f and grad there (``f_k``, ``g_k``),
  and ``status`` (0 ok, 1 zoom failed, 3 maxiter)."""
  failed: object
  nit: object
  nfev: object
  ngev: object
  k: object
  a_k: object
  f_k: object
  g_k: object
  status: object


def line_search(f, xk, pk, old_fval=None, old_old_fval=None, gfk=None, c1=1e-4, c2=0.9,
                maxiter=20):
  """A step along ``pk`` from ``xk`` that satisfies the strong Wolfe
  conditions with constants ``c1`` and ``c2``."""
  xk, pk = promote_dtypes_inexact(xk, pk)

  def func_and_grad(t):
    t = jnp.array(t, dtype=pk.dtype)
    phi, g = value_and_grad(f)(xk + t * pk)
    return phi, jnp.real(_dot(g, pk)), g

  fresh = old_fval is None or gfk is None
  if fresh:
    phi_0, dphi_0, gfk = func_and_grad(0)
  else:
    phi_0, dphi_0 = old_fval, jnp.real(_dot(gfk, pk))
  if old_old_fval is not None:
    candidate = 1.01 * 2 * (phi_0 - old_old_fval) / dphi_0
    start_value = jnp.where(candidate > 1, 1.0, candidate)
  else:
    start_value = 1

  def wolfe_one(a_i, phi_i):
    return phi_i > phi_0 + c1 * a_i * dphi_0

  def wolfe_two(dphi_i):
    return jnp.abs(dphi_i) <= -c2 * dphi_0

  state = _LineSearchState(done=jnp.array(False), failed=jnp.array(False), i=1, a_i1=0.,
                           phi_i1=phi_0, dphi_i1=dphi_0, nfev=1 if fresh else 0,
                           ngev=1 if fresh else 0, a_star=0., phi_star=phi_0, dphi_star=dphi_0,
                           g_star=gfk)
  star_keys = ("a_star", "phi_star", "dphi_star", "g_star")

  def body(s):
    a_i = jnp.where(s.i == 1, start_value, s.a_i1 * 2.)
    phi_i, dphi_i, g_i = func_and_grad(a_i)
    s = s._replace(nfev=s.nfev + 1, ngev=s.ngev + 1)
    star_to_zoom1 = wolfe_one(a_i, phi_i) | ((phi_i >= s.phi_i1) & (s.i > 1))
    star_to_i = wolfe_two(dphi_i) & (~star_to_zoom1)
    star_to_zoom2 = (dphi_i >= 0.) & (~star_to_zoom1) & (~star_to_i)
    zoom1 = _zoom(func_and_grad, wolfe_one, wolfe_two, s.a_i1, s.phi_i1, s.dphi_i1, a_i, phi_i,
                  dphi_i, gfk, ~star_to_zoom1)
    s = s._replace(nfev=s.nfev + zoom1.nfev, ngev=s.ngev + zoom1.ngev)
    zoom2 = _zoom(func_and_grad, wolfe_one, wolfe_two, a_i, phi_i, dphi_i, s.a_i1, s.phi_i1,
                  s.dphi_i1, gfk, ~star_to_zoom2)
    s = s._replace(nfev=s.nfev + zoom2.nfev, ngev=s.ngev + zoom2.ngev)
    s = s._replace(done=star_to_zoom1 | s.done, failed=(star_to_zoom1 & zoom1.failed) | s.failed)
    s = _replace_where(star_to_zoom1, s, {k: getattr(zoom1, k) for k in star_keys})
    s = s._replace(done=star_to_i | s.done)
    s = _replace_where(star_to_i, s, dict(a_star=a_i, phi_star=phi_i, dphi_star=dphi_i,
                                          g_star=g_i))
    s = s._replace(done=star_to_zoom2 | s.done, failed=(star_to_zoom2 & zoom2.failed) | s.failed)
    s = _replace_where(star_to_zoom2, s, {k: getattr(zoom2, k) for k in star_keys})
    return s._replace(i=s.i + 1, a_i1=a_i, phi_i1=phi_i, dphi_i1=dphi_i)

  state = lax.while_loop(lambda s: (~s.done) & (s.i <= maxiter) & (~s.failed), body, state)
  status = jnp.where(state.failed, jnp.array(1),
                     jnp.where(state.i > maxiter, jnp.array(3), jnp.array(0)))
  alpha_k = jnp.asarray(state.a_star)
  alpha_k = jnp.where((dtypes.finfo(alpha_k.dtype).bits != 64) & (jnp.abs(alpha_k) < 1e-8),
                      jnp.sign(alpha_k) * 1e-8, alpha_k)
  return _LineSearchResults(failed=state.failed | (~state.done), nit=state.i - 1,
                            nfev=state.nfev, ngev=state.ngev, k=state.i, a_k=alpha_k,
                            f_k=state.phi_star, g_k=state.g_star, status=status)
