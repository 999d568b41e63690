"""The module system of ``rjax.nn``: Flax linen's programming model, small.

A ``Module`` subclass is a dataclass of hyperparameters. ``init(rng, *x)``
binds a copy of it to a fresh ``Scope`` and runs a method; every
``self.param``/``self.variable`` call creates the variable in the scope's
collections ({'params': ..., 'batch_stats': ...}), and those plain nested
dicts are returned. ``apply(variables, *x)`` binds a copy to the given
variables and runs the method again, reading them.

Submodules get a child scope at ``parent path + name``. The name is the
attribute name for modules assigned in ``setup`` (or passed as dataclass
fields: ``layers`` -> ``layers_0``, ``layers_1``), the explicit ``name=``, or
``ClassName_<i>`` for modules created inside a ``@compact`` method. A
submodule object called twice uses one scope: its parameters are shared.

RNG streams follow Flax: a child scope folds its name into its parent's keys,
and ``make_rng(name)`` folds a per-scope counter, both through the SHA-1 of
the static path (``flax.core.scope._fold_in_static``), so ``init`` gives the
same parameters as Flax for the same key.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
import weakref
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from rjax._src import random as _random
from rjax._src.base import tree_util
from rjax._src.transforms import api

__all__ = ["Module", "compact", "nowrap", "Variable", "DenyList", "merge_param", "apply", "init",
           "ScopeParamShapeError", "ScopeParamNotFoundError", "InvalidRngError",
           "ModifyScopeVariableError", "NameInUseError"]


class ScopeParamShapeError(ValueError):
  pass


class ScopeParamNotFoundError(ValueError):
  pass


class InvalidRngError(ValueError):
  pass


class ModifyScopeVariableError(ValueError):
  pass


class NameInUseError(ValueError):
  pass


# -- collection filters ------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DenyList:
  """A collection filter that matches every collection except ``deny``."""
  deny: Any


def _in_filter(flt, col: str) -> bool:
  if isinstance(flt, bool):
    return flt
  if isinstance(flt, str):
    return col == flt
  if isinstance(flt, DenyList):
    return not _in_filter(flt.deny, col)
  if isinstance(flt, Iterable):
    return any(_in_filter(f, col) for f in flt)
  raise TypeError(f"invalid collection filter {flt!r}: use a bool, a str, a list of them "
                  f"or nn.DenyList")


# -- RNG folding (Flax's static fold-in) -------------------------------------

def _fold_in_static(key, data: tuple):
  if not data:
    return key
  m = hashlib.sha1()
  for x in data:
    if isinstance(x, str):
      m.update(x.encode("utf-8"))
    else:
      m.update(int(x).to_bytes((int(x).bit_length() + 7) // 8, byteorder="big"))
  return _random.fold_in(key, np.uint32(int.from_bytes(m.digest()[:4], byteorder="big")))


def _check_rng(name: str, key):
  shape, dtype = getattr(key, "shape", None), getattr(key, "dtype", None)
  if isinstance(key, _random.PRNGKeyArray) and shape == ():
    return
  if shape != (2,) or np.dtype(dtype) != np.uint32:
    raise InvalidRngError(f"rngs[{name!r}] must be a PRNG key (random.key(...) or "
                          f"random.PRNGKey(...)), got {type(key).__name__} "
                          f"with shape {shape} and dtype {dtype}")


# -- scopes ------------------------------------------------------------------

class _Root:
  """What one init/apply call shares: the variables and the mutability."""

  def __init__(self, variables: dict, mutable, initializing: bool):
    self.variables = variables
    self.mutable = mutable
    self.initializing = initializing
    self.adopted: dict = {}   # id(outside module) -> its bound clone (sharing by reference)


class Scope:
  """A view of the root's collections at one path, with its RNG streams."""

  def __init__(self, root: _Root, path: tuple, rngs: dict):
    self.root, self.path, self.rngs = root, path, rngs   # rngs: name -> (key, suffix)
    self.rng_counters = {k: 0 for k in rngs}
    self.reservations: set = set()

  def rewound(self) -> "Scope":
    s = Scope(self.root, self.path, self.rngs)
    s.rng_counters = self.rng_counters
    return s

  @property
  def path_text(self) -> str:
    return "/" + "/".join(self.path)

  def reserve(self, name: str):
    if name in self.reservations:
      raise NameInUseError(f"name {name!r} is used twice in module {self.path_text}: each "
                           f"submodule and variable of a module needs its own name")
    self.reservations.add(name)

  def push(self, name: str) -> "Scope":
    self.reserve(name)
    rngs = {k: (key, suffix + (name,)) for k, (key, suffix) in self.rngs.items()}
    return Scope(self.root, self.path + (name,), rngs)

  def is_mutable_collection(self, col: str) -> bool:
    return _in_filter(self.root.mutable, col)

  def collection(self, col: str, create: bool = False):
    d = self.root.variables.get(col)
    if d is None:
      if not create:
        return {}
      d = self.root.variables[col] = {}
    for p in self.path:
      nxt = d.get(p)
      if nxt is None:
        if not create:
          return {}
        nxt = d[p] = {}
      d = nxt
    return d

  def has_variable(self, col: str, name: str) -> bool:
    return name in self.collection(col)

  def get_variable(self, col: str, name: str, default=None):
    return self.collection(col).get(name, default)

  def put_variable(self, col: str, name: str, value):
    if not self.is_mutable_collection(col):
      raise ModifyScopeVariableError(
          f"cannot update variable {name!r} in {self.path_text}: collection {col!r} is "
          f"immutable; pass mutable=[{col!r}] to apply")
    self.collection(col, create=True)[name] = value

  def has_rng(self, name: str) -> bool:
    return name in self.rngs

  def make_rng(self, name: str = "params"):
    if name not in self.rngs:
      if "params" not in self.rngs:
        raise InvalidRngError(
            f"module {self.path_text} needs a PRNG key for {name!r}: pass "
            f"rngs={{{name!r}: key}} to apply/init")
      name = "params"
    self.rng_counters[name] += 1
    key, suffix = self.rngs[name]
    return _fold_in_static(key, suffix + (self.rng_counters[name],))

  def variable(self, col: str, name: str, init_fn: Callable, *args, **kwargs) -> "Variable":
    self.reserve(name)
    if not self.has_variable(col, name):
      if not self.is_mutable_collection(col):
        raise ScopeParamNotFoundError(
            f"no variable {name!r} in collection {col!r} of module {self.path_text}, and "
            f"the collection is immutable: pass it in the variables or mutable=[{col!r}]")
      self.put_variable(col, name, init_fn(*args, **kwargs))
    return Variable(self, col, name)

  def param(self, name: str, init_fn: Callable, *args, **kwargs):
    self.reserve(name)
    if self.has_variable("params", name):
      value = self.get_variable("params", name)
      got = tree_util.tree_leaves(value)
      for v, want in zip(got, _init_shapes(init_fn, args, kwargs)):
        if np.shape(v) != want:
          raise ScopeParamShapeError(
              f"initializer expected param {name!r} of module {self.path_text} to have "
              f"shape {want}, but the given variables have shape {np.shape(v)}")
      return value
    if not self.is_mutable_collection("params"):
      raise ScopeParamNotFoundError(
          f"no param {name!r} in module {self.path_text}: the given variables lack it "
          f"(did you pass {{'params': params}} and the same model as in init?)")
    value = init_fn(self.make_rng("params"), *args, **kwargs)
    self.put_variable("params", name, value)
    return value


