"""``rjax.scipy.special`` (``jax.scipy.special``)."""
from rjax._src.scipy.special import *  # noqa: F401,F403
from rjax._src.scipy.special_gamma import *  # noqa: F401,F403
from rjax._src.scipy.special_misc import *  # noqa: F401,F403
from rjax._src.scipy.special_hyper import *  # noqa: F401,F403
