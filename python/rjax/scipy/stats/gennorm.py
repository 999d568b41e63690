"""``rjax.scipy.stats.gennorm`` (``jax.scipy.stats.gennorm``)."""
from rjax._src.scipy.stats.gennorm import *  # noqa: F401,F403
