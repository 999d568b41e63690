"""User-facing transformations. This release: ``make_jaxpr`` and
``eval_shape``; ``grad``/``vjp``/``jvp``/``vmap``/``jit`` build on the same
tracing machinery."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from rjax._src import core, dtypes, tree_util
from rjax._src.core import ShapedArray
from rjax._src.interpreters import partial_eval as pe


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
      shapes = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                for a in closed.out_avals]
      return closed, tree_util.tree_unflatten(out_tree_box[0], shapes)
    return closed

  return wrapped


class ShapeDtypeStruct:
  """A shape and dtype, standing in for an array (``jax.ShapeDtypeStruct``)."""

  __slots__ = ("shape", "dtype", "weak_type", "sharding")

  def __init__(self, shape, dtype, weak_type: bool = False, sharding=None):
    self.shape = tuple(shape)
    self.dtype = np.dtype(dtype)
    self.weak_type = weak_type
    self.sharding = sharding

  @property
  def ndim(self):
    return len(self.shape)

  @property
  def size(self):
    return int(np.prod(self.shape, dtype=np.int64))

  def __eq__(self, other):
    return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
            and self.dtype == other.dtype and self.weak_type == other.weak_type)

  def __hash__(self):
    return hash((self.shape, self.dtype, self.weak_type))

  def __repr__(self):
    w = ", weak_type=True" if self.weak_type else ""
    return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{w})"


def eval_shape(fun: Callable, *args, **kwargs):
  """The shapes and dtypes of ``fun``'s outputs, computed without running it."""
  _, shapes = make_jaxpr(fun, return_shape=True)(*args, **kwargs)
  return shapes


# ---------------------------------------------------------------------------
# Automatic differentiation


def _flatten_fun(fun, in_tree, out_tree_box, has_aux=False):
  def flat_fun(*flat):
    args = tree_util.tree_unflatten(in_tree, flat)
    out = fun(*args)
    if has_aux:
      if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("a function with has_aux=True must return a pair (output, aux), "
                        f"got {type(out).__name__}")
      out, aux = out
      # aux is not differentiated: hand back its primal values, not the
      # differentiation trace's tracers (which would leak out of jvp/vjp).
      trace = core.current_trace()
      if hasattr(trace, "to_primal_tangent"):
        aux = tree_util.tree_map(lambda l: trace.to_primal_tangent(l)[0], aux)
      out_tree_box.append(("aux", aux))
    leaves, tree = tree_util.tree_flatten(out)
    out_tree_box.append(tree)
    return leaves
  return flat_fun


def _check_tangent(p, t, i):
  pa, ta = core.get_aval(p), core.get_aval(t)
  if pa.shape != ta.shape:
    raise ValueError(f"jvp: primal and tangent arguments must have equal shapes, got "
                     f"{pa.shape} and {ta.shape} for argument {i}")


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False):
  """Forward mode: ``(fun(*primals), J·tangents)``."""
  from rjax._src.interpreters import ad
  if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
    raise TypeError("jvp: primal and tangent arguments must be tuples or lists")
  p_flat, in_tree = tree_util.tree_flatten(tuple(primals))
  t_flat, t_tree = tree_util.tree_flatten(tuple(tangents))
  if in_tree != t_tree:
    raise TypeError(f"jvp: primal and tangent arguments must have the same tree structure, "
                    f"got {in_tree} and {t_tree}")
  for i, (p, t) in enumerate(zip(p_flat, t_flat)):
    _check_tangent(p, t, i)
  box: list = []
  p_out, t_out = ad.jvp_flat(_flatten_fun(fun, in_tree, box, has_aux), p_flat, t_flat,
                             core.debug_info("jvp", fun, primals))
  t_out = [ad.instantiate_zeros(t) for t in t_out]
  out_tree = box[-1]
  res = (tree_util.tree_unflatten(out_tree, p_out), tree_util.tree_unflatten(out_tree, t_out))
  if has_aux:
    return res + (box[0][1],)
  return res


