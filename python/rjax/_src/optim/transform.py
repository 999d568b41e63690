"""The building blocks of the optimizers (Optax's ``scale_by_*`` family, ``trace``,
``add_decayed_weights`` and clipping), each with its state NamedTuple.

Each formula is Optax's, written out in the docstring; the step counts in the
states are int32 scalars that saturate instead of wrapping.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import tree_util
from rjax._src.optim import base
from rjax._src.optim.base import (
    GradientTransformation, _is_none, canonicalize_dtype, safe_increment, tree_bias_correction,
    tree_cast, tree_cast_like, tree_full_like, tree_update_moment, tree_zeros_like)


def _count0():
  return jnp.zeros([], jnp.int32)


# ---------------------------------------------------------------------------
# scale, scale_by_schedule, scale_by_learning_rate

def scale(step_size) -> GradientTransformation:
  """``u <- step_size * u``."""
  def update_fn(updates, state, params=None):
    del params
    return tree_util.tree_map(lambda g: step_size * g, updates), state
  return GradientTransformation(base.init_empty_state, update_fn)


class ScaleByScheduleState(NamedTuple):
  """The step count fed to the schedule."""
  count: Any  # int32 scalar


def scale_by_schedule(step_size_fn) -> GradientTransformation:
  """``u <- step_size_fn(count) * u`` (the step size cast to each update's dtype)."""
  if not callable(step_size_fn):
    raise TypeError(f"scale_by_schedule: step_size_fn must be callable, got {step_size_fn!r}")

  def init_fn(params):
    del params
    return ScaleByScheduleState(count=_count0())

  def update_fn(updates, state, params=None):
    del params
    step_size = step_size_fn(state.count)
    updates = tree_util.tree_map(lambda g: jnp.array(step_size, dtype=g.dtype) * g, updates)
    return updates, ScaleByScheduleState(count=safe_increment(state.count))

  return GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(learning_rate, *, flip_sign: bool = True) -> GradientTransformation:
  """``u <- -learning_rate * u`` (``+`` with ``flip_sign=False``); the rate may be a schedule."""
  if learning_rate is None:
    return base.identity()
  m = -1 if flip_sign else 1
  if callable(learning_rate):
    return scale_by_schedule(lambda count: m * learning_rate(count))
  return scale(m * learning_rate)


# ---------------------------------------------------------------------------
# trace (momentum)

class TraceState(NamedTuple):
  """The running trace of past updates."""
  trace: Any


def trace(decay, nesterov: bool = False, accumulator_dtype=None) -> GradientTransformation:
  """Momentum: ``t <- u + decay * t``; the update is ``t`` (``u + decay * t`` with Nesterov)."""
  accumulator_dtype = canonicalize_dtype(accumulator_dtype)

  def init_fn(params):
    return TraceState(trace=tree_zeros_like(params, dtype=accumulator_dtype))

  def update_fn(updates, state, params=None):
    del params
    f = lambda g, t: g + decay * t  # noqa: E731
    new_trace = tree_util.tree_map(lambda g, t: None if g is None else f(g, t),
                                   updates, state.trace, is_leaf=_is_none)
    updates = tree_util.tree_map(f, updates, new_trace) if nesterov else new_trace
    return updates, TraceState(trace=tree_cast(new_trace, accumulator_dtype))

  return GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# Adam

class ScaleByAdamState(NamedTuple):
  """Adam's step count and first and second moments."""
  count: Any  # int32 scalar
  mu: Any
  nu: Any


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None, *,
                  nesterov: bool = False) -> GradientTransformation:
  """Adam's rescaling.

  ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g^2``, ``t <- t + 1``,
  ``m_hat = m / (1 - b1^t)`` (Nesterov: ``b1 m / (1 - b1^(t+1)) + (1-b1) g / (1 - b1^t)``),
  ``v_hat = v / (1 - b2^t)``, ``u = m_hat / (sqrt(v_hat + eps_root) + eps)``.
  """
  mu_dtype = canonicalize_dtype(mu_dtype)

  def init_fn(params):
    return ScaleByAdamState(count=_count0(), mu=tree_zeros_like(params, dtype=mu_dtype),
                            nu=tree_zeros_like(params))

  def update_fn(updates, state, params=None):
    del params
    mu = tree_update_moment(updates, state.mu, b1, 1)
    nu = tree_update_moment(updates, state.nu, b2, 2)
    count_inc = safe_increment(state.count)
    if nesterov:
      mu_hat = tree_util.tree_map(
          lambda m, g: b1 * m + (1 - b1) * g,
          tree_bias_correction(mu, b1, safe_increment(count_inc)),
          tree_bias_correction(updates, b1, count_inc))
    else:
      mu_hat = tree_bias_correction(mu, b1, count_inc)
    nu_hat = tree_bias_correction(nu, b2, count_inc)
    updates = tree_util.tree_map(
        lambda m, v: None if m is None else m / (jnp.sqrt(v + eps_root) + eps),
        mu_hat, nu_hat, is_leaf=_is_none)
    mu = tree_cast(mu, mu_dtype)
    nu = tree_cast_like(nu, state.nu)
    return updates, ScaleByAdamState(count=count_inc, mu=mu, nu=nu)

  return GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# RMS, centred RMS (stddev), RSS (Adagrad)

