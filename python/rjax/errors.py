"""``rjax.errors``: the exception types rjax raises (JAX's names and bases)."""
from rjax._src.errors import (  # noqa: F401
    ConcretizationTypeError, InternalError, JAXTypeError, NonConcreteBooleanIndexError, RjaxError,
    TracerArrayConversionError, TracerBoolConversionError, TracerIntegerConversionError,
    UnexpectedTracerError)
