"""``checkify``: turn failing checks into returned error values
(``jax.experimental.checkify``).

``checkify(f, errors)`` traces ``f`` to a jaxpr, in which each ``check``
is recorded as a marker (a ``debug_callback`` whose callback is the check's
description), then runs the jaxpr equation by equation under whatever
transformation is active (eager, ``jit``, ``vmap``, ``grad`` inside) and
threads an error value through it: at each user check, and — as ``errors``
asks — after each primitive for NaNs, at each division for a zero divisor
and at each gather/scatter/dynamic slice for out-of-bounds indices. The
first failure in program order wins, with its message and the values it
formats. ``cond``, ``scan`` and ``while`` are rebuilt with the error in their
operands/carry, so checks inside them are functionalized too.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from rjax._src import core
from rjax._src import lax
from rjax._src import numpy as jnp
from rjax._src.base import dtypes, tree_util
from rjax._src.core import ClosedJaxpr, Literal
from rjax._src.interpreters import partial_eval as pe
from rjax._src.transforms.callback import _FlatCallback, debug_callback, debug_callback_p

__all__ = ["Error", "ErrorCategory", "JaxRuntimeError", "JaxException", "FailedCheckError",
           "NaNError", "DivisionByZeroError", "OOBError", "checkify", "check", "debug_check",
           "check_error", "init_error", "user_checks", "nan_checks", "index_checks",
           "div_checks", "float_checks", "automatic_checks", "all_checks"]


class JaxRuntimeError(ValueError):
  """Raised by ``Error.throw`` and by a failing ``check`` outside checkify."""


class JaxException(Exception):
  """The base of the error categories."""


class FailedCheckError(JaxException):
  """A user ``check`` whose predicate was False."""


class NaNError(JaxException):
  """A primitive produced a NaN."""


class DivisionByZeroError(JaxException):
  """A division (or remainder) by zero."""


class OOBError(JaxException):
  """An out-of-bounds index in a gather, scatter or dynamic slice."""


ErrorCategory = type  # type[JaxException]

user_checks = frozenset({FailedCheckError})
nan_checks = frozenset({NaNError})
index_checks = frozenset({OOBError})
div_checks = frozenset({DivisionByZeroError})
float_checks = nan_checks | div_checks
automatic_checks = float_checks | index_checks
all_checks = automatic_checks | user_checks


# ---------------------------------------------------------------------------
# Sites: each place that can fail, with its static description


class _Site:
  """A place that can fail: its category, how to word the message from its
  payload, and the avals of the payload."""

  def __init__(self, category, message: Callable[..., str], payload_avals=(), tree=None):
    self.category, self.message, self.payload_avals, self.tree = (category, message,
                                                                  tuple(payload_avals), tree)


class Error:
  """The error state returned by a checkified function: whether a check
  failed (``get``/``throw``), which one, and the values its message formats.
  A pytree, so it can leave ``jit`` and be batched by ``vmap``."""

  def __init__(self, pred, code, payloads: tuple, sites: tuple):
    self._pred, self._code, self._payloads, self._sites = pred, code, tuple(payloads), sites

  def _messages(self) -> list:
    pred = np.asarray(self._pred)
    if not pred.any():
      return []
    code = np.asarray(self._code)
    payloads = [[np.asarray(p) for p in ps] for ps in self._payloads]
    if pred.ndim == 0:
      s = self._sites[int(code)]
      return [(s, s.message(*payloads[int(code)]))]
    out = []
    for idx in zip(*np.nonzero(pred)):
      c = int(code[idx])
      s = self._sites[c]
      vals = [p[idx] for p in payloads[c]]
      where = ", ".join(str(i) for i in idx)
      out.append((s, f"at mapped index {where}: {s.message(*vals)}"))
    return out

  def get(self) -> str | None:
    """The failure message (one line per failing element under vmap), or None."""
    msgs = self._messages()
    return "\n".join(m for _, m in msgs) if msgs else None

  def get_exception(self) -> JaxException | None:
    """The failure as an exception of its category, or None."""
    msgs = self._messages()
    if not msgs:
      return None
    site, msg = msgs[0]
    return site.category(msg)

  def throw(self) -> None:
    """Raise ``JaxRuntimeError`` with the message if a check failed."""
    msg = self.get()
    if msg is not None:
      raise JaxRuntimeError(msg)

  def __str__(self):
    return f"Error({self.get()})"

  __repr__ = __str__


tree_util.register_pytree_node(
    Error,
    lambda e: ((e._pred, e._code, e._payloads), e._sites),
    lambda sites, ch: Error(ch[0], ch[1], tuple(tuple(p) for p in ch[2]), sites))

init_error = Error(np.bool_(False), np.int32(0), (), ())


# ---------------------------------------------------------------------------
# check: a marker while checkify traces, else an immediate check


class _State:
  tracing = 0


def _check_fmt_args(args) -> None:
  for leaf in tree_util.tree_leaves(args):
    if not (isinstance(leaf, (core.Tracer, np.ndarray, np.generic)) or hasattr(leaf, "aval")):
      raise TypeError("Formatting arguments to checkify.check need to be PyTrees of arrays, but "
                      f"got {leaf!r} of type {type(leaf)}.")


class _CheckMarker:
  """The callback of a check recorded in a jaxpr: the interpreter reads it;
  run by itself (a check inside code checkify did not trace), it raises."""

  def __init__(self, msg: str, debug: bool):
    self.msg, self.debug = msg, debug

  def __call__(self, pred, *fmt_args, **fmt_kwargs):
    if not np.all(pred):
      raise JaxRuntimeError(_format_user(self.msg, fmt_args, fmt_kwargs))


def _format_user(msg, args, kwargs) -> str:
  return f"{msg.format(*args, **kwargs)} (`check` failed)"


def _record(pred, msg, fmt_args, fmt_kwargs, debug):
  pred = jnp.asarray(pred)
  if pred.dtype != np.bool_:
    raise TypeError(f"check takes a scalar pred as argument, got {pred.dtype}")
  if pred.shape != ():
    raise TypeError(f"check takes a scalar pred as argument, got shape {pred.shape}")
  debug_callback(_CheckMarker(msg, debug), pred, *fmt_args, **fmt_kwargs)


def check(pred, msg: str, *fmt_args, **fmt_kwargs) -> None:
  """Check that ``pred`` (a scalar bool) holds, with message
  ``msg.format(*fmt_args, **fmt_kwargs)`` (the arguments are arrays). Under
  :func:`checkify` the failure becomes the returned Error; eagerly outside
  it, a False ``pred`` raises ``JaxRuntimeError``; traced outside it, this
  raises ValueError (the check cannot be functionalized)."""
  _check_fmt_args((fmt_args, fmt_kwargs))
  if not isinstance(msg, str):
    raise TypeError(f"check: msg must be a str, got {type(msg)}")
  if _State.tracing:
    _record(pred, msg, fmt_args, fmt_kwargs, False)
    return
  if any(isinstance(x, core.Tracer) for x in tree_util.tree_leaves((pred, fmt_args,
                                                                     fmt_kwargs))):
    raise ValueError("Cannot abstractly evaluate a checkify.check which was not "
                     "functionalized. This probably means you tried to stage (jit/scan/pmap/...) "
                     "a `check` without functionalizing it through `checkify.checkify`.")
  if not bool(np.all(np.asarray(pred))):
    raise JaxRuntimeError(_format_user(msg, [np.asarray(a) for a in fmt_args],
                                       {k: np.asarray(v) for k, v in fmt_kwargs.items()}))


def debug_check(pred, msg: str, *fmt_args, **fmt_kwargs) -> None:
  """A :func:`check` that is a no-op outside :func:`checkify`."""
  _check_fmt_args((fmt_args, fmt_kwargs))
  if _State.tracing:
    _record(pred, msg, fmt_args, fmt_kwargs, True)


def check_error(error: Error) -> None:
  """Raise ``error`` if it holds a failure: under :func:`checkify`, it becomes
  part of the returned Error (with its message); outside, ``error.throw()``."""
  if not isinstance(error, Error):
    raise TypeError(f"check_error takes an Error, got {type(error)}")
  if not _State.tracing:
    leaves = tree_util.tree_leaves(error)
    if any(isinstance(x, core.Tracer) for x in leaves):
      raise ValueError("Cannot abstractly evaluate a checkify.check_error which was not "
                       "functionalized: wrap the staged function in checkify.checkify.")
    error.throw()
    return
  for k, site in enumerate(error._sites):
    failed = jnp.logical_and(error._pred, error._code == k)
    debug_callback(_ErrorMarker(site), jnp.logical_not(failed), *error._payloads[k])


class _ErrorMarker:
  """A site of another Error re-raised by check_error inside checkify."""

  def __init__(self, site: _Site):
    self.site = site

  def __call__(self, ok, *payload):
    if not np.all(ok):
      raise JaxRuntimeError(self.site.message(*payload))


# ---------------------------------------------------------------------------
# The interpreter


def _aval(x):
  return core.get_aval(x)


def _nan_site(name):
  return _Site(NaNError, lambda: f"nan generated by primitive: {name}.")


def _div_site():
  return _Site(DivisionByZeroError, lambda: "division by zero")


def _oob_site(shape, axis):
  size = shape[axis]
  return _Site(OOBError, lambda idx: (f"out-of-bounds indexing for array of shape {tuple(shape)}:"
                                      f" index {int(idx)} is out of bounds for axis {axis} with "
                                      f"size {size}. "),
               [core.ShapedArray((), np.dtype(np.int32))])


class _Sites:
  """Numbers every site of a jaxpr (and its sub-jaxprs) before it runs, so
  the error value has one fixed structure (loops carry it)."""

  def __init__(self, errors):
    self.errors = errors
    self.sites: list[_Site] = []
    self.index: dict = {}

  def add(self, key, site):
    self.index[key] = len(self.sites)
    self.sites.append(site)

  def scan_jaxpr(self, jaxpr):
    for e in jaxpr.eqns:
      self.scan_eqn(e)

  def scan_eqn(self, e):
    name = e.primitive.name
    if e.primitive is debug_callback_p:
      cb = e.params["callback"]
      inner = cb.callback if isinstance(cb, _FlatCallback) else cb
      if isinstance(inner, _CheckMarker) and FailedCheckError in self.errors:
        tree, static = cb.in_tree, cb.static
        self.add(id(e), _Site(FailedCheckError, _user_message(inner.msg, tree, static),
                              [_aval(v) for v in e.invars[1:]]))
      elif isinstance(inner, _ErrorMarker):   # an explicit check_error: always kept
        self.add(id(e), inner.site)
      return
    for sub in _sub_jaxprs(e):
      self.scan_jaxpr(sub.jaxpr)
    if name in ("cond", "while", "scan"):
      return
    if NaNError in self.errors and any(
        dtypes.is_float(v.aval.dtype) for v in e.outvars if v is not None):
      self.add((id(e), "nan"), _nan_site(name))
    if DivisionByZeroError in self.errors and name in ("div", "rem"):
      self.add((id(e), "div"), _div_site())
    if OOBError in self.errors:
      for k, (shape, axis) in enumerate(_oob_axes(e)):
        self.add((id(e), "oob", k), _oob_site(shape, axis))


def _user_message(msg, in_tree, static):
  """The message of a user check from its payload (the check's dynamic
  arguments after ``pred``, its static ones put back in place)."""
  def message(*payload):
    dyn, st = [np.True_, *payload], dict(static)
    it = iter(dyn)
    leaves = [st[i] if i in st else next(it) for i in range(len(dyn) + len(st))]
    args, kwargs = tree_util.tree_unflatten(in_tree, leaves)
    return _format_user(msg, args[1:], kwargs)
  return message


def _sub_jaxprs(e):
  out = []
  for v in e.params.values():
    if isinstance(v, ClosedJaxpr):
      out.append(v)
    elif isinstance(v, (tuple, list)):
      out.extend(x for x in v if isinstance(x, ClosedJaxpr))
  return out


def _oob_axes(e):
  """(operand shape, axis) for each indexed axis of a gather/scatter/dynamic slice."""
  name = e.primitive.name
  if name == "gather":
    shape = e.invars[0].aval.shape
    return [(shape, d) for d in e.params["dimension_numbers"][2]]
  if name.startswith("scatter"):
    shape = e.invars[0].aval.shape
    return [(shape, d) for d in e.params["dimension_numbers"][2]]
  if name in ("dynamic_slice", "dynamic_update_slice"):
    shape = e.invars[0].aval.shape
    return [(shape, d) for d in range(len(shape))]
  return []


def _oob_conditions(e, ins):
  """Per indexed axis: (any out of bounds, the first bad index)."""
  name = e.primitive.name
  out = []
  if name == "gather":
    operand, idx = ins[0], ins[1]
    sizes = e.params["slice_sizes"]
    for k, d in enumerate(e.params["dimension_numbers"][2]):
      col = jnp.reshape(idx[..., k], (-1,))
      bad = (col < 0) | (col > operand.shape[d] - sizes[d])
      out.append(_first_bad(bad, col))
  elif name.startswith("scatter"):
    operand, idx, upd = ins[0], ins[1], ins[2]
    uw, inserted, s2o = e.params["dimension_numbers"][:3]
    window_operand_dims = [d for d in range(operand.ndim) if d not in inserted
                           and d not in e.params["dimension_numbers"][3]]
    for k, d in enumerate(s2o):
      size = 1
      if d in window_operand_dims:
        size = upd.shape[uw[window_operand_dims.index(d)]]
      col = jnp.reshape(idx[..., k], (-1,))
      bad = (col < 0) | (col > operand.shape[d] - size)
      out.append(_first_bad(bad, col))
  elif name == "dynamic_slice":
    operand, starts = ins[0], ins[1:]
    for d, s in enumerate(starts):
      s = jnp.asarray(s)
      out.append(((s < 0) | (s > operand.shape[d] - e.params["slice_sizes"][d]),
                  s.astype(np.int32)))
  elif name == "dynamic_update_slice":
    operand, upd, starts = ins[0], ins[1], ins[2:]
    for d, s in enumerate(starts):
      s = jnp.asarray(s)
      out.append(((s < 0) | (s > operand.shape[d] - upd.shape[d]), s.astype(np.int32)))
  return out


def _first_bad(bad, col):
  if bad.shape[0] == 0:
    return jnp.asarray(False), jnp.asarray(0, np.int32)
  return jnp.any(bad), col[jnp.argmax(bad)].astype(np.int32)


class _ErrState:
  """The running error: pred, code, and each site's payload."""

  def __init__(self, pred, code, payloads):
    self.pred, self.code, self.payloads = pred, code, list(payloads)

  def flat(self):
    return [self.pred, self.code] + [p for ps in self.payloads for p in ps]

  @staticmethod
  def unflat(flat, sites):
    pred, code, rest = flat[0], flat[1], list(flat[2:])
    payloads = []
    for s in sites:
      n = len(s.payload_avals)
      payloads.append(rest[:n])
      rest = rest[n:]
    return _ErrState(pred, code, payloads)

  def add(self, site_id: int, failed, values=()):
    failed = jnp.asarray(failed)
    new = jnp.logical_and(failed, jnp.logical_not(self.pred))
    self.code = jnp.where(new, np.int32(site_id), self.code)
    self.payloads[site_id] = [jnp.where(new, jnp.asarray(v).astype(old.dtype), old)
                              for v, old in zip(values, self.payloads[site_id])]
    self.pred = jnp.logical_or(self.pred, failed)


