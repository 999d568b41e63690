"""``jax.scipy.cluster``."""
from rjax._src.scipy.cluster import vq  # noqa: F401
