"""``rjax.scipy.stats.pareto`` (``jax.scipy.stats.pareto``)."""
from rjax._src.scipy.stats.pareto import *  # noqa: F401,F403
