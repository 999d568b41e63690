"""Array creation: zeros, ones, full, arange, linspace, eye, tri, meshgrid, diag, ..."""
from __future__ import annotations

__all__: list[str] = []
