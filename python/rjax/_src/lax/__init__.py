"""The lax layer: the primitives, each defined once with all its rules
(abstract evaluation, JVP, transpose, batching, lowering, NumPy reference)
in one block, one family per module. lax is strict: no dtype promotion.

Each module lists its public names in ``__all__`` (built by ``@export``);
this package's namespace is their union. ``rjax.lax`` re-exports it, and the
layers above use it as ``from rjax._src import lax``.
"""
from rjax._src.interpreters.custom_derivatives import stop_gradient
from rjax._src.lax import (complex_ops, control_flow, convolution, fourier, lax, matmul, other,
                           parallel, ragged,
                           random_bits, reductions, shapes, slicing, windowed_reductions)
# ``lax.linalg`` is a namespace of its own (``rjax.lax.linalg``), as in JAX
from rjax._src.lax import linalg, linalg_eig  # noqa: F401

__all__: list[str] = []
for _module in (lax, complex_ops, fourier, shapes, slicing, reductions, matmul, convolution,
                windowed_reductions,
                parallel, control_flow, other, ragged, random_bits):
  globals().update((_name, getattr(_module, _name)) for _name in _module.__all__)
  __all__ += [_name for _name in _module.__all__ if _name not in __all__]
del _module
__all__.append("stop_gradient")  # its primitive belongs to the interpreters (custom derivatives)
