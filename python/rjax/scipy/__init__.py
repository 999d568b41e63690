"""``rjax.scipy`` (``jax.scipy``): special, stats and signal."""
from rjax.scipy import linalg, signal, special, stats  # noqa: F401
