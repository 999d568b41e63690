"""Slicing primitives: slice, dynamic_slice, dynamic_update_slice, gather,
scatter (and friends), each with all its rules."""
from __future__ import annotations

__all__: list[str] = []
