"""User-facing transformations: ``make_jaxpr``, ``eval_shape``, ``grad``,
the Jacobians and ``linear_transpose``. ``jvp``, ``linearize``, ``vjp``
(``interpreters/ad.py``) and ``vmap`` (``interpreters/batching.py``) live with
their interpreters, since rules below this layer call them too; they are
re-exported here."""
from __future__ import annotations

import contextlib
import functools
import gc
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import config as config_states
from rjax._src.base import dtypes, tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad
from rjax._src.interpreters import partial_eval as pe
from rjax._src.interpreters.ad import jvp, linearize, vjp  # noqa: F401  (re-exported)
from rjax._src.interpreters.batching import vmap  # noqa: F401  (re-exported)
from rjax._src.lax import shapes, slicing
from rjax._src.runtime.array import Array, from_numpy, from_scalar
from rjax._src.runtime.sharding import PartitionSpec, Sharding


def _static_split(args: tuple, static_argnums: Sequence[int]):
  static = set(static_argnums)
  for i in static:
    if not -len(args) <= i < len(args):
      raise ValueError(f"static_argnums {tuple(static_argnums)} out of range for "
                       f"{len(args)} positional arguments")
  static = {i % len(args) for i in static} if args else set()
  dyn = [a for i, a in enumerate(args) if i not in static]
  return static, dyn


def _abstractify(x: Any) -> ShapedArray:
  if isinstance(x, ShapeDtypeStruct):
    return ShapedArray(x.shape, x.dtype, x.weak_type)
  try:
    return core.get_aval(x)
  except TypeError:
    pass
  if isinstance(x, (list, tuple)):
    raise TypeError("a list/tuple leaf is not an array")
  arr = np.asarray(x)
  return ShapedArray(arr.shape, dtypes.canonicalize_dtype(arr.dtype))


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (),
               return_shape: bool = False) -> Callable:
  """``make_jaxpr(f)(*args)`` traces ``f`` and returns its ClosedJaxpr,
  printed in JAX's textual format."""
  if isinstance(static_argnums, int):
    static_argnums = (static_argnums,)

  @functools.wraps(fun, updated=())
  def wrapped(*args, **kwargs):
    static, _ = _static_split(args, static_argnums)
    dyn_args = tuple(a for i, a in enumerate(args) if i not in static)
    leaves, in_tree = tree_util.tree_flatten((dyn_args, kwargs))
    in_avals = [_abstractify(x) for x in leaves]
    out_tree_box = []

    def flat_fun(*flat):
      dargs, kw = tree_util.tree_unflatten(in_tree, flat)
      it = iter(dargs)
      full = [args[i] if i in static else next(it) for i in range(len(args))]
      out = fun(*full, **kw)
      out_leaves, out_tree = tree_util.tree_flatten(out)
      out_tree_box.append(out_tree)
      return out_leaves

    debug = core.debug_info("make_jaxpr", fun, dyn_args, kwargs,
                            [i for i in range(len(args)) if i not in static])
    closed = pe.trace_to_jaxpr(flat_fun, in_avals, debug)
    if return_shape:
      out_shapes = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                    for a in closed.out_avals]
      return closed, tree_util.tree_unflatten(out_tree_box[0], out_shapes)
    return closed

  return wrapped


