"""``jax.scipy.special``'s gamma and beta family and its relatives, with
JAX's formulas: gamma/gammasgn/loggamma (complex arguments through the
Lanczos approximation), factorial, comb, poch, beta, betainc, the incomplete
gamma functions, multigammaln, zeta/polygamma, bernoulli, the relative
entropies (rel_entr, kl_div) and the Box-Cox transforms."""
from __future__ import annotations

import operator

import numpy as np

from rjax._src import core
from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.lax.control_flow import while_loop
from rjax._src.numpy.util import promote_args_inexact
from rjax._src.scipy import special_series as series
from rjax._src.scipy.special import _xlogx, betaln, digamma, gammaln, xlogy
from rjax._src.transforms.api import jvp

__all__ = ["bernoulli", "beta", "betainc", "boxcox", "boxcox1p", "comb", "factorial", "gamma",
           "gammainc", "gammaincc", "gammasgn", "kl_div", "loggamma", "multigammaln", "poch",
           "polygamma", "rel_entr", "zeta"]


def _c(x, v):
  return np.array(v, lax.dtype(x))


def _is_complex(x) -> bool:
  return np.issubdtype(lax.dtype(x), np.complexfloating)


def _no_complex(name, x):
  if _is_complex(x):
    raise ValueError(f"{name} does not support complex-valued inputs.")


def _broadcast(*args):
  shape = np.broadcast_shapes(*(np.shape(a) for a in args))
  return [jnp.broadcast_to(a, shape) for a in args]


# --- gamma ------------------------------------------------------------------------------------

def gammasgn(x):
  """The sign of Gamma(x): NaN at the poles and for NaN, -1 on the negative
  intervals of odd floor and at -0."""
  x, = promote_args_inexact("gammasgn", x)
  _no_complex("gammasgn", x)
  floor_x = lax.floor(x)
  negative = x < 0
  nan_case = (negative & (x == floor_x)) | jnp.isnan(x)
  neg_case = (negative & (floor_x % 2 != 0)) | ((x == 0) & jnp.signbit(x))
  one = jnp.ones_like(x)
  return jnp.where(nan_case, jnp.full_like(x, np.nan), jnp.where(neg_case, -one, one))


# Lanczos approximation, g = 7, N = 9 (GSL's lanczos_7_c)
_LANCZOS_G = 7.0
_LANCZOS = np.array([0.99999999999980993, 676.5203681218851, -1259.1392167224028,
                     771.32342877765313, -176.61502916214059, 12.507343278686905,
                     -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7])


def _complex_loggamma(z):
  """log Gamma(z) by Lanczos, reflected for Re z < 1/2 (principal branch of
  each log; the branch fix-up is ``_complex_loggamma_scipy``)."""
  reflect = jnp.real(z) < 0.5
  zz = jnp.where(reflect, 1.0 - z, z) - 1.0
  coeffs = jnp.asarray(_LANCZOS, dtype=z.dtype)
  ks = jnp.arange(1, 9, dtype=z.dtype)
  ag = coeffs[0] + jnp.sum(coeffs[1:] / (zz[..., None] + ks), axis=-1)
  t = zz + _LANCZOS_G + 0.5
  log_lanczos = jnp.asarray(0.5 * np.log(2 * np.pi), z.dtype) + (zz + 0.5) * jnp.log(t) - t \
      + jnp.log(ag)
  z_safe = jnp.where(reflect, z, jnp.full_like(z, 0.5))
  reflected = jnp.log(jnp.asarray(np.pi, z.dtype)) - jnp.log(jnp.sin(np.pi * z_safe)) \
      - log_lanczos
  return jnp.where(reflect, reflected, log_lanczos)


def _complex_poles(z):
  is_pole = (jnp.imag(z) == 0) & (jnp.real(z) == jnp.floor(jnp.real(z))) & (jnp.real(z) <= 0)
  return is_pole | jnp.isnan(z)


def _complex_gamma(z):
  bad = _complex_poles(z)
  z_safe = jnp.where(bad, jnp.ones_like(z), z)
  return jnp.where(bad, jnp.full_like(z, complex(np.nan, np.nan)),
                   jnp.exp(_complex_loggamma(z_safe)))


def _complex_loggamma_scipy(z):
  """SciPy's branch: shift z right by n with log Gamma(z) = log Gamma(z+n) -
  sum_k log(z+k), so the cut lies along the negative real axis."""
  bad = _complex_poles(z)
  z_safe = jnp.where(bad, jnp.ones_like(z), z)
  n = jnp.maximum(0, jnp.ceil(0.5 - jnp.real(z_safe)).astype(int))

  def body(state):
    k, acc = state
    on = k < n
    zk = jnp.where(on, z_safe + k, jnp.ones_like(z_safe))
    return k + 1, acc + jnp.where(on, jnp.log(zk), jnp.zeros_like(acc))

  _, acc = while_loop(lambda s: jnp.any(s[0] < n), body, (jnp.asarray(0), jnp.zeros_like(z_safe)))
  out = _complex_loggamma(z_safe + n) - acc
  return jnp.where(bad, jnp.full_like(z, complex(np.nan, np.nan)), out)


