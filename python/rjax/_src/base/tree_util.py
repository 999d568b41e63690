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
import operator
from typing import Any, Callable, Hashable, Iterable, NamedTuple, Sequence, Tuple, TypeVar


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
  register_pytree_node(cls, operator.methodcaller("tree_flatten"), cls.tree_unflatten)
  return cls


def register_pytree_with_keys_class(cls: type) -> type:
  """Class decorator: ``cls.tree_flatten_with_keys()`` (pairs of key and
  child, and aux data), ``cls.tree_unflatten(aux, children)`` and optionally
  ``cls.tree_flatten()``."""
  flatten = operator.methodcaller("tree_flatten") if hasattr(cls, "tree_flatten") else None
  register_pytree_with_keys(cls, operator.methodcaller("tree_flatten_with_keys"),
                            cls.tree_unflatten, flatten)
  return cls


def register_static(cls: type) -> type:
  """Registers ``cls`` as a pytree node with no children whose aux data is
  the instance itself: transformations treat its instances as static (they
  must be hashable)."""
  register_pytree_with_keys(cls, lambda obj: ((), obj), lambda obj, _: obj)
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


def _sorted_keys(d) -> tuple:
  try:
    return tuple(sorted(d))
  except TypeError as e:
    raise ValueError(f"Comparator raised exception while sorting pytree dictionary keys: "
                     f"{e}; the keys {list(d)!r} cannot be ordered against each other") from e


def _dict_flatten(d):
  keys = _sorted_keys(d)
  return [d[k] for k in keys], keys


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


def _is_namedtuple_type(t) -> bool:
  return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields") \
      and t is not tuple


_namedtuple_entries: dict[type, _NodeType] = {}


def _node_of(x) -> _NodeType | None:
  """The registry entry of ``x``'s type; None for a leaf."""
  t = type(x)
  nt = _registry.get(t)
  if nt is not None:
    return nt
  nt = _namedtuple_entries.get(t)
  if nt is None and _is_namedtuple_type(t):
    nt = _NodeType(lambda n: (list(n), None), lambda _, c, t=t: t(*c),
                   lambda n, aux: [GetAttrKey(f) for f in type(n)._fields])
    _namedtuple_entries[t] = nt
  return nt


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


def _simple_entrystr(key) -> str:
  for attr in ("idx", "key", "name"):
    if isinstance(key, (SequenceKey, DictKey, GetAttrKey, FlattenedIndexKey)) and \
        hasattr(key, attr):
      return str(getattr(key, attr))
  return str(key)


def keystr(keys: Sequence[Any], *, simple: bool = False, separator: str = "") -> str:
  """A key path as a string: ``"['a'][0].x"``; with ``simple``, the bare
  keys (``"a/0/x"`` with ``separator='/'``)."""
  return separator.join((_simple_entrystr if simple else str)(k) for k in keys)


# ---------------------------------------------------------------------------
# PyTreeDef: the nodes in post-order (as JAX's C++ PyTreeDef keeps them), so
# that flattening, unflattening, comparing and printing never recurse and a
# tree nested thousands deep works.

KeyEntry = TypeVar("KeyEntry", bound=Any)
KeyLeafPair = Tuple[KeyEntry, Any]
KeyPath = Tuple[KeyEntry, ...]


class _Node:
  """One node of a treedef: ``entry`` is None for a leaf."""

  __slots__ = ("entry", "pytype", "aux", "arity", "num_leaves", "num_nodes")

  def __init__(self, entry, pytype, aux, arity, num_leaves, num_nodes):
    self.entry, self.pytype, self.aux = entry, pytype, aux
    self.arity, self.num_leaves, self.num_nodes = arity, num_leaves, num_nodes

  def same(self, other) -> bool:
    return (self.pytype is other.pytype and self.arity == other.arity
            and _aux_equal(self.aux, other.aux))


def _aux_equal(a, b) -> bool:
  if a is b:
    return True
  try:
    return bool(a == b)
  except Exception:  # e.g. an array in aux data: compare by identity only
    return False


_LEAF_NODE = _Node(None, None, None, 0, 1, 1)


