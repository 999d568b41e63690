"""``rjax.scipy.stats.uniform`` (``jax.scipy.stats.uniform``)."""
from rjax._src.scipy.stats.uniform import *  # noqa: F401,F403
