"""``rjax.lax``: the primitive operations. Strict: no dtype promotion.

Each family lives in one module under ``rjax/_src/lax/`` and lists its public
names in ``__all__``; this file only re-exports them.
"""
from rjax._src.lax import *  # noqa: F401,F403
from rjax._src.lax import __all__  # noqa: F401

# The primitive objects, under JAX's names (``lax.exp_p``, ``lax.while_p``...):
# every rjax primitive whose ``<name>_p`` JAX's ``jax.lax`` also exports.
from rjax._src import core as _core  # noqa: E402
from rjax._src.interpreters.remat import optimization_barrier  # noqa: E402,F401
from rjax._src.lax import parallel as _parallel  # noqa: E402

_JAX_INTERNAL = {"add_any", "custom_lin", "custom_vmap_call", "debug_callback", "linear_call",
                 "pure_callback", "psum_scatter", "name", "remat2",
                 "threefry2x32"}
# where JAX's exported name is not ``<primitive name>_p``
_JAX_NAMES = {"custom_linear_solve": "linear_solve_p"}
# ``lax.linalg``'s primitives live in ``rjax.lax.linalg``, as in JAX
from rjax._src.lax import linalg as _linalg, linalg_eig as _linalg_eig  # noqa: E402
_LINALG = {n[:-2] for m in (_linalg, _linalg_eig) for n in m.__dict__ if n.endswith("_p")}
for _p in list(_core.primitives.values()) + list(_parallel.COLLECTIVES):
  if _p.name not in _JAX_INTERNAL and _p.name not in _LINALG:
    globals()[_JAX_NAMES.get(_p.name, _p.name.replace("-", "_") + "_p")] = _p
del _p

from rjax.lax import linalg  # noqa: E402,F401
