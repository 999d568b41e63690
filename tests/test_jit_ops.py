"""jit against eager for every primitive in the registry.

For each primitive a case builder draws operands (shapes, dtypes, float64 and
int64 under x64, weak Python scalars) with hypothesis, and
``rjax.jit(f)(*args)`` must equal the eager ``f(*args)``: same shape, dtype
and weak type, bitwise for integers, booleans and exact float ops, within a
few ulp for float transcendentals (fused kernels use vectorized fast-math),
and within a summation-order tolerance for float sums and products. Each case
also runs inside a fused chain (exact ``max(v, v)`` before and after the op),
so elementwise ops are checked in fused kernels and reductions with the
elementwise producer they consume. The operand tables are the ones the
NumPy-reference tests use (imported, not copied). A coverage test fails when a
registered primitive or a Rust op has no case here; random chains of several
ops with broadcasting, scalars and a closing reduction check the fuser."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._rjax import supported_ops
from rjax._src import core
from rjax._src.interpreters import ad
from rjax._src.lax.parallel import COLLECTIVES
from test_lax_conv import conv_problems
from test_lax_dot import dot_problems
from test_lax_elementwise import BINARY, UNARY
from test_lax_reductions import CUM, REDUCE
from test_lax_slicing import GATHER_CASES
from test_lax_windowed import window_problems
from util import (all_dtypes, arrays, bfloat16, enable_x64, float_dtypes,
                  numeric_dtypes, shapes)
from util_elementwise import broadcast_shapes
from util_reductions import shape_and_axes, shape_and_axis
from util_shapes import permutations

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
I32, I64 = np.dtype(np.int32), np.dtype(np.int64)
BOOL = np.dtype(np.bool_)

#: float transcendentals: jit may differ from eager by a few ulp
TRANSCENDENTAL = {"exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan",
                  "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "rsqrt",
                  "cbrt", "erf", "erfc", "erf_inv", "lgamma", "digamma", "atan2", "pow",
                  "integer_pow"}
ULP = 4
#: float results that depend on the order of a sum or product
ORDER_DEPENDENT = {"reduce_sum", "reduce_prod", "cumsum", "cumprod", "cumlogsumexp",
                   "dot_general", "conv_general_dilated", "reduce_window_sum",
                   "select_and_scatter_add"}


class Case(NamedTuple):
  fn: Callable
  args: tuple           # NumPy arrays, Python scalars
  ulp: int = 0          # allowed float difference in ulp (0: bitwise)
  order: bool = False   # a float sum/product: a relative tolerance instead
  x64: bool = False


def _with_x64(dts):
  """An op's dtypes plus float64 / int64 where it takes float32 / int32."""
  out = list(dts)
  if F32 in out:
    out.append(F64)
  if I32 in out:
    out.append(I64)
  return out


def _is64(*dts) -> bool:
  return any(np.dtype(d).itemsize == 8 for d in dts)


def _array(data, dtype, shape, lo=None, hi=None, special=False):
  """Small arrays from hypothesis (edge values); large ones from a seeded
  NumPy generator (hypothesis draws elements one by one). ``special`` puts
  NaN, ±inf and -0.0 at some places of float arrays."""
  dtype = np.dtype(dtype)
  if int(np.prod(shape)) <= 64:
    gen = F32 if dtype == F64 else dtype
    x = np.asarray(data.draw(arrays(gen, shape, lo, hi)), gen).astype(dtype)
  else:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    if dtype == BOOL:
      x = rng.random(shape) < 0.5
    elif dtype.kind in "iu":
      info = np.iinfo(dtype)
      x = rng.integers(max(info.min, -1000 if lo is None else lo),
                       min(info.max, 1000 if hi is None else hi), shape,
                       endpoint=True).astype(dtype)
    else:
      x = rng.uniform(-100.0 if lo is None else lo, 100.0 if hi is None else hi,
                      shape).astype(dtype)
  if special and x.size and (dtype.kind == "f" or dtype == bfloat16) and data.draw(st.booleans()):
    x = x.copy()
    flat = x.reshape(-1)
    for v in data.draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, -0.0]), min_size=1,
                                max_size=4)):
      flat[data.draw(st.integers(0, x.size - 1))] = v
  return x


BIG_SHAPES = [(67,), (9, 33), (5000,)]


def _shape(data, max_dims=3, min_dims=0, min_side=0):
  if min_dims <= 1 and data.draw(st.integers(0, 5)) == 0:
    return data.draw(st.sampled_from(BIG_SHAPES))
  return data.draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))


# -- comparison ------------------------------------------------------------------------------

def _ordered_bits(a: np.ndarray) -> np.ndarray:
  """Float bits mapped to integers that count ulps (monotone in the value)."""
  u = a.view(f"u{a.dtype.itemsize}").astype(np.int64)
  sign = np.int64(1) << (8 * a.dtype.itemsize - 1)
  return np.where(u >= sign, sign - u, u)


def assert_same(got, want, ulp=0, order=False, what=""):
  """jit's result against eager's: structure, shape, dtype, weak type, values."""
  gl, gt = rjax.tree_util.tree_flatten(got)
  wl, wt = rjax.tree_util.tree_flatten(want)
  assert gt == wt, f"{what}: pytree {gt} != {wt}"
  for i, (g, w) in enumerate(zip(gl, wl)):
    tag = f"{what} output {i}"
    assert g.shape == w.shape, f"{tag}: shape {g.shape} != eager {w.shape}"
    assert g.dtype == w.dtype, f"{tag}: dtype {g.dtype} != eager {w.dtype}"
    assert g.weak_type == w.weak_type, f"{tag}: weak_type {g.weak_type} != eager {w.weak_type}"
    g, w = np.asarray(g), np.asarray(w)
    if g.dtype.kind == "c":   # complex: its parts, as reals
      g, w = g.reshape(-1).view(g.real.dtype), w.reshape(-1).view(w.real.dtype)
    if g.dtype.kind in "biu":
      np.testing.assert_array_equal(g, w, err_msg=tag)
      continue
    with np.errstate(invalid="ignore"):  # casts of signalling NaNs (bitcasts make them)
      nan, wnan = np.isnan(g.astype(np.float64)), np.isnan(w.astype(np.float64))
    np.testing.assert_array_equal(nan, wnan, err_msg=f"{tag}: NaNs")
    g, w = g[~nan], w[~nan]
    if order:
      eps = float(np.finfo(np.float32 if g.dtype == bfloat16 else g.dtype).eps)
      eps = 2.0**-8 if g.dtype == bfloat16 else eps
      np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=64 * eps,
                                 atol=64 * eps, err_msg=tag)
      continue
    diff = np.abs(_ordered_bits(g) - _ordered_bits(w))
    worst = int(diff.max()) if diff.size else 0
    assert worst <= ulp, (f"{tag}: {worst} ulp apart (allowed {ulp}); jit "
                          f"{g.flat[int(diff.argmax())]!r} vs eager {w.flat[int(diff.argmax())]!r}")