def gamma(x):
  """The gamma function (real: sign times exp(lgamma); complex: Lanczos)."""
  x, = promote_args_inexact("gamma", x)
  if _is_complex(x):
    return _complex_gamma(x)
  return gammasgn(x) * lax.exp(lax.lgamma(x))


def loggamma(x):
  """log Gamma(x): NaN for real x <= 0; SciPy's principal branch for complex x."""
  x, = promote_args_inexact("loggamma", x)
  if _is_complex(x):
    return _complex_loggamma_scipy(x)
  return jnp.where(x > 0, lax.lgamma(x), jnp.full_like(x, np.nan))


def factorial(n, exact: bool = False):
  """Gamma(n + 1), 0 for n < 0 (``exact=True`` is not supported, as in JAX)."""
  if exact:
    raise NotImplementedError("factorial with exact=True")
  n, = promote_args_inexact("factorial", n)
  return jnp.where(n < 0, jnp.zeros_like(n), lax.exp(lax.lgamma(n + 1)))


def comb(N, k, *, repetition: bool = False):
  """The binomial coefficient C(N, k) (0 outside 0 <= k <= N), or with
  ``repetition`` C(N + k - 1, k)."""
  N, k = promote_args_inexact("comb", N, k)
  if repetition:
    return jnp.where((k == 0) & (N >= 0), jnp.ones_like(N), comb(N + k - 1, k))
  ok = (k <= N) & (N >= 0) & (k >= 0)
  n_safe = jnp.where(ok, N, jnp.zeros_like(N))
  k_safe = jnp.where(ok, k, jnp.zeros_like(k))
  out = lax.exp(gammaln(n_safe + 1) - gammaln(k_safe + 1) - gammaln(n_safe + 1 - k_safe))
  return jnp.where(ok, out, jnp.zeros_like(out))


def _poch_impl(z, m):
  z, m = promote_args_inexact("poch", z, m)
  _no_complex("jnp.poch", z)
  return jnp.where(m == 0., jnp.ones_like(z), gamma(z + m) / gamma(z))


_poch = custom_jvp(_poch_impl)
_poch.defjvps(lambda z_dot, out, z, m: (digamma(z + m) - digamma(z)) * _poch(z, m) * z_dot,
              lambda m_dot, out, z, m: digamma(z + m) * _poch(z, m) * m_dot)


def poch(z, m):
  """The rising factorial Gamma(z + m) / Gamma(z) (1 where m == 0)."""
  return _poch(z, m)


# --- beta -------------------------------------------------------------------------------------

def beta(a, b):
  """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b), with its sign."""
  a, b = promote_args_inexact("beta", a, b)
  _no_complex("beta", a)
  sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
  return sign * lax.exp(betaln(a, b))


def betainc(a, b, x):
  """The regularized incomplete beta function I_x(a, b) (differentiable in x)."""
  a, b, x = promote_args_inexact("betainc", a, b, x)
  _no_complex("betainc", x)
  return series.regularized_incomplete_beta(*_broadcast(a, b, x))


# --- the incomplete gamma functions -----------------------------------------------------------

def gammainc(a, x):
  """The regularized lower incomplete gamma function P(a, x)."""
  a, x = promote_args_inexact("gammainc", a, x)
  return series.igamma(*_broadcast(a, x))


