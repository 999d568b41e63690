"""The exceptions rjax raises, with JAX's names and base classes. (The Rust
core's ``RjaxError`` and ``InternalError`` come from the extension module;
``rjax.errors`` re-exports them with these.)"""
from __future__ import annotations


class JAXTypeError(TypeError):
  pass


class ConcretizationTypeError(TypeError):
  """A traced value was used where a concrete value is required."""


class NonConcreteBooleanIndexError(IndexError):
  """A boolean mask whose value is not known at trace time."""


class TracerArrayConversionError(TypeError):
  """A traced value was converted to a NumPy array."""


class TracerIntegerConversionError(TypeError):
  """A traced value was converted to a Python int (e.g. used as an index)."""


class TracerBoolConversionError(ConcretizationTypeError):
  """A traced value was converted to a Python bool (e.g. in an ``if``)."""


class UnexpectedTracerError(Exception):
  """A tracer escaped the transformation that created it."""
