"""``jax.scipy.special``'s functions of the error-function and
exponential-integral families, with JAX's algorithms and derivative rules:
erfcx and wofz (Weideman's rational approximation of the Faddeeva
function), dawsn, spence, expi/expn/exp1 (Cephes' rational approximations,
series and continued fractions), sici and Owen's T."""
from __future__ import annotations

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.lax.control_flow import while_loop
from rjax._src.numpy.functional import vectorize
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy import special_tables as tab
from rjax._src.scipy.special import gammaln
from rjax._src.transforms.jit import jit

__all__ = ["dawsn", "erfcx", "exp1", "expi", "expn", "owens_t", "sici", "spence", "wofz"]


def _c(x, v):
  return np.array(v, lax.dtype(x))


def _poly(coeffs, x):
  return jnp.polyval(np.array(coeffs, dtype=lax.dtype(x)), x)


def _no_complex(name, x):
  if np.issubdtype(lax.dtype(x), np.complexfloating):
    raise ValueError(f"{name} does not support complex-valued inputs.")


def _upcast(impl, x):
  """``impl`` in float32 for float16/bfloat16 (rounded back once)."""
  if lax.dtype(x) in (np.float32, np.float64):
    return impl(x)
  return impl(x.astype(np.float32)).astype(lax.dtype(x))


# --- the Faddeeva function and erfcx ----------------------------------------------------------

_WOFZ_L = 4.7568284600108841


def _wofz_upper(z):
  """w(z) for Im z >= 0: 2 p(Z) / (L - iz)**2 + 1 / (sqrt(pi) (L - iz)), Z = (L + iz)/(L - iz)."""
  re = lax.real(z)
  big_l = lax.complex(_c(re, _WOFZ_L), _c(re, 0.))
  iz = lax.complex(lax.neg(lax.imag(z)), re)
  denom = big_l - iz
  zz = (big_l + iz) / denom
  p = jnp.polyval(jnp.asarray(tab.WOFZ_C, dtype=zz.dtype), zz)
  inv_sqrt_pi = lax.complex(_c(re, 1. / np.sqrt(np.pi)), _c(re, 0.))
  return 2 * p / (denom * denom) + inv_sqrt_pi / denom


def _wofz_impl(z):
  upper = lax.ge(lax.imag(z), _c(lax.real(z), 0.))
  zu = lax.select(upper, z, lax.neg(z))
  wu = _wofz_upper(zu)
  return lax.select(upper, wu, 2 * lax.exp(lax.neg(z * z)) - wu)


_wofz = custom_jvp(_wofz_impl)
_wofz.defjvps(lambda g, ans, z: g * (lax.neg(2 * z * ans) + lax.complex(
    _c(lax.real(z), 0.), _c(lax.real(z), 2. / np.sqrt(np.pi)))))


def wofz(z):
  """The Faddeeva function exp(-z**2) erfc(-iz) (complex result)."""
  z, = promote_args_inexact("wofz", z)
  z = z.astype(jnp.result_type(z.dtype, np.complex64))
  return _wofz(z)


# erfcx's asymptotic series sum_k (-1)**k (2k-1)!! / 2**k t**k, descending degree
_ERFCX_ASYMPTOTIC = (7918.06640625, -1055.7421875, 162.421875, -29.53125, 6.5625, -1.875, .75,
                     -.5, 1.)


def _erfcx_real(x, nterms):
  threshold = np.sqrt(np.log(dtypes.finfo(lax.dtype(x)).max))
  large = x > _c(x, threshold)
  safe = lax.select(large, lax.full_like(x, 1.), x)
  direct = lax.exp(lax.square(safe)) * lax.erfc(safe)
  t = _c(x, 1.) / lax.square(x)
  asymptotic = _poly(_ERFCX_ASYMPTOTIC[-nterms:], t) / (x * _c(x, np.sqrt(np.pi)))
  return lax.select(large, asymptotic, direct)


def _erfcx_impl(x):
  return _upcast(lambda v: _erfcx_real(v, 9 if v.dtype == np.float64 else 5), x)


_erfcx = custom_jvp(_erfcx_impl)
_erfcx.defjvps(lambda g, ans, x: g * (2 * x * ans - _c(x, 2. / np.sqrt(np.pi))))


def erfcx(x):
  """The scaled complementary error function exp(x**2) erfc(x) (complex: via wofz)."""
  x, = promote_args_inexact("erfcx", x)
  if np.issubdtype(x.dtype, np.complexfloating):
    return _wofz(lax.complex(lax.neg(lax.imag(x)), lax.real(x)))
  return _erfcx(x)


# --- Dawson's integral ------------------------------------------------------------------------

