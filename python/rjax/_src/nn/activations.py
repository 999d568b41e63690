"""Activation functions and friends: ``jax.nn``'s, written with rjax.numpy
(composites; the fuser makes each one pass over the data)."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes
from rjax._src.interpreters.custom_derivatives import custom_jvp
from rjax._src.nn.module import Module, compact
from rjax._src.numpy.util import check_arraylike

__all__ = ["relu", "relu6", "sigmoid", "log_sigmoid", "softplus", "soft_sign", "silu", "swish",
           "gelu", "elu", "celu", "selu", "leaky_relu", "hard_tanh", "hard_sigmoid",
           "hard_silu", "hard_swish", "glu", "mish", "squareplus", "tanh", "identity",
           "softmax", "log_softmax", "logsumexp", "standardize", "one_hot", "PReLU",
           "log1mexp", "logmeanexp", "sparse_plus", "sparse_sigmoid"]


def _inexact(name: str, x):
  x = jnp.asarray(x)
  if not dtypes.is_float(x.dtype):
    x = x.astype(dtypes.to_inexact_dtype(x.dtype))
  return x


def _arr(name: str, x):
  """JAX's ``ensure_arraylike``: an array or scalar (a TypeError
  otherwise), as an array of its own dtype. The activations below are
  written as JAX's are, so that integer and bool inputs give what JAX's
  give: ``lax.logistic`` refuses them (sigmoid, silu, glu), weakly typed
  Python-float constants make the result a weak float (elu, leaky_relu,
  hard_sigmoid, ...), hard_tanh keeps the integer type, and negating an
  unsigned input wraps around (log_sigmoid)."""
  check_arraylike(name, x)
  return jnp.asarray(x)


def identity(x):
  return jnp.asarray(x)


@custom_jvp
def relu(x):
  """max(x, 0), with derivative 0 at 0 (as JAX)."""
  return jnp.maximum(x, 0)


relu.defjvps(lambda g, ans, x: lax.select(x > 0, g, lax.full_like(g, 0)))


@custom_jvp
def relu6(x):
  """min(max(x, 0), 6), with derivative 0 at 0 and at 6 (as JAX)."""
  return jnp.minimum(jnp.maximum(x, 0), 6.)


relu6.defjvps(lambda g, ans, x: lax.select((x > 0) & (x < 6), g, lax.full_like(g, 0)))


def sigmoid(x):
  return lax.logistic(x)


def softplus(x):
  """log(1 + exp(x)), stable for large |x|."""
  return jnp.logaddexp(x, 0)


def log_sigmoid(x):
  return -softplus(-_arr("log_sigmoid", x))


def soft_sign(x):
  x = _arr("soft_sign", x)
  return x / (jnp.abs(x) + 1)


def silu(x):
  x = _arr("silu", x)
  return x * sigmoid(x)


swish = silu


def gelu(x, approximate: bool = True):
  """x * Phi(x): the tanh approximation by default (as jax.nn.gelu)."""
  x = _inexact("gelu", x)
  if approximate:
    sqrt_2_over_pi = np.sqrt(2 / np.pi).astype(x.dtype)
    cdf = 0.5 * (1.0 + jnp.tanh(sqrt_2_over_pi * (x + 0.044715 * (x ** 3))))
    return x * cdf
  sqrt_half = np.sqrt(0.5).astype(x.dtype)
  return jnp.asarray(0.5 * x * lax.erfc(-x * sqrt_half), dtype=x.dtype)


def elu(x, alpha=1.0):
  x = _arr("elu", x)
  safe_x = jnp.where(x > 0, 0., x)
  return jnp.where(x > 0, x, alpha * jnp.expm1(safe_x))


def celu(x, alpha=1.0):
  return jnp.maximum(x, 0.0) + alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


def selu(x):
  alpha = 1.6732632423543772848170429916717
  scale = 1.0507009873554804934193349852946
  return scale * elu(x, alpha)


def leaky_relu(x, negative_slope=1e-2):
  x = _arr("leaky_relu", x)
  return jnp.where(x >= 0, x, negative_slope * x)


def hard_tanh(x):
  x = _arr("hard_tanh", x)
  return jnp.where(x > 1, 1, jnp.where(x < -1, -1, x))


def hard_sigmoid(x):
  # (JAX's is jitted, so x + 3. follows JAX's promotion even for a NumPy x)
  return relu6(_arr("hard_sigmoid", x) + 3.) / 6.


def hard_silu(x):
  x = _arr("hard_silu", x)
  return x * hard_sigmoid(x)


hard_swish = hard_silu


def glu(x, axis: int = -1):
  """Gated linear unit: first half * sigmoid(second half) along ``axis``."""
  x = _arr("glu", x)
  size = x.shape[axis]
  if size % 2:
    raise ValueError(f"glu: axis {axis} must have an even size, got {size}")
  x1, x2 = jnp.split(x, 2, axis)
  return x1 * sigmoid(x2)


def mish(x):
  x = _arr("mish", x)
  return x * jnp.tanh(softplus(x))


def squareplus(x, b=4):
  check_arraylike("squareplus", x, b)
  x, b = jnp.asarray(x), jnp.asarray(b)
  return (x + jnp.sqrt(jnp.square(x) + b)) / 2


def tanh(x):
  return jnp.tanh(x)


def _softmax_impl(x, axis, where, initial=-np.inf, stop=False):
  x_max = jnp.max(x, axis, where=where, initial=initial, keepdims=True)
  if stop:
    x_max = lax.stop_gradient(x_max)
  x_safe = x if where is None else jnp.where(where, x, initial)
  unnormalized = jnp.exp(x_safe - x_max)
  result = unnormalized / jnp.sum(unnormalized, axis, where=where, keepdims=True)
  if where is not None:
    result = jnp.where(where, result, 0)
  return result


def _softmax_plain(x, axis):
  return _softmax_impl(x, axis, None)


_softmax = custom_jvp(_softmax_plain, nondiff_argnums=(1,))


@_softmax.defjvp
def _softmax_jvp(axis, primals, tangents):
  (x,), (x_dot,) = primals, tangents
  y = _softmax(x, axis)
  return y, y * (x_dot - (y * x_dot).sum(axis, keepdims=True))


def _canon_axis(axis):
  if axis is None:
    return None
  return tuple(operator.index(a) for a in axis) if isinstance(axis, (tuple, list)) \
      else operator.index(axis)


def softmax(x, axis=-1, where=None):
  """exp(x) / sum(exp(x)) along ``axis`` (an int, tuple or None);
  elements where ``where`` is False are excluded and give 0."""
  axis = _canon_axis(axis)
  if where is None:
    return _softmax(x, axis)
  return _softmax_impl(x, axis, jnp.asarray(where), stop=True)


def log_softmax(x, axis=-1, where=None):
  """x - logsumexp(x) along ``axis``; masked-out elements give -inf."""
  x = _arr("log_softmax", x)
  axis = _canon_axis(axis)
  x_max = jnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
  x_safe = x if where is None else jnp.where(where, x, -np.inf)
  shifted = x_safe - lax.stop_gradient(x_max)
  shifted_logsumexp = jnp.log(jnp.sum(jnp.exp(shifted), axis, where=where, keepdims=True))
  result = shifted - shifted_logsumexp
  if where is not None:
    return jnp.where(where, result, -np.inf)
  return result


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False,
              where=None):
  """log(sum(b * exp(a))) along ``axis``, stable (jax.nn.logsumexp =
  jax.scipy.special.logsumexp)."""
  a = _inexact("logsumexp", a)
  if b is not None:
    b = jnp.asarray(b)
    dt = jnp.result_type(a.dtype, b.dtype)
    a, b = a.astype(dt), b.astype(dt)
    a = jnp.where(b != 0, a, -np.inf)
  axis = _canon_axis(axis)
  dims = tuple(range(a.ndim)) if axis is None else \
      tuple(ax % a.ndim for ax in (axis if isinstance(axis, tuple) else (axis,)))
  amax = jnp.max(a, axis=dims, keepdims=True, where=where, initial=-np.inf)
  amax = lax.stop_gradient(jnp.where(jnp.isfinite(amax), amax, jnp.zeros_like(amax)))
  exp_a = jnp.exp(a - amax)
  if b is not None:
    exp_a = exp_a * b
  sumexp = jnp.sum(exp_a, axis=dims, keepdims=keepdims, where=where)
  sign = jnp.sign(sumexp)
  out = jnp.log(jnp.abs(sumexp)) + (amax if keepdims else jnp.squeeze(amax, dims))
  if return_sign:
    return out, sign
  if b is not None:
    out = jnp.where(sign < 0, jnp.asarray(np.nan, dtype=out.dtype), out)
  return out


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
  """(x - mean) / sqrt(variance + epsilon), statistics along ``axis`` unless given."""
  x = _inexact("standardize", x)
  axis = _canon_axis(axis)
  if mean is None:
    mean = jnp.mean(x, axis, keepdims=True, where=where)
  if variance is None:
    variance = jnp.mean(jnp.square(x), axis, keepdims=True, where=where) - jnp.square(mean)
    variance = jnp.clip(variance, 0)
  return jnp.subtract(x, mean) * lax.rsqrt(variance + epsilon)


def one_hot(x, num_classes: int, *, dtype=None, axis: int = -1):
  """``x[..., None] == arange(num_classes)`` as ``dtype`` (default float32),
  with the class axis at ``axis``; out-of-range indices give all zeros."""
  try:
    num_classes = operator.index(num_classes)
  except TypeError:
    raise TypeError(f"one_hot: num_classes must be a concrete int, got {num_classes!r}") \
        from None
  x = jnp.asarray(x)
  out_axis = operator.index(axis)
  if not -x.ndim - 1 <= out_axis <= x.ndim:
    raise ValueError(f"one_hot: axis {axis} is out of bounds for an output of rank {x.ndim + 1}")
  out_axis %= x.ndim + 1
  dtype = dtypes.default_float_dtype() if dtype is None else dtype
  lhs = lax.expand_dims(x, (out_axis,))
  rhs_shape = [1] * x.ndim
  rhs_shape.insert(out_axis, num_classes)
  rhs = lax.broadcasted_iota(x.dtype, tuple(rhs_shape), out_axis)
  return (lhs == rhs).astype(dtype)



class PReLU(Module):
  """leaky_relu with a learned slope: param 'negative_slope' (a scalar,
  initialized to ``negative_slope_init``), as Flax linen's PReLU."""
  param_dtype: Any = jnp.float32
  negative_slope_init: float = 0.01

  @compact
  def __call__(self, inputs):
    slope = self.param("negative_slope",
                       lambda _key: jnp.asarray(self.negative_slope_init, self.param_dtype))
    inputs = jnp.asarray(inputs)
    return jnp.where(inputs >= 0, inputs, jnp.asarray(slope, inputs.dtype) * inputs)


