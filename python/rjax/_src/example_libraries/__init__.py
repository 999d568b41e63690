"""``jax.example_libraries`` (a library layer): ``stax``, a neural-network
library of (init_fun, apply_fun) pairs, and ``optimizers``, optimizers as
(init, update, get_params) triples over pytrees."""
