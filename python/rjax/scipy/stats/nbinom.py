"""``rjax.scipy.stats.nbinom`` (``jax.scipy.stats.nbinom``)."""
from rjax._src.scipy.stats.nbinom import *  # noqa: F401,F403
