"""``rjax.scipy.fft`` (``jax.scipy.fft``)."""
from rjax._src.scipy.fft import *  # noqa: F401,F403
