"""``jax.scipy.special``'s series-based functions, with JAX's algorithms and
derivative rules: the confluent and Gauss hypergeometric functions hyp1f1
and hyp2f1 (series, asymptotic and transformed series after Pearson's
thesis, arXiv:1407.7786), Bessel functions of the first kind by Miller's
backward recurrence (bessel_jn), spherical harmonics through the
normalized associated Legendre functions (sph_harm_y) and the Fresnel
integrals (Cephes)."""
from __future__ import annotations

import functools
import operator

import numpy as np

from rjax._src import core
from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.lax.control_flow import fori_loop, scan, while_loop
from rjax._src.numpy.functional import vectorize
from rjax._src.numpy.util import promote_args_inexact, promote_dtypes_inexact
from rjax._src.scipy import special_tables as tab
from rjax._src.scipy.special import digamma
from rjax._src.scipy.special_gamma import gamma
from rjax._src.transforms.api import vmap
from rjax._src.transforms.jit import jit

__all__ = ["bessel_jn", "fresnel", "hyp1f1", "hyp2f1", "sph_harm_y"]


def _c(x, v):
  return np.array(v, lax.dtype(x))


def _poly(coeffs, x):
  return jnp.polyval(np.array(coeffs, dtype=lax.dtype(x)), x)


def _eps(x) -> float:
  return float(dtypes.finfo(lax.dtype(x)).eps)


def _series(step, init_sum, init_term, x, weight=None):
  """sum_k term_k (times ``weight(k)`` if given) until |term/sum| <= eps or
  250 terms, term_{k+1} = term_k * step(k)."""
  eps = _eps(x)

  def body(s):
    total, k, term = s
    total = total + (term if weight is None else term * weight(k))
    return total, k + 1, term * step(k)

  def cond(s):
    total, k, term = s
    return (k < 250) & (lax.abs(term) / lax.abs(total) > eps)

  return while_loop(cond, body, (init_sum, jnp.ones_like(x), init_term))[0]


# --- 1F1 --------------------------------------------------------------------------------------

def _hyp1f1_series(a, b, x):
  return _series(lambda k: (a + k) / (b + k) * x / (k + 1), jnp.ones_like(x), a / b * x, x)


def _hyp1f1_asymptotic(a, b, x):
  s = _series(lambda k: (b - a + k) * (1 - a + k) / (k + 1) / x, jnp.ones_like(x),
              (b - a) * (1 - a) / x, x)
  return gamma(b) / gamma(a) * lax.exp(x) * x ** (a - b) * s


@jit
@vectorize
def _hyp1f1_da(a, b, x):
  return _series(lambda k: (a + k) / (b + k) * x / (k + 1), jnp.zeros_like(x), a / b * x, x,
                 weight=lambda k: digamma(a + k) - digamma(a))


@jit
@vectorize
def _hyp1f1_db(a, b, x):
  return _series(lambda k: (a + k) / (b + k) * x / (k + 1), jnp.zeros_like(x), a / b * x, x,
                 weight=lambda k: digamma(b) - digamma(b + k))


@jit
@vectorize
def _hyp1f1_impl(a, b, x):
  a, b, x = promote_args_inexact("hyp1f1", a, b, x)
  if np.issubdtype(x.dtype, np.complexfloating):
    raise ValueError("hyp1f1 does not support complex-valued inputs.")
  result = lax.cond(lax.abs(x) < 100, _hyp1f1_series, _hyp1f1_asymptotic, a, b, x)
  index = (a == 0) * 1 + ((a == b) & (a != 0)) * 2 + ((b == 0) & (a != 0)) * 3
  return lax.select_n(index.astype(np.int32), result, jnp.array(1, dtype=x.dtype), jnp.exp(x),
                      jnp.array(np.inf, dtype=x.dtype))


_hyp1f1 = custom_jvp(_hyp1f1_impl)
_hyp1f1.defjvps(lambda t, out, a, b, x: _hyp1f1_da(a, b, x) * t,
                lambda t, out, a, b, x: _hyp1f1_db(a, b, x) * t,
                lambda t, out, a, b, x: a / b * _hyp1f1(a + 1, b + 1, x) * t)


def hyp1f1(a, b, x):
  """The confluent hypergeometric function 1F1(a; b; x) (real arguments)."""
  return _hyp1f1(a, b, x)


# --- 2F1 --------------------------------------------------------------------------------------

