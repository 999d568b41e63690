"""Configuration flags, with JAX's names, values and context managers.

``rjax.config.update("jax_enable_x64", True)`` sets a flag for the process;
``with rjax.enable_x64(True):`` sets it for the current thread only (as in
JAX: a context manager's value is thread-local and wins over the global
one). Flags can also be set from the environment (``JAX_ENABLE_X64=1``).

Each flag is a :class:`State`: ``state.value`` reads it, ``state(new)`` is a
context manager (and a decorator). The flags that change what a trace
produces (x64, rank promotion, matmul precision, debug_nans...) are part of
``jit``'s cache key (:func:`trace_context`).

Flags JAX has that mean nothing on rjax's CPU runtime (transfer guards,
garbage-collection guards, thread guards, mesh-axis types...) are accepted
and validated as JAX validates them, and change nothing; each says so in
its help.
"""
from __future__ import annotations

import functools
import os
import threading
from typing import Any, Callable

_no_default = object()


def _env_bool(name: str, default: bool) -> bool:
  v = os.environ.get(name)
  if v is None:
    return default
  return v.strip().lower() in ("1", "true", "yes", "on", "t", "y")


class _Local(threading.local):
  def __init__(self):
    self.overrides: dict[str, Any] = {}


_local = _Local()


class State:
  """One flag: its global value, its thread-local overrides (context
  managers) and its validation (``parser``)."""


  def __init__(self, name: str, default: Any, help: str = "",
               parser: Callable[[Any], Any] | None = None, cm_default: Any = _no_default,
               in_jit_key: bool = False):
    self.name = name
    self.__name__ = name[4:] if name.startswith("jax_") else name
    self.__doc__ = f"Context manager for `{name}` config option.\n\n{help}"
    self._parser = parser
    self._cm_default = cm_default
    self.in_jit_key = in_jit_key
    self._hooks: list[Callable[[Any], None]] = []
    config._values[name] = parser(default) if parser else default
    config._states[name] = self

  @property
  def value(self) -> Any:
    o = _local.overrides
    if o and self.name in o:
      return o[self.name]
    return config._values[self.name]

  def __bool__(self):
    raise TypeError(f"bool() not supported for instances of type '{type(self).__name__}' "
                    f"(did you mean to use '{type(self).__name__}.value' instead?)")

  def parse(self, value: Any) -> Any:
    return self._parser(value) if self._parser else value

  def __call__(self, new_val: Any = _no_default) -> "_StateContext":
    if new_val is _no_default:
      if self._cm_default is _no_default:
        raise TypeError(f"Context manager for {self.__name__} config option requires an "
                        f"argument representing the new value for the config option.")
      new_val = self._cm_default
    return _StateContext(self, self.parse(new_val))

  def __repr__(self):
    return f"State({self.name}={self.value!r})"


