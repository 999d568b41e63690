"""lax.reduce_window (sum/max/min pooling) and the max/min pooling derivative
primitives (select_and_gather_add, select_and_scatter_add): values against
the NumPy reference and installed JAX over hypothesis-drawn shapes, windows,
strides, paddings, dilations and dtypes; gradients numerically and, for ties,
against JAX's first-winner choice; vmap against a loop; jit against eager."""
from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.lax import lax as lax_internal
from rjax._src.interpreters import reference
from rjax._src.lax import windowed_reductions as wr
from rjax.test_util import check_grads
from util import arrays, assert_close, bfloat16, check_vmap, enable_x64

F32 = np.dtype(np.float32)
KINDS = {"sum": (lax.add, jax.lax.add, wr.reduce_window_sum_p),
         "max": (lax.max, jax.lax.max, wr.reduce_window_max_p),
         "min": (lax.min, jax.lax.min, wr.reduce_window_min_p)}


def _init(kind, dt):
  dt = np.dtype(dt)
  if kind == "sum":
    return np.array(0, dt)
  return (wr._max_identity if kind == "max" else wr._min_identity)(dt)


@st.composite
def window_problems(draw, dtypes=(F32,), max_nd=3, dilation=True, string_padding=True):
  dt = np.dtype(draw(st.sampled_from(dtypes)))
  nd = draw(st.integers(1, max_nd))
  shape = tuple(draw(st.integers(1, 5)) for _ in range(nd))
  wd = tuple(draw(st.integers(1, 3)) for _ in range(nd))
  ws = tuple(draw(st.integers(1, 3)) for _ in range(nd))
  bd = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if dilation else (1,) * nd
  wdl = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if dilation else (1,) * nd
  if string_padding and draw(st.booleans()):
    padding = draw(st.sampled_from(["SAME", "VALID", "SAME_LOWER"]))
  else:
    padding = tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in range(nd))
    for d, (lo, hi), b in zip(shape, padding, bd):
      assume((d - 1) * b + 1 + lo + hi >= 0)
  lo, hi = (-5, 5) if dt.kind in "iu" else (-3.0, 3.0)
  x = draw(arrays(dt, shape, lo, hi))
  return x, dict(window_dimensions=wd, window_strides=ws, padding=padding, base_dilation=bd,
                 window_dilation=wdl)


def _ref(kind, x, kw):
  kw = dict(kw)
  if isinstance(kw["padding"], str):
    eff = [(w - 1) * d + 1 for w, d in zip(kw["window_dimensions"], kw["window_dilation"])]
    kw["padding"] = tuple(map(tuple, lax.padtype_to_pads(x.shape, eff, kw["window_strides"],
                                                         kw["padding"])))
  return reference.references[KINDS[kind][2]](x, **kw)


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=40, deadline=None)
@given(problem=window_problems(dtypes=(F32, np.float16, bfloat16, np.int32, np.int8, np.uint8)))
def test_reduce_window_matches_reference(kind, problem):
  x, kw = problem
  got = lax.reduce_window(x, _init(kind, x.dtype), KINDS[kind][0], **kw)
  assert_close(got, _ref(kind, x, kw), x.dtype)


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=30, deadline=None)
@given(problem=window_problems())
def test_reduce_window_matches_jax(kind, problem):
  x, kw = problem
  got = np.asarray(lax.reduce_window(x, _init(kind, x.dtype), KINDS[kind][0], **kw))
  want = np.asarray(jax.lax.reduce_window(x, _init(kind, x.dtype), KINDS[kind][1], **kw))
  assert got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_pooling_as_flax_writes_it():
  """Flax's max_pool / avg_pool: NHWC, window (1, 2, 2, 1), Python-float inits."""
  x = np.random.RandomState(0).randn(4, 8, 8, 3).astype(np.float32)
  for pad in ("VALID", "SAME"):
    args = ((1, 2, 2, 1), (1, 2, 2, 1), pad)
    mp = lax.reduce_window(x, -jnp.inf, lax.max, *args)
    sp = lax.reduce_window(x, 0., lax.add, *args)
    np.testing.assert_array_equal(np.asarray(mp),
                                  np.asarray(jax.lax.reduce_window(x, -np.inf, jax.lax.max, *args)))
    np.testing.assert_allclose(np.asarray(sp),
                               np.asarray(jax.lax.reduce_window(x, 0., jax.lax.add, *args)),
                               rtol=1e-6)


