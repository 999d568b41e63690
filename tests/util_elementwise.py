"""Helpers for the elementwise tests: op records and value generators."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st

from util import arrays, bfloat16


class OpRecord(NamedTuple):
  name: str
  nargs: int
  fn: Callable
  ref: Callable
  dtypes: list
  lo: float | None = None
  hi: float | None = None
  rtol: float = 1.0  # multiplier of the per-dtype tolerance


def ref_in_f64(ref, dtype):
  """Compute a float reference in float64 and round to `dtype` (16-bit floats
  are computed in f32 by rjax, so the f64 result is the closest oracle)."""
  def f(*xs):
    with np.errstate(all="ignore"):
      r = np.asarray(ref(*[np.asarray(x).astype(np.float64) if np.asarray(x).dtype.kind == "f"
                           or np.asarray(x).dtype == bfloat16 else np.asarray(x) for x in xs]))
    return r.astype(dtype) if r.dtype.kind == "f" else r
  return f


def broadcast_shapes(nargs: int):
  """Shapes for lax broadcasting: equal rank with size-1 dims, or rank 0."""
  @st.composite
  def strat(draw):
    base = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
    out = []
    for _ in range(nargs):
      kind = draw(st.sampled_from(["full", "ones", "scalar"]))
      if kind == "scalar":
        out.append(())
      elif kind == "ones":
        out.append(tuple(d if draw(st.booleans()) else 1 for d in base))
      else:
        out.append(tuple(base))
    return out
  return strat()


def operands(dtype, shape_list, lo=None, hi=None):
  return st.tuples(*[arrays(dtype, s, lo, hi) for s in shape_list])


def np_copy_all(xs: list[Any]) -> list[Any]:
  return [np.array(x, copy=True) for x in xs]
