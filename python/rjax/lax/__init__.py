"""``rjax.lax``: the primitive operations. Strict: no dtype promotion.

Each family lives in one module under ``rjax/_src/lax/`` and lists its public
names in ``__all__``; this file only re-exports them.
"""
from rjax._src.lax import *  # noqa: F401,F403
from rjax._src.lax import __all__  # noqa: F401
