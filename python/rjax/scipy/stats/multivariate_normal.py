"""``rjax.scipy.stats.multivariate_normal`` (``jax.scipy.stats.multivariate_normal``)."""
from rjax._src.scipy.stats.multivariate_normal import *  # noqa: F401,F403
