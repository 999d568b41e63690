"""rjax.scipy.stats' distributions (every one JAX 0.10.2 has), gaussian_kde and
mode/rankdata/sem: float32 values against JAX over hypothesis-drawn inputs
with edge parameters and special values, float64 values against SciPy,
gradients (numerical checks in float64), jit/vmap, and bad input."""
import numpy as np
import pytest
import scipy.stats as ss
from hypothesis import given, settings, strategies as st

import jax
import jax.scipy.stats as jstats

import rjax
import rjax.numpy as jnp
import rjax.scipy.stats as rstats
from rjax.test_util import check_grads
from util import enable_x64, assert_matches

N = 16
XS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -7.0, 30.0, 1e-3, 0.999, np.inf, -np.inf, np.nan, 3.0, 4.0]
PARAMS = [0.5, 1.0, 2.5, 1e-3, 7.0, 30.0, 0.0, -1.0, np.nan, 0.25]
PROBS = [0.0, 1.0, 0.5, 1e-3, 0.999, 0.2, 0.75, -0.1, 1.1, np.nan]

# no subnormals: XLA flushes them to zero, rjax keeps them (test_scipy_basic.py)
_floats = lambda lo, hi: st.floats(lo, hi, width=32, allow_subnormal=False)
xs_st = st.lists(st.one_of(st.sampled_from(XS), _floats(-40, 40)), max_size=N)
params_st = st.lists(st.one_of(st.sampled_from(PARAMS), _floats(0.015625, 40)), max_size=N)
probs_st = st.lists(st.one_of(st.sampled_from(PROBS), _floats(0, 1)), max_size=N)
counts_st = st.lists(st.integers(-2, 40).map(float), max_size=N)
STRATS = {"x": xs_st, "p": params_st, "q": probs_st, "k": counts_st}


def _fixed(vals, fill):
  vals = list(vals)[:N]
  return np.asarray(vals + [fill] * (N - len(vals)), np.float32)




def _close(got, want, rtol=1e-5, atol=1e-6):
  """``assert_matches``, except where JAX's log-probability is -inf and
  rjax's is finite but below the log of the smallest normal float: there
  the probability is subnormal, which XLA flushes to zero (so JAX takes
  log(0)) and rjax keeps (e.g. beta.logcdf of 6e-8 with a = 6: -96.5)."""
  got, want = np.asarray(got), np.asarray(want)
  if got.shape == want.shape and got.dtype == want.dtype and got.dtype.kind == "f":
    flushed = np.isneginf(want) & np.isfinite(got) & (got < np.log(np.finfo(got.dtype).tiny))
    got = np.where(flushed, -np.inf, got).astype(got.dtype)
  assert_matches(got, want, rtol, atol)


def test_every_name_of_jax_scipy_stats_is_here():
  for name in dir(jstats):
    if name.startswith("_"):
      continue
    assert hasattr(rstats, name), name
    jmod = getattr(jstats, name)
    if type(jmod).__name__ == "module":
      for fn in dir(jmod):
        if not fn.startswith("_") and callable(getattr(jmod, fn)):
          assert callable(getattr(getattr(rstats, name), fn)), (name, fn)


