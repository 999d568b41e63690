"""Array manipulation, calculus, signal, statistics, polynomial and host I/O
functions of rjax.numpy against JAX (values, dtypes, exception types), with
numerical gradients where the function is differentiable."""
import io

import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp

from util_vs_jax import assert_same, same_outcome, check_grads64

X = (np.arange(12.).reshape(3, 4) * 1.5 - 4).astype(np.float32)
R = np.random.RandomState(0)


def both(f, exact=True, **kw):
  assert_same(f(jnp), f(jjnp), exact=exact, **kw)


def test_manipulation():
  both(lambda m: m.append(X, np.ones(3)))
  both(lambda m: m.append(X, X, axis=1))
  both(lambda m: m.block([[X, X], [X, X]]))
  both(lambda m: m.block([np.ones(2), 3.0, np.zeros(1)]))
  both(lambda m: m.block([[np.ones((2, 2))], [np.zeros((1, 2))]]))
  both(lambda m: m.choose(np.array([0, 1, 2, 1]), [np.arange(4), np.arange(4) * 10, 100]))
  both(lambda m: m.choose(np.array([0, 4, -1, 1]), [np.arange(4), np.arange(4) * 10],
                          mode="wrap"))
  both(lambda m: m.choose(np.array([0, 4, -1, 1]), [np.arange(4.), np.arange(4.) * 10],
                          mode="clip"))
  both(lambda m: m.compress(np.array([True, False, True]), X, axis=0))
  both(lambda m: m.compress(np.array([1, 0, 1, 1]), X, axis=1, size=2, fill_value=-1))
  both(lambda m: m.compress(np.array([True, False]), X))
  both(lambda m: m.extract(X > 4, X))
  both(lambda m: m.extract(X > 4, X, size=5, fill_value=0))
  both(lambda m: m.place(X, X > 4, np.array([-1., -2]), inplace=False))
  both(lambda m: m.put(X, np.array([10, -1, 1, -100, 100]), np.array([9., 8, 7]),
                       inplace=False))
  for mode in ("clip", "wrap"):
    both(lambda m: m.put(X, np.array([10, -1, 100]), np.array([9., 8, 7]), mode=mode,
                         inplace=False))
  both(lambda m: m.put_along_axis(X, np.array([[0], [2], [-1]]), 99., axis=1, inplace=False))
  both(lambda m: m.put_along_axis(X, np.array([0, 5]), np.array([1., 2]), axis=None,
                                  inplace=False))
  both(lambda m: m.resize(X, (5, 7)))
  both(lambda m: m.resize(X, 3))
  both(lambda m: m.resize(np.zeros((0,)), (2, 2)))
  for axis, start in ((2, 0), (0, 3), (1, -1), (-1, 1)):
    both(lambda m: m.rollaxis(np.ones((2, 3, 4)), axis, start))
  for bad in (lambda m: m.choose(np.array([0, 3]), [np.arange(2), np.arange(2)]),
              lambda m: m.choose(np.array([0.5]), [np.arange(1)]),
              lambda m: m.compress(np.ones((2, 2), bool), X),
              lambda m: m.compress(np.ones(5, bool), X, axis=0),
              lambda m: m.place(X, X > 0, np.array([1.])),
              lambda m: m.place(X, X[0] > 0, np.array([1.]), inplace=False),
              lambda m: m.put(X, [0], [1.], mode="raise", inplace=False),
              lambda m: m.put_along_axis(X, np.array([0]), 1., axis=1, inplace=False),
              lambda m: m.resize(X, (-1, 2)), lambda m: m.rollaxis(X, 0, 5),
              lambda m: m.block((X, X)), lambda m: m.block([])):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))
  # jit and grad through the updates
  f = lambda v: jnp.put(v, np.array([0, 5]), v[1:3] * 2, inplace=False).sum()  # noqa: E731
  check_grads64(f, (X.astype(np.float64),), order=1)
  assert_same(rjax.jit(lambda v: jnp.choose(np.array([1, 0, 1]), [v[0, :3], v[1, :3]],
                                            mode="clip"))(X),
              jjnp.choose(np.array([1, 0, 1]), [X[0, :3], X[1, :3]], mode="clip"))


