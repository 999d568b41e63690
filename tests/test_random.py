"""rjax.random against JAX 0.10.2's values (tests/data/gen_random.py), under
jit and vmap, with statistical sanity checks and error cases."""
import importlib.util
import pathlib

import numpy as np
import pytest
import scipy.special
import scipy.stats

import rjax
import rjax.numpy as jnp
from rjax import random
from rjax._src import core

from util import bfloat16, enable_x64

_DATA = pathlib.Path(__file__).with_name("data")
_spec = importlib.util.spec_from_file_location("gen_random", _DATA / "gen_random.py")
gen_random = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_random)
EXPECTED = dict(np.load(_DATA / "random_jax_0_10_2.npz"))


# --- known answers (from the issue) ------------------------------------------

def test_known_answers():
  np.testing.assert_array_equal(random.PRNGKey(0), np.array([0, 0], np.uint32))
  np.testing.assert_array_equal(random.split(random.PRNGKey(0)),
                                [[1797259609, 2579123966], [928981903, 3453687069]])
  np.testing.assert_array_equal(random.fold_in(random.PRNGKey(0), 7), [2716826189, 292468403])
  np.testing.assert_array_equal(
      random.uniform(random.PRNGKey(42), (5,)),
      np.array([0.48870957, 0.67979717, 0.6162715, 0.56101608, 0.45064461], np.float32))
  np.testing.assert_allclose(
      random.normal(random.PRNGKey(0), (5,)),
      [1.6226422, 2.0252647, -0.43359444, -0.07861735, 0.1760909], rtol=1e-6)


def test_threefry_primitive_matches_reference():
  from rjax._src.random.prng import _threefry2x32_ref, threefry2x32
  rng = np.random.default_rng(0)
  k0, k1 = (rng.integers(0, 2 ** 32, (3, 1), dtype=np.uint32) for _ in range(2))
  x0, x1 = (rng.integers(0, 2 ** 32, (1, 40), dtype=np.uint32) for _ in range(2))
  got = threefry2x32(k0, k1, x0, x1)
  want = _threefry2x32_ref(k0, k1, x0, x1)
  for g, w in zip(got, want):
    np.testing.assert_array_equal(g, w)


# --- the table of JAX values --------------------------------------------------

def _tolerance(name, dtype):
  """Exact for keys, bits, integers, booleans and uniforms; a few ulp for
  floats computed through transcendental functions; rounding-level for the
  samplers that factor a matrix (JAX uses LAPACK)."""
  if dtype.kind in "uib" or "/uniform/" in f"/{name}" or name.startswith("uniform"):
    return None
  if "multivariate_normal" in name or "orthogonal" in name:
    return {"float32": 2e-5, "float64": 1e-12}[dtype.name]
  return {"float16": 2e-3, "bfloat16": 1e-2, "float32": 2e-6, "float64": 1e-14}[dtype.name]


# Samplers written with while_loop. Their float results go through log/exp/
# pow/erf_inv, where rjax's kernels and XLA's differ by an ulp or so (XLA also
# contracts a*b+c to FMAs, and flushes subnormal results to zero), and the
# loop accepts or rejects by comparing such values: a difference of an ulp at
# an acceptance boundary makes that element take another sample. So these
# tables are compared element by element and the mismatches counted.
_LOOP_SAMPLERS = ("gamma/", "loggamma/", "beta/", "dirichlet/", "t/", "chisquare/", "f/",
                  "poisson/")


def _is_loop_sampler(name):
  return name.replace("x64/", "").startswith(_LOOP_SAMPLERS)


def _loop_errors(name, got, want):
  """Error of each element in units of eps times the value's scale: the value
  for gamma and t; max(|x|, 1) for log-gammas (an absolute error in log space);
  |x| (1 + |log x|) for the samplers that exponentiate log-gammas (exp turns
  an error of d in log space into a relative error of d)."""
  fi = np.finfo(want.dtype)
  got, want = got.astype(np.float64), want.astype(np.float64)
  if "loggamma/" in name:
    scale = np.maximum(np.abs(want), 1.0)
  elif name.replace("x64/", "").startswith(("beta/", "dirichlet/", "chisquare/", "f/")):
    scale = np.abs(want) * (1 + np.abs(np.log(np.maximum(np.abs(want), fi.tiny))))
  else:
    scale = np.abs(want)
  # XLA flushes subnormals to zero: below `tiny`, equal
  return np.abs(got - want) / (fi.eps * scale + fi.tiny)


