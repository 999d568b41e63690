"""Dtype objects and scalar constructors (jnp.float32(3) -> Array), finfo, iinfo."""
from __future__ import annotations

__all__: list[str] = []
