"""The transforms layer: what users call (grad, vmap, jit, pmap, make_jaxpr,
callbacks), built on the interpreters and the primitives below."""
