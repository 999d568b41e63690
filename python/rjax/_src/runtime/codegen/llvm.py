"""Compiling LLVM IR to machine code for the host CPU with llvmlite.

One target machine and one MCJIT engine per process (Numba's shape): a
group's module is parsed, verified, optimized with LLVM's ``-O3`` pipeline
(the new pass manager: loop and SLP vectorization for the host's vector
width), emitted as object code and loaded into the engine, whose code lives
as long as the process. The IR has no fast-math flags, so the optimizer
keeps every rounding: it vectorizes, but never reassociates or contracts.

Code is cached by a key over the IR (the group's structure and dtypes), the
rjax and llvmlite versions and the host CPU's name and features: in memory
(two groups of the same structure share their code) and, when
``RJAX_CACHE_DIR`` is set, on disk as object files, so that a second
process skips LLVM (JAX's persistent compilation cache, for native code).
llvmlite itself is imported when the first ``Compiler`` is made, so
``RJAX_CODEGEN=off`` never imports it.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from importlib import metadata

from rjax._rjax import native_symbols


def _rjax_version() -> str:
  try:
    return metadata.version("rjax")
  except metadata.PackageNotFoundError:   # a checkout on sys.path
    return "source"


class Compiler:
  """Compiles IR modules into one engine; ``compile`` is thread-safe."""

  def __init__(self):
    import llvmlite   # here, not at the top: RJAX_CODEGEN=off never imports llvmlite
    import llvmlite.binding as llvm
    self._llvm = llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    for name, addr in native_symbols():
      llvm.add_symbol(name, addr)
    self.cpu = llvm.get_host_cpu_name()
    self.features = llvm.get_host_cpu_features().flatten()
    target = llvm.Target.from_default_triple()
    self.machine = target.create_target_machine(cpu=self.cpu, features=self.features,
                                                opt=3, jit=True)
    self.triple = target.triple
    self.data_layout = str(self.machine.target_data)
    self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self.machine)
    self._salt = f"rjax {_rjax_version()}|llvmlite {llvmlite.__version__}|{self.triple}|{self.cpu}|" \
                 f"{self.features}\n"
    self._addrs: dict[str, int] = {}
    self._lock = threading.Lock()
    self.disk_hits = 0

  def optimize(self, ir: str):
    """The module of ``ir``, verified and optimized for the host."""
    llvm = self._llvm
    mod = llvm.parse_assembly(ir)
    mod.triple = self.triple
    mod.data_layout = self.data_layout
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(self.machine, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod

  def compile(self, ir: str, name: str) -> int:
    """The address of function ``name`` of ``ir``, compiled (or found in a
    cache); the code stays alive for the rest of the process."""
    key = hashlib.sha256((self._salt + ir.replace(f"@{name}(", "@f(")).encode()).hexdigest()
    sym = f"rjax_{key[:32]}"
    with self._lock:
      addr = self._addrs.get(key)
      if addr is None:
        obj = self._load(key)
        if obj is None:
          obj = self.machine.emit_object(self.optimize(ir.replace(f"@{name}(", f"@{sym}(")))
          self._store(key, obj)
        self.engine.add_object_file(self._llvm.ObjectFileRef.from_data(obj))
        self.engine.finalize_object()
        addr = self.engine.get_function_address(sym)
        if not addr:
          raise RuntimeError(f"LLVM produced no function {sym}")
        self._addrs[key] = addr
    return addr

  def _path(self, key: str):
    d = os.environ.get("RJAX_CACHE_DIR")
    return os.path.join(d, f"rjax-native-{key}.o") if d else None

  def _load(self, key: str):
    p = self._path(key)
    if p and os.path.exists(p):
      try:
        with open(p, "rb") as f:
          obj = f.read()
        self.disk_hits += 1
        return obj
      except OSError:
        return None
    return None

  def _store(self, key: str, obj: bytes) -> None:
    p = self._path(key)
    if not p:
      return
    try:   # written whole, then renamed: readers never see a partial file
      os.makedirs(os.path.dirname(p), exist_ok=True)
      fd, tmp = tempfile.mkstemp(dir=os.path.dirname(p), suffix=".tmp")
      with os.fdopen(fd, "wb") as f:
        f.write(obj)
      os.replace(tmp, p)
    except OSError:
      pass   # a read-only or full cache directory only costs a recompile

  def assembly(self, ir: str) -> str:
    """The host assembly of ``ir`` (for inspection and tests)."""
    with self._lock:
      return self.machine.emit_assembly(self.optimize(ir))
