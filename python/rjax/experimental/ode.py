"""``rjax.experimental.ode``: ``odeint``, adaptive Dormand-Prince with adjoint
gradients (``jax.experimental.ode``)."""
from rjax._src.experimental.ode import *  # noqa: F401,F403
from rjax._src.experimental.ode import __all__  # noqa: F401
