"""``rjax.nn``: Flax linen's module library plus ``jax.nn``'s functions.

``from rjax import nn`` stands for both ``flax.linen as nn`` and ``jax.nn``:
modules (``nn.Module``, ``@nn.compact``, ``init``/``apply``), layers
(``nn.Dense``, ``nn.LayerNorm``, ``nn.Dropout``, attention, pooling, ...),
activations (``nn.relu``, ``nn.softmax``, ...) and ``nn.initializers``.
"""
from rjax._src.nn import *  # noqa: F401,F403
from rjax.nn import attention, initializers  # noqa: F401
