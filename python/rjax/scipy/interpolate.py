"""``rjax.scipy.interpolate`` (``jax.scipy.interpolate``)."""
from rjax._src.scipy.interpolate import *  # noqa: F401,F403