class ShapeDtypeStruct:
  """A shape, a dtype and the other static attributes of an array, standing
  in for one (``jax.ShapeDtypeStruct``): for ``eval_shape``, ``jit(...).lower``
  and the result types of callbacks. Immutable, hashable, compared by value."""

  __slots__ = ("shape", "dtype", "_sharding", "weak_type", "manual_axis_type", "is_ref")

  def __init__(self, shape, dtype, *, sharding=None, weak_type: bool = False,
               manual_axis_type=None, is_ref: bool = False):
    object.__setattr__(self, "shape", tuple(shape))
    if dtype is None:
      raise ValueError("ShapeDtypeStruct: dtype must be specified.")
    object.__setattr__(self, "dtype", np.dtype(dtype))
    if sharding is not None and not isinstance(sharding, (Sharding, PartitionSpec)):
      raise ValueError("sharding should be an instance of `jax.sharding.Sharding`, "
                       f"`jax.sharding.PartitionSpec`. Got {sharding} of type {type(sharding)}.")
    object.__setattr__(self, "_sharding", sharding)
    object.__setattr__(self, "weak_type", bool(weak_type))
    if manual_axis_type is not None:
      raise TypeError("ShapeDtypeStruct: manual_axis_type needs shard_map, which rjax does "
                      "not have yet")
    object.__setattr__(self, "manual_axis_type", None)
    if is_ref:
      raise NotImplementedError("ShapeDtypeStruct: rjax has no mutable array refs yet")
    object.__setattr__(self, "is_ref", False)

  def __setattr__(self, name, value):
    if getattr(self, name) == value:
      return
    raise RuntimeError(f"Cannot reassign attributes ({name}) of immutable ShapeDtypeStruct "
                       "objects")

  @property
  def size(self) -> int:
    return int(np.prod(self.shape, dtype=np.int64))

  @property
  def ndim(self) -> int:
    return len(self.shape)

  @property
  def sharding(self):
    if isinstance(self._sharding, PartitionSpec):
      raise TypeError("When specifying PartitionSpec to `ShapeDtypeStruct`, the context mesh "
                      "cannot be empty (rjax has no meshes yet).")
    return self._sharding

  @classmethod
  def like(cls, x) -> "ShapeDtypeStruct":
    """The ShapeDtypeStruct of ``x`` (an array, a NumPy array, a scalar, a
    tracer or another ShapeDtypeStruct); a committed array's sharding too."""
    if isinstance(x, ShapeDtypeStruct):
      return cls(x.shape, x.dtype, sharding=x._sharding, weak_type=x.weak_type)
    aval = core.get_aval(x)
    sharding = x.sharding if isinstance(x, Array) and x.committed else None
    return cls(aval.shape, aval.dtype, sharding=sharding, weak_type=aval.weak_type)

  def __len__(self):
    try:
      return self.shape[0]
    except IndexError as e:
      raise TypeError("len() of unsized object") from e

  def __repr__(self):
    sh = f", sharding={self._sharding}" if self._sharding is not None else ""
    wt = f", weak_type={self.weak_type}" if self.weak_type else ""
    return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{sh}{wt})"

  __str__ = __repr__

  def _key(self):
    return (self.shape, self.dtype, self._sharding, self.weak_type, self.manual_axis_type,
            self.is_ref)

  def __eq__(self, other):
    return isinstance(other, ShapeDtypeStruct) and self._key() == other._key()

  def __hash__(self):
    return hash(self._key())

  def update(self, **kwargs) -> "ShapeDtypeStruct":
    """A copy with the given attributes replaced."""
    out = ShapeDtypeStruct(
        kwargs.pop("shape", self.shape), kwargs.pop("dtype", self.dtype),
        sharding=kwargs.pop("sharding", self._sharding),
        weak_type=kwargs.pop("weak_type", self.weak_type),
        manual_axis_type=kwargs.pop("manual_axis_type", self.manual_axis_type),
        is_ref=kwargs.pop("is_ref", self.is_ref))
    if kwargs:
      raise TypeError(f"ShapeDtypeStruct.update: unexpected arguments {sorted(kwargs)}")
    return out


def eval_shape(fun: Callable, *args, **kwargs):
  """The shapes and dtypes of ``fun``'s outputs, computed without running it."""
  _, out_shapes = make_jaxpr(fun, return_shape=True)(*args, **kwargs)
  return out_shapes


# ---------------------------------------------------------------------------
# Automatic differentiation


def _check_output_dtype(x, name, holomorphic):
  """JAX's checks of a reverse-mode output: complex only with holomorphic=True
  (and then required), otherwise a float."""
  dt = core.get_aval(x).dtype
  if holomorphic:
    if not dtypes.is_complex(dt):
      raise TypeError(f"{name} with holomorphic=True requires outputs with complex dtype, "
                      f"but got {dt.name}.")
  elif dtypes.is_complex(dt):
    raise TypeError(f"{name} requires real-valued outputs (output dtype that is a sub-dtype "
                    f"of np.floating), but got {dt.name}. For holomorphic differentiation, "
                    "pass holomorphic=True. For differentiation of non-holomorphic functions "
                    "involving complex outputs, use jax.vjp directly.")
  elif not dtypes.is_float(dt):
    raise TypeError(f"{name} requires real-valued outputs (output dtype that is a sub-dtype "
                    f"of np.floating), but got {dt.name}. For differentiation of functions "
                    "with integer outputs, use jax.vjp directly.")


