"""``rjax.scipy.linalg`` (``jax.scipy.linalg``)."""
from rjax._src.scipy.linalg import *  # noqa: F401,F403
