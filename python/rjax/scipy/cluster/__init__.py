"""``rjax.scipy.cluster`` (``jax.scipy.cluster``)."""
from rjax.scipy.cluster import vq  # noqa: F401
