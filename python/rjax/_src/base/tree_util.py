"""Pytrees: nested containers whose leaves are arrays (JAX's ``tree_util``).

Containers: tuple, list, dict (sorted keys), None (no leaves), namedtuple,
OrderedDict and defaultdict (insertion order), dataclasses registered with
:func:`register_dataclass`, and any type registered with
:func:`register_pytree_node` / :func:`register_pytree_node_class`.
Every transformation accepts and returns pytrees.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, Callable, Iterable, NamedTuple, Sequence


class _NodeType(NamedTuple):
  to_iter: Callable        # node -> (children, aux)
  from_iter: Callable      # (aux, children) -> node
  keys: Callable | None    # (node, aux) -> list of keys (for key paths)


_registry: dict[type, _NodeType] = {}


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                         flatten_with_keys_func: Callable | None = None) -> None:
  """Register ``nodetype``: ``flatten_func(x) -> (children, aux)``,
  ``unflatten_func(aux, children) -> x``."""
  if nodetype in _registry:
    raise ValueError(f"Duplicate custom PyTreeDef type registration for {nodetype}.")
  keys = None
  if flatten_with_keys_func is not None:
    keys = lambda node, aux: [k for k, _ in flatten_with_keys_func(node)[0]]
  _registry[nodetype] = _NodeType(flatten_func, unflatten_func, keys)


def register_pytree_with_keys(nodetype, flatten_with_keys, unflatten_func, flatten_func=None):
  if flatten_func is None:
    def flatten_func(x):
      kc, aux = flatten_with_keys(x)
      return [c for _, c in kc], aux
  register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_node_class(cls: type) -> type:
  """Class decorator: ``cls.tree_flatten()`` and ``cls.tree_unflatten(aux, children)``."""
  register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
  return cls


def register_dataclass(nodetype: type, data_fields: Sequence[str] | None = None,
                       meta_fields: Sequence[str] | None = None, drop_fields: Sequence[str] = ()):
  """Register a dataclass: ``data_fields`` are children, ``meta_fields`` static."""
  if data_fields is None or meta_fields is None:
    if not dataclasses.is_dataclass(nodetype):
      raise TypeError("register_dataclass: data_fields and meta_fields are required for a "
                      "class that is not a dataclass")
    fields = [f for f in dataclasses.fields(nodetype) if f.name not in drop_fields]
    meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
  data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)

  def flatten(x):
    return [getattr(x, n) for n in data_fields], tuple(getattr(x, n) for n in meta_fields)

  def unflatten(aux, children):
    kw = dict(zip(data_fields, children))
    kw.update(zip(meta_fields, aux))
    obj = object.__new__(nodetype)
    for k, v in kw.items():
      object.__setattr__(obj, k, v)
    return obj

  def flatten_keys(x):
    return [(GetAttrKey(n), getattr(x, n)) for n in data_fields], \
        tuple(getattr(x, n) for n in meta_fields)

  register_pytree_node(nodetype, flatten, unflatten, flatten_keys)
  return nodetype


def _dict_flatten(d):
  keys = sorted(d.keys(), key=_sort_key)
  return [d[k] for k in keys], tuple(keys)


def _sort_key(k):
  return (type(k).__name__, k) if not isinstance(k, (int, float, str)) else \
      (0 if isinstance(k, (int, float)) else 1, k)


register_pytree_node(tuple, lambda t: (list(t), None), lambda _, c: tuple(c),
                     lambda t: ([(SequenceKey(i), v) for i, v in enumerate(t)], None))
register_pytree_node(list, lambda t: (list(t), None), lambda _, c: list(c),
                     lambda t: ([(SequenceKey(i), v) for i, v in enumerate(t)], None))
register_pytree_node(dict, _dict_flatten, lambda keys, c: dict(zip(keys, c)),
                     lambda d: ([(DictKey(k), d[k]) for k in _dict_flatten(d)[1]],
                                _dict_flatten(d)[1]))
register_pytree_node(type(None), lambda _: ([], None), lambda _, c: None, lambda _: ([], None))
register_pytree_node(
    collections.OrderedDict, lambda d: (list(d.values()), tuple(d.keys())),
    lambda keys, c: collections.OrderedDict(zip(keys, c)),
    lambda d: ([(DictKey(k), v) for k, v in d.items()], tuple(d.keys())))
register_pytree_node(
    collections.defaultdict,
    lambda d: ([d[k] for k in _dict_flatten(d)[1]], (d.default_factory, _dict_flatten(d)[1])),
    lambda aux, c: collections.defaultdict(aux[0], zip(aux[1], c)),
    lambda d: ([(DictKey(k), d[k]) for k in _dict_flatten(d)[1]],
               (d.default_factory, _dict_flatten(d)[1])))


def _is_namedtuple(x) -> bool:
  return isinstance(x, tuple) and hasattr(type(x), "_fields") and type(x) is not tuple


def _node_of(x) -> _NodeType | None:
  t = type(x)
  nt = _registry.get(t)
  if nt is not None:
    return nt
  if _is_namedtuple(x):
    return _NodeType(lambda n: (list(n), None), lambda _, c, t=t: t(*c),
                     lambda n, aux: [GetAttrKey(f) for f in type(n)._fields])
  return None


# ---------------------------------------------------------------------------
# Key paths


@dataclasses.dataclass(frozen=True)
class SequenceKey:
  idx: int

  def __str__(self):
    return f"[{self.idx}]"


@dataclasses.dataclass(frozen=True)
class DictKey:
  key: Any

  def __str__(self):
    return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
  name: str

  def __str__(self):
    return f".{self.name}"


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
  key: int

  def __str__(self):
    return f"[<flat index {self.key}>]"


def keystr(keys: Sequence[Any]) -> str:
  return "".join(str(k) for k in keys)


# ---------------------------------------------------------------------------
# PyTreeDef


class PyTreeDef:
  """The structure of a pytree: node type, aux data and child structures."""

  __slots__ = ("node_type", "pytype", "aux", "children", "num_leaves", "num_nodes")

  def __init__(self, node_type, pytype, aux, children: tuple):
    self.node_type = node_type      # _NodeType, or None for a leaf
    self.pytype = pytype
    self.aux = aux
    self.children = children
    self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in children)
    self.num_nodes = 1 + sum(c.num_nodes for c in children)

  def unflatten(self, leaves: Iterable[Any]) -> Any:
    leaves = list(leaves)
    if len(leaves) != self.num_leaves:
      raise ValueError(f"Too {'few' if len(leaves) < self.num_leaves else 'many'} leaves for "
                       f"PyTreeDef; expected {self.num_leaves}, got {len(leaves)}.")
    it = iter(leaves)
    return self._build(it)

  def _build(self, it):
    if self.node_type is None:
      return next(it)
    return self.node_type.from_iter(self.aux, [c._build(it) for c in self.children])

  def flatten_up_to(self, tree: Any) -> list:
    """The subtrees of ``tree`` at this structure's leaves."""
    out: list = []
    self._flatten_up_to(tree, out, ())
    return out

  def _flatten_up_to(self, tree, out, path):
    if self.node_type is None:
      out.append(tree)
      return
    nt = _node_of(tree)
    if nt is None or type(tree) is not self.pytype and not (
        _is_namedtuple(tree) and type(tree) is self.pytype):
      raise ValueError(
          f"pytree structure mismatch at {keystr(path) or 'the root'}: expected a "
          f"{self.pytype.__name__} node, got {type(tree).__name__}: {_short(tree)}")
    children, aux = nt.to_iter(tree)
    children = list(children)
    if len(children) != len(self.children) or aux != self.aux:
      raise ValueError(
          f"pytree structure mismatch at {keystr(path) or 'the root'}: "
          f"{self.pytype.__name__} with {len(children)} children (aux {aux!r}) where the "
          f"structure has {len(self.children)} children (aux {self.aux!r})")
    keys = _child_keys(nt, tree, aux, len(children))
    for c, sub, k in zip(self.children, children, keys):
      c._flatten_up_to(sub, out, path + (k,))

  @property
  def num_children(self) -> int:
    return len(self.children)

  def node_data(self):
    return (self.pytype, self.aux) if self.node_type is not None else None

  def __eq__(self, other):
    return (isinstance(other, PyTreeDef) and self.pytype == other.pytype
            and self.aux == other.aux and self.children == other.children)

  def __hash__(self):
    try:
      return hash((self.pytype, self.aux, self.children))
    except TypeError:
      return hash((self.pytype, self.children))

  def __repr__(self):
    return f"PyTreeDef({self._str()})"

  def _str(self) -> str:
    if self.node_type is None:
      return "*"
    ch = [c._str() for c in self.children]
    if self.pytype is tuple:
      return "(" + ", ".join(ch) + ("," if len(ch) == 1 else "") + ")"
    if self.pytype is list:
      return "[" + ", ".join(ch) + "]"
    if self.pytype is dict:
      return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.aux, ch)) + "}"
    if self.pytype is type(None):
      return "None"
    return f"CustomNode({self.pytype.__name__}[{self.aux!r}], [{', '.join(ch)}])"