# init_fn -> {(args, kwargs): leaf shapes}. Weak keys: a per-call closure (which
# may hold a bound module and its variables) is dropped with its entry.
_shape_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_shape_cache_lock = threading.Lock()


def _init_shapes(init_fn, args, kwargs) -> list:
  """The leaf shapes ``init_fn(key, *args, **kwargs)`` would create (cached:
  apply checks every param against them)."""
  try:
    call = (args, tuple(sorted(kwargs.items())))
    hash(call)
    weakref.ref(init_fn)
    with _shape_cache_lock:
      hit = _shape_cache.get(init_fn, {}).get(call)
  except TypeError:   # unhashable arguments or an init_fn without weak references
    call = hit = None
  if hit is not None:
    return hit
  abstract = api.eval_shape(lambda: init_fn(_random.PRNGKey(0), *args, **kwargs))
  shapes = [tuple(a.shape) for a in tree_util.tree_leaves(abstract)]
  if call is not None:
    with _shape_cache_lock:
      _shape_cache.setdefault(init_fn, {})[call] = shapes
  return shapes


class Variable:
  """A handle to one variable of a scope: read and write ``.value``."""

  def __init__(self, scope: Scope, collection: str, name: str):
    self.scope, self.collection, self.name = scope, collection, name

  @property
  def value(self):
    return self.scope.get_variable(self.collection, self.name)

  @value.setter
  def value(self, v):
    self.scope.put_variable(self.collection, self.name, v)

  def is_mutable(self) -> bool:
    return self.scope.is_mutable_collection(self.collection)

  def __repr__(self):
    return f"Variable({self.collection}{self.scope.path_text}/{self.name})"


