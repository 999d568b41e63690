"""``rjax.scipy.stats.gumbel_r`` (``jax.scipy.stats.gumbel_r``)."""
from rjax._src.scipy.stats.gumbel_r import *  # noqa: F401,F403
