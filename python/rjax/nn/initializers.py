"""``rjax.nn.initializers``: ``jax.nn.initializers`` (and Flax's ``zeros_init``/``ones_init``)."""
from rjax._src.nn.initializers import *  # noqa: F401,F403
from rjax._src.nn.initializers import __all__  # noqa: F401
