"""``rjax.scipy.stats.vonmises`` (``jax.scipy.stats.vonmises``)."""
from rjax._src.scipy.stats.vonmises import *  # noqa: F401,F403
