"""``rjax.scipy.ndimage`` (``jax.scipy.ndimage``)."""
from rjax._src.scipy.ndimage import *  # noqa: F401,F403
