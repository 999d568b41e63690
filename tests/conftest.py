import os
import pathlib
import sys

# A development checkout built with `maturin develop` has the extension next to
# the sources: test that tree (not whatever copy site-packages points at), so a
# git worktree tests its own code. A plain `pip install` has no extension here.
_SRC = pathlib.Path(__file__).resolve().parents[1] / "python"
if any((_SRC / "rjax").glob("_rjax*.so")) and str(_SRC) not in sys.path:
  sys.path.insert(0, str(_SRC))


# Four virtual CPU devices, so pmap runs on 1, 2 and 4 of them in one process
# (ordinary work still uses every core; only pmap replicas use device pools).
os.environ.setdefault("RJAX_NUM_CPU_DEVICES", "4")

from hypothesis import HealthCheck, settings

import rjax

# Every jaxpr the tests build (make_jaxpr, jit, linearize) is type-checked.
rjax.config.update("jax_enable_checks", True)

# CI draws a fixed set of examples (derandomized): a run is reproducible, and
# an input on which the JAX oracle itself aborts (XLA check-fails on some
# reduce_window shapes) cannot appear in one run and not the next.
settings.register_profile(
    "ci", max_examples=30, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "dev", max_examples=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
