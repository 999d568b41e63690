"""``jax.scipy.ndimage``: ``map_coordinates`` (orders 0 and 1; modes
constant, nearest, wrap, mirror, reflect), as a sum of gathers weighted per
axis."""
from __future__ import annotations

import functools
import itertools
import operator

import numpy as np

from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.transforms.jit import jit

__all__ = ["map_coordinates"]


def _mirror(index, size):
  s = size - 1  # the half period of the triangular wave |x - round(x)|
  return jnp.abs((index + s) % (2 * s) - s)


def _reflect(index, size):
  return jnp.floor_divide(_mirror(2 * index + 1, 2 * size + 1) - 1, 2)


_INDEX_FIXERS = {
    "constant": lambda index, size: index,
    "nearest": lambda index, size: jnp.clip(index, 0, size - 1),
    "wrap": lambda index, size: index % size,
    "mirror": _mirror,
    "reflect": _reflect,
}


def _round_half_away(a):
  return a if np.issubdtype(a.dtype, np.integer) else lax.round(a)


def _nearest(coordinate):
  return [(_round_half_away(coordinate).astype(np.int32), coordinate.dtype.type(1))]


def _linear(coordinate):
  lower = jnp.floor(coordinate)
  upper_weight = coordinate - lower
  index = lower.astype(np.int32)
  return [(index, 1 - upper_weight), (index + 1, upper_weight)]


@functools.partial(jit, static_argnums=(2, 3, 4))
def _map_coordinates(input, coordinates, order, mode, cval):
  arr = jnp.asarray(input)
  coords = [jnp.asarray(c) for c in coordinates]
  cval = jnp.asarray(cval, arr.dtype)
  if len(coords) != arr.ndim:
    raise ValueError("coordinates must be a sequence of length input.ndim, but "
                     f"{len(coords)} != {arr.ndim}")
  fixer = _INDEX_FIXERS.get(mode)
  if fixer is None:
    raise NotImplementedError(
        f"jax.scipy.ndimage.map_coordinates does not yet support mode {mode}. "
        f"Currently supported modes are {set(_INDEX_FIXERS)}.")
  if mode == "constant":
    is_valid = lambda index, size: (0 <= index) & (index < size)
  else:
    is_valid = lambda index, size: True
  if order == 0:
    nodes = _nearest
  elif order == 1:
    nodes = _linear
  else:
    raise NotImplementedError("jax.scipy.ndimage.map_coordinates currently requires order<=1")
  per_axis = [[(fixer(index, size), is_valid(index, size), weight)
               for index, weight in nodes(c)] for c, size in zip(coords, arr.shape)]
  outputs = []
  for items in itertools.product(*per_axis):
    indices, valids, weights = zip(*items)
    if all(v is True for v in valids):
      contribution = arr[indices]
    else:
      contribution = jnp.where(functools.reduce(operator.and_, valids), arr[indices], cval)
    outputs.append(functools.reduce(operator.mul, weights) * contribution)
  result = sum(outputs[1:], outputs[0])
  if np.issubdtype(arr.dtype, np.integer):
    result = _round_half_away(result)
  return result.astype(arr.dtype)


def map_coordinates(input, coordinates, order: int, mode: str = "constant", cval=0.0):
  """``input`` interpolated at ``coordinates`` (one array per axis), with
  spline order 0 (nearest) or 1 (linear) and the given boundary mode."""
  return _map_coordinates(input, coordinates, order, mode, cval)
