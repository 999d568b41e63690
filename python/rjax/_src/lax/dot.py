"""dot_general and iota, each with all its rules."""
from __future__ import annotations

__all__: list[str] = []
