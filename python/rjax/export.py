"""``rjax.export`` (``jax.export``): serialize a jitted function's Program
and call it again, here or from Rust and C without Python (docs/EXPORT.md)."""
from rjax._src.export import (  # noqa: F401
    DimExpr, Exported, deserialize, export, symbolic_args_specs, symbolic_shape)