def _short(x) -> str:
  r = repr(x)
  return r if len(r) < 80 else r[:77] + "..."


def _child_keys(nt: _NodeType, node, aux, n: int) -> list:
  if nt.keys is not None:
    try:
      return list(nt.keys(node, aux))
    except Exception:
      pass
  return [FlattenedIndexKey(i) for i in range(n)]


_LEAF = PyTreeDef(None, None, None, ())


def _flatten(tree, is_leaf, leaves, path=None, paths=None) -> PyTreeDef:
  if is_leaf is not None and is_leaf(tree):
    leaves.append(tree)
    if paths is not None:
      paths.append(path)
    return _LEAF
  nt = _node_of(tree)
  if nt is None:
    leaves.append(tree)
    if paths is not None:
      paths.append(path)
    return _LEAF
  children, aux = nt.to_iter(tree)
  children = list(children)
  keys = _child_keys(nt, tree, aux, len(children)) if paths is not None else [None] * len(children)
  defs = tuple(_flatten(c, is_leaf, leaves, (path + (k,)) if paths is not None else None, paths)
               for c, k in zip(children, keys))
  return PyTreeDef(nt, type(tree), aux, defs)


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
  leaves: list = []
  treedef = _flatten(tree, is_leaf, leaves)
  return leaves, treedef


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
  return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf=None) -> list:
  return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf=None) -> PyTreeDef:
  return tree_flatten(tree, is_leaf)[1]


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
  return treedef.node_type is None


