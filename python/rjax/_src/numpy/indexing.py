"""NumPy indexing (``x[idx]``) and functional updates (``x.at[idx].set(v)``)."""
from __future__ import annotations


def getitem(x, idx):
  raise NotImplementedError("indexing is not implemented yet")


class _IndexUpdateHelper:
  def __init__(self, array):
    self.array = array


__all__ = []