def linearize(fun: Callable, *primals):
  """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the
  linearization without re-running the primal computation."""
  from rjax._src.interpreters import ad
  p_flat, in_tree = tree_util.tree_flatten(primals)
  box: list = []
  p_out, closed, zero_out = ad.linearize_flat(_flatten_fun(fun, in_tree, box), p_flat,
                                              core.debug_info("linearize", fun, primals))
  out_tree = box[-1]
  out_avals = [ad.tangent_aval(core.get_aval(p)) for p in p_out]

  def f_jvp(*tangents):
    t_flat, t_tree = tree_util.tree_flatten(tangents)
    if t_tree != in_tree:
      raise TypeError(f"linearize: tangent structure {t_tree} != primal structure {in_tree}")
    vals = iter(core.eval_jaxpr(closed.jaxpr, closed.consts, *t_flat))
    outs = [ad.zeros_like_aval(a) if z else next(vals) for a, z in zip(out_avals, zero_out)]
    return tree_util.tree_unflatten(out_tree, outs)

  return tree_util.tree_unflatten(out_tree, p_out), f_jvp


def vjp(fun: Callable, *primals, has_aux: bool = False, _debug: core.DebugInfo | None = None):
  """``(fun(*primals), f_vjp)`` where ``f_vjp(ct)`` pulls a cotangent of the
  output back to cotangents of the inputs (reverse mode)."""
  from rjax._src.interpreters import ad
  p_flat, in_tree = tree_util.tree_flatten(primals)
  box: list = []
  debug = _debug or core.debug_info("vjp", fun, primals)
  p_out, closed, zero_out = ad.linearize_flat(_flatten_fun(fun, in_tree, box, has_aux), p_flat,
                                              debug)
  out_tree = box[-1]
  out_avals = [core.get_aval(p) for p in p_out]
  in_avals = [core.get_aval(p) for p in p_flat]

  def f_vjp(ct):
    ct_flat, ct_tree = tree_util.tree_flatten(ct)
    if ct_tree != out_tree:
      raise TypeError(f"vjp: cotangent structure {ct_tree} does not match the output "
                      f"structure {out_tree}")
    for c, a in zip(ct_flat, out_avals):
      if core.get_aval(c).shape != a.shape:
        raise ValueError(f"vjp: cotangent shape {core.get_aval(c).shape} does not match the "
                         f"output shape {a.shape}")
    cts = [c for c, z in zip(ct_flat, zero_out) if not z]
    lin_avals = [v.aval for v in closed.jaxpr.invars]
    cts_in = ad.backward_pass(closed.jaxpr, closed.consts, lin_avals, cts)
    cts_in = [np.zeros(a.shape, dtypes.float0) if not dtypes.is_inexact(a.dtype)
              else ad.instantiate_zeros(c) for c, a in zip(cts_in, in_avals)]
    return tree_util.tree_unflatten(in_tree, cts_in)

  primal_out = tree_util.tree_unflatten(out_tree, p_out)
  if has_aux:
    return primal_out, f_vjp, box[0][1]
  return primal_out, f_vjp


def _check_scalar_float(x, name):
  aval = core.get_aval(x)
  if aval.shape != ():
    raise TypeError(f"{name} requires scalar-output functions (output shape ()), got output "
                    f"shape {aval.shape}. Use jacrev/vjp for non-scalar outputs.")
  if not dtypes.is_float(aval.dtype):
    raise TypeError(f"{name} requires real-valued outputs (a floating dtype), got "
                    f"{aval.dtype.name}.")


