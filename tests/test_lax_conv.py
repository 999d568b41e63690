"""lax.conv_general_dilated and its wrappers: values against the NumPy
reference (reference.py) and against installed JAX, over hypothesis-drawn
ranks, layouts, strides, paddings, dilations, groups and dtypes; gradients
of both operands numerically; vmap against a loop; jit against eager; bad
input raises at trace time."""
from __future__ import annotations

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.lax import convolution as conv_mod
from rjax._src.interpreters import reference
from rjax.test_util import check_grads
from util import arrays, assert_close, bfloat16, check_vmap, enable_x64

ref = reference.references[conv_mod.conv_general_dilated_p]
F32 = np.dtype(np.float32)
SPATIAL = "HWD"


@st.composite
def conv_problems(draw, dtypes=(F32,), max_nsp=3, allow_lhs_dilation=True, max_side=5):
  """(lhs, rhs, kwargs) of a valid convolution: layouts as string triples,
  padding as a string or explicit pairs (possibly negative), dilations,
  feature or batch groups."""
  dt = np.dtype(draw(st.sampled_from(dtypes)))
  nsp = draw(st.integers(1, max_nsp))
  sp = SPATIAL[:nsp]
  lhs_l = "".join(draw(st.permutations("NC" + sp)))
  rhs_l = "".join(draw(st.permutations("OI" + sp)))
  out_l = "".join(draw(st.permutations("NC" + sp)))
  groups = draw(st.sampled_from(["none", "none", "feature", "batch"]))
  g = draw(st.integers(2, 3)) if groups != "none" else 1
  fgc, bgc = (g, 1) if groups == "feature" else (1, g) if groups == "batch" else (1, 1)
  n = draw(st.integers(0 if groups != "batch" else 1, 3)) * bgc
  cin = draw(st.integers(1, 3))
  og = draw(st.integers(1, 3))
  isz = [draw(st.integers(1, max_side)) for _ in sp]
  ksz = [draw(st.integers(1, 3)) for _ in sp]
  strides = tuple(draw(st.integers(1, 3)) for _ in sp)
  rdil = tuple(draw(st.integers(1, 2)) for _ in sp)
  ldil = tuple(draw(st.integers(1, 2)) for _ in sp) if allow_lhs_dilation else (1,) * nsp
  if any(d > 1 for d in ldil) or draw(st.booleans()):
    padding = [(draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in sp]
  else:
    padding = draw(st.sampled_from(["SAME", "VALID", "SAME_LOWER"]))
  dims = {"N": n, "C": cin * fgc, **dict(zip(sp, isz))}
  kdims = {"O": og * fgc * bgc, "I": cin, **dict(zip(sp, ksz))}
  lhs_shape = tuple(dims[c] for c in lhs_l)
  rhs_shape = tuple(kdims[c] for c in rhs_l)
  if not isinstance(padding, str):
    rsp = [c for c in rhs_l if c in sp]   # strides, pads, dilations follow rhs_spec's order
    for c, (lo, hi), d in zip(rsp, padding, ldil):
      assume((dims[c] - 1) * d + 1 + lo + hi >= 0)
  lo, hi = (-3, 3) if dt.kind in "iu" else (-2.0, 2.0)
  lhs = draw(arrays(dt, lhs_shape, lo, hi))
  rhs = draw(arrays(dt, rhs_shape, lo, hi))
  kw = dict(window_strides=strides, padding=padding, lhs_dilation=ldil, rhs_dilation=rdil,
            dimension_numbers=(lhs_l, rhs_l, out_l), feature_group_count=fgc,
            batch_group_count=bgc)
  return lhs, rhs, kw


def _ref(lhs, rhs, kw):
  la, ra = lhs.shape, rhs.shape
  dn = lax.conv_dimension_numbers(la, ra, kw["dimension_numbers"])
  padding = kw["padding"]
  if isinstance(padding, str):
    rsp = np.take(ra, dn.rhs_spec)[2:]
    eff = [(k - 1) * d + 1 for k, d in zip(rsp, kw["rhs_dilation"])]
    padding = lax.padtype_to_pads(np.take(la, dn.lhs_spec)[2:], eff, kw["window_strides"],
                                  padding)
  return ref(lhs, rhs, window_strides=kw["window_strides"], padding=tuple(map(tuple, padding)),
             lhs_dilation=kw["lhs_dilation"], rhs_dilation=kw["rhs_dilation"],
             dimension_numbers=dn, feature_group_count=kw["feature_group_count"],
             batch_group_count=kw["batch_group_count"])


def _tol(dt, lhs, rhs):
  k = max(1, rhs.size)
  return {np.dtype(np.float16): 2e-2, bfloat16: 1e-1}.get(np.dtype(dt), 1e-5 * k)


@settings(max_examples=60, deadline=None)
@given(conv_problems(dtypes=(F32, F32, np.float16, bfloat16, np.int32, np.int8, np.uint8)))
def test_conv_matches_reference(problem):
  lhs, rhs, kw = problem
  got = lax.conv_general_dilated(lhs, rhs, **kw)
  want = _ref(lhs, rhs, kw)
  t = _tol(lhs.dtype, lhs, rhs)
  assert_close(got, want, lhs.dtype, rtol=t, atol=t)


@settings(max_examples=40, deadline=None)
@given(conv_problems())
def test_conv_matches_jax(problem):
  lhs, rhs, kw = problem
  got = np.asarray(lax.conv_general_dilated(lhs, rhs, **kw))
  want = np.asarray(jax.lax.conv_general_dilated(lhs, rhs, **kw,
                                                 precision=jax.lax.Precision.HIGHEST))
  assert got.shape == want.shape and got.dtype == want.dtype
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_float64_and_preferred_element_type():
  x = np.random.RandomState(0).randn(2, 3, 5, 5)
  w = np.random.RandomState(1).randn(4, 3, 2, 2)
  with enable_x64():
    got = lax.conv(x, w, (1, 1), "SAME")
    assert got.dtype == np.float64
    kw = dict(window_strides=(1, 1), padding="SAME", lhs_dilation=(1, 1), rhs_dilation=(1, 1),
              dimension_numbers=None, feature_group_count=1, batch_group_count=1)
    assert_close(got, _ref(x, w, kw), np.float64, rtol=1e-12, atol=1e-12)
    xi, wi = (x * 3).astype(np.int8), (w * 3).astype(np.int8)
    got = lax.conv(xi, wi, (1, 1), "VALID", preferred_element_type=np.int32)
    want = jax.lax.conv(xi, wi, (1, 1), "VALID", preferred_element_type=np.int32)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  got = lax.conv(x.astype(np.float16), w.astype(np.float16), (2, 1), "SAME",
                 preferred_element_type=np.float32)
  assert got.dtype == np.float32
  want = jax.lax.conv(x.astype(np.float16), w.astype(np.float16), (2, 1), "SAME",
                      preferred_element_type=np.float32)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-3, atol=1e-3)


