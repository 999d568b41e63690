"""Structured control flow: higher-order primitives carrying sub-jaxprs
(``cond``, ``while``, ``scan``), run by the Rust executor's ops of the same
names; and the functions built on them."""
from rjax._src.lax.control_flow.conditionals import cond, switch, cond_p  # noqa: F401
from rjax._src.lax.control_flow.loops import (  # noqa: F401
    while_loop, fori_loop, scan, map, while_p, scan_p)
from rjax._src.lax.control_flow.associative import associative_scan  # noqa: F401

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "associative_scan"]
