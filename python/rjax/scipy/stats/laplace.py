"""``rjax.scipy.stats.laplace`` (``jax.scipy.stats.laplace``)."""
from rjax._src.scipy.stats.laplace import *  # noqa: F401,F403
