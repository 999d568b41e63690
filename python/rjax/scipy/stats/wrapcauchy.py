"""``rjax.scipy.stats.wrapcauchy`` (``jax.scipy.stats.wrapcauchy``)."""
from rjax._src.scipy.stats.wrapcauchy import *  # noqa: F401,F403
