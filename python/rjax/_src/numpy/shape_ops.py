"""Shape manipulation in ``rjax.numpy`` (reshape, transpose, stack, ...)."""
from __future__ import annotations

import numpy as np

from rjax._src import core
from rjax._src.lax import lax, shapes
from rjax._src.numpy.util import asarray, check_arraylike


def reshape(a, shape=None, order: str = "C", *, newshape=None):
  check_arraylike("reshape", a)
  if shape is None:
    shape = newshape
  if order != "C":
    raise NotImplementedError("reshape: only order='C' is supported")
  a = asarray(a)
  size = core.get_aval(a).size
  shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
  shape = tuple(int(d) for d in shape)
  if shape.count(-1) > 1:
    raise ValueError("reshape: can only specify one unknown dimension")
  if -1 in shape:
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if known == 0 or size % known:
      raise TypeError(f"reshape: cannot reshape array of shape {core.get_aval(a).shape} "
                      f"(size {size}) into shape {shape}")
    shape = tuple(size // known if d == -1 else d for d in shape)
  return shapes.reshape(a, shape)


__all__ = ['reshape']
