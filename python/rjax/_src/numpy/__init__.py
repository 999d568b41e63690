"""The numpy layer: ``rjax.numpy`` written with lax, where all dtype and
rank promotion happens. Each module lists its public names in ``__all__``;
this package's namespace is their union, in the order below (a later module's
name wins, as with star imports). ``rjax.numpy`` re-exports it, and the
libraries use it as ``jnp`` (``from rjax._src import numpy as jnp``)."""
from rjax._src.numpy import (array_ops, creation, functional, index_tricks, indexing, lax_numpy,
                             linalg, misc, polynomial, reductions, scalar_types, setops,
                             shape_ops, signal, sorting, ufunc_api, ufuncs)

__all__: list[str] = []
for _module in (scalar_types, lax_numpy, creation, ufuncs, ufunc_api, reductions, shape_ops,
                indexing, sorting, setops, index_tricks, functional, array_ops, signal, polynomial,
                linalg, misc):
  globals().update((_name, getattr(_module, _name)) for _name in _module.__all__)
  __all__ += [_name for _name in _module.__all__ if _name not in __all__]
del _module