def all_leaves(iterable: Iterable[Any], is_leaf=None) -> bool:
  return all(treedef_is_leaf(tree_structure(x, is_leaf)) for x in iterable)


def tree_map(f: Callable, tree: Any, *rest: Any, is_leaf=None) -> Any:
  """Apply ``f`` to the leaves of ``tree`` (and the matching subtrees of ``rest``)."""
  leaves, treedef = tree_flatten(tree, is_leaf)
  all_leaves_ = [leaves] + [treedef.flatten_up_to(r) for r in rest]
  return treedef.unflatten(f(*xs) for xs in zip(*all_leaves_))


def tree_flatten_with_path(tree: Any, is_leaf=None) -> tuple[list, PyTreeDef]:
  leaves: list = []
  paths: list = []
  treedef = _flatten(tree, is_leaf, leaves, (), paths)
  return list(zip(paths, leaves)), treedef


def tree_leaves_with_path(tree: Any, is_leaf=None) -> list:
  return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(f: Callable, tree: Any, *rest: Any, is_leaf=None) -> Any:
  """Like :func:`tree_map`, but ``f(key_path, leaf, *others)``."""
  kls, treedef = tree_flatten_with_path(tree, is_leaf)
  rests = [treedef.flatten_up_to(r) for r in rest]
  return treedef.unflatten(f(kp, x, *xs) for (kp, x), *xs in zip(kls, *rests))


_NO_INIT = object()


def tree_reduce(function: Callable, tree: Any, initializer: Any = _NO_INIT, is_leaf=None) -> Any:
  leaves = tree_leaves(tree, is_leaf)
  if initializer is _NO_INIT:
    return functools.reduce(function, leaves)
  return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, is_leaf=None) -> bool:
  return all(tree_leaves(tree, is_leaf))


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
  """Turn a tree of structure outer(inner(leaves)) into inner(outer(leaves))."""
  flat, treedef = tree_flatten(pytree_to_transpose)
  if inner_treedef is None:
    inner_treedef = tree_structure(outer_treedef.flatten_up_to(pytree_to_transpose)[0])
  inner_size, outer_size = inner_treedef.num_leaves, outer_treedef.num_leaves
  if treedef.num_leaves != inner_size * outer_size:
    raise TypeError(f"tree_transpose: mismatch between {treedef} and outer {outer_treedef} / "
                    f"inner {inner_treedef} structures")
  subtrees = [inner_treedef.flatten_up_to(s) for s in outer_treedef.flatten_up_to(pytree_to_transpose)]
  transposed = [outer_treedef.unflatten([subtrees[o][i] for o in range(outer_size)])
                for i in range(inner_size)]
  return inner_treedef.unflatten(transposed)


class Partial(functools.partial):
  """A ``functools.partial`` that is a pytree: its args are leaves, the
  function is static (usable as an argument to transformed functions)."""

  def __new__(klass, func, *args, **kw):
    if isinstance(func, functools.partial):
      original = func
      func = lambda *a, **k: original(*a, **k)
      func.func = original.func
      func.args = original.args
      func.keywords = original.keywords
    return super().__new__(klass, func, *args, **kw)


register_pytree_node(
    Partial, lambda p: ((p.args, p.keywords), p.func),
    lambda func, xs: Partial(func, *xs[0], **xs[1]))
