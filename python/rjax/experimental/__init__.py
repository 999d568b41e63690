"""``rjax.experimental``: ``io_callback``, and the submodules ``checkify``
and ``ode`` (``jax.experimental``)."""
from rjax._src.experimental.callback import io_callback  # noqa: F401
from rjax.experimental import checkify, ode  # noqa: F401
