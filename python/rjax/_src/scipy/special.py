"""``jax.scipy.special``'s functions that JAX's example programs use, with
JAX's formulas (so programs see JAX's numbers): logsumexp, expit/logit, the
error functions, gammaln/digamma/betaln, xlogy/xlog1py/entr (JAX's custom
JVPs), the exponentially scaled Bessel functions, ndtr/ndtri/log_ndtr and
softmax/log_softmax."""
from __future__ import annotations

import operator

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.numpy.util import canonicalize_axis, promote_args_inexact

__all__ = ["betaln", "digamma", "entr", "erf", "erfc", "erfinv", "expit", "gammaln", "i0",
           "i0e", "i1", "i1e", "log_ndtr", "log_softmax", "logit", "logsumexp", "ndtr",
           "ndtri", "softmax", "xlog1py", "xlogy"]


def _const(x, value):
  """``value`` as a scalar of ``x``'s dtype (lax is strict about dtypes)."""
  return np.array(value, lax.dtype(x))


def _is_complex(dt) -> bool:
  return np.issubdtype(dt, np.complexfloating)


# --- gamma family, error functions, Bessel functions -------------------------------------------

def gammaln(x):
  """log|Gamma(x)|."""
  x, = promote_args_inexact("gammaln", x)
  return lax.lgamma(x)


def digamma(x):
  """The logarithmic derivative of Gamma."""
  x, = promote_args_inexact("digamma", x)
  return lax.digamma(x)


def _algdiv(a, b):
  # JAX's third_party/scipy/betaln.py (scipy's cdflib algdiv), assuming a <= b.
  c0 = 0.833333333333333e-01
  c1 = -0.277777777760991e-02
  c2 = 0.793650666825390e-03
  c3 = -0.595202931351870e-03
  c4 = 0.837308034031215e-03
  c5 = -0.165322962780713e-02
  h = a / b
  c = h / (1 + h)
  x = h / (1 + h)
  d = b + (a - 0.5)
  x2 = x * x
  s3 = 1.0 + (x + x2)
  s5 = 1.0 + (x + x2 * s3)
  s7 = 1.0 + (x + x2 * s5)
  s9 = 1.0 + (x + x2 * s7)
  s11 = 1.0 + (x + x2 * s9)
  t = (1.0 / b) ** 2
  w = ((((c5 * s11 * t + c4 * s9) * t + c3 * s7) * t + c2 * s5) * t + c1 * s3) * t + c0
  w = w * (c / b)
  u = d * lax.log1p(a / b)
  v = a * (lax.log(b) - 1.0)
  return jnp.where(u <= v, (w - v) - u, (w - u) - v)


def betaln(a, b):
  """log|B(a, b)|, with scipy's large-argument branch (JAX's formula)."""
  a, b = promote_args_inexact("betaln", a, b)
  a, b = jnp.minimum(a, b), jnp.maximum(a, b)
  small_b = lax.lgamma(a) + (lax.lgamma(b) - lax.lgamma(a + b))
  large_b = lax.lgamma(a) + _algdiv(a, b)
  return jnp.where(b < 8, small_b, large_b)


def erf(x):
  """The error function."""
  x, = promote_args_inexact("erf", x)
  return lax.erf(x)


def erfc(x):
  """1 - erf(x)."""
  x, = promote_args_inexact("erfc", x)
  return lax.erfc(x)


def erfinv(x):
  """The inverse of erf."""
  x, = promote_args_inexact("erfinv", x)
  return lax.erf_inv(x)


def i0e(x):
  """exp(-|x|) I0(x)."""
  x, = promote_args_inexact("i0e", x)
  return lax.bessel_i0e(x)


def i0(x):
  """The modified Bessel function of order 0 (``jnp.i0``, as in JAX)."""
  return jnp.i0(x)


def i1e(x):
  """exp(-|x|) I1(x)."""
  x, = promote_args_inexact("i1e", x)
  return lax.bessel_i1e(x)


def i1(x):
  """The modified Bessel function of order 1."""
  x, = promote_args_inexact("i1", x)
  return lax.mul(lax.exp(lax.abs(x)), lax.bessel_i1e(x))


# --- logistic ---------------------------------------------------------------------------------

def _logit(x):
  x, = promote_args_inexact("logit", x)
  return lax.log(lax.div(x, lax.sub(_const(x, 1), x)))


_logit_cj = custom_jvp(_logit)
_logit_cj.defjvps(lambda g, ans, x: lax.div(g, lax.mul(x, lax.sub(_const(x, 1), x))))


