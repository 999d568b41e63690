"""``jax.scipy.stats``: every distribution of JAX 0.10.2 (one module each),
gaussian_kde, and mode/rankdata/sem."""
from rjax._src.scipy.stats import (  # noqa: F401
    bernoulli, beta, betabinom, binom, cauchy, chi2, dirichlet, expon, gamma, gennorm, geom,
    gumbel_l, gumbel_r, laplace, logistic, multinomial, multivariate_normal, nbinom, norm,
    pareto, poisson, t, truncnorm, uniform, vonmises, wrapcauchy)
from rjax._src.scipy.stats._core import ModeResult, mode, rankdata, sem  # noqa: F401
from rjax._src.scipy.stats.kde import gaussian_kde  # noqa: F401
