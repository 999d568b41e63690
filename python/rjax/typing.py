"""``rjax.typing``: ``ArrayLike`` and ``DTypeLike`` (``jax.typing``)."""
from rjax._src.typing import ArrayLike, DTypeLike  # noqa: F401
