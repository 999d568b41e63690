"""Helpers for the linalg/creation/scalar-type tests."""
import numpy as np
from hypothesis import strategies as st

from util import arrays, bfloat16

#: numeric dtypes whose products stay exact or within tolerance for small values
num_dtypes_small = [np.dtype(t) for t in (np.float32, np.float16, np.int8, np.int16, np.int32,
                                          np.uint8, np.uint32)] + [bfloat16]


@st.composite
def draw_pair(draw, dt):
  """Operands of np.matmul: 1-d or n-d, with broadcastable batch dims."""
  k = draw(st.integers(0, 4))
  m, n = draw(st.integers(0, 3)), draw(st.integers(0, 3))
  batch = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))

  def side(core):
    kind = draw(st.integers(0, 2))
    if kind == 0:
      return core[-1:] if core[-1] == k else core[:1]
    b = tuple(1 if draw(st.booleans()) else d for d in batch)
    return b[draw(st.integers(0, len(b))):] + core

  sa = side((m, k))
  sb = side((k, n))
  if len(sa) == 1:
    sa = (k,)
  if len(sb) == 1:
    sb = (k,)
  return draw(arrays(dt, sa, lo=-5, hi=5)), draw(arrays(dt, sb, lo=-5, hi=5))
