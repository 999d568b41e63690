"""``rjax.custom_derivatives``: user-defined derivative rules
(``jax.custom_derivatives``). rjax's custom_jvp/custom_vjp calls are
handled by each transformation directly (there is no ``custom_jvp_call``
primitive to export); ``linear_call_p`` is the primitive of
``linear_call``."""
from rjax._src.interpreters.custom_derivatives import (  # noqa: F401
    CustomVJPPrimal, SymbolicZero, closure_convert, custom_gradient, custom_jvp, custom_vjp,
    custom_vjp_primal_tree_values, linear_call, linear_call_p, zero_from_primal)

__all__ = ["custom_jvp", "custom_vjp", "custom_gradient", "closure_convert", "linear_call",
           "SymbolicZero", "CustomVJPPrimal", "custom_vjp_primal_tree_values",
           "zero_from_primal"]