# distribution -> (argument kinds, fill values, rtol, atol); "x" a point, "p" a
# positive parameter, "q" a probability, "k" a count. XLA's lgamma/log/exp differ
# from rjax's by a few ulp, hence the 1e-5-ish tolerances where they are composed.
DISTS = {
    "bernoulli": {"logpmf": ("kq", (1.0, 0.3)), "pmf": ("kq", (1.0, 0.3)), "cdf": ("kq", (1.0, .3)),
                  "ppf": ("qq", (0.5, 0.3))},
    "beta": {f: ("qpp", (0.5, 2.0, 3.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")},
    "betabinom": {f: ("kppp", (3.0, 10.0, 2.0, 3.0)) for f in ("logpmf", "pmf")},
    "binom": {f: ("kpq", (3.0, 10.0, 0.3)) for f in ("logpmf", "pmf")},
    "cauchy": {**{f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf",
                                                       "logsf")},
               "ppf": ("qxp", (0.3, 0.0, 1.0)), "isf": ("qxp", (0.3, 0.0, 1.0))},
    "chi2": {f: ("xpxp", (1.5, 3.0, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf",
                                                         "logsf")},
    "expon": {**{f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf",
                                                      "logsf")},
              "ppf": ("qxp", (0.3, 0.0, 1.0))},
    "gamma": {f: ("xpxp", (1.5, 2.0, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf",
                                                          "logsf")},
    "gennorm": {f: ("xp", (0.5, 2.0)) for f in ("logpdf", "pdf", "cdf")},
    "geom": {f: ("kq", (3.0, 0.3)) for f in ("logpmf", "pmf")},
    "gumbel_l": {**{f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf",
                                                         "logsf")},
                 "ppf": ("qxp", (0.3, 0.0, 1.0))},
    "gumbel_r": {**{f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf",
                                                         "logsf")},
                 "ppf": ("qxp", (0.3, 0.0, 1.0))},
    "laplace": {f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf")},
    "logistic": {**{f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "sf")},
                 "ppf": ("qxp", (0.3, 0.0, 1.0)), "isf": ("qxp", (0.3, 0.0, 1.0))},
    "nbinom": {f: ("kpq", (3.0, 5.0, 0.3)) for f in ("logpmf", "pmf")},
    "pareto": {**{f: ("xpxp", (2.5, 3.0, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf",
                                                             "sf", "logsf")},
               "ppf": ("qpxp", (0.3, 3.0, 0.0, 1.0))},
    "poisson": {f: ("kp", (3.0, 2.5)) for f in ("logpmf", "pmf", "cdf")},
    "t": {f: ("xpxp", (0.5, 3.0, 0.0, 1.0)) for f in ("logpdf", "pdf")},
    "truncnorm": {f: ("xxxxp", (0.5, -1.0, 2.0, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf",
                                                                      "logcdf", "sf", "logsf")},
    "uniform": {**{f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf")},
                "ppf": ("qxp", (0.3, 0.0, 1.0))},
    "vonmises": {f: ("xp", (0.5, 2.0)) for f in ("logpdf", "pdf")},
    "wrapcauchy": {f: ("xq", (0.5, 0.3)) for f in ("logpdf", "pdf")},
    "norm": {**{f: ("xxp", (0.5, 0.0, 1.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf",
                                                     "logsf")},
             "ppf": ("qxp", (0.3, 0.0, 1.0)), "isf": ("qxp", (0.3, 0.0, 1.0))},
}
CASES = [(d, f) for d in sorted(DISTS) for f in sorted(DISTS[d])]
TOL = {"betabinom": 2e-4, "beta": 1e-4, "binom": 1e-4, "nbinom": 1e-4, "poisson": 1e-4,
       "truncnorm": 1e-4, "chi2": 5e-5, "gamma": 5e-5, "t": 5e-5, "gennorm": 5e-5}


def _args(dist, fn, draw=None):
  kinds, fills = DISTS[dist][fn]
  if draw is None:
    grid = {"x": XS, "p": PARAMS, "q": PROBS, "k": [float(k) for k in range(-1, 14)]}
    return [_fixed(grid[k], f) for k, f in zip(kinds, fills)]
  return [_fixed(draw(STRATS[k]), f) for k, f in zip(kinds, fills)]


@pytest.mark.parametrize("dist,fn", CASES, ids=[f"{d}.{f}" for d, f in CASES])
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_distribution_values_match_jax(dist, fn, data):
  args = _args(dist, fn, data.draw)
  rtol = TOL.get(dist, 2e-5)
  _close(getattr(getattr(rstats, dist), fn)(*args), getattr(getattr(jstats, dist), fn)(*args),
         rtol=rtol, atol=rtol / 10)


@pytest.mark.parametrize("dist,fn", CASES, ids=[f"{d}.{f}" for d, f in CASES])
def test_distribution_special_values_and_broadcasting(dist, fn):
  args = _args(dist, fn)
  rtol = TOL.get(dist, 2e-5)
  _close(getattr(getattr(rstats, dist), fn)(*args), getattr(getattr(jstats, dist), fn)(*args),
         rtol=rtol, atol=rtol / 10)
  # the first argument along one axis, the parameters along another
  args2 = [args[0][:, None]] + [a[:5][None, :] for a in args[1:]]
  _close(getattr(getattr(rstats, dist), fn)(*args2), getattr(getattr(jstats, dist), fn)(*args2),
         rtol=rtol, atol=rtol / 10)


@pytest.mark.parametrize("dist,fn", [("norm", "logpdf"), ("gamma", "cdf"), ("beta", "logpdf"),
                                     ("poisson", "logpmf"), ("t", "logpdf")])
def test_integer_and_python_scalar_arguments_promote_like_jax(dist, fn):
  args = _args(dist, fn)
  ints = [np.int32(3)] + [a[0] for a in args[1:]]
  _close(getattr(getattr(rstats, dist), fn)(*ints), getattr(getattr(jstats, dist), fn)(*ints),
         rtol=1e-4)
  py = [float(a[1]) for a in args]
  got, want = getattr(getattr(rstats, dist), fn)(*py), getattr(getattr(jstats, dist), fn)(*py)
  assert got.dtype == want.dtype and got.shape == want.shape


# --- float64 against SciPy --------------------------------------------------------------------

SCIPY64 = [
    ("beta", "cdf", (0.3, 2.0, 3.0)), ("beta", "logpdf", (0.3, 2.0, 3.0)),
    ("gamma", "sf", (2.5, 1.7)), ("gamma", "logcdf", (0.4, 3.0)), ("chi2", "cdf", (3.3, 4.0)),
    ("t", "logpdf", (0.7, 3.0)), ("poisson", "cdf", (4.0, 2.5)), ("binom", "logpmf", (3.0, 10, 0.3)),
    ("nbinom", "logpmf", (3.0, 5.0, 0.3)), ("betabinom", "logpmf", (3.0, 10.0, 2.0, 3.0)),
    ("truncnorm", "logcdf", (0.5, -1.0, 2.0)), ("truncnorm", "logpdf", (0.5, -1.0, 2.0)),
    ("gumbel_r", "logsf", (0.5,)), ("gumbel_l", "logcdf", (0.5,)), ("pareto", "ppf", (0.3, 3.0)),
    ("gennorm", "cdf", (0.5, 1.5)), ("vonmises", "logpdf", (0.5, 2.0)),
    ("wrapcauchy", "logpdf", (0.5, 0.3)), ("logistic", "isf", (0.3,)), ("cauchy", "logsf", (0.4,)),
]


@pytest.mark.parametrize("dist,fn,args", SCIPY64, ids=[f"{d}.{f}" for d, f, _ in SCIPY64])
def test_float64_values_match_scipy(dist, fn, args):
  with enable_x64():
    got = getattr(getattr(rstats, dist), fn)(*args)
    assert got.dtype == np.float64
  want = getattr(getattr(ss, dist), fn)(*args)
  # JAX's betaln (cdflib's algdiv series for b >= 8) is good to ~3e-7 here
  np.testing.assert_allclose(got, want, rtol=1e-6 if dist == "betabinom" else 1e-10)


def test_multivariate_distributions_match_jax_and_scipy():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(3, 3)).astype(np.float32)
  cov = a @ a.T + 3 * np.eye(3, dtype=np.float32)
  mean = np.float32([0.5, -1.0, 2.0])
  x = rng.normal(size=(5, 3)).astype(np.float32)
  for c in (cov, np.float32(2.0)):
    _close(rstats.multivariate_normal.logpdf(x, mean, c),
           jstats.multivariate_normal.logpdf(x, mean, c), rtol=1e-5, atol=1e-5)
  _close(rstats.multivariate_normal.pdf(x[0, 0], 0.5, 2.0),
         jstats.multivariate_normal.pdf(x[0, 0], 0.5, 2.0))
  alpha = np.float32([1.5, 2.0, 0.7])
  pts = np.float32([[0.2, 0.3], [0.5, 0.1], [0.3, 0.6]])
  _close(rstats.dirichlet.logpdf(pts, alpha), jstats.dirichlet.logpdf(pts, alpha), rtol=1e-5)
  _close(rstats.dirichlet.pdf(pts[:2], alpha), jstats.dirichlet.pdf(pts[:2], alpha), rtol=1e-5)
  counts = np.array([[1, 2, 3], [0, 6, 0], [2, 2, 1]], np.int32)
  p = np.float32([0.2, 0.5, 0.3])
  _close(rstats.multinomial.logpmf(counts, 6, p), jstats.multinomial.logpmf(counts, 6, p),
         rtol=1e-5)
  _close(rstats.multinomial.pmf(counts[0], 6, p), jstats.multinomial.pmf(counts[0], 6, p),
         rtol=1e-5)
  with enable_x64():
    got = rstats.multivariate_normal.logpdf(x.astype(np.float64), mean.astype(np.float64),
                                            cov.astype(np.float64))
  np.testing.assert_allclose(got, ss.multivariate_normal.logpdf(x, mean, cov), rtol=1e-5)


def test_poisson_entropy_matches_jax():
  mu = np.float32([0.0, 0.5, 3.0, 9.9, 10.0, 55.0, 99.0, 150.0, 1e4])
  _close(rstats.poisson.entropy(mu), jstats.poisson.entropy(mu), rtol=2e-5)
  _close(rstats.poisson.entropy(mu[:, None], np.zeros((1, 2))),
         jstats.poisson.entropy(mu[:, None], np.zeros((1, 2))), rtol=2e-5)


# --- gradients --------------------------------------------------------------------------------

GRADS = [("norm", "logcdf", (0.3, 0.1, 1.2)), ("gamma", "logpdf", (1.3, 2.0, 0.1, 1.5)),
         ("gamma", "cdf", (1.3, 2.0)), ("chi2", "sf", (2.5, 3.0)), ("beta", "logpdf", (0.3, 2, 3)),
         ("t", "logpdf", (0.4, 3.0)), ("cauchy", "logcdf", (0.3,)), ("logistic", "logpdf", (0.2,)),
         ("truncnorm", "logpdf", (0.5, -1.0, 2.0)), ("truncnorm", "logcdf", (0.5, -1.0, 2.0)),
         ("gumbel_r", "logsf", (0.5,)), ("pareto", "logpdf", (2.0, 3.0)),
         ("vonmises", "logpdf", (0.5, 2.0)), ("nbinom", "logpmf", (3.0, 5.0, 0.3)),
         ("laplace", "cdf", (0.4,)), ("gennorm", "cdf", (0.5, 1.5))]


@pytest.mark.parametrize("dist,fn,args", GRADS, ids=[f"{d}.{f}" for d, f, _ in GRADS])
def test_gradients_are_numerically_right(dist, fn, args):
  f = getattr(getattr(rstats, dist), fn)
  with enable_x64():
    check_grads(f, tuple(np.float64(a) for a in args), order=1, modes=["fwd", "rev"],
                atol=1e-5, rtol=1e-5)
  args32 = tuple(np.float32(a) for a in args)
  _close(rjax.grad(f)(*args32), jax.grad(getattr(getattr(jstats, dist), fn))(*args32),
         rtol=1e-4, atol=1e-6)


def test_multivariate_normal_gradient():
  cov = np.array([[2.0, 0.3], [0.3, 1.0]])
  with enable_x64():
    check_grads(lambda x, m, c: rstats.multivariate_normal.logpdf(x, m, c),
                (np.array([0.3, -0.2]), np.array([0.1, 0.2]), cov), order=1,
                modes=["fwd", "rev"], atol=1e-5, rtol=1e-5)


# --- transformations -------------------------------------------------------------------------

@pytest.mark.parametrize("dist,fn", [("gamma", "cdf"), ("beta", "sf"), ("truncnorm", "logcdf"),
                                     ("binom", "logpmf"), ("gumbel_l", "ppf")])
def test_jit_and_vmap_agree_with_eager(dist, fn):
  f = getattr(getattr(rstats, dist), fn)
  args = [a.reshape(4, 4) for a in _args(dist, fn)]
  eager = f(*args)
  _close(rjax.jit(f)(*args), eager, rtol=1e-6)
  _close(rjax.vmap(f)(*args), eager, rtol=1e-6)


# --- gaussian_kde -----------------------------------------------------------------------------

def test_gaussian_kde_matches_jax():
  rng = np.random.default_rng(1)
  data = rng.normal(size=(2, 30)).astype(np.float32)
  w = rng.uniform(0.5, 1.5, 30).astype(np.float32)
  pts = rng.normal(size=(2, 7)).astype(np.float32)
  for kw in ({}, {"bw_method": "silverman"}, {"bw_method": 0.4}, {"weights": w}):
    rk, jk = rstats.gaussian_kde(data, **kw), jstats.gaussian_kde(data, **kw)
    _close(rk.covariance, jk.covariance, rtol=1e-5, atol=1e-6)
    _close(rk.evaluate(pts), jk.evaluate(pts), rtol=1e-4, atol=1e-6)
    _close(rk.logpdf(pts), jk.logpdf(pts), rtol=1e-4, atol=1e-5)
    _close(rk.pdf(pts), jk(pts), rtol=1e-4, atol=1e-6)
    _close(rk.integrate_gaussian(np.float32([0.1, 0.2]), np.eye(2, dtype=np.float32)),
           jk.integrate_gaussian(np.float32([0.1, 0.2]), np.eye(2, dtype=np.float32)), rtol=1e-4)
    _close(rk.integrate_kde(rstats.gaussian_kde(data[:, :9])),
           jk.integrate_kde(jstats.gaussian_kde(data[:, :9])), rtol=1e-4)
  one_d = rstats.gaussian_kde(data[0]), jstats.gaussian_kde(data[0])
  _close(one_d[0].integrate_box_1d(-0.5, 1.0), one_d[1].integrate_box_1d(-0.5, 1.0), rtol=1e-5)
  sample = one_d[0].resample(rjax.random.key(0), (50,))
  assert sample.shape == (1, 50) and np.all(np.isfinite(sample))
  with enable_x64():
    kde64 = rstats.gaussian_kde(data.astype(np.float64))
    np.testing.assert_allclose(kde64.evaluate(pts), ss.gaussian_kde(data)(pts), rtol=1e-10)


def test_gaussian_kde_is_a_pytree_and_rejects_bad_input():
  kde = rstats.gaussian_kde(np.float32([[0.0, 1.0, 3.0, 4.5]]))
  leaves = rjax.tree_util.tree_leaves(kde)
  assert len(leaves) == 5
  f = rjax.jit(lambda k, x: k.evaluate(x))
  _close(f(kde, np.float32([[0.5, 2.0]])), kde.evaluate(np.float32([[0.5, 2.0]])), rtol=1e-6)
  for mod in (rstats, jstats):
    with pytest.raises(ValueError):
      mod.gaussian_kde(np.float32([1.0]))
    with pytest.raises(ValueError):
      mod.gaussian_kde(np.float32([[0.0, 1.0, 2.0]]), bw_method="nope")
    with pytest.raises(NotImplementedError):
      mod.gaussian_kde(np.float32([[0.0, 1.0, 2.0]])).integrate_box([0], [1])


# --- mode, rankdata, sem ----------------------------------------------------------------------

@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.0, 2.0, 3.0, -1.0, 5.5]), min_size=12, max_size=12))
def test_mode_rankdata_sem_match_jax(vals):
  x = np.asarray(vals, np.float32).reshape(3, 4)
  for axis in (0, 1, None):
    for keepdims in (False, True):
      _close(rstats.mode(x, axis, keepdims=keepdims).mode,
             jstats.mode(x, axis, keepdims=keepdims).mode)
      _close(rstats.mode(x, axis, keepdims=keepdims).count,
             jstats.mode(x, axis, keepdims=keepdims).count)
    _close(rstats.sem(x, axis), jstats.sem(x, axis), rtol=1e-5)
  for method in ("average", "min", "max", "dense", "ordinal"):
    _close(rstats.rankdata(x, method), jstats.rankdata(x, method))
    _close(rstats.rankdata(x, method, axis=1), jstats.rankdata(x, method, axis=1))
  x_nan = x.copy()
  x_nan[1, 2] = np.nan
  _close(rstats.rankdata(x_nan), jstats.rankdata(x_nan))
  _close(rstats.sem(x_nan, 1, nan_policy="omit"), jstats.sem(x_nan, 1, nan_policy="omit"),
         rtol=1e-5)


