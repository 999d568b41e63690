"""The compiler's program passes (dead-code elimination, common-subexpression
elimination with constant deduplication, constant folding) seen through the
public API: jit results equal eager ones on random programs, and
``jit(f).lower(x).compile_stats()`` / ``.as_text()`` show the passes at work."""
import numpy as np
from hypothesis import given, settings, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import lax

N = 5

# Random programs: a list of steps over a growing list of values (x and y
# first). Each step is one op on earlier values, a constant subexpression
# built inside the function (so jit sees it as constants), or a replay of an
# earlier step (the same computation again: a common subexpression).
_UNARY = {
    "neg": lambda a: -a,
    "sin": jnp.sin,
    "tanh": jnp.tanh,
    "exp": lambda a: jnp.exp(jnp.minimum(a, 10.0)),
    "square": jnp.square,
    "centre": lambda a: a - jnp.mean(a),
}
_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "max": jnp.maximum,
    "where": lambda a, b: jnp.where(a > b, a, b * 0.5),
}
_CONSTS = {
    "two": lambda: 2.0,
    "arange": lambda: jnp.arange(N, dtype=jnp.float32),
    "ones": lambda: jnp.ones(N, jnp.float32),
    "table": lambda: jnp.asarray(np.linspace(-1, 1, N, dtype=np.float32)),
    "sin_arange": lambda: jnp.sin(jnp.arange(N, dtype=jnp.float32) * 0.5) + 1.0,
}


@st.composite
def programs(draw):
  steps = []
  for _ in range(draw(st.integers(1, 12))):
    n = 2 + len(steps)
    kind = draw(st.sampled_from(["unary", "binary", "binary", "const", "repeat"]))
    arg = st.integers(0, n - 1)
    if kind == "repeat" and steps:
      steps.append(draw(st.sampled_from(steps)))
    elif kind == "unary":
      steps.append(("unary", draw(st.sampled_from(sorted(_UNARY))), draw(arg)))
    elif kind == "binary":
      steps.append(("binary", draw(st.sampled_from(sorted(_BINARY))), draw(arg), draw(arg)))
    else:
      steps.append(("const", draw(st.sampled_from(sorted(_CONSTS)))))
  n = 2 + len(steps)
  outs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
  return steps, outs


def _make(steps, outs):
  def f(x, y):
    vals = [x, y]
    for s in steps:
      if s[0] == "unary":
        vals.append(_UNARY[s[1]](vals[s[2]]))
      elif s[0] == "binary":
        vals.append(_BINARY[s[1]](vals[s[2]], vals[s[3]]))
      else:
        vals.append(_CONSTS[s[1]]())
    # Outputs broadcast to x's shape, so Python scalars come back as arrays.
    return [vals[i] + jnp.zeros_like(x) for i in outs]
  return f


def _inputs(seed):
  rng = np.random.default_rng(seed)
  return (jnp.asarray(rng.standard_normal(N).astype(np.float32)),
          jnp.asarray(rng.standard_normal(N).astype(np.float32)))


def _check_stats(stats):
  assert stats["instrs_before"] + stats["added"] == (stats["instrs_after"] + stats["folded"] + stats["cse"]
                                    + stats["dce"])
  assert stats["consts_after"] <= stats["consts_before"] + stats["folded"]


@given(programs(), st.integers(0, 2**16))
def test_random_programs_match_eager(prog, seed):
  f = _make(*prog)
  x, y = _inputs(seed)
  want = f(x, y)
  jf = rjax.jit(f)
  got = jf(x, y)
  assert len(got) == len(want)
  for g, w in zip(got, want):
    assert g.dtype == w.dtype and g.shape == w.shape
    # The same kernels run either way (folded ones at compile time): bit-equal.
    # fusion may sum in another order (float64 accumulators): not bit-exact
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-6, atol=1e-6)
  _check_stats(jf.lower(x, y).compile_stats())


