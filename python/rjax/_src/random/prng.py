"""The threefry2x32 primitive, JAX's PRNG hash, with all its rules.

``threefry2x32(k0, k1, x0, x1)`` hashes the counter pairs ``(x0, x1)`` under the
keys ``(k0, k1)`` (Salmon et al. 2011, 20 rounds): four uint32 operands with
lax's broadcasting, two uint32 outputs. It is elementwise, so its batching rule
is the broadcasting one, and it has no derivative (integer in, integer out).
The Rust kernel is ``rust/src/ops/threefry.rs``; everything else of
``rjax.random`` is written with existing lax primitives in ``random.py``.
"""
from __future__ import annotations

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, reference
from rjax._src.lax.utils import asarray_lax, broadcasting_shape, standard_primitive


def _threefry2x32_abstract_eval(k0, k1, x0, x1):
  args = (k0, k1, x0, x1)
  if any(a.dtype != dtypes.uint32 for a in args):
    raise TypeError("threefry2x32: arguments must have uint32 type, got "
                    + ", ".join(a.str_short() for a in args))
  shape = broadcasting_shape("threefry2x32", [a.shape for a in args])
  return [ShapedArray(shape, dtypes.uint32, False)] * 2


threefry2x32_p = standard_primitive("threefry2x32", _threefry2x32_abstract_eval,
                                    multiple_results=True)

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _threefry2x32_ref(k0, k1, x0, x1):
  """NumPy threefry2x32 (the oracle): JAX's unrolled lowering."""
  k0, k1, x0, x1 = np.broadcast_arrays(*[np.asarray(v, np.uint32) for v in (k0, k1, x0, x1)])
  ks = [k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA)]
  a, b = x0 + ks[0], x1 + ks[1]
  for i in range(5):
    for r in _ROTATIONS[i % 2]:
      a = a + b
      b = ((b << np.uint32(r)) | (b >> np.uint32(32 - r))) ^ a
    a = a + ks[(i + 1) % 3]
    b = b + ks[(i + 2) % 3] + np.uint32(i + 1)
  return [a, b]


reference.register(threefry2x32_p, _threefry2x32_ref)
ad.defnondiff(threefry2x32_p)

batching.defbroadcasting(threefry2x32_p)
_broadcasting_rule = batching.primitive_batchers[threefry2x32_p]


def _threefry2x32_batch(vals, dims):
  outs, d = _broadcasting_rule(vals, dims)
  return outs, [d, d]


batching.primitive_batchers[threefry2x32_p] = _threefry2x32_batch


def threefry2x32(k0, k1, x0, x1):
  """The threefry2x32 hash of counters ``(x0, x1)`` under key ``(k0, k1)``:
  uint32 arrays (or rank-0) with lax's broadcasting; returns two arrays."""
  return threefry2x32_p.bind(*[asarray_lax(v) for v in (k0, k1, x0, x1)])
