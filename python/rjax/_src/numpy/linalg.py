"""Linear algebra in rjax.numpy: dot, matmul, einsum, tensordot, kron, trace, linalg.norm, ..."""
from __future__ import annotations

__all__: list[str] = []
