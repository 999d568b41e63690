"""``rjax.debug``: printing, logging, callbacks, breakpoints and sharding
inspection that work inside transformed code (``jax.debug``)."""
from rjax._src.debugging import (  # noqa: F401
    DebugEffect, OrderedDebugEffect, breakpoint, inspect_array_sharding, log,
    visualize_array_sharding, visualize_sharding)
from rjax._src.transforms.callback import debug_callback as callback  # noqa: F401
from rjax._src.transforms.callback import debug_print as print  # noqa: F401,A001

__all__ = ["callback", "print", "log", "DebugEffect", "OrderedDebugEffect",
           "visualize_array_sharding", "inspect_array_sharding", "visualize_sharding",
           "breakpoint"]
