"""The optimizers: chains of the building blocks in ``transform.py``, with Optax's
default hyperparameters. ``learning_rate`` is a float or a schedule (a function
of the step count)."""
from __future__ import annotations

import functools

from rjax._src.optim import base, transform
from rjax._src.optim.base import GradientTransformation, chain


def sgd(learning_rate, momentum=None, nesterov: bool = False,
        accumulator_dtype=None) -> GradientTransformation:
  """SGD: ``u = -lr g``; with ``momentum``, ``t <- g + momentum t`` and ``u = -lr t``
  (``-lr (g + momentum t)`` with ``nesterov``)."""
  opt = (transform.trace(decay=momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype)
         if momentum is not None else base.identity())
  return chain(opt, transform.scale_by_learning_rate(learning_rate))


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None, *,
         nesterov: bool = False) -> GradientTransformation:
  """Adam (Kingma & Ba 2014): see :func:`scale_by_adam`; ``u = -lr * m_hat / (sqrt(v_hat +
  eps_root) + eps)``."""
  return chain(
      transform.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype,
                              nesterov=nesterov),
      transform.scale_by_learning_rate(learning_rate))


nadam = functools.partial(adam, nesterov=True)


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None,
          weight_decay=1e-4, mask=None, *, nesterov: bool = False) -> GradientTransformation:
  """AdamW (Loshchilov & Hutter 2019): ``u = -lr * (adam_direction + weight_decay * p)``;
  ``mask`` selects the parameters that are decayed."""
  return chain(
      transform.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype,
                              nesterov=nesterov),
      transform.add_decayed_weights(weight_decay, mask),
      transform.scale_by_learning_rate(learning_rate))


nadamw = functools.partial(adamw, nesterov=True)


def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
            centered: bool = False, momentum=None, nesterov: bool = False,
            bias_correction: bool = False) -> GradientTransformation:
  """RMSProp: ``u = -lr g / sqrt(v + eps)`` (centred: ``v - m^2``), then optional momentum."""
  scaler = transform.scale_by_stddev if centered else transform.scale_by_rms
  return chain(
      scaler(decay=decay, eps=eps, initial_scale=initial_scale, eps_in_sqrt=eps_in_sqrt,
             bias_correction=bias_correction),
      transform.scale_by_learning_rate(learning_rate),
      transform.trace(decay=momentum, nesterov=nesterov) if momentum is not None
      else base.identity())


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
  """Adagrad (Duchi et al. 2011): ``s <- s + g^2``, ``u = -lr g / sqrt(s + eps)``."""
  return chain(
      transform.scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=eps),
      transform.scale_by_learning_rate(learning_rate))


def lion(learning_rate, b1=0.9, b2=0.99, mu_dtype=None, weight_decay=1e-3,
         mask=None) -> GradientTransformation:
  """Lion (Chen et al. 2023): ``u = -lr (sign((1-b1) g + b1 m) + weight_decay p)``,
  ``m <- (1-b2) g + b2 m``."""
  return chain(
      transform.scale_by_lion(b1=b1, b2=b2, mu_dtype=mu_dtype),
      transform.add_decayed_weights(weight_decay, mask),
      transform.scale_by_learning_rate(learning_rate))
