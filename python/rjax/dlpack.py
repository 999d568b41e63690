"""``rjax.dlpack``: DLPack import (``jax.dlpack``)."""
from rjax._src.runtime.dlpack import from_dlpack, is_supported_dtype  # noqa: F401
