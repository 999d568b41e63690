"""``jax.scipy.sparse``: iterative linear solvers (``linalg``)."""
from rjax._src.scipy.sparse import linalg  # noqa: F401
