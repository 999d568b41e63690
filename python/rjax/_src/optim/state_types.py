"""The optimizer state NamedTuples by name: the allow-list that
``rjax.checkpoints.restore`` rebuilds without a target (no arbitrary imports)."""
from rjax._src.optim import base, transform

STATE_TYPES = {t.__name__: t for t in (
    base.EmptyState, base.MaskedState, base.MaskedNode,
    transform.ScaleByScheduleState, transform.TraceState, transform.ScaleByAdamState,
    transform.ScaleByRmsState, transform.ScaleByRmsWithCountState,
    transform.ScaleByRStdDevState, transform.ScaleByRStdDevWithCountState,
    transform.ScaleByRssState, transform.ScaleByLionState, transform.WeightDecaySchedule)}
