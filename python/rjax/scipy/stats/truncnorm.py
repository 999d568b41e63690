"""``rjax.scipy.stats.truncnorm`` (``jax.scipy.stats.truncnorm``)."""
from rjax._src.scipy.stats.truncnorm import *  # noqa: F401,F403
