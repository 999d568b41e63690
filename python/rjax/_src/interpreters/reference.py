"""NumPy implementations of the primitives: the test oracle (JAX's
``lax_reference.py``). A rule table like the interpreters' others: declared
here, filled by ``register(prim, fn)`` next to each primitive's definition;
``fn`` takes NumPy arrays positionally and the primitive's params by keyword."""
from __future__ import annotations

from typing import Any, Callable

references: dict[Any, Callable] = {}


def register(prim, fn: Callable) -> None:
  references[prim] = fn