def test_nhwc_layer_shapes_and_values():
  """The NN demo's layer: NHWC/HWIO, SAME, 3x3, strides 1 and 2."""
  rng = np.random.RandomState(0)
  x = rng.randn(4, 8, 8, 3).astype(np.float32)
  w = rng.randn(3, 3, 3, 16).astype(np.float32)
  for s in (1, 2):
    dn = ("NHWC", "HWIO", "NHWC")
    got = lax.conv_general_dilated(x, w, (s, s), "SAME", dimension_numbers=dn)
    want = jax.lax.conv_general_dilated(x, w, (s, s), "SAME", dimension_numbers=dn,
                                        precision=jax.lax.Precision.HIGHEST)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_wrappers_match_jax():
  rng = np.random.RandomState(0)
  x = rng.randn(2, 3, 7, 6).astype(np.float32)
  w = rng.randn(5, 3, 3, 2).astype(np.float32)
  hi = jax.lax.Precision.HIGHEST
  pairs = [
      (lax.conv(x, w, (2, 1), "VALID"), jax.lax.conv(x, w, (2, 1), "VALID", precision=hi)),
      (lax.conv_with_general_padding(x, w, (1, 2), [(1, 0), (2, 1)], (2, 1), (1, 2)),
       jax.lax.conv_with_general_padding(x, w, (1, 2), [(1, 0), (2, 1)], (2, 1), (1, 2),
                                         precision=hi)),
  ]
  xt = rng.randn(2, 5, 4, 3).astype(np.float32)
  wt = rng.randn(3, 3, 3, 4).astype(np.float32)
  for pad in ("SAME", "VALID", [(1, 2), (0, 1)]):
    for tk in (False, True):
      k = wt if not tk else wt.transpose(0, 1, 3, 2)
      pairs.append((lax.conv_transpose(xt, k, (2, 2), pad, transpose_kernel=tk),
                    jax.lax.conv_transpose(xt, k, (2, 2), pad, transpose_kernel=tk,
                                           precision=hi)))
  for got, want in pairs:
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_helpers_match_jax():
  for pad in ("SAME", "VALID", "SAME_LOWER", "same"):
    assert [tuple(p) for p in lax.padtype_to_pads((7, 6, 1), (3, 4, 2), (2, 1, 3), pad)] == \
        [tuple(map(int, p)) for p in jax.lax.padtype_to_pads((7, 6, 1), (3, 4, 2), (2, 1, 3), pad)]
  for dn in [("NHWC", "HWIO", "NHWC"), ("NCHW", "OIHW", "NCHW"), ("HNWC", "WHOI", "CWNH"), None]:
    got = lax.conv_dimension_numbers((1,) * 4, (1,) * 4, dn)
    want = jax.lax.conv_dimension_numbers((1,) * 4, (1,) * 4, dn)
    assert tuple(map(tuple, got)) == tuple(map(tuple, want))
    assert isinstance(got, lax.ConvDimensionNumbers)
  with pytest.raises(RuntimeError, match="Unrecognized padding"):
    lax.padtype_to_pads((3,), (2,), (1,), "FULL")


