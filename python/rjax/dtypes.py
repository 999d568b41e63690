"""``rjax.dtypes``: dtype utilities, as in ``jax.dtypes``."""
from rjax._src.base.dtypes import (bfloat16, canonicalize_dtype, finfo, float0, iinfo,  # noqa: F401
                              issubdtype)
from rjax._src.numpy.scalar_types import promote_types, result_type  # noqa: F401