def _check_loop_sampler(name, got, want):
  if want.dtype.kind in "iu":
    # poisson: integers; 1 of 2700 elements of the table differs (a rejection
    # at the boundary: lgamma differs by an ulp)
    assert np.sum(got != want) <= max(1, got.size // 1000), name
    return
  if name.endswith("/grad"):
    # the implicit gradient sums a series / continued fraction: measured <= 11 eps
    err = np.abs(got.astype(np.float64) - want) / (np.finfo(want.dtype).eps * np.abs(want))
    assert np.all(err <= 64), (name, err.max())
    return
  err = _loop_errors(name, got, want)
  # measured: 41-100% of the elements are bit-exact, all float32 within 5 eps,
  # >= 98.9% of float64 within 16 eps and all within 122 eps (XLA's float64
  # log/log1p are not libm's); no element takes another rejection branch here
  assert np.mean(err == 0) >= 0.35, (name, np.mean(err == 0))
  limit = 16 if want.dtype == np.float32 or want.size < 10 else 128
  assert np.mean(err <= 16) >= (1.0 if want.dtype == np.float32 else 0.985), name
  assert np.all(err <= limit), (name, err.max())


def _check(name, got):
  want = EXPECTED[name]
  if want.dtype.kind == "V":  # bfloat16, stored without its dtype
    want = want.view(bfloat16)
  got = np.asarray(got)
  assert got.shape == want.shape, (got.shape, want.shape)
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  if _is_loop_sampler(name):
    return _check_loop_sampler(name, got, want)
  tol = _tolerance(name, want.dtype)
  if tol is None:
    np.testing.assert_array_equal(got, want, err_msg=name)
  else:
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol,
                               atol=tol, err_msg=name)


_X32 = sorted(gen_random.cases(random, jnp, False))
_X64 = sorted(gen_random.cases(random, jnp, True))


def test_table_covers_data():
  assert set(_X32) | set(_X64) == set(EXPECTED)


@pytest.mark.parametrize("name", _X32)
def test_matches_jax(name):
  _check(name, gen_random.cases(random, jnp, False)[name]())


@pytest.mark.parametrize("name", _X64)
def test_matches_jax_x64(name):
  with enable_x64():
    _check(name, gen_random.cases(random, jnp, True)[name]())


# --- transformations ----------------------------------------------------------

