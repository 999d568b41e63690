"""Global configuration flags, with JAX's names where JAX has the flag.

``rjax.config.update("jax_enable_x64", True)`` turns on 64-bit types. Flags
can also be set from the environment (``JAX_ENABLE_X64=1``).
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable


def _env_bool(name: str, default: bool) -> bool:
  v = os.environ.get(name)
  if v is None:
    return default
  return v.strip().lower() in ("1", "true", "yes", "on")


class Config:
  def __init__(self):
    self._values: dict[str, Any] = {}
    self._hooks: dict[str, list[Callable[[Any], None]]] = {}
    self._lock = threading.Lock()

  def define(self, name: str, default: Any, env: str | None = None):
    if isinstance(default, bool) and env:
      default = _env_bool(env, default)
    elif env and os.environ.get(env) is not None:
      default = type(default)(os.environ[env])
    self._values[name] = default

  def update(self, name: str, value: Any) -> None:
    if name not in self._values:
      raise AttributeError(f"Unrecognized config option: {name}")
    with self._lock:
      self._values[name] = value
      for hook in self._hooks.get(name, ()):
        hook(value)

  def on_change(self, name: str, hook: Callable[[Any], None]) -> None:
    self._hooks.setdefault(name, []).append(hook)

  def read(self, name: str) -> Any:
    return self._values[name]

  def __getattr__(self, name: str) -> Any:
    try:
      return self.__dict__["_values"][name]
    except KeyError:
      raise AttributeError(name) from None


config = Config()
config.define("jax_enable_x64", False, env="JAX_ENABLE_X64")
# Type-check every jaxpr as it is built (the test suite turns this on).
config.define("jax_enable_checks", False, env="JAX_ENABLE_CHECKS")
config.define("jax_log_compiles", False, env="JAX_LOG_COMPILES")
config.define("jax_numpy_rank_promotion", "allow")
config.define("jax_default_matmul_precision", None)
config.define("rjax_num_cpu_devices", 1, env="RJAX_NUM_CPU_DEVICES")
