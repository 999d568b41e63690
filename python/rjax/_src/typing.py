"""Type annotations for rjax code (``jax.typing``): ``ArrayLike`` for inputs
that convert to an array, ``DTypeLike`` for inputs that name a dtype."""
from __future__ import annotations

from typing import Any, Protocol, Sequence, Union

import numpy as np

from rjax._src.core import Tracer
from rjax._src.runtime.array import Array

__all__ = ["ArrayLike", "DTypeLike", "Array", "Shape", "DuckTypedArray", "SupportsDType"]


class SupportsDType(Protocol):
  @property
  def dtype(self) -> np.dtype: ...


#: What converts to an array implicitly: arrays (rjax's, NumPy's, tracers),
#: NumPy scalars and Python scalars (not lists or tuples, as in JAX).
ArrayLike = Union[Array, Tracer, np.ndarray, np.bool_, np.number, bool, int, float, complex]

#: What names a dtype: a string ('float32'), a type (np.float32, float), a
#: np.dtype, or anything with a ``.dtype`` (e.g. jnp.float32).
DTypeLike = Union[str, type, np.dtype, SupportsDType]

Shape = Sequence[int]


class DuckTypedArray(Protocol):
  @property
  def dtype(self) -> np.dtype: ...

  @property
  def shape(self) -> Any: ...