SAMPLERS = {
    "bits": lambda k: random.bits(k, (3, 4)),
    "uniform": lambda k: random.uniform(k, (5,), minval=-1., maxval=2.),
    "normal": lambda k: random.normal(k, (2, 3)),
    "randint": lambda k: random.randint(k, (6,), -3, 9),
    "bernoulli": lambda k: random.bernoulli(k, 0.3, (7,)),
    "exponential": lambda k: random.exponential(k, (4,)),
    "gumbel": lambda k: random.gumbel(k, (4,)),
    "categorical": lambda k: random.categorical(k, jnp.array([0.1, 1.0, -2.0]), shape=(5,)),
    "choice": lambda k: random.choice(k, 9, (4,), replace=False),
    "permutation": lambda k: random.permutation(k, 6),
    "truncated_normal": lambda k: random.truncated_normal(k, -0.5, 1.5, (4,)),
    "split": lambda k: random.split(k, 3),
    "fold_in": lambda k: random.fold_in(k, 5),
    "gamma": lambda k: random.gamma(k, jnp.array([0.3, 1., 4.]), (2, 3)),
    "loggamma": lambda k: random.loggamma(k, 0.2, (4,)),
    "beta": lambda k: random.beta(k, 0.5, jnp.array([1., 3.])),
    "dirichlet": lambda k: random.dirichlet(k, jnp.array([0.5, 1., 2.]), (2,)),
    "t": lambda k: random.t(k, 3., (4,)),
    "chisquare": lambda k: random.chisquare(k, jnp.array([1., 6.])),
    "f": lambda k: random.f(k, 4., 7., (3,)),
    "poisson": lambda k: random.poisson(k, jnp.array([0.5, 4., 9.99, 10., 60.]), (2, 5)),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_jit_equals_eager(name):
  f = SAMPLERS[name]
  k = random.PRNGKey(123)
  np.testing.assert_array_equal(rjax.jit(f)(k), f(k))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_vmap_over_keys_equals_loop(name):
  f = SAMPLERS[name]
  keys = random.split(random.PRNGKey(7), 4)
  got = rjax.vmap(f)(keys)
  want = np.stack([np.asarray(f(keys[i])) for i in range(4)])
  if name == "dirichlet":
    # rjax's fused `x / reduce_sum(x)` rounds differently from the unfused one
    # by an ulp (a core fusion difference, reported in issue #5's notes)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)
    np.testing.assert_allclose(rjax.jit(rjax.vmap(f))(keys), want, rtol=3e-7, atol=0)
    return
  np.testing.assert_array_equal(got, want)
  np.testing.assert_array_equal(rjax.jit(rjax.vmap(f))(keys), want)


def test_vmap_over_typed_keys_and_fold_in_data():
  keys = random.split(random.key(1), 3)
  assert keys.shape == (3,) and str(keys.dtype) == "key<fry>"
  got = rjax.vmap(lambda k: random.uniform(k, (2,)))(keys)
  want = np.stack([np.asarray(random.uniform(k, (2,))) for k in keys])
  np.testing.assert_array_equal(got, want)
  folded = rjax.vmap(lambda d: random.fold_in(random.PRNGKey(0), d))(jnp.arange(4))
  want = np.stack([np.asarray(random.fold_in(random.PRNGKey(0), i)) for i in range(4)])
  np.testing.assert_array_equal(folded, want)


def test_typed_keys_roundtrip_and_jit():
  k = random.key(5)
  assert k.shape == () and k.ndim == 0
  data = random.key_data(k)
  np.testing.assert_array_equal(data, random.PRNGKey(5))
  k2 = random.wrap_key_data(data)
  assert bool(k2 == k)
  ks = rjax.jit(lambda k: random.split(k, 4))(k)
  assert isinstance(ks, random.PRNGKeyArray) and ks.shape == (4,)
  np.testing.assert_array_equal(random.key_data(ks), random.split(random.PRNGKey(5), 4))
  np.testing.assert_array_equal(random.key_data(ks[1:3]), random.split(random.PRNGKey(5), 4)[1:3])
  np.testing.assert_array_equal(random.normal(k, (3,)), random.normal(data, (3,)))
  assert "key<fry>" in repr(k)


def test_grad_through_uniform_bounds_and_normal_reparam():
  k = random.PRNGKey(3)
  u = np.asarray(random.uniform(k, (8,)))
  g = rjax.grad(lambda lo, hi: jnp.sum(random.uniform(k, (8,), minval=lo, maxval=hi)),
                argnums=(0, 1))(0.5, 2.0)
  np.testing.assert_allclose(g[0], np.sum(1 - u), rtol=1e-5)
  np.testing.assert_allclose(g[1], np.sum(u), rtol=1e-5)
  z = np.asarray(random.normal(k, (8,)))
  gm, gs = rjax.grad(lambda m, s: jnp.sum(m + s * random.normal(k, (8,))), argnums=(0, 1))(1., 2.)
  np.testing.assert_allclose(gm, 8.0)
  np.testing.assert_allclose(gs, z.sum(), rtol=1e-5)


def test_jaxpr_shows_threefry():
  text = str(rjax.make_jaxpr(lambda k: random.uniform(k, (3,)))(random.PRNGKey(0)))
  assert "threefry2x32" in text


# --- statistics ---------------------------------------------------------------

N = 20000


def _ks(sample, cdf):
  p = scipy.stats.kstest(np.asarray(sample, np.float64), cdf).pvalue
  assert p > 1e-4, p


@pytest.mark.parametrize("name,sample,dist", [
    ("uniform", lambda k: random.uniform(k, (N,), minval=-1., maxval=3.),
     scipy.stats.uniform(-1, 4)),
    ("normal", lambda k: random.normal(k, (N,)), scipy.stats.norm()),
    ("exponential", lambda k: random.exponential(k, (N,)), scipy.stats.expon()),
    ("laplace", lambda k: random.laplace(k, (N,)), scipy.stats.laplace()),
    ("logistic", lambda k: random.logistic(k, (N,)), scipy.stats.logistic()),
    ("gumbel", lambda k: random.gumbel(k, (N,)), scipy.stats.gumbel_r()),
    ("gumbel_high", lambda k: random.gumbel(k, (N,), mode="high"), scipy.stats.gumbel_r()),
    ("gumbel_highest", lambda k: random.gumbel(k, (N,), mode="highest"), scipy.stats.gumbel_r()),
    ("cauchy", lambda k: random.cauchy(k, (N,)), scipy.stats.cauchy()),
    ("truncated_normal", lambda k: random.truncated_normal(k, -1., 2., (N,)),
     scipy.stats.truncnorm(-1., 2.)),
])
def test_distribution_ks_and_moments(name, sample, dist):
  x = np.asarray(sample(random.PRNGKey(2024)), np.float64)
  _ks(x, dist.cdf)
  if name != "cauchy":
    assert abs(x.mean() - dist.mean()) < 5 * dist.std() / np.sqrt(N)
    assert abs(x.std() / dist.std() - 1) < 0.05


def test_normal_float64_ks():
  with enable_x64():
    x = random.normal(random.PRNGKey(1), (N,), jnp.float64)
    assert x.dtype == np.float64
    _ks(x, scipy.stats.norm().cdf)


def test_discrete_distributions():
  k = random.PRNGKey(99)
  b = np.asarray(random.bernoulli(k, 0.3, (N,)))
  assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 5 * np.sqrt(0.21 / N)
  r = np.asarray(random.randint(k, (N,), 3, 13))
  assert r.min() == 3 and r.max() == 12
  counts = np.bincount(r - 3, minlength=10)
  assert scipy.stats.chisquare(counts).pvalue > 1e-4
  rad = np.asarray(random.rademacher(k, (N,)))
  assert set(np.unique(rad)) == {-1, 1} and abs(rad.mean()) < 5 / np.sqrt(N)
  p = np.array([0.1, 0.2, 0.3, 0.4])
  c = np.asarray(random.categorical(k, jnp.log(jnp.asarray(p)), shape=(N,)))
  assert scipy.stats.chisquare(np.bincount(c, minlength=4), N * p).pvalue > 1e-4
  ch = np.asarray(random.choice(k, 4, (N,), p=jnp.asarray(p)))
  assert scipy.stats.chisquare(np.bincount(ch, minlength=4), N * p).pvalue > 1e-4


def test_permutation_and_choice_without_replacement_are_permutations():
  for n in (1, 10, 3000):
    perm = np.asarray(random.permutation(random.PRNGKey(n), n))
    assert sorted(perm.tolist()) == list(range(n))
  x = np.asarray(random.choice(random.PRNGKey(0), 50, (20,), replace=False))
  assert len(set(x.tolist())) == 20
  # every position is uniform over the values
  firsts = [int(random.permutation(random.PRNGKey(i), 5)[0]) for i in range(500)]
  assert scipy.stats.chisquare(np.bincount(firsts, minlength=5)).pvalue > 1e-4


def test_bits_are_uniform():
  b = np.asarray(random.bits(random.PRNGKey(5), (N,)))
  bits = np.unpackbits(b.view(np.uint8)).reshape(N, 32).mean(0)
  assert np.all(np.abs(bits - 0.5) < 5 * 0.5 / np.sqrt(N))


def test_multivariate_normal_and_orthogonal():
  mean = jnp.array([1., -2., 0.5])
  cov = jnp.array([[2., 0.3, 0.1], [0.3, 1., 0.2], [0.1, 0.2, 0.5]])
  x = np.asarray(random.multivariate_normal(random.PRNGKey(0), mean, cov, (N,)), np.float64)
  np.testing.assert_allclose(x.mean(0), mean, atol=0.05)
  np.testing.assert_allclose(np.cov(x.T), cov, atol=0.06)
  q = np.asarray(random.orthogonal(random.PRNGKey(1), 6, (3,)), np.float64)
  np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(6), (3, 6, 6)),
                             atol=1e-5)


