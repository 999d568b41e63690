"""``rjax.scipy.stats.betabinom`` (``jax.scipy.stats.betabinom``)."""
from rjax._src.scipy.stats.betabinom import *  # noqa: F401,F403
