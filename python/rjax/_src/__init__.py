"""rjax's internals, in layers. Each layer imports only the layers below it
(checked by import-linter: ``[tool.importlinter]`` in pyproject.toml, and
tests/test_layers.py):

    libraries      random/, nn/, optim/, checkpoints, distributed, demo_train,
                   example_libraries/, flatten_util, ops, typing, array_api,
                   debugging, experimental/, image, scipy/
    transforms     transforms/: the user-facing api, jit, pmap, callbacks
    numpy          numpy/: rjax.numpy in terms of lax; all dtype promotion
    lax            lax/: the primitives, each with all its rules in one block
    interpreters   interpreters/: the rule tables and the traces that use them
                   (ad, batching, partial_eval, lowering, dispatch, reference),
                   custom_jvp/custom_vjp, remat (checkpoint), and jvp/vjp/vmap
                   on pytrees
    runtime        runtime/: Array and devices, the only users of rjax._rjax
    core           core.py: primitives, traces, tracers, jaxprs
    base           base/: config, dtypes, errors, pytrees; util.py (the helpers
                   JAX programs import from jax._src.util)

A lower layer that needs something of a higher one declares a table or hook
and the higher layer fills it (as ``lax_hooks`` and ``set_array_methods`` do).
"""
