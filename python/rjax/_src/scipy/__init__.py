"""``jax.scipy``: special functions, distributions, signal processing,
optimisation, sparse solvers, interpolation, rotations, clustering and the
DCT, written with rjax.numpy and lax."""
from rjax._src.scipy import (cluster, fft, integrate, interpolate, linalg, ndimage,  # noqa: F401
                             optimize, signal, sparse, spatial, special, stats)