def test_split_keys_are_distinct():
  ks = np.asarray(random.split(random.PRNGKey(0), 1000))
  assert len({tuple(k) for k in ks}) == 1000


# --- errors -------------------------------------------------------------------

def test_bad_keys():
  with pytest.raises(TypeError, match="uint32"):
    random.uniform(jnp.zeros(2, jnp.int32))
  with pytest.raises(TypeError, match="last dimension is 2"):
    random.normal(jnp.zeros(3, jnp.uint32))
  with pytest.raises(ValueError, match="accepts a single key"):
    random.normal(random.split(random.PRNGKey(0), 2))
  with pytest.raises(TypeError, match="unexpected PRNG key"):
    random.split(3)
  with pytest.raises(TypeError, match="scalar seed"):
    random.PRNGKey(np.arange(2))
  with pytest.raises(TypeError, match="integer"):
    random.PRNGKey(1.5)
  with pytest.raises(TypeError, match="fold_in accepts a scalar"):
    random.fold_in(random.PRNGKey(0), np.arange(2))


def test_bad_shapes_and_dtypes():
  k = random.PRNGKey(0)
  with pytest.raises(TypeError, match="static"):
    rjax.jit(lambda k, n: random.normal(k, (n,)))(k, 3)
  with pytest.raises(TypeError, match="non-negative"):
    random.uniform(k, (-1,))
  with pytest.raises(ValueError, match="float dtype"):
    random.uniform(k, (2,), jnp.int32)
  with pytest.raises(TypeError, match="integer dtypes"):
    random.randint(k, (2,), 0, 3, jnp.float32)
  with pytest.raises(ValueError, match="unsigned"):
    random.bits(k, (2,), jnp.int32)
  with pytest.raises(ValueError, match="broadcast-compatible"):
    random.uniform(k, (3,), minval=jnp.zeros(4))
  with pytest.raises(ValueError, match="larger sample"):
    random.choice(k, 3, (5,), replace=False)
  with pytest.raises(TypeError, match="threefry2x32"):
    from rjax._src.random.prng import threefry2x32
    threefry2x32(np.int32(1), np.uint32(1), np.uint32(1), np.uint32(1))


