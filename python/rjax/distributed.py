"""``rjax.distributed``: multi-process jobs over MPI (see ``rjax._src.distributed``)."""
from rjax._src.distributed import initialize, is_initialized, shutdown  # noqa: F401

__all__ = ["initialize", "is_initialized", "shutdown"]
