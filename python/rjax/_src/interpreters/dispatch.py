"""Eager execution: each primitive runs as a one-instruction Program, compiled
once per (primitive, params, input avals) and cached. This is the same Rust
executor that ``jit`` uses for whole programs."""
from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.base.config import config
from rjax._src.interpreters import lowering
from rjax._src.runtime.array import Array, to_array

_from_buffer = Array._from_buffer

_cache: dict[Any, tuple] = {}
_cache_lock = threading.Lock()


def _compile(prim, avals_in, params):
  avals_out = prim.abstract_eval(*avals_in, **params)
  multi = prim.multiple_results
  outs = list(avals_out) if multi else [avals_out]
  exe = lowering.lower_primitive(prim, avals_in, outs, params)
  return exe, outs, multi


def apply_primitive(prim, *args, **params):
  """Run ``prim`` on concrete arguments (Arrays or Python/NumPy scalars)."""
  arrs = args
  for a in args:
    if type(a) is not Array:
      arrs = [_concrete(x) for x in args]
      break
  avals = tuple([a.aval for a in arrs])
  try:
    key = (prim, avals, tuple(params.items())) if params else (prim, avals)
    entry = _cache.get(key)
  except TypeError:  # unhashable params: compile without caching
    key, entry = None, None
  if entry is None:
    entry = _compile(prim, avals, params)
    if key is not None:
      with _cache_lock:
        _cache[key] = entry
  exe, outs, multi = entry
  if config.checks_active and config.read("jax_no_execution"):
    raise RuntimeError(f"JAX execution is disallowed (jax_no_execution is set): {prim.name}")
  try:
    bufs = exe.run([a._buf for a in arrs])
  except TypeError:
    if any(a._buf is None for a in arrs):
      raise RuntimeError("Array has been deleted (e.g. donated to a jitted function).") from None
    raise
  if multi:
    res = [_from_buffer(b, av) for b, av in zip(bufs, outs)]
  else:
    res = _from_buffer(bufs[0], outs[0])
  if config.checks_active:
    check_special(prim.name, res if multi else [res])
  return res


def check_special(name: str, outs: Sequence[Any]) -> None:
  """Raise FloatingPointError if a float output has a NaN (jax_debug_nans)
  or an infinity (jax_debug_infs): ``invalid value (nan) encountered in
  name``, JAX's message."""
  nans, infs = config.read("jax_debug_nans"), config.read("jax_debug_infs")
  if not (nans or infs):
    return
  for o in outs:
    if not isinstance(o, Array) or not dtypes.is_inexact(o.dtype):
      continue
    v = np.asarray(o)
    if nans and np.isnan(v).any():
      raise FloatingPointError(f"invalid value (nan) encountered in {name}")
    if infs and np.isinf(v).any():
      raise FloatingPointError(f"invalid value (inf) encountered in {name}")


def _concrete(x):
  if type(x) is Array:
    return x
  if isinstance(x, core.Tracer):
    raise core.escaped_tracer_error(x)
  return to_array(x)


def cache_size() -> int:
  return len(_cache)


def clear_cache() -> None:
  with _cache_lock:
    _cache.clear()
