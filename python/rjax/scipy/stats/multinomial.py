"""``rjax.scipy.stats.multinomial`` (``jax.scipy.stats.multinomial``)."""
from rjax._src.scipy.stats.multinomial import *  # noqa: F401,F403
