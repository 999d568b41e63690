"""``rjax.scipy.optimize`` (``jax.scipy.optimize``)."""
from rjax._src.scipy.optimize.minimize import OptimizeResults, minimize  # noqa: F401
