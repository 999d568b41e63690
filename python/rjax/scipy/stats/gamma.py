"""``rjax.scipy.stats.gamma`` (``jax.scipy.stats.gamma``)."""
from rjax._src.scipy.stats.gamma import *  # noqa: F401,F403