def _check_scalar_float(x, name, holomorphic=False):
  aval = core.get_aval(x)
  if aval.shape != ():
    raise TypeError(f"{name} requires scalar-output functions (output shape ()), got output "
                    f"shape {aval.shape}. Use jacrev/vjp for non-scalar outputs.")
  _check_output_dtype(x, name, holomorphic)


def _check_input_dtype(x, name, allow_int, holomorphic=False):
  """JAX's checks of a reverse-mode input: real or complex (complex required
  with holomorphic=True); integers and bools only with allow_int."""
  dt = core.get_aval(x).dtype
  if holomorphic and not dtypes.is_complex(dt):
    raise TypeError(f"{name} with holomorphic=True requires inputs with complex dtype, "
                    f"but got {dt.name}.")
  if not dtypes.is_inexact(dt) and not allow_int:
    raise TypeError(f"{name} requires real- or complex-valued inputs (input dtype that is a "
                    f"sub-dtype of np.inexact), but got {dt.name}. If you want to use "
                    "Boolean- or integer-valued inputs, use vjp or set allow_int to True.")


def _check_input_dtype_jacfwd(x, holomorphic):
  dt = core.get_aval(x).dtype
  if holomorphic:
    if not dtypes.is_complex(dt):
      raise TypeError("jacfwd with holomorphic=True requires inputs with complex dtype, "
                      f"but got {dt.name}.")
  elif not dtypes.is_float(dt):
    raise TypeError("jacfwd requires real-valued inputs (input dtype that is a sub-dtype of "
                    f"np.floating), but got {dt.name}. For holomorphic differentiation, pass "
                    "holomorphic=True. For differentiation of non-holomorphic functions "
                    "involving complex inputs or integer inputs, use jax.jvp directly.")


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False, reduce_axes=()):
  """``(fun(*args), ∇fun(*args))`` with respect to the ``argnums`` arguments."""
  int_argnums = isinstance(argnums, int)
  nums = (argnums,) if int_argnums else tuple(argnums)

  def wrapped(*args, **kwargs):
    for n in nums:
      if not -len(args) <= n < len(args):
        raise TypeError(f"value_and_grad: argnums {argnums} out of range for {len(args)} "
                        "positional arguments")
    idx = [n % len(args) for n in nums]
    for i in idx:
      for leaf in tree_util.tree_leaves(args[i]):
        _check_input_dtype(leaf, "grad", allow_int, holomorphic)

    def f_partial(*diff_args):
      full = list(args)
      for i, a in zip(idx, diff_args):
        full[i] = a
      return fun(*full, **kwargs)

    diff_args = tuple(args[i] for i in idx)
    debug = core.debug_info("grad", fun, diff_args, None, idx)
    if has_aux:
      ans, f_vjp, aux = vjp(f_partial, *diff_args, has_aux=True, _debug=debug)
    else:
      ans, f_vjp = vjp(f_partial, *diff_args, _debug=debug)
    _check_scalar_float(ans, "grad", holomorphic)
    a = core.get_aval(ans)
    one = from_scalar(1.0, a.dtype)
    g = f_vjp(one if not a.weak_type else Array._from_buffer(one._buf, a))
    g = g[0] if int_argnums else tuple(g)
    return ((ans, aux), g) if has_aux else (ans, g)

  return wrapped


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False, allow_int: bool = False, reduce_axes=()):
  """The gradient of a scalar-valued ``fun`` with respect to ``argnums``."""
  vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

  @functools.wraps(fun, updated=())
  def wrapped(*args, **kwargs):
    if has_aux:
      (_, aux), g = vg(*args, **kwargs)
      return g, aux
    return vg(*args, **kwargs)[1]

  return wrapped


