"""``jax.scipy.optimize``: ``minimize`` with BFGS (and JAX's line search)."""
from rjax._src.scipy.optimize.minimize import OptimizeResults, minimize  # noqa: F401