@given(programs(), st.integers(0, 2**16))
def test_random_programs_grad_match_eager(prog, seed):
  f = _make(*prog)
  loss = lambda x, y: sum(jnp.sum(o) for o in f(x, y))
  x, y = _inputs(seed)
  want = rjax.grad(loss, argnums=(0, 1))(x, y)
  jg = rjax.jit(rjax.grad(loss, argnums=(0, 1)))
  got = jg(x, y)
  for g, w in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-6, atol=1e-6)
  _check_stats(jg.lower(x, y).compile_stats())


def _count(plan: str, op: str) -> int:
  """How many times ``op`` runs in a plan, counting the ops of fused kernels."""
  n = 0
  for line in plan.splitlines():
    rhs = line.split(" = ", 1)[1].strip() if " = " in line else line.split("=")[-1].strip()
    if rhs.startswith("fused["):
      n += sum(1 for o in rhs[rhs.index(":") + 1:rhs.index("]")].split(",") if o.strip() == op)
    elif rhs.split()[:1] == [op]:
      n += 1
  return n


def _plan(lowered) -> str:
  text = lowered.as_text()
  assert "passes:" in text
  return text[text.index("passes:"):]


def test_cse_merges_a_repeated_expression():
  jf = rjax.jit(lambda x: (x * 2 + 1) + (x * 2 + 1))
  x = jnp.asarray(np.arange(4, dtype=np.float32))
  np.testing.assert_array_equal(np.asarray(jf(x)), (np.arange(4) * 2 + 1) * 2)
  low = jf.lower(x)
  stats = low.compile_stats()
  assert stats["cse"] == 2                 # the second mul and the second add
  assert stats["consts_deduped"] == 2      # the literals 2 and 1, written twice
  assert stats["instrs_after"] == stats["instrs_before"] - 2
  text = low.as_text()
  plan = _plan(low)
  assert _count(text[text.index("program("):text.index("passes:")], "mul") == 2
  assert _count(plan, "mul") == 1


def test_cse_keeps_different_params():
  jf = rjax.jit(lambda x: jnp.sum(x, axis=0) + jnp.sum(x, axis=1) + jnp.sum(x, axis=0))
  x = jnp.asarray(np.arange(9, dtype=np.float32).reshape(3, 3))
  np.testing.assert_array_equal(np.asarray(jf(x)),
                                2 * np.arange(9.).reshape(3, 3).sum(0) +
                                np.arange(9.).reshape(3, 3).sum(1))
  low = jf.lower(x)
  assert low.compile_stats()["cse"] == 1
  assert _count(_plan(low), "reduce_sum") == 2


def test_dce_drops_an_unused_expensive_branch():
  def f(x):
    unused = jnp.sum(jnp.exp(x) @ jnp.ones((N, N)))  # noqa: F841
    return x + 1
  x = jnp.asarray(np.arange(N, dtype=np.float32))
  jf = rjax.jit(f)
  np.testing.assert_array_equal(np.asarray(jf(x)), np.arange(N) + 1)
  low = jf.lower(x)
  assert "dot_general" in str(low.jaxpr())   # traced...
  plan = _plan(low)
  assert "dot_general" not in plan and "exp" not in plan   # ...but never run
  stats = low.compile_stats()
  assert stats["dce"] >= 3 and stats["instrs_after"] == 1


def test_folding_evaluates_constant_subexpressions():
  f = lambda x: x + jnp.sin(jnp.arange(N, dtype=jnp.float32) * 0.5) * 2
  x = jnp.asarray(np.linspace(0, 1, N, dtype=np.float32))
  jf = rjax.jit(f)
  np.testing.assert_array_equal(np.asarray(jf(x)), np.asarray(f(x)))
  low = jf.lower(x)
  stats = low.compile_stats()
  assert stats["folded"] >= 4            # iota, mul, sin, mul
  assert stats["instrs_after"] == 1      # the add that reads x
  plan = _plan(low)
  assert "iota" not in plan and "sin" not in plan and _count(plan, "add") == 1


def test_big_constants_are_not_folded():
  n = 100_000
  f = lambda x: x + jnp.arange(n, dtype=jnp.float32)
  x = jnp.asarray(np.ones(n, np.float32))
  jf = rjax.jit(f)
  np.testing.assert_array_equal(np.asarray(jf(x)), np.arange(n, dtype=np.float32) + 1)
  low = jf.lower(x)
  assert low.compile_stats()["folded"] == 0
  assert "iota" in _plan(low)