def _fresh_state(sites):
  return _ErrState(jnp.asarray(False), jnp.asarray(0, np.int32),
                   [[jnp.zeros(a.shape, a.dtype) for a in s.payload_avals] for s in sites])


class _Interpreter:
  def __init__(self, table: _Sites):
    self.table = table

  def run(self, jaxpr, consts, args, state: _ErrState):
    env: dict = {}

    def read(v):
      return v.val if isinstance(v, Literal) else env[id(v)]
    for v, x in zip(jaxpr.constvars, consts):
      env[id(v)] = x
    for v, x in zip(jaxpr.invars, args):
      env[id(v)] = x
    for e in jaxpr.eqns:
      ins = [read(v) for v in e.invars]
      outs = self.eqn(e, ins, state)
      for v, x in zip(e.outvars, outs):
        if v is not None:
          env[id(v)] = x
    return [read(v) for v in jaxpr.outvars]

  def eqn(self, e, ins, state):
    idx = self.table.index
    name = e.primitive.name
    if e.primitive is debug_callback_p:
      cb = e.params["callback"]
      inner = cb.callback if isinstance(cb, _FlatCallback) else cb
      if isinstance(inner, (_CheckMarker, _ErrorMarker)):
        if id(e) in idx:
          state.add(idx[id(e)], jnp.logical_not(jnp.asarray(ins[0])), ins[1:])
        return []
    if name == "cond":
      return self.cond(e, ins, state)
    if name == "scan":
      return self.scan(e, ins, state)
    if name == "while":
      return self.while_(e, ins, state)
    out = e.primitive.bind(*ins, **e.params)
    outs = out if e.primitive.multiple_results else [out]
    if (id(e), "div") in idx:
      state.add(idx[(id(e), "div")], jnp.any(jnp.asarray(ins[1]) == 0))
    for k, (bad, value) in enumerate(_oob_conditions(e, ins) if OOBError in self.table.errors
                                     else []):
      key = (id(e), "oob", k)
      if key in idx:
        state.add(idx[key], bad, [value])
    if (id(e), "nan") in idx:
      nan = functools.reduce(jnp.logical_or, [jnp.any(jnp.isnan(o)) for o in outs
                                              if dtypes.is_float(_aval(o).dtype)])
      state.add(idx[(id(e), "nan")], nan)
    return outs

  # -- control flow, rebuilt with the error threaded through ----------------

  def _sub(self, closed, state_flat, args):
    st = _ErrState.unflat(list(state_flat), self.table.sites)
    outs = self.run(closed.jaxpr, closed.consts, args, st)
    return st.flat(), outs

  def cond(self, e, ins, state):
    index, ops = ins[0], ins[1:]
    branches = [functools.partial(lambda b, s, o: self._sub(b, s, o), b)
                for b in e.params["branches"]]
    new_flat, outs = lax.switch(index, branches, state.flat(), list(ops))
    self._set(state, new_flat)
    return outs

  def scan(self, e, ins, state):
    p = e.params
    nc, ncarry = p["num_consts"], p["num_carry"]
    consts, carry, xs = ins[:nc], ins[nc:nc + ncarry], ins[nc + ncarry:]
    body = p["jaxpr"]

    def step(c, x):
      flat, carry_ = c
      new_flat, outs = self._sub(body, flat, list(consts) + list(carry_) + list(x))
      return (new_flat, outs[:ncarry]), outs[ncarry:]
    (new_flat, carry_out), ys = lax.scan(step, (state.flat(), list(carry)), list(xs),
                                         length=p["length"], reverse=p["reverse"])
    self._set(state, new_flat)
    return list(carry_out) + list(ys)

  def while_(self, e, ins, state):
    p = e.params
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    cconsts, bconsts, carry = ins[:cn], ins[cn:cn + bn], ins[cn + bn:]
    cj, bj = p["cond_jaxpr"], p["body_jaxpr"]

    def cond_fun(c):
      _, carry_ = c
      return core.eval_jaxpr(cj.jaxpr, cj.consts, *cconsts, *carry_)[0]

    def body_fun(c):
      flat, carry_ = c
      return self._sub(bj, flat, list(bconsts) + list(carry_))
    new_flat, out = lax.while_loop(cond_fun, body_fun, (state.flat(), list(carry)))
    self._set(state, new_flat)
    return list(out)

  def _set(self, state, flat):
    new = _ErrState.unflat(list(flat), self.table.sites)
    state.pred, state.code, state.payloads = new.pred, new.code, new.payloads


