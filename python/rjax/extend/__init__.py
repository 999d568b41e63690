"""``rjax.extend``: the pieces for writing one's own interpreters and
primitives (``jax.extend``): ``rjax.extend.core`` has the jaxpr types,
``Primitive`` and ``jaxpr_as_fun``; ``rjax.extend.core.primitives`` the
primitive objects."""
from rjax.extend import core  # noqa: F401

__all__ = ["core"]
