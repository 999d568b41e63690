"""``rjax.scipy.stats.expon`` (``jax.scipy.stats.expon``)."""
from rjax._src.scipy.stats.expon import *  # noqa: F401,F403