def _leaves_np(args):
  return [a for a in args if isinstance(a, np.ndarray)]


def _exact_identity(v):
  """``max(v, v)``: the identity for every dtype (NaN and -0.0 included), an
  elementwise op the fuser chains with its neighbours."""
  if not isinstance(v, (np.ndarray, rjax.Array, core.Tracer)):
    return v
  if np.dtype(v.dtype).kind == "c":   # (max takes no complex): -(-v), also exact
    return lax.neg(lax.neg(v))
  return lax.max(v, v)


def _in_chain(fn):
  def chained(*xs):
    out = fn(*[_exact_identity(x) for x in xs])
    return rjax.tree_util.tree_map(_exact_identity, out)
  return chained


def _prims_in(jaxpr) -> set:
  names = set()
  for eqn in jaxpr.eqns:
    names.add(eqn.primitive.name)
    for p in eqn.params.values():
      for sub in (p if isinstance(p, (tuple, list)) else (p,)):
        if isinstance(sub, (core.Jaxpr, core.ClosedJaxpr)):
          names |= _prims_in(sub)
  return names


def check_case(name: str, case: Case):
  with enable_x64(case.x64):
    args = [jnp.asarray(a) if isinstance(a, np.ndarray) and i % 2 == 0 else a
            for i, a in enumerate(case.args)]   # odd ones reach jit as NumPy arrays
    before = [a.copy() for a in _leaves_np(case.args)]
    jaxpr = rjax.make_jaxpr(case.fn)(*args)
    assert name in _prims_in(jaxpr), f"the case for {name} does not bind it:\n{jaxpr}"
    for label, fn in (("plain", case.fn), ("in a chain", _in_chain(case.fn))):
      want = fn(*args)
      got = rjax.jit(fn)(*args)
      assert_same(got, want, case.ulp, case.order, f"{name} {label}")
    for a, b in zip(_leaves_np(case.args), before):  # NumPy inputs never change (bitwise)
      np.testing.assert_array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


# -- case builders -----------------------------------------------------------------------------

CASES: dict[str, Callable[[Any], Case]] = {}


def case(*names):
  def reg(builder):
    for n in names:
      CASES[n] = (lambda b, n: lambda data: b(data, n))(builder, n)
    return builder
  return reg


def _elementwise_builder(rec):
  def build(data, name):
    dt = data.draw(st.sampled_from(_with_x64(rec.dtypes)))
    if rec.nargs == 1:
      shps = [_shape(data)]
    elif data.draw(st.integers(0, 4)) == 0:
      big = data.draw(st.sampled_from(BIG_SHAPES))
      shps = data.draw(st.sampled_from([[big, big], [big, ()], [(), big]]))
    else:
      shps = data.draw(broadcast_shapes(2))
    xs = [_array(data, dt, s, rec.lo, rec.hi) for s in shps]
    if name == "pow":
      xs[1] = (xs[1] - np.asarray(2, dt)).astype(dt)
    if name.startswith("shift"):
      xs[1] = _array(data, dt, shps[1], 0, 40)
    fn, args = rec.fn, tuple(xs)
    if rec.nargs == 2 and dt != BOOL and data.draw(st.booleans()):
      # a weak Python scalar operand (taken from the drawn values, so in range)
      k = data.draw(st.integers(0, 1))
      v = xs[k].reshape(-1)[0] if xs[k].size else np.asarray(1, dt)
      s = float(v) if dt.kind == "f" or dt == bfloat16 else int(v)
      if dt in (F32, I32) and data.draw(st.booleans()):
        args = tuple(s if i == k else x for i, x in enumerate(xs))  # a weak jit argument
      else:   # a constant of the traced function
        args = (xs[1 - k],)
        fn = (lambda f, s: lambda a: f(s, a))(rec.fn, s) if k == 0 else \
            (lambda f, s: lambda a: f(a, s))(rec.fn, s)
    ulp = ULP if name in TRANSCENDENTAL else 0
    return Case(fn, args, ulp, x64=_is64(dt))
  return build


for _rec in UNARY + BINARY:
  CASES[_rec.name] = (lambda b, n: lambda data: b(data, n))(_elementwise_builder(_rec), _rec.name)

_FLOATS = float_dtypes + [F64]


@case("round")
def _round(data, name):
  dt = data.draw(st.sampled_from(_FLOATS))
  x = _array(data, dt, _shape(data), -10, 10, special=True)
  method = data.draw(st.sampled_from([0, 1]))
  return Case(lambda v: lax.round(v, method), (x,), x64=_is64(dt))


@case("is_finite")
def _is_finite(data, name):
  dt = data.draw(st.sampled_from(_FLOATS))
  return Case(lax.is_finite, (_array(data, dt, _shape(data), special=True),), x64=_is64(dt))


@case("nextafter")
def _nextafter(data, name):
  dt = data.draw(st.sampled_from(_FLOATS))
  shps = data.draw(broadcast_shapes(2))
  xs = [_array(data, dt, s, -2, 2, special=True) for s in shps]
  return Case(lax.nextafter, tuple(xs), x64=_is64(dt))


@case("integer_pow")
def _integer_pow(data, name):
  dt = data.draw(st.sampled_from(_with_x64(numeric_dtypes)))
  flt = dt.kind == "f" or dt == bfloat16
  y = data.draw(st.integers(-3 if flt else 0, 5))
  x = _array(data, dt, _shape(data), 0.5 if flt and y < 0 else -4, 4)
  return Case(lambda v: lax.integer_pow(v, y), (x,), ULP if flt else 0, x64=_is64(dt))


_ALL64 = _with_x64(all_dtypes)


@case("convert_element_type")
def _convert(data, name):
  src = data.draw(st.sampled_from(_ALL64))
  dst = data.draw(st.sampled_from([d for d in _ALL64 if d != src]))  # (else nothing binds)
  x = _array(data, src, _shape(data), -300, 300, special=True)
  weak = data.draw(st.booleans()) and dst.kind in "fi" and dst.itemsize == 4
  return Case(lambda v: lax.convert_element_type(v, dst) if not weak else
              lax.convert_element_type(v, dst) * (2 if dst.kind == "i" else 2.0),
              (x,), x64=_is64(src, dst))