def test_generic_reducers_raise_not_implemented():
  x = np.ones((4,), np.float32)
  with pytest.raises(NotImplementedError, match="monoid"):
    lax.reduce_window(x, 1.0, lax.mul, (2,), (1,), "VALID")
  with pytest.raises(NotImplementedError, match="monoid"):
    lax.reduce_window(x, 1.0, lax.add, (2,), (1,), "VALID")
  with pytest.raises(NotImplementedError, match="monoid"):
    lax.reduce_window(x, 0.0, lambda a, b: a + b, (2,), (1,), "VALID")


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(window_dimensions=(2,)), TypeError, "wrong number of window_dimensions"),
    (dict(window_strides=(0, 1)), TypeError, "window_strides must have every element be positive"),
    (dict(padding=((0, 0),)), TypeError, "inconsistent padding"),
    (dict(padding=((-9, 0), (0, 0))), ValueError, "negative padding"),
    (dict(base_dilation=(1, 1, 1)), TypeError, "inconsistent base_dilation"),
])
def test_bad_windows_raise_at_trace_time(kw, exc, msg):
  args = dict(window_dimensions=(2, 2), window_strides=(1, 1), padding="VALID")
  args.update(kw)
  x = np.zeros((4, 4), np.float32)
  with pytest.raises(exc, match=msg):
    rjax.make_jaxpr(lambda a: lax.reduce_window(a, 0.0, lax.add, **args))(x)


def test_bool_operand_raises():
  with pytest.raises(TypeError, match="number dtype"):
    lax.reduce_window(np.zeros((3,), bool), False, lax.max, (2,), (1,), "VALID")


# -- gradients ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=20, deadline=None)
@given(problem=window_problems(max_nd=2), seed=st.integers(0, 2**31 - 1))
def test_reduce_window_grads(kind, problem, seed):
  x, kw = problem
  if kind != "sum":
    # As in JAX, no VJP with window dilation; and every window overlaps the
    # operand (an all-padding window is -inf, which has no finite difference).
    pads = tuple((min(max(lo, 0), w - 1), min(max(hi, 0), w - 1))
                 for (lo, hi), w in zip(lax.padtype_to_pads(
                     x.shape, kw["window_dimensions"], kw["window_strides"], kw["padding"])
                     if isinstance(kw["padding"], str) else kw["padding"],
                     kw["window_dimensions"]))
    kw = dict(kw, padding=pads, base_dilation=(1,) * x.ndim, window_dilation=(1,) * x.ndim)
    # distinct values, spaced well beyond the finite-difference step
    x = np.random.RandomState(seed).permutation(x.size).reshape(x.shape) * 0.5
  with enable_x64():
    f = lambda a: lax.reduce_window(a, _init(kind, np.float64), KINDS[kind][0], **kw)
    check_grads(f, (x.astype(np.float64),), order=2, modes=("fwd", "rev"), atol=1e-6,
                rtol=1e-6)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_pooling_grad_ties_match_jax(kind):
  """Equal values in a window: the first one in window order gets the
  gradient, as in JAX's VJP (also through padding and overlapping windows).
  JAX's JVP of tied windows follows XLA's unspecified reduce_window order, so
  the JVP is compared on distinct values."""
  rng = np.random.RandomState(0)
  x = rng.randint(0, 3, (2, 6, 7, 3)).astype(np.float32)
  for args in [((1, 2, 2, 1), (1, 2, 2, 1), "VALID"), ((1, 3, 3, 1), (1, 1, 2, 1), "SAME"),
               ((1, 3, 2, 1), (1, 2, 1, 1), ((0, 0), (1, 2), (0, 1), (0, 0)))]:
    init = _init(kind, F32)
    f = lambda a: jnp.sum(lax.reduce_window(a, init, KINDS[kind][0], *args) * jnp.arange(1.0, 4.0))
    jf = lambda a: jax.numpy.sum(jax.lax.reduce_window(a, init, KINDS[kind][1], *args)
                                 * jax.numpy.arange(1.0, 4.0))
    np.testing.assert_array_equal(np.asarray(rjax.grad(f)(x)), np.asarray(jax.grad(jf)(x)))
    t = rng.randn(*x.shape).astype(np.float32)
    xd = rng.permutation(x.size).reshape(x.shape).astype(np.float32)
    got = rjax.jvp(f, (xd,), (t,))[1]
    want = jax.jvp(jf, (xd,), (t,))[1]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ge", [True, False])
@settings(max_examples=30, deadline=None)
@given(problem=window_problems(dilation=False, string_padding=False),
       seed=st.integers(0, 2**31 - 1))