# -- the module context ------------------------------------------------------

class _Context(threading.local):
  def __init__(self):
    self.module_stack: list = [None]


_context = _Context()


class _Unspecified:
  def __repr__(self):
    return "_unspecified_parent"


_unspecified_parent = _Unspecified()


def compact(fun: Callable) -> Callable:
  """Marks the one method of a module that may define submodules and
  variables inline (``nn.Dense(3)(x)``, ``self.param(...)``)."""
  fun.compact = True
  return fun


def nowrap(fun: Callable) -> Callable:
  """Marks a method that is not run in the module's context (a helper)."""
  fun.nowrap = True
  return fun


def merge_param(name: str, a, b):
  """The one of attribute ``a`` and call argument ``b`` that is not None."""
  if a is None and b is None:
    raise ValueError(f"parameter {name!r} must be given either as a module attribute or "
                     f"as a call argument")
  if a is not None and b is not None:
    raise ValueError(f"parameter {name!r} was given both as a module attribute and as a "
                     f"call argument; give it once")
  return a if a is not None else b


class _ModuleState:
  def __init__(self):
    self.in_setup = False
    self.setup_called = False
    self.in_compact = False
    self.autoname_cursor: dict = {}


_RESERVED = {"setup", "__call__"}
_NOT_WRAPPED = {"param", "variable", "make_rng", "init", "apply", "init_with_output", "bind",
                "clone", "is_initializing", "has_rng", "has_variable", "get_variable",
                "put_variable", "is_mutable_collection", "sow", "variables", "path"}


def _map_modules(fn, value, name):
  """Applies ``fn(module, name)`` to the modules in an attribute value (a
  module, or a list/tuple/dict holding modules), naming them like Flax."""
  if isinstance(value, Module):
    return fn(value, name)
  if isinstance(value, (list, tuple)) and any(isinstance(v, Module) for v in value):
    return type(value)(_map_modules(fn, v, f"{name}_{i}") for i, v in enumerate(value))
  if isinstance(value, dict) and any(isinstance(v, Module) for v in value.values()):
    return {k: _map_modules(fn, v, f"{name}_{k}") for k, v in value.items()}
  return value


