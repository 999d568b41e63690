"""``rjax.scipy.stats.norm`` (``jax.scipy.stats.norm``)."""
from rjax._src.scipy.stats.norm import *  # noqa: F401,F403