# -- gradients ----------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(conv_problems(max_nsp=2, max_side=4), st.integers(0, 2**31 - 1))
def test_conv_grads(problem, seed):
  lhs, rhs, kw = problem
  assume(lhs.size and rhs.size)
  with enable_x64():
    x, w = lhs.astype(np.float64), rhs.astype(np.float64)
    f = lambda a, b: lax.conv_general_dilated(a, b, **kw)
    check_grads(f, (x, w), order=1, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


def test_conv_second_order_grads_and_jax_vjp():
  rng = np.random.RandomState(0)
  kw = dict(window_strides=(2, 1), padding=[(1, 0), (0, 2)], rhs_dilation=(1, 2),
            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=2)
  x = rng.randn(2, 5, 6, 4)
  w = rng.randn(2, 3, 2, 6)
  with enable_x64():
    f = lambda a, b: lax.conv_general_dilated(a, b, **kw)
    check_grads(f, (x, w), order=2, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)
  # The VJP's values against JAX's, in float32.
  x32, w32 = x.astype(np.float32), w.astype(np.float32)
  ct = rng.randn(*f(x32, w32).shape).astype(np.float32)
  hi = jax.lax.Precision.HIGHEST
  _, vjp = rjax.vjp(f, x32, w32)
  _, jvjp = jax.vjp(lambda a, b: jax.lax.conv_general_dilated(a, b, **kw, precision=hi), x32, w32)
  for got, want in zip(vjp(jnp.asarray(ct)), jvjp(jjnp.asarray(ct))):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


# -- vmap and jit -------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(conv_problems(max_nsp=2, max_side=4), st.sampled_from(["lhs", "rhs", "both"]),
       st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_conv_vmap(problem, which, size, seed):
  lhs, rhs, kw = problem
  rng = np.random.RandomState(seed)
  bl = rng.randint(0, lhs.ndim + 1)
  br = rng.randint(0, rhs.ndim + 1)
  xs = np.stack([lhs + i for i in range(size)], bl) if which != "rhs" else lhs
  ws = np.stack([rhs - i for i in range(size)], br) if which != "lhs" else rhs
  in_axes = (bl if which != "rhs" else None, br if which != "lhs" else None)
  check_vmap(lambda a, b: lax.conv_general_dilated(a, b, **kw), (xs, ws), in_axes=in_axes,
             rtol=1e-4, atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(conv_problems(dtypes=(F32, np.int32)))
def test_conv_jit_matches_eager(problem):
  lhs, rhs, kw = problem
  f = lambda a, b: lax.conv_general_dilated(a, b, **kw)
  got, want = rjax.jit(f)(lhs, rhs), f(lhs, rhs)
  assert got.dtype == want.dtype
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


def test_grad_of_jit_and_jit_of_grad_agree():
  rng = np.random.RandomState(0)
  x = rng.randn(3, 6, 6, 2).astype(np.float32)
  w = rng.randn(3, 3, 2, 4).astype(np.float32)
  loss = lambda a, b: jnp.sum(jnp.tanh(lax.conv_general_dilated(
      a, b, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))) ** 2)
  g1 = rjax.grad(loss, argnums=(0, 1))(x, w)
  g2 = rjax.jit(rjax.grad(loss, argnums=(0, 1)))(x, w)
  g3 = rjax.grad(rjax.jit(loss), argnums=(0, 1))(x, w)
  for a, b, c in zip(g1, g2, g3):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-5, atol=1e-5)


