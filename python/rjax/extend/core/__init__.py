"""``rjax.extend.core`` (``jax.extend.core``): jaxprs (``Jaxpr``,
``ClosedJaxpr``, ``JaxprEqn``, ``Var``, ``Literal``), ``Primitive`` (define
one, give it ``def_impl``/``def_abstract_eval``, and ``bind`` it) and
``jaxpr_as_fun``."""
from rjax._src.base.errors import JaxprTypeError  # noqa: F401
from rjax._src.core import (  # noqa: F401
    ClosedJaxpr, DebugInfo, Jaxpr, JaxprEqn, Literal, Primitive, Var, concrete_or_error,
    jaxpr_as_fun, new_jaxpr_eqn, primal_dtype_to_tangent_dtype, valid_jaxtype)
from rjax._src.core import typecheck_jaxpr as check_jaxpr  # noqa: F401
from rjax._src.runtime.array import Array as _Array
from rjax.extend.core import primitives  # noqa: F401

#: The types of array values (``jax.extend.core.array_types``).
array_types = frozenset({_Array})

__all__ = ["ClosedJaxpr", "DebugInfo", "Jaxpr", "JaxprEqn", "JaxprTypeError", "Literal",
           "Primitive", "Var", "array_types", "check_jaxpr", "concrete_or_error",
           "jaxpr_as_fun", "new_jaxpr_eqn", "primal_dtype_to_tangent_dtype", "primitives",
           "valid_jaxtype"]
