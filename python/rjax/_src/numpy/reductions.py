"""Reductions in rjax.numpy: sum, mean, var, std, max, ... with axis/keepdims/where."""
from __future__ import annotations

__all__: list[str] = []