# --- the while_loop samplers -------------------------------------------------

def test_loop_samplers_data_agree_with_the_table():
  # the comparison above is not vacuous: the tables hold varied, non-trivial values
  for name in ("gamma/float32/table", "x64/loggamma/float64/table", "poisson/table"):
    assert len(np.unique(EXPECTED[name])) > 100


def _igamma_implicit_grad(a, x, h=1e-6):
  """d x / d a for x ~ Gamma(a): -(dF/da) / (dF/dx), F = gammainc (SciPy,
  central differences in a)."""
  dfda = (scipy.special.gammainc(a + h, x) - scipy.special.gammainc(a - h, x)) / (2 * h)
  return -dfda / scipy.stats.gamma(a).pdf(x)


@pytest.mark.parametrize("log_space", [False, True])
def test_gamma_grad_is_the_implicit_reparameterisation(log_space):
  with enable_x64():
    a = jnp.array([0.05, 0.3, 0.9, 1.0, 2.5, 7.0, 30.0, 300.0])
    k = random.PRNGKey(5)
    fn = random.loggamma if log_space else random.gamma
    x = np.asarray(random.gamma(k, a))
    g = np.asarray(rjax.grad(lambda a: jnp.sum(fn(k, a)))(a))
    want = _igamma_implicit_grad(np.asarray(a), x)
    if log_space:
      want = want / x
    np.testing.assert_allclose(g, want, rtol=2e-5)
    # forward mode and jit agree
    _, t = rjax.jvp(lambda a: fn(k, a), (a,), (jnp.ones_like(a),))
    np.testing.assert_allclose(t, g, rtol=1e-12)
    np.testing.assert_allclose(rjax.jit(rjax.grad(lambda a: jnp.sum(fn(k, a))))(a), g,
                               rtol=1e-12)