def test_inputs_not_mutated_and_noncontiguous_inputs():
  rng = np.random.RandomState(0)
  x = rng.randn(2, 5, 5, 3).astype(np.float32)[:, ::-1]
  w = np.asfortranarray(rng.randn(3, 3, 3, 4).astype(np.float32))
  x0, w0 = x.copy(), w.copy()
  dn = ("NHWC", "HWIO", "NHWC")
  got = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)
  want = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn,
                                      precision=jax.lax.Precision.HIGHEST)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(x, x0)
  np.testing.assert_array_equal(w, w0)


# -- errors at trace time -----------------------------------------------------------------------

def _trace(f, *args):
  return rjax.make_jaxpr(f)(*args)


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(feature_group_count=2), ValueError, "feature_group_count must divide"),
    (dict(batch_group_count=4), ValueError, "batch_group_count must divide"),
    (dict(window_strides=(1,)), ValueError, "window_strides"),
    (dict(padding=[(0, 0)]), TypeError, "Wrong number of explicit pads"),
    (dict(padding=[(-9, 0), (0, 0)]), ValueError, "Negative padding"),
    (dict(dimension_numbers=("NHWC", "HWIO")), TypeError, "must be length 3"),
    (dict(dimension_numbers=("NHWC", "HWIX", "NHWC")), TypeError, "'O' and 'I'"),
    (dict(dimension_numbers=("NHC", "HIO", "NHC")), TypeError, "must have len equal"),
    (dict(rhs_dilation=(0, 1)), ValueError, "rhs_dilation must be >= 1"),
    (dict(padding="FULL"), RuntimeError, "Unrecognized padding"),
    (dict(lhs_dilation=(2, 1)), ValueError, "String padding is not implemented"),
])
def test_bad_input_raises_at_trace_time(kw, exc, msg):
  args = dict(window_strides=(1, 1), padding="SAME")
  args.update(kw)
  x = np.zeros((2, 3, 5, 5), np.float32)
  w = np.zeros((4, 3, 3, 3), np.float32)
  with pytest.raises(exc, match=msg):
    _trace(lambda a, b: lax.conv_general_dilated(a, b, **args), x, w)


def test_bad_dtypes_raise():
  x = np.zeros((1, 1, 3, 3), np.float32)
  with pytest.raises(TypeError, match="same dtypes"):
    lax.conv(x, np.zeros((1, 1, 2, 2), np.int32), (1, 1), "VALID")
  with pytest.raises(TypeError, match="bool"):
    lax.conv(x.astype(bool), np.zeros((1, 1, 2, 2), bool), (1, 1), "VALID")
  with pytest.raises(TypeError, match="narrower"):
    lax.conv(x, np.zeros((1, 1, 2, 2), np.float32), (1, 1), "VALID",
             preferred_element_type=np.float16)
  with pytest.raises(ValueError, match="same number of dimensions"):
    lax.conv_general_dilated(x, np.zeros((1, 1, 2), np.float32), (1, 1), [(0, 0), (0, 0)],
                             dimension_numbers=lax.ConvDimensionNumbers((0, 1, 2, 3), (0, 1, 2),
                                                                        (0, 1, 2, 3)))


def test_make_jaxpr_names_the_primitive():
  x = np.zeros((1, 4, 4, 2), np.float32)
  w = np.zeros((3, 3, 2, 5), np.float32)
  j = rjax.make_jaxpr(lambda a, b: lax.conv_general_dilated(
      a, b, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))(x, w)
  assert "conv_general_dilated" in str(j)
  assert "f32[1,4,4,5]" in str(j)
