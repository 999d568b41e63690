"""``rjax.scipy.stats.cauchy`` (``jax.scipy.stats.cauchy``)."""
from rjax._src.scipy.stats.cauchy import *  # noqa: F401,F403