def logit(x):
  """log(x / (1 - x)); its derivative is 1 / (x (1 - x)) (JAX's rule)."""
  return _logit_cj(x)


def expit(x):
  """The logistic sigmoid 1 / (1 + exp(-x))."""
  x, = promote_args_inexact("expit", x)
  return lax.logistic(x)


# --- x log y ----------------------------------------------------------------------------------

def _xlogy(x, y):
  # xlogy(0, y) is 0 (also for y = 0), but a NaN y propagates (scipy's rule).
  x, y = promote_args_inexact("xlogy", x, y)
  x_ok = x != 0.
  return jnp.where(x_ok | jnp.isnan(y), lax.mul(x, lax.log(y)), jnp.zeros_like(x))


_xlogy_cj = custom_jvp(_xlogy)


@_xlogy_cj.defjvp
def _xlogy_jvp(primals, tangents):
  (x, y), (x_dot, y_dot) = primals, tangents
  result = _xlogy_cj(x, y)
  return result, (x_dot * lax.log(y) + y_dot * x / y).astype(result.dtype)


def xlogy(x, y):
  """x * log(y), 0 where x == 0 (unless y is NaN)."""
  return _xlogy_cj(x, y)


def _xlog1py(x, y):
  x, y = promote_args_inexact("xlog1py", x, y)
  x_ok = x != 0.
  return jnp.where(x_ok | jnp.isnan(y), lax.mul(x, lax.log1p(y)), jnp.zeros_like(x))


_xlog1py_cj = custom_jvp(_xlog1py)


@_xlog1py_cj.defjvp
def _xlog1py_jvp(primals, tangents):
  (x, y), (x_dot, y_dot) = primals, tangents
  result = _xlog1py_cj(x, y)
  return result, (x_dot * lax.log1p(y) + y_dot * x / (1 + y)).astype(result.dtype)


def xlog1py(x, y):
  """x * log1p(y), 0 where x == 0 (unless y is NaN)."""
  return _xlog1py_cj(x, y)


def _xlogx_impl(x):
  return _xlogy_cj(x, x)


_xlogx = custom_jvp(_xlogx_impl)


@_xlogx.defjvp
def _xlogx_jvp(primals, tangents):
  (x,), (x_dot,) = primals, tangents
  return _xlogx(x), x_dot * (lax.log(x) + 1)


def entr(x):
  """-x log x for x >= 0 (0 at 0), -inf for x < 0."""
  x, = promote_args_inexact("entr", x)
  if _is_complex(x.dtype):
    raise ValueError("entr does not support complex-valued inputs.")
  return lax.select(lax.lt(x, _const(x, 0)), lax.full_like(x, -np.inf), lax.neg(_xlogx(x)))


# --- logsumexp, softmax -----------------------------------------------------------------------

def _reduction_dims(a, axis):
  ndim = np.ndim(a)
  if axis is None:
    return tuple(range(ndim))
  axes = tuple(axis) if isinstance(axis, (np.ndarray, tuple, list)) else (axis,)
  dims = tuple(canonicalize_axis(operator.index(ax), ndim) for ax in axes)
  if len(dims) != len(set(dims)):
    raise ValueError(f"duplicate value in 'axis': {axis}")
  return dims


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False,
              where=None):
  """log(sum(b * exp(a))) along ``axis``, computed stably (JAX's algorithm:
  the maximum is subtracted under stop_gradient, infinite maxima are replaced
  by 0, and with ``b`` a negative sum gives NaN unless ``return_sign``)."""
  if where is not None:
    a = jnp.where(where, a, 0)
  if b is not None:
    a_arr, b_arr = promote_args_inexact("logsumexp", a, b)
    a_arr = jnp.where(b_arr != 0, a_arr, -np.inf)
  else:
    a_arr, = promote_args_inexact("logsumexp", a)
    b_arr = a_arr
  dims = _reduction_dims(a_arr, axis)
  amax = jnp.max(jnp.real(a_arr), axis=dims, keepdims=keepdims, where=where, initial=-np.inf)
  amax = lax.stop_gradient(lax.select(jnp.isfinite(amax), amax, lax.full_like(amax, 0)))
  amax_with_dims = amax if keepdims else lax.expand_dims(amax, dims)
  exp_a = lax.exp(lax.sub(a_arr, amax_with_dims.astype(a_arr.dtype)))
  if b is not None:
    exp_a = lax.mul(exp_a, b_arr)
  sumexp = exp_a.sum(axis=dims, keepdims=keepdims, where=where)
  sign = lax.sign(sumexp)
  if return_sign or not _is_complex(a_arr.dtype):
    sumexp = abs(sumexp)
  out = lax.add(lax.log(sumexp), amax.astype(sumexp.dtype))
  if return_sign:
    return out, sign
  if b is not None and not _is_complex(out.dtype):
    out = jnp.where(sign < 0, jnp.array(np.nan, dtype=out.dtype), out)
  return out