def _hyp2f1_terminal(a, b, c, x):
  """The polynomial case: a (or b) a non-positive integer."""
  eps = _eps(x) * 50
  ib = jnp.round(b)
  swap = (b < a) & (jnp.abs(b - ib) < eps) & ~((c % 1 == 0) & (c <= 0) & (c > b))
  a, b = jnp.where(swap, b, a), jnp.where(swap, a, b)
  a = jnp.abs(a)

  def body(s):
    i, total, term = s
    term = term * (-(a - i + 1) / (c + i - 1) * (b + i - 1) / i * x)
    return i + 1, total + term, term

  one = jnp.array(1, dtype=x.dtype)
  return while_loop(lambda s: s[0] < a + 1, body, (one, one, one))[1]


def _hyp2f1_series(a, b, c, x):
  eps = _eps(x)

  def body(s):
    total, k, term = s
    return total + term, k + 1, term * ((a + k - 1) * (b + k - 1) / (c + k - 1) / k * x)

  def cond(s):
    total, k, term = s
    return (k < 250) & (lax.abs(term) > eps * lax.abs(total))

  return while_loop(cond, body, (jnp.zeros_like(x), jnp.ones_like(x), jnp.ones_like(x)))[0]


def _hyp2f1_digamma_transform(a, b, c, x):
  """Near x = 1 with c - a - b an integer: the series in 1 - x with digamma
  terms (Abramowitz and Stegun 15.3.10-12)."""
  eps = _eps(x)
  d = c - a - b
  s = 1 - x
  rd = jnp.round(d)
  zero = jnp.zeros_like(d)
  e = jnp.where(rd >= 0, d, -d)
  d1 = jnp.where(rd >= 0, d, zero)
  d2 = jnp.where(rd >= 0, zero, d)
  ard = jnp.where(rd >= 0, rd, -rd).astype("int32")
  ax = jnp.log(s)
  y = (digamma(1.0) + digamma(1.0 + e) - digamma(a + d1) - digamma(b + d1) - ax) / gamma(e + 1.0)
  p = (a + d1) * (b + d1) * s / gamma(e + 2.0)

  def body(st):
    p, q, t, y = st
    r = digamma(1.0 + t) + digamma(1.0 + t + e) - digamma(a + t + d1) - digamma(b + t + d1) - ax
    q = p * r
    y = y + q
    p = p * (s * (a + t + d1) / (t + 1.0))
    p = p * ((b + t + d1) / (t + 1.0 + e))
    return p, q, t + 1.0, y

  st = while_loop(lambda st: (st[2] < 250) & (jnp.abs(st[1]) >= eps * jnp.abs(st[3])), body,
                  (p, y, jnp.ones_like(x), y))
  y = st[3]

  def finite_sum(y):
    def fbody(i, st):
      p, t, y1 = st
      r = 1.0 - e + t
      p = p * (s * (a + t + d2) * (b + t + d2) / r)
      t = t + 1.0
      p = p / t
      return p, t, y1 + p

    one = jnp.ones_like(x)
    y1 = fori_loop(1, ard, fbody, (one, jnp.zeros_like(x), one))[2]
    gc = gamma(c)
    y1 = y1 * (gamma(e) * gc / (gamma(a + d1) * gamma(b + d1)))
    y = y * (gc / (gamma(a + d2) * gamma(b + d2)))
    y = jnp.where((ard & 1) != 0, -y, y)
    q = s ** rd
    return jnp.where(rd > 0, y * q + y1, y + y1 * q)

  return jnp.where(rd == 0, y * gamma(c) / (gamma(a) * gamma(b)), finite_sum(y))


def _hyp2f1_terminal_or_series(a, b, c, x):
  eps = _eps(x) * 50
  d = c - a - b
  neg_int_a = (a <= 0) & (jnp.abs(a - jnp.round(a)) < eps)
  neg_int_b = (b <= 0) & (jnp.abs(b - jnp.round(b)) < eps)
  neg_int = neg_int_a | neg_int_b
  index = jnp.where((x > 0.9) & ~neg_int, jnp.where(jnp.abs(d - jnp.round(d)) >= eps, 0, 1),
                    jnp.where(neg_int, 2, 0))
  # the loops of the unselected branches run on dummy arguments (no long loops)
  dummy = lambda on, v, safe: jnp.where(on, v, jnp.full_like(v, safe))
  on_dt, on_t = index == 1, index == 2  # noqa: E501
  transformed = _hyp2f1_digamma_transform(dummy(on_dt, a, 0.5), dummy(on_dt, b, 0.5),
                                          dummy(on_dt, c, 2.0), dummy(on_dt, x, 0.95))
  terminal = _hyp2f1_terminal(dummy(on_t, a, 0.0), dummy(on_t, b, 0.0), dummy(on_t, c, 1.0),
                              dummy(on_t, x, 0.0))
  return lax.select_n(index.astype(np.int32), _hyp2f1_series(a, b, c, x), transformed, terminal)


