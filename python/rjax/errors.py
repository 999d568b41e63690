"""``rjax.errors``: the exception types rjax raises (JAX's names and bases)."""
from rjax._rjax import (  # noqa: F401  (the Rust core's)
    InternalError, JaxRuntimeError, OutOfMemoryError, RjaxError)
from rjax._src.base.errors import (  # noqa: F401
    ConcretizationTypeError, JAXIndexError, JAXTypeError, JaxprTypeError, KeyReuseError,
    NonConcreteBooleanIndexError, TracerArrayConversionError, TracerBoolConversionError,
    TracerIntegerConversionError, UnexpectedTracerError)
