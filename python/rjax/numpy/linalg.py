"""``rjax.numpy.linalg``: norms and the array-API linear algebra functions."""
from rjax._src.numpy import linalg as _l
from rjax._src.numpy.linalg_decomp import (EigResult, EighResult, QRResult, SlogdetResult,  # noqa: F401
                                           SVDResult, cholesky, cond, cross, det, eig, eigh,
                                           eigvals, eigvalsh,
                                           inv, lstsq, matrix_power, matrix_rank, multi_dot, pinv,
                                           qr, slogdet, solve, svd, svdvals, tensorinv,
                                           tensorsolve)
from rjax._src.numpy.linalg import (matmul, matrix_norm, matrix_transpose, norm, tensordot,  # noqa: F401
                                    vecdot, vector_norm)


def outer(x1, x2, /):
  """Outer product of two 1-d arrays."""
  for i, x in enumerate((x1, x2)):
    if _l.check_arraylike("outer", x) is None and len(_l.core.get_aval(_l.asarray(x)).shape) != 1:
      raise ValueError(f"outer: input {i} must be 1-d, got shape "
                       f"{_l.core.get_aval(_l.asarray(x)).shape}")
  return _l.outer(x1, x2)


def trace(x, /, *, offset: int = 0, dtype=None):
  """Trace over the last two axes."""
  return _l.trace(x, offset, -2, -1, dtype)


def diagonal(x, /, *, offset: int = 0):
  """Diagonal over the last two axes."""
  return _l.diagonal(x, offset, -2, -1)


__all__ = ["norm", "vector_norm", "matrix_norm", "matrix_transpose", "outer", "vecdot", "matmul",
           "tensordot", "trace", "diagonal", "cholesky", "cond", "cross", "det", "eig", "eigvals", "eigh", "eigvalsh",
           "inv", "lstsq", "matrix_power", "matrix_rank", "multi_dot", "pinv", "qr", "slogdet",
           "solve", "svd", "svdvals", "tensorinv", "tensorsolve"]
