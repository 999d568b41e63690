"""rjax.nn activations (jax.nn) and rjax.nn.initializers (jax.nn.initializers):
values against NumPy formulas over hypothesis-drawn shapes and dtypes,
gradients with check_grads, initializers against NumPy formulas applied to
rjax.random's draws (which match JAX bit for bit, tested in test_random.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rjax
import rjax.numpy as jnp
from rjax import nn, random
from rjax.nn import initializers as init
from rjax.test_util import check_grads

from util import enable_x64, shapes

_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(x):
  return scipy.special.expit(x)


def _softplus(x):
  return np.logaddexp(x, 0)


# name -> (rjax function, NumPy reference in float64, kinks to stay away from)
ACTIVATIONS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0), (0.,)),
    "relu6": (nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6), (0., 6.)),
    "sigmoid": (nn.sigmoid, _sig, ()),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -_softplus(-x), ()),
    "softplus": (nn.softplus, _softplus, ()),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1), (0.,)),
    "silu": (nn.silu, lambda x: x * _sig(x), ()),
    "swish": (nn.swish, lambda x: x * _sig(x), ()),
    "gelu": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
             ()),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: 0.5 * x * (1 + scipy.special.erf(x / np.sqrt(2))), ()),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), (0.,)),
    "celu": (lambda x: nn.celu(x, 0.5),
             lambda x: np.maximum(x, 0) + 0.5 * np.expm1(np.minimum(x, 0) / 0.5), (0.,)),
    "selu": (nn.selu, lambda x: _SELU_S * np.where(x > 0, x, _SELU_A * np.expm1(np.minimum(x, 0))),
             (0.,)),
    "leaky_relu": (lambda x: nn.leaky_relu(x, 0.2), lambda x: np.where(x >= 0, x, 0.2 * x), (0.,)),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1), (-1., 1.)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, (-3., 3.)),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6, (-3., 3.)),
    "mish": (nn.mish, lambda x: x * np.tanh(_softplus(x)), ()),
    "squareplus": (nn.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2, ()),
    "tanh": (nn.tanh, np.tanh, ()),
}

_TOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}


def _assert_close(got, want, dtype):
  got = np.asarray(got)
  assert got.dtype == np.dtype(dtype)
  t = _TOL[np.dtype(dtype)]
  np.testing.assert_allclose(got.astype(np.float64), want, rtol=20 * t, atol=20 * t)


_floats = st.sampled_from([np.float32, np.float64])


def _data(dtype, shape, scale=4.0):
  return hnp.arrays(dtype, shape, elements=st.floats(-scale, scale, width=32))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@settings(max_examples=10)
@given(data=st.data())
def test_activation_matches_numpy(name, data):
  fn, ref, _ = ACTIVATIONS[name]
  dtype = data.draw(_floats)
  x = data.draw(_data(dtype, data.draw(shapes(max_dims=3))))
  with enable_x64(dtype == np.float64):
    _assert_close(fn(x), ref(x.astype(np.float64)), dtype)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_grads(name):
  fn, _, kinks = ACTIVATIONS[name]
  x = np.random.default_rng(0).uniform(-4, 4, (3, 4))
  for k in kinks:   # numerical differences are meaningless across a kink
    x = np.where(np.abs(x - k) < 0.05, x + 0.1, x)
  with enable_x64():
    check_grads(fn, (x,), order=2, modes=("fwd", "rev"))


def test_relu_derivative_at_zero_is_zero():
  x = jnp.array([-1., 0., 2.])
  np.testing.assert_array_equal(rjax.grad(lambda v: nn.relu(v).sum())(x), [0., 0., 1.])
  np.testing.assert_array_equal(rjax.grad(lambda v: nn.relu6(v).sum())(jnp.array([0., 3., 6.])),
                                [0., 1., 0.])


def test_activations_on_int_input_as_jax():
  # sigmoid is lax.logistic, which takes no integers (JAX's TypeError);
  # gelu promotes to float32
  with pytest.raises(TypeError, match="logistic does not accept dtype int32"):
    nn.sigmoid(jnp.arange(3))
  assert nn.gelu(np.arange(3)).dtype == np.float32


def _np_softmax(x, axis, where=None):
  xm = x if where is None else np.where(where, x, -np.inf)
  m = np.max(xm, axis=axis, keepdims=True)
  m = np.where(np.isfinite(m), m, 0)
  e = np.exp(xm - m)
  with np.errstate(invalid="ignore"):   # a fully masked row: 0 / 0, then zeroed
    s = e / np.sum(e, axis=axis, keepdims=True)
  return s if where is None else np.where(where, s, 0)


_axes = st.sampled_from([-1, 0, (0, 1), None])


@settings(max_examples=20)
@given(data=st.data())
def test_softmax_log_softmax_match_numpy(data):
  dtype = data.draw(_floats)
  x = data.draw(_data(dtype, data.draw(shapes(min_dims=2, max_dims=3, min_side=1)), 20.))
  axis = data.draw(_axes)
  with enable_x64(dtype == np.float64):
    x64 = x.astype(np.float64)
    want = _np_softmax(x64, axis)
    _assert_close(nn.softmax(x, axis=axis), want, dtype)
    _assert_close(nn.log_softmax(x, axis=axis), np.log(want), dtype)


@settings(max_examples=20)
@given(data=st.data())
def test_softmax_where_matches_numpy(data):
  shape = data.draw(shapes(min_dims=2, max_dims=3, min_side=1))
  x = data.draw(_data(np.float32, shape, 10.))
  where = data.draw(hnp.arrays(np.bool_, shape))
  want = _np_softmax(x.astype(np.float64), -1, where)
  got = np.asarray(nn.softmax(x, where=where))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  got_log = np.asarray(nn.log_softmax(x, where=where))
  assert np.all(got_log[~where] == -np.inf)
  np.testing.assert_allclose(got_log[where], np.log(want[where]), rtol=1e-5, atol=1e-5)


def test_softmax_grads():
  x = np.random.default_rng(1).standard_normal((3, 5))
  with enable_x64():
    check_grads(lambda v: nn.softmax(v, axis=-1), (x,), order=2)
    check_grads(lambda v: nn.softmax(v, axis=(0, 1)), (x,), order=1)
    check_grads(lambda v: nn.log_softmax(v, axis=0), (x,), order=2)
    where = np.array([[1, 0, 1, 1, 0]] * 3, bool)
    check_grads(lambda v: nn.softmax(v, where=where), (x,), order=1)


@settings(max_examples=20)
@given(data=st.data())
def test_logsumexp_matches_scipy(data):
  shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1))
  a = data.draw(_data(np.float64, shape, 30.))
  b = data.draw(_data(np.float64, shape, 2.))
  axis = data.draw(st.sampled_from([None, 0, -1]))
  keepdims = data.draw(st.booleans())
  with enable_x64():
    np.testing.assert_allclose(nn.logsumexp(a, axis=axis, keepdims=keepdims),
                               scipy.special.logsumexp(a, axis=axis, keepdims=keepdims),
                               rtol=1e-12, atol=1e-12)
    got, sign = nn.logsumexp(a, axis=axis, b=b, return_sign=True)
    want, wsign = scipy.special.logsumexp(a, axis=axis, b=b, return_sign=True)
    np.testing.assert_array_equal(np.asarray(sign), wsign)
    ok = wsign != 0
    np.testing.assert_allclose(np.asarray(got)[ok], np.asarray(want)[ok], rtol=1e-9, atol=1e-9)


def test_logsumexp_grads_and_infinite_rows():
  a = np.random.default_rng(2).standard_normal((3, 4))
  with enable_x64():
    check_grads(lambda v: nn.logsumexp(v, axis=1), (a,), order=2)
  out = np.asarray(nn.logsumexp(np.full((2, 3), -np.inf, np.float32), axis=1))
  np.testing.assert_array_equal(out, [-np.inf, -np.inf])


@settings(max_examples=20)
@given(data=st.data())
def test_one_hot_matches_numpy(data):
  shape = data.draw(shapes(max_dims=3))
  n = data.draw(st.integers(1, 6))
  x = data.draw(hnp.arrays(np.int32, shape, elements=st.integers(-2, 7)))
  axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
  dtype = data.draw(st.sampled_from([None, np.float32, np.int32, np.bool_]))
  want = np.moveaxis(x[..., None] == np.arange(n), -1, axis)
  got = nn.one_hot(x, n, dtype=dtype, axis=axis)
  assert got.dtype == (np.float32 if dtype is None else np.dtype(dtype))
  np.testing.assert_array_equal(np.asarray(got), want.astype(got.dtype))


def test_one_hot_errors():
  with pytest.raises(ValueError, match="one_hot: axis"):
    nn.one_hot(jnp.arange(3), 4, axis=3)
  with pytest.raises(TypeError, match="num_classes"):
    nn.one_hot(jnp.arange(3), 2.5)


def test_glu_and_standardize():
  x = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
  np.testing.assert_allclose(nn.glu(x), x[:, :3] * _sig(x[:, 3:]), rtol=1e-6)
  np.testing.assert_allclose(nn.glu(x, axis=0), x[:2] * _sig(x[2:]), rtol=1e-6)
  with pytest.raises(ValueError, match="even"):
    nn.glu(x[:, :5])
  m, v = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
  np.testing.assert_allclose(nn.standardize(x), (x - m) / np.sqrt(v + 1e-5), rtol=1e-4, atol=1e-5)


def test_activations_under_jit_and_vmap():
  x = np.random.default_rng(4).standard_normal((3, 5)).astype(np.float32)
  for name in ("gelu", "silu", "softplus", "elu"):
    fn = ACTIVATIONS[name][0]
    np.testing.assert_allclose(rjax.jit(fn)(x), fn(x), rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(rjax.vmap(nn.softmax)(x), nn.softmax(x), rtol=1e-6)
  np.testing.assert_allclose(rjax.jit(nn.log_softmax)(x), nn.log_softmax(x), rtol=1e-6)


# -- initializers ---------------------------------------------------------------

def _fans(shape, in_axis=-2, out_axis=-1):
  rf = math.prod(shape) / shape[in_axis] / shape[out_axis]
  return shape[in_axis] * rf, shape[out_axis] * rf


_TRUNC_STD = .87962566103423978
VS = {  # name -> (scale, mode, distribution)
    "lecun_normal": (1., "fan_in", "truncated_normal"),
    "lecun_uniform": (1., "fan_in", "uniform"),
    "glorot_normal": (1., "fan_avg", "truncated_normal"),
    "glorot_uniform": (1., "fan_avg", "uniform"),
    "xavier_uniform": (1., "fan_avg", "uniform"),
    "he_normal": (2., "fan_in", "truncated_normal"),
    "he_uniform": (2., "fan_in", "uniform"),
    "kaiming_normal": (2., "fan_in", "truncated_normal"),
}


def _vs_reference(key, shape, dtype, scale, mode, distribution):
  fan_in, fan_out = _fans(shape)
  var = scale / {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
  if distribution == "truncated_normal":
    z = np.asarray(random.truncated_normal(key, -2, 2, shape, dtype), np.float64)
    return z * np.sqrt(var) / _TRUNC_STD
  if distribution == "normal":
    return np.asarray(random.normal(key, shape, dtype), np.float64) * np.sqrt(var)
  return np.asarray(random.uniform(key, shape, dtype, -1), np.float64) * np.sqrt(3 * var)


@pytest.mark.parametrize("name", sorted(VS))
@settings(max_examples=8)
@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5),
       seed=st.integers(0, 2**31 - 1))
def test_variance_scaling_family_matches_formula(name, shape, seed):
  key = random.PRNGKey(seed)
  got = getattr(init, name)()(key, shape)
  assert got.shape == shape and got.dtype == np.float32
  want = _vs_reference(key, shape, np.float32, *VS[name])
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
  with enable_x64():
    assert getattr(init, name)(dtype=jnp.float64)(key, shape).dtype == np.float64


def test_variance_scaling_axes_and_errors():
  key = random.PRNGKey(0)
  got = init.variance_scaling(2., "fan_out", "normal", in_axis=0, out_axis=(1, 2))(key, (3, 4, 5))
  want = np.asarray(random.normal(key, (3, 4, 5))) * np.sqrt(2. / 20)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
  with pytest.raises(ValueError, match="mode"):
    init.variance_scaling(1., "fan_bad", "normal")
  with pytest.raises(ValueError, match="distribution"):
    init.variance_scaling(1., "fan_in", "cauchy")
  with pytest.raises(ValueError, match="at least 2D"):
    init.lecun_normal()(key, (3,))


def test_simple_initializers():
  key = random.PRNGKey(5)
  np.testing.assert_array_equal(init.zeros(key, (2, 3)), np.zeros((2, 3), np.float32))
  np.testing.assert_array_equal(init.ones(key, (4,), jnp.int32), np.ones(4, np.int32))
  np.testing.assert_array_equal(init.constant(2.5)(key, (2,)), [2.5, 2.5])
  assert init.zeros_init() is init.zeros and init.ones_init() is init.ones
  np.testing.assert_allclose(init.normal(0.3)(key, (5, 2)),
                             0.3 * np.asarray(random.normal(key, (5, 2))), rtol=1e-6)
  np.testing.assert_allclose(init.uniform(2.)(key, (5, 2)),
                             2. * np.asarray(random.uniform(key, (5, 2))), rtol=1e-6)
  np.testing.assert_allclose(init.truncated_normal(0.1, lower=-1., upper=3.)(key, (5, 2)),
                             0.1 * np.asarray(random.truncated_normal(key, -1., 3., (5, 2))),
                             rtol=1e-6)


@settings(max_examples=10)
@given(shape=st.sampled_from([(3, 3), (5, 3), (3, 5), (2, 3, 4), (4, 2, 2)]),
       column_axis=st.sampled_from([-1, 0]), seed=st.integers(0, 2**31 - 1))
def test_orthogonal(shape, column_axis, seed):
  q = np.asarray(init.orthogonal(scale=2., column_axis=column_axis)(random.PRNGKey(seed), shape),
                 np.float64) / 2.
  assert q.shape == shape
  cols = np.moveaxis(q, column_axis, -1).reshape(-1, shape[column_axis])
  small = cols if cols.shape[0] >= cols.shape[1] else cols.T
  np.testing.assert_allclose(small.T @ small, np.eye(small.shape[1]), atol=1e-5)
  with pytest.raises(ValueError, match="2D"):
    init.orthogonal()(random.PRNGKey(0), (4,))


def test_initializers_from_jax_committed_values():
  # jax.nn.initializers.{lecun_normal,glorot_uniform,orthogonal}()(jax.random.PRNGKey(3), (3, 2))
  # from JAX 0.10.2 (float32).
  key = random.PRNGKey(3)
  want = {
      "lecun_normal": [[-0.8663319945335388, 0.9143886566162109],
                       [0.23910534381866455, 1.105790376663208],
                       [-0.36617258191108704, 0.13111178576946259]],
      "glorot_uniform": [[-0.9332041144371033, 0.959926187992096],
                         [0.3263484835624695, 1.0420334339141846],
                         [-0.4855499863624573, 0.1817082315683365]],
      "orthogonal": [[-0.8998209238052368, 0.2803363800048828],
                     [0.2379847764968872, 0.9575866460800171],
                     [-0.3656303286552429, -0.06662873923778534]],
  }
  for name, w in want.items():
    np.testing.assert_allclose(np.asarray(getattr(init, name)()(key, (3, 2))), w, rtol=1e-5,
                               atol=1e-6)


def test_prelu_module():
  x = np.array([-2., -0.5, 0., 3.], np.float32)
  v = nn.PReLU().init(random.PRNGKey(0), x)
  assert v["params"]["negative_slope"].shape == () and float(v["params"]["negative_slope"]) == \
      np.float32(0.01)
  slope = jnp.float32(0.3)
  np.testing.assert_allclose(nn.PReLU().apply({"params": {"negative_slope": slope}}, x),
                             np.where(x >= 0, x, 0.3 * x), rtol=1e-6)
  with enable_x64():
    xs = jnp.asarray([-2., -0.5, 1., 3.])
    check_grads(lambda s, z: nn.PReLU().apply({"params": {"negative_slope": s}}, z),
                (jnp.float64(0.2), xs), order=2)
