"""``rjax.scipy.cluster.vq`` (``jax.scipy.cluster.vq``)."""
from rjax._src.scipy.cluster.vq import *  # noqa: F401,F403