# ---------------------------------------------------------------------------
# Jacobians, Hessians, transposes


def _std_basis(flat_avals):
  """Identity rows for the flattened inputs: shape (total, *aval.shape) each."""
  sizes = [a.size for a in flat_avals]
  total = sum(sizes)
  outs, off = [], 0
  for a, n in zip(flat_avals, sizes):
    eye = np.zeros((total, n), dtype=a.dtype)
    eye[np.arange(off, off + n), np.arange(n)] = 1
    # weakly typed for a weakly typed value, as JAX's results are
    outs.append(from_numpy(eye.reshape((total,) + a.shape), a.dtype, weak_type=a.weak_type))
    off += n
  return outs, total


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False):
  """The Jacobian by forward mode: ``vmap`` of ``jvp`` over the input basis."""
  int_argnums = isinstance(argnums, int)
  nums = (argnums,) if int_argnums else tuple(argnums)

  def wrapped(*args):
    idx = [n % len(args) for n in nums]
    diff = tuple(args[i] for i in idx)
    d_flat, d_tree = tree_util.tree_flatten(diff)
    for x in d_flat:
      _check_input_dtype_jacfwd(x, holomorphic)
    d_avals = [core.get_aval(x) for x in d_flat]
    basis, total = _std_basis(d_avals)

    def f_diff(*dargs):
      full = list(args)
      for i, a in zip(idx, dargs):
        full[i] = a
      return fun(*full)

    def push(*t_flat):
      ts = tree_util.tree_unflatten(d_tree, t_flat)
      if has_aux:
        _, t, _aux = jvp(f_diff, diff, ts, has_aux=True)
      else:
        _, t = jvp(f_diff, diff, ts)
      return t

    jac = vmap(push, out_axes=-1)(*basis)            # outputs (..., total)
    if holomorphic:
      for o in tree_util.tree_leaves(jac):
        if not dtypes.is_complex(core.get_aval(o).dtype):
          raise TypeError("jacfwd with holomorphic=True requires outputs with complex dtype, "
                          f"but got {core.get_aval(o).dtype.name}.")
    # Split the trailing basis axis into the inputs' shapes.
    def split(o):
      pieces, off = [], 0
      for a in d_avals:
        p = slicing.slice_in_dim(o, off, off + a.size, axis=o.ndim - 1)
        pieces.append(shapes.reshape(p, o.shape[:-1] + a.shape))
        off += a.size
      tree = tree_util.tree_unflatten(d_tree, pieces)
      return tree[0] if int_argnums else tree
    out = tree_util.tree_map(split, jac)
    if has_aux:
      aux = f_diff(*diff)[1]
      return out, aux
    return out

  return wrapped


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False):
  """The Jacobian by reverse mode: ``vmap`` of the VJP over the output basis."""
  int_argnums = isinstance(argnums, int)
  nums = (argnums,) if int_argnums else tuple(argnums)

  def wrapped(*args):
    idx = [n % len(args) for n in nums]
    diff = tuple(args[i] for i in idx)
    for x in tree_util.tree_leaves(diff):
      _check_input_dtype(x, "jacrev", allow_int, holomorphic)

    def f_diff(*dargs):
      full = list(args)
      for i, a in zip(idx, dargs):
        full[i] = a
      return fun(*full)

    if has_aux:
      out, f_vjp, aux = vjp(f_diff, *diff, has_aux=True)
    else:
      out, f_vjp = vjp(f_diff, *diff)
    o_flat, o_tree = tree_util.tree_flatten(out)
    for o in o_flat:
      _check_output_dtype(o, "jacrev", holomorphic)
    o_avals = [core.get_aval(x) for x in o_flat]
    basis, total = _std_basis(o_avals)

    def pull(*ct_flat):
      return f_vjp(tree_util.tree_unflatten(o_tree, ct_flat))

    cts = vmap(pull)(*basis)                      # per input leaf: (total, *in_shape)
    cts = cts[0] if int_argnums else cts
    # For each output leaf, take its rows of the basis and reshape to out_shape + in_shape.
    def per_output(k, a):
      off = sum(x.size for x in o_avals[:k])
      return tree_util.tree_map(
          lambda c: shapes.reshape(slicing.slice_in_dim(c, off, off + a.size, axis=0),
                                   a.shape + c.shape[1:]), cts)
    res = tree_util.tree_unflatten(o_tree, [per_output(k, a) for k, a in enumerate(o_avals)])
    return (res, aux) if has_aux else res

  return wrapped