class Module:
  """Base class of every layer: subclasses are dataclasses of hyperparameters
  (see the file's docstring for the model)."""

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    own = cls.__dict__.get("__annotations__", {})
    for reserved in ("parent", "name", "scope"):
      if reserved in own:
        raise TypeError(f"{cls.__name__}: the field name {reserved!r} is reserved by Module")
    dataclasses.dataclass(cls, eq=False, repr=False)
    compact_methods = [k for k, v in cls.__dict__.items() if getattr(v, "compact", False)]
    inherited = [k for b in cls.__mro__[1:] for k, v in vars(b).items()
                 if getattr(v, "compact", False) and k not in cls.__dict__]
    if len(set(compact_methods + inherited)) > 1:
      raise TypeError(f"{cls.__name__}: only one method can be @compact, got "
                      f"{sorted(set(compact_methods + inherited))}")
    for k, v in list(cls.__dict__.items()):
      if not callable(v) or isinstance(v, (type, staticmethod, classmethod)):
        continue
      if k in _NOT_WRAPPED or getattr(v, "nowrap", False) or getattr(v, "_wrapped", False):
        continue
      if k.startswith("_") and k not in _RESERVED:
        continue
      setattr(cls, k, _wrap_method(v))

  # dataclass hooks ----------------------------------------------------------

  def __post_init__(self):
    object.__setattr__(self, "_state", _ModuleState())
    object.__setattr__(self, "scope", None)
    if self.parent is _unspecified_parent:
      object.__setattr__(self, "parent", _context.module_stack[-1])
    parent = self.parent
    if isinstance(parent, Module):
      if parent.scope is None:
        raise TypeError(f"{type(self).__name__}: cannot create a submodule of an unbound "
                        f"{type(parent).__name__}; run the parent through init/apply")
      if self.name is None:
        if parent._state.in_setup:
          return   # named (and bound) when assigned to an attribute in setup
        if not parent._state.in_compact:
          raise TypeError(
              f"{type(self).__name__}: submodules must be created in setup() or in a "
              f"@compact method (or be given a name=)")
        prefix = type(self).__name__
        i = parent._state.autoname_cursor.get(prefix, 0)
        parent._state.autoname_cursor[prefix] = i + 1
        object.__setattr__(self, "name", f"{prefix}_{i}")
      object.__setattr__(self, "scope", parent.scope.push(self.name))

  def __setattr__(self, name, value):
    state = self.__dict__.get("_state")
    if state is None:
      object.__setattr__(self, name, value)
      return
    if not state.in_setup:
      raise AttributeError(f"{type(self).__name__}: module attributes are frozen; assign "
                           f"{name!r} in setup()")
    object.__setattr__(self, name, self._adopt(name, value))

  def __getattr__(self, name):
    # Attributes assigned in setup exist only once setup ran (lazily, as in Flax).
    state = self.__dict__.get("_state")
    if state is not None and self.__dict__.get("scope") is not None and not state.setup_called:
      self._try_setup()
      if name in self.__dict__:
        return self.__dict__[name]
    raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

  def __repr__(self):
    fields = [f for f in dataclasses.fields(self) if f.name not in ("parent", "name")]
    parts = [f"{f.name}={getattr(self, f.name)!r}" for f in fields]
    if self.name is not None:
      parts.append(f"name={self.name!r}")
    return f"{type(self).__name__}({', '.join(parts)})"

  # binding ------------------------------------------------------------------

  def _adopt(self, attr: str, value):
    """Binds the submodules held in attribute ``attr`` to this module."""
    def adopt(m, name):
      if m.parent is None:   # an outside module (a field value): bind a copy
        cache = self.scope.root.adopted
        if id(m) in cache:
          return cache[id(m)][1]
        clone = m.clone(parent=self, name=name)
        cache[id(m)] = (m, clone)
        return clone
      if m.parent is self and m.scope is None and m.name is None:
        object.__setattr__(m, "name", name)
        object.__setattr__(m, "scope", self.scope.push(name))
      return m
    return _map_modules(adopt, value, attr)

  def _try_setup(self):
    state = self._state
    if self.scope is None or state.setup_called or state.in_setup:
      return
    state.setup_called = True
    for f in dataclasses.fields(self):
      if f.name not in ("parent", "name"):
        v = getattr(self, f.name)
        nv = self._adopt(f.name, v)
        if nv is not v:
          object.__setattr__(self, f.name, nv)
    self.setup()

  def setup(self):
    """Override to define submodules and variables as attributes (lazily run
    before the first method call of a bound module)."""

  def clone(self, *, parent=None, **updates) -> "Module":
    """A copy with some fields replaced (unbound unless ``parent`` is given)."""
    kw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
          if f.init and f.name not in ("parent",)}
    kw.update(updates)
    return type(self)(parent=parent, **kw)

  def _bind_root(self, variables, rngs, mutable, initializing) -> "Module":
    if rngs is None:
      rngs = {}
    elif not isinstance(rngs, Mapping):
      rngs = {"params": rngs}
    for k, v in rngs.items():
      _check_rng(k, v)
    if not isinstance(variables, Mapping):
      raise TypeError(f"{type(self).__name__}.apply: variables must be a dict such as "
                      f"{{'params': params}}, got {type(variables).__name__}")
    # Mutable collections are copied (dict nodes only): the caller's dicts never change.
    copied = {col: (_copy_dicts(v) if _in_filter(mutable, col) else v)
              for col, v in variables.items()}
    root = _Root(copied, mutable, initializing)
    module = self.clone(parent=None, name=None)
    object.__setattr__(module, "scope", Scope(root, (), {k: (v, ()) for k, v in rngs.items()}))
    return module

  # init / apply ---------------------------------------------------------------

  def _run(self, module, method, args, kwargs):
    if method is None:
      fn = module.__call__
    elif isinstance(method, str):
      fn = getattr(module, method)
    else:
      fn = functools.partial(method, module)
    return fn(*args, **kwargs)

  def init_with_output(self, rngs, *args, method=None, mutable=DenyList("intermediates"),
                       **kwargs):
    """(output, variables) of running ``method`` (default ``__call__``) while
    creating every variable."""
    module = self._bind_root({}, rngs, mutable, initializing=True)
    y = self._run(module, method, args, kwargs)
    return y, _mutable_variables(module.scope.root)

  def init(self, rngs, *args, method=None, mutable=DenyList("intermediates"), **kwargs):
    """The variables ({'params': ..., other collections}) of the model."""
    return self.init_with_output(rngs, *args, method=method, mutable=mutable, **kwargs)[1]

  def apply(self, variables, *args, rngs=None, method=None, mutable=False, **kwargs):
    """Runs ``method`` with ``variables``; returns the output, or
    ``(output, updated mutable collections)`` when ``mutable`` is given."""
    module = self._bind_root(variables, rngs, mutable, initializing=False)
    y = self._run(module, method, args, kwargs)
    if mutable is False:
      return y
    return y, _mutable_variables(module.scope.root)

  def bind(self, variables, *, rngs=None, mutable=False) -> "Module":
    """A bound copy for interactive use (``model.bind(vars).submodule(x)``)."""
    return self._bind_root(variables, rngs, mutable, initializing=False)

  # inside methods ---------------------------------------------------------------

  def _require_scope(self, what: str):
    if self.scope is None:
      raise TypeError(f"{type(self).__name__}.{what}: the module is unbound; call it "
                      f"through init/apply (or bind)")
    return self.scope

  def param(self, name: str, init_fn: Callable, *init_args, **init_kwargs):
    """The parameter ``name``: created as ``init_fn(rng, *init_args)`` during init,
    read (with a shape check) during apply."""
    scope = self._require_scope("param")
    if not self._state.in_setup and not self._state.in_compact:
      raise TypeError(f"{type(self).__name__}.param: define parameters in setup() or a "
                      f"@compact method")
    return scope.param(name, init_fn, *init_args, **init_kwargs)

  def variable(self, col: str, name: str, init_fn: Callable | None = None, *init_args,
               **init_kwargs) -> Variable:
    """A variable of collection ``col`` (created with ``init_fn(*init_args)``)."""
    scope = self._require_scope("variable")
    if init_fn is None:
      def init_fn(*_a, **_k):
        raise ScopeParamNotFoundError(f"variable {name!r} of {col!r} has no init_fn")
    return scope.variable(col, name, init_fn, *init_args, **init_kwargs)

  def make_rng(self, name: str = "params"):
    """A fresh key of stream ``name`` (each call in a module gives a new one)."""
    return self._require_scope("make_rng").make_rng(name)

  def has_rng(self, name: str) -> bool:
    return self._require_scope("has_rng").has_rng(name)

  def is_initializing(self) -> bool:
    return self._require_scope("is_initializing").root.initializing

  def is_mutable_collection(self, col: str) -> bool:
    return self._require_scope("is_mutable_collection").is_mutable_collection(col)

  def has_variable(self, col: str, name: str) -> bool:
    return self._require_scope("has_variable").has_variable(col, name)

  def get_variable(self, col: str, name: str, default=None):
    return self._require_scope("get_variable").get_variable(col, name, default)

  def put_variable(self, col: str, name: str, value):
    self._require_scope("put_variable").put_variable(col, name, value)

  def sow(self, col: str, name: str, value, reduce_fn=lambda xs, x: xs + (x,),
          init_fn=lambda: ()) -> bool:
    """Appends ``value`` to variable ``name`` of ``col`` when ``col`` is mutable."""
    scope = self._require_scope("sow")
    if not scope.is_mutable_collection(col):
      return False
    prev = scope.get_variable(col, name, None)
    scope.put_variable(col, name, reduce_fn(init_fn() if prev is None else prev, value))
    return True

  @property
  def variables(self) -> dict:
    """This module's variables, by collection."""
    scope = self._require_scope("variables")
    return {col: scope.collection(col) for col in scope.root.variables
            if scope.collection(col)}

  @property
  def path(self) -> tuple:
    return self._require_scope("path").path


