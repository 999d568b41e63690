"""``rjax.random``'s samplers built on the others: pareto, lognormal,
weibull_min, rayleigh, maxwell, double_sided_maxwell, wald, geometric,
triangular, generalized_normal, ball, binomial and multinomial.

Each follows JAX 0.10.2's algorithm step for step (same key splits, same
constants, same operation order), so the same key gives JAX's numbers:
bit for bit where only uniform bits and exact ops are involved, else to a
few ulp (transcendentals; see ``random/core.py``'s docstring).
"""
from __future__ import annotations

import operator

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import dtypes, errors
from rjax._src.lax import lax
from rjax._src.lax.control_flow import scan, while_loop
from rjax._src.lax.utils import asarray_lax
from rjax._src.random.core import (_canonical_shape, _check_prng_key, _check_shape, _exponential,
                                   _float_dtype, _int_dtype, _jit, _normal, _shape_of, _split,
                                   _uniform, rademacher, split)
from rjax._src.random.loops import _broadcast_shapes_or_check, _check_all_safe_to_cast, gamma

__all__ = ["pareto", "lognormal", "weibull_min", "rayleigh", "maxwell", "double_sided_maxwell",
           "wald", "geometric", "triangular", "generalized_normal", "ball", "binomial",
           "multinomial"]


def _c(v, dtype):
  return asarray_lax(np.array(v, dtype))


def _as(x, dtype):
  return lax.convert_element_type(jnp.asarray(x), dtype)


# ---------------------------------------------------------------------------
# Transforms of one uniform / normal / exponential draw