jacobian = jacrev


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False):
  """``jacfwd(jacrev(fun))``: the dense Hessian."""
  return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)


def linear_transpose(fun: Callable, *primals, reduce_axes=()):
  """The transpose of the linear function ``fun`` at the given primal shapes."""
  p_flat, in_tree = tree_util.tree_flatten(primals)
  in_avals = [ad.tangent_aval(_abstractify(x)) for x in p_flat]
  box: list = []
  closed = pe.trace_to_jaxpr(ad.flatten_fun(fun, in_tree, box), in_avals)
  out_tree = box[-1]

  def transposed(*cts):
    ct = cts[0] if len(cts) == 1 else cts
    ct_flat, ct_tree = tree_util.tree_flatten(ct)
    if ct_tree != out_tree:
      raise TypeError(f"linear_transpose: cotangent structure {ct_tree} does not match the "
                      f"output structure {out_tree}")
    res = ad.backward_pass(closed.jaxpr, closed.consts, in_avals, ct_flat)
    res = [ad.instantiate_zeros(r) for r in res]
    return tuple(tree_util.tree_unflatten(in_tree, res))

  return transposed


# ---------------------------------------------------------------------------
# Host transfers


def block_until_ready(x):
  """Wait for every array in the pytree ``x`` to be computed; returns ``x``
  (``jax.block_until_ready``)."""
  for leaf in tree_util.tree_leaves(x):
    if hasattr(leaf, "block_until_ready"):
      leaf.block_until_ready()
  return x


def device_get(x):
  """The pytree ``x`` with every array as a NumPy array (``jax.device_get``);
  other leaves are returned unchanged."""

  def get(leaf):
    if isinstance(leaf, Array):
      return np.asarray(leaf)
    if isinstance(leaf, core.Tracer):
      raise core._tracer_error("TracerArrayConversionError", leaf, "device_get",
                               "device_get needs concrete values: call it outside "
                               "transformed functions.")
    return leaf

  return tree_util.tree_map(get, x)


# ---------------------------------------------------------------------------
# Introspection, names and caches


def typeof(x) -> ShapedArray:
  """The abstract value (type) of ``x``: ``ShapedArray(float32[3])``
  (``jax.typeof``); a Python scalar's is weakly typed."""
  return core.get_aval(x) if not isinstance(x, ShapeDtypeStruct) else _abstractify(x)


def default_backend() -> str:
  """The platform name of the default backend (``jax.default_backend``)."""
  return "cpu"


def live_arrays(platform: str | None = None) -> list:
  """Every live (not deleted) rjax Array (``jax.live_arrays``)."""
  if platform not in (None, "cpu"):
    raise RuntimeError(f"Unknown backend {platform}: rjax runs on the cpu backend")
  return [o for o in gc.get_objects() if type(o) is Array and o._buf is not None]


@contextlib.contextmanager
def named_scope(name: str):
  """Equations traced inside carry ``name`` on their name stack
  (``jax.named_scope``; shown by ``jaxpr.pretty_print(name_stack=True)``)."""
  with core.extend_name_stack(name):
    yield


def named_call(fun: Callable, *, name: str | None = None) -> Callable:
  """``fun`` traced under the name ``name`` (default: its ``__name__``),
  as ``jax.named_call`` does."""
  scope = name if name is not None else getattr(fun, "__name__", type(fun).__name__)

  @functools.wraps(fun, updated=())
  def named(*args, **kwargs):
    with core.extend_name_stack(scope):
      return fun(*args, **kwargs)

  return named


def ensure_compile_time_eval():
  """Inside, operations on concrete values run now even while a function is
  traced (``jax.ensure_compile_time_eval``): their results are concrete, so
  Python control flow may use them under jit."""
  return config_states.eager_constant_folding(True)
