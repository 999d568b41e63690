"""Helpers for the shape/slicing/indexing tests."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from rjax._src.interpreters import reference


def ref(prim, *args, **params):
  """The registered NumPy reference of ``prim``."""
  return reference.references[prim](*args, **params)


def check_unchanged(fn, *arrays):
  """Call ``fn(*arrays)`` and assert the NumPy inputs were not mutated."""
  copies = [np.array(a, copy=True) for a in arrays]
  out = fn(*arrays)
  for a, c in zip(arrays, copies):
    np.testing.assert_array_equal(a, c)
  return out


@st.composite
def permutations(draw, n):
  return tuple(draw(st.permutations(list(range(n)))))


@st.composite
def slices(draw, n):
  """A Python slice (any sign of step, possibly empty) for a dim of size n."""
  start = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
  stop = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
  step = draw(st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2])))
  return slice(start, stop, step)
