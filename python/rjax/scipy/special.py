"""``rjax.scipy.special`` (``jax.scipy.special``)."""
from rjax._src.scipy.special import *  # noqa: F401,F403
