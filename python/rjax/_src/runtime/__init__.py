"""The runtime layer: ``Array`` (a Rust buffer with an abstract value),
devices and compiled programs. Its modules are the only ones in ``_src`` that
import the extension module ``rjax._rjax``."""