def test_select_and_scatter_add_matches_reference(ge, problem, seed):
  x, kw = problem
  x = np.round(x)   # ties
  sel = lax_internal.ge_p if ge else lax_internal.le_p
  params = dict(select_prim=sel, window_dimensions=kw["window_dimensions"],
                window_strides=kw["window_strides"], padding=kw["padding"])
  out_shape = wr.reduce_window_shape_tuple(x.shape, kw["window_dimensions"],
                                           kw["window_strides"], kw["padding"])
  src = np.random.RandomState(seed).randn(*out_shape).astype(np.float32)
  got = wr.select_and_scatter_add_p.bind(jnp.asarray(src), jnp.asarray(x), **params)
  want = reference.references[wr.select_and_scatter_add_p](src, x, **params)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-6)
  t = np.random.RandomState(seed + 1).randn(*x.shape).astype(np.float32)
  gparams = dict(params, base_dilation=(1,) * x.ndim, window_dilation=(1,) * x.ndim)
  got = wr.select_and_gather_add_p.bind(jnp.asarray(t), jnp.asarray(x), **gparams)
  want = reference.references[wr.select_and_gather_add_p](t, x, **gparams)
  np.testing.assert_array_equal(np.asarray(got), want)


# -- vmap and jit -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=15, deadline=None)
@given(problem=window_problems(max_nd=2), axis=st.integers(0, 2), size=st.integers(1, 3))
def test_reduce_window_vmap(kind, problem, axis, size):
  x, kw = problem
  axis = min(axis, x.ndim)
  xs = np.stack([x * (i + 1) for i in range(size)], axis)
  f = lambda a: lax.reduce_window(a, _init(kind, F32), KINDS[kind][0], **kw)
  check_vmap(f, (xs,), in_axes=(axis,))


@pytest.mark.parametrize("kind", ["max", "min"])
def test_pooling_grad_vmap_and_jit(kind):
  rng = np.random.RandomState(0)
  xs = rng.permutation(3 * 2 * 6 * 6).reshape(3, 2, 6, 6).astype(np.float32)
  init = _init(kind, F32)
  f = lambda a: jnp.sum(lax.reduce_window(a, init, KINDS[kind][0], (1, 3, 3), (1, 2, 2), "SAME")
                        ** 2)
  g = rjax.grad(f)
  check_vmap(g, (xs,), in_axes=(0,))
  check_vmap(g, (xs.transpose(1, 0, 2, 3),), in_axes=(1,))
  np.testing.assert_array_equal(np.asarray(rjax.jit(g)(xs[0])), np.asarray(g(xs[0])))
  np.testing.assert_allclose(np.asarray(g(xs[0])), np.asarray(jax.grad(
      lambda a: jax.numpy.sum(jax.lax.reduce_window(a, init, KINDS[kind][1], (1, 3, 3), (1, 2, 2),
                                                    "SAME") ** 2))(xs[0])), rtol=1e-6)


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=15, deadline=None)
@given(problem=window_problems(dtypes=(F32, np.int32)))
def test_reduce_window_jit_matches_eager(kind, problem):
  x, kw = problem
  f = lambda a: lax.reduce_window(a, _init(kind, x.dtype), KINDS[kind][0], **kw)
  got, want = rjax.jit(f)(x), f(x)
  assert got.dtype == want.dtype
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_input_not_mutated():
  x = np.random.RandomState(0).randn(5, 5).astype(np.float32)
  x0 = x.copy()
  rjax.grad(lambda a: jnp.sum(lax.reduce_window(a, -jnp.inf, lax.max, (2, 2), (1, 1), "SAME")))(x)
  np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("channels", [8, 16, 33])
@pytest.mark.parametrize("padding", ["VALID", "SAME", ((1, 0), (0, 1))])
def test_pooling_over_contiguous_channel_rows(kind, channels, padding):
  """NHWC pooling (window 1 over batch and channels) takes the row path of
  the Rust kernel: whole channel rows combined at once. Same values as the
  reference, padding included."""
  rng = np.random.default_rng(channels)
  x = rng.standard_normal((3, 7, 6, channels)).astype(np.float32)
  comp, init = {"sum": (lax.add, 0.0), "max": (lax.max, -np.inf),
                "min": (lax.min, np.inf)}[kind]
  pads = padding if isinstance(padding, str) else ((0, 0),) + padding + ((0, 0),)
  got = lax.reduce_window(jnp.asarray(x), init, comp, (1, 2, 3, 1), (1, 2, 1, 1), pads)
  want = jax.lax.reduce_window(x, init, {"sum": jax.lax.add, "max": jax.lax.max,
                                         "min": jax.lax.min}[kind],
                               (1, 2, 3, 1), (1, 2, 1, 1), pads)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
  assert got.shape == want.shape