def test_sample_statistics_reject_bad_policies_like_jax():
  x = np.float32([1.0, 2.0, 2.0])
  for mod in (rstats, jstats):
    with pytest.raises(ValueError):
      mod.mode(x, nan_policy="nope")
    with pytest.raises(NotImplementedError):
      mod.rankdata(x, nan_policy="omit")
    with pytest.raises(ValueError):
      mod.rankdata(x, method="nope")
    with pytest.raises(ValueError):
      mod.sem(x, nan_policy="raise")
    with pytest.raises(ValueError):
      mod.dirichlet.logpdf(np.float32([0.5, 0.5]), np.float32([[1.0, 1.0]]))
    with pytest.raises(ValueError):
      mod.multinomial.logpmf(np.float32([1.0, 2.0]), 3, np.float32([0.5, 0.5]))
    with pytest.raises(ValueError):
      mod.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(3))


def test_inputs_are_not_mutated():
  x = np.float32([0.5, 1.5, 2.0])
  x0 = x.copy()
  rstats.gamma.cdf(x, 2.0); rstats.rankdata(x); rstats.gaussian_kde(x).evaluate(x)
  jnp.asarray(rstats.truncnorm.logcdf(x, -1.0, 1.0))
  np.testing.assert_array_equal(x, x0)