def _dawsn_real(x):
  ax = lax.abs(x)
  one = lax.full_like(ax, 1.)
  t = _c(x, 1.) / lax.square(ax)
  r1 = ax < _c(x, 3.25)
  r2 = (ax >= _c(x, 3.25)) & (ax < _c(x, 6.25))
  r3 = ax >= _c(x, 6.25)
  a1 = lax.select(r1, ax, one)
  v1 = a1 * _poly(tab.DAWSN_AN, lax.square(a1)) / _poly(tab.DAWSN_AD, lax.square(a1))
  t2, a2 = lax.select(r2, t, one), lax.select(r2, ax, one)
  v2 = (_c(x, 0.5) / a2) * (_c(x, 1.) + t2 * _poly(tab.DAWSN_BN, t2) / _poly(tab.DAWSN_BD, t2))
  t3, a3 = lax.select(r3, t, one), lax.select(r3, ax, one)
  v3 = (_c(x, 0.5) / a3) * (_c(x, 1.) + t3 * _poly(tab.DAWSN_CN, t3) / _poly(tab.DAWSN_CD, t3))
  return jnp.sign(x) * lax.select(r1, v1, lax.select(ax < _c(x, 6.25), v2, v3))


_dawsn = custom_jvp(lambda x: _upcast(_dawsn_real, x))
_dawsn.defjvps(lambda g, ans, x: g * (_c(x, 1.) - _c(x, 2.) * x * ans))


def dawsn(x):
  """Dawson's integral exp(-x**2) int_0^x exp(t**2) dt."""
  x, = promote_args_inexact("dawsn", x)
  _no_complex("dawsn", x)
  return _dawsn(x)


# --- Spence's function ------------------------------------------------------------------------

def _spence_calc(x):
  x2 = x > 2.0
  x = jnp.where(x2, 1.0 / x, x)
  gt15, lt05 = x > 1.5, x < 0.5
  x2 = x2 | gt15
  w = jnp.where(gt15, 1.0 / x - 1.0, jnp.where(lt05, -x, x - 1.0))
  y = -w * _poly(tab.SPENCE_A, w) / _poly(tab.SPENCE_B, w)
  y = jnp.where(lt05, np.pi ** 2 / 6.0 - jnp.log(x) * jnp.log(1.0 - x) - y, y)
  return jnp.where(x2, -0.5 * jnp.log(x) ** 2 - y, y)


def spence(x):
  """Spence's function int_1^x log(t) / (1 - t) dt (float32/float64 only)."""
  x = jnp.asarray(x)
  dtype = lax.dtype(x)
  if dtype not in (np.float32, np.float64):
    raise TypeError(f"x.dtype={dtype} is not supported, see docstring for supported types.")
  return jnp.piecewise(x, [x < 0.0, x == 1.0, x == 0.0],
                       [np.nan, 0, np.pi ** 2 / 6, _spence_calc])


# --- exponential integrals --------------------------------------------------------------------

def _expint_small(x):
  # 0 < x <= 2
  return x * (_poly(tab.EXPINT1_A, x) / _poly(tab.EXPINT1_B, x)) + np.euler_gamma + jnp.log(x)


def _expint_tail(a, b):
  def f(x):
    one = _c(x, 1.0)
    w = one / x
    return jnp.exp(x) * w * (w * (_poly(a, w) / _poly(b, w)) + one)
  return f


_EXPINT_PIECES = [_expint_small] + [
    _expint_tail(getattr(tab, f"EXPINT{i}_A"), getattr(tab, f"EXPINT{i}_B")) for i in range(2, 8)]


def _expi_pos(x):
  conds = [(_c(x, 0) < x) & (x <= _c(x, 2))] + [
      (_c(x, 2 ** i) < x) & (x <= _c(x, 2 ** (i + 1))) for i in range(1, 6)]
  return jnp.piecewise(x, conds, _EXPINT_PIECES)


def _expi_impl(x):
  x, = promote_args_inexact("expi", x)
  _no_complex("expi", x)
  return jnp.piecewise(x, [x < 0], [lambda v: -exp1(-v), _expi_pos])


_expi = custom_jvp(jit(_expi_impl))


@_expi.defjvp
def _expi_jvp(primals, tangents):
  (x,), (x_dot,) = primals, tangents
  return _expi(x), jnp.exp(x) / x * x_dot


def expi(x):
  """The exponential integral Ei(x)."""
  return _expi(x)


