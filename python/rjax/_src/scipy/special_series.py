"""The special functions that JAX computes as lax primitives with loops or
series: the regularized incomplete gamma functions (``igamma``, ``igammac``
and ``igamma_grad_a``: XLA's power series and continued fraction, the
iteration stopping where the last term drops below eps), the regularized
incomplete beta function (Lentz-Thompson-Barnett's continued fraction, 200
iterations in float32 and 600 in float64), the Hurwitz zeta function
(Euler-Maclaurin with 9 initial terms and a 12-term tail) and polygamma.

rjax builds them from existing primitives (``while_loop`` over elementwise
ops), with JAX's derivative rules as custom JVPs: d/dx of igamma and
betainc in closed form, d/da of igamma through ``igamma_grad_a``; betainc's
derivative in ``a``/``b`` and polygamma's in ``n`` raise, as in JAX.
float16/bfloat16 inputs are computed in float32 and rounded once.
"""
from __future__ import annotations

import numpy as np

from rjax._src import core, lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.interpreters.custom_derivatives import SymbolicZero, custom_jvp
from rjax._src.lax.control_flow import while_loop

_VALUE, _DERIVATIVE = "value", "derivative"


def _c(x, v):
  return np.array(v, lax.dtype(x))


def _eps(dt) -> float:
  return float(dtypes.finfo(dt).eps)


def _up_and_broadcast(impl):
  """Broadcast the operands to one shape and compute f16/bf16 in float32
  (JAX lowers these primitives the same way)."""
  def wrapped(*args):
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    args = [jnp.broadcast_to(a, shape) for a in args]
    dt = np.dtype(lax.dtype(args[0]))
    if dt.itemsize < 4:
      out = impl(*(lax.convert_element_type(a, np.float32) for a in args), dtype=np.float32)
      out = lax.convert_element_type(out, dt)
    else:
      out = impl(*args, dtype=dt)
    # a primitive's result is weakly typed when all its operands are (JAX's
    # rule for lax.polygamma, lax.igamma, ...)
    if all(core.get_aval(a).weak_type for a in args) and not core.get_aval(out).weak_type:
      out = lax.convert_element_type(out, dt, weak_type=True)
    return out
  return wrapped


def _defjvps(fun, *rules):
  """``fun.defjvps(*rules)``, but a rule runs only for a nonzero tangent (as
  ``ad.defjvp`` does in JAX), so a rule that raises is reached only when that
  argument is differentiated."""
  def jvp(primals, tangents):
    out = fun(*primals)
    t_out = None
    for rule, t in zip(rules, tangents):
      if isinstance(t, SymbolicZero):
        continue
      contrib = rule(t, out, *primals)
      t_out = contrib if t_out is None else t_out + contrib
    return out, (SymbolicZero.from_primal_value(out) if t_out is None else t_out)
  fun.defjvp(jvp, symbolic_zeros=True)


def _isnan(x):
  return lax.ne(x, x)


def _or(*ps):
  out = ps[0]
  for p in ps[1:]:
    out = lax.bitwise_or(out, p)
  return out


# --- the incomplete gamma functions ------------------------------------------------------------

def _igamma_series(ax, x, a, enabled, dtype, mode):
  """sum_k x**k / ((a+1)...(a+k)) and its derivative in ``a``, for x < a or x < 1."""
  eps = _eps(dtype)

  def body(vals):
    on, r, c, ans, x_, dc_da, dans_da = vals
    r = r + _c(r, 1.)
    dc_da = dc_da * (x_ / r) - (c * x_) / (r * r)
    dans_da = dans_da + dc_da
    c = c * (x_ / r)
    ans = ans + c
    if mode == _VALUE:
      more = lax.bitwise_and(on, lax.gt(c / ans, _c(c, eps)))
    else:
      more = lax.bitwise_and(on, lax.gt(lax.abs(dc_da / dans_da), _c(c, eps)))
    new = (r, c, ans, x_, dc_da, dans_da)
    return (more,) + tuple(lax.select(on, n, o) for n, o in zip(new, vals[1:]))

  init = (enabled, a, lax.full_like(a, 1), lax.full_like(a, 1), x, lax.full_like(a, 0),
          lax.full_like(a, 0))
  vals = while_loop(lambda v: jnp.any(v[0]), body, init)
  ans, dans_da = vals[3], vals[6]
  if mode == _VALUE:
    return (ans * ax) / a
  dlogax_da = lax.log(x) - lax.digamma(a + _c(a, 1))
  return ax * (ans * dlogax_da + dans_da) / a


