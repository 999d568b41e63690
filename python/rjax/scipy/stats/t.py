"""``rjax.scipy.stats.t`` (``jax.scipy.stats.t``)."""
from rjax._src.scipy.stats.t import *  # noqa: F401,F403
