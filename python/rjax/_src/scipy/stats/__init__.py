"""``jax.scipy.stats``: the distributions JAX's example programs use (norm)."""
from rjax._src.scipy.stats import norm  # noqa: F401
