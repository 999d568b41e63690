"""The exceptions rjax raises, with JAX's names and class hierarchy
(jax/_src/errors.py): the tracer errors derive from ``JAXTypeError`` (a
``TypeError``) or ``JAXIndexError`` (an ``IndexError``), and their messages
end with a pointer to JAX's page that explains them. (The Rust core's
runtime errors come from the extension module and ``rjax.errors`` re-exports
them with these: ``JaxRuntimeError``, a ``RuntimeError`` as in JAX;
``OutOfMemoryError``, both a ``MemoryError`` and a ``JaxRuntimeError``, for a
failed allocation (RESOURCE_EXHAUSTED); ``RjaxError`` and its
``InternalError``.)"""
from __future__ import annotations

_ERROR_PAGE = "https://docs.jax.dev/en/latest/errors.html"


class _JAXErrorMixin:
  """Appends ``See <JAX's error page>#jax.errors.<ClassName>`` to the message."""

  def __init__(self, message: str):
    super().__init__(f"{message}\nSee {_ERROR_PAGE}#jax.errors.{type(self).__name__}")


class JAXTypeError(_JAXErrorMixin, TypeError):
  """JAX-specific :class:`TypeError`."""


class JAXIndexError(_JAXErrorMixin, IndexError):
  """JAX-specific :class:`IndexError`."""


class ConcretizationTypeError(JAXTypeError):
  """A traced value was used where a concrete value is required."""


class NonConcreteBooleanIndexError(JAXIndexError):
  """A boolean mask whose value is not known at trace time."""


class TracerArrayConversionError(JAXTypeError):
  """A traced value was converted to a NumPy array."""


class TracerIntegerConversionError(JAXTypeError):
  """A traced value was converted to a Python int (e.g. used as an index)."""


class TracerBoolConversionError(ConcretizationTypeError):
  """A traced value was converted to a Python bool (e.g. in an ``if``)."""


class UnexpectedTracerError(JAXTypeError):
  """A tracer escaped the transformation that created it."""


class KeyReuseError(JAXTypeError):
  """A PRNG key was used twice (``jax_debug_key_reuse``)."""


class JaxprTypeError(TypeError):
  """A jaxpr is ill-typed (``core.typecheck_jaxpr``)."""
