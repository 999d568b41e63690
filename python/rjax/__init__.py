"""rjax: JAX's programming model — the NumPy API plus composable function
transformations — with a Rust core that runs on every CPU core."""
from rjax._src.base.config import config  # noqa: F401
from rjax._src.transforms.jit import jit  # noqa: F401
from rjax._src.interpreters.custom_derivatives import (  # noqa: F401
    checkpoint, custom_jvp, custom_vjp, remat)
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
from rjax import nn, debug  # noqa: E402,F401
from rjax import (  # noqa: E402,F401
    dlpack, example_libraries, experimental, flatten_util, image, ops, sharding, typing)
from rjax._src.array_api import (  # noqa: E402,F401
    copy_to_host_async, host_count, host_id, host_ids, make_array_from_callback,
    make_array_from_process_local_data, make_array_from_single_device_arrays,
    print_environment_info, process_indices)
from rjax._src.base.dtypes import float0  # noqa: E402,F401
from rjax._src.runtime.sharding import PartitionSpec as P  # noqa: E402,F401
from rjax._src.runtime.array import Shard  # noqa: E402,F401

__version__ = "0.1.0"
