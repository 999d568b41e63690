"""Sequential: apply layers (modules or functions) in order."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from rjax._src.nn.module import Module

__all__ = ["Sequential"]


class Sequential(Module):
  """``Sequential([Dense(4), relu, Dense(2)])(x)``; a tuple output is passed
  on as positional arguments, a dict as keyword arguments. The layers are
  named ``layers_0``, ``layers_1``, ... (Flax's names)."""
  layers: Sequence[Callable[..., Any]]

  def __call__(self, *args, **kwargs):
    if not self.layers:
      raise ValueError(f"Empty Sequential module {self.name}.")
    outputs = self.layers[0](*args, **kwargs)
    for layer in self.layers[1:]:
      if isinstance(outputs, tuple):
        outputs = layer(*outputs)
      elif isinstance(outputs, Mapping):
        outputs = layer(**outputs)
      else:
        outputs = layer(outputs)
    return outputs
