"""``rjax.random``: JAX's PRNG (threefry2x32, partitionable mode), bit for bit.

``import rjax.random as random`` and use it as ``jax.random``: keys are
explicit, splittable values; the same key gives the same numbers as JAX 0.10.2.
"""
from rjax._src.random import *  # noqa: F401,F403
from rjax._src.random import __all__  # noqa: F401