def _hyp2f1_param_derivative(which):
  @jit
  @vectorize
  def deriv(a, b, c, x):
    weights = {"a": lambda k: digamma(a + k) - digamma(a),
               "b": lambda k: digamma(b + k) - digamma(b),
               "c": lambda k: digamma(c) - digamma(c + k)}
    return _series(lambda k: (a + k) * (b + k) / (c + k) / (k + 1) * x, jnp.zeros_like(x),
                   a * b / c * x, x, weight=weights[which])
  return deriv


_hyp2f1_da, _hyp2f1_db, _hyp2f1_dc = (_hyp2f1_param_derivative(w) for w in "abc")


@jit
@vectorize
def _hyp2f1_impl(a, b, c, x):
  a, b, c, x = promote_args_inexact("hyp2f1", a, b, c, x)
  eps = _eps(x) * 50
  d = c - a - b
  s = 1 - x
  ca, cb = c - a, c - b
  rd = jnp.round(d)
  index = jnp.where(
      (x == 0) | (((a == 0) | (b == 0)) & (c != 0)), 0,
      jnp.where((c == 0) | ((c < 0) & (c % 1 == 0)), 1,
                jnp.where((d <= -1) & ~((jnp.abs(d - rd) >= eps) & (s < 0)), 2,
                          jnp.where((d <= 0) & (x == 1), 1,
                                    jnp.where((x < 1) & (b == c), 3,
                                              jnp.where((x < 1) & (a == c), 4,
                                                        jnp.where(x > 1, 1,
                                                                  jnp.where(x == 1, 5, 6))))))))
  return lax.select_n(index.astype(np.int32), jnp.array(1, dtype=x.dtype),
                      jnp.array(np.inf, dtype=x.dtype),
                      s ** d * _hyp2f1_terminal_or_series(ca, cb, c, x), s ** (-a), s ** (-b),
                      gamma(c) * gamma(d) / (gamma(ca) * gamma(cb)),
                      _hyp2f1_terminal_or_series(a, b, c, x))


_hyp2f1 = custom_jvp(_hyp2f1_impl)
_hyp2f1.defjvps(lambda t, out, a, b, c, x: _hyp2f1_da(a, b, c, x) * t,
                lambda t, out, a, b, c, x: _hyp2f1_db(a, b, c, x) * t,
                lambda t, out, a, b, c, x: _hyp2f1_dc(a, b, c, x) * t,
                lambda t, out, a, b, c, x: a * b / c * _hyp2f1(a + 1, b + 1, c + 1, x) * t)


def hyp2f1(a, b, c, x):
  """The Gauss hypergeometric function 2F1(a, b; c; x) (real arguments)."""
  return _hyp2f1(a, b, c, x)


# --- Bessel functions of the first kind -------------------------------------------------------

def _bessel_jn_one(z, *, v: int, n_iter: int):
  """J_0 .. J_v at scalar z: Miller's backward recurrence from order
  n_iter, normalised with J_0 + 2 sum J_2k = 1."""
  def body(carry, k):
    f0, f1, bs = carry
    f = 2.0 * (k + 1.0) * f1 / z - f0
    bs = jnp.where(jnp.mod(k, 2) == 0, bs + 2.0 * f, bs)
    return (f1, f, bs), f

  init = (_c(z, 0.0), _c(z, 1E-16), _c(z, 0.0))
  (_, _, bs), vals = scan(body, init, lax.iota(lax.dtype(z), n_iter + 1), reverse=True)
  return vals[:v + 1] / (bs - vals[0])


@functools.partial(jit, static_argnames=["v", "n_iter"])
def _bessel_jn(z, *, v: int, n_iter: int):
  fun = functools.partial(_bessel_jn_one, v=v, n_iter=n_iter)
  for _ in range(z.ndim):
    fun = vmap(fun)
  return jnp.moveaxis(fun(z), -1, 0)