def _igammac_fraction(ax, x, a, enabled, dtype, mode):
  """Legendre's continued fraction for the upper function (and its derivative
  in ``a``), with the rescaling that keeps the convergents finite; at most
  2000 steps."""
  eps = _eps(dtype)

  def body(vals):
    (on, ans, t, y, z, c, pkm1, qkm1, pkm2, qkm2, dpkm2, dqkm2, dpkm1, dqkm1, dans) = vals
    c = c + _c(c, 1)
    y = y + _c(y, 1)
    z = z + _c(z, 2)
    yc = y * c
    pk = pkm1 * z - pkm2 * yc
    qk = qkm1 * z - qkm2 * yc
    nonzero = lax.ne(qk, _c(qk, 0))
    r = pk / qk
    t = lax.select(nonzero, lax.abs((ans - r) / r), lax.full_like(r, 1))
    ans = lax.select(nonzero, r, ans)
    dpk = dpkm1 * z - pkm1 - dpkm2 * yc + pkm2 * c
    dqk = dqkm1 * z - qkm1 - dqkm2 * yc + qkm2 * c
    dans_new = lax.select(nonzero, (dpk - ans * dqk) / qk, dans)
    grad_change = lax.select(nonzero, lax.abs(dans_new - dans), lax.full_like(dans, 1))
    pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
    dpkm2, dqkm2, dpkm1, dqkm1 = dpkm1, dqkm1, dpk, dqk
    rescale = lax.gt(lax.abs(pk), _c(pk, 1. / eps))
    scaled = [lax.select(rescale, v * _c(v, eps), v)
              for v in (pkm2, pkm1, qkm2, qkm1, dpkm2, dqkm2, dpkm1, dqkm1)]
    pkm2, pkm1, qkm2, qkm1, dpkm2, dqkm2, dpkm1, dqkm1 = scaled
    if mode == _VALUE:
      more = lax.bitwise_and(on, lax.gt(t, _c(t, eps)))
    else:
      more = lax.bitwise_and(on, lax.gt(grad_change, _c(grad_change, eps)))
    sel = lambda n, o: lax.select(on, n, o)
    return (more, sel(ans, vals[1]), sel(t, vals[2]), sel(y, vals[3]), sel(z, vals[4]), c,
            sel(pkm1, vals[6]), sel(qkm1, vals[7]), sel(pkm2, vals[8]), sel(qkm2, vals[9]),
            sel(dpkm2, vals[10]), sel(dqkm2, vals[11]), sel(dpkm1, vals[12]),
            sel(dqkm1, vals[13]), sel(dans_new, vals[14]))

  y = _c(a, 1) - a
  z = x + y + _c(x, 1)
  pkm1 = x + _c(x, 1)
  qkm1 = z * x
  ans = pkm1 / qkm1
  zeros = lax.full_like(x, 0)
  dqkm1 = -x
  dans = (zeros - ans * dqkm1) / qkm1
  init = (enabled, ans, lax.full_like(x, 1), y, z, _c(x, 0), pkm1, qkm1, lax.full_like(x, 1), x,
          zeros, zeros, zeros, dqkm1, dans)
  vals = while_loop(lambda v: lax.bitwise_and(lax.lt(v[5], _c(v[5], 2000)), jnp.any(v[0])),
                    body, init)
  if mode == _VALUE:
    return vals[1] * ax
  dlogax_da = lax.log(x) - lax.digamma(a)
  return ax * (vals[1] * dlogax_da + vals[14])


def _log_ax(a, x, dtype):
  ax = a * lax.log(x) - x - lax.lgamma(a)
  underflow = lax.lt(ax, _c(ax, -np.log(dtypes.finfo(dtype).max)))
  return lax.exp(ax), underflow