class _StateContext:
  """``with state(value):`` (thread-local), or ``@state(value)`` on a function."""

  __slots__ = ("state", "new_val", "prev")

  def __init__(self, state: State, new_val: Any):
    self.state, self.new_val = state, new_val

  def __enter__(self):
    o = _local.overrides
    self.prev = o.get(self.state.name, _no_default)
    o[self.state.name] = self.new_val
    with config._lock:
      config._n_contexts += 1
    config._changed()
    for hook in self.state._hooks:
      hook(self.new_val)

  def __exit__(self, *exc):
    o = _local.overrides
    if self.prev is _no_default:
      o.pop(self.state.name, None)
    else:
      o[self.state.name] = self.prev
    with config._lock:
      config._n_contexts -= 1
    config._changed()
    for hook in self.state._hooks:
      hook(self.state.value)

  def __call__(self, func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
      with _StateContext(self.state, self.new_val):
        return func(*args, **kwargs)
    return wrapper


class Config:
  def __init__(self):
    self._values: dict[str, Any] = {}
    self._states: dict[str, State] = {}
    self._lock = threading.Lock()
    self._global_ctx: tuple = ()
    #: True while a flag that needs the slow paths (debug_nans/infs,
    #: no_execution...) is on anywhere, or any context manager is active:
    #: the hot paths test only this.
    self.checks_active = False
    self._n_contexts = 0

  def define(self, name: str, default: Any, env: str | None = None, help: str = "",
             parser: Callable[[Any], Any] | None = None, cm_default: Any = _no_default,
             in_jit_key: bool = False) -> State:
    env = env or name.upper()
    if isinstance(default, bool):
      default = _env_bool(env, default)
      if parser is None:
        parser = bool
      if cm_default is _no_default:
        cm_default = True
    elif os.environ.get(env) is not None:
      raw = os.environ[env]
      default = type(default)(raw) if default is not None else raw
    s = State(name, default, help, parser, cm_default, in_jit_key)
    self._changed()
    return s

  def update(self, name: str, value: Any) -> None:
    state = self._states.get(name)
    if state is None:
      raise AttributeError(f"Unrecognized config option: {name}")
    value = state.parse(value)
    with self._lock:
      self._values[name] = value
    self._changed()
    for hook in state._hooks:
      hook(state.value)

  def config_with_absl(self) -> None:
    """JAX's ``config.config_with_absl()``: an absl flag per option, so an
    ``absl.app`` program takes ``--jax_enable_x64`` and friends on its command
    line; absl applies them once it has parsed the command line."""
    from absl import app, flags  # optional (absl-py): imported when asked for

    for name, st in self._states.items():
      if name in flags.FLAGS:
        continue
      v = self._values[name]
      if isinstance(v, bool):
        flags.DEFINE_bool(name, v, name)
      elif isinstance(v, int):
        flags.DEFINE_integer(name, v, name)
      elif isinstance(v, str) or v is None:
        flags.DEFINE_string(name, v, name)
    app.call_after_init(lambda: self._complete_absl_config(flags))

  def _complete_absl_config(self, flags) -> None:
    for name in self._states:
      try:
        f = flags.FLAGS[name]
      except KeyError:
        continue
      if f.present:
        self.update(name, f.value)

  def on_change(self, name: str, hook: Callable[[Any], None]) -> None:
    self._states[name]._hooks.append(hook)

  def read(self, name: str) -> Any:
    o = _local.overrides
    if o and name in o:
      return o[name]
    return self._values[name]

  def __getattr__(self, name: str) -> Any:
    try:
      states = self.__dict__["_states"]
    except KeyError:
      raise AttributeError(name) from None
    if name in states:
      return self.read(name)
    raise AttributeError(f"Unrecognized config option: {name}")

  @property
  def values(self) -> dict:
    """The current value of every flag (this thread's view)."""
    return {k: self.read(k) for k in self._values}

  @property
  def x64_enabled(self) -> bool:
    return bool(self.read("jax_enable_x64"))

  def _changed(self) -> None:
    self._global_ctx = tuple(self._values[n] for n, s in self._states.items() if s.in_jit_key)
    self.checks_active = self._n_contexts > 0 or any(
        self._values.get(n) not in (False, None) for n in _CHECK_FLAGS)

  def trace_context(self) -> tuple:
    """The values of the flags that change what a trace produces (part of
    jit's cache key), as this thread sees them."""
    if not _local.overrides:
      return self._global_ctx
    return tuple(self.read(n) for n, s in self._states.items() if s.in_jit_key)


config = Config()

#: Flags whose global value (when not False/None) turns on the slow paths.
_CHECK_FLAGS = ("jax_debug_nans", "jax_debug_infs", "jax_no_execution", "jax_disable_jit",
                "jax_eager_constant_folding", "jax_check_tracer_leaks")


# ---------------------------------------------------------------------------
# Validation, as JAX validates


def _enum(name: str, values, optional: bool = False):
  def parse(v):
    if v is None and optional:
      return None
    if not isinstance(v, str) or v.lower() not in values:
      raise ValueError(f"new enum value must be {'None or ' if optional else ''}in "
                       f"{list(values)}, got {v} of type {type(v)}.")
    return v.lower() if name != "jax_default_matmul_precision" else v
  return parse


def _matmul_precision(v):
  if v is None:
    return None
  if not isinstance(v, str) or (v not in _MATMUL and v.lower() not in _MATMUL):
    raise ValueError(f"new enum value must be None or in {list(_MATMUL)}, got {v} of type "
                     f"{type(v)}.")
  return v


_MATMUL = ("default", "high", "highest", "bfloat16", "tensorfloat32", "float32",
           "ANY_F8_ANY_F8_F32", "ANY_F8_ANY_F8_F32_FAST_ACCUM", "ANY_F8_ANY_F8_ANY",
           "ANY_F8_ANY_F8_ANY_FAST_ACCUM", "F16_F16_F16", "F16_F16_F32", "BF16_BF16_BF16",
           "BF16_BF16_F32", "BF16_BF16_F32_X3", "BF16_BF16_F32_X6", "BF16_BF16_F32_X9",
           "TF32_TF32_F32", "TF32_TF32_F32_X3", "F32_F32_F32", "F64_F64_F64")


def _only(supported, what: str):
  """A flag whose other values rjax does not implement: refuse them loudly."""
  def parse(v):
    v2 = bool(v) if isinstance(supported, bool) else v
    if isinstance(supported, tuple) and v2 not in supported or \
        isinstance(supported, bool) and v2 != supported:
      raise NotImplementedError(f"rjax does not implement {what}")
    return v2
  return parse


def _prng_impl(v):
  if v not in ("threefry2x32", "threefry4x32", "rbg", "unsafe_rbg", "philox2x32", "philox4x32"):
    raise ValueError(f"new enum value must be in ['threefry2x32', 'threefry4x32', 'rbg', "
                     f"'unsafe_rbg', 'philox2x32', 'philox4x32'], got {v} of type {type(v)}.")
  if v != "threefry2x32":
    raise NotImplementedError(f"rjax implements only the threefry2x32 PRNG, not {v}")
  return v


_GUARD = ("allow", "log", "disallow", "log_explicit", "disallow_explicit")
_MEANINGLESS = ("Accepted for compatibility with JAX; it changes nothing on rjax's CPU "
                "runtime (host and device share memory).")

enable_x64 = config.define("jax_enable_x64", False, in_jit_key=True,
                           help="Enable 64-bit types to be used.")
# Type-check every jaxpr as it is built (the test suite turns this on).
enable_checks = config.define("jax_enable_checks", False,
                              help="Turn on invariant checking (type-check every jaxpr).")
log_compiles = config.define("jax_log_compiles", False,
                             help="Log a message (with the reason) each time jit compiles.")
explain_cache_misses = config.define(
    "jax_explain_cache_misses", False,
    help="Log an explanation each time jit misses its cache and traces again.")
numpy_rank_promotion = config.define(
    "jax_numpy_rank_promotion", "allow", in_jit_key=True,
    parser=_enum("jax_numpy_rank_promotion", ("allow", "warn", "raise")),
    help='NumPy-style rank promotion: "allow", "warn" or "raise".')
numpy_dtype_promotion = config.define(
    "jax_numpy_dtype_promotion", "standard", in_jit_key=True,
    parser=_enum("jax_numpy_dtype_promotion", ("standard", "strict")),
    help='Implicit dtype promotion: "standard" or "strict".')
default_matmul_precision = config.define(
    "jax_default_matmul_precision", None, in_jit_key=True, parser=_matmul_precision,
    help="The default precision of matmuls and convolutions on 32-bit inputs (rjax's CPU "
         "kernels always compute in the input precision).")
disable_jit = config.define("jax_disable_jit", False,
                            help="Disable jit: a jitted function runs its Python eagerly.")
debug_nans = config.define(
    "jax_debug_nans", False, in_jit_key=True,
    help="Check every operation's outputs for NaN and raise FloatingPointError naming the "
         "primitive that produced it (under jit, the function is re-run op by op to find "
         "it).")
debug_infs = config.define("jax_debug_infs", False, in_jit_key=True,
                           help="Like jax_debug_nans, for infinities.")
check_tracer_leaks = config.define(
    "jax_check_tracer_leaks", False,
    help="Check for leaked tracers as soon as each trace completes.")
checking_leaks = functools.partial(check_tracer_leaks, True)
no_tracing = config.define("jax_no_tracing", False,
                           help="Disallow tracing for jit compilation (raise instead).")
no_execution = config.define("jax_no_execution", False, in_jit_key=True,
                             help="Disallow executions (raise instead).")
log_checkpoint_residuals = config.define(
    "jax_log_checkpoint_residuals", False,
    help="Log what residuals each checkpoint saves when it is differentiated.")
default_prng_impl = config.define("jax_default_prng_impl", "threefry2x32", parser=_prng_impl,
                                  help="The default PRNG implementation (rjax has threefry2x32).")
threefry_partitionable = config.define(
    "jax_threefry_partitionable", True, in_jit_key=True,
    parser=_only(True, "jax_threefry_partitionable=False (the non-partitionable threefry bits)"),
    help="rjax generates JAX's default (partitionable) threefry bits.")
debug_key_reuse = config.define(
    "jax_debug_key_reuse", False, parser=_only(False, "PRNG key-reuse checking"),
    help="Key-reuse checking (not implemented by rjax: enabling it raises).")
enable_custom_prng = config.define(
    "jax_enable_custom_prng", False, parser=_only(False, "custom PRNG implementations"),
    help="Custom PRNG implementations (not implemented by rjax: enabling it raises).")
legacy_prng_key = config.define(
    "jax_legacy_prng_key", "allow", parser=_enum("jax_legacy_prng_key",
                                                  ("allow", "warn", "error")),
    help="What passing a raw uint32 key to rjax.random does (rjax allows it).")
softmax_custom_jvp = config.define("jax_softmax_custom_jvp", False, in_jit_key=True,
                                   help="Accepted for compatibility (rjax's softmax gradient "
                                        "is the same either way).")
allow_f16_reductions = config.define("jax_allow_f16_reductions", True, help=_MEANINGLESS)
jax2tf_associative_scan_reductions = config.define(
    "jax_jax2tf_associative_scan_reductions", False, help=_MEANINGLESS)
array_garbage_collection_guard = config.define(
    "jax_array_garbage_collection_guard", None,
    parser=_enum("jax_array_garbage_collection_guard", ("allow", "log", "fatal"), True),
    help=_MEANINGLESS)
transfer_guard_host_to_device = config.define(
    "jax_transfer_guard_host_to_device", None,
    parser=_enum("jax_transfer_guard_host_to_device", _GUARD, True), help=_MEANINGLESS)
transfer_guard_device_to_device = config.define(
    "jax_transfer_guard_device_to_device", None,
    parser=_enum("jax_transfer_guard_device_to_device", _GUARD, True), help=_MEANINGLESS)
transfer_guard_device_to_host = config.define(
    "jax_transfer_guard_device_to_host", None,
    parser=_enum("jax_transfer_guard_device_to_host", _GUARD, True), help=_MEANINGLESS)
_transfer_guard_all = config.define("jax_transfer_guard", None,
                                    parser=_enum("jax_transfer_guard", _GUARD, True),
                                    help=_MEANINGLESS)
thread_guard = config.define("jax_thread_guard", False, help=_MEANINGLESS)
remove_size_one_mesh_axis_from_type = config.define(
    "jax_remove_size_one_mesh_axis_from_type", False, help=_MEANINGLESS)
auto_pcast = config.define("jax_auto_pcast", True, help=_MEANINGLESS)
eager_constant_folding = config.define(
    "jax_eager_constant_folding", False,
    help="Evaluate operations on concrete values eagerly even while tracing "
         "(``ensure_compile_time_eval``).")
config.define("rjax_num_cpu_devices", 1, env="RJAX_NUM_CPU_DEVICES")


def _transfer_guard_hook(v):
  if v is not None:
    for n in ("jax_transfer_guard_host_to_device", "jax_transfer_guard_device_to_device",
              "jax_transfer_guard_device_to_host"):
      config._values[n] = v


config.on_change("jax_transfer_guard", _transfer_guard_hook)


class transfer_guard:
  """``with rjax.transfer_guard("disallow"):``: the level of all three
  transfer guards in this thread (validated as JAX does; rjax's CPU runtime
  makes no transfers to guard)."""

  def __init__(self, new_val: str):
    self._cms = [s(new_val) for s in (transfer_guard_host_to_device,
                                      transfer_guard_device_to_device,
                                      transfer_guard_device_to_host, _transfer_guard_all)]

  def __enter__(self):
    for cm in self._cms:
      cm.__enter__()

  def __exit__(self, *exc):
    for cm in reversed(self._cms):
      cm.__exit__(*exc)


def make_user_context(default_value=None):
  """A user-defined context whose value is part of jit's cache key (JAX's
  ``jax.make_user_context``): ``ctx = make_user_context(0); with ctx(1): ...``."""
  n = len([k for k in config._states if k.startswith("rjax_user_context_")])
  return config.define(f"rjax_user_context_{n}", default_value, in_jit_key=True,
                       cm_default=_no_default)
