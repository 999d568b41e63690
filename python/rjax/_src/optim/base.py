"""Gradient transformations: the ``(init, update)`` pair, ``chain``, ``masked``,
``apply_updates`` and the small tree helpers the optimizers share.

The API and the formulas follow Optax (google-deepmind/optax): a user who writes
``from rjax import optim as optax`` gets the same states (NamedTuples, so pytrees)
and the same numbers. Everything here is a pure function of arrays, so it runs
eagerly, under ``rjax.jit`` and inside ``pmap``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import numpy as np

from rjax._src import numpy as jnp
from rjax._src.base import tree_util

Params = Any
Updates = Any
OptState = Any
Schedule = Callable[[Any], Any]
ScalarOrSchedule = Union[float, Any, Schedule]

NO_PARAMS_MSG = (
    "You are using a transformation that requires the current value of parameters, but you "
    "are not passing `params` when calling `update`.")


class GradientTransformation(NamedTuple):
  """A pair of pure functions: ``init(params) -> state`` and
  ``update(updates, state, params=None) -> (updates, state)``."""
  init: Callable[[Params], OptState]
  update: Callable[..., tuple]


GradientTransformationExtraArgs = GradientTransformation


class EmptyState(NamedTuple):
  """The state of a stateless transformation."""


def init_empty_state(params: Params) -> EmptyState:
  del params
  return EmptyState()


def identity() -> GradientTransformation:
  """Leaves the updates unchanged."""
  def update_fn(updates, state, params=None):
    del params
    return updates, state
  return GradientTransformation(init_empty_state, update_fn)


def set_to_zero() -> GradientTransformation:
  """Replaces every update by zeros (freezes the parameters it is applied to)."""
  def update_fn(updates, state, params=None):
    del params
    return tree_util.tree_map(jnp.zeros_like, updates), state
  return GradientTransformation(init_empty_state, update_fn)


def _is_none(x) -> bool:
  return x is None


def apply_updates(params: Params, updates: Updates) -> Params:
  """``params + updates`` leaf by leaf, keeping each parameter's dtype."""
  return tree_util.tree_map(
      lambda p, u: None if p is None else jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
      params, updates, is_leaf=_is_none)


def chain(*args: GradientTransformation) -> GradientTransformation:
  """Applies the transformations in order; the state is the tuple of their states."""
  for i, t in enumerate(args):
    if not (isinstance(t, tuple) and len(t) == 2 and callable(t[0]) and callable(t[1])):
      raise TypeError(f"chain: argument {i} is not a GradientTransformation: {t!r}")
  init_fns, update_fns = zip(*args) if args else ((), ())

  def init_fn(params):
    return tuple(fn(params) for fn in init_fns)

  def update_fn(updates, state, params=None):
    if not isinstance(state, tuple) or len(state) != len(update_fns):
      raise ValueError(
          "chain: the number of states must equal the number of transformations "
          f"({len(update_fns)}); make sure the state comes from this chain's init.")
    new_state = []
    for s, fn in zip(state, update_fns):
      updates, new_s = fn(updates, s, params)
      new_state.append(new_s)
    return updates, tuple(new_state)

  return GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# masked

class MaskedState(NamedTuple):
  """The inner transformation's state, over the masked-in leaves only."""
  inner_state: Any


class MaskedNode(NamedTuple):
  """Stands in for a masked-out subtree: a pytree node with no leaves."""


def _mask_callable(mask) -> bool:
  leaves = tree_util.tree_leaves(tree_util.tree_map(callable, mask))
  return len(leaves) > 0 and all(leaves)


