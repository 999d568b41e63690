"""Every registered primitive has all the rules the foundation needs: abstract
eval, eager impl, a lowering to a Rust op that exists, and a NumPy reference;
and, for the transformations, a JVP rule (or a declaration that it has none),
a transpose rule where linear and a batching rule."""
import pytest

import rjax  # noqa: F401  (registers every primitive)
from rjax._rjax import supported_ops
from rjax._src import core
from rjax._src.interpreters import lowering
from rjax._src.interpreters import reference

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


# --- Transformation rules (the transformations issue) -----------------------

from rjax._src.interpreters import ad, batching  # noqa: E402
from rjax._src.lax import parallel  # noqa: E402

#: Primitives linear in (some of) their operands: each needs a transpose rule
#: for reverse mode. mul and dot_general are bilinear; div is linear in its
#: numerator; select_n in its cases; dynamic_slice/gather/scatter-add in their
#: array operands (the indices are not differentiable).
LINEAR = {"add", "sub", "neg", "add_any", "mul", "div", "convert_element_type", "reduce_sum",
          "broadcast_in_dim", "reshape", "transpose", "rev", "squeeze", "concatenate", "pad",
          "slice", "dynamic_slice", "dynamic_update_slice", "gather", "scatter-add", "cumsum",
          "select_n", "dot_general", "conv_general_dilated", "reduce_window_sum",
          "select_and_gather_add", "select_and_scatter_add"}
#: Primitives that take no operands: vmap never has anything to batch.
NO_OPERANDS = {"iota"}


@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_transformation_rules_present(prim):
  assert prim in ad.primitive_jvps or prim in ad.nondifferentiable, \
      f"{prim.name}: no JVP rule and not declared non-differentiable"
  if prim.name in LINEAR:
    assert prim in ad.primitive_transposes, f"{prim.name}: linear but no transpose rule"
  if prim.name not in NO_OPERANDS:
    assert prim in batching.primitive_batchers, f"{prim.name}: no batching rule"


@pytest.mark.parametrize("prim", parallel.COLLECTIVES, ids=lambda p: p.name)
def test_collective_rules_present(prim):
  assert prim.abstract_eval is not None
  assert prim in batching.collective_batchers, f"{prim.name}: no named-axis batching rule"
  assert prim in ad.primitive_jvps or prim in ad.nondifferentiable
  if prim.name in {"psum", "all_gather", "psum_scatter", "ppermute"}:
    assert prim in ad.primitive_transposes


def test_linear_list_names_real_primitives():
  names = {p.name for p in PRIMS}
  assert LINEAR <= names, LINEAR - names
