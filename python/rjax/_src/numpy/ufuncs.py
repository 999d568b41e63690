"""Elementwise ``rjax.numpy`` functions: promote (JAX rules), then call lax."""
from __future__ import annotations

from rjax._src.lax import lax
from rjax._src.numpy.util import promote_args, promote_args_inexact


def add(x, y, /):
  return lax.add(*promote_args("add", x, y))


def subtract(x, y, /):
  return lax.sub(*promote_args("subtract", x, y))


def multiply(x, y, /):
  return lax.mul(*promote_args("multiply", x, y))


def true_divide(x, y, /):
  return lax.div(*promote_args_inexact("true_divide", x, y))


divide = true_divide


def maximum(x, y, /):
  return lax.max(*promote_args("maximum", x, y))


def minimum(x, y, /):
  return lax.min(*promote_args("minimum", x, y))


def negative(x, /):
  return lax.neg(*promote_args("negative", x))


def exp(x, /):
  return lax.exp(*promote_args_inexact("exp", x))


def log(x, /):
  return lax.log(*promote_args_inexact("log", x))


def tanh(x, /):
  return lax.tanh(*promote_args_inexact("tanh", x))


def sqrt(x, /):
  return lax.sqrt(*promote_args_inexact("sqrt", x))


def equal(x, y, /):
  return lax.eq(*promote_args("equal", x, y))


def not_equal(x, y, /):
  return lax.ne(*promote_args("not_equal", x, y))


def less(x, y, /):
  return lax.lt(*promote_args("less", x, y))


def less_equal(x, y, /):
  return lax.le(*promote_args("less_equal", x, y))


def greater(x, y, /):
  return lax.gt(*promote_args("greater", x, y))


def greater_equal(x, y, /):
  return lax.ge(*promote_args("greater_equal", x, y))


__all__ = ['add', 'subtract', 'multiply', 'true_divide', 'maximum', 'minimum', 'negative', 'exp', 'log', 'tanh', 'sqrt', 'equal', 'not_equal', 'less', 'less_equal', 'greater', 'greater_equal', 'divide']
