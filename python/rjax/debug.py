"""``rjax.debug``: printing and callbacks that work inside transformed code
(``jax.debug``)."""
from rjax._src.transforms.callback import debug_callback as callback  # noqa: F401
from rjax._src.transforms.callback import debug_print as print  # noqa: F401,A001

__all__ = ["callback", "print"]
