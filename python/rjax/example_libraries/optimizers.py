"""``rjax.example_libraries.optimizers``: optimizers as
``(init_fun, update_fun, get_params)`` triples over pytrees, as
``jax.example_libraries.optimizers``."""
from __future__ import annotations  # noqa: F401  (JAX's module exports the name too)

from rjax._src.example_libraries.optimizers import *  # noqa: F401,F403
from rjax._src.example_libraries.optimizers import __all__  # noqa: F401
