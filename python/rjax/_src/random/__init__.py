"""``rjax.random`` (a library: keys and samplers written with lax and
rjax.numpy). ``core``: keys and the direct samplers; ``loops``: the
rejection samplers on ``while_loop``; ``distributions``: the samplers built
on those; ``prng``: the threefry2x32 primitive."""
from rjax._src.random.core import *  # noqa: F401,F403
from rjax._src.random.core import __all__ as _core_all
from rjax._src.random.loops import *  # noqa: F401,F403
from rjax._src.random.loops import __all__ as _loops_all
from rjax._src.random.distributions import *  # noqa: F401,F403
from rjax._src.random.distributions import __all__ as _dist_all

__all__ = [*_core_all, *_loops_all, *_dist_all]