def checkify(f: Callable, errors: frozenset = user_checks) -> Callable:
  """``checkify(f, errors)(*args) -> (Error, out)``: ``f``'s checks of the
  categories in ``errors`` (``user_checks``, ``nan_checks``, ``index_checks``,
  ``div_checks``, ``float_checks``, ``automatic_checks``, ``all_checks``)
  functionalized into the returned Error."""
  errors = frozenset(errors)
  unknown = [c for c in errors if not (isinstance(c, type) and issubclass(c, JaxException))]
  if unknown:
    raise TypeError(f"checkify: errors must be error categories, got {unknown}")

  @functools.wraps(f)
  def checked(*args, **kwargs):
    flat, in_tree = tree_util.tree_flatten((args, kwargs))
    avals = [_aval(x) for x in flat]
    box = []
    flat_fun = tree_util.flatten_fun(f, in_tree, box)
    _State.tracing += 1
    try:
      closed = pe.trace_to_jaxpr(flat_fun, avals, core.debug_info("checkify", f, args, kwargs))
    finally:
      _State.tracing -= 1
    table = _Sites(errors)
    table.scan_jaxpr(closed.jaxpr)
    state = _fresh_state(table.sites)
    outs = _Interpreter(table).run(closed.jaxpr, closed.consts, flat, state)
    err = Error(state.pred, state.code, tuple(tuple(p) for p in state.payloads),
                tuple(table.sites))
    return err, tree_util.tree_unflatten(box[-1], outs)
  return checked
