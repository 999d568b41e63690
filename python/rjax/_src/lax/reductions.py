"""Reduction, cumulative and sorting primitives (reduce_sum, argmax, cumsum,
sort, top_k, ...), each with all its rules."""
from __future__ import annotations

__all__: list[str] = []
