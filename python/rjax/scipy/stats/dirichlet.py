"""``rjax.scipy.stats.dirichlet`` (``jax.scipy.stats.dirichlet``)."""
from rjax._src.scipy.stats.dirichlet import *  # noqa: F401,F403