def _igamma_impl(a, x, *, dtype):
  is_nan = lax.bitwise_or(_isnan(a), _isnan(x))
  x_inf = lax.eq(x, _c(x, np.inf))
  a_zero, x_zero = lax.eq(a, _c(a, 0)), lax.eq(x, _c(x, 0))
  domain_error = _or(lax.lt(x, _c(x, 0)), lax.lt(a, _c(a, 0)), lax.bitwise_and(a_zero, x_zero),
                     is_nan)
  use_cf = lax.bitwise_and(lax.ge(x, _c(x, 1)), lax.gt(x, a))
  ax, underflow = _log_ax(a, x, dtype)
  enabled = lax.bitwise_not(_or(x_zero, domain_error, underflow, x_inf))
  out = lax.select(
      use_cf,
      _c(a, 1) - _igammac_fraction(ax, x, a, lax.bitwise_and(enabled, use_cf), dtype, _VALUE),
      _igamma_series(ax, x, a, lax.bitwise_and(enabled, lax.bitwise_not(use_cf)), dtype,
                     _VALUE))
  out = lax.select(x_zero, lax.full_like(a, 0), out)
  out = lax.select(x_inf, lax.full_like(a, 1), out)
  return lax.select(domain_error, lax.full_like(a, np.nan), out)


def _igammac_impl(a, x, *, dtype):
  is_nan = lax.bitwise_or(_isnan(a), _isnan(x))
  a_zero, x_zero = lax.eq(a, _c(a, 0)), lax.eq(x, _c(x, 0))
  x_inf = lax.eq(x, _c(x, np.inf))
  domain_error = _or(lax.lt(x, _c(x, 0)), lax.lt(a, _c(a, 0)), lax.bitwise_and(a_zero, x_zero),
                     is_nan)
  use_series = lax.bitwise_or(lax.lt(x, _c(x, 1)), lax.lt(x, a))
  ax, underflow = _log_ax(a, x, dtype)
  enabled = lax.bitwise_not(_or(domain_error, underflow, x_inf, a_zero))
  series = _igamma_series(ax, x, a, lax.bitwise_and(enabled, use_series), dtype, _VALUE)
  fraction = _igammac_fraction(ax, x, a, lax.bitwise_and(enabled, lax.bitwise_not(use_series)),
                               dtype, _VALUE)
  out = lax.select(use_series, _c(a, 1) - series, fraction)
  out = lax.select(lax.bitwise_or(x_inf, a_zero), lax.full_like(out, 0), out)
  return lax.select(domain_error, lax.full_like(a, np.nan), out)


def _igamma_grad_a_impl(a, x, *, dtype):
  is_nan = lax.bitwise_or(_isnan(a), _isnan(x))
  x_zero = lax.eq(x, _c(x, 0))
  domain_error = lax.bitwise_or(lax.lt(x, _c(x, 0)), lax.le(a, _c(a, 0)))
  use_cf = lax.bitwise_and(lax.gt(x, _c(x, 1)), lax.gt(x, a))
  ax, underflow = _log_ax(a, x, dtype)
  enabled = lax.bitwise_not(_or(x_zero, domain_error, underflow, is_nan))
  out = lax.select(
      use_cf,
      -_igammac_fraction(ax, x, a, lax.bitwise_and(enabled, use_cf), dtype, _DERIVATIVE),
      _igamma_series(ax, x, a, lax.bitwise_and(enabled, lax.bitwise_not(use_cf)), dtype,
                     _DERIVATIVE))
  out = lax.select(x_zero, lax.full_like(out, 0), out)
  return lax.select(lax.bitwise_or(domain_error, is_nan), lax.full_like(a, np.nan), out)


igamma_grad_a = _up_and_broadcast(_igamma_grad_a_impl)


def _igamma_dx(g, a, x):
  return g * lax.exp(-x + (a - _c(a, 1)) * lax.log(x) - lax.lgamma(a))


igamma = custom_jvp(_up_and_broadcast(_igamma_impl))
_defjvps(igamma, lambda g, ans, a, x: g * igamma_grad_a(a, x),
               lambda g, ans, a, x: _igamma_dx(g, a, x))

igammac = custom_jvp(_up_and_broadcast(_igammac_impl))
_defjvps(igammac, lambda g, ans, a, x: -(g * igamma_grad_a(a, x)),
                lambda g, ans, a, x: -_igamma_dx(g, a, x))


# --- the incomplete beta function -------------------------------------------------------------