def _softmax_impl(x, axis):
  x_max = jnp.max(x, axis, initial=-np.inf, keepdims=True)
  unnormalized = jnp.exp(x - x_max)
  return unnormalized / jnp.sum(unnormalized, axis, keepdims=True)


_softmax = custom_jvp(_softmax_impl, nondiff_argnums=(1,))


@_softmax.defjvp
def _softmax_jvp(axis, primals, tangents):
  (x,), (x_dot,) = primals, tangents
  y = _softmax(x, axis)
  return y, y * (x_dot - (y * x_dot).sum(axis, keepdims=True))


def _axis_arg(axis):
  if axis is None:
    return None
  if isinstance(axis, (tuple, list)):
    return tuple(operator.index(a) for a in axis)
  return operator.index(axis)


def softmax(x, /, *, axis=None):
  """exp(x) / sum(exp(x)) along ``axis`` (JAX's custom JVP y (x' - sum(y x')))."""
  x = jnp.asarray(x)
  return _softmax(x, _axis_arg(axis))


def log_softmax(x, /, *, axis=None):
  """x - logsumexp(x) along ``axis``."""
  x = jnp.asarray(x)
  axis = _axis_arg(axis)
  x_max = jnp.max(x, axis, initial=-np.inf, keepdims=True)
  shifted = x - lax.stop_gradient(x_max)
  return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis, keepdims=True))


# --- the normal distribution's functions ------------------------------------------------------

def _check_float32_or_64(x, msg: str):
  dt = lax.dtype(x)
  if dt not in (np.float32, np.float64):
    raise TypeError(msg.format(dt))


def ndtr(x):
  """The standard normal CDF (JAX's erf/erfc split; float32 and float64 only)."""
  x = jnp.asarray(x)
  _check_float32_or_64(x, "x.dtype={} is not supported, see docstring for supported types.")
  return _ndtr(x)


def _ndtr(x):
  dtype = lax.dtype(x).type
  half_sqrt_2 = dtype(0.5) * np.sqrt(2., dtype=dtype)
  w = x * half_sqrt_2
  z = lax.abs(w)
  y = lax.select(lax.lt(z, half_sqrt_2),
                 dtype(1.) + lax.erf(w),
                 lax.select(lax.gt(w, dtype(0.)), dtype(2.) - lax.erfc(z), lax.erfc(z)))
  return dtype(0.5) * y


# Cephes' rational approximations (JAX's constants).
_NDTRI_P0 = [-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
             1.39312609387279679503E1, -1.23916583867381258016E0]
_NDTRI_Q0 = [1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
             -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
             1.59056225126211695515E1, -1.18331621121330003142E0]
_NDTRI_P1 = [4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
             4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
             -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4]
_NDTRI_Q1 = [1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
             1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
             -3.80806407691578277194E-2, -9.33259480895457427372E-4]
_NDTRI_P2 = [3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
             1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
             3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9]
_NDTRI_Q2 = [1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
             2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
             2.89247864745380683936E-6, 6.79019408009981274425E-9]


def ndtri(p):
  """The inverse of ndtr (float32 and float64 only)."""
  _check_float32_or_64(p, "x.dtype={} is not supported, see docstring for supported types.")
  return _ndtri(p)


def _ndtri(p):
  dtype = lax.dtype(p).type
  shape = np.shape(p)
  p0, q0, p1, q1, p2, q2 = (np.array(c, dtype) for c in (_NDTRI_P0, _NDTRI_Q0, _NDTRI_P1,
                                                         _NDTRI_Q1, _NDTRI_P2, _NDTRI_Q2))
  maybe_complement_p = jnp.where(p > dtype(-np.expm1(-2.)), dtype(1.) - p, p)
  # 0 would give NaNs below; where p == 0 that branch's value is not used.
  sanitized_mcp = jnp.where(maybe_complement_p == dtype(0.), jnp.full(shape, dtype(0.5)),
                            maybe_complement_p)
  # p > exp(-2): x/sqrt(2pi) = w + w**3 P0(w**2)/Q0(w**2).
  w = sanitized_mcp - dtype(0.5)
  ww = lax.square(w)
  x_for_big_p = w + w * ww * (jnp.polyval(p0, ww) / jnp.polyval(q0, ww))
  x_for_big_p *= -dtype(np.sqrt(2. * np.pi))
  # p <= exp(-2): x = z - log(z)/z - (1/z) P(1/z) / Q(1/z), z = sqrt(-2 log p).
  z = lax.sqrt(dtype(-2.) * lax.log(sanitized_mcp))
  first_term = z - lax.log(z) / z
  second_term_small_p = jnp.polyval(p2, 1 / z) / jnp.polyval(q2, 1 / z) / z
  second_term_otherwise = jnp.polyval(p1, 1 / z) / jnp.polyval(q1, 1 / z) / z
  x_for_small_p = first_term - second_term_small_p
  x_otherwise = first_term - second_term_otherwise
  x = jnp.where(sanitized_mcp > dtype(np.exp(-2.)), x_for_big_p,
                jnp.where(z >= dtype(8.0), x_for_small_p, x_otherwise))
  x = jnp.where(p > dtype(1. - np.exp(-2.)), x, -x)
  infinity = jnp.full(shape, dtype(np.inf))
  return jnp.where(p == dtype(0.0), -infinity, jnp.where(p == dtype(1.0), infinity, x))


