"""Sorting, searching and counting: sort, argsort, unique, searchsorted, histogram, ..."""
from __future__ import annotations

__all__: list[str] = []