class ScaleByRmsState(NamedTuple):
  """The moving average of squared updates."""
  nu: Any


class ScaleByRmsWithCountState(NamedTuple):
  """The moving average of squared updates and a step count (for bias correction)."""
  count: Any
  nu: Any


def _rms_scaling(nu_hat, mu_hat, eps, eps_in_sqrt):
  centre = (lambda m: m * m) if mu_hat is not None else (lambda m: 0)
  mu_hat = mu_hat if mu_hat is not None else nu_hat
  if eps_in_sqrt:
    return tree_util.tree_map(lambda m, n: lax.rsqrt(n - centre(m) + eps), mu_hat, nu_hat)
  return tree_util.tree_map(lambda m, n: 1 / (jnp.sqrt(n - centre(m)) + eps), mu_hat, nu_hat)


def scale_by_rms(decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
                 bias_correction: bool = False) -> GradientTransformation:
  """RMSProp's rescaling: ``v <- decay v + (1-decay) g^2``, ``u = g / sqrt(v + eps)``
  (``g / (sqrt(v) + eps)`` with ``eps_in_sqrt=False``; ``v / (1 - decay^t)`` with
  ``bias_correction``)."""
  def init_fn(params):
    nu = tree_full_like(params, initial_scale)
    if bias_correction:
      return ScaleByRmsWithCountState(count=_count0(), nu=nu)
    return ScaleByRmsState(nu=nu)

  def update_fn(updates, state, params=None):
    del params
    nu = tree_update_moment(updates, state.nu, decay, 2)
    if bias_correction:
      count_inc = safe_increment(state.count)
      nu_hat = tree_bias_correction(nu, decay, count_inc)
    else:
      nu_hat = nu
    scaling = _rms_scaling(nu_hat, None, eps, eps_in_sqrt)
    updates = tree_util.tree_map(lambda s, g: s * g, scaling, updates)
    if bias_correction:
      return updates, ScaleByRmsWithCountState(count=count_inc, nu=nu)
    return updates, ScaleByRmsState(nu=nu)

  return GradientTransformation(init_fn, update_fn)


class ScaleByRStdDevState(NamedTuple):
  """Moving averages of the updates and of their squares."""
  mu: Any
  nu: Any


class ScaleByRStdDevWithCountState(NamedTuple):
  """Moving averages of the updates and their squares, and a step count."""
  count: Any
  mu: Any
  nu: Any


def scale_by_stddev(decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
                    bias_correction: bool = False) -> GradientTransformation:
  """Centred RMSProp: ``m <- decay m + (1-decay) g``, ``v <- decay v + (1-decay) g^2``,
  ``u = g / sqrt(v - m^2 + eps)``."""
  def init_fn(params):
    mu = tree_zeros_like(params)
    nu = tree_full_like(params, initial_scale)
    if bias_correction:
      return ScaleByRStdDevWithCountState(count=_count0(), mu=mu, nu=nu)
    return ScaleByRStdDevState(mu=mu, nu=nu)

  def update_fn(updates, state, params=None):
    del params
    mu = tree_update_moment(updates, state.mu, decay, 1)
    nu = tree_update_moment(updates, state.nu, decay, 2)
    if bias_correction:
      count_inc = safe_increment(state.count)
      mu_hat = tree_bias_correction(mu, decay, count_inc)
      nu_hat = tree_bias_correction(nu, decay, count_inc)
    else:
      mu_hat, nu_hat = mu, nu
    scaling = _rms_scaling(nu_hat, mu_hat, eps, eps_in_sqrt)
    updates = tree_util.tree_map(lambda s, g: s * g, scaling, updates)
    if bias_correction:
      return updates, ScaleByRStdDevWithCountState(count=count_inc, mu=mu, nu=nu)
    return updates, ScaleByRStdDevState(mu=mu, nu=nu)

  return GradientTransformation(init_fn, update_fn)


