"""The optim library (Optax-style optimizers): this package's namespace is
``rjax.optim``'s, which re-exports it."""
import types as _types

from rjax._src.optim.base import (  # noqa: F401
    EmptyState, GradientTransformation, GradientTransformationExtraArgs, MaskedNode, MaskedState,
    OptState, Params, Schedule, ScalarOrSchedule, Updates, apply_updates, chain, global_norm,
    identity, init_empty_state, masked, safe_increment, safe_int32_increment, set_to_zero)
from rjax._src.optim.transform import (  # noqa: F401
    ScaleByAdamState, ScaleByLionState, ScaleByRmsState, ScaleByRmsWithCountState,
    ScaleByRssState, ScaleByRStdDevState, ScaleByRStdDevWithCountState, ScaleByScheduleState,
    TraceState, WeightDecaySchedule, add_decayed_weights, clip, clip_by_global_norm, scale,
    scale_by_adam, scale_by_learning_rate, scale_by_lion, scale_by_rms, scale_by_rss,
    scale_by_schedule, scale_by_stddev, trace)
from rjax._src.optim.alias import (  # noqa: F401
    adagrad, adam, adamw, lion, nadam, nadamw, rmsprop, sgd)
from rjax._src.optim.schedules import (  # noqa: F401
    constant_schedule, cosine_decay_schedule, exponential_decay, join_schedules,
    linear_schedule, piecewise_constant_schedule, polynomial_schedule, warmup_constant_schedule,
    warmup_cosine_decay_schedule, warmup_exponential_decay_schedule)
from rjax._src.optim.state_types import STATE_TYPES  # noqa: F401

# Everything imported above, and the ``schedules`` submodule.
__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and not isinstance(_v, _types.ModuleType)] + ["schedules"]