@case("bitcast_convert_type")
def _bitcast(data, name):
  src = data.draw(st.sampled_from([d for d in _ALL64 if d != BOOL]))
  dst = data.draw(st.sampled_from([d for d in _ALL64 if d != BOOL
                                   and d.itemsize <= src.itemsize]))
  x = _array(data, src, _shape(data), special=True)
  return Case(lambda v: lax.bitcast_convert_type(v, dst), (x,), x64=_is64(src, dst))


@case("clamp")
def _clamp(data, name):
  dt = data.draw(st.sampled_from(_with_x64(numeric_dtypes)))
  shp = _shape(data)
  x = _array(data, dt, shp, -20, 20)
  lo = _array(data, dt, data.draw(st.sampled_from([(), shp])), -10, 0)
  hi = _array(data, dt, data.draw(st.sampled_from([(), shp])), 0, 10)
  return Case(lax.clamp, (lo, x, hi), x64=_is64(dt))


@case("select_n")
def _select_n(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  shp = _shape(data)
  n = data.draw(st.integers(2, 3))   # (lax.select_n of one case binds nothing)
  which_dt = BOOL if n == 2 and data.draw(st.booleans()) else I32
  which = _array(data, which_dt, data.draw(st.sampled_from([(), shp])), 0, n - 1)
  cases = [_array(data, dt, shp) for _ in range(n)]
  return Case(lax.select_n, (which, *cases), x64=_is64(dt))


@case("stop_gradient")
def _stop_gradient(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  return Case(lax.stop_gradient, (_array(data, dt, _shape(data)),), x64=_is64(dt))


@case("add_any")
def _add_any(data, name):
  dt = data.draw(st.sampled_from(_with_x64(numeric_dtypes)))
  shp = _shape(data)
  return Case(ad.add_jaxvals_p.bind, (_array(data, dt, shp), _array(data, dt, shp)),
              x64=_is64(dt))


@case(*REDUCE)
def _reduce(data, name):
  fn, _, dts = REDUCE[name]
  dt = data.draw(st.sampled_from(_with_x64(dts)))
  if data.draw(st.integers(0, 4)) == 0:
    shape, axes = data.draw(st.sampled_from([((5000,), (0,)), ((9, 33), (1,)), ((9, 33), (0,)),
                                             ((9, 33), (0, 1))]))
  else:
    shape, axes = data.draw(shape_and_axes())
  lo, hi = (-1, 1) if name == "reduce_prod" else (None, None)
  x = _array(data, dt, shape, lo, hi)
  flt = dt.kind == "f" or dt == bfloat16
  return Case(lambda v: fn(v, axes), (x,), order=flt and name in ORDER_DEPENDENT,
              x64=_is64(dt))


@case("argmax", "argmin")
def _arg(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  shape, axis = data.draw(shape_and_axis(min_side=1))
  x = _array(data, dt, shape, -5, 5, special=True)
  idt = data.draw(st.sampled_from([I32, np.dtype(np.uint8)]))
  fn = getattr(lax, name)
  return Case(lambda v: fn(v, axis, idt), (x,), x64=_is64(dt))


@case(*CUM)
def _cumulative(data, name):
  dts = float_dtypes if name == "cumlogsumexp" else numeric_dtypes
  dt = data.draw(st.sampled_from(_with_x64(dts)))
  shape, axis = data.draw(shape_and_axis())
  lo, hi = (-2, 2) if name == "cumprod" else (-20, 20)
  x = _array(data, dt, shape, lo, hi)
  reverse = data.draw(st.booleans())
  fn = getattr(lax, name)
  flt = dt.kind == "f" or dt == bfloat16
  return Case(lambda v: fn(v, axis=axis, reverse=reverse), (x,),
              order=flt and name in ORDER_DEPENDENT, x64=_is64(dt))


@case("complex", "real", "imag", "conj")
def _complex_parts(data, name):
  dt = data.draw(st.sampled_from([F32, np.dtype(np.float64)]))
  shape = _shape(data)
  re, im = _array(data, dt, shape, -3, 3, special=True), _array(data, dt, shape, -3, 3)
  z = (re.astype(np.complex128) + 1j * im).astype(np.complex64 if dt == F32 else np.complex128)
  fns = {"complex": (lambda a, b: lax.complex(a, b), (re, im)),
         "real": (lambda v: lax.real(v) * 2, (z,)),
         "imag": (lambda v: lax.imag(v) - 1, (z,)),
         "conj": (lambda v: lax.conj(v) * v, (z,))}
  fn, args = fns[name]
  return Case(fn, args, x64=_is64(dt))


@case("fft")
def _fft(data, name):
  kind = data.draw(st.sampled_from(list(lax.FftType)))
  k = data.draw(st.integers(1, 2))
  shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=k, max_size=k + 1)))
  lengths = shape[-k:]
  re = _array(data, F32, shape, -3, 3)
  if kind == lax.FftType.RFFT:
    return Case(lambda v: lax.fft(v, kind, lengths), (re,), ulp=4)
  if kind == lax.FftType.IRFFT:
    shape = shape[:-1] + (lengths[-1] // 2 + 1,)
    re = _array(data, F32, shape, -3, 3)
  z = (re + 0.5j * re[..., ::-1]).astype(np.complex64)
  return Case(lambda v: lax.fft(v, kind, lengths), (z,), ulp=4)


@case("sort")
def _sort(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  shape, dim = data.draw(shape_and_axis())
  x = _array(data, dt, shape, -3, 3, special=True)
  if data.draw(st.booleans()):
    return Case(lambda v: lax.sort(v, dimension=dim), (x,), x64=_is64(dt))
  k2 = _array(data, np.int8, shape, -2, 2)
  pay = np.arange(x.size, dtype=np.int32).reshape(shape)
  nk = data.draw(st.sampled_from([1, 2]))
  return Case(lambda a, b, c: lax.sort((a, b, c), dimension=dim, num_keys=nk), (x, k2, pay),
              x64=_is64(dt))


@case("top_k")
def _top_k(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  shape, axis = data.draw(shape_and_axis())
  x = _array(data, dt, shape, -3, 3, special=True)
  k = data.draw(st.integers(0, shape[axis]))
  return Case(lambda v: lax.top_k(v, k, axis=axis), (x,), x64=_is64(dt))


def _any_dtype_array(data, min_dims=0, max_dims=3, min_side=0):
  dt = data.draw(st.sampled_from(_ALL64))
  return _array(data, dt, _shape(data, max_dims, min_dims, min_side)), dt


@case("broadcast_in_dim")
def _broadcast_in_dim(data, name):
  x, dt = _any_dtype_array(data)
  out, dims = [], []
  for n in x.shape:
    for _ in range(data.draw(st.integers(0, 1))):
      out.append(data.draw(st.integers(0, 3)))
    dims.append(len(out))
    out.append(data.draw(st.integers(1, 3)) if n == 1 else n)
  if data.draw(st.booleans()) or tuple(out) == x.shape:   # (the identity binds nothing)
    out.append(2)
  return Case(lambda v: lax.broadcast_in_dim(v, tuple(out), tuple(dims)), (x,), x64=_is64(dt))


@case("reshape")
def _reshape(data, name):
  x, dt = _any_dtype_array(data)
  perm = data.draw(permutations(x.ndim)) if data.draw(st.booleans()) else None
  moved = tuple(x.shape[p] for p in perm) if perm else x.shape
  sizes = [(x.size,), (1, x.size, 1), (x.size, 1)] + \
      ([(2, x.size // 2)] if x.size % 2 == 0 else [])
  sizes = data.draw(st.sampled_from([s for s in sizes if s != moved]))  # (else nothing binds)
  return Case(lambda v: lax.reshape(v, sizes, perm), (x,), x64=_is64(dt))


@case("transpose")
def _transpose(data, name):
  x, dt = _any_dtype_array(data)
  perm = data.draw(permutations(x.ndim))
  if perm == tuple(range(x.ndim)):       # lax.transpose skips the identity
    perm = tuple(reversed(perm))
    if perm == tuple(range(x.ndim)):
      x, perm = x.reshape(x.shape + (1, 1)), tuple(reversed(range(x.ndim + 2)))
  return Case(lambda v: lax.transpose(v, perm), (x,), x64=_is64(dt))


@case("rev")
def _rev(data, name):
  x, dt = _any_dtype_array(data, min_dims=1)
  dims = tuple(sorted(data.draw(st.sets(st.integers(0, x.ndim - 1), min_size=1))))
  return Case(lambda v: lax.rev(v, dims), (x,), x64=_is64(dt))


@case("squeeze")
def _squeeze(data, name):
  x, dt = _any_dtype_array(data)
  x = x.reshape((1,) + x.shape + (1,))
  dims = data.draw(st.sampled_from([(0,), (-1,), (0, -1)]))
  return Case(lambda v: lax.squeeze(v, dims), (x,), x64=_is64(dt))


@case("concatenate")
def _concatenate(data, name):
  x, dt = _any_dtype_array(data, min_dims=1)
  dim = data.draw(st.integers(0, x.ndim - 1))
  ops = []
  for n in data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3)):
    sh = list(x.shape)
    sh[dim] = n
    ops.append(_array(data, dt, tuple(sh)))
  ops.insert(data.draw(st.integers(0, len(ops))), x)
  return Case(lambda *vs: lax.concatenate(vs, dim), tuple(ops), x64=_is64(dt))


@case("pad")
def _pad(data, name):
  x, dt = _any_dtype_array(data)
  cfg = []
  for n in x.shape:
    lo, hi, interior = (data.draw(st.integers(-n, 3)), data.draw(st.integers(-n, 3)),
                        data.draw(st.integers(0, 2)))
    if lo + hi + (n + (n - 1) * interior if n else 0) < 0:
      lo = hi = 0
    cfg.append((lo, hi, interior))
  pv = _array(data, dt, ())
  if not cfg or all(c == (0, 0, 0) for c in cfg):
    x, cfg = x.reshape(x.shape + (1,)), cfg + [(1, 0, 0)]
  return Case(lambda v, p: lax.pad(v, p, cfg), (x, pv), x64=_is64(dt))


@case("iota")
def _iota(data, name):
  dt = data.draw(st.sampled_from([d for d in _with_x64(numeric_dtypes)]))
  shape = data.draw(shapes(min_dims=1, max_dims=3))
  dim = data.draw(st.integers(0, len(shape) - 1))
  if data.draw(st.booleans()):
    return Case(lambda: lax.broadcasted_iota(dt, shape, dim), (), x64=_is64(dt))
  x = _array(data, dt, shape, 0, 5)    # an operand, so iota meets an input in a chain
  return Case(lambda v: lax.add(v, lax.broadcasted_iota(dt, shape, dim)), (x,), x64=_is64(dt))


@case("slice")
def _slice(data, name):
  x, dt = _any_dtype_array(data, min_dims=1, min_side=1)
  start, limit, strides = [], [], []
  for n in x.shape:
    s = data.draw(st.integers(0, n))
    start.append(s)
    limit.append(data.draw(st.integers(s, n)))
    strides.append(data.draw(st.integers(1, 3)))
  if start == [0] * x.ndim and limit == list(x.shape) and strides == [1] * x.ndim:
    x = np.concatenate([x, x], 0)         # not the whole array (lax.slice skips that)
  return Case(lambda v: lax.slice(v, start, limit, strides), (x,), x64=_is64(dt))


_INDEX_DTYPES = [np.dtype(t) for t in (np.int8, np.int32, np.uint8, np.uint32)]


@case("dynamic_slice")
def _dynamic_slice(data, name):
  x, dt = _any_dtype_array(data, min_dims=1)
  idt = data.draw(st.sampled_from(_INDEX_DTYPES))
  sizes = tuple(data.draw(st.integers(0, n)) for n in x.shape)
  lo, hi = (-3 if idt.kind == "i" else 0), int(np.iinfo(idt).max)
  idx = [np.asarray(data.draw(st.integers(lo, min(n + 3, hi))), idt) for n in x.shape]
  return Case(lambda v, *i: lax.dynamic_slice(v, i, sizes), (x, *idx), x64=_is64(dt))


@case("dynamic_update_slice")
def _dynamic_update_slice(data, name):
  x, dt = _any_dtype_array(data, min_dims=1)
  u = _array(data, dt, tuple(data.draw(st.integers(0, n)) for n in x.shape))
  idx = [np.asarray(data.draw(st.integers(-2, n + 2)), I32) for n in x.shape]
  return Case(lambda v, w, *i: lax.dynamic_update_slice(v, w, i), (x, u, *idx), x64=_is64(dt))


@case("gather")
def _gather(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  if data.draw(st.booleans()):
    shape, idx, dn, sizes = data.draw(st.sampled_from(GATHER_CASES))
    idx = np.asarray(idx, np.int32)
    x = _array(data, dt, shape)
  else:  # rows, out of bounds included: x[idx] with each mode
    n = data.draw(st.integers(1, 6))
    x = _array(data, dt, (n, data.draw(st.integers(0, 3))))
    k = data.draw(st.integers(0, 8))
    idx = np.asarray(data.draw(st.lists(st.integers(-3, n + 2), min_size=k, max_size=k)),
                     np.int32).reshape(k, 1)
    dn, sizes = lax.GatherDimensionNumbers((1,), (0,), (0,)), (1, x.shape[1])
  mode = data.draw(st.sampled_from(["clip", "fill"]))
  return Case(lambda v, i: lax.gather(v, i, dn, sizes, mode=mode), (x, idx), x64=_is64(dt))


_SCATTERS = {"scatter": lax.scatter, "scatter-add": lax.scatter_add,
             "scatter-mul": lax.scatter_mul, "scatter-min": lax.scatter_min,
             "scatter-max": lax.scatter_max}


@case(*_SCATTERS)
def _scatter(data, name):
  dt = data.draw(st.sampled_from(_with_x64(numeric_dtypes)))
  n, k = data.draw(st.integers(1, 5)), data.draw(st.integers(0, 6))
  x = _array(data, dt, (n, 3), -10, 10)
  idx = np.asarray(data.draw(st.lists(st.integers(-2, n + 1), min_size=k, max_size=k)),
                   np.int32).reshape(k, 1)
  if name == "scatter":  # which of repeated writes wins is unspecified
    idx = np.asarray(sorted(set(idx[:, 0].tolist())), np.int32).reshape(-1, 1)
  upd = _array(data, dt, (len(idx), 3), -3, 3)
  mode = data.draw(st.sampled_from(["clip", "drop"]))
  fn = _SCATTERS[name]
  dn = lax.ScatterDimensionNumbers((1,), (0,), (0,))
  flt = dt.kind == "f" or dt == bfloat16
  return Case(lambda a, i, u: fn(a, i, u, dn, mode=mode), (x, idx, upd),
              order=flt and name in ("scatter-add", "scatter-mul"), x64=_is64(dt))


@case("dot_general")
def _dot_general(data, name):
  lhs, rhs, dn = data.draw(dot_problems(dtypes=_ALL64))
  flt = lhs.dtype.kind == "f" or lhs.dtype == bfloat16
  return Case(lambda a, b: lax.dot_general(a, b, dn), (lhs, rhs), order=flt,
              x64=_is64(lhs.dtype))


@case("conv_general_dilated")
def _conv_general_dilated(data, name):
  lhs, rhs, kw = data.draw(conv_problems(dtypes=[F32, F64, np.float16, bfloat16, I32, np.int8]))
  flt = lhs.dtype.kind == "f" or lhs.dtype == bfloat16
  return Case(lambda a, b: lax.conv_general_dilated(a, b, **kw), (lhs, rhs), order=flt,
              x64=_is64(lhs.dtype))


_WINDOW_FNS = {"reduce_window_sum": (lax.add, lambda dt: 0),
               "reduce_window_max": (lax.max, lambda dt: -np.inf if dt.kind == "f" or dt == bfloat16
                                     else np.iinfo(dt).min),
               "reduce_window_min": (lax.min, lambda dt: np.inf if dt.kind == "f" or dt == bfloat16
                                     else np.iinfo(dt).max)}


@case(*_WINDOW_FNS)
def _reduce_window(data, name):
  x, kw = data.draw(window_problems(dtypes=[F32, F64, np.float16, bfloat16, I32, np.uint8]))
  comp, init = _WINDOW_FNS[name]
  flt = x.dtype.kind == "f" or x.dtype == bfloat16
  iv = np.asarray(init(x.dtype), x.dtype)
  return Case(lambda a: lax.reduce_window(a, iv, comp, **kw), (x,),
              order=flt and name == "reduce_window_sum", x64=_is64(x.dtype))


@case("select_and_gather_add", "select_and_scatter_add")
def _select_and(data, name):
  from rjax._src.lax import windowed_reductions as wr
  x, kw = data.draw(window_problems(dtypes=[F32, F64, I32], dilation=name == "select_and_gather_add",
                                    string_padding=False))
  x = np.round(x)   # ties: the first in window order wins
  from rjax._src.lax import lax as lax_internal
  sel = data.draw(st.sampled_from([lax_internal.ge_p, lax_internal.le_p]))
  if name == "select_and_gather_add":
    t = _array(data, x.dtype, x.shape, -3, 3)
    return Case(lambda a, b: wr.select_and_gather_add_p.bind(a, b, select_prim=sel, **kw),
                (t, x), x64=_is64(x.dtype))
  kw = {k: kw[k] for k in ("window_dimensions", "window_strides", "padding")}
  out = wr.reduce_window_shape_tuple(x.shape, kw["window_dimensions"], kw["window_strides"],
                                     kw["padding"])
  src = _array(data, x.dtype, out, -3, 3)
  return Case(lambda s, b: wr.select_and_scatter_add_p.bind(s, b, select_prim=sel, **kw),
              (src, x), order=x.dtype.kind == "f", x64=_is64(x.dtype))


# -- control flow and the PRNG hash (tests/test_control_flow.py and tests/test_random.py
#    check their values against Python loops and JAX; here jit against eager) ----------------

@case("cond")
def _cond(data, name):
  x = _array(data, np.float32, data.draw(shapes(max_dims=2)), -3, 3)
  p = data.draw(st.booleans())
  return Case(lambda v: lax.cond(p, lambda u: jnp.sin(u) * 2.0, lambda u: u - 1.0, v), (x,),
              ulp=4)


@case("while")
def _while(data, name):
  x = _array(data, np.float32, data.draw(shapes(max_dims=2)), -3, 3)
  n = data.draw(st.integers(0, 6))
  return Case(lambda v: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.5 + 1.0),
                                       (0, v))[1], (x,))


@case("scan")
def _scan(data, name):
  xs = _array(data, np.float32, (data.draw(st.integers(0, 5)), 3), -3, 3)
  rev = data.draw(st.booleans())
  return Case(lambda v: lax.scan(lambda c, x: (c + x, c * x), jnp.zeros(3), v, reverse=rev), (xs,),
              order=True)


@case("custom_linear_solve")
def _custom_linear_solve(data, name):
  n = data.draw(st.integers(1, 4))
  a = (np.eye(n) * 4 + _array(data, np.float32, (n, n), -1, 1)).astype(np.float32)
  b = _array(data, np.float32, (n,), -3, 3)

  def solve(matvec, rhs):   # Richardson iterations (a while loop inside the solve)
    return lax.fori_loop(0, 60, lambda i, v: v + 0.2 * (rhs - matvec(v)), jnp.zeros_like(rhs))
  return Case(lambda u, v: lax.custom_linear_solve(lambda x: u @ x, v, solve), (a, b))


@case("threefry2x32")
def _threefry(data, name):
  from rjax._src.random.prng import threefry2x32
  shape = data.draw(shapes(max_dims=2))
  k0, k1 = (_array(data, np.uint32, (), 0, 2**32 - 1) for _ in range(2))
  x0, x1 = (_array(data, np.uint32, shape, 0, 2**32 - 1) for _ in range(2))
  return Case(lambda *a: threefry2x32(*a), (k0, k1, x0, x1))


# -- host callbacks (tests/test_callbacks.py checks ordering, errors and transformations) -------

@case("pure_callback")
def _pure_callback(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  x = _array(data, dt, data.draw(shapes(max_dims=2)))
  spec = rjax.ShapeDtypeStruct(x.shape[::-1], dt)
  return Case(lambda v: rjax.pure_callback(lambda a: a.T.copy(), spec, v), (x,),
              x64=_is64(dt))


@case("debug_callback")
def _debug_callback(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  x = _array(data, dt, data.draw(shapes(max_dims=2)))
  seen = []

  def fn(v):
    rjax.debug.callback(seen.append, v)
    return v
  return Case(fn, (x,), x64=_is64(dt))


# -- the transformations' own primitives (tests/test_remat.py and tests/test_custom_rules.py
#    check their rules against JAX) --------------------------------------------------------------

@case("remat2")
def _remat2(data, name):
  x = _array(data, np.float32, data.draw(shapes(max_dims=2)), -3, 3)
  return Case(rjax.checkpoint(lambda v: jnp.sin(v) * v), (x,), ulp=4)


@case("name")
def _name(data, name):
  from rjax.ad_checkpoint import checkpoint_name
  x = _array(data, np.float32, data.draw(shapes(max_dims=2)), -3, 3)
  return Case(lambda v: checkpoint_name(v * 2.0, "y") + 1.0, (x,))


@case("optimization_barrier")
def _optimization_barrier(data, name):
  dt = data.draw(st.sampled_from(_ALL64))
  x = _array(data, dt, data.draw(shapes(max_dims=2)))
  return Case(lambda v: lax.optimization_barrier((v, v))[1], (x,), x64=_is64(dt))


@case("custom_vmap_call")
def _custom_vmap_call(data, name):
  from rjax.custom_batching import custom_vmap
  x = _array(data, np.float32, data.draw(shapes(max_dims=2)), -3, 3)
  f = custom_vmap(lambda v: v * 3.0)
  f.def_vmap(lambda n, b, v: (v * 3.0, b[0]))
  return Case(f, (x,))


@case("linear_call")
def _linear_call(data, name):
  from rjax.custom_derivatives import linear_call
  x = _array(data, np.float32, data.draw(shapes(max_dims=2)), -3, 3)
  return Case(lambda v: linear_call(lambda r, t: t * r, lambda r, c: c * r, 2.0, v), (x,))


@case("cholesky", "lu", "lu_pivots_to_permutation", "qr", "eigh", "svd", "triangular_solve",
      "tridiagonal_solve", "eig", "schur", "hessenberg_q", "sturm_count")
def _linalg(data, name):
  from rjax.lax import linalg as rl
  from rjax._src.lax import linalg_eig
  dt = data.draw(st.sampled_from([F32, F64, np.dtype(np.complex64), np.dtype(np.complex128)]))
  batch = tuple(data.draw(st.lists(st.integers(0, 2), max_size=2)))
  m, n = data.draw(st.integers(0, 5)), data.draw(st.integers(0, 5))
  r = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
  sq = r.standard_normal(batch + (m, m))
  if np.dtype(dt).kind == "c":
    sq = sq + 1j * r.standard_normal(batch + (m, m))
  spd = (sq @ np.conj(np.swapaxes(sq, -1, -2)) + m * np.eye(m)).astype(dt)
  rect = r.standard_normal(batch + (m, n)).astype(dt)
  x64 = dt in (F64, np.dtype(np.complex128))
  if name == "eig":
    left, right = data.draw(st.booleans()), data.draw(st.booleans())
    return Case(lambda v: rl.eig(v, compute_left_eigenvectors=left,
                                 compute_right_eigenvectors=right), (sq.astype(dt),), x64=x64)
  if name == "schur":
    vecs = data.draw(st.booleans())
    return Case(lambda v: rl.schur(v, compute_schur_vectors=vecs), (sq.astype(dt),), x64=x64)
  if name == "hessenberg_q":
    return Case(linalg_eig.hessenberg_q, (sq.astype(dt),), x64=x64)
  if name == "cholesky":
    return Case(lambda v: rl.cholesky(v, symmetrize_input=False), (spd,), x64=x64)
  if name == "lu":
    return Case(rl.lu, (rect,), x64=x64)
  if name == "lu_pivots_to_permutation":
    piv = r.integers(0, m + 1, batch + (m,)).astype(np.int32)
    return Case(lambda p: rl.lu_pivots_to_permutation(p, m + 1), (piv,))
  if name == "qr":
    full = data.draw(st.booleans())
    return Case(lambda v: rl.qr(v, full_matrices=full), (rect,), x64=x64)
  if name == "eigh":
    return Case(lambda v: rl.eigh(v, symmetrize_input=False), (spd,), x64=x64)
  if name == "svd":
    full, uv = data.draw(st.booleans()), data.draw(st.booleans())
    return Case(lambda v: rl.svd(v, full_matrices=full, compute_uv=uv), (rect,), x64=x64)
  if name == "triangular_solve":
    left, lower = data.draw(st.booleans()), data.draw(st.booleans())
    b = rect if left else np.swapaxes(rect, -1, -2).copy()
    return Case(lambda a, y: rl.triangular_solve(a, y, left_side=left, lower=lower), (spd, b),
                x64=x64)
  if name == "sturm_count":
    from rjax._src.lax.linalg import sturm_count
    real = np.finfo(dt).dtype
    alpha = r.standard_normal(batch + (m + 1,)).astype(real)
    beta_sq = r.uniform(0, 2, batch + (m,)).astype(real)
    x, p, a0 = (r.standard_normal(batch + (n,)).astype(real) for _ in range(3))
    return Case(sturm_count, (alpha, beta_sq, np.abs(p) * 1e-30, np.abs(a0) * 1e-20, x), x64=x64)
  diags = [r.standard_normal(batch + (m,)).astype(dt) for _ in range(3)]
  perturb = data.draw(st.booleans())
  return Case(lambda *a: rl.tridiagonal_solve(*a, perturb_singular=perturb), (*diags, rect),
              x64=x64)


# -- the tests ----------------------------------------------------------------------------------

def test_every_primitive_and_rust_op_has_a_jit_case():
  registered = set(core.primitives)
  missing = sorted(registered - set(CASES))
  assert not missing, f"primitives with no jit-vs-eager case in {__file__}: {missing}"
  # The collectives' Rust ops run only inside pmap: tests/test_pmap.py
  # checks each against vmap on 1, 2 and 4 devices.
  collectives = {p.name for p in COLLECTIVES}
  missing_ops = sorted(set(supported_ops()) - set(CASES) - collectives)
  assert not missing_ops, f"Rust ops with no jit-vs-eager case: {missing_ops}"
  assert not set(CASES) - registered, "cases for primitives that no longer exist"


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=15)
@given(data=st.data())
def test_jit_matches_eager(name, data):
  check_case(name, CASES[name](data))


# -- fused chains ------------------------------------------------------------------------------

#: total on the reals (no domain errors), so long chains stay finite-or-consistent
_CHAIN_UNARY = [jnp.tanh, jnp.sin, jnp.cos, jnp.arctan, jnp.abs, jnp.negative, jnp.square,
                jnp.arcsinh, jnp.cbrt, jnp.floor, jnp.sign, rjax.nn.sigmoid if hasattr(rjax, "nn")
                else jnp.tanh, lambda v: jnp.exp(-jnp.abs(v)), lambda v: jnp.log1p(jnp.abs(v)),
                lambda v: jnp.sqrt(jnp.abs(v)), lambda v: jnp.where(v > 0, v, 0.5 * v)]
_CHAIN_BINARY = [jnp.add, jnp.subtract, jnp.multiply, jnp.maximum, jnp.minimum,
                 lambda a, b: a / (1.0 + jnp.abs(b))]
_REDUCTIONS = [None, (jnp.sum, None), (jnp.sum, -1), (jnp.sum, 0), (jnp.max, 1), (jnp.min, None),
               (jnp.prod, 0), (jnp.mean, -1)]
_CHAIN_TOL = {F32: 2e-5, F64: 1e-12, np.dtype(np.float16): 4e-3, bfloat16: 3e-2}


@settings(max_examples=40)
@given(data=st.data())
def test_fused_chains_match_eager(data):
  """Several elementwise ops over broadcast operands (a row, a column, a 0-d
  array, weak Python scalars), then maybe a reduction: one fused kernel
  under jit, op by op in eager mode."""
  dt = data.draw(st.sampled_from([F32, F32, F64, np.dtype(np.float16), bfloat16]))
  m, n = data.draw(st.sampled_from([(1, 1), (3, 5), (0, 4), (7, 130), (33, 65), (2, 5000)]))
  x = _array(data, dt, (m, n), -3, 3)
  row, col, zero_d = (_array(data, dt, (n,), -3, 3), _array(data, dt, (m, 1), -3, 3),
                      _array(data, dt, (), -3, 3))
  steps = data.draw(st.lists(st.tuples(st.integers(0, len(_CHAIN_UNARY) - 1),
                                       st.integers(0, len(_CHAIN_BINARY) - 1),
                                       st.integers(0, 4), st.floats(-2, 2, width=16)),
                             min_size=1, max_size=6))
  red = data.draw(st.sampled_from(_REDUCTIONS))
  if m == 0 and red is not None and red[0] in (jnp.max, jnp.min) and red[1] != 1:
    red = (jnp.sum, red[1])   # max/min of nothing is an error (as in JAX)
  keep_intermediate = data.draw(st.booleans())

  def f(v, r, c, z):
    operands = [r, c, z, None, v]
    for u, b, k, s in steps:
      other = s if operands[k] is None else operands[k]   # None: a weak Python scalar
      v = _CHAIN_BINARY[b](_CHAIN_UNARY[u](v), other)
    if red is None:
      return v
    out = red[0](v, axis=red[1])
    return (out, v) if keep_intermediate else out

  with enable_x64(dt == F64):
    args = [jnp.asarray(a) for a in (x, row, col, zero_d)]
    want = f(*args)
    got = rjax.jit(f)(*args)
    gl, wl = rjax.tree_util.tree_leaves(got), rjax.tree_util.tree_leaves(want)
    assert len(gl) == len(wl)
    for g, w in zip(gl, wl):
      assert (g.shape, g.dtype, g.weak_type) == (w.shape, w.dtype, w.weak_type)
      g, w = np.asarray(g).astype(np.float64), np.asarray(w).astype(np.float64)
      t = _CHAIN_TOL[np.dtype(got[0].dtype if isinstance(got, tuple) else got.dtype)]
      scale = 1.0 if red is None or red[0] not in (jnp.sum, jnp.prod) else max(n, m)
      np.testing.assert_allclose(g, w, rtol=t * scale, atol=t * scale, equal_nan=True)


_INT_UNARY = [jnp.negative, jnp.abs, jnp.invert, jnp.square, lambda v: v >> 1,
              lambda v: jnp.left_shift(v, 3), lambda v: v % 7, lambda v: v // 3]
_INT_BINARY = [jnp.add, jnp.subtract, jnp.multiply, jnp.maximum, jnp.minimum, jnp.bitwise_and,
               jnp.bitwise_or, jnp.bitwise_xor, lambda a, b: jnp.where(a > b, a, b - 1)]


@settings(max_examples=25)
@given(data=st.data())
def test_fused_integer_and_bool_chains_are_bitwise(data):
  dt = data.draw(st.sampled_from([I32, np.dtype(np.uint8), np.dtype(np.int16), I64]))
  m, n = data.draw(st.sampled_from([(1, 1), (3, 5), (7, 130), (2, 5000)]))
  x, row = _array(data, dt, (m, n), -50, 50), _array(data, dt, (n,), -50, 50)
  steps = data.draw(st.lists(st.tuples(st.integers(0, len(_INT_UNARY) - 1),
                                       st.integers(0, len(_INT_BINARY) - 1),
                                       st.sampled_from([None, 3, "row"])), min_size=1, max_size=6))
  axis = data.draw(st.sampled_from([None, 0, 1]))

  def f(v, r):
    for u, b, k in steps:
      v = _INT_BINARY[b](_INT_UNARY[u](v), r if k == "row" else (v if k is None else k))
    mask = (v > 0) & ~(v == 3) | (r < 0)
    return v, jnp.sum(v, axis=axis), jnp.max(v, axis=axis), jnp.any(mask, axis=axis), \
        jnp.all(mask, axis=axis), jnp.sum(mask, axis=axis)

  with enable_x64(dt == I64):
    args = (jnp.asarray(x), jnp.asarray(row))
    assert_same(rjax.jit(f)(*args), f(*args), what="integer chain")


# -- regressions found by the table above ----------------------------------------------------------

@pytest.mark.parametrize("via_jit", [False, True])
def test_select_n_with_one_case_is_that_case(via_jit):
  """A bool ``which`` that is True with a single case used to index past the
  cases in the Rust kernels (an InternalError); as in JAX's lowering, one
  case is the result whatever ``which`` says."""
  x = np.arange(70, dtype=np.float32)
  for which in (np.ones(70, bool), np.int32(3), np.zeros(70, np.int32)):
    f = (lambda w, c: lax.select_n(w, c) * 2)
    out = (rjax.jit(f) if via_jit else f)(which, x)
    np.testing.assert_array_equal(np.asarray(out), 2 * x)
  with pytest.raises(TypeError, match="select_n: predicate must be bool or int32"):
    lax.select_n(np.float32(1), x)


@pytest.mark.parametrize("via_jit", [False, True])
def test_pow_of_a_python_scalar_base(via_jit):
  """``lax.pow(2.0, y)`` takes the exponent's float dtype (it used to make
  the base float32 and reject a float16 exponent)."""
  y = np.array([0.5, 2.0, -1.0], np.float16)
  f = rjax.jit(lambda e: lax.pow(2.0, e)) if via_jit else (lambda e: lax.pow(2.0, e))
  out = f(y)
  assert out.dtype == np.float16
  np.testing.assert_allclose(np.asarray(out).astype(np.float64), 2.0 ** y.astype(np.float64),
                             rtol=2e-3)
  assert lax.pow(2.0, np.float32(3)).dtype == np.float32


@pytest.mark.parametrize("via_jit", [False, True])
def test_reshape_with_dimensions_transposes_first(via_jit):
  """``lax.reshape(x, sizes, dimensions)`` (it raised NotImplementedError)."""
  x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
  f = lambda v: lax.reshape(v, (4, 6), (2, 0, 1))
  out = (rjax.jit(f) if via_jit else f)(x)
  np.testing.assert_array_equal(np.asarray(out), np.transpose(x, (2, 0, 1)).reshape(4, 6))
  np.testing.assert_array_equal(np.asarray(lax.reshape(x, (24,), (0, 1, 2))), x.reshape(24))
  with pytest.raises(TypeError, match="transpose: permutation"):
    lax.reshape(x, (24,), (0, 0, 1))


# -- with fusion turned off ----------------------------------------------------------------------

def _fixed_chains():
  """Deterministic fused programs and their inputs (run in a subprocess too)."""
  rng = np.random.default_rng(1234)
  x = jnp.asarray(rng.uniform(-3, 3, (37, 300)).astype(np.float32))
  b = jnp.asarray(rng.uniform(-3, 3, (300,)).astype(np.float32))
  i = jnp.asarray(rng.integers(-100, 100, (37, 300)).astype(np.int32))
  h = jnp.asarray(rng.uniform(-3, 3, (5, 70)).astype(np.float16))
  return {
      "softmax": (lambda v: jnp.exp(v - jnp.max(v, -1, keepdims=True))
                  / jnp.sum(jnp.exp(v - jnp.max(v, -1, keepdims=True)), -1, keepdims=True), (x,)),
      "mlp_layer": (lambda v, w: jnp.sum(jnp.tanh(v * 0.5 + w) * jnp.sin(w) - 1.0, axis=0), (x, b)),
      "selu": (lambda v: 1.05 * jnp.where(v > 0, v, 1.67 * jnp.exp(v) - 1.67), (x,)),
      "ints": (lambda v: (jnp.sum((v * 3 + 1) ^ (v >> 2), axis=1), jnp.max(v % 7 - v, axis=0),
                          jnp.any(v > 90)), (i,)),
      "half": (lambda v: jnp.sum(jnp.log1p(jnp.abs(v)) * 2.0 + jnp.cos(v), axis=-1), (h,)),
      "logsumexp": (lambda v: jnp.log(jnp.sum(jnp.exp(v), axis=(0, 1))), (x,)),
  }


def _run_fixed_chains() -> dict:
  out = {}
  for name, (f, args) in _fixed_chains().items():
    for k, leaf in enumerate(rjax.tree_util.tree_leaves(rjax.jit(f)(*args))):
      out[f"{name}.{k}"] = np.asarray(leaf)
  return out


def test_fused_and_unfused_jit_agree(tmp_path):
  """The same jitted programs with RJAX_FUSION=0 (a fresh process: the flag
  is read once) against the fusing compiler and eager mode."""
  import os
  import pathlib
  import subprocess
  import sys
  here = pathlib.Path(__file__).resolve().parent
  out_file = tmp_path / "unfused.npz"
  # the rjax this process imported (the checkout's when built in place, else
  # the installed package), and this directory for test_jit_ops itself
  pkg_root = str(pathlib.Path(rjax.__file__).resolve().parent.parent)
  code = (f"import sys; sys.path[:0] = [{pkg_root!r}, {str(here)!r}]\n"
          "import numpy as np, rjax, rjax.numpy as jnp, test_jit_ops\n"
          "assert 'fused[' not in rjax.jit(lambda v: v * 2 + 1).lower(jnp.ones(8)).as_text()\n"
          f"np.savez({str(out_file)!r}, **test_jit_ops._run_fixed_chains())\n")
  env = dict(os.environ, RJAX_FUSION="0")
  subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(here))
  unfused = dict(np.load(out_file))
  fused = _run_fixed_chains()
  assert set(unfused) == set(fused)
  eager = {}
  for name, (f, args) in _fixed_chains().items():
    for k, leaf in enumerate(rjax.tree_util.tree_leaves(f(*args))):
      eager[f"{name}.{k}"] = np.asarray(leaf)
  for key in fused:
    for other, label in ((unfused, "unfused jit"), (eager, "eager")):
      a, b = fused[key], other[key]
      assert a.dtype == b.dtype and a.shape == b.shape, (key, label)
      if a.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=f"{key} vs {label}")
      else:
        t = _CHAIN_TOL[a.dtype] * 10
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=t, atol=t,
                                   err_msg=f"{key} vs {label}")
    np.testing.assert_array_equal(unfused[key], eager[key], err_msg=f"{key}: unfused vs eager")
