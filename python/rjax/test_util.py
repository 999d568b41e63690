"""``rjax.test_util.check_grads``: compare derivatives with numerical
differences (central differences for JVPs; the inner-product identity
<u, J v> == <J^T u, v> for VJPs), recursively up to ``order``."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from rjax import numpy as jnp
from rjax._src.base import tree_util
from rjax._src.transforms import api

EPS = 1e-4
_default_tol = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 2e-2, np.dtype(np.float64): 1e-5}


def _np(x):
  return np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind == "f" else np.asarray(x)


def _tol(args, given):
  if given is not None:
    return given
  dts = [np.asarray(x).dtype for x in tree_util.tree_leaves(args)]
  return max((_default_tol.get(d, 1e-5) for d in dts), default=1e-5)


def _rand_like(rng, x):
  if not hasattr(x, "shape"):
    x = np.asarray(x)
  r = rng.standard_normal(x.shape)
  if np.issubdtype(x.dtype, np.complexfloating):
    r = r + 1j * rng.standard_normal(x.shape)
  return r.astype(x.dtype)


def _conj(tree):
  return tree_util.tree_map(lambda x: np.conj(_np(x)), tree)


def _vdot(a, b) -> float:
  """JAX's inner product: the real part of conj(a) . b, summed over leaves."""
  la, lb = tree_util.tree_leaves(a), tree_util.tree_leaves(b)
  return float(np.real(sum(np.vdot(_np(x).ravel(), _np(y).ravel()) for x, y in zip(la, lb))))


def _add_scaled(xs, ds, s):
  return tree_util.tree_map(lambda x, d: jnp.asarray(np.asarray(x) + s * np.asarray(d),
                                                     dtype=np.asarray(x).dtype), xs, ds)


def numerical_jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], eps: float = EPS):
  fp = f(*_add_scaled(list(primals), list(tangents), eps))
  fm = f(*_add_scaled(list(primals), list(tangents), -eps))
  return tree_util.tree_map(lambda a, b: (_np(a) - _np(b)) / (2 * eps), fp, fm)


def check_jvp(f, f_jvp, args, atol=None, rtol=None, eps=EPS, rng=None):
  rng = rng or np.random.default_rng(0)
  tangents = [tree_util.tree_map(lambda x: _rand_like(rng, x), a) for a in args]
  _, t_out = f_jvp(args, tangents)
  num = numerical_jvp(f, args, tangents, eps)
  tol = _tol(args, atol)
  for got, want in zip(tree_util.tree_leaves(t_out), tree_util.tree_leaves(num)):
    np.testing.assert_allclose(_np(got), want, atol=tol, rtol=rtol if rtol is not None else tol,
                               err_msg="JVP does not match numerical differences")


def check_vjp(f, f_vjp, args, atol=None, rtol=None, eps=EPS, rng=None):
  rng = rng or np.random.default_rng(1)
  out, vjp_fun = f_vjp(*args)
  u = tree_util.tree_map(lambda x: _rand_like(rng, x), out)
  v = [tree_util.tree_map(lambda x: _rand_like(rng, x), a) for a in args]
  # JAX's convention for complex values: conj(vjp(conj(u)))
  ct = _conj(vjp_fun(tree_util.tree_map(jnp.asarray, _conj(u))))
  jv = numerical_jvp(f, args, v, eps)
  lhs = _vdot(u, jv)          # <u, J v>
  rhs = _vdot(ct, v)          # <J^T u, v>
  tol = _tol(args, atol)
  np.testing.assert_allclose(rhs, lhs, atol=tol * max(1.0, abs(lhs)),
                             rtol=rtol if rtol is not None else tol,
                             err_msg="VJP does not satisfy <u, J v> == <J^T u, v>")


def check_grads(f: Callable, args: Sequence[Any], order: int, modes=("fwd", "rev"),
                atol=None, rtol=None, eps=EPS) -> None:
  """Check ``f``'s JVP and/or VJP against numerical differences, and (for
  ``order`` > 1) the derivatives of those derivatives."""
  args = list(args)
  args = [tree_util.tree_map(jnp.asarray, a) for a in args]

  def _check(f, args, order):
    if "fwd" in modes:
      check_jvp(f, lambda p, t: api.jvp(f, p, t), args, atol, rtol, eps)
      if order > 1:
        def f_jvp(*xs):
          rng = np.random.default_rng(2)
          ts = [tree_util.tree_map(lambda x: jnp.asarray(_rand_like(rng, x)), a) for a in xs]
          return api.jvp(f, xs, ts)[1]
        _check(f_jvp, args, order - 1)
    if "rev" in modes:
      check_vjp(f, lambda *xs: api.vjp(f, *xs), args, atol, rtol, eps)
      if order > 1:
        def f_vjp(*xs):
          out, vjp_fun = api.vjp(f, *xs)
          rng = np.random.default_rng(3)
          ct = tree_util.tree_map(lambda x: jnp.asarray(_rand_like(rng, x)), out)
          return vjp_fun(ct)
        _check(f_vjp, args, order - 1)

  _check(f, args, order)


__all__ = ["check_grads", "check_jvp", "check_vjp", "numerical_jvp"]
