"""``rjax.scipy.stats.poisson`` (``jax.scipy.stats.poisson``)."""
from rjax._src.scipy.stats.poisson import *  # noqa: F401,F403
