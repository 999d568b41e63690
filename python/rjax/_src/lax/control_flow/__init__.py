"""Structured control flow: higher-order primitives carrying sub-jaxprs
(``cond``, ``while``, ``scan``), run by the Rust executor's ops of the same
names; and the functions built on them. This package's namespace is the union
of its modules' ``__all__`` (built by ``@export``)."""
from rjax._src.lax.control_flow import associative, conditionals, loops, solves

__all__: list[str] = []
for _module in (conditionals, loops, associative, solves):
  globals().update((_name, getattr(_module, _name)) for _name in _module.__all__)
  __all__ += _module.__all__
del _module