def masked(inner: GradientTransformation,
           mask: Union[Any, Callable[[Params], Any]]) -> GradientTransformation:
  """Applies ``inner`` only where ``mask`` is True; other updates pass through.

  ``mask`` is a pytree of Python bools with the structure of (a prefix of) the
  params, or a function from params to such a tree. It must be static (not traced).
  """
  def mask_pytree(pytree, mask_tree):
    return tree_util.tree_map(lambda m, p: p if _static_bool(m) else MaskedNode(),
                              mask_tree, pytree)

  def init_fn(params):
    mask_tree = mask(params) if _mask_callable(mask) else mask
    return MaskedState(inner_state=inner.init(mask_pytree(params, mask_tree)))

  def update_fn(updates, state, params=None):
    mask_tree = mask(updates) if _mask_callable(mask) else mask
    masked_updates = mask_pytree(updates, mask_tree)
    masked_params = None if params is None else mask_pytree(params, mask_tree)
    new_masked, new_inner = inner.update(masked_updates, state.inner_state, masked_params)
    new_updates = tree_util.tree_map(lambda m, new_u, old_u: new_u if _static_bool(m) else old_u,
                                     mask_tree, new_masked, updates)
    return new_updates, MaskedState(inner_state=new_inner)

  return GradientTransformation(init_fn, update_fn)


def _static_bool(m) -> bool:
  try:
    return bool(m)
  except Exception as e:  # a tracer: the mask must be known when tracing
    raise TypeError(
        "masked: mask leaves must be static Python bools (build the mask outside jit), "
        f"got {type(m).__name__}") from e


# ---------------------------------------------------------------------------
# shared tree helpers (Optax's optax.tree.*)

def safe_increment(count):
  """``count + 1``, saturating at the dtype's maximum instead of wrapping."""
  count = jnp.asarray(count)
  dt = count.dtype
  if jnp.issubdtype(dt, jnp.integer):
    max_value = np.iinfo(dt).max
  elif jnp.issubdtype(dt, jnp.floating):
    max_value = float(np.finfo(dt).max)
  else:
    raise ValueError(f"safe_increment: cannot increment a count of dtype {dt}; "
                     "use an integer or floating dtype")
  max_value = jnp.array(max_value, dt)
  return jnp.where(count < max_value, count + jnp.array(1, dt), max_value)


safe_int32_increment = safe_increment


def tree_zeros_like(tree, dtype=None):
  return tree_util.tree_map(lambda x: jnp.zeros_like(x, dtype=dtype), tree)


def tree_full_like(tree, fill_value, dtype=None):
  return tree_util.tree_map(lambda x: jnp.full_like(x, fill_value, dtype=dtype), tree)


def tree_cast(tree, dtype):
  if dtype is None:
    return tree
  return tree_util.tree_map(lambda t: t.astype(dtype), tree)


def tree_cast_like(tree, like):
  return tree_util.tree_map(lambda t, l: jnp.asarray(t).astype(jnp.asarray(l).dtype), tree, like)


def tree_update_moment(updates, moments, decay, order):
  """Exponential moving average of the ``order``-th power of the updates."""
  return tree_util.tree_map(
      lambda g, t: None if g is None else (1 - decay) * (g ** order) + decay * t,
      updates, moments, is_leaf=_is_none)


tree_update_moment_per_elem_norm = tree_update_moment  # real dtypes only


def tree_bias_correction(moment, decay, count):
  """``moment / (1 - decay**count)``; the correction is cast to each leaf's dtype
  only after it is computed, so a bfloat16 state stays bfloat16 without rounding
  ``decay**count`` to one."""
  correction = 1 - decay ** count
  return tree_util.tree_map(lambda t: t / correction.astype(t.dtype), moment)


def tree_sum(tree):
  return sum((jnp.sum(x) for x in tree_util.tree_leaves(tree)), 0)


def global_norm(updates) -> Any:
  """The L2 norm of all the leaves of ``updates`` taken together."""
  return jnp.sqrt(sum((jnp.sum(jnp.square(x)) for x in tree_util.tree_leaves(updates)), 0))


tree_norm = global_norm


def canonicalize_dtype(dtype):
  return None if dtype is None else jnp.dtype(dtype)
