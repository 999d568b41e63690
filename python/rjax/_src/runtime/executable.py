"""Compiled programs: ``Executable`` is a Rust Program, optimized and ready
to run on a device (``run``) or on several at once (``run_replicas``).
Lowering (``interpreters/lowering.py``) builds them with ``build``, which
also hands their fused groups to the native tier (``codegen``); eager
dispatch, jit and pmap run them."""
from rjax._rjax import (Executable, JaxRuntimeError, copied_bytes,  # noqa: F401  (re-exported)
                        framed_loops, set_loop_frames, supported_ops)
# the export format's reader and writer (rust/src/api/format.rs; rjax.export)
from rjax._rjax import ExportedProgram, export_program  # noqa: F401  (re-exported)
from rjax._src.runtime import codegen


def build(in_avals, consts, instrs, outputs) -> Executable:
  """``Executable(...)``, its fused groups given to the native tier."""
  exe = Executable(in_avals, consts, instrs, outputs)
  codegen.attach(exe)
  return exe
