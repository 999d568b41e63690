"""``rjax.scipy.stats.geom`` (``jax.scipy.stats.geom``)."""
from rjax._src.scipy.stats.geom import *  # noqa: F401,F403
