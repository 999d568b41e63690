"""``rjax.optim``: Optax-style optimizers. ``from rjax import optim as optax`` gives
JAX users the API they know: ``GradientTransformation(init, update)``, ``chain``,
``apply_updates``, the ``scale_by_*`` building blocks, the usual optimizers and
learning-rate schedules, with Optax's formulas and defaults."""
from rjax._src.optim import *  # noqa: F401,F403
