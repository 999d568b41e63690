"""Pytrees: flatten/unflatten round trips over generated nested structures,
registered node types, key paths, and structure-mismatch errors."""
import collections
import dataclasses

import pytest
from hypothesis import given, strategies as st

import rjax
from rjax import tree_util as tu

Point = collections.namedtuple("Point", ["x", "y"])

leaves_st = st.one_of(st.integers(-5, 5), st.floats(-1, 1), st.text(max_size=2))
trees_st = st.recursive(
    leaves_st | st.none(),
    lambda ch: st.one_of(st.lists(ch, max_size=3), st.tuples(ch, ch),
                         st.dictionaries(st.text(max_size=2), ch, max_size=3),
                         st.builds(Point, ch, ch),
                         st.builds(collections.OrderedDict,
                                   st.lists(st.tuples(st.text(max_size=2), ch), max_size=3))),
    max_leaves=10)


@given(trees_st)
def test_roundtrip(tree):
  leaves, treedef = tu.tree_flatten(tree)
  assert tu.tree_unflatten(treedef, leaves) == tree
  assert treedef.num_leaves == len(leaves)
  assert tu.tree_structure(tree) == treedef
  # map with identity and with a second tree of the same structure
  assert tu.tree_map(lambda a: a, tree) == tree
  shifted = tu.tree_map(lambda a: [a], tree)
  assert tu.tree_leaves(tu.tree_map(lambda a, b: b, tree, shifted)) == leaves


@given(trees_st)
def test_paths_match_leaves(tree):
  kls, treedef = tu.tree_flatten_with_path(tree)
  assert [v for _, v in kls] == tu.tree_leaves(tree)
  assert treedef == tu.tree_structure(tree)
  got = tu.tree_map_with_path(lambda p, v: tu.keystr(p), tree)
  assert tu.tree_leaves(got) == [tu.keystr(p) for p, _ in kls]


def test_dict_keys_sorted_and_none_has_no_leaves():
  assert tu.tree_leaves({"b": 1, "a": 2, "c": None}) == [2, 1]
  assert tu.tree_leaves([None, (None,)]) == []
  assert str(tu.tree_structure({"b": 1, "a": (2, 3)})) == "PyTreeDef({'a': (*, *), 'b': *})"


def test_is_leaf_and_multiple_trees():
  t = {"a": (1, 2), "b": [3]}
  assert tu.tree_leaves(t, is_leaf=lambda x: isinstance(x, tuple)) == [(1, 2), 3]
  assert tu.tree_map(lambda x, y: x + y, t, {"a": (10, 20), "b": [30]}) == {"a": (11, 22), "b": [33]}
  assert tu.tree_reduce(lambda a, b: a + b, t) == 6
  assert tu.tree_reduce(lambda a, b: a + b, t, 100) == 106
  assert rjax.tree.map(lambda x: -x, [1, (2,)]) == [-1, (-2,)]


def test_mismatch_errors_name_the_place():
  with pytest.raises(ValueError, match="mismatch"):
    tu.tree_map(lambda x, y: x, {"a": 1, "b": 2}, {"a": 1, "c": 2})
  with pytest.raises(ValueError, match=r"\['a'\]"):
    tu.tree_map(lambda x, y: x, {"a": (1, 2)}, {"a": [1, 2]})
  with pytest.raises(ValueError, match="leaves"):
    tu.tree_unflatten(tu.tree_structure((1, 2)), [1])


def test_registered_types():
  @tu.register_pytree_node_class
  class Box:
    def __init__(self, v, tag):
      self.v, self.tag = v, tag

    def tree_flatten(self):
      return (self.v,), self.tag

    @classmethod
    def tree_unflatten(cls, aux, children):
      return cls(children[0], aux)

  b = tu.tree_map(lambda x: x * 2, Box([1, 2], "t"))
  assert b.v == [2, 4] and b.tag == "t"

  @dataclasses.dataclass
  class Params:
    w: object
    b: object
    name: str = dataclasses.field(default="p", metadata=dict(static=True))

  tu.register_dataclass(Params)
  p = tu.tree_map(lambda x: x + 1, Params(1, 2, "lin"))
  assert (p.w, p.b, p.name) == (2, 3, "lin")
  assert [tu.keystr(k) for k, _ in tu.tree_flatten_with_path(Params(1, 2))[0]] == [".w", ".b"]

  tu.register_pytree_node(set, lambda s: (sorted(s), None), lambda _, c: set(c))
  assert tu.tree_map(lambda x: x + 1, {1, 2}) == {2, 3}


def test_namedtuple_and_transpose():
  assert tu.tree_map(lambda v: v * 10, Point(1, 2)) == Point(10, 20)
  outer = tu.tree_structure([0, 0])
  inner = tu.tree_structure({"a": 0, "b": 0})
  t = [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
  assert tu.tree_transpose(outer, inner, t) == {"a": [1, 3], "b": [2, 4]}


def test_partial_is_a_pytree():
  f = tu.Partial(lambda a, b: a + b, 1)
  leaves, treedef = tu.tree_flatten(f)
  assert leaves == [1]
  g = tu.tree_unflatten(treedef, [5])
  assert g(2) == 7