def pareto(key, b, shape=None, dtype=None):
  """Pareto(b) floats on [1, inf): ``exp(E / b)``, E ~ Exponential(1)."""
  k, _ = _check_prng_key("pareto", key)
  dt = _float_dtype("pareto", dtype)
  shape = _broadcast_shapes_or_check("pareto", shape, b)
  _check_all_safe_to_cast("pareto", dt, b)
  return _pareto_jit(k, b, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _pareto_jit(k, b, shape, dtype):
  b = _as(b, dtype)
  return lax.exp(_exponential(k, shape, dtype) / b)


def lognormal(key, sigma=np.float32(1), shape=None, dtype=None):
  """exp(sigma * N(0, 1))."""
  k, _ = _check_prng_key("lognormal", key)
  dt = _float_dtype("lognormal", dtype)
  shape = _broadcast_shapes_or_check("lognormal", shape, sigma)
  _check_all_safe_to_cast("lognormal", dt, sigma)
  return _lognormal_jit(k, sigma, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _lognormal_jit(k, sigma, shape, dtype):
  sigma = _as(sigma, dtype)
  return lax.exp(_normal(k, shape, dtype) * sigma)


def weibull_min(key, scale, concentration, shape=(), dtype=None):
  """Weibull(scale, concentration) floats by the inverse CDF."""
  k, _ = _check_prng_key("weibull_min", key)
  dt = _float_dtype("weibull_min", dtype)
  shape = _canonical_shape("weibull_min", shape)
  return _weibull_min_jit(k, scale, concentration, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _weibull_min_jit(k, scale, concentration, shape, dtype):
  u = _uniform(k, 0, 1, shape, dtype)
  return jnp.power(-jnp.log1p(-u), 1.0 / concentration) * scale


def rayleigh(key, scale, shape=None, dtype=None):
  """Rayleigh(scale) floats: ``scale * sqrt(-2 log U)``."""
  k, _ = _check_prng_key("rayleigh", key)
  dt = _float_dtype("rayleigh", dtype)
  shape = _broadcast_shapes_or_check("rayleigh", shape, scale)
  _check_all_safe_to_cast("rayleigh", dt, scale)
  return _rayleigh_jit(k, scale, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _rayleigh_jit(k, scale, shape, dtype):
  u = _uniform(k, 0., 1., shape, dtype)
  scale = jnp.broadcast_to(_as(scale, dtype), shape)
  return lax.mul(scale, lax.sqrt(lax.mul(lax.log(u), _c(-2, dtype))))


def maxwell(key, shape=(), dtype=None):
  """One-sided Maxwell floats: the norm of three N(0, 1) draws."""
  k, _ = _check_prng_key("maxwell", key)
  dt = _float_dtype("maxwell", dtype)
  shape = _canonical_shape("maxwell", shape)
  return _maxwell_jit(k, shape=shape, dtype=dt)


def _maxwell(k, shape, dtype):
  x = _normal(k, tuple(shape) + (3,), dtype)
  return lax.sqrt(jnp.sum(x * x, axis=-1))


@_jit(["shape", "dtype"])
def _maxwell_jit(k, shape, dtype):
  return _maxwell(k, shape, dtype)


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
  """Double-sided Maxwell floats: a random sign times a Maxwell draw, scaled
  and shifted. The result's shape is ``shape + broadcast(loc, scale).shape``."""
  k, _ = _check_prng_key("double_sided_maxwell", key)
  dt = _float_dtype("double_sided_maxwell", dtype)
  shape = _canonical_shape("double_sided_maxwell", shape)
  return _double_sided_maxwell_jit(k, loc, scale, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _double_sided_maxwell_jit(k, loc, scale, shape, dtype):
  params_shape = np.broadcast_shapes(_shape_of(loc), _shape_of(scale))
  if not shape:
    shape = params_shape
  shape = tuple(shape) + tuple(params_shape)
  ks = _split(k)
  k_maxwell, k_sign = ks[0], ks[1]
  mag = _maxwell(k_maxwell, shape, dtype)
  sign = rademacher(k_sign, shape, dtype)
  return sign * mag * scale + loc


def wald(key, mean, shape=None, dtype=None):
  """Wald (inverse Gaussian) floats with the given ``mean`` (Michael,
  Schucany and Haas's transformation with rejection)."""
  k, _ = _check_prng_key("wald", key)
  dt = _float_dtype("wald", dtype)
  shape = _broadcast_shapes_or_check("wald", shape, mean)
  _check_all_safe_to_cast("wald", dt, mean)
  return _wald_jit(k, mean, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _wald_jit(k, mean, shape, dtype):
  ks = _split(k, 2)
  mean = jnp.broadcast_to(_as(mean, dtype), shape)
  v = _normal(ks[0], shape, dtype)
  z = _uniform(ks[1], 0., 1., shape, dtype)
  y = lax.integer_pow(v, 2)
  y_sq = lax.integer_pow(y, 2)
  mean_sq = lax.integer_pow(mean, 2)
  sqrt_term = lax.sqrt(4 * mean * y + mean_sq * y_sq)
  x = mean + mean_sq * y / 2 - mean / 2 * sqrt_term
  return lax.select(lax.le(z, mean / (mean + x)), x, mean_sq / x)


def geometric(key, p, shape=None, dtype=None):
  """Geometric(p) integers >= 1 (trials up to the first success)."""
  k, _ = _check_prng_key("geometric", key)
  try:
    dt = _int_dtype("geometric", dtype)
  except TypeError as e:
    raise ValueError(f"dtype argument to `geometric` must be an int dtype, got {dtype}") from e
  shape = _broadcast_shapes_or_check("geometric", shape, p)
  jnp.asarray(p)  # an array-like check, as JAX's check_arraylike
  return _geometric_jit(k, p, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _geometric_jit(k, p, shape, dtype):
  p = jnp.asarray(p)
  if not dtypes.is_float(p.dtype):
    p = p.astype(dtypes.to_inexact_dtype(p.dtype))
  u = _uniform(k, 0., 1., shape, p.dtype)
  u = jnp.where(u == 0, 1, u)
  log_one_minus_p = jnp.broadcast_to(lax.log1p(-p), shape)
  g = lax.floor(lax.div(lax.log(u), log_one_minus_p)) + 1
  return g.astype(dtype)


def triangular(key, left, mode, right, shape=None, dtype=None):
  """Triangular(left, mode, right) floats by the inverse CDF."""
  k, _ = _check_prng_key("triangular", key)
  dt = _float_dtype("triangular", dtype)
  shape = _broadcast_shapes_or_check("triangular", shape, left, mode, right)
  _check_all_safe_to_cast("triangular", dt, left, mode, right)
  return _triangular_jit(k, left, mode, right, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _triangular_jit(k, left, mode, right, shape, dtype):
  left = jnp.broadcast_to(_as(left, dtype), shape)
  right = jnp.broadcast_to(_as(right, dtype), shape)
  mode = jnp.broadcast_to(_as(mode, dtype), shape)
  fc = (mode - left) / (right - left)
  u = _uniform(k, 0., 1., shape, dtype)
  out1 = left + lax.sqrt(u * (right - left) * (mode - left))
  out2 = right - lax.sqrt((1 - u) * (right - left) * (right - mode))
  return lax.select(u < fc, out1, out2)


# ---------------------------------------------------------------------------
# Samplers built on gamma


def generalized_normal(key, p, shape=(), dtype=None):
  """Generalized normal floats with density proportional to ``exp(-|x|^p)``."""
  shape = _canonical_shape("generalized_normal", shape)
  k, _ = _check_prng_key("generalized_normal", key)
  dt = _float_dtype("generalized_normal", dtype)
  return _generalized_normal_jit(k, p, shape=shape, dtype=dt)


def _generalized_normal(k, p, shape, dtype):
  ks = split(k)
  g = gamma(ks[0], 1 / p, shape, dtype)
  r = rademacher(ks[1], shape, dtype)
  return r * g ** (1 / p)


@_jit(["shape", "dtype"])
def _generalized_normal_jit(k, p, shape, dtype):
  return _generalized_normal(k, p, shape, dtype)


def ball(key, d, p=2, shape=(), dtype=None):
  """Points uniform in the unit ``p``-norm ball of dimension ``d``: shape
  ``shape + (d,)``."""
  shape = _canonical_shape("ball", shape)
  k, _ = _check_prng_key("ball", key)
  dt = _float_dtype("ball", dtype)
  if isinstance(d, core.Tracer):
    raise errors.ConcretizationTypeError(
        "ball: the dimension d must be a concrete int, got a traced value. "
        "The error occurred in rjax.random.ball()")
  d = operator.index(d)
  return _ball_jit(k, p, d=d, shape=shape, dtype=dt)


@_jit(["d", "shape", "dtype"])
def _ball_jit(k, p, d, shape, dtype):
  ks = _split(k)
  k1, k2 = ks[0], ks[1]
  g = _generalized_normal(k1, p, (*shape, d), dtype)
  e = _exponential(k2, shape, dtype)
  return g / (((jnp.abs(g) ** p).sum(-1) + e) ** (1 / p))[..., None]


# ---------------------------------------------------------------------------
# binomial (inversion for small n*p, else Hormann's BTRS) and multinomial


def _stirling_approx_tail(k):
  tail = jnp.array([0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                    0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                    0.0118967099458917, 0.010411265261972, 0.00925546218271273,
                    0.00833056343336287], dtype=k.dtype)
  use_tail = k <= 9
  k = lax.clamp(_c(0.0, k.dtype), k, _c(9.0, k.dtype))
  kp1sq = (k + 1) * (k + 1)
  approx = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)
  k = jnp.floor(k)
  return lax.select(use_tail, tail[jnp.asarray(k, dtype="int32")], approx)


def _binomial_inversion(k, count, prob, shape, dtype, max_iters):
  log1minusprob = jnp.log1p(-prob)

  def body(carry):
    i, num_geom, geom_sum, key = carry
    ks = split(key)
    subkey, key = ks[0], ks[1]
    num_geom_out = lax.select(geom_sum <= count, num_geom + 1, num_geom)
    u = _uniform(subkey, 0., 1., shape, prob.dtype)
    geom = jnp.ceil(jnp.log(u) / log1minusprob)
    return i + 1, num_geom_out, geom_sum + geom, key

  def cond(carry):
    i, geom_sum = carry[0], carry[2]
    return (geom_sum <= count).any() & (i < max_iters)

  zeros = jnp.zeros(shape, prob.dtype)
  out = while_loop(cond, body, (jnp.asarray(0), zeros, zeros, k))[1]
  return (out - 1).astype(dtype)


def _btrs(k, count, prob, shape, dtype, max_iters):
  stddev = jnp.sqrt(count * prob * (1 - prob))
  b = 1.15 + 2.53 * stddev
  a = -0.0873 + 0.0248 * b + 0.01 * prob
  c = count * prob + 0.5
  v_r = 0.92 - 4.2 / b
  r = prob / (1 - prob)
  alpha = (2.83 + 5.1 / b) * stddev
  m = jnp.floor((count + 1) * prob)
  sat = _stirling_approx_tail

  def body(carry):
    i, k_out, accepted, key = carry
    ks = split(key, 3)
    key, k0, k1 = ks[0], ks[1], ks[2]
    u = _uniform(k0, 0., 1., shape, prob.dtype)
    v = _uniform(k1, 0., 1., shape, prob.dtype)
    u = u - 0.5
    us = 0.5 - jnp.abs(u)
    accept1 = (us >= 0.07) & (v <= v_r)
    kk = jnp.floor((2 * a / us + b) * u + c)
    reject = (kk < 0) | (kk > count)
    v = jnp.log(v * alpha / (a / (us * us) + b))
    ub = ((m + 0.5) * jnp.log((m + 1) / (r * (count - m + 1)))
          + (count + 1) * jnp.log((count - m + 1) / (count - kk + 1))
          + (kk + 0.5) * jnp.log(r * (count - kk + 1) / (kk + 1))
          + sat(m) + sat(count - m) - sat(kk) - sat(count - kk))
    accept2 = v <= ub
    accept = accept1 | (~reject & accept2)
    return i + 1, lax.select(accept, kk, k_out), accepted | accept, key

  def cond(carry):
    i, accepted = carry[0], carry[2]
    return (~accepted).any() & (i < max_iters)

  init = (jnp.asarray(0), jnp.full(shape, -1, prob.dtype), jnp.full(shape, False, bool), k)
  return while_loop(cond, body, init)[1].astype(dtype)


def binomial(key, n, p, shape=None, dtype=None):
  """Binomial(n, p) counts as floats (NaN for invalid n or p, inf for n = inf)."""
  k, _ = _check_prng_key("binomial", key)
  for name, v in (("n", n), ("p", p)):
    if isinstance(v, (list, tuple, str)) or v is None:
      raise TypeError(f"binomial requires ndarray or scalar arguments, got {type(v).__name__} "
                      f"at position for {name}.")
  dt = _float_dtype("binomial", dtype)
  if shape is not None:
    shape = _canonical_shape("binomial", shape)
  return _binomial_jit(k, n, p, shape=shape, dtype=dt)


def _binomial(k, count, prob, shape, dtype):
  if shape is None:
    shape = tuple(np.broadcast_shapes(_shape_of(count), _shape_of(prob)))
  else:
    _check_shape("binomial", shape, _shape_of(count), _shape_of(prob))
  prob = jnp.asarray(prob)
  if not dtypes.is_float(prob.dtype):
    prob = prob.astype(dtypes.to_inexact_dtype(prob.dtype))
  count = jnp.broadcast_to(lax.convert_element_type(jnp.asarray(count), prob.dtype), shape)
  prob = jnp.broadcast_to(prob, shape)
  p_lt_half = prob < 0.5
  q = lax.select(p_lt_half, prob, 1.0 - prob)
  count_nan_or_neg = jnp.isnan(count) | (count < 0.0)
  count_inf = jnp.isinf(count)
  q_is_nan = jnp.isnan(q)
  q_l_0 = q < 0.0
  q = lax.select(q_is_nan | q_l_0, jnp.full_like(q, 0.01), q)
  use_inversion = count_nan_or_neg | (count * q <= 10.0)
  count = jnp.floor(count)
  # An infinite count's sample is replaced by inf (or NaN) below, whatever the
  # loops make of it; keep it out of both loops, where with q == 0 it never
  # stops (JAX 0.10.2 hangs on binomial(inf, 0.)): no value changes.
  count_inv = lax.select(use_inversion & ~count_inf, count, jnp.full_like(count, 0.0))
  to_dummy = use_inversion | count_inf
  count_btrs = lax.select(to_dummy, jnp.full_like(count, 10000.0), count)
  q_btrs = lax.select(to_dummy, jnp.full_like(q, 0.5), q)
  max_iters = np.dtype(dtype).type(dtypes.finfo(dtype).max)
  samples = lax.select(use_inversion,
                       _binomial_inversion(k, count_inv, q, shape, dtype, max_iters),
                       _btrs(k, count_btrs, q_btrs, shape, dtype, max_iters))
  invalid = q_l_0 | q_is_nan | count_nan_or_neg
  samples = lax.select(invalid, jnp.full_like(samples, np.nan, dtype), samples)
  samples = lax.select(count_inf & ~invalid, jnp.full_like(samples, np.inf, dtype), samples)
  return lax.select(p_lt_half | count_nan_or_neg | q_is_nan | count_inf, samples,
                    count.astype(dtype) - samples)


@_jit(["shape", "dtype"])
def _binomial_jit(k, n, p, shape, dtype):
  return _binomial(k, n, p, shape, dtype)


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
  """Multinomial(n, p) counts over the last axis of ``p``, as floats: one
  binomial per category on the remaining count (a ``scan``)."""
  k, _ = _check_prng_key("multinomial", key)
  for name, v in (("n", n), ("p", p)):
    if isinstance(v, (list, tuple, str)) or v is None:
      raise TypeError(f"multinomial requires ndarray or scalar arguments, got "
                      f"{type(v).__name__} at position for {name}.")
  dt = _float_dtype("multinomial", dtype)
  n, p = jnp.asarray(n), jnp.asarray(p)
  ft = dtypes.result_type(n, p)
  if not dtypes.is_float(ft):
    ft = dtypes.to_inexact_dtype(ft)
  n, p = n.astype(ft), p.astype(ft)
  if shape is None:
    shape = p.shape
  shape = _canonical_shape("multinomial", shape)
  n = jnp.broadcast_to(n, shape[:-1])
  p = jnp.broadcast_to(p, shape)

  def step(remainder, ratio_key):
    ratio, key_ = ratio_key
    count = _binomial(key_, remainder, ratio.clip(0, 1), None, remainder.dtype)
    return remainder - count, count

  p = jnp.moveaxis(p, -1, 0)
  remaining = jnp.cumsum(p[::-1], axis=0)[::-1]
  ratios = p / jnp.where(remaining == 0, 1, remaining)
  keys = split(k, ratios.shape[0])
  _, counts = scan(step, n, (ratios, keys), unroll=unroll)
  return jnp.moveaxis(counts, 0, -1).astype(dt)
