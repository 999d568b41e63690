"""``rjax.flatten_util``: ``ravel_pytree`` (``jax.flatten_util``)."""
from rjax._src.flatten_util import ravel_pytree  # noqa: F401
