"""``jax.scipy.stats.gaussian_kde``: a Gaussian kernel density estimate
(Scott's or Silverman's bandwidth, a scalar or a callable), a pytree, with
evaluate/logpdf, the 1-d box integral, Gaussian and KDE products and
resampling."""
from __future__ import annotations

import functools

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base.tree_util import register_pytree_node_class
from rjax._src.numpy import linalg_decomp
from rjax._src.numpy.util import check_arraylike, promote_dtypes_inexact
from rjax._src.random import core as random
from rjax._src.scipy import linalg, special
from rjax._src.transforms.api import vmap
from rjax._src.transforms.jit import jit

__all__ = ["gaussian_kde"]


@register_pytree_node_class
class gaussian_kde:
  """A Gaussian KDE of ``dataset`` (shape (d, n), or (n,) for d = 1)."""
  __slots__ = ("neff", "dataset", "weights", "covariance", "inv_cov")

  def __init__(self, dataset, bw_method=None, weights=None):
    check_arraylike("gaussian_kde", dataset)
    dataset = jnp.atleast_2d(dataset)
    if np.issubdtype(lax.dtype(dataset), np.complexfloating):
      raise NotImplementedError("gaussian_kde does not support complex data")
    if not dataset.size > 1:
      raise ValueError("`dataset` input should have multiple elements.")
    d, n = dataset.shape
    if weights is not None:
      check_arraylike("gaussian_kde", weights)
      dataset, weights = promote_dtypes_inexact(dataset, weights)
      weights = jnp.atleast_1d(weights)
      weights = weights / jnp.sum(weights)
      if weights.ndim != 1:
        raise ValueError("`weights` input should be one-dimensional.")
      if len(weights) != n:
        raise ValueError("`weights` input should be of length n")
    else:
      dataset, = promote_dtypes_inexact(dataset)
      weights = jnp.full(n, 1.0 / n, dtype=dataset.dtype)
    self._set("dataset", dataset)
    self._set("weights", weights)
    neff = self._set("neff", 1 / jnp.sum(weights ** 2))
    bw_method = "scott" if bw_method is None else bw_method
    if isinstance(bw_method, str) and bw_method == "scott":
      factor = jnp.power(neff, -1. / (d + 4))
    elif isinstance(bw_method, str) and bw_method == "silverman":
      factor = jnp.power(neff * (d + 2) / 4.0, -1. / (d + 4))
    elif jnp.isscalar(bw_method) and not isinstance(bw_method, str):
      factor = bw_method
    elif callable(bw_method):
      factor = bw_method(self)
    else:
      raise ValueError("`bw_method` should be 'scott', 'silverman', a scalar, or a callable.")
    data_cov = jnp.atleast_2d(jnp.cov(dataset, rowvar=1, bias=False, aweights=weights))
    data_inv_cov = linalg_decomp.inv(data_cov)
    self._set("covariance", data_cov * factor ** 2)
    self._set("inv_cov", data_inv_cov / factor ** 2)

  def _set(self, name, value):
    object.__setattr__(self, name, value)
    return value

  def __setattr__(self, name, value):
    raise AttributeError(f"cannot assign to field {name!r} (gaussian_kde is frozen)")

  def tree_flatten(self):
    return (self.neff, self.dataset, self.weights, self.covariance, self.inv_cov), None

  @classmethod
  def tree_unflatten(cls, aux_data, children):
    kde = cls.__new__(cls)
    for name, value in zip(cls.__slots__, children):
      kde._set(name, value)
    return kde

  @property
  def d(self):
    return self.dataset.shape[0]

  @property
  def n(self):
    return self.dataset.shape[1]

  def evaluate(self, points):
    """The estimated density at ``points`` (shape (d, m))."""
    check_arraylike("evaluate", points)
    points = self._reshape_points(points)
    return _kernel_eval(False, self.dataset.T, self.weights[:, None], points.T,
                        self.inv_cov)[:, 0]

  def __call__(self, points):
    return self.evaluate(points)

  def integrate_gaussian(self, mean, cov):
    """The integral of the density times N(mean, cov)."""
    mean = jnp.atleast_1d(jnp.squeeze(mean))
    cov = jnp.atleast_2d(cov)
    if mean.shape != (self.d,):
      raise ValueError(f"mean does not have dimension {self.d}")
    if cov.shape != (self.d, self.d):
      raise ValueError(f"covariance does not have dimension {self.d}")
    chol = linalg.cho_factor(self.covariance + cov)
    norm = 1.0 / (jnp.sqrt(2 * np.pi) ** self.d * jnp.prod(jnp.diag(chol[0])))
    return _kernel_convolve(chol, norm, self.dataset, self.weights, mean)

  def integrate_box_1d(self, low, high):
    """The integral of a 1-d density over [low, high]."""
    if self.d != 1:
      raise ValueError("integrate_box_1d() only handles 1D pdfs")
    if np.ndim(low) != 0 or np.ndim(high) != 0:
      raise ValueError("the limits of integration in integrate_box_1d must be scalars")
    return _integrate_box_1d(self, low, high)

  def integrate_kde(self, other):
    """The integral of the product of two KDEs."""
    if other.d != self.d:
      raise ValueError("KDEs are not the same dimensionality")
    chol = linalg.cho_factor(self.covariance + other.covariance)
    norm = 1.0 / (jnp.sqrt(2 * np.pi) ** self.d * jnp.prod(jnp.diag(chol[0])))
    sm, lg = (self, other) if self.n < other.n else (other, self)
    result = vmap(functools.partial(_kernel_convolve, chol, norm, lg.dataset, lg.weights),
                  in_axes=1)(sm.dataset)
    return jnp.sum(result * sm.weights)

  def resample(self, key, shape=()):
    """Samples of shape (d,) + shape: a data point drawn by weight plus
    N(0, covariance) noise."""
    return _resample(self, key, tuple(shape))

  def pdf(self, x):
    """The density at ``x`` (``evaluate``)."""
    return self.evaluate(x)

  def logpdf(self, x):
    """The log density at ``x``."""
    check_arraylike("logpdf", x)
    x = self._reshape_points(x)
    return _kernel_eval(True, self.dataset.T, self.weights[:, None], x.T, self.inv_cov)[:, 0]

  def integrate_box(self, low_bounds, high_bounds, maxpts=None):
    raise NotImplementedError("only 1D box integrations are supported; use `integrate_box_1d`")

  def set_bandwidth(self, bw_method=None):
    raise NotImplementedError("dynamically changing the bandwidth method is not supported")

  def _reshape_points(self, points):
    if np.issubdtype(lax.dtype(points), np.complexfloating):
      raise NotImplementedError("gaussian_kde does not support complex coordinates")
    points = jnp.atleast_2d(points)
    d, m = points.shape
    if d != self.d:
      if d == 1 and m == self.d:
        points = jnp.reshape(points, (self.d, 1))
      else:
        raise ValueError(f"points have dimension {d}, dataset has dimension {self.d}")
    return points


