"""``rjax.numpy.fft``: discrete Fourier transforms (JAX's ``jax.numpy.fft``)."""
from rjax._src.numpy.fft import *  # noqa: F401,F403
from rjax._src.numpy.fft import __all__  # noqa: F401
