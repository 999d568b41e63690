"""Compiled programs: ``Executable`` is a Rust Program, optimized and ready
to run on a device (``run``) or on several at once (``run_replicas``).
Lowering (``interpreters/lowering.py``) builds them; eager dispatch, jit and
pmap run them."""
from rjax._rjax import Executable, supported_ops  # noqa: F401  (re-exported)
