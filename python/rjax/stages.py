"""``rjax.stages``: the stages of a jitted function (``jax.stages``):
``jit(f)`` is a :class:`Wrapped`; ``.trace(*args)`` gives a :class:`Traced`
(the jaxpr), ``.lower(*args)`` a :class:`Lowered` (the Rust Program) and
``.compile()`` a :class:`Compiled`, callable on arguments of that signature."""
from rjax._src.transforms.jit import Compiled, Lowered, Traced  # noqa: F401
from rjax._src.transforms.jit import JitWrapped as Wrapped  # noqa: F401

__all__ = ["Wrapped", "Traced", "Lowered", "Compiled"]
