"""``rjax.scipy.signal`` (``jax.scipy.signal``)."""
from rjax._src.scipy.signal import *  # noqa: F401,F403
from rjax._src.scipy.signal_spectral import *  # noqa: F401,F403
