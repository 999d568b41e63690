"""Learning-rate schedules: functions from the int32 step count to a scalar,
with Optax's formulas. They trace under jit (the count may be a tracer)."""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

from rjax._src import numpy as jnp

Schedule = Callable


def constant_schedule(value) -> Schedule:
  """``value`` at every step."""
  return lambda count: value


def polynomial_schedule(init_value, end_value, power, transition_steps: int,
                        transition_begin: int = 0) -> Schedule:
  """``(init - end) * (1 - k/transition_steps)^power + end`` with
  ``k = clip(count - transition_begin, 0, transition_steps)``."""
  if transition_steps <= 0:
    return lambda count: init_value
  transition_begin = max(transition_begin, 0)

  def schedule(count):
    count = jnp.clip(count - transition_begin, 0, transition_steps)
    frac = 1 - count / transition_steps
    return (init_value - end_value) * (frac ** power) + end_value
  return schedule


def linear_schedule(init_value, end_value, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
  """Linear interpolation from ``init_value`` to ``end_value`` over ``transition_steps``."""
  return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def piecewise_constant_schedule(init_value, boundaries_and_scales: Optional[dict] = None
                                ) -> Schedule:
  """``init_value`` multiplied by each ``scale`` whose boundary the count has reached."""
  if boundaries_and_scales is not None:
    if not all(s >= 0.0 for s in boundaries_and_scales.values()):
      raise ValueError("piecewise_constant_schedule: expects non-negative scale factors")

  def schedule(count):
    v = init_value
    if boundaries_and_scales is not None:
      for threshold, s in sorted(boundaries_and_scales.items()):
        indicator = jnp.maximum(0.0, jnp.sign(threshold - count))
        v = v * indicator + (1 - indicator) * s * v
    return v
  return schedule


def exponential_decay(init_value, transition_steps: int, decay_rate: float,
                      transition_begin: int = 0, staircase: bool = False,
                      end_value=None) -> Schedule:
  """``init_value * decay_rate^((count - transition_begin) / transition_steps)``
  (the exponent floored with ``staircase``), bounded by ``end_value``."""
  if transition_steps <= 0 or decay_rate == 0:
    return lambda count: init_value
  transition_begin = max(transition_begin, 0)
  clip_fn = jnp.maximum if decay_rate < 1.0 else jnp.minimum

  def schedule(count):
    decreased_count = count - transition_begin
    p = decreased_count / transition_steps
    if staircase:
      p = jnp.floor(p)
    decayed = jnp.where(decreased_count <= 0, init_value, init_value * jnp.power(decay_rate, p))
    if end_value is not None:
      decayed = clip_fn(decayed, end_value)
    return decayed
  return schedule


def cosine_decay_schedule(init_value, decay_steps: int, alpha=0.0, exponent=1.0) -> Schedule:
  """``init_value * ((1 - alpha) * (0.5 (1 + cos(pi k / decay_steps)))^exponent + alpha)``
  with ``k = min(count, decay_steps)``."""
  if not decay_steps > 0:
    raise ValueError("cosine_decay_schedule: requires positive decay_steps, got "
                     f"decay_steps={decay_steps}")
  steps = float(decay_steps)

  def schedule(count):
    count = jnp.minimum(count, steps)
    cosine_decay = 0.5 * (1 + jnp.cos(math.pi * count / steps))
    return init_value * ((1 - alpha) * cosine_decay ** exponent + alpha)
  return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
  """Runs ``schedules[i]`` from ``boundaries[i-1]`` on, each fed the steps since its start."""
  if len(boundaries) != len(schedules) - 1:
    raise ValueError(f"join_schedules: expects len(boundaries) == len(schedules) - 1, got "
                     f"{len(boundaries)} boundaries for {len(schedules)} schedules")

  def schedule(step):
    output = schedules[0](step)
    for boundary, sched in zip(boundaries, schedules[1:]):
      output = jnp.where(step < boundary, output, sched(step - boundary))
    return output
  return schedule


def warmup_constant_schedule(init_value, peak_value, warmup_steps: int) -> Schedule:
  """Linear warmup to ``peak_value``, then constant."""
  return linear_schedule(init_value, peak_value, warmup_steps)


def warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps: int, decay_steps: int,
                                 end_value=0.0, exponent=1.0) -> Schedule:
  """Linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps``, then cosine
  decay to ``end_value`` at step ``decay_steps`` (which counts the warmup)."""
  alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
  return join_schedules(
      [linear_schedule(init_value, peak_value, warmup_steps),
       cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent)],
      [warmup_steps])


def warmup_exponential_decay_schedule(init_value, peak_value, warmup_steps: int,
                                      transition_steps: int, decay_rate: float,
                                      transition_begin: int = 0, staircase: bool = False,
                                      end_value=None) -> Schedule:
  """Linear warmup to ``peak_value``, then :func:`exponential_decay`."""
  return join_schedules(
      [linear_schedule(init_value, peak_value, warmup_steps),
       exponential_decay(peak_value, transition_steps, decay_rate, transition_begin,
                         staircase, end_value)],
      [warmup_steps])
