"""``rjax.scipy.integrate`` (``jax.scipy.integrate``)."""
from rjax._src.scipy.integrate import *  # noqa: F401,F403
