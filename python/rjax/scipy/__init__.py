"""``rjax.scipy`` (``jax.scipy``): every public module of JAX 0.10.2."""
from rjax.scipy import (cluster, fft, integrate, interpolate, linalg, ndimage, optimize,  # noqa: F401
                        signal, sparse, spatial, special, stats)
