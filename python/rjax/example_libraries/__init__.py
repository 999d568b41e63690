"""``rjax.example_libraries``: ``stax`` (layers as init/apply pairs) and
``optimizers`` (init/update/get_params triples), as ``jax.example_libraries``."""
from rjax.example_libraries import optimizers, stax  # noqa: F401
