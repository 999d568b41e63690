"""``rjax.image``: ``resize`` and ``scale_and_translate`` (``jax.image``)."""
from rjax._src.image import ResizeMethod, resize, scale_and_translate  # noqa: F401
