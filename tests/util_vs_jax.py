"""Comparing rjax results with JAX's: the same structure, shapes, dtypes
and values (bit for bit, or within a tolerance for floats)."""
from __future__ import annotations

import contextlib

import jax
import jax.numpy as jjnp
import numpy as np

import rjax
import rjax.numpy as jnp
from util import enable_x64


@contextlib.contextmanager
def x64_in_both():
  """float64 on in rjax and in JAX (for comparisons in float64)."""
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", True)
  try:
    with enable_x64():
      yield
  finally:
    jax.config.update("jax_enable_x64", prev)


def _leaves(x):
  if isinstance(x, (tuple, list)):
    out = []
    for e in x:
      out.extend(_leaves(e))
    return out
  return [x]


def assert_same(got, want, exact: bool = True, rtol: float = 1e-6, atol: float = 1e-6,
                check_dtype: bool = True):
  """``got`` (rjax) matches ``want`` (JAX): equal leaves (NaNs equal)."""
  g, w = _leaves(got), _leaves(want)
  assert len(g) == len(w), f"{len(g)} results != JAX's {len(w)}"
  for a, b in zip(g, w):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"shape {a.shape} != JAX's {b.shape}"
    if check_dtype:
      assert a.dtype == b.dtype, f"dtype {a.dtype} != JAX's {b.dtype}"
    if exact or (a.dtype.kind not in "fc" and a.dtype.name != "bfloat16"):
      np.testing.assert_array_equal(a, b)
    else:
      np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol,
                                 atol=atol, equal_nan=True)


def both(fn, *args, exact: bool = True, jit: bool = False, **kw):
  """``fn(module)(*args)`` for rjax.numpy and jax.numpy, compared."""
  r = fn(jnp)
  j = fn(jjnp)
  if jit:
    r, j = rjax.jit(r), jax.jit(j)
  assert_same(r(*args), j(*args), exact=exact, **kw)


def same_exception(fn_r, fn_j):
  """Both calls raise, with the same exception type."""
  def run(f):
    try:
      f()
    except Exception as e:  # noqa: BLE001
      return type(e)
    return None
  a, b = run(fn_r), run(fn_j)
  assert b is not None, "JAX does not raise"
  assert a is not None and (issubclass(a, b) or a.__name__ == b.__name__), (a, b)


def same_outcome(fn_r, fn_j, **kw):
  """Both calls return the same results, or both raise the same exception type."""
  try:
    want = fn_j()
  except Exception as e:  # noqa: BLE001
    try:
      fn_r()
    except Exception as e2:  # noqa: BLE001
      assert issubclass(type(e2), type(e)) or type(e2).__name__ == type(e).__name__, (e2, e)
      return
    raise AssertionError(f"JAX raises {type(e).__name__}; rjax does not")
  assert_same(fn_r(), want, **kw)


def check_grads64(f, args, order=1, **kw):
  """rjax.test_util.check_grads in float64 (x64 on), on float64 copies of ``args``."""
  from rjax.test_util import check_grads
  from util import enable_x64
  with enable_x64():
    check_grads(f, [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else a
                    for a in args], order=order, **kw)