def test_products_and_calculus():
  a, b = R.randn(5, 3).astype(np.float32), R.randn(5, 3).astype(np.float32)
  both(lambda m: m.cross(a, b), exact=False)
  both(lambda m: m.cross(a[:, :2], b[:, :2]), exact=False)
  both(lambda m: m.cross(a[:, :2], b), exact=False)
  both(lambda m: m.cross(a.T, b.T, axisa=0, axisb=0, axisc=0), exact=False)
  check_grads64(jnp.cross, (a.astype(np.float64), b.astype(np.float64)), order=1)
  same_outcome(lambda: jnp.cross(np.ones(4), np.ones(4)), lambda: jjnp.cross(np.ones(4),
                                                                             np.ones(4)))
  both(lambda m: m.matvec(np.ones((2, 3, 4), np.float32), np.arange(4., dtype=np.float32)))
  both(lambda m: m.vecmat(np.arange(3., dtype=np.float32), np.ones((2, 3, 4), np.float32)))
  both(lambda m: m.ediff1d(np.array([1, 2, 4]), to_end=np.array([1.5]), to_begin=-1))
  both(lambda m: m.ediff1d(X))
  both(lambda m: m.gradient(X), exact=False)
  both(lambda m: m.gradient(X, 2.0, np.array([0., 1, 3, 7])), exact=False)
  both(lambda m: m.gradient(X, axis=-1), exact=False)
  same_outcome(lambda: jnp.gradient(np.ones(1)), lambda: jjnp.gradient(np.ones(1)))
  both(lambda m: m.trapezoid(X), exact=False)
  both(lambda m: m.trapezoid(X, np.array([0., 1, 3, 7])), exact=False)
  both(lambda m: m.trapezoid(X, dx=0.5, axis=0), exact=False)
  both(lambda m: m.trapezoid(X, X + np.arange(4.)), exact=False)
  check_grads64(lambda y: jnp.trapezoid(y, dx=0.3), (X.astype(np.float64),), order=2)


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float32, st.sampled_from([(6,), (2, 5)]), elements=st.floats(-20, 20,
                                                                                  width=32)),
       st.sampled_from([None, 1.0, 4.0]))
def test_unwrap(p, discont):
  both(lambda m: m.unwrap(p, discont=discont), exact=False, rtol=1e-5, atol=1e-5)
  pi = np.round(p).astype(np.int32)
  both(lambda m: m.unwrap(pi, period=8))


def test_interp_and_spacing():
  xp, fp = np.array([0., 1, 2, 3], np.float32), np.array([1., 5, 2, 0], np.float32)
  x = np.array([-1., 0, 0.5, 2.5, 3, 9, np.nan], np.float32)
  both(lambda m: m.interp(x, xp, fp), exact=False)
  both(lambda m: m.interp(x, xp, fp, left="extrapolate", right=-9.), exact=False)
  both(lambda m: m.interp(x, xp, fp, left=-1, right="extrapolate"), exact=False)
  both(lambda m: m.interp(x, xp, fp, period=3), exact=False)
  both(lambda m: m.interp(x, np.array([0., 1, 1, 2]), fp), exact=False)   # repeated xp
  check_grads64(lambda v, f: jnp.interp(v, xp.astype(np.float64), f),
              (np.array([0.3, 1.7, 2.2]), fp.astype(np.float64)), order=1)
  for bad in (lambda m: m.interp(x, xp, fp[:3]), lambda m: m.interp(x, xp, fp, left="no"),
              lambda m: m.interp(x, xp, fp, period=np.ones(2))):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))
  for dt in (np.float32, np.float16):
    v = np.array([0., -0., 1., -1., np.inf, -np.inf, np.nan, 1e-30, 65504], dt)
    both(lambda m: m.spacing(v))
  both(lambda m: m.spacing(np.arange(4)))


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float32, st.sampled_from([1, 4, 7]), elements=st.floats(-5, 5, width=32)),
       hnp.arrays(np.float32, st.sampled_from([1, 3, 8]), elements=st.floats(-5, 5, width=32)),
       st.sampled_from(["full", "same", "valid"]))