def test_grad_through_derived_samplers():
  k = random.PRNGKey(3)
  for f in (lambda a: random.beta(k, a, 2.0), lambda a: random.t(k, a),
            lambda a: random.chisquare(k, a), lambda a: random.f(k, a, 5.0)):
    g = rjax.grad(lambda a: jnp.sum(f(a)))(jnp.array([0.7, 3.0, 12.0]))
    assert np.all(np.isfinite(np.asarray(g)))
  g = rjax.grad(lambda a: jnp.sum(random.dirichlet(k, a)[..., 0]))(jnp.array([1.0, 2.0, 3.0]))
  assert np.asarray(g)[0] > 0 and np.all(np.isfinite(np.asarray(g)))


def test_loop_samplers_vmap_over_parameters():
  a = jnp.array([0.2, 1.0, 5.0, 50.0])
  k = random.PRNGKey(11)
  got = rjax.vmap(lambda a: random.gamma(k, a, (3,)))(a)
  want = np.stack([np.asarray(random.gamma(k, a[i], (3,))) for i in range(4)])
  np.testing.assert_array_equal(got, want)
  lam = jnp.array([0.5, 8.0, 15.0, 400.0])
  got = rjax.vmap(lambda l: random.poisson(k, l, (6,)))(lam)
  want = np.stack([np.asarray(random.poisson(k, lam[i], (6,))) for i in range(4)])
  np.testing.assert_array_equal(got, want)


def test_loop_samplers_shapes_dtypes_and_special_values():
  k = random.PRNGKey(0)
  assert random.gamma(k, 2.0).shape == ()
  assert random.gamma(k, jnp.ones((2, 1)), (3, 2, 4)).shape == (3, 2, 4)
  assert random.gamma(k, 1.0, (0, 3)).shape == (0, 3)
  assert random.beta(k, jnp.ones(3), jnp.ones((2, 1))).shape == (2, 3)
  assert random.dirichlet(k, jnp.ones((2, 4))).shape == (2, 4)
  assert random.dirichlet(k, jnp.ones(4), (5, 2)).shape == (5, 2, 4)
  assert random.t(k, jnp.ones(3)).shape == (3,)
  assert random.gamma(k, 2.0, (2,), jnp.float16).dtype == np.float16
  assert random.poisson(k, 3.0, (2,)).dtype == np.int32
  assert random.poisson(k, 3.0, (2,), jnp.uint8).dtype == np.uint8
  with enable_x64():
    assert random.gamma(k, 2.0, (2,)).dtype == np.float64
    assert random.poisson(k, 3.0, (2,)).dtype == np.int64
  np.testing.assert_array_equal(random.poisson(k, jnp.zeros(5)), np.zeros(5, np.int32))
  d = np.asarray(random.dirichlet(k, jnp.array([0.01, 0.02, 0.05]), (100,)), np.float64)
  np.testing.assert_allclose(d.sum(-1), 1.0, rtol=1e-5)
  assert np.all(np.isfinite(np.asarray(random.loggamma(k, 1e-4, (50,)))))
  b = np.asarray(random.beta(k, 1e-3, 1e-3, (200,)))
  assert np.all((b >= 0) & (b <= 1))