@jit
def _integrate_box_1d(kde, low, high):
  sigma = jnp.squeeze(jnp.sqrt(kde.covariance))
  low = jnp.squeeze((low - kde.dataset) / sigma)
  high = jnp.squeeze((high - kde.dataset) / sigma)
  return jnp.sum(kde.weights * (special.ndtr(high) - special.ndtr(low)))


@functools.partial(jit, static_argnums=(2,))
def _resample(kde, key, shape):
  ind_key, eps_key = random.split(key)
  ind = random.choice(ind_key, kde.n, shape=shape, p=kde.weights)
  eps = random.multivariate_normal(eps_key, jnp.zeros(kde.d, kde.covariance.dtype),
                                   kde.covariance, shape=shape, dtype=kde.dataset.dtype).T
  return kde.dataset[:, ind] + eps


def _kernel_convolve(chol, norm, target, weights, mean):
  diff = target - mean[:, None]
  alpha = linalg.cho_solve(chol, diff)
  arg = 0.5 * jnp.sum(diff * alpha, axis=0)
  return norm * jnp.sum(jnp.exp(-arg) * weights)


@functools.partial(jit, static_argnums=0)
def _kernel_eval(in_log, points, values, xi, precision):
  points, values, xi, precision = promote_dtypes_inexact(points, values, xi, precision)
  d = points.shape[1]
  if xi.shape[1] != d:
    raise ValueError("points and xi must have same trailing dim")
  if precision.shape != (d, d):
    raise ValueError("precision matrix must match data dims")
  whitening = linalg.cholesky(precision, lower=True)
  points = jnp.dot(points, whitening)
  xi = jnp.dot(xi, whitening)
  log_norm = jnp.sum(jnp.log(jnp.diag(whitening))) - 0.5 * d * jnp.log(2 * np.pi)

  def kernel(x_test, x_train, y_train):
    arg = log_norm - 0.5 * jnp.sum(jnp.square(x_train - x_test))
    return jnp.log(y_train) + arg if in_log else y_train * jnp.exp(arg)

  reduce = special.logsumexp if in_log else jnp.sum
  reduced = lambda x: reduce(vmap(kernel, in_axes=(None, 0, 0))(x, points, values), axis=0)
  return vmap(reduced)(xi)
