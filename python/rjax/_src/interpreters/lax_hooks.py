"""The few lax operations that the interpreters themselves emit: moving a
batch dimension (``transpose``), making or unbroadcasting one
(``broadcast_in_dim``, ``expand_dims``, ``reshape``), summing a batched cotangent
(``reduce_sum``) and building zeros (``full``).

They are lax functions, and lax sits above the interpreters: lax registers
them here when it is imported (a table owned low, filled high), so no
interpreter imports lax. Callers look them up at call time
(``lax_hooks.transpose(x, perm)``).
"""
from __future__ import annotations

from typing import Callable

NAMES = ("transpose", "broadcast_in_dim", "expand_dims", "reshape", "reduce_sum", "full")


def _unregistered(name: str) -> Callable:
  def missing(*args, **kwargs):
    raise RuntimeError(f"lax.{name} is not registered with the interpreters yet: "
                       f"import rjax._src.lax (or rjax) first")
  return missing


transpose: Callable = _unregistered("transpose")
broadcast_in_dim: Callable = _unregistered("broadcast_in_dim")
expand_dims: Callable = _unregistered("expand_dims")
reshape: Callable = _unregistered("reshape")
reduce_sum: Callable = _unregistered("reduce_sum")
full: Callable = _unregistered("full")


def register(**fns: Callable) -> None:
  """``register(transpose=lax.transpose, ...)``: called by the lax modules
  that define these operations, right after each one."""
  for name, fn in fns.items():
    if name not in NAMES:
      raise ValueError(f"lax_hooks.register: unknown operation {name!r} (expected one of "
                       f"{NAMES})")
    globals()[name] = fn