def _lentz(num_iterations, small, threshold, numerator, denominator, inputs):
  """Lentz-Thompson-Barnett evaluation of a continued fraction, all elements
  iterating until every one has converged (or ``num_iterations``)."""
  h = denominator(np.int32(0), *inputs)
  h = lax.select(lax.lt(lax.abs(h), small), jnp.full_like(h, small), h)

  def cond(v):
    return lax.bitwise_and(lax.lt(v[0], np.int32(num_iterations)), v[1])

  def body(v):
    it, _, c, d, h = v
    pn = numerator(it, *inputs)
    pd = denominator(it, *inputs)
    c = pd + pn / c
    c = lax.select(lax.lt(lax.abs(c), small), jnp.full_like(c, small), c)
    d = pd + pn * d
    d = lax.select(lax.lt(lax.abs(d), small), jnp.full_like(d, small), d)
    d = _c(d, 1) / d
    delta = c * d
    h = h * delta
    unconverged = jnp.any(lax.ge(lax.abs(delta - _c(delta, 1)), threshold))
    return it + np.int32(1), unconverged, c, d, h

  init = (np.int32(1), np.bool_(True), h, lax.full_like(h, 0), h)
  return while_loop(cond, body, init)[4]


def _betainc_impl(a, b, x, *, dtype):
  shape = np.shape(a)

  def numerator(it, a, b, x):
    it = jnp.broadcast_to(it, shape)
    even = lax.eq(lax.rem(it, np.int32(2)), np.int32(0))
    first = lax.eq(it, np.int32(1))
    m_int = lax.div(it - np.int32(1), np.int32(2))
    m_zero = lax.eq(m_int, np.int32(0))
    m = lax.convert_element_type(m_int, dtype)
    one, two = _c(a, 1), _c(a, 2)
    zero_num = -(a + b) * x / (a + one)
    even_num = lax.select(m_zero, zero_num,
                          -(a + m) * (a + b + m) * x / ((a + two * m) * (a + two * m + one)))
    odd_num = m * (b - m) * x / ((a + two * m - one) * (a + two * m))
    return lax.select(first, lax.full_like(x, 1), lax.select(even, even_num, odd_num))

  def denominator(it, a, b, x):
    it = jnp.broadcast_to(it, shape)
    return lax.select(lax.eq(it, np.int32(0)), lax.full_like(x, 0), lax.full_like(x, 1))

  a_zero = lax.bitwise_or(lax.eq(a, _c(a, 0)), lax.eq(b, _c(b, np.inf)))
  b_zero = lax.bitwise_or(lax.eq(b, _c(b, 0)), lax.eq(a, _c(a, np.inf)))
  x_zero, x_one = lax.eq(x, _c(x, 0)), lax.eq(x, _c(x, 1))
  is_nan = _or(_isnan(a), _isnan(b), _isnan(x))
  result_zero = lax.bitwise_or(lax.bitwise_and(b_zero, lax.bitwise_not(x_one)),
                               lax.bitwise_and(a_zero, x_zero))
  result_one = lax.bitwise_or(lax.bitwise_and(a_zero, lax.bitwise_not(x_zero)),
                              lax.bitwise_and(b_zero, x_one))
  result_nan = _or(lax.lt(a, _c(a, 0)), lax.lt(b, _c(b, 0)), lax.lt(x, _c(x, 0)),
                   lax.gt(x, _c(x, 1)), lax.bitwise_and(a_zero, b_zero), is_nan)
  # the fraction converges fast for x < (a+1)/(a+b+2); otherwise use I_x(a,b) = 1 - I_{1-x}(b,a)
  fast = lax.lt(x, (a + _c(a, 1)) / (a + b + _c(b, 2)))
  a, b = lax.select(fast, a, b), lax.select(fast, b, a)
  x = lax.select(fast, x, _c(x, 1) - x)
  eps = np.array(dtypes.finfo(dtype).eps / 2, dtype)
  fraction = _lentz(200 if dtype == np.float32 else 600, eps, eps, numerator, denominator,
                    (a, b, x))
  very_small = _c(a, dtypes.finfo(dtype).tiny * 2)
  lbeta_small_a = lax.lgamma(b) - lax.lgamma(a + b)
  lbeta = lax.lgamma(a) + lbeta_small_a
  factor = lax.select(lax.lt(a, very_small),
                      lax.exp(lax.log1p(-x) * b - lbeta_small_a),
                      lax.exp(lax.log(x) * a + lax.log1p(-x) * b - lbeta) / a)
  out = fraction * factor
  out = lax.select(fast, out, _c(out, 1) - out)
  out = lax.select(result_zero, lax.full_like(a, 0), out)
  out = lax.select(result_one, lax.full_like(a, 1), out)
  return lax.select(result_nan, lax.full_like(a, np.nan), out)


