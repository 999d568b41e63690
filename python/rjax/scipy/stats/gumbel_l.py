"""``rjax.scipy.stats.gumbel_l`` (``jax.scipy.stats.gumbel_l``)."""
from rjax._src.scipy.stats.gumbel_l import *  # noqa: F401,F403