# parent and name are keyword-only fields of every module (after the subclass's own).
Module.__annotations__ = {"parent": Any, "name": Any}
Module.parent = dataclasses.field(default=_unspecified_parent, kw_only=True, repr=False)
Module.name = dataclasses.field(default=None, kw_only=True)
dataclasses.dataclass(Module, eq=False, repr=False)


def _wrap_method(fun):
  @functools.wraps(fun)
  def wrapped(self, *args, **kwargs):
    return _call_wrapped_method(self, fun, args, kwargs)
  wrapped._wrapped = True
  if getattr(fun, "compact", False):
    wrapped.compact = True
  return wrapped


def _call_wrapped_method(self: Module, fun, args, kwargs):
  state = self._state
  is_setup = fun.__name__ == "setup"
  is_compact = getattr(fun, "compact", False)
  if is_setup:
    recurrent = state.in_setup
    state.in_setup = True
  else:
    self._try_setup()
  if is_compact:
    if self.scope is None:
      raise TypeError(f"{type(self).__name__}: cannot call a @compact method of an unbound "
                      f"module; use model.init(rng, x) / model.apply(variables, x)")
    recurrent = state.in_compact
    state.in_compact = True
  _context.module_stack.append(self)
  try:
    return fun(self, *args, **kwargs)
  finally:
    _context.module_stack.pop()
    if is_compact:
      object.__setattr__(self, "scope", self.scope.rewound())
    if (is_compact or is_setup) and not recurrent:
      if is_setup:
        state.in_setup = False
      else:
        state.in_compact = False
        state.autoname_cursor = {}


def _copy_dicts(x):
  return {k: _copy_dicts(v) for k, v in x.items()} if isinstance(x, Mapping) else x


def _mutable_variables(root: _Root) -> dict:
  return {col: v for col, v in root.variables.items() if _in_filter(root.mutable, col)}


def init(fn: Callable, module: Module, mutable=DenyList("intermediates")):
  """``nn.init(fn, module)``: a function ``(rngs, *args)`` that runs
  ``fn(module, *args)`` bound, returning the variables."""
  def wrapper(rngs, *args, **kwargs):
    return module.init(rngs, *args, method=fn, mutable=mutable, **kwargs)
  return wrapper


def apply(fn: Callable, module: Module, mutable=False):
  """``nn.apply(fn, module)``: a function ``(variables, *args, rngs=)`` that runs
  ``fn(module, *args)`` bound to ``variables``."""
  def wrapper(variables, *args, rngs=None, **kwargs):
    return module.apply(variables, *args, rngs=rngs, method=fn, mutable=mutable, **kwargs)
  return wrapper
