"""rjax: JAX's programming model — the NumPy API plus composable function
transformations — with a Rust core that runs on every CPU core."""
from rjax._src.base.config import config  # noqa: F401
from rjax._src.transforms.jit import jit  # noqa: F401
from rjax._src.interpreters.custom_derivatives import custom_jvp, custom_vjp  # noqa: F401
from rjax._src.interpreters.remat import checkpoint, remat  # noqa: F401
from rjax._src.runtime.array import Array  # noqa: F401
from rjax._src.transforms.api import (  # noqa: F401
    ShapeDtypeStruct, eval_shape, grad, hessian, jacfwd, jacrev, jvp, linear_transpose, linearize,
    make_jaxpr, value_and_grad, vjp, vmap, block_until_ready, device_get)
from rjax._src.transforms.pmap import (  # noqa: F401
    pmap, device_put, device_put_sharded, device_put_replicated, ShardedArray)
from rjax._src.runtime.devices import (  # noqa: F401
    Device, devices, local_devices, device_count, local_device_count, process_index,
    process_count, default_device)
from rjax._src.transforms.callback import pure_callback, effects_barrier  # noqa: F401
from rjax._src.core import Tracer as _Tracer
from rjax._src.numpy.array_methods import set_array_methods as _set_array_methods

_set_array_methods(Array)
_set_array_methods(_Tracer)

from rjax import numpy, lax, tree, tree_util, errors, test_util, dtypes, random  # noqa: E402,F401
from rjax import distributed, optim, checkpoints  # noqa: E402,F401
from rjax import nn, debug, scipy  # noqa: E402,F401
from rjax import (  # noqa: E402,F401
    dlpack, example_libraries, experimental, flatten_util, image, ops, sharding, typing)
from rjax._src.array_api import (  # noqa: E402,F401
    copy_to_host_async, host_count, host_id, host_ids, make_array_from_callback,
    make_array_from_process_local_data, make_array_from_single_device_arrays,
    print_environment_info, process_indices)
from rjax._src.base.dtypes import float0  # noqa: E402,F401
from rjax._src.runtime.sharding import PartitionSpec as P  # noqa: E402,F401
from rjax._src.runtime.array import Shard  # noqa: E402,F401

# --- transformations, their control and configuration (issue #14) ---------
from rjax._src.base.config import (  # noqa: E402,F401
    allow_f16_reductions, array_garbage_collection_guard, auto_pcast, check_tracer_leaks,
    checking_leaks, debug_infs, debug_key_reuse, debug_nans, default_matmul_precision,
    default_prng_impl, enable_checks, enable_custom_prng, enable_x64, explain_cache_misses,
    jax2tf_associative_scan_reductions, legacy_prng_key, log_compiles, make_user_context,
    no_execution, no_tracing, numpy_dtype_promotion, numpy_rank_promotion,
    remove_size_one_mesh_axis_from_type, softmax_custom_jvp, thread_guard,
    threefry_partitionable, transfer_guard, transfer_guard_device_to_device,
    transfer_guard_device_to_host, transfer_guard_host_to_device)
from rjax._src.transforms.api import (  # noqa: E402,F401
    default_backend, ensure_compile_time_eval, jacobian, live_arrays, named_call, named_scope,
    typeof)
from rjax._src.transforms.jit import clear_caches, disable_jit, fwd_and_bwd  # noqa: E402,F401
from rjax._src.interpreters.custom_derivatives import (  # noqa: E402,F401
    closure_convert, custom_gradient)
from rjax._src.interpreters.remat import checkpoint_policies  # noqa: E402,F401
from rjax import (  # noqa: E402,F401
    ad_checkpoint, custom_batching, custom_derivatives, extend, stages)
from rjax import export  # noqa: E402,F401

__version__ = "0.1.0"
