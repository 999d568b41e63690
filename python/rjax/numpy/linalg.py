"""``rjax.numpy.linalg``."""
