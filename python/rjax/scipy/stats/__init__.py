"""``rjax.scipy.stats`` (``jax.scipy.stats``)."""
from rjax.scipy.stats import norm  # noqa: F401