def _check_input_dtype(x, name, allow_int):
  aval = core.get_aval(x)
  if not dtypes.is_float(aval.dtype) and not allow_int:
    raise TypeError(f"{name} requires real-valued inputs (input dtype that is a sub-dtype of "
                    f"np.floating), but got {aval.dtype.name}. If you want to use integer or "
                    "boolean inputs, use vjp or set allow_int to True.")


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
        _check_input_dtype(leaf, "grad", allow_int)

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
    _check_scalar_float(ans, "grad")
    from rjax._src.array import from_scalar
    g = f_vjp(from_scalar(1.0, core.get_aval(ans).dtype))
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
# vmap


def _broadcast_prefix(prefix, tree, what: str) -> list:
  """One entry per leaf of ``tree`` from a prefix tree of axis specs (int/None)."""
  if prefix is None or isinstance(prefix, int):
    return [prefix] * len(tree_util.tree_leaves(tree))
  spec_leaves, spec_tree = tree_util.tree_flatten(prefix, is_leaf=lambda x: x is None)
  try:
    subtrees = spec_tree.flatten_up_to(tree)
  except ValueError as e:
    raise ValueError(f"vmap {what} specification must be a tree prefix of the corresponding "
                     f"value, got specification {prefix!r}: {e}") from None
  out = []
  for s, sub in zip(spec_leaves, subtrees):
    if s is not None and not isinstance(s, int):
      raise TypeError(f"vmap {what} must be an int, None, or a tree of them; got {s!r}")
    out.extend([s] * len(tree_util.tree_leaves(sub)))
  return out


def _mapped_axes(what: str, flat, dims, tree, axis_size=None):
  """Check each leaf's mapped axis (``dims``, int or None) against its rank
  and the others' sizes; returns the axes made non-negative and the common
  size (``axis_size`` when nothing is mapped). Shared by vmap and pmap."""
  sizes = []
  canon = []
  paths = [tree_util.keystr(k) for k, _ in tree_util.tree_flatten_with_path(tree)[0]]
  for x, d, p in zip(flat, dims, paths):
    if d is None:
      canon.append(None)
      continue
    aval = core.get_aval(x)
    if not -aval.ndim <= d < aval.ndim or aval.ndim == 0:
      raise ValueError(f"{what} was requested to map its argument along axis {d}, which "
                       f"implies that its rank should be at least {max(d, -d - 1) + 1}, but "
                       f"is only {aval.ndim} (its shape is {aval.shape}); argument {p}")
    canon.append(d % aval.ndim)
    sizes.append((aval.shape[d % aval.ndim], d, p, aval))
  if not sizes and axis_size is None:
    raise ValueError(f"{what} must have at least one non-None value in in_axes "
                     "(or axis_size must be given)")
  size = axis_size if axis_size is not None else sizes[0][0]
  if any(s != size for s, *_ in sizes):
    lines = "\n".join(f"  * one axis had size {s}: axis {d} of argument {p} of type "
                      f"{a.str_short()};" for s, d, p, a in sizes)
    raise ValueError(f"{what} got inconsistent sizes for array axes to be mapped:\n{lines}")
  return canon, size


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_name: Any = None,
         axis_size: int | None = None, spmd_axis_name=None) -> Callable:
  """Vectorize ``fun`` over an axis of its arguments (``jax.vmap``)."""
  from rjax._src.interpreters import batching
  if isinstance(in_axes, list):
    in_axes = tuple(in_axes)

  @functools.wraps(fun, updated=())
  def wrapped(*args, **kwargs):
    if isinstance(in_axes, tuple) and len(in_axes) != len(args):
      raise ValueError(f"vmap in_axes must be an int, None, or a tuple of entries corresponding "
                       f"to the positional arguments passed to the function, but got "
                       f"len(in_axes)={len(in_axes)}, len(args)={len(args)}")
    flat, in_tree = tree_util.tree_flatten((args, kwargs))
    spec = (in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args), 0)
    dims = _broadcast_prefix(spec, (args, kwargs), "in_axes")
    canon, size = _mapped_axes("vmap", flat, dims, (args, kwargs), axis_size)
    box: list = []

    def flat_fun(*xs):
      a, kw = tree_util.tree_unflatten(in_tree, xs)
      out = fun(*a, **kw)
      leaves, tree = tree_util.tree_flatten(out)
      box.append((out, tree))
      return leaves

    def out_dims_fn(n):
      out, _ = box[-1]
      return _broadcast_prefix(out_axes, out, "out_axes")

    outs = batching.vmap_flat(flat_fun, flat, canon, out_dims_fn, axis_name, size,
                              core.debug_info("vmap", fun, args, kwargs))
    return tree_util.tree_unflatten(box[-1][1], outs)

  return wrapped