def sparse_plus(x):
  """0 for x <= -1, x for x >= 1, (x + 1)**2 / 4 between (a smooth relu)."""
  x = jnp.asarray(x)
  return jnp.where(x <= -1.0, 0.0, jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x):
  """clip((x + 1) / 2, 0, 1): the derivative of :func:`sparse_plus`."""
  return 0.5 * jnp.clip(x + 1.0, 0.0, 2.0)


@custom_jvp
def log1mexp(x):
  """log(1 - exp(-x)) for x > 0, accurate at both ends (Machler's switch at log 2)."""
  x = jnp.asarray(x)
  c = jnp.log(2.0)
  return jnp.where(x < c, jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))


log1mexp.defjvps(lambda g, ans, x: g / jnp.expm1(x))


def _axis_count(x, axis):
  shape = jnp.shape(x)
  if axis is None:
    return int(np.prod(shape, dtype=np.int64))
  axes = (axis,) if isinstance(axis, int) else tuple(axis)
  return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def logmeanexp(x, axis=None, where=None, keepdims: bool = False):
  """log(mean(exp(x))) over ``axis``: logsumexp minus log of the count
  (of the elements selected by ``where``, when given)."""
  lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
  if where is None:
    count = jnp.asarray(_axis_count(x, axis)).astype(lse.dtype)
  else:
    count = jnp.sum(jnp.broadcast_to(where, jnp.shape(x)), axis=axis, dtype=lse.dtype,
                    keepdims=keepdims)
  return lse - jnp.log(count)