def _expn_series(x, n):
  """E_n by its power series (x <= 1). Elements where this branch is not
  selected run on a dummy argument, so that no loop runs long for them."""
  eps = float(dtypes.finfo(x.dtype).eps)
  zero, one = _c(x, 0.0), _c(x, 1.0)
  mine = ~(x > one) & (n < 5000)  # the default branch: NaN lands here
  x = jnp.where(mine, x, _c(x, 0.5))
  n = jnp.where(mine, n, jnp.ones_like(n))
  psi0 = -np.euler_gamma - jnp.log(x)
  _, psi = while_loop(lambda s: s[0] < n, lambda s: (s[0] + one, s[1] + one / s[0]),
                      (jnp.ones_like(n), psi0))
  n1 = jnp.where(n == 1, one + one, n)
  init = (x, -x, zero, one, one - n, jnp.where(n == 1, zero, one / (one - n1)),
          _c(x, np.inf))

  def body(s):
    x_, z, xk, yk, pk, ans, _ = s
    xk = xk + one
    yk = yk * z / xk
    pk = pk + one
    ans = ans + jnp.where(pk != zero, yk / pk, zero)
    t = jnp.where(ans != zero, abs(yk / ans), one)
    return x_, z, xk, yk, pk, ans, t

  s = while_loop(lambda s: (s[0] > zero) & (s[6] > eps), body, init)
  return s[1] ** (n - one) * psi / jnp.exp(gammaln(n)) - s[5]


def _expn_fraction(x, n):
  """E_n by its continued fraction (x > 1; elsewhere a dummy argument keeps
  the loop short)."""
  big = _c(x, 1.44115188075855872e17)
  eps = float(dtypes.finfo(x.dtype).eps)
  zero, one = _c(x, 0.0), _c(x, 1.0)
  mine = x > one  # the last condition of expn's piecewise: it wins for n >= 5000 too
  x = jnp.where(mine, x, _c(x, 2.0))
  n = jnp.where(mine, n, jnp.ones_like(n))

  def body(s):
    k, pkm2, qkm2, pkm1, qkm1, ans, t, r = s
    k = k + 1
    odd = k % 2 == 1
    yk = jnp.where(odd, one, x)
    xk = jnp.where(odd, n + (k - 1) / 2, k / 2)
    pk = pkm1 * yk + pkm2 * xk
    qk = qkm1 * yk + qkm2 * xk
    nz = qk != zero
    r = jnp.where(nz, pk / qk, r)
    t = jnp.where(nz, abs((ans - r) / r), one)
    ans = jnp.where(nz, r, ans)
    pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
    is_big = abs(pk) > big
    pkm2, pkm1, qkm2, qkm1 = (jnp.where(is_big, v / big, v) for v in (pkm2, pkm1, qkm2, qkm1))
    return k, pkm2, qkm2, pkm1, qkm1, ans, t, r

  init = (_c(n, 1), one, x, one, x + n, one / (x + n), _c(x, np.inf), zero)
  s = while_loop(lambda s: (x > 0) & (s[6] > eps), body, init)
  return s[5] * jnp.exp(-x)


def _expn_large_n(x, n):
  """E_n for n >= 5000 (the asymptotic expansion in 1/(x + n))."""
  one = _c(x, 1.0)
  xk = x + n
  yk = one / (xk * xk)
  ans = yk * n * (_c(x, 6) * x * x - _c(x, 8) * n * x + n * n)
  ans = yk * (ans + n * (n - _c(x, 2) * x))
  ans = yk * (ans + n)
  return (ans + one) * jnp.exp(-x) / xk


@jit
def _expn_scalar(n, x):
  n, x = promote_args_inexact("expn", n, x)
  _no_complex("expn", x)
  zero, one = _c(x, 0), _c(x, 1)
  conds = [(n < 0) | (x < zero), (x == zero) & (n < 2), (x == zero) & (n >= 2),
           (n == 0) & (x >= zero), n >= 5000, x > one]
  n1 = jnp.where(n == 1, n + n, n)
  return jnp.piecewise(x, conds, [np.nan, np.inf, one / n1, jnp.exp(-x) / x, _expn_large_n,
                                  _expn_fraction, _expn_series], n=n)


_expn_vec = vectorize(_expn_scalar)
_expn = custom_jvp(lambda n, x: _expn_vec(n, x), nondiff_argnums=(0,))


@_expn.defjvp
def _expn_jvp(n, primals, tangents):
  (x,), (x_dot,) = primals, tangents
  return _expn(n, x), lax.mul(lax.neg(x_dot), _expn(lax.sub(n, _c(n, 1)), x))


def expn(n, x):
  """The generalized exponential integral E_n(x) (differentiable in x)."""
  return _expn(n, x)


def exp1(x):
  """E_1(x)."""
  x, = promote_args_inexact("exp1", x)
  _no_complex("exp1", x)
  return expn(1, x)


# --- sine and cosine integrals ----------------------------------------------------------------

def _sici_series(x):
  t = x * x
  si = (x * _poly(tab.SN, t)) / _poly(tab.SD, t)
  ci = np.euler_gamma + jnp.log(x) + t * _poly(tab.CN, t) / _poly(tab.CD, t)
  return jnp.where(x == 0, 0.0, si), jnp.where(x == 0, -np.inf, ci)


