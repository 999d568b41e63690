"""``jax.scipy.spatial``: rotations (``transform``)."""
from rjax._src.scipy.spatial import transform  # noqa: F401
