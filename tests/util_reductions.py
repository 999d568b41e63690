"""Helpers for the reduction/sorting tests."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from util import bfloat16


@st.composite
def shape_and_axes(draw, min_dims=0, max_dims=4, max_side=5, min_side=0):
  """A shape and a sorted subset of its axes."""
  nd = draw(st.integers(min_dims, max_dims))
  shape = tuple(draw(st.lists(st.integers(min_side, max_side), min_size=nd, max_size=nd)))
  axes = tuple(sorted(draw(st.sets(st.integers(0, nd - 1), max_size=nd)))) if nd else ()
  return shape, axes


@st.composite
def shape_and_axis(draw, min_dims=1, max_dims=4, max_side=5, min_side=0):
  nd = draw(st.integers(min_dims, max_dims))
  shape = tuple(draw(st.lists(st.integers(min_side, max_side), min_size=nd, max_size=nd)))
  return shape, draw(st.integers(0, nd - 1))


def wide(x: np.ndarray) -> np.ndarray:
  """Reference computations run in float64 / int64 (or uint64)."""
  if x.dtype.kind == "f" or x.dtype == bfloat16:
    return x.astype(np.float64)
  return x


def check_unchanged(before: np.ndarray, after: np.ndarray) -> None:
  np.testing.assert_array_equal(before, after)
