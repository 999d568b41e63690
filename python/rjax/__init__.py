"""rjax: JAX's programming model — the NumPy API plus composable function
transformations — with a Rust core that runs on every CPU core."""
from rjax._src.config import config  # noqa: F401
from rjax._src.array import Array  # noqa: F401
from rjax._src.api import ShapeDtypeStruct, eval_shape, make_jaxpr  # noqa: F401
from rjax._src.core import Tracer as _Tracer
from rjax._src.numpy.array_methods import set_array_methods as _set_array_methods

_set_array_methods(Array)
_set_array_methods(_Tracer)

from rjax import numpy, lax, tree, tree_util, errors  # noqa: E402,F401

__version__ = "0.1.0"
