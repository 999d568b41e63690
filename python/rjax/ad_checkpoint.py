"""``rjax.ad_checkpoint``: rematerialization (``jax.ad_checkpoint``):
``checkpoint``/``remat``, ``checkpoint_name``, the ``checkpoint_policies``
and ``print_saved_residuals``."""
from rjax._src.interpreters.remat import (  # noqa: F401
    checkpoint, checkpoint_name, checkpoint_policies, remat)
from rjax._src.transforms.ad_checkpoint import (  # noqa: F401
    print_saved_residuals, saved_residuals)

__all__ = ["checkpoint", "checkpoint_name", "checkpoint_policies", "print_saved_residuals",
           "remat"]
