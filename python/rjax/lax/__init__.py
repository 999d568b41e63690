"""``rjax.lax``: the primitive operations. Strict: no dtype promotion.

Each family lives in one module under ``rjax/_src/lax/`` and lists its public
names in ``__all__``; this file only re-exports them.
"""
from rjax._src.lax.lax import *  # noqa: F401,F403
from rjax._src.lax.shapes import *  # noqa: F401,F403
from rjax._src.lax.slicing import *  # noqa: F401,F403
from rjax._src.lax.reductions import *  # noqa: F401,F403
from rjax._src.lax.dot import *  # noqa: F401,F403
from rjax._src.lax.convolution import *  # noqa: F401,F403
from rjax._src.lax.windowed_reductions import *  # noqa: F401,F403
from rjax._src.custom_derivatives import stop_gradient  # noqa: F401
from rjax._src.lax.parallel import *  # noqa: F401,F403
from rjax._src.lax.control_flow import *  # noqa: F401,F403
