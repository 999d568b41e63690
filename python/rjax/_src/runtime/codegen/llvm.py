"""Compiling LLVM IR to machine code for the host CPU with llvmlite.

One target machine and one MCJIT engine per process (Numba's shape): each
group's module is parsed, verified, optimized with LLVM's ``-O3`` pipeline
(the new pass manager: loop and SLP vectorization for the host's vector
width) and added to the engine, whose code lives as long as the process.
The IR has no fast-math flags, so the optimizer keeps every rounding: it
vectorizes, but never reassociates or contracts. Imported only when native
code is on (``RJAX_CODEGEN=off`` never imports llvmlite).
"""
from __future__ import annotations

import threading

import llvmlite
import llvmlite.binding as llvm

from rjax._rjax import native_symbols

VERSION = llvmlite.__version__


class Compiler:
  """Compiles IR modules into one engine; ``compile`` is thread-safe."""

  def __init__(self):
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
    self._lock = threading.Lock()

  def optimize(self, ir: str):
    """The module of ``ir``, verified and optimized for the host."""
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
    """The address of function ``name`` of ``ir``, compiled (it stays alive
    for the rest of the process)."""
    with self._lock:
      mod = self.optimize(ir)
      self.engine.add_module(mod)
      self.engine.finalize_object()
      addr = self.engine.get_function_address(name)
    if not addr:
      raise RuntimeError(f"LLVM produced no function {name}")
    return addr

  def assembly(self, ir: str) -> str:
    """The host assembly of ``ir`` (for inspection and tests)."""
    with self._lock:
      return self.machine.emit_assembly(self.optimize(ir))