class PyTreeDef:
  """The structure of a pytree: its nodes' types, aux data and arities."""

  __slots__ = ("_nodes", "_k")

  def __init__(self, nodes: Sequence[_Node]):
    self._nodes = tuple(nodes)
    self._k = None

  def _key(self) -> tuple:
    """The structure as one flat tuple (compared and hashed in C)."""
    k = self._k
    if k is None:
      k = self._k = tuple((n.pytype, n.arity, n.aux) for n in self._nodes)
    return k

  @property
  def num_leaves(self) -> int:
    return self._nodes[-1].num_leaves if self._nodes else 0

  @property
  def num_nodes(self) -> int:
    return len(self._nodes)

  def _child_ranges(self, end: int) -> list[tuple[int, int]]:
    """The ``[start, stop)`` node ranges of node ``end``'s children, in order."""
    out = []
    j = end - 1
    for _ in range(self._nodes[end].arity):
      m = self._nodes[j].num_nodes
      out.append((j - m + 1, j + 1))
      j -= m
    out.reverse()
    return out

  def children(self) -> list["PyTreeDef"]:
    """The treedefs of the root's children (``[]`` for a leaf)."""
    if not self._nodes:
      return []
    return [PyTreeDef(self._nodes[a:b]) for a, b in self._child_ranges(len(self._nodes) - 1)]

  @property
  def num_children(self) -> int:
    return self._nodes[-1].arity if self._nodes else 0

  def node_data(self):
    """``(type, aux_data)`` of the root node; None for a leaf."""
    root = self._nodes[-1]
    return None if root.entry is None else (root.pytype, root.aux)

  def unflatten(self, leaves: Iterable[Any]) -> Any:
    leaves = list(leaves)
    if len(leaves) != self.num_leaves:
      raise ValueError(f"Too {'few' if len(leaves) < self.num_leaves else 'many'} leaves for "
                       f"PyTreeDef; expected {self.num_leaves}, got {len(leaves)}.")
    it = iter(leaves)
    vals: list = []
    for n in self._nodes:
      if n.entry is None:
        vals.append(next(it))
      elif n.arity == 0:
        vals.append(n.entry.from_iter(n.aux, []))
      else:
        children = vals[-n.arity:]
        del vals[-n.arity:]
        vals.append(n.entry.from_iter(n.aux, children))
    return vals[0]

  def flatten_up_to(self, tree: Any) -> list:
    """The subtrees of ``tree`` at this structure's leaves (``ValueError``
    where ``tree`` does not have this structure above them)."""
    out: list = []
    stack = [(len(self._nodes) - 1, tree, ())]
    while stack:
      i, sub, path = stack.pop()
      n = self._nodes[i]
      if n.entry is None:
        out.append(sub)
        continue
      where = keystr(path) or "the root"
      if type(sub) is not n.pytype:
        raise ValueError(f"pytree structure mismatch at {where}: expected a "
                         f"{n.pytype.__name__} node, got {type(sub).__name__}: {_short(sub)}")
      entry = _node_of(sub)
      children, aux = entry.to_iter(sub)
      children = list(children)
      if len(children) != n.arity:
        raise ValueError(f"pytree structure mismatch at {where}: {n.pytype.__name__} arity "
                         f"mismatch: {len(children)} != {n.arity}; {_short(sub)}")
      if not _aux_equal(aux, n.aux):
        raise ValueError(f"pytree structure mismatch at {where}: {n.pytype.__name__} node "
                         f"data mismatch: expected {n.aux!r}, got {aux!r}")
      keys = _child_keys(entry, sub, aux, len(children))
      for (a, b), c, k in reversed(list(zip(self._child_ranges(i), children, keys))):
        stack.append((b - 1, c, path + (k,)))
    return out

  def compose(self, inner: "PyTreeDef") -> "PyTreeDef":
    """This structure with ``inner`` at each of its leaves."""
    nodes: list = []
    counts: list = []   # (leaves, nodes) of finished subtrees, as a stack
    for n in self._nodes:
      if n.entry is None:
        nodes.extend(inner._nodes)
        counts.append((inner.num_leaves, inner.num_nodes))
        continue
      kids = counts[len(counts) - n.arity:] if n.arity else []
      del counts[len(counts) - n.arity:]
      nl, nn = sum(k[0] for k in kids), 1 + sum(k[1] for k in kids)
      nodes.append(_Node(n.entry, n.pytype, n.aux, n.arity, nl, nn))
      counts.append((nl, nn))
    return PyTreeDef(nodes)

  def __eq__(self, other):
    if self is other:
      return True
    if not isinstance(other, PyTreeDef) or len(self._nodes) != len(other._nodes):
      return False
    try:
      return bool(self._key() == other._key())
    except Exception:  # aux data that does not compare (arrays): node by node
      return all(a.same(b) for a, b in zip(self._nodes, other._nodes))

  def __ne__(self, other):
    return not self == other

  def __hash__(self):
    try:
      return hash(self._key())
    except TypeError:   # unhashable aux data: hash the rest
      return hash(tuple((n.pytype, n.arity) for n in self._nodes))

  def __repr__(self):
    return f"PyTreeDef({self._str()})"

  def _str(self) -> str:
    strs: list = []
    for n in self._nodes:
      if n.entry is None:
        strs.append("*")
        continue
      ch = strs[len(strs) - n.arity:] if n.arity else []
      del strs[len(strs) - n.arity:]
      t = n.pytype
      if t is tuple:
        s = "(" + ", ".join(ch) + ("," if len(ch) == 1 else "") + ")"
      elif t is list:
        s = "[" + ", ".join(ch) + "]"
      elif t is dict:
        s = "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(n.aux, ch)) + "}"
      elif t is type(None):
        s = "None"
      elif _is_namedtuple_type(t):
        s = f"CustomNode(namedtuple[{t.__name__}], [{', '.join(ch)}])"
      else:
        s = f"CustomNode({t.__name__}[{n.aux!r}], [{', '.join(ch)}])"
      strs.append(s)
    return strs[0] if strs else "*"


