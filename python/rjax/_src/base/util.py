"""Small list helpers JAX's own modules use (``jax._src.util``'s
``safe_map``, ``safe_zip``, ``unzip2``): eager, and strict about lengths."""
from __future__ import annotations

from typing import Any, Callable, Iterable


def _check_lengths(name: str, args: list[list]) -> None:
  n = len(args[0])
  for i, a in enumerate(args[1:], start=1):
    if len(a) != n:
      raise ValueError(f"{name}() argument {i} has length {len(a)} but argument 0 has length "
                       f"{n}. All lengths: {tuple(len(x) for x in args)}")


def safe_zip(*args: Iterable[Any]) -> list[tuple]:
  """``zip`` that returns a list and raises ``ValueError`` on unequal lengths."""
  if not args:
    raise TypeError("safe_zip requires at least 1 argument.")
  lists = [list(a) for a in args]
  _check_lengths("safe_zip", lists)
  return list(zip(*lists))


def safe_map(f: Callable, *args: Iterable[Any]) -> list:
  """``map`` that returns a list and raises ``ValueError`` on unequal lengths."""
  if not args:
    raise TypeError("safe_map requires at least 2 arguments.")
  lists = [list(a) for a in args]
  _check_lengths("safe_map", lists)
  return list(map(f, *lists))


def unzip2(xys: Iterable[tuple[Any, Any]]) -> tuple[tuple, tuple]:
  """A sequence of pairs to a pair of tuples (eager; each item must be a pair)."""
  xs, ys = [], []
  for x, y in xys:
    xs.append(x)
    ys.append(y)
  return tuple(xs), tuple(ys)
