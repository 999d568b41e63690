"""``rjax.random``'s rejection samplers: the ones JAX 0.10.2 writes with
``while_loop`` (gamma, loggamma, beta, dirichlet, t, chisquare, f, poisson),
step for step (same key splits, same constants, same operation order), so the
same key gives the same numbers as JAX to a few ulp (see ``random/core.py``'s
docstring). Split from ``random/core.py``, whose helpers they use.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.lax import lax, shapes
from rjax._src.lax.control_flow import while_loop
from rjax._src.lax.utils import asarray_lax
from rjax._src.random.core import (_canonical_shape, _check_prng_key, _check_shape, _exponential,
                                   _fma, _float_dtype, _int_dtype, _jit, _normal, _shape_of, _split,
                                   _uniform, _unstack_keys)
from rjax._src.transforms.api import vmap

def _c(v, dtype):
  return asarray_lax(np.array(v, dtype))


def _check_all_safe_to_cast(name, dtype, *args):
  for arg in args:
    if dtypes.result_type(arg, dtype) != dtype:
      src = core.get_aval(arg).dtype if isinstance(arg, core.Tracer) else jnp.asarray(arg).dtype
      raise ValueError(f"In arguments to {name}, cannot safely cast argument of type {src} "
                       f"to {dtype}")


def _broadcast_shapes_or_check(name, shape, *args):
  """JAX's ``_check_broadcast_shapes``: the parameters' broadcast shape when
  ``shape`` is None, else ``shape`` checked against them."""
  arg_shapes = [_shape_of(a) for a in args]
  if shape is None:
    try:
      return tuple(np.broadcast_shapes(*arg_shapes)) if arg_shapes else ()
    except ValueError:
      raise ValueError(f"{name}: parameter shapes {arg_shapes} are not broadcast-compatible") \
          from None
  shape = _canonical_shape(name, shape)
  _check_shape(name, shape, *arg_shapes)
  return shape


def _gamma_one(k, alpha, log_space):
  """One Gamma(alpha) sample (rank 0): Marsaglia and Tsang's method, with
  alpha < 1 boosted to alpha + 1 times U**(1/alpha) (JAX's ``_gamma_one``)."""
  dtype = core.get_aval(alpha).dtype
  zero, one, minus_one = _c(0, dtype), _c(1, dtype), _c(-1, dtype)
  one_over_three = _c(1. / 3., dtype)
  boost_mask = lax.ge(alpha, one)
  alpha_orig = alpha
  alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
  d = lax.sub(alpha, one_over_three)
  c = lax.div(one_over_three, lax.sqrt(d))

  def cond_fn(kxvu):
    _, x, v, u = kxvu
    return lax.bitwise_and(
        lax.ge(u, lax.sub(one, lax.mul(_c(0.0331, dtype), lax.mul(x, x)))),
        lax.ge(lax.log(u), lax.add(lax.mul(x, _c(0.5, dtype)),
                                   lax.mul(d, lax.add(lax.sub(one, v), lax.log(v))))))

  def next_kxv(kxv):
    key, subkey = _unstack_keys(_split(kxv[0]))
    x = _normal(subkey, (), dtype)
    return key, x, _fma(x, c, one)

  def body_fn(kxvu):
    key, x_key, u_key = _unstack_keys(_split(kxvu[0], 3))
    _, x, v = while_loop(lambda kxv: lax.le(kxv[2], zero), next_kxv, (x_key, zero, minus_one))
    u = _uniform(u_key, 0., 1., (), dtype)
    return key, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u

  key, subkey = _unstack_keys(_split(k))
  _, _, v, _ = while_loop(cond_fn, body_fn, (key, zero, one, _c(2, dtype)))
  if log_space:
    log_samples = lax.neg(_exponential(subkey, (), dtype))
    log_boost = lax.select(lax.bitwise_or(boost_mask, lax.eq(log_samples, zero)), zero,
                           lax.mul(log_samples, lax.div(one, alpha_orig)))
    return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
  samples = lax.sub(one, _uniform(subkey, 0., 1., (), dtype))
  boost = lax.select(boost_mask, one, lax.pow(samples, lax.div(one, alpha_orig)))
  return lax.mul(lax.mul(d, v), boost)


def _gamma_impl(k, a, log_space):
  """Gamma samples of ``a``'s shape: one key per element, ``_gamma_one``
  vmapped over them (as JAX lowers ``random_gamma``)."""
  shape = core.get_aval(a).shape
  n = math.prod(shape)
  if n == 0:
    return a
  keys = _split(k, (n,))
  one = functools.partial(_gamma_one, log_space=log_space)
  return shapes.reshape(vmap(one)(keys, shapes.reshape(a, (n,))), shape)


# The derivative of a sample with respect to ``a`` (implicit
# reparameterisation): -(dF/da) / (dF/dx) for F the regularized incomplete
# gamma function, computed as JAX's ``random_gamma_grad`` does (XLA's series /
# continued fraction in SAMPLE_DERIVATIVE mode).


def _igamma_series_sample_grad(ax, x, a, enabled, dtype):
  eps = float(dtypes.finfo(dtype).eps)

  def body_fn(vals):
    enabled, r, c, ans, x, dc_da, dans_da = vals
    r2 = r + 1.
    dc_da2 = dc_da * (x / r2) - (c * x) / (r2 * r2)
    dans_da2 = dans_da + dc_da2
    c2 = c * (x / r2)
    ans2 = ans + c2
    cont = enabled & (jnp.abs(dc_da2 / dans_da2) > eps)
    sel = lambda new, old: lax.select(enabled, new, old)
    return (cont, sel(r2, r), sel(c2, c), sel(ans2, ans), x, sel(dc_da2, dc_da),
            sel(dans_da2, dans_da))

  ones, zeros = jnp.ones_like(a), jnp.zeros_like(a)
  vals = while_loop(lambda v: jnp.any(v[0]), body_fn, (enabled, a, ones, ones, x, zeros, zeros))
  ans, dans_da = vals[3], vals[6]
  dlogax_da = lax.log(x) - lax.digamma(a + 1.)
  return -(dans_da + ans * dlogax_da) * x / a


def _igammac_cf_sample_grad(ax, x, a, enabled, dtype):
  eps = float(dtypes.finfo(dtype).eps)

  def body_fn(vals):
    (enabled, ans, t, y, z, c, pkm1, qkm1, pkm2, qkm2,
     dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da, dans_da) = vals
    old = vals
    c = c + 1.
    y = y + 1.
    z = z + 2.
    yc = y * c
    pk = pkm1 * z - pkm2 * yc
    qk = qkm1 * z - qkm2 * yc
    qk_nonzero = qk != 0.
    r = pk / qk
    t = lax.select(qk_nonzero, jnp.abs((ans - r) / r), jnp.ones_like(r))
    ans = lax.select(qk_nonzero, r, ans)
    dpk_da = dpkm1_da * z - pkm1 - dpkm2_da * yc + pkm2 * c
    dqk_da = dqkm1_da * z - qkm1 - dqkm2_da * yc + qkm2 * c
    dans_da_new = lax.select(qk_nonzero, (dpk_da - ans * dqk_da) / qk, dans_da)
    grad_cond = lax.select(qk_nonzero, jnp.abs(dans_da_new - dans_da), jnp.ones_like(dans_da))
    pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
    dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da = dpkm1_da, dqkm1_da, dpk_da, dqk_da
    rescale = jnp.abs(pk) > 1. / eps
    sc = lambda v: lax.select(rescale, v * eps, v)
    pkm2, pkm1, qkm2, qkm1 = sc(pkm2), sc(pkm1), sc(qkm2), sc(qkm1)
    dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da = sc(dpkm2_da), sc(dqkm2_da), sc(dpkm1_da), sc(dqkm1_da)
    cont = enabled & (grad_cond > eps)
    new = (ans, t, y, z, None, pkm1, qkm1, pkm2, qkm2, dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da,
           dans_da_new)
    return (cont,) + tuple(c if i == 4 else lax.select(enabled, nv, ov)
                           for i, (nv, ov) in enumerate(zip(new, old[1:])))

  y = 1. - a
  z = x + y + 1.
  zeros = jnp.zeros_like(x)
  pkm1 = x + 1.
  qkm1 = z * x
  ans = pkm1 / qkm1
  dqkm1_da = -x
  dans_da = (zeros - ans * dqkm1_da) / qkm1
  init = (enabled, ans, jnp.ones_like(x), y, z, _c(0, dtype), pkm1, qkm1, jnp.ones_like(x), x,
          zeros, zeros, zeros, dqkm1_da, dans_da)   # c (index 5): one counter, at most 2000
  vals = while_loop(lambda v: (v[5] < 2000.) & jnp.any(v[0]), body_fn, init)
  ans, dans_da = vals[1], vals[14]
  dlogax_da = lax.log(x) - lax.digamma(a)
  return -(dans_da + ans * dlogax_da) * x


def _random_gamma_grad(a, x):
  """d sample / d a for samples ``x`` of Gamma(a) (JAX's ``random_gamma_grad``)."""
  dt = core.get_aval(a).dtype
  if dt.itemsize < 4:   # float16/bfloat16: computed in float32
    f32 = dtypes.float32
    return lax.convert_element_type(
        _random_gamma_grad(lax.convert_element_type(a, f32), lax.convert_element_type(x, f32)), dt)
  is_nan = (a != a) | (x != x)
  x_is_zero = x == 0.
  domain_error = (x < 0.) | (a <= 0.)
  use_igammac = (x > 1.) & (x > a)
  ax = a * lax.log(x) - x - lax.lgamma(a)
  underflow = ax < -float(np.log(dtypes.finfo(dt).max))
  ax = lax.exp(ax)
  enabled = ~(x_is_zero | domain_error | underflow | is_nan)
  out = lax.select(use_igammac,
                   -_igammac_cf_sample_grad(ax, x, a, enabled & use_igammac, dt),
                   _igamma_series_sample_grad(ax, x, a, enabled & ~use_igammac, dt))
  out = lax.select(x_is_zero, jnp.zeros_like(out), out)
  return lax.select(domain_error | is_nan, jnp.full_like(a, np.nan), out)


def _gamma_grad(sample, a, log_space):
  if log_space:
    # d[log(sample)] = d[sample] / sample; exp(log_sample) may underflow to 0
    samples = lax.exp(sample)
    samples = lax.select(samples == 0., jnp.full_like(samples, dtypes.finfo(samples.dtype).tiny),
                         samples)
    return _random_gamma_grad(a, samples) / samples
  return _random_gamma_grad(a, sample)


def _make_gamma_p(log_space):
  @custom_jvp
  def gamma_p(k, a):
    return _gamma_impl(k, a, log_space)

  @gamma_p.defjvp
  def _(primals, tangents):
    k, a = primals
    ans = gamma_p(k, a)
    return ans, lax.mul(tangents[1], _gamma_grad(ans, a, log_space))
  return gamma_p


_gamma_p = {False: _make_gamma_p(False), True: _make_gamma_p(True)}


def _gamma(k, a, shape, dtype, log_space):
  if shape is None:
    shape = _shape_of(a)
  else:
    _check_shape("gamma", shape, _shape_of(a))
  a = lax.convert_element_type(a, dtype)
  if core.get_aval(a).shape != tuple(shape):
    a = jnp.broadcast_to(a, shape)
  return _gamma_p[log_space](k, a)


@_jit(["shape", "dtype", "log_space"])
def _gamma_jit(k, a, shape, dtype, log_space):
  return _gamma(k, a, shape, dtype, log_space)


def _gamma_entry(name, key, a, shape, dtype, log_space):
  k, _ = _check_prng_key(name, key)
  dt = _float_dtype(name, dtype)
  if shape is not None:
    shape = _canonical_shape(name, shape)
  return _gamma_jit(k, a, shape=shape, dtype=dt, log_space=log_space)


def gamma(key, a, shape=None, dtype=None):
  """Gamma(a, 1) floats (Marsaglia-Tsang; differentiable in ``a`` by implicit
  reparameterisation, as JAX)."""
  return _gamma_entry("gamma", key, a, shape, dtype, False)


def loggamma(key, a, shape=None, dtype=None):
  """log of Gamma(a, 1) floats, computed in log space (accurate for small ``a``)."""
  return _gamma_entry("loggamma", key, a, shape, dtype, True)


def beta(key, a, b, shape=None, dtype=None):
  """Beta(a, b) floats, from two log-gammas."""
  k, _ = _check_prng_key("beta", key)
  dt = _float_dtype("beta", dtype)
  _check_all_safe_to_cast("beta", dt, a, b)
  shape = _broadcast_shapes_or_check("beta", shape, a, b)
  return _beta_jit(k, a, b, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _beta_jit(k, a, b, shape, dtype):
  a = lax.convert_element_type(a, dtype)
  b = lax.convert_element_type(b, dtype)
  key_a, key_b = _unstack_keys(_split(k))
  a = jnp.broadcast_to(a, shape)
  b = jnp.broadcast_to(b, shape)
  log_gamma_a = _gamma(key_a, a, shape, dtype, True)
  log_gamma_b = _gamma(key_b, b, shape, dtype, True)
  log_max = lax.max(log_gamma_a, log_gamma_b)
  gamma_a_scaled = jnp.exp(log_gamma_a - log_max)
  gamma_b_scaled = jnp.exp(log_gamma_b - log_max)
  return gamma_a_scaled / (gamma_a_scaled + gamma_b_scaled)


def dirichlet(key, alpha, shape=None, dtype=None):
  """Dirichlet(alpha) floats along the last axis (normalized log-gammas)."""
  k, _ = _check_prng_key("dirichlet", key)
  dt = _float_dtype("dirichlet", dtype)
  if shape is not None:
    shape = _canonical_shape("dirichlet", shape)
  if len(_shape_of(alpha)) < 1:
    raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == "
                     f"{len(_shape_of(alpha))}")
  return _dirichlet_jit(k, alpha, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _dirichlet_jit(k, alpha, shape, dtype):
  ashape = _shape_of(alpha)
  if shape is None:
    shape = ashape[:-1]
  else:
    _check_shape("dirichlet", shape, ashape[:-1])
  alpha = lax.convert_element_type(alpha, dtype)
  x = _gamma(k, alpha, tuple(shape) + ashape[-1:], dtype, True)
  # jax.nn.softmax(x, -1)
  unnormalized = jnp.exp(x - jnp.max(x, -1, keepdims=True))
  return unnormalized / jnp.sum(unnormalized, -1, keepdims=True)


def t(key, df, shape=None, dtype=None):
  """Student's t floats with ``df`` degrees of freedom (normal / gamma)."""
  k, _ = _check_prng_key("t", key)
  dt = _float_dtype("t", dtype)
  shape = _broadcast_shapes_or_check("t", shape, df)
  _check_all_safe_to_cast("t", dt, df)
  return _t_jit(k, df, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _t_jit(k, df, shape, dtype):
  df = lax.convert_element_type(df, dtype)
  key_n, key_g = _unstack_keys(_split(k))
  n = _normal(key_n, shape, dtype)
  half_df = lax.div(df, _c(2, dtype))
  g = _gamma(key_g, half_df, shape, dtype, False)
  return n * jnp.sqrt(half_df / g)


def chisquare(key, df, shape=None, dtype=None):
  """Chi-square floats with ``df`` degrees of freedom (2 x a log-gamma, exponentiated)."""
  k, _ = _check_prng_key("chisquare", key)
  dt = _float_dtype("chisquare", dtype)
  shape = _broadcast_shapes_or_check("chisquare", shape, df)
  _check_all_safe_to_cast("chisquare", dt, df)
  return _chisquare_jit(k, df, shape=shape, dtype=dt)


def _chisquare(k, df, shape, dtype):
  df = lax.convert_element_type(df, dtype)
  two = _c(2, dtype)
  log_g = _gamma(k, lax.div(df, two), shape, dtype, True)
  return lax.mul(jnp.exp(log_g), two)


@_jit(["shape", "dtype"])
def _chisquare_jit(k, df, shape, dtype):
  return _chisquare(k, df, shape, dtype)


def f(key, dfnum, dfden, shape=None, dtype=None):
  """F-distribution floats: (chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)."""
  k, _ = _check_prng_key("f", key)
  dt = _float_dtype("f", dtype)
  shape = _broadcast_shapes_or_check("f", shape, dfnum, dfden)
  _check_all_safe_to_cast("f", dt, dfnum, dfden)
  return _f_jit(k, dfnum, dfden, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _f_jit(k, dfnum, dfden, shape, dtype):
  dfden = lax.convert_element_type(dfden, dtype)
  dfnum = lax.convert_element_type(dfnum, dtype)
  key_dfd, key_dfn = _unstack_keys(_split(k))
  chi2_dfn = _chisquare(key_dfn, dfnum, shape, dtype)
  chi2_dfd = _chisquare(key_dfd, dfden, shape, dtype)
  return lax.div(lax.div(chi2_dfn, dfnum), lax.div(chi2_dfd, dfden))


def _poisson_knuth(k, lam, shape, dtype, max_iters):
  """Knuth's algorithm: count uniforms until their product drops below e**-lam."""
  f32 = dtypes.float32

  def body_fn(carry):
    i, n, rng, log_prod = carry
    rng, subkey = _unstack_keys(_split(rng))
    n = lax.select(log_prod > -lam, n + 1, n)
    u = _uniform(subkey, 0., 1., shape, f32)
    return i + 1, n, rng, log_prod + jnp.log(u)

  def cond_fn(carry):
    i, log_prod = carry[0], carry[3]
    return jnp.any(log_prod > -lam) & (i < max_iters)

  n = while_loop(cond_fn, body_fn, (0, shapes.full(shape, 0, dtype), k,
                                    shapes.full(shape, 0, f32)))[1]
  return (n - 1).astype(dtype)


def _poisson_rejection(k, lam, shape, dtype, max_iters):
  """Hormann's transformed rejection (PTRS) for large lam."""
  log_lam = lax.log(lam)
  b = 0.931 + 2.53 * lax.sqrt(lam)
  a = -0.059 + 0.02483 * b
  inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
  v_r = 0.9277 - 3.6224 / (b - 2)
  ldt = core.get_aval(lam).dtype

  def body_fn(carry):
    i, k_out, accepted, key = carry
    key, subkey_0, subkey_1 = _unstack_keys(_split(key, 3))
    u = _uniform(subkey_0, 0., 1., shape, ldt) - 0.5
    v = _uniform(subkey_1, 0., 1., shape, ldt)
    u_shifted = 0.5 - abs(u)
    kk = lax.floor((2 * a / u_shifted + b) * u + lam + 0.43)
    s = lax.log(v * inv_alpha / (a / (u_shifted * u_shifted) + b))
    t = -lam + kk * log_lam - lax.lgamma(kk + 1)
    accept1 = (u_shifted >= 0.07) & (v <= v_r)
    reject = (kk < 0) | ((u_shifted < 0.013) & (v > u_shifted))
    accept2 = s <= t
    accept = accept1 | (~reject & accept2)
    k_out = lax.select(accept, kk, k_out)
    return i + 1, k_out, accepted | accept, key

  def cond_fn(carry):
    i, _, accepted, _ = carry
    return jnp.any(~accepted) & (i < max_iters)

  init = (0, shapes.full(shape, -1, ldt), shapes.full(shape, False, dtypes.bool_), k)
  return while_loop(cond_fn, body_fn, init)[1].astype(dtype)


def poisson(key, lam, shape=None, dtype=None):
  """Poisson(lam) integers: Knuth's method for lam < 10, transformed
  rejection above (as JAX, TensorFlow and NumPy)."""
  k, _ = _check_prng_key("poisson", key)
  dt = _int_dtype("poisson", dtype)
  shape = _shape_of(lam) if shape is None else _canonical_shape("poisson", shape)
  return _poisson_jit(k, lam, shape=tuple(shape), dtype=dt)


@_jit(["shape", "dtype"])
def _poisson_jit(k, lam, shape, dtype):
  try:
    lam = jnp.broadcast_to(lam, shape)
  except ValueError:
    raise ValueError(f"poisson: lam of shape {_shape_of(lam)} is not broadcast-compatible with "
                     f"shape {shape}") from None
  lam = lax.convert_element_type(lam, dtypes.float32)
  use_knuth = (lam != lam) | (lam < 10)
  lam_knuth = lax.select(use_knuth, lam, jnp.zeros_like(lam))
  lam_rejection = lax.select(use_knuth, jnp.full_like(lam, 1e5), lam)
  max_iters = np.array(dtypes.iinfo(dtype).max, dtype)
  result = lax.select(use_knuth, _poisson_knuth(k, lam_knuth, shape, dtype, max_iters),
                      _poisson_rejection(k, lam_rejection, shape, dtype, max_iters))
  return lax.select(lam == 0, jnp.zeros_like(result), result)


__all__ = ["gamma", "loggamma", "beta", "dirichlet", "t", "chisquare", "f", "poisson"]