def bessel_jn(z, *, v: int, n_iter: int = 50):
  """J_0(z) .. J_v(z), stacked along a new leading axis."""
  z, = promote_dtypes_inexact(jnp.asarray(z))
  if np.issubdtype(lax.dtype(z), np.complexfloating):
    # JAX's own check misses complex64 and its recurrence fails in rem: TypeError
    raise TypeError("bessel_jn: complex input not supported.")
  v = core.concrete_or_error(operator.index, v, "Argument v of bessel_jn.")
  n_iter = core.concrete_or_error(int, n_iter, "Argument n_iter of bessel_jn.")
  return _bessel_jn(z, v=v, n_iter=n_iter)


# --- spherical harmonics ----------------------------------------------------------------------

def _recurrence_masks(l_max: int, dtype):
  """The coefficients of the normalized Legendre recurrence in l, laid out
  on the diagonal planes i + j == k (one plane per step)."""
  m_mat, l_mat = jnp.meshgrid(jnp.arange(l_max + 1, dtype=dtype),
                              jnp.arange(l_max + 1, dtype=dtype), indexing="ij")
  c0, c1 = l_mat * l_mat, m_mat * m_mat
  c2, c3 = 2.0 * l_mat, (l_mat - 1.0) * (l_mat - 1.0)
  d0 = jnp.sqrt((4.0 * c0 - 1.0) / (c0 - c1))
  d1 = jnp.sqrt(((c2 + 1.0) * (c3 - c1)) / ((c2 - 3.0) * (c0 - c1)))
  i0, i1 = jnp.triu_indices(l_max + 1, 1), jnp.triu_indices(l_max + 1, 2)
  zeros = jnp.zeros((l_max + 1, l_max + 1), dtype=dtype)
  d0_mask = zeros.at[i0].set(d0[i0])
  d1_mask = zeros.at[i1].set(d1[i1])
  i, j, k = jnp.ogrid[:l_max + 1, :l_max + 1, :l_max + 1]
  plane = (i + j - k == 0).astype(dtype)
  return (jnp.einsum("jk,ijk->ijk", d0_mask, plane), jnp.einsum("jk,ijk->ijk", d1_mask, plane))


def _normalized_legendre(l_max: int, x):
  """P[m, l, i]: the normalized associated Legendre functions at x[i]."""
  p = jnp.zeros((l_max + 1, l_max + 1, x.shape[0]), dtype=x.dtype)
  a_idx = jnp.arange(1, l_max + 1, dtype=x.dtype)
  b_idx = jnp.arange(l_max, dtype=x.dtype)
  initial = 0.5 / jnp.sqrt(np.pi)
  f_a = jnp.cumprod(-1 * jnp.sqrt(1.0 + 0.5 / a_idx))
  f_b = jnp.sqrt(2.0 * b_idx + 3.0)
  p = p.at[(0, 0)].set(initial)
  y = jnp.cumprod(jnp.broadcast_to(jnp.sqrt(1.0 - x * x), (l_max, x.shape[0])), axis=0)
  diag = jnp.diag_indices(l_max + 1)
  p = p.at[(diag[0][1:], diag[1][1:])].set(initial * jnp.einsum("i,ij->ij", f_a, y))
  offdiag = jnp.einsum("ij,ij->ij", jnp.einsum("i,j->ij", f_b, x), p[jnp.diag_indices(l_max)])
  p = p.at[(diag[0][:l_max], diag[1][:l_max] + 1)].set(offdiag)
  d0_3d, d1_3d = _recurrence_masks(l_max, x.dtype)

  def body(i, pv):
    h = (jnp.einsum("ij,ijk->ijk", d0_3d[i], jnp.einsum("ijk,k->ijk", jnp.roll(pv, 1, axis=1), x))
         - jnp.einsum("ij,ijk->ijk", d1_3d[i], jnp.roll(pv, 2, axis=1)))
    return pv + h

  p = p.astype(dtypes.result_type(p, x, d0_3d))
  if l_max > 1:
    p = fori_loop(2, l_max + 1, body, p)
  return p


@functools.partial(jit, static_argnums=(4,))
def _sph_harm(n, m, theta, phi, n_max: int):
  legendre = _normalized_legendre(n_max, jnp.cos(theta))
  val = legendre.at[abs(m), n, jnp.arange(len(n))].get(mode="clip")
  angle = abs(m) * phi
  harmonics = lax.complex(val * jnp.cos(angle), val * jnp.sin(angle))
  return jnp.where(m < 0, (-1.0) ** abs(m) * jnp.conjugate(harmonics), harmonics)


