"""``rjax.custom_batching``: functions with user-defined vmap rules
(``jax.custom_batching``)."""
from rjax._src.transforms.custom_batching import custom_vmap, sequential_vmap  # noqa: F401

__all__ = ["custom_vmap", "sequential_vmap"]
