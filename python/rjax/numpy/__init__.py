"""``import rjax.numpy as jnp``: the NumPy API on rjax arrays.

Each family lives in one module under ``rjax/_src/numpy/`` and lists its
public names in ``__all__``; this file only re-exports them.
"""
from rjax._src.numpy import *  # noqa: F401,F403
from rjax._src.runtime.array import Array as ndarray  # noqa: F401
from rjax._src.runtime.dlpack import from_dlpack  # noqa: F401
from rjax._src.base import dtypes as _dtypes

if "float32" not in globals():  # until scalar_types defines the scalar constructors
  bool_ = _dtypes.bool_
  int8, int16, int32, int64 = _dtypes.int8, _dtypes.int16, _dtypes.int32, _dtypes.int64
  uint8, uint16, uint32, uint64 = _dtypes.uint8, _dtypes.uint16, _dtypes.uint32, _dtypes.uint64
  float16, bfloat16, float32, float64 = (_dtypes.float16, _dtypes.bfloat16, _dtypes.float32,
                                         _dtypes.float64)
from rjax.numpy import fft, linalg  # noqa: E402,F401
