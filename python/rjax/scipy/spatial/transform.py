"""``rjax.scipy.spatial.transform`` (``jax.scipy.spatial.transform``)."""
from rjax._src.scipy.spatial.transform import *  # noqa: F401,F403