def test_convolve_correlate(a, v, mode):
  both(lambda m: m.convolve(a, v, mode=mode), exact=False, rtol=1e-5, atol=1e-5)
  both(lambda m: m.correlate(a, v, mode=mode), exact=False, rtol=1e-5, atol=1e-5)


def test_convolve_errors_ints_and_grads():
  both(lambda m: m.convolve(np.array([1, 2, 3]), np.array([1, 1])))
  both(lambda m: m.convolve(np.array([1, 2, 3]), np.array([1, 1]), preferred_element_type=np.int32))
  for bad in (lambda m: m.convolve(np.ones((2, 2)), np.ones(2)),
              lambda m: m.convolve(np.ones(0), np.ones(2)),
              lambda m: m.correlate(np.ones(3), np.ones(2), mode="nope"),
              lambda m: m.convolve(np.ones(3), np.ones(2), precision="nope")):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))
  check_grads64(lambda a, v: jnp.convolve(a, v, mode="same"), (R.randn(6), R.randn(3)), order=1)


def test_statistics_and_histograms():
  r = R.randn(3, 6).astype(np.float32)
  both(lambda m: m.cov(r), exact=False)
  both(lambda m: m.cov(r, rowvar=False), exact=False)
  both(lambda m: m.cov(r[0], r[1], bias=True), exact=False)
  both(lambda m: m.cov(r, ddof=2), exact=False)
  both(lambda m: m.cov(r, fweights=np.array([1, 2, 1, 3, 1, 1]),
                       aweights=np.array([.5, 1, 2, 1, 1, .2])), exact=False, rtol=1e-5)
  both(lambda m: m.cov(r[0]), exact=False)
  both(lambda m: m.cov(np.ones((2, 0))), exact=False)
  both(lambda m: m.corrcoef(r), exact=False, rtol=1e-5)
  both(lambda m: m.corrcoef(r[0]), exact=False)
  both(lambda m: m.corrcoef(r[0], r[1]), exact=False, rtol=1e-5)
  for bad in (lambda m: m.cov(np.ones((2, 2, 2))),
              lambda m: m.cov(r, fweights=np.array([1.5] * 6)),
              lambda m: m.cov(r, aweights=np.ones(5)), lambda m: m.cov(r, dtype=np.int32)):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))
  check_grads64(lambda v: jnp.cov(v), (r.astype(np.float64),), order=1)
  s = R.rand(20, 2).astype(np.float32)
  both(lambda m: m.histogram_bin_edges(s[:, 0]), exact=False)
  both(lambda m: m.histogram_bin_edges(s[:, 0], 4, range=(0, 2)), exact=False)
  both(lambda m: m.histogram_bin_edges(np.ones(3), 2), exact=False)
  both(lambda m: m.histogramdd(s, bins=3)[0])
  both(lambda m: m.histogramdd(s, bins=[3, 4], density=True, range=[(0, 1), None])[0],
       exact=False)
  both(lambda m: m.histogram2d(s[:, 0], s[:, 1], bins=4, weights=s[:, 0]), exact=False)
  both(lambda m: m.histogram2d(s[:, 0], s[:, 1], bins=[2, np.array([0., .5, 1])]),
       exact=False)
  same_outcome(lambda: jnp.histogramdd(s, bins=[2, 3, 4]), lambda: jjnp.histogramdd(s, bins=[2, 3, 4]))


def test_windows_vander_bits():
  for w in ("bartlett", "blackman", "hamming", "hanning"):
    for M in (0, 1, 2, 7, 16):
      # (cos may differ from XLA's by an ulp: compare with a tolerance)
      both(lambda m: getattr(m, w)(M), exact=False, rtol=1e-6, atol=3e-7)
  both(lambda m: m.vander(np.array([1., 2, 3, 5])))
  both(lambda m: m.vander(np.array([1, 2, 3, 5]), 5, increasing=True))
  both(lambda m: m.vander(np.array([2., -1]), 0))
  bits = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 1]], np.int32)
  both(lambda m: m.packbits(bits))
  both(lambda m: m.packbits(bits, axis=1, bitorder="little"))
  both(lambda m: m.packbits(np.ones((2, 11), bool), axis=-1))
  u = np.array([[2, 7], [23, 255]], np.uint8)
  both(lambda m: m.unpackbits(u))
  both(lambda m: m.unpackbits(u, axis=1, count=11, bitorder="little"))
  both(lambda m: m.unpackbits(u, axis=0, count=3))
  for bad in (lambda m: m.packbits(X), lambda m: m.unpackbits(bits),
              lambda m: m.packbits(bits, bitorder="mid"), lambda m: m.vander(X)):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))