_LOGNDTR_LOWER = {np.dtype(np.float64): np.array(-20, np.float64),
                  np.dtype(np.float32): np.array(-10, np.float32)}
_LOGNDTR_UPPER = {np.dtype(np.float64): np.array(8, np.float64),
                  np.dtype(np.float32): np.array(5, np.float32)}


def _log_ndtr_impl(x, series_order=3):
  if not isinstance(series_order, int):
    raise TypeError("series_order must be a Python integer.")
  if series_order < 0:
    raise ValueError("series_order must be non-negative.")
  if series_order > 30:
    raise ValueError("series_order must be <= 30.")
  x_arr = jnp.asarray(x)
  dtype = np.dtype(lax.dtype(x_arr))
  if dtype not in _LOGNDTR_LOWER:
    raise TypeError(f"x.dtype={dtype} is not supported.")
  lower_segment, upper_segment = _LOGNDTR_LOWER[dtype], _LOGNDTR_UPPER[dtype]
  # For x >> 1, log(ndtr(x)) = log1p(-ndtr(-x)) ~ -ndtr(-x); below the lower
  # segment an asymptotic series. The max/min keep the unchosen branches (and
  # their gradients) finite.
  x_arr_gt_upper_segment = lax.gt(x_arr, upper_segment)
  ndtr_arg = jnp.where(x_arr_gt_upper_segment, -x_arr, lax.max(x_arr, lower_segment))
  ndtr_res = _ndtr(ndtr_arg)
  return jnp.where(
      x_arr_gt_upper_segment,
      -ndtr_res,
      jnp.where(lax.gt(x_arr, lower_segment), lax.log(ndtr_res),
                _log_ndtr_lower(lax.min(x_arr, lower_segment), series_order)))


_log_ndtr = custom_jvp(_log_ndtr_impl, nondiff_argnums=(1,))

_NORM_LOGPDF_CONSTANT = np.log(np.sqrt(2 * np.pi))


def _norm_logpdf(x):
  return lax.sub(lax.mul(_const(x, -0.5), lax.square(x)), _const(x, _NORM_LOGPDF_CONSTANT))


@_log_ndtr.defjvp
def _log_ndtr_jvp(series_order, primals, tangents):
  (x,), (t,) = primals, tangents
  ans = _log_ndtr(x, series_order)
  return ans, lax.mul(t, lax.exp(lax.sub(_norm_logpdf(x), ans)))


def _log_ndtr_lower(x, series_order):
  dtype = lax.dtype(x).type
  x_2 = lax.square(x)
  log_scale = -dtype(0.5) * x_2 - lax.log(-x) - dtype(0.5 * np.log(2. * np.pi))
  return log_scale + lax.log(_log_ndtr_asymptotic_series(x, series_order))


def _log_ndtr_asymptotic_series(x, series_order):
  dtype = lax.dtype(x).type
  if series_order <= 0:
    return np.array(1, dtype)
  x_2 = lax.square(x)
  even_sum = jnp.zeros_like(x)
  odd_sum = jnp.zeros_like(x)
  x_2n = x_2
  for n in range(1, series_order + 1):
    y = np.array(np.prod(np.arange(2 * n - 1, 1, -2)), dtype) / x_2n
    if n % 2:
      odd_sum += y
    else:
      even_sum += y
    x_2n *= x_2
  return dtype(1.) + even_sum - odd_sum


def log_ndtr(x, series_order: int = 3):
  """log(ndtr(x)), accurate far into both tails (float32 and float64 only)."""
  return _log_ndtr(x, series_order)