def gammaincc(a, x):
  """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
  a, x = promote_args_inexact("gammaincc", a, x)
  return series.igammac(*_broadcast(a, x))


def multigammaln(a, d):
  """The log of the multivariate gamma function of dimension ``d`` (static)."""
  d = core.concrete_or_error(int, d, "d argument of multigammaln")
  a, d_ = promote_args_inexact("multigammaln", a, d)
  constant = _c(a, 0.25) * d_ * (d_ - _c(a, 1)) * lax.log(_c(a, np.pi))
  b = jnp.arange(d, dtype=d_.dtype) / _c(a, 2)
  res = jnp.sum(gammaln(jnp.expand_dims(a, -1) - jnp.expand_dims(b, tuple(range(a.ndim)))),
                axis=-1)
  return res + constant


# --- zeta, polygamma, bernoulli ---------------------------------------------------------------

# (2k)! / B_2k, k = 1..16 (the Euler-Maclaurin tail of zeta's derivative)
_BERNOULLI_COEFS = np.array([
    12, -720, 30240, -1209600, 47900160, -1307674368000 / 691, 74724249600,
    -10670622842880000 / 3617, 5109094217170944000 / 43867, -802857662698291200000 / 174611,
    14101100039391805440000 / 77683, -1693824136731743669452800000 / 236364091,
    186134520519971831808000000 / 657931, -37893265687455865519472640000000 / 3392780147,
    759790291646040068357842010112000000 / 1723168255201,
    -134196726836183700385281186201600000000 / 7709321041217])


def _zeta_series(s, a):
  """zeta(s, a) by Johansson's Euler-Maclaurin expansion (his formula (5)):
  differentiable, so its JVP is zeta's (JAX's rule)."""
  dtype = lax.dtype(a).type
  s_, a_ = jnp.expand_dims(s, -1), jnp.expand_dims(a, -1)
  n = m = dtype(8) if lax.dtype(a) == np.float32 else dtype(16)
  k = np.arange(n, dtype=dtype)
  head = jnp.sum((a_ + k) ** -s_, -1)
  integral = (a + n) ** (dtype(1) - s) / (s - dtype(1))
  t0 = (a + n) ** -s
  ms = np.arange(2 * m, dtype=dtype)
  t1 = jnp.cumprod((s_ + ms) / (a_ + n), -1)[..., ::2]
  t1 = jnp.clip(t1, max=np.finfo(dtype).max)
  t1 = t1 / np.array(_BERNOULLI_COEFS[:t1.shape[-1]], dtype=dtype)
  return head + integral + t0 * (dtype(0.5) + t1.sum(-1))


def _zeta_impl(x, q):
  x, q = promote_args_inexact("zeta", x, q)
  return series.hurwitz_zeta(*_broadcast(x, q))


_zeta = custom_jvp(_zeta_impl)


@_zeta.defjvp
def _zeta_jvp(primals, tangents):
  x, q = promote_args_inexact("zeta", *primals)
  tx, tq = (jnp.asarray(t, dtype=x.dtype) for t in tangents)
  x, q, tx, tq = _broadcast(x, q, tx, tq)
  _, t_out = jvp(_zeta_series, (x, q), (tx, tq))
  return _zeta(*primals), t_out


def zeta(x, q=None):
  """The Hurwitz zeta function sum_k (k + q)**-x (``q`` is required, as in JAX)."""
  if q is None:
    raise NotImplementedError("Riemann zeta function not implemented; pass q != None to compute "
                              "the Hurwitz Zeta function.")
  return _zeta(x, q)


def polygamma(n, x):
  """The n-th derivative of digamma (``n`` of integer dtype)."""
  if not np.issubdtype(lax.dtype(n), np.integer):
    raise ValueError(f"Argument `n` to polygamma must be of integer type. Got dtype "
                     f"{lax.dtype(n)}.")
  n, x = promote_args_inexact("polygamma", n, x)
  _no_complex("polygamma", x)
  return series.polygamma_p(*_broadcast(n, x))


def bernoulli(n: int):
  """The Bernoulli numbers B_0 .. B_n (Chowla and Hartung's algorithm, as in JAX)."""
  n = core.concrete_or_error(operator.index, n, "Argument n of bernoulli")
  if n < 0:
    raise ValueError("n must be a non-negative integer.")
  b3 = jnp.array([1, -1 / 2, 1 / 6])
  if n < 3:
    return b3[:n + 1]
  bn = jnp.zeros(n + 1).at[:3].set(b3)
  m = jnp.arange(4, n + 1, 2, dtype=bn.dtype)
  q1 = (1. / np.pi ** 2) * jnp.cumprod(-(m - 1) * m / 4 / np.pi ** 2)
  k = jnp.arange(2, 50, dtype=bn.dtype)
  q2 = jnp.sum(k[:, None] ** -m[None, :], axis=0)
  return bn.at[4::2].set(q1 * (1 + q2))


# --- relative entropy, Box-Cox ----------------------------------------------------------------

def rel_entr(p, q):
  """p log(p / q) for p, q > 0; 0 for p == 0 <= q; inf otherwise."""
  p, q = promote_args_inexact("rel_entr", p, q)
  _no_complex("rel_entr", p)
  zero = _c(p, 0.0)
  both_pos = lax.bitwise_and(lax.gt(p, zero), lax.gt(q, zero))
  p_zero = lax.bitwise_and(lax.eq(p, zero), lax.ge(q, zero))
  p_safe = jnp.where(both_pos, p, jnp.ones_like(p))
  q_safe = jnp.where(both_pos, q, jnp.ones_like(q))
  val = lax.sub(_xlogx(p_safe), xlogy(p_safe, q_safe))
  return jnp.where(both_pos, val, jnp.where(p_zero, zero, _c(p, np.inf)))


def kl_div(p, q):
  """rel_entr(p, q) - p + q."""
  p, q = promote_args_inexact("kl_div", p, q)
  _no_complex("kl_div", p)
  return rel_entr(p, q) - p + q


def _boxcox(name, log_fn, x, lmbda):
  x, lmbda = promote_args_inexact(name, x, lmbda)
  zero = lmbda == 0
  safe = jnp.where(zero, jnp.ones_like(lmbda), lmbda)
  logx = log_fn(x)
  return jnp.where(zero, logx, jnp.expm1(safe * logx) / safe)


def boxcox(x, lmbda):
  """(x**lmbda - 1) / lmbda, log(x) at lmbda == 0."""
  return _boxcox("boxcox", jnp.log, x, lmbda)


def boxcox1p(x, lmbda):
  """((1 + x)**lmbda - 1) / lmbda, log1p(x) at lmbda == 0."""
  return _boxcox("boxcox1p", jnp.log1p, x, lmbda)
