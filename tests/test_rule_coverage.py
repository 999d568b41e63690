"""Every registered primitive has all the rules the foundation needs: abstract
eval, eager impl, a lowering to a Rust op that exists, and a NumPy reference.
(The transformations issue extends this to JVP, transpose and batching rules.)"""
import pytest

import rjax  # noqa: F401  (registers every primitive)
from rjax._rjax import supported_ops
from rjax._src import core
from rjax._src.interpreters import lowering
from rjax._src.lax import reference

PRIMS = sorted(core.primitives.values(), key=lambda p: p.name)


def test_some_primitives_registered():
  assert len(PRIMS) >= 20


@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_rules_present(prim):
  assert prim.abstract_eval is not None, f"{prim.name}: no abstract eval"
  assert prim.impl is not None, f"{prim.name}: no impl"
  assert prim in lowering.lowerings, f"{prim.name}: no lowering"
  assert prim in reference.references, f"{prim.name}: no NumPy reference"


def test_standard_lowerings_name_rust_ops():
  ops = set(supported_ops())
  for prim in PRIMS:
    rule = lowering.lowerings.get(prim)
    # Standard lowerings say which Rust op they emit.
    op = getattr(rule, "op_name", None)
    if op is not None:
      assert op in ops, f"{prim.name}: no Rust op named '{op}'"
