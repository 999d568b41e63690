"""``rjax.scipy.sparse`` (``jax.scipy.sparse``)."""
from rjax.scipy.sparse import linalg  # noqa: F401
