"""The nn library (Flax linen's module library plus ``jax.nn``'s functions):
this package's namespace is ``rjax.nn``'s, which re-exports it."""
import types as _types

from rjax._src.nn.module import (  # noqa: F401
    Module, compact, nowrap, Variable, DenyList, merge_param, apply, init,
    ScopeParamShapeError, ScopeParamNotFoundError, InvalidRngError, ModifyScopeVariableError,
    NameInUseError)
from rjax._src.nn.activations import *  # noqa: F401,F403
from rjax._src.nn.linear import Dense, DenseGeneral, Embed, promote_dtype  # noqa: F401
from rjax._src.nn.normalization import LayerNorm, RMSNorm, GroupNorm, BatchNorm  # noqa: F401
from rjax._src.nn.stochastic import Dropout  # noqa: F401
from rjax._src.nn.functions_attention import dot_product_attention  # noqa: F401
from rjax._src.nn.attention import (  # noqa: F401
    dot_product_attention_weights, make_attention_mask,
    make_causal_mask, combine_masks, MultiHeadDotProductAttention, MultiHeadAttention,
    SelfAttention)
from rjax._src.nn.combinators import Sequential  # noqa: F401
from rjax._src.nn.conv import (  # noqa: F401
    Conv, ConvTranspose, pool, avg_pool, max_pool, min_pool)

# Everything imported above (``initializers`` and ``attention`` stay submodules).
__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and not isinstance(_v, _types.ModuleType)]
