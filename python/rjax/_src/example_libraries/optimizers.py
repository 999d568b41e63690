"""Optimizers as ``(init_fun, update_fun, get_params)`` triples
(``jax.example_libraries.optimizers``).

``opt_init(params) -> opt_state``, ``opt_update(step, grads, opt_state) ->
opt_state`` and ``get_params(opt_state) -> params``, over any pytree of
parameters. The :func:`optimizer` decorator lifts a triple written for one
array to pytrees; the state is an :class:`OptimizerState` (a pytree), and
each update uses JAX's arithmetic, so the numbers are JAX's.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
import functools
from functools import partial
from typing import Any, NamedTuple

from rjax._src import numpy as jnp
from rjax._src.base import tree_util
from rjax._src.base.util import safe_map, safe_zip, unzip2

map = safe_map  # noqa: A001  (JAX's module rebinds these two names too)
zip = safe_zip  # noqa: A001

__all__ = [
    "OptimizerState", "Optimizer", "optimizer", "sgd", "momentum", "nesterov", "adagrad",
    "rmsprop", "rmsprop_momentum", "adam", "adamax", "sm3", "constant", "exponential_decay",
    "inverse_time_decay", "polynomial_decay", "piecewise_constant", "make_schedule", "l2_norm",
    "clip_grads", "JoinPoint", "unpack_optimizer_state", "pack_optimizer_state", "Array",
    "Params", "State", "Updates", "InitFn", "Step", "UpdateFn", "ParamsFn", "Schedule",
    "map", "zip", "safe_map", "safe_zip", "unzip2", "partial", "namedtuple", "Any", "Callable", "NamedTuple"]

#: The state: per-leaf flattened states, the parameter tree's structure and
#: each leaf state's structure. Registered as a pytree whose one child is
#: ``packed_state``.
OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])
tree_util.register_pytree_node(
    OptimizerState,
    lambda s: ((s.packed_state,), (s.tree_def, s.subtree_defs)),
    lambda aux, children: OptimizerState(children[0], aux[0], aux[1]))

Array = Any
Params = Any   # any pytree of arrays
State = Any    # one leaf's optimizer state
Updates = Params
InitFn = Callable[[Params], OptimizerState]
Step = int
UpdateFn = Callable[[Step, Updates, OptimizerState], OptimizerState]
ParamsFn = Callable[[OptimizerState], Params]
Schedule = Callable[[Step], float]


class Optimizer(NamedTuple):
  init_fn: InitFn
  update_fn: UpdateFn
  params_fn: ParamsFn


def optimizer(opt_maker: Callable[..., tuple[Callable, Callable, Callable]]
              ) -> Callable[..., Optimizer]:
  """Lifts an optimizer written for single arrays to pytrees of parameters.

  ``opt_maker(*args)`` returns ``(init, update, get_params)`` for one array;
  the decorated maker returns an :class:`Optimizer` whose functions take a
  pytree of parameters and keep an :class:`OptimizerState`.
  """
  @functools.wraps(opt_maker)
  def tree_opt_maker(*args, **kwargs):
    init, update, get_params = opt_maker(*args, **kwargs)

    @functools.wraps(init)
    def tree_init(x0_tree):
      x0_flat, treedef = tree_util.tree_flatten(x0_tree)
      states = [init(x0) for x0 in x0_flat]
      states_flat, subtrees = unzip2(map(tree_util.tree_flatten, states))
      return OptimizerState(states_flat, treedef, subtrees)

    @functools.wraps(update)
    def tree_update(i, grad_tree, opt_state):
      states_flat, treedef, subtrees = opt_state
      grad_flat, treedef2 = tree_util.tree_flatten(grad_tree)
      if treedef2 != treedef:
        raise TypeError(
            "optimizer update function was passed a gradient tree that did not match the "
            f"parameter tree structure with which it was initialized: parameter tree {treedef} "
            f"and grad tree {treedef2}.")
      states = map(tree_util.tree_unflatten, subtrees, states_flat)
      new_states = map(partial(update, i), grad_flat, states)
      new_flat, subtrees2 = unzip2(map(tree_util.tree_flatten, new_states))
      for before, after in zip(subtrees, subtrees2):
        if after != before:
          raise TypeError(
              "optimizer update function produced an output structure that did not match its "
              f"input structure: input {before} and output {after}.")
      return OptimizerState(new_flat, treedef, subtrees)

    @functools.wraps(get_params)
    def tree_get_params(opt_state):
      states_flat, treedef, subtrees = opt_state
      states = map(tree_util.tree_unflatten, subtrees, states_flat)
      return tree_util.tree_unflatten(treedef, map(get_params, states))

    return Optimizer(tree_init, tree_update, tree_get_params)
  return tree_opt_maker


# ---------------------------------------------------------------------------
# Optimizers (each written for one array; @optimizer lifts it)


def _first(state):
  return state[0]


@optimizer
def sgd(step_size):
  """Stochastic gradient descent: ``x - step_size(i) * g``."""
  step_size = make_schedule(step_size)

  def update(i, g, x):
    return x - step_size(i) * g
  return Optimizer(lambda x0: x0, update, lambda x: x)


@optimizer
def momentum(step_size: Schedule, mass: float):
  """SGD with momentum ``mass``."""
  step_size = make_schedule(step_size)

  def init(x0):
    return x0, jnp.zeros_like(x0)

  def update(i, g, state):
    x, velocity = state
    velocity = mass * velocity + g
    return x - step_size(i) * velocity, velocity
  return init, update, _first


@optimizer
def nesterov(step_size: Schedule, mass: float):
  """SGD with Nesterov momentum ``mass``."""
  step_size = make_schedule(step_size)

  def init(x0):
    return x0, jnp.zeros_like(x0)

  def update(i, g, state):
    x, velocity = state
    velocity = mass * velocity + g
    return x - step_size(i) * (mass * velocity + g), velocity
  return init, update, _first


@optimizer
def adagrad(step_size, momentum=0.9):
  """Adagrad (Duchi et al., 2011) with ``momentum``."""
  step_size = make_schedule(step_size)

  def init(x0):
    return x0, jnp.zeros_like(x0), jnp.zeros_like(x0)

  def update(i, g, state):
    x, g_sq, m = state
    g_sq += jnp.square(g)
    g_sq_inv_sqrt = jnp.where(g_sq > 0, 1. / jnp.sqrt(g_sq), 0.0)
    m = (1. - momentum) * (g * g_sq_inv_sqrt) + momentum * m
    return x - step_size(i) * m, g_sq, m
  return init, update, _first


@optimizer
def rmsprop(step_size, gamma=0.9, eps=1e-8):
  """RMSProp with decay ``gamma``."""
  step_size = make_schedule(step_size)

  def init(x0):
    return x0, jnp.zeros_like(x0)

  def update(i, g, state):
    x, avg_sq_grad = state
    avg_sq_grad = avg_sq_grad * gamma + jnp.square(g) * (1. - gamma)
    return x - step_size(i) * g / jnp.sqrt(avg_sq_grad + eps), avg_sq_grad
  return init, update, _first


@optimizer
def rmsprop_momentum(step_size, gamma=0.9, eps=1e-8, momentum=0.9):
  """RMSProp with momentum."""
  step_size = make_schedule(step_size)

  def init(x0):
    return x0, jnp.zeros_like(x0), jnp.zeros_like(x0)

  def update(i, g, state):
    x, avg_sq_grad, mom = state
    avg_sq_grad = avg_sq_grad * gamma + jnp.square(g) * (1. - gamma)
    mom = momentum * mom + step_size(i) * g / jnp.sqrt(avg_sq_grad + eps)
    return x - mom, avg_sq_grad, mom
  return init, update, _first


@optimizer
def adam(step_size, b1=0.9, b2=0.999, eps=1e-8):
  """Adam (Kingma & Ba, 2015) with bias correction."""
  step_size = make_schedule(step_size)

  def init(x0):
    return x0, jnp.zeros_like(x0), jnp.zeros_like(x0)

  def update(i, g, state):
    x, m, v = state
    m = (1 - b1) * g + b1 * m
    v = (1 - b2) * jnp.square(g) + b2 * v
    mhat = m / (1 - jnp.asarray(b1, m.dtype) ** (i + 1))
    vhat = v / (1 - jnp.asarray(b2, m.dtype) ** (i + 1))
    return x - step_size(i) * mhat / (jnp.sqrt(vhat) + eps), m, v
  return init, update, _first


@optimizer
def adamax(step_size, b1=0.9, b2=0.999, eps=1e-8):
  """AdaMax: Adam with the infinity norm."""
  step_size = make_schedule(step_size)

  def init(x0):
    return x0, jnp.zeros_like(x0), jnp.zeros_like(x0)

  def update(i, g, state):
    x, m, u = state
    m = (1 - b1) * g + b1 * m
    u = jnp.maximum(b2 * u, jnp.abs(g))
    x = x - (step_size(i) / (1 - jnp.asarray(b1, m.dtype) ** (i + 1))) * m / (u + eps)
    return x, m, u
  return init, update, _first


@optimizer
def sm3(step_size, momentum=0.9):
  """SM3 (Anil et al., 2019): one accumulator per axis of each parameter."""
  step_size = make_schedule(step_size)

  def splice(seq, i, x):
    out = list(seq)
    out[i:i + 1] = x
    return out

  def broadcast_into(ndim, v, axis):
    return v[tuple(splice([None] * ndim, axis, [slice(None)]))]

  def init(x0):
    x_shape = x0.shape
    x0 = jnp.atleast_1d(x0)
    vs = [jnp.zeros(n, dtype=x0.dtype) for n in x0.shape]
    return x0, jnp.zeros_like(x0), vs, x_shape

  def update(i, g, state):
    x, m, vs, x_shape = state
    vs = [broadcast_into(g.ndim, v, ax) for ax, v in enumerate(vs)]
    accum = functools.reduce(jnp.minimum, vs) + jnp.square(g)
    accum_inv_sqrt = jnp.where(accum > 0, 1. / jnp.sqrt(accum), 0)
    m = (1. - momentum) * (g * accum_inv_sqrt) + momentum * m
    x = x - step_size(i) * m
    vs = [accum.max(splice(range(x.ndim), j, [])) for j in range(x.ndim)]
    return x, m, vs, x_shape

  def get_params(state):
    x, _, _, x_shape = state
    return x.reshape(x_shape)
  return init, update, get_params


# ---------------------------------------------------------------------------
# Step-size schedules: step -> step size


def constant(step_size) -> Schedule:
  def schedule(i):
    return step_size
  return schedule


def exponential_decay(step_size, decay_steps, decay_rate):
  def schedule(i):
    return step_size * decay_rate ** (i / decay_steps)
  return schedule


def inverse_time_decay(step_size, decay_steps, decay_rate, staircase=False):
  if staircase:
    def schedule(i):
      return step_size / (1 + decay_rate * jnp.floor(i / decay_steps))
  else:
    def schedule(i):
      return step_size / (1 + decay_rate * i / decay_steps)
  return schedule


def polynomial_decay(step_size, decay_steps, final_step_size, power=1.0):
  def schedule(step_num):
    step_num = jnp.minimum(step_num, decay_steps)
    step_mult = (1 - step_num / decay_steps) ** power
    return step_mult * (step_size - final_step_size) + final_step_size
  return schedule


def piecewise_constant(boundaries: Any, values: Any):
  """``values[k]`` for steps in ``(boundaries[k-1], boundaries[k]]``."""
  boundaries = jnp.array(boundaries)
  values = jnp.array(values)
  if not boundaries.ndim == values.ndim == 1:
    raise ValueError("boundaries and values must be sequences")
  if not boundaries.shape[0] == values.shape[0] - 1:
    raise ValueError("boundaries length must be one shorter than values length")

  def schedule(i):
    return values[jnp.sum(i > boundaries)]
  return schedule


def make_schedule(scalar_or_schedule: float | Schedule) -> Schedule:
  """A callable is a schedule already; a scalar becomes :func:`constant`."""
  if callable(scalar_or_schedule):
    return scalar_or_schedule
  if jnp.ndim(scalar_or_schedule) == 0:
    return constant(scalar_or_schedule)
  raise TypeError(type(scalar_or_schedule))


# ---------------------------------------------------------------------------
# Utilities


def l2_norm(tree):
  """The l2 norm of all the leaves of a pytree, taken together."""
  leaves, _ = tree_util.tree_flatten(tree)
  return jnp.sqrt(sum(jnp.vdot(x, x) for x in leaves))


def clip_grads(grad_tree, max_norm):
  """Scales a pytree of gradients down to l2 norm ``max_norm`` when it is larger."""
  norm = l2_norm(grad_tree)

  def normalize(g):
    return jnp.where(norm < max_norm, g, g * (max_norm / norm))
  return tree_util.tree_map(normalize, grad_tree)


class JoinPoint:
  """Marks the boundary between two joined (nested) pytrees: a leaf of the
  outer tree holding an inner one."""

  def __init__(self, subtree):
    self.subtree = subtree

  def __iter__(self):
    yield self.subtree


def unpack_optimizer_state(opt_state):
  """An :class:`OptimizerState` as the parameter tree with a
  :class:`JoinPoint` (holding that leaf's state tree) at each leaf; for
  serialisation."""
  states_flat, treedef, subtree_defs = opt_state
  subtrees = map(tree_util.tree_unflatten, subtree_defs, states_flat)
  return tree_util.tree_unflatten(treedef, [JoinPoint(s) for s in subtrees])


def pack_optimizer_state(marked_pytree):
  """The inverse of :func:`unpack_optimizer_state`."""
  sentinels, treedef = tree_util.tree_flatten(marked_pytree)
  assert all(isinstance(s, JoinPoint) for s in sentinels)
  subtrees = [s.subtree for s in sentinels]
  states_flat, subtree_defs = unzip2(map(tree_util.tree_flatten, subtrees))
  return OptimizerState(states_flat, treedef, subtree_defs)
