"""Every rjax primitive object under JAX's name ``<name>_p``
(``jax.extend.core.primitives``)."""
from rjax._src import core as _core
from rjax._src.interpreters.ad import add_jaxvals_p  # noqa: F401
from rjax._src.interpreters.custom_derivatives import custom_lin_p  # noqa: F401
from rjax._src.interpreters.remat import remat_p  # noqa: F401
from rjax._src.lax import parallel as _parallel

for _p in list(_core.primitives.values()) + list(_parallel.COLLECTIVES):
  if _p.name not in ("add_any", "remat2"):
    globals()[_p.name.replace("-", "_") + "_p"] = _p
del _p
