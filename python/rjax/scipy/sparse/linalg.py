"""``rjax.scipy.sparse.linalg`` (``jax.scipy.sparse.linalg``)."""
from rjax._src.scipy.sparse.linalg import *  # noqa: F401,F403
