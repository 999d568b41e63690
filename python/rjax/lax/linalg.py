"""``rjax.lax.linalg`` (``jax.lax.linalg``): matrix decompositions and
solvers, and their primitives."""
from rjax._src.lax.linalg import *  # noqa: F401,F403
from rjax._src.lax.linalg import __all__ as _names
from rjax._src.lax.linalg_eig import EigImplementation, eig, eig_p, schur, schur_p  # noqa: F401
from rjax._src.lax.linalg import (cholesky_p, eigh_p, lu_p, lu_pivots_to_permutation_p,  # noqa: F401
                                  qr_p, svd_p, triangular_solve_p, tridiagonal_solve_p)

__all__ = list(_names) + ["EigImplementation", "eig", "eig_p", "schur", "schur_p", "cholesky_p",
                          "eigh_p", "lu_p", "lu_pivots_to_permutation_p", "qr_p", "svd_p", "triangular_solve_p", "tridiagonal_solve_p"]
