"""Shared test helpers: dtype lists, hypothesis strategies, tolerances, x64."""
from __future__ import annotations

import contextlib

import ml_dtypes
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rjax

bfloat16 = np.dtype(ml_dtypes.bfloat16)
float_dtypes = [np.dtype(np.float32), np.dtype(np.float16), bfloat16]
float_dtypes_x64 = float_dtypes + [np.dtype(np.float64)]
signed_dtypes = [np.dtype(t) for t in (np.int8, np.int16, np.int32)]
unsigned_dtypes = [np.dtype(t) for t in (np.uint8, np.uint16, np.uint32)]
int_dtypes = signed_dtypes + unsigned_dtypes
bool_dtypes = [np.dtype(np.bool_)]
numeric_dtypes = float_dtypes + int_dtypes
all_dtypes = numeric_dtypes + bool_dtypes

_TOL = {np.dtype(np.float16): 2e-3, bfloat16: 2e-2, np.dtype(np.float32): 2e-6,
        np.dtype(np.float64): 1e-13}


def tol(dtype) -> float:
  return _TOL.get(np.dtype(dtype), 0)


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, check_dtype=True):
  """Compare an rjax result with a NumPy reference (values and, by default, dtype)."""
  a = np.asarray(actual)
  e = np.asarray(expected)
  if check_dtype and dtype is not None:
    assert a.dtype == np.dtype(dtype), f"dtype {a.dtype} != expected {np.dtype(dtype)}"
  assert a.shape == e.shape, f"shape {a.shape} != expected {e.shape}"
  dt = np.dtype(dtype) if dtype is not None else a.dtype
  t = tol(dt)
  if dt.kind in "biu" or (t == 0 and dt.kind not in "f"):
    np.testing.assert_array_equal(a, e.astype(a.dtype) if e.dtype != a.dtype else e)
  else:
    r = rtol if rtol is not None else t * 4
    at = atol if atol is not None else t * 4
    np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=r, atol=at,
                               equal_nan=True)


def assert_matches(got, want, rtol=1e-5, atol=1e-6, complex_parts=False):
  """Same shape, same dtype, and values within ``rtol``/``atol`` (NaN equal
  to NaN); with ``complex_parts``, complex values compare part by part."""
  got, want = np.asarray(got), np.asarray(want)
  assert got.shape == want.shape, (got.shape, want.shape)
  assert got.dtype == want.dtype, (got.dtype, want.dtype)
  if complex_parts and got.dtype.kind == "c":
    assert_matches(got.real, want.real, rtol, atol)
    assert_matches(got.imag, want.imag, rtol, atol)
    return
  np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def assert_trees_match(got, want, check=assert_matches, **kw):
  """``check`` on each pair of leaves of two pytrees with as many leaves."""
  lg, lw = rjax.tree.leaves(got), rjax.tree.leaves(want)
  assert len(lg) == len(lw)
  for a, b in zip(lg, lw):
    check(a, b, **kw)


@contextlib.contextmanager
def enable_x64(on: bool = True):
  prev = rjax.config.read("jax_enable_x64")
  rjax.config.update("jax_enable_x64", on)
  try:
    yield
  finally:
    rjax.config.update("jax_enable_x64", prev)


def shapes(min_dims=0, max_dims=4, min_side=0, max_side=5):
  return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def elements_for(dtype, lo=None, hi=None, allow_nan=False, allow_inf=False):
  dtype = np.dtype(dtype)
  if dtype.kind == "b":
    return st.booleans()
  if dtype.kind in "iu":
    info = np.iinfo(dtype)
    return st.integers(int(info.min if lo is None else max(lo, info.min)),
                       int(info.max if hi is None else min(hi, info.max)))
  lo = -100.0 if lo is None else lo
  hi = 100.0 if hi is None else hi
  return st.floats(lo, hi, allow_nan=allow_nan, allow_infinity=allow_inf, width=32)


def arrays(dtype, shape, lo=None, hi=None, **kw):
  """Arrays of `dtype` (bfloat16 generated as float32 and cast)."""
  dtype = np.dtype(dtype)
  gen_dt = np.float32 if dtype in (bfloat16, np.dtype(np.float16)) else dtype
  return hnp.arrays(gen_dt, shape, elements=elements_for(dtype if dtype != bfloat16 else np.float32,
                                                          lo, hi, **kw)).map(
                                                              lambda a: a.astype(dtype))


def noncontiguous(x: np.ndarray) -> np.ndarray:
  """The same values in a non-contiguous (strided) NumPy array."""
  big = np.empty(x.shape + (2,), x.dtype)
  big[..., 0] = x
  return big[..., 0]


def check_vmap(f, args, in_axes=0, out_axes=0, rtol=None, atol=None):
  """vmap(f, in_axes, out_axes)(*args) against a Python loop over the mapped
  axis (slices taken with NumPy, results stacked at ``out_axes``). ``args``
  are NumPy arrays already batched at their ``in_axes``; ``None`` axes pass
  the argument unchanged. ``out_axes`` may be an int or a tuple (one per
  output when ``f`` returns a tuple)."""
  args = [np.asarray(a) for a in args]
  axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
  sizes = {a.shape[ax] for a, ax in zip(args, axes) if ax is not None}
  assert len(sizes) == 1, sizes
  n = sizes.pop()
  got = rjax.vmap(f, in_axes=tuple(axes), out_axes=out_axes)(*[rjax.numpy.asarray(a)
                                                              for a in args])
  per = []
  for i in range(n):
    sl = [a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, axes)]
    per.append(f(*[rjax.numpy.asarray(s) for s in sl]))
  multi = isinstance(got, (tuple, list))
  gots = list(got) if multi else [got]
  oaxes = out_axes if isinstance(out_axes, (tuple, list)) else (out_axes,) * len(gots)
  for k, (g, oa) in enumerate(zip(gots, oaxes)):
    want = np.stack([np.asarray(p[k] if multi else p) for p in per], axis=oa)
    g = np.asarray(g)
    assert g.shape == want.shape, f"output {k}: shape {g.shape} != loop's {want.shape}"
    assert g.dtype == want.dtype, f"output {k}: dtype {g.dtype} != loop's {want.dtype}"
    if g.dtype.kind in "biu":
      np.testing.assert_array_equal(g, want)
    else:
      t = tol(g.dtype) * 4 if tol(g.dtype) else 1e-6
      np.testing.assert_allclose(g.astype(np.float64), want.astype(np.float64),
                                 rtol=rtol if rtol is not None else t,
                                 atol=atol if atol is not None else t, equal_nan=True)
  return got
