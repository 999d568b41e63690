"""``rjax.nn.attention``: Flax linen's attention (``flax.linen.attention``):
the Flax-signature ``dot_product_attention`` (layout
``[batch..., length, heads, head_dim]``, dropout, ``module`` sowing) that
the attention modules use, its weights, masks and the modules.
``rjax.nn.dot_product_attention`` is ``jax.nn``'s."""
from rjax._src.nn.attention import *  # noqa: F401,F403
from rjax._src.nn.attention import __all__  # noqa: F401