def _sici_asymptotic(x):
  s, c = jnp.sin(x), jnp.cos(x)
  z = 1.0 / (x * x)
  f4 = _poly(tab.FN4, z) / (x * _poly(tab.FD4, z))
  g4 = z * _poly(tab.GN4, z) / _poly(tab.GD4, z)
  f8 = _poly(tab.FN8, z) / (x * _poly(tab.FD8, z))
  g8 = z * _poly(tab.GN8, z) / _poly(tab.GD8, z)
  small = x < 8.0
  f, g = jnp.where(small, f4, f8), jnp.where(small, g4, g8)
  return (np.pi / 2) - f * c - g * s, f * s - g * c


def _sici_far(x):
  si = jnp.where(jnp.isposinf(x), np.pi / 2, (np.pi / 2) - jnp.cos(x) / x)
  ci = jnp.where(jnp.isposinf(x), 0.0, jnp.sin(x) / x)
  return si, ci


def _sici_impl(x):
  x, = promote_args_inexact("sici", x)
  if np.issubdtype(x.dtype, np.complexfloating):
    raise ValueError(f"Argument `x` to sici must be real-valued. Got dtype {x.dtype}.")
  ax = jnp.abs(x)
  si_s, ci_s = _sici_series(ax)
  si_a, ci_a = _sici_asymptotic(ax)
  si_f, ci_f = _sici_far(ax)
  near, mid = ax <= 4, (ax > 4) & (ax <= 1e9)
  si = jnp.select([near, mid], [si_s, si_a], si_f)
  ci = jnp.select([near, mid], [ci_s, ci_a], ci_f)
  return jnp.sign(x) * si, jnp.where(jnp.isneginf(x), np.nan, ci)


_sici = custom_jvp(jit(_sici_impl))


@_sici.defjvp
def _sici_jvp(primals, tangents):
  (x,), (t,) = primals, tangents
  return _sici(x), (jnp.sinc(x / np.pi) * t, jnp.cos(x) / x * t)


def sici(x):
  """The sine and cosine integrals (Si(x), Ci(x))."""
  return _sici(x)


# --- Owen's T ---------------------------------------------------------------------------------

def _owens_t_quadrature(h, a):
  pts = np.array(tab.OWENS_T_QUAD_PTS, dtype=lax.dtype(a))
  r = jnp.square(a)[..., None] * pts
  integrand = jnp.exp(-0.5 * jnp.square(h)[..., None] * (1. + r)) / (1. + r)
  return a * (integrand @ np.array(tab.OWENS_T_QUAD_WTS, dtype=lax.dtype(a)))


def _owens_t_impl(h, a):
  h = jnp.abs(h)
  abs_a = jnp.abs(a)
  root_2 = _c(h, np.sqrt(2))
  h_normed = h / root_2
  small_a = abs_a <= 1.
  ma = jnp.where(small_a, abs_a, jnp.reciprocal(abs_a))
  mh = jnp.where(small_a, h, abs_a * h)
  result = _owens_t_quadrature(mh, ma)
  result = jnp.where(mh == 0., jnp.arctan(ma) / (2 * np.pi), result)
  result = jnp.where(ma == 1., 0.125 * lax.erfc(-mh / root_2) * lax.erfc(mh / root_2), result)
  normh = lax.erfc(h_normed)
  normah = lax.erfc(abs_a * h_normed)
  reciprocal = jnp.where(abs_a * h <= 0.67,
                         0.25 - 0.25 * lax.erf(h_normed) * lax.erf(abs_a * h_normed) - result,
                         0.25 * (normh + normah - normh * normah) - result)
  result = lax.sign(a) * jnp.where(abs_a > 1., reciprocal, result)
  return jnp.where(jnp.isnan(a) | jnp.isnan(h), jnp.full_like(result, jnp.nan), result)


_owens_t = custom_jvp(_owens_t_impl)


@_owens_t.defjvp
def _owens_t_jvp(primals, tangents):
  (h, a), (dh, da) = primals, tangents
  result = _owens_t(h, a)
  dout_dh = (-lax.exp(-0.5 * lax.square(h)) * lax.erf(a * h / _c(h, np.sqrt(2)))
             / (2. * _c(h, np.sqrt(2. * np.pi))))
  dout_da = lax.exp(-0.5 * (lax.square(a) + 1.) * lax.square(h)) / (
      2. * np.pi * (lax.square(a) + 1.))
  return result, (dout_dh * dh + dout_da * da).astype(result.dtype)


def owens_t(h, a):
  """Owen's T function T(h, a) (13-point Gauss-Legendre quadrature)."""
  h, a = promote_args_inexact("owens_t", h, a)
  return _owens_t(h, a)
