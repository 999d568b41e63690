"""``rjax.scipy.stats.bernoulli`` (``jax.scipy.stats.bernoulli``)."""
from rjax._src.scipy.stats.bernoulli import *  # noqa: F401,F403
