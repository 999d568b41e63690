"""``rjax.sharding``: where arrays live (``jax.sharding``). One device
(``SingleDeviceSharding``) or one slice per device for ``pmap``
(``PmapSharding``); ``PartitionSpec`` (``P``) as plain data. Meshes and
``NamedSharding`` are not in rjax yet."""
from rjax._src.runtime.sharding import (  # noqa: F401
    PartitionSpec, PmapSharding, Sharding, SingleDeviceSharding, make_single_device_sharding)