def test_loop_samplers_errors():
  k = random.PRNGKey(0)
  with pytest.raises(ValueError, match="float dtype"):
    random.gamma(k, 1.0, (2,), jnp.int32)
  with pytest.raises(ValueError, match="float dtype"):
    random.beta(k, 1.0, 1.0, (2,), jnp.int32)
  with pytest.raises(TypeError, match="integer dtypes"):
    random.poisson(k, 1.0, (2,), jnp.float32)
  with pytest.raises(ValueError, match="broadcast-compatible"):
    random.gamma(k, jnp.ones(3), (4,))
  with pytest.raises(ValueError, match="broadcast-compatible"):
    random.t(k, jnp.ones(3), (2, 4))
  with pytest.raises(ValueError, match="alpha.ndim >= 1"):
    random.dirichlet(k, 1.0)
  with pytest.raises(ValueError, match="broadcast-compatible"):
    random.dirichlet(k, jnp.ones((3, 2)), (4,))
  with pytest.raises(ValueError, match="accepts a single key"):
    random.gamma(random.split(k, 2), 1.0)
  with enable_x64():
    with pytest.raises(ValueError, match="cannot safely cast"):
      random.beta(k, jnp.ones(2, jnp.float64), 1.0, dtype=jnp.float32)


M = 20000


@pytest.mark.parametrize("name,sample,dist", [
    ("gamma_small", lambda k: random.gamma(k, 0.3, (M,)), scipy.stats.gamma(0.3)),
    ("gamma_big", lambda k: random.gamma(k, 4.5, (M,)), scipy.stats.gamma(4.5)),
    ("loggamma", lambda k: jnp.exp(random.loggamma(k, 0.7, (M,))), scipy.stats.gamma(0.7)),
    ("beta", lambda k: random.beta(k, 2.0, 5.0, (M,)), scipy.stats.beta(2.0, 5.0)),
    ("beta_small", lambda k: random.beta(k, 0.4, 0.6, (M,)), scipy.stats.beta(0.4, 0.6)),
    ("dirichlet_marginal", lambda k: random.dirichlet(k, jnp.array([1.5, 2.0, 3.5]), (M,))[:, 0],
     scipy.stats.beta(1.5, 5.5)),
    ("t", lambda k: random.t(k, 5.0, (M,)), scipy.stats.t(5.0)),
    ("chisquare", lambda k: random.chisquare(k, 3.0, (M,)), scipy.stats.chi2(3.0)),
    ("f", lambda k: random.f(k, 6.0, 12.0, (M,)), scipy.stats.f(6.0, 12.0)),
])
def test_loop_samplers_ks_and_moments(name, sample, dist):
  x = np.asarray(sample(random.PRNGKey(2025)), np.float64)
  _ks(x, dist.cdf)
  assert abs(x.mean() - dist.mean()) < 5 * dist.std() / np.sqrt(M)
  if np.isfinite(dist.moment(4)):
    assert abs(x.std() / dist.std() - 1) < 0.05


@pytest.mark.parametrize("lam", [0.7, 4.0, 9.5, 10.0, 35.0, 1000.0])
def test_poisson_distribution(lam):
  x = np.asarray(random.poisson(random.PRNGKey(31), lam, (M,)))
  assert x.min() >= 0
  assert abs(x.mean() - lam) < 5 * np.sqrt(lam / M)
  assert abs(x.var() / lam - 1) < 0.05
  # chi-square goodness of fit over the bins that hold most of the mass
  dist = scipy.stats.poisson(lam)
  lo, hi = int(dist.ppf(0.001)), int(dist.ppf(0.999))
  edges = np.arange(lo, hi + 2)
  counts = np.histogram(np.clip(x, lo, hi), edges)[0]
  probs = np.diff(dist.cdf(edges - 1))
  probs[0], probs[-1] = dist.cdf(lo), dist.sf(hi - 1)
  assert scipy.stats.chisquare(counts, M * probs / probs.sum()).pvalue > 1e-4


def test_gamma_float64_ks():
  with enable_x64():
    x = random.gamma(random.PRNGKey(8), 1.7, (M,))
    assert x.dtype == np.float64
    _ks(x, scipy.stats.gamma(1.7).cdf)


def test_key_data_is_not_traced_away():
  k = random.PRNGKey(0)
  assert not isinstance(k, core.Tracer)