def _betainc_grad_ab(g, ans, a, b, x):
  raise ValueError("Betainc gradient with respect to a and b not supported.")


def _betainc_dx(g, ans, a, b, x):
  lbeta = lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)
  return g * lax.exp((b - _c(b, 1)) * lax.log1p(-x) + (a - _c(a, 1)) * lax.log(x) - lbeta)


regularized_incomplete_beta = custom_jvp(_up_and_broadcast(_betainc_impl))
_defjvps(regularized_incomplete_beta, _betainc_grad_ab, _betainc_grad_ab, _betainc_dx)


# --- Hurwitz zeta and polygamma ---------------------------------------------------------------

# (2k)! / B_2k for k = 12, ..., 1 (B: the Bernoulli numbers)
_ZETA_COEFFS = (-7.1661652561756670113e18, 1.8152105401943546773e17, -4.5979787224074726105e15,
                1.1646782814350067249e14, -2.950130727918164224e12, 7.47242496e10,
                -1.8924375803183791606e9, 47900160.0, -1209600.0, 30240.0, -720.0, 12.0)


def _zeta_impl(x, q, *, dtype):
  a = q
  initial = lax.pow(q, -x)
  for _ in range(9):
    a = a + _c(a, 1.)
    initial = initial + lax.pow(a, -x)
  a = a + _c(a, 1.)
  neg_power = lax.pow(a, -x)
  s = initial + neg_power * a / (x - _c(a, 1.))
  a_inv_sq = _c(a, 1.) / (a * a)
  horner = lax.full_like(a, 0.)
  for i in range(11):
    factor = (x + _c(x, 22 - 2 * i)) * (x + _c(x, 21 - 2 * i))
    horner = factor * a_inv_sq * (horner + _c(a, 1. / _ZETA_COEFFS[i]))
  s = s + neg_power * (_c(neg_power, 0.5) + x / a * (_c(a, 1. / _ZETA_COEFFS[11]) + horner))
  out = lax.select(lax.lt(lax.abs(neg_power), lax.abs(initial) * _c(initial, _eps(dtype))),
                   initial, s)
  out = lax.select(lax.lt(x, _c(x, 1.)), lax.full_like(x, np.nan), out)
  x_domain_error = lax.bitwise_and(lax.le(q, _c(x, 0.)), lax.ne(x, lax.floor(x)))
  out = lax.select(x_domain_error, lax.full_like(x, np.nan), out)
  at_pole = lax.bitwise_and(lax.le(q, _c(x, 0.)), lax.eq(q, lax.floor(q)))
  x_even_int = lax.bitwise_and(lax.eq(lax.rem(x, _c(x, 2.)), _c(x, 0.)),
                               lax.eq(x, lax.floor(x)))
  out = lax.select(at_pole, lax.select(x_even_int, lax.full_like(x, np.inf),
                                       lax.full_like(x, np.nan)), out)
  # as JAX's (CHLO's) zeta: the harmonic series is inf even at a pole, and
  # x = inf gives NaN for q <= 1
  out = lax.select(lax.eq(x, _c(x, 1.)), lax.full_like(x, np.inf), out)
  return lax.select(lax.bitwise_and(lax.eq(x, _c(x, np.inf)), lax.le(q, _c(q, 1.))),
                    lax.full_like(x, np.nan), out)


hurwitz_zeta = _up_and_broadcast(_zeta_impl)


def _polygamma_impl(n, x, *, dtype):
  n1 = n + _c(n, 1.)
  sign = _c(n, 2.) * lax.rem(n, _c(n, 2.)) - _c(n, 1.)
  out = lax.select(lax.eq(n, _c(n, 0.)), lax.digamma(x),
                   sign * lax.exp(lax.lgamma(n1)) * hurwitz_zeta(n1, x))
  bad_n = lax.bitwise_or(lax.ne(n, lax.floor(n)), lax.lt(n, _c(n, 0.)))
  return lax.select(bad_n, lax.full_like(n, np.nan), out)


def _polygamma_dn(g, ans, n, x):
  raise ValueError("polygamma gradient with respect to m is not supported")


polygamma_p = custom_jvp(_up_and_broadcast(_polygamma_impl))
_defjvps(polygamma_p, _polygamma_dn, lambda g, ans, n, x: g * polygamma_p(n + _c(n, 1), x))
