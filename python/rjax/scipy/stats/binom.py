"""``rjax.scipy.stats.binom`` (``jax.scipy.stats.binom``)."""
from rjax._src.scipy.stats.binom import *  # noqa: F401,F403