def test_outputs_that_are_inputs_or_constants():
  def f(x, y):
    return {"x": x, "c": jnp.ones(3) * 2, "s": x + y, "again": x, "lit": jnp.float32(3)}
  x = jnp.asarray(np.arange(3, dtype=np.float32))
  y = jnp.asarray(np.full(3, 0.5, np.float32))
  jf = rjax.jit(f)
  got = jf(x, y)
  want = f(x, y)
  for k in want:
    np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(want[k]))
  stats = jf.lower(x, y).compile_stats()
  assert stats["instrs_after"] == 1 and stats["folded"] >= 1


def test_everything_folds_away():
  jf = rjax.jit(lambda: (jnp.arange(4.0) * 3, jnp.cos(jnp.zeros(2))))
  a, b = jf()
  np.testing.assert_array_equal(np.asarray(a), np.arange(4.0, dtype=np.float32) * 3)
  np.testing.assert_array_equal(np.asarray(b), np.ones(2, np.float32))
  stats = jf.lower().compile_stats()
  assert stats["instrs_after"] == 0 and stats["folded"] == stats["instrs_before"]


def test_stats_keys_and_plan_text():
  jf = rjax.jit(lambda x: jnp.tanh(x) * 2.0)
  x = jnp.asarray(np.ones(3, np.float32))
  low = jf.lower(x)
  assert set(low.compile_stats()) == {"instrs_before", "instrs_after", "folded", "cse", "dce",
                                      "consts_before", "consts_after", "consts_deduped", "added"}
  plan = _plan(low)
  assert "plan(inputs: %0:float32[3]" in plan and "return %" in plan
  assert "= fused[2 ops: tanh, mul]" in plan


def test_constant_dedupe_respects_dtype():
  # float32 1.0 and int32 1065353216 have the same bytes but differ.
  def f(x, i):
    return x * np.float32(1.0) + 1.0, i + np.int32(1065353216) + np.int32(1065353216)
  x = jnp.asarray(np.ones(3, np.float32))
  i = jnp.asarray(np.ones(3, np.int32))
  jf = rjax.jit(f)
  got = jf(x, i)
  want = f(x, i)
  for g, w in zip(got, want):
    assert np.asarray(g).dtype == np.asarray(w).dtype
    np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
  stats = jf.lower(x, i).compile_stats()
  assert stats["consts_before"] == 4
  assert stats["consts_deduped"] == 2 and stats["consts_after"] == 2


@settings(max_examples=25, deadline=None)
@given(perm_l=st.permutations([0, 1, 2]), perm_r=st.permutations([0, 1, 2]),
       seed=st.integers(0, 1000))
def test_transposes_feeding_dot_general_are_read_in_place(perm_l, perm_r, seed):
  """dot_general(transpose(a), transpose(b)) equals NumPy, and a transpose is
  folded into the dot whenever its free dimensions stay in order."""
  rng = np.random.default_rng(seed)
  # after the transposes: lhs (batch 2, m 3, k 4), rhs (batch 2, k 4, n 5)
  lhs_t = rng.standard_normal((2, 3, 4)).astype(np.float32)
  rhs_t = rng.standard_normal((2, 4, 5)).astype(np.float32)
  inv = lambda p: list(np.argsort(p))
  a = np.ascontiguousarray(np.transpose(lhs_t, inv(perm_l)))
  b = np.ascontiguousarray(np.transpose(rhs_t, inv(perm_r)))
  dn = (((2,), (1,)), ((0,), (0,)))
  f = rjax.jit(lambda a, b: lax.dot_general(lax.transpose(a, perm_l), lax.transpose(b, perm_r),
                                            dn))
  np.testing.assert_allclose(np.asarray(f(a, b)), np.matmul(lhs_t, rhs_t), rtol=1e-5, atol=1e-5)
  plan = f.lower(a, b).as_text()
  plan = plan[plan.index("plan("):]
  # lhs free dim is 1, rhs free dim is 2: one free dim each, so always foldable
  assert "transpose" not in plan, plan
