"""Miscellaneous rjax.numpy functions: isclose, allclose, array_equal, array_equiv, ..."""
from __future__ import annotations

__all__: list[str] = []