# ---------------------------------------------------------------------------
# Jacobians, Hessians, transposes


def _std_basis(flat_avals):
  """Identity rows for the flattened inputs: shape (total, *aval.shape) each."""
  import numpy as _np
  from rjax._src.array import from_numpy
  sizes = [a.size for a in flat_avals]
  total = sum(sizes)
  outs, off = [], 0
  for a, n in zip(flat_avals, sizes):
    eye = _np.zeros((total, n), dtype=a.dtype)
    eye[_np.arange(off, off + n), _np.arange(n)] = 1
    outs.append(from_numpy(eye.reshape((total,) + a.shape), a.dtype))
    off += n
  return outs, total


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False):
  """The Jacobian by forward mode: ``vmap`` of ``jvp`` over the input basis."""
  int_argnums = isinstance(argnums, int)
  nums = (argnums,) if int_argnums else tuple(argnums)

  def wrapped(*args):
    from rjax._src.lax import shapes
    idx = [n % len(args) for n in nums]
    diff = tuple(args[i] for i in idx)
    d_flat, d_tree = tree_util.tree_flatten(diff)
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
    # Split the trailing basis axis into the inputs' shapes.
    def split(o):
      pieces, off = [], 0
      for a in d_avals:
        from rjax._src.lax import slicing
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
    from rjax._src.lax import shapes
    idx = [n % len(args) for n in nums]
    diff = tuple(args[i] for i in idx)

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
    o_avals = [core.get_aval(x) for x in o_flat]
    basis, total = _std_basis(o_avals)

    def pull(*ct_flat):
      return f_vjp(tree_util.tree_unflatten(o_tree, ct_flat))

    cts = vmap(pull)(*basis)                      # per input leaf: (total, *in_shape)
    cts = cts[0] if int_argnums else cts
    # For each output leaf, take its rows of the basis and reshape to out_shape + in_shape.
    def per_output(k, a):
      off = sum(x.size for x in o_avals[:k])
      from rjax._src.lax import slicing
      return tree_util.tree_map(
          lambda c: shapes.reshape(slicing.slice_in_dim(c, off, off + a.size, axis=0),
                                   a.shape + c.shape[1:]), cts)
    res = tree_util.tree_unflatten(o_tree, [per_output(k, a) for k, a in enumerate(o_avals)])
    return (res, aux) if has_aux else res

  return wrapped


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False):
  """``jacfwd(jacrev(fun))``: the dense Hessian."""
  return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)


def linear_transpose(fun: Callable, *primals, reduce_axes=()):
  """The transpose of the linear function ``fun`` at the given primal shapes."""
  from rjax._src.interpreters import ad
  p_flat, in_tree = tree_util.tree_flatten(primals)
  in_avals = [ad.tangent_aval(_abstractify(x)) for x in p_flat]
  box: list = []
  closed = pe.trace_to_jaxpr(_flatten_fun(fun, in_tree, box), in_avals)
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
  from rjax._src.array import Array

  def get(leaf):
    if isinstance(leaf, Array):
      return np.asarray(leaf)
    if isinstance(leaf, core.Tracer):
      raise core._tracer_error("TracerArrayConversionError", leaf, "device_get",
                               "device_get needs concrete values: call it outside "
                               "transformed functions.")
    return leaf

  return tree_util.tree_map(get, x)
