"""``rjax.scipy.stats.chi2`` (``jax.scipy.stats.chi2``)."""
from rjax._src.scipy.stats.chi2 import *  # noqa: F401,F403
