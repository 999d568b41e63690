"""``rjax.scipy.stats.beta`` (``jax.scipy.stats.beta``)."""
from rjax._src.scipy.stats.beta import *  # noqa: F401,F403
