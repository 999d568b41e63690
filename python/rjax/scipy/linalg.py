"""``rjax.scipy.linalg`` (``jax.scipy.linalg``)."""
from rjax._src.scipy.linalg import *  # noqa: F401,F403
from rjax._src.scipy.linalg_decomp import *  # noqa: F401,F403
from rjax._src.scipy.linalg_matrices import *  # noqa: F401,F403
