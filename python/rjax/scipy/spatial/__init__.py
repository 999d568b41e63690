"""``rjax.scipy.spatial`` (``jax.scipy.spatial``)."""
from rjax.scipy.spatial import transform  # noqa: F401