class ScaleByRssState(NamedTuple):
  """The running sum of squared updates."""
  sum_of_squares: Any


def scale_by_rss(initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
  """Adagrad's rescaling: ``s <- s + g^2``, ``u = g / sqrt(s + eps)`` (0 where ``s == 0``)."""
  def init_fn(params):
    return ScaleByRssState(sum_of_squares=tree_full_like(params, initial_accumulator_value))

  def update_fn(updates, state, params=None):
    del params
    sum_of_squares = tree_util.tree_map(lambda g, t: g * g + t, updates, state.sum_of_squares)
    inv_sqrt = tree_util.tree_map(
        lambda t: jnp.where(t > 0, lax.rsqrt(t + eps), jnp.zeros_like(t)), sum_of_squares)
    updates = tree_util.tree_map(lambda s, g: s * g, inv_sqrt, updates)
    return updates, ScaleByRssState(sum_of_squares=sum_of_squares)

  return GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# Lion

class ScaleByLionState(NamedTuple):
  """Lion's step count and momentum."""
  count: Any
  mu: Any


def scale_by_lion(b1=0.9, b2=0.99, mu_dtype=None) -> GradientTransformation:
  """Lion: ``u = sign((1-b1) g + b1 m)``, then ``m <- (1-b2) g + b2 m``."""
  mu_dtype = canonicalize_dtype(mu_dtype)

  def init_fn(params):
    return ScaleByLionState(count=_count0(), mu=tree_zeros_like(params, dtype=mu_dtype))

  def update_fn(updates, state, params=None):
    del params
    updates_new = tree_util.tree_map(lambda g, m: jnp.sign((1.0 - b1) * g + b1 * m),
                                     updates, state.mu)
    mu = tree_cast(tree_update_moment(updates, state.mu, b2, 1), mu_dtype)
    return updates_new, ScaleByLionState(count=safe_increment(state.count), mu=mu)

  return GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# weight decay

class WeightDecaySchedule(NamedTuple):
  """The step count of a scheduled weight decay."""
  count: Any


def add_decayed_weights(weight_decay=0.0, mask=None) -> GradientTransformation:
  """``u <- u + weight_decay * p``; ``mask`` (a pytree of bools or a function of the
  params) limits it to some leaves; ``weight_decay`` may be a schedule."""
  def init_fn(params):
    del params
    if callable(weight_decay):
      return WeightDecaySchedule(count=_count0())
    return base.EmptyState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("add_decayed_weights: " + base.NO_PARAMS_MSG)
    new_state = (WeightDecaySchedule(safe_increment(state.count)) if callable(weight_decay)
                 else state)
    if isinstance(weight_decay, (int, float)) and weight_decay == 0.0:
      return updates, new_state
    s = weight_decay(state.count) if callable(weight_decay) else weight_decay
    updates = tree_util.tree_map(lambda g, p: None if g is None else g + s * p,
                                 updates, params, is_leaf=_is_none)
    return updates, new_state

  t = GradientTransformation(init_fn, update_fn)
  return base.masked(t, mask) if mask is not None else t


# ---------------------------------------------------------------------------
# clipping

def clip(max_delta) -> GradientTransformation:
  """Clips each update element to ``[-max_delta, max_delta]``."""
  def update_fn(updates, state, params=None):
    del params
    return tree_util.tree_map(lambda g: jnp.clip(g, -max_delta, max_delta), updates), state
  return GradientTransformation(base.init_empty_state, update_fn)


def clip_by_global_norm(max_norm) -> GradientTransformation:
  """Rescales all updates by ``max_norm / global_norm`` when the global norm is at
  least ``max_norm``; leaves them unchanged otherwise."""
  def update_fn(updates, state, params=None):
    del params
    g_norm = base.global_norm(updates)
    trigger = jnp.squeeze(g_norm < max_norm)

    def clip_fn(t):
      return lax.select(trigger, t, (t / g_norm.astype(t.dtype)) * max_norm)
    return tree_util.tree_map(clip_fn, updates), state

  return GradientTransformation(base.init_empty_state, update_fn)


