"""``jax.scipy``'s first parts: special functions, ``stats.norm`` and the
direct N-d convolutions of ``signal``, written with rjax.numpy and lax."""
from rjax._src.scipy import linalg, signal, special, stats  # noqa: F401
