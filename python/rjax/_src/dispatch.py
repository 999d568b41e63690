"""Eager execution: each primitive runs as a one-instruction Program, compiled
once per (primitive, params, input avals) and cached. This is the same Rust
executor that ``jit`` uses for whole programs."""
from __future__ import annotations

import threading
from typing import Any

from rjax._src import core
from rjax._src.interpreters import lowering

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
  from rjax._src.array import Array, to_array
  arrs = [a if type(a) is Array else to_array(a) for a in args]
  avals = tuple(a.aval for a in arrs)
  try:
    key = (prim, avals, tuple(params.items()) if params else ())
    entry = _cache.get(key)
  except TypeError:  # unhashable params: compile without caching
    key, entry = None, None
  if entry is None:
    entry = _compile(prim, avals, params)
    if key is not None:
      with _cache_lock:
        _cache[key] = entry
  exe, outs, multi = entry
  bufs = exe.run([a._buf for a in arrs])
  results = [Array._from_buffer(b, av) for b, av in zip(bufs, outs)]
  return results if multi else results[0]


def cache_size() -> int:
  return len(_cache)


def clear_cache() -> None:
  with _cache_lock:
    _cache.clear()
