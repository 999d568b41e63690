"""``rjax.scipy.stats.logistic`` (``jax.scipy.stats.logistic``)."""
from rjax._src.scipy.stats.logistic import *  # noqa: F401,F403
