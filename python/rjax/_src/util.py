"""Small helpers JAX programs import from ``jax._src.util`` (JAX's custom
interpreter tutorial does): ``safe_map``/``safe_zip`` check lengths."""
from __future__ import annotations

from typing import Any, Callable, Sequence


def safe_map(f: Callable, *args) -> list:
  """``list(map(f, *args))`` that raises if the sequences' lengths differ."""
  args = list(map(list, args))
  n = len(args[0])
  for arg in args[1:]:
    if len(arg) != n:
      raise ValueError(f"length mismatch: {list(map(len, args))}")
  return list(map(f, *args))


def safe_zip(*args) -> list:
  """``list(zip(*args))`` that raises if the sequences' lengths differ."""
  args = list(map(list, args))
  n = len(args[0])
  for arg in args[1:]:
    if len(arg) != n:
      raise ValueError(f"length mismatch: {list(map(len, args))}")
  return list(zip(*args))


def unzip2(xys) -> tuple[tuple, tuple]:
  xs, ys = [], []
  for x, y in xys:
    xs.append(x)
    ys.append(y)
  return tuple(xs), tuple(ys)


def split_list(args: Sequence[Any], ns: Sequence[int]) -> list[list]:
  args = list(args)
  out = []
  for n in ns:
    out.append(args[:n])
    args = args[n:]
  out.append(args)
  return out
