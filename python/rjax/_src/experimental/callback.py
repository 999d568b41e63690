"""``io_callback``: call an impure Python function (I/O, a counter, a random
host state) from rjax code and get arrays back.

It is the host-callback machinery of ``transforms/callback.py`` put
together: a ``pure_callback`` makes the call and returns the results, and a
``debug_callback`` (an effect) reads those results, so the call is never
dropped as dead code even when nothing else uses its results; a token unique
to each ``io_callback`` call keeps two equal calls from being merged. Calls
run once per run of the program, in program order (rjax runs callbacks in
order whether or not ``ordered=True``). As in JAX it has no derivative, and
under ``vmap`` an unordered call runs once per element, in order, while an
ordered one raises.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

from rjax._src import core
from rjax._src.base import tree_util
from rjax._src.interpreters import batching
from rjax._src.transforms.callback import debug_callback, pure_callback

__all__ = ["io_callback"]

_tokens = itertools.count()


class _Call:
  """The user's callback behind a unique token (so equal io_callbacks in one
  program stay two calls)."""

  __slots__ = ("f", "token")

  def __init__(self, f):
    self.f, self.token = f, next(_tokens)

  def __call__(self, *args, **kwargs):
    return self.f(*args, **kwargs)

  def __eq__(self, other):
    return self is other

  def __hash__(self):
    return hash(("io_callback", self.token))

  def __repr__(self):
    return getattr(self.f, "__name__", repr(self.f))


def _keep(*results):
  """The effect that reads the results (and so keeps the call)."""


def _batched(args) -> bool:
  return isinstance(core.current_trace(), batching.BatchTrace) or any(
      isinstance(x, batching.BatchTracer) for x in tree_util.tree_leaves(args))


def io_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                sharding: Any = None, ordered: bool = False, **kwargs: Any):
  """Call ``callback(*args, **kwargs)`` (impure) from rjax code and return its
  results, a pytree matching ``result_shape_dtypes`` (shapes and dtypes
  exactly), as ``jax.experimental.io_callback``. The arguments arrive as
  read-only NumPy arrays. The call happens once per run, even when its results
  are unused, and in program order. Not differentiable; under ``vmap``,
  ``ordered=False`` calls once per element, ``ordered=True`` raises."""
  if not callable(callback):
    raise TypeError(f"io_callback: the callback must be callable, got {type(callback)}")
  if ordered and _batched((args, kwargs)):
    raise ValueError("Cannot `vmap` ordered IO callback.")
  out = pure_callback(_Call(callback), result_shape_dtypes, *args, sharding=sharding,
                      vmap_method="sequential", **kwargs)
  debug_callback(_keep, *tree_util.tree_leaves(out), ordered=True)
  return out
