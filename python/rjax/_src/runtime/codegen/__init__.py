"""The native tier: fused groups compiled to machine code through LLVM
(llvmlite), tiered behind the Rust tile interpreter.

The Rust core renders each fused group as LLVM IR from its ops' recorded
scalar DAGs (``rust/src/exec/native``); this module compiles the IR for the
host CPU (``llvm.py``) and installs the function in the group's slot. Both
tiers compute the same primitives in the same order: the bits never depend
on the tier.

``RJAX_CODEGEN`` picks the mode:

- ``auto`` (the default): a group runs in the interpreter; its second run
  queues it for a compiler thread (LLVM runs without the GIL, beside
  execution), and later runs use the native code once it is installed;
- ``sync``: every new executable's groups are compiled before its first run
  (tests and benchmarks);
- ``off``: the interpreter only; llvmlite is never imported.

If llvmlite is missing or a compile fails, the group keeps the interpreter
and the reason is logged once. With ``jax_log_compiles`` each tier change is
logged with its compile time. ``RJAX_CACHE_DIR`` keeps the object code on
disk (``llvm.py``), keyed by the group's IR, versions and CPU.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from rjax._rjax import codegen_set_mode, native_fail, native_install, native_wait
from rjax._src.base.config import config
from rjax._src.runtime.codegen import llvm

logger = logging.getLogger("rjax")

MODES = ("auto", "sync", "off")

_lock = threading.Lock()
#: held while the compiler is made (importing llvmlite): never with `_lock`
_make_lock = threading.Lock()
_state = {"mode": "off", "compiler": None, "unavailable": None, "thread": None,
          "failures": set(), "compiled": 0, "seconds": 0.0, "busy": False}


def _env_mode() -> str:
  m = os.environ.get("RJAX_CODEGEN", "auto").strip().lower() or "auto"
  if m not in MODES:
    raise ValueError(f"RJAX_CODEGEN must be one of {', '.join(MODES)}, not {m!r}")
  return m


def mode() -> str:
  """The current mode: ``auto``, ``sync`` or ``off``."""
  return _state["mode"]


def set_mode(m: str) -> str:
  """Switch the mode (for tests and benchmarks); returns the previous one.
  Executables built before keep the code they have."""
  if m not in MODES:
    raise ValueError(f"codegen mode must be one of {', '.join(MODES)}, not {m!r}")
  prev = _state["mode"]
  _state["mode"] = m
  codegen_set_mode(m)
  return prev


def stats() -> dict:
  """Groups given native code so far in this process, the seconds spent,
  how many came from the on-disk cache, whether the background compiler is
  compiling now, and why native code is unavailable (None if it is)."""
  comp = _state["compiler"]
  return {"compiled": _state["compiled"], "seconds": _state["seconds"],
          "disk_hits": comp.disk_hits if comp is not None else 0,
          "busy": _state["busy"], "unavailable": _state["unavailable"]}


def _compiler():
  """The LLVM compiler, created on first use; None (logged once) if
  llvmlite cannot be used."""
  with _make_lock:
    if _state["compiler"] is None and _state["unavailable"] is None:
      try:
        _state["compiler"] = llvm.Compiler()   # imports llvmlite
      except Exception as e:   # ImportError, or LLVM failing to start
        _state["unavailable"] = f"{type(e).__name__}: {e}"
        logger.warning("rjax: native code is unavailable (%s); fused groups run in the "
                       "interpreter", _state["unavailable"])
    return _state["compiler"]


def _log_failure(desc: str, why: str) -> None:
  key = why.split("\n", 1)[0]
  with _lock:
    if key in _state["failures"]:
      return
    _state["failures"].add(key)
  logger.warning("rjax: native code failed for %s (%s); it runs in the interpreter",
                 desc, key)


def compile_requests(requests) -> None:
  """Compile and install ``(id, description, ir or None, why not)`` requests."""
  for gid, desc, ir, why in requests:
    if ir is None:
      if config.read("jax_log_compiles"):
        logger.warning("Group %s stays in the interpreter: %s", desc, why)
      continue
    comp = _compiler()
    if comp is None:
      native_fail(gid)
      continue
    t0 = time.perf_counter()
    try:
      addr = comp.compile(ir, f"rjax_group_{gid}")
    except Exception as e:   # a compile failure keeps the interpreter
      native_fail(gid)
      _log_failure(desc, f"{type(e).__name__}: {e}")
      continue
    dt = time.perf_counter() - t0
    native_install(gid, addr)
    with _lock:
      _state["compiled"] += 1
      _state["seconds"] += dt
    if config.read("jax_log_compiles"):
      logger.warning("Native code for %s: compiled in %.1f ms (interpreter -> native)",
                     desc, dt * 1e3)


def _worker() -> None:
  while True:
    try:
      reqs = native_wait(1.0)
      if reqs:
        _state["busy"] = True
        try:
          compile_requests(reqs)
        finally:
          _state["busy"] = False
    except Exception as e:   # never let the thread die with an exception
      _log_failure("a queued group", f"{type(e).__name__}: {e}")


def _ensure_thread() -> None:
  with _lock:
    if _state["thread"] is None:
      t = threading.Thread(target=_worker, name="rjax-codegen", daemon=True)
      _state["thread"] = t
      t.start()


def attach(exe) -> None:
  """Give a new executable's fused groups to the native tier."""
  m = _state["mode"]
  if m == "off":
    return
  if m == "sync":
    compile_requests(exe.native_requests())
  elif exe.native_tiers()[0]:
    _ensure_thread()


set_mode(_env_mode())