def test_polynomials():
  p, q = np.array([1., -3, 2, 5], np.float32), np.array([2., 1], np.float32)
  both(lambda m: m.poly(np.array([1., 2, -3])))
  both(lambda m: m.poly(np.array(2.)))
  both(lambda m: m.polyval(p, X), exact=False)
  both(lambda m: m.polyval(p, 1.5), exact=False)
  both(lambda m: m.polyadd(p, q))
  both(lambda m: m.polyadd(q, p))
  both(lambda m: m.polysub(q, p))
  both(lambda m: m.polymul(p, q), exact=False)
  both(lambda m: m.polymul(np.array([0., 0, 1]), q, trim_leading_zeros=True), exact=False)
  both(lambda m: m.polydiv(p, q), exact=False)
  both(lambda m: m.polydiv(p, np.array([1., 0, 0, 0, 1])), exact=False)
  both(lambda m: m.polyint(p, 2, k=np.array([1., 2])), exact=False)
  both(lambda m: m.polyint(p), exact=False)
  both(lambda m: m.polyder(p, 2), exact=False)
  both(lambda m: m.polyder(p, 5), exact=False)
  for bad in (lambda m: m.polyint(p, -1), lambda m: m.polyder(p, -1),
              lambda m: m.polyint(p, 2, k=np.ones(3))):
    same_outcome(lambda: bad(jnp), lambda: bad(jjnp))
  check_grads64(lambda c, v: jnp.polyval(c, v), (p.astype(np.float64), np.array([0.3, -1.2])),
              order=2)
  assert_same(rjax.jit(jnp.polyval)(p, X), jjnp.polyval(p, X), exact=False)
  # poly of a square matrix: its characteristic polynomial (complex, as JAX)
  m = np.array([[1., 2.], [3., 4.]], np.float32)
  np.testing.assert_allclose(np.asarray(jnp.poly(m)), np.asarray(jjnp.poly(m)), rtol=1e-5)
  assert jnp.poly(m).dtype == jjnp.poly(m).dtype


def test_host_io_and_printing():
  assert_same(jnp.frombuffer(np.arange(4, dtype=np.float32).tobytes(), dtype=np.float32),
              jjnp.frombuffer(np.arange(4, dtype=np.float32).tobytes(), dtype=np.float32))
  assert_same(jnp.fromstring("1 2 3", sep=" "), jjnp.fromstring("1 2 3", sep=" "))
  for name in ("fromfile", "fromiter"):
    with pytest.raises(NotImplementedError, match="non-pure"):
      getattr(jnp, name)(iter([1, 2]))
  f = io.BytesIO()
  jnp.save(f, jnp.arange(3.))
  f.seek(0)
  out = jnp.load(f)
  assert isinstance(out, jnp.ndarray)
  assert_same(out, jjnp.arange(3.))
  assert jnp.iterable(jnp.arange(3)) and not jnp.iterable(3.0)
  assert jnp.array_str(jnp.arange(3.)) == "[0. 1. 2.]"
  assert "0., 1., 2." in jnp.array_repr(jnp.arange(3.))
  with jnp.printoptions(precision=2):
    assert jnp.get_printoptions()["precision"] == 2
    assert str(jnp.array([1.2345])) == "[1.23]"
  assert issubclass(jnp.ComplexWarning, Warning)
  assert jnp.bool is jnp.bool_ and jnp.bool(2) == jnp.bool_(True)
  for name in ("character", "flexible", "object_", "complexfloating", "generic", "number"):
    assert getattr(jnp, name) is getattr(jjnp, name)
  both(lambda m: m.angle(np.array([1., -1, 0, -0., np.nan]), deg=True))
  both(lambda m: m.angle(3))