def _short(x) -> str:
  r = repr(x)
  return r if len(r) < 80 else r[:77] + "..."


def _child_keys(nt: _NodeType, node, aux, n: int) -> list:
  if nt.keys is not None:
    return list(nt.keys(node, aux))
  return [FlattenedIndexKey(i) for i in range(n)]


_LEAF = PyTreeDef([_LEAF_NODE])


_MAX_DEPTH = 200_000


def _flatten(tree, is_leaf, leaves, paths=None, is_leaf_takes_path=False) -> PyTreeDef:
  """Post-order nodes of ``tree``, appending its leaves (and their key paths
  when ``paths`` is a list) in order, with an explicit stack."""
  nodes: list = []
  close = object()
  stack: list = [(tree, (), 0)]
  while stack:
    item = stack.pop()
    if item[0] is close:
      _, entry, pytype, aux, arity, l0, n0 = item
      nodes.append(_Node(entry, pytype, aux, arity, len(leaves) - l0, len(nodes) - n0 + 1))
      continue
    x, path, depth = item
    if depth > _MAX_DEPTH:
      # (a container that holds itself would otherwise be walked forever)
      raise RecursionError(f"pytree deeper than {_MAX_DEPTH} levels (does it contain itself?)")
    stop = False
    if is_leaf is not None:
      stop = is_leaf(path, x) if is_leaf_takes_path else is_leaf(x)
    entry = None if stop else _node_of(x)
    if entry is None:
      leaves.append(x)
      if paths is not None:
        paths.append(path)
      nodes.append(_LEAF_NODE)
      continue
    children, aux = entry.to_iter(x)
    children = list(children)
    stack.append((close, entry, type(x), aux, len(children), len(leaves), len(nodes)))
    if paths is not None:
      keys = _child_keys(entry, x, aux, len(children))
      stack.extend((c, path + (k,), depth + 1)
                   for c, k in zip(reversed(children), reversed(keys)))
    else:
      stack.extend((c, (), depth + 1) for c in reversed(children))
  return PyTreeDef(nodes)


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
  """Alias of :func:`rjax.tree.flatten`: the leaves (left to right) and the structure."""
  leaves: list = []
  treedef = _flatten(tree, is_leaf, leaves)
  return leaves, treedef


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
  return treedef.unflatten(leaves)