def sph_harm_y(n, m, theta, phi, diff_n: int | None = None, n_max: int | None = None):
  """The spherical harmonic Y_n^m(theta, phi) (theta the polar angle);
  ``n_max`` must be static under transformations."""
  if diff_n is not None:
    raise NotImplementedError(
        "The 'diff_n' argument to jax.scipy.special.sph_harm_y is not supported.")
  if jnp.isscalar(theta):
    theta = jnp.array([theta])
  if n_max is None:
    n_max = np.max(n)
  n_max = core.concrete_or_error(
      int, n_max, "The `n_max` argument of `jnp.scipy.special.sph_harm` must be statically "
      "specified to use `sph_harm` within JAX transformations.")
  return _sph_harm(n, m, theta, phi, n_max)


# --- Fresnel integrals ------------------------------------------------------------------------

@jit
def _sincos_pi_half_square(x):
  """(sin, cos)(pi x**2 / 2), reducing x**2 / 2 modulo 2 exactly first."""
  x = jnp.abs(x)
  s = jnp.fmod(x, 2.0)
  r = jnp.fmod(s * (x - s / 2), 2.0)
  sinpi = jnp.where(r < 0.5, jnp.sin(np.pi * r),
                    jnp.where(r > 1.5, jnp.sin(np.pi * (r - 2.0)), -jnp.sin(np.pi * (r - 1.0))))
  cospi = jnp.where(r == 0.5, 0.0, jnp.where(r < 1.0, -jnp.sin(np.pi * (r - 0.5)),
                                             jnp.sin(np.pi * (r - 1.5))))
  return sinpi, cospi


def _fresnel_impl(x):
  xxa, = promote_args_inexact("fresnel", x)
  original = xxa.dtype
  if np.issubdtype(xxa.dtype, np.complexfloating):
    raise NotImplementedError("Support for complex-valued inputs is not implemented yet.")
  single = xxa.dtype != np.float64
  if single:
    xxa = xxa.astype(np.float32)
  x = jnp.abs(xxa)
  x2 = x * x
  t = x2 * x2
  poly = lambda name, v: _poly(getattr(tab, ("FRESNEL32_" if single else "FRESNEL64_") + name),
                               v)
  if single:
    s_small, c_small = x * x2 * poly("SN", t), x * poly("CN", t)
  else:
    s_small = x * x2 * poly("SN", t) / poly("SD", t)
    c_small = x * poly("CN", t) / poly("CD", t)
  sinpi, cospi = _sincos_pi_half_square(x)
  if single:
    c_large = s_large = 0.5
  else:
    c_large = 0.5 + 1 / (np.pi * x) * sinpi
    s_large = 0.5 - 1 / (np.pi * x) * cospi
  t = np.pi * x2
  u = 1.0 / (t * t)
  t = 1.0 / t
  if single:
    f, g = 1.0 - u * poly("FN", u), t * poly("GN", u)
  else:
    f = 1.0 - u * poly("FN", u) / poly("FD", u)
    g = t * poly("GN", u) / poly("GD", u)
  t = np.pi * x
  c_other = 0.5 + (f * sinpi - g * cospi) / t
  s_other = 0.5 - (f * cospi + g * sinpi) / t
  isinf, small, large = jnp.isinf(xxa), x2 < 2.5625, x > 36974.0
  s = jnp.where(isinf, 0.5, jnp.where(small, s_small, jnp.where(large, s_large, s_other)))
  c = jnp.where(isinf, 0.5, jnp.where(small, c_small, jnp.where(large, c_large, c_other)))
  neg = xxa < 0.0
  s, c = jnp.where(neg, -s, s), jnp.where(neg, -c, c)
  return s.astype(original), c.astype(original)


_fresnel = custom_jvp(_fresnel_impl)


@_fresnel.defjvp
def _fresnel_jvp(primals, tangents):
  (x,), (x_dot,) = primals, tangents
  sinpi, cospi = _sincos_pi_half_square(x)
  return _fresnel(x), (sinpi * x_dot, cospi * x_dot)


def fresnel(x):
  """The Fresnel integrals (S(x), C(x))."""
  return _fresnel(x)