def flatten_fun(fun: Callable, in_tree: PyTreeDef, box: list) -> Callable:
  """``fun(*args, **kwargs)`` as a function of the leaves of ``(args,
  kwargs)`` (structure ``in_tree``) that returns its output's leaves and
  appends the output's structure to ``box`` (read it after tracing)."""
  def flat(*leaves):
    args, kwargs = tree_unflatten(in_tree, list(leaves))
    out_leaves, out_tree = tree_flatten(fun(*args, **kwargs))
    box.append(out_tree)
    return out_leaves
  return flat


def tree_leaves(tree: Any, is_leaf=None) -> list:
  return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf=None) -> PyTreeDef:
  return tree_flatten(tree, is_leaf)[1]


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
  """True for a treedef of one node (a leaf, or an empty node such as None)."""
  return treedef.num_nodes == 1


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
  """The treedef of a tuple whose children have ``treedefs``."""
  treedefs = list(treedefs)
  nodes = [n for t in treedefs for n in t._nodes]
  nodes.append(_Node(_registry[tuple], tuple, None, len(treedefs),
                     sum(t.num_leaves for t in treedefs), 1 + len(nodes)))
  return PyTreeDef(nodes)


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
  """The treedefs of ``treedef``'s immediate children."""
  return treedef.children()


def all_leaves(iterable: Iterable[Any], is_leaf=None) -> bool:
  """True when every element of ``iterable`` is a leaf."""
  items = list(iterable)
  if is_leaf is None:
    return all(_node_of(x) is None for x in items)
  leaves = tree_leaves(items, is_leaf)
  return len(leaves) == len(items) and all(a is b for a, b in zip(items, leaves))


def is_tree_node(typ: type) -> bool:
  """True for a registered pytree node type (built in or custom) or a namedtuple type."""
  return typ in _registry or _is_namedtuple_type(typ)


def flatten_one_level(tree: Any) -> tuple[Iterable[Any], Hashable]:
  """The children and aux data of a pytree node (``ValueError`` for a leaf)."""
  entry = _node_of(tree)
  if entry is None:
    raise ValueError(f"can't tree-flatten type: {type(tree)}")
  children, aux = entry.to_iter(tree)
  if _is_namedtuple_type(type(tree)):
    aux = type(tree)   # JAX's metadata for a namedtuple node is its type
  return tuple(children), aux


def flatten_one_level_with_keys(tree: Any) -> tuple[Iterable[KeyLeafPair], Hashable]:
  """Like :func:`flatten_one_level`, with each child paired with its key."""
  entry = _node_of(tree)
  if entry is None:
    raise ValueError(f"can't tree-flatten type: {type(tree)}")
  children, aux = entry.to_iter(tree)
  children = list(children)
  keyed = tuple(zip(_child_keys(entry, tree, aux, len(children)), children))
  return keyed, (type(tree) if _is_namedtuple_type(type(tree)) else aux)


def tree_map(f: Callable, tree: Any, *rest: Any, is_leaf=None) -> Any:
  """Apply ``f`` to the leaves of ``tree`` (and the matching subtrees of ``rest``)."""
  leaves, treedef = tree_flatten(tree, is_leaf)
  all_leaves_ = [leaves] + [treedef.flatten_up_to(r) for r in rest]
  return treedef.unflatten(f(*xs) for xs in zip(*all_leaves_))


def tree_flatten_with_path(tree: Any, is_leaf=None, is_leaf_takes_path: bool = False
                           ) -> tuple[list, PyTreeDef]:
  """Like :func:`tree_flatten`, with each leaf paired with its key path."""
  leaves: list = []
  paths: list = []
  treedef = _flatten(tree, is_leaf, leaves, paths, is_leaf_takes_path)
  return list(zip(paths, leaves)), treedef


def tree_leaves_with_path(tree: Any, is_leaf=None, is_leaf_takes_path: bool = False) -> list:
  return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(f: Callable, tree: Any, *rest: Any, is_leaf=None,
                       is_leaf_takes_path: bool = False) -> Any:
  """Like :func:`tree_map`, but ``f(key_path, leaf, *others)``."""
  kls, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
  rests = [treedef.flatten_up_to(r) for r in rest]
  return treedef.unflatten(f(kp, x, *xs) for (kp, x), *xs in zip(kls, *rests))


class Unspecified:
  """The default of an optional reduction argument."""


def tree_reduce(function: Callable, tree: Any, initializer: Any = Unspecified(),
                is_leaf=None) -> Any:
  leaves = tree_leaves(tree, is_leaf)
  if isinstance(initializer, Unspecified):
    return functools.reduce(function, leaves)
  return functools.reduce(function, leaves, initializer)


def tree_reduce_associative(operation: Callable, tree: Any, *, identity: Any = Unspecified(),
                            is_leaf=None) -> Any:
  """Reduces the leaves with an associative ``operation`` as a balanced tree
  (halves, recursively: ``op(reduce(left half), reduce(right half))``)."""
  seq = tree_leaves(tree, is_leaf)
  if not seq:
    if isinstance(identity, Unspecified):
      raise TypeError("Must specify identity for parallel reduction of empty sequence.")
    return identity

  def reduce(lo, hi):
    if hi - lo == 1:
      return seq[lo]
    mid = lo + (hi - lo) // 2
    return operation(reduce(lo, mid), reduce(mid, hi))
  return reduce(0, len(seq))


def tree_all(tree: Any, *, is_leaf=None) -> bool:
  return all(tree_leaves(tree, is_leaf))


def tree_broadcast(prefix_tree: Any, full_tree: Any, is_leaf=None) -> Any:
  """``full_tree``'s structure with each leaf of ``prefix_tree`` (a prefix of
  it) repeated over the matching subtree."""
  prefix_leaves, prefix_def = tree_flatten(prefix_tree, is_leaf)
  subtrees = prefix_def.flatten_up_to(full_tree)
  out = []
  for x, sub in zip(prefix_leaves, subtrees):
    out.extend([x] * tree_structure(sub).num_leaves)
  return tree_structure(full_tree).unflatten(out)


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
  """Turn a tree of structure outer(inner(leaves)) into inner(outer(leaves))."""
  flat, treedef = tree_flatten(pytree_to_transpose)
  if inner_treedef is None:
    inner_treedef = tree_structure(outer_treedef.flatten_up_to(pytree_to_transpose)[0])
  inner_size, outer_size = inner_treedef.num_leaves, outer_treedef.num_leaves
  if treedef.num_leaves != inner_size * outer_size:
    raise TypeError(f"Mismatch\n{treedef}\n != \n{outer_treedef.compose(inner_treedef)}")
  subtrees = [inner_treedef.flatten_up_to(s)
              for s in outer_treedef.flatten_up_to(pytree_to_transpose)]
  transposed = [outer_treedef.unflatten([subtrees[o][i] for o in range(outer_size)])
                for i in range(inner_size)]
  return inner_treedef.unflatten(transposed)


class PyTreeRegistry:
  """The registry of pytree node types (``jax.tree_util.default_registry``)."""

  def flatten(self, tree, leaf_predicate=None):
    return tree_flatten(tree, leaf_predicate)

  def flatten_one_level(self, tree):
    return None if _node_of(tree) is None else flatten_one_level(tree)

  def flatten_one_level_with_keys(self, tree):
    return None if _node_of(tree) is None else flatten_one_level_with_keys(tree)

  def flatten_with_path(self, tree, leaf_predicate=None):
    leaves: list = []
    paths: list = []
    treedef = _flatten(tree, leaf_predicate, leaves, paths, True)
    return list(zip(paths, leaves)), treedef

  def is_node(self, typ) -> bool:
    return is_tree_node(typ)

  def register_node(self, type_, to_iterable, from_iterable, to_iterable_with_keys=None):
    register_pytree_node(type_, to_iterable, from_iterable, to_iterable_with_keys)


default_registry = PyTreeRegistry()


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


def static(**kwargs):
  """A ``dataclasses.field`` marked static (``metadata={'static': True}``),
  for :func:`register_dataclass`."""
  metadata = {"static": True, **(kwargs.pop("metadata", None) or {})}
  return dataclasses.field(metadata=metadata, **kwargs)
