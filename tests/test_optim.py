"""rjax.optim against NumPy implementations of the published update equations
(Optax's formulas), over several steps, eagerly and under jit; schedules,
clipping, masks, dtypes, pmap, and small end-to-end trainings."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp
from rjax import optim
from rjax import tree_util

from util import bfloat16, enable_x64, shapes

STEPS = 4


# ---------------------------------------------------------------------------
# NumPy references: each optimizer's update equations, on lists of float64
# leaves. step(grads, state, params, t) -> (updates, state), t = 0, 1, ...

def ref_lr(lr, t):
  return lr(t) if callable(lr) else lr


def ref_sgd(lr, momentum=None, nesterov=False):
  def init(ps):
    return [np.zeros_like(p) for p in ps]

  def step(gs, tr, ps, t):
    if momentum is None:
      return [-ref_lr(lr, t) * g for g in gs], tr
    tr = [g + momentum * m for g, m in zip(gs, tr)]
    d = [g + momentum * m for g, m in zip(gs, tr)] if nesterov else tr
    return [-ref_lr(lr, t) * x for x in d], tr
  return init, step


def ref_adam(lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=False, weight_decay=None,
             mask=None):
  def init(ps):
    return ([np.zeros_like(p) for p in ps], [np.zeros_like(p) for p in ps])

  def step(gs, state, ps, t):
    ms, vs = state
    ms = [b1 * m + (1 - b1) * g for g, m in zip(gs, ms)]
    vs = [b2 * v + (1 - b2) * g * g for g, v in zip(gs, vs)]
    n = t + 1
    if nesterov:
      mh = [b1 * m / (1 - b1 ** (n + 1)) + (1 - b1) * g / (1 - b1 ** n) for g, m in zip(gs, ms)]
    else:
      mh = [m / (1 - b1 ** n) for m in ms]
    vh = [v / (1 - b2 ** n) for v in vs]
    us = [m / (np.sqrt(v + eps_root) + eps) for m, v in zip(mh, vh)]
    if weight_decay is not None:
      us = [u + weight_decay * p if (mask is None or mask[i]) else u
            for i, (u, p) in enumerate(zip(us, ps))]
    return [-ref_lr(lr, t) * u for u in us], (ms, vs)
  return init, step


def ref_rmsprop(lr, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, centered=False,
                momentum=None, nesterov=False, bias_correction=False):
  def init(ps):
    return ([np.zeros_like(p) for p in ps], [np.full_like(p, initial_scale) for p in ps],
            [np.zeros_like(p) for p in ps])

  def step(gs, state, ps, t):
    ms, vs, tr = state
    ms = [decay * m + (1 - decay) * g for g, m in zip(gs, ms)]
    vs = [decay * v + (1 - decay) * g * g for g, v in zip(gs, vs)]
    c = (1 - decay ** (t + 1)) if bias_correction else 1.0
    mh = [m / c if centered else 0 * m for m in ms]
    vh = [v / c for v in vs]
    if eps_in_sqrt:
      us = [g / np.sqrt(v - m * m + eps) for g, m, v in zip(gs, mh, vh)]
    else:
      us = [g / (np.sqrt(v - m * m) + eps) for g, m, v in zip(gs, mh, vh)]
    us = [-ref_lr(lr, t) * u for u in us]
    if momentum is not None:
      tr = [u + momentum * x for u, x in zip(us, tr)]
      us = [u + momentum * x for u, x in zip(us, tr)] if nesterov else tr
    return us, (ms, vs, tr)
  return init, step


def ref_adagrad(lr, initial_accumulator_value=0.1, eps=1e-7):
  def init(ps):
    return [np.full_like(p, initial_accumulator_value) for p in ps]

  def step(gs, ss, ps, t):
    ss = [s + g * g for g, s in zip(gs, ss)]
    us = [np.where(s > 0, g / np.sqrt(s + eps), 0.0) for g, s in zip(gs, ss)]
    return [-ref_lr(lr, t) * u for u in us], ss
  return init, step


def ref_lion(lr, b1=0.9, b2=0.99, weight_decay=1e-3, mask=None):
  def init(ps):
    return [np.zeros_like(p) for p in ps]

  def step(gs, ms, ps, t):
    us = [np.sign((1 - b1) * g + b1 * m) for g, m in zip(gs, ms)]
    ms = [b2 * m + (1 - b2) * g for g, m in zip(gs, ms)]
    us = [u + weight_decay * p if (mask is None or mask[i]) else u
          for i, (u, p) in enumerate(zip(us, ps))]
    return [-ref_lr(lr, t) * u for u in us], ms
  return init, step


# NumPy references of the schedules.

def np_linear(init, end, steps, begin=0):
  def f(c):
    k = min(max(c - begin, 0), steps)
    return (init - end) * (1 - k / steps) + end
  return f


def np_cosine(init, steps, alpha=0.0, exponent=1.0):
  def f(c):
    k = min(c, steps)
    return init * ((1 - alpha) * (0.5 * (1 + math.cos(math.pi * k / steps))) ** exponent + alpha)
  return f


def np_warmup_cosine(init, peak, warmup, decay_steps, end=0.0, exponent=1.0):
  alpha = 0.0 if peak == 0 else end / peak
  lin, cos = np_linear(init, peak, warmup), np_cosine(peak, decay_steps - warmup, alpha, exponent)
  return lambda c: lin(c) if c < warmup else cos(c - warmup)


def np_exponential(init, steps, rate, begin=0, staircase=False, end=None):
  def f(c):
    d = c - begin
    p = math.floor(d / steps) if staircase else d / steps
    v = init if d <= 0 else init * rate ** p
    if end is not None:
      v = max(v, end) if rate < 1 else min(v, end)
    return v
  return f


def np_piecewise(init, bs):
  def f(c):
    v = init
    for b, s in sorted(bs.items()):
      if c >= b:
        v *= s
    return v
  return f


# ---------------------------------------------------------------------------
# hypothesis: pytrees of parameters and gradients, hyperparameters

@st.composite
def problems(draw, nleaves=st.integers(1, 3)):
  """(params, [grads per step]) as pytrees of float64 NumPy arrays with one structure."""
  n = draw(nleaves)
  leaf_shapes = [draw(shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)) for _ in range(n)]
  rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
  layout = draw(st.sampled_from(["dict", "nested", "tuple"]))

  def build(arrays):
    if layout == "dict":
      return {f"w{i}": a for i, a in enumerate(arrays)}
    if layout == "tuple":
      return tuple(arrays)
    return {"layer": {"kernel": arrays[0]}, "rest": list(arrays[1:])}

  def draw_leaves():
    # magnitudes in [0.1, 2] with random signs: no underflow in float16 squares
    return [rng.choice([-1.0, 1.0], size=s) * rng.uniform(0.1, 2.0, size=s) for s in leaf_shapes]
  return build(draw_leaves()), [build(draw_leaves()) for _ in range(STEPS)]


lrs = st.sampled_from([1e-3, 0.01, 0.1, 0.5])
decays = st.floats(0.5, 0.99)


def _schedule_pair(kind, base):
  if kind == "constant":
    return base, base
  if kind == "cosine":
    return optim.cosine_decay_schedule(base, 3, 0.1), np_cosine(base, 3, 0.1)
  if kind == "warmup_cosine":
    return (optim.warmup_cosine_decay_schedule(0.0, base, 2, 5, 0.01 * base),
            np_warmup_cosine(0.0, base, 2, 5, 0.01 * base))
  return (optim.piecewise_constant_schedule(base, {2: 0.5, 3: 0.1}),
          np_piecewise(base, {2: 0.5, 3: 0.1}))


lr_kinds = st.sampled_from(["constant", "cosine", "warmup_cosine", "piecewise"])


# A linear (warmup) schedule divides the int32 step count, which is float32
# even under x64 (JAX's to_inexact_dtype, as in optax): not a float64 schedule.
lr_kinds_float64 = st.sampled_from(["constant", "cosine", "piecewise"])


@st.composite
def optimizer_cases(draw, kinds=lr_kinds):
  """(name, rjax optimizer, NumPy reference (init, step)) with drawn hyperparameters."""
  name = draw(st.sampled_from(["sgd", "sgd_momentum", "adam", "adamw", "rmsprop", "adagrad",
                               "lion"]))
  lr, ref_lr_ = _schedule_pair(draw(kinds), draw(lrs))
  if name == "sgd":
    return name, optim.sgd(lr), ref_sgd(ref_lr_)
  if name == "sgd_momentum":
    m, nest = draw(decays), draw(st.booleans())
    return name, optim.sgd(lr, momentum=m, nesterov=nest), ref_sgd(ref_lr_, m, nest)
  if name in ("adam", "adamw"):
    kw = dict(b1=draw(decays), b2=draw(st.floats(0.9, 0.999)),
              eps=draw(st.sampled_from([1e-8, 1e-3])), eps_root=draw(st.sampled_from([0.0, 1e-6])),
              nesterov=draw(st.booleans()))
    if name == "adam":
      return name, optim.adam(lr, **kw), ref_adam(ref_lr_, **kw)
    wd = draw(st.sampled_from([1e-4, 0.1]))
    return name, optim.adamw(lr, weight_decay=wd, **kw), ref_adam(ref_lr_, weight_decay=wd, **kw)
  if name == "rmsprop":
    kw = dict(decay=draw(decays), eps=draw(st.sampled_from([1e-8, 1e-2])),
              initial_scale=draw(st.sampled_from([0.0, 0.5])), eps_in_sqrt=draw(st.booleans()),
              centered=draw(st.booleans()), momentum=draw(st.sampled_from([None, 0.5])),
              nesterov=draw(st.booleans()), bias_correction=draw(st.booleans()))
    if kw["centered"] and kw["bias_correction"]:
      # from a zero start the first bias-corrected variance v_hat - m_hat^2 is exactly 0,
      # so its rounding sign decides NaN or not (in Optax too): start from a positive v
      kw["initial_scale"] = 0.5
    return name, optim.rmsprop(lr, **kw), ref_rmsprop(ref_lr_, **kw)
  if name == "adagrad":
    kw = dict(initial_accumulator_value=draw(st.sampled_from([0.0, 0.1, 1.0])),
              eps=draw(st.sampled_from([1e-7, 1e-3])))
    return name, optim.adagrad(lr, **kw), ref_adagrad(ref_lr_, **kw)
  kw = dict(b1=draw(decays), b2=draw(decays), weight_decay=draw(st.sampled_from([0.0, 1e-3, 0.1])))
  return name, optim.lion(lr, **kw), ref_lion(ref_lr_, **kw)


def _run(opt, params, grads, dtype, jit):
  """rjax trajectory: the params after each step (NumPy), and the final state."""
  cast = lambda t: tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a, dtype)), t)  # noqa
  p = cast(params)
  state = opt.init(p)

  def step(g, s, p):
    u, s = opt.update(g, s, p)
    return optim.apply_updates(p, u), s
  step = rjax.jit(step) if jit else step
  out = []
  for g in grads:
    p, state = step(cast(g), state, p)
    out.append(tree_util.tree_map(np.asarray, p))
  return out, state


def _ref_run(ref, params, grads, dtype):
  init, step = ref
  leaves, treedef = tree_util.tree_flatten(params)
  p = [np.asarray(x, dtype).astype(np.float64) for x in leaves]
  s = init(p)
  out = []
  for t, g in enumerate(grads):
    gl = [np.asarray(x, dtype).astype(np.float64) for x in tree_util.tree_leaves(g)]
    u, s = step(gl, s, p, t)
    p = [a + b for a, b in zip(p, u)]
    out.append(tree_util.tree_unflatten(treedef, p))
  return out


def _assert_trajectory(got, want, dtype, rtol, atol):
  for step, (g, w) in enumerate(zip(got, want)):
    for gl, wl in zip(tree_util.tree_leaves(g), tree_util.tree_leaves(w)):
      assert gl.dtype == np.dtype(dtype), f"step {step}: params dtype {gl.dtype} != {dtype}"
      np.testing.assert_allclose(gl.astype(np.float64), wl, rtol=rtol, atol=atol,
                                 err_msg=f"step {step}")


@given(case=optimizer_cases(), problem=problems(), jit=st.booleans())
def test_optimizer_matches_update_equations_float32(case, problem, jit):
  _, opt, ref = case
  params, grads = problem
  got, _ = _run(opt, params, grads, np.float32, jit)
  _assert_trajectory(got, _ref_run(ref, params, grads, np.float32), np.float32, 2e-5, 2e-5)


@given(case=optimizer_cases(lr_kinds_float64), problem=problems())
def test_optimizer_matches_update_equations_float64(case, problem):
  _, opt, ref = case
  params, grads = problem
  with enable_x64():
    got, state = _run(opt, params, grads, np.float64, jit=True)
    for leaf in tree_util.tree_leaves(state):
      assert leaf.dtype in (np.dtype(np.float64), np.dtype(np.int32)), leaf.dtype
  _assert_trajectory(got, _ref_run(ref, params, grads, np.float64), np.float64, 1e-11, 1e-11)


@pytest.mark.parametrize("dtype", [np.float16, bfloat16], ids=["float16", "bfloat16"])
@given(case=optimizer_cases(), problem=problems())
def test_optimizer_low_precision_keeps_dtype(dtype, case, problem):
  """One step in float16/bfloat16: params and moment states keep the params' dtype,
  counts are int32, and the step agrees with the float64 equations within the
  dtype's precision (Lion's sign is compared where it is not a rounding tie)."""
  name, opt, ref = case
  params, grads = problem
  got, state = _run(opt, params, grads[:1], dtype, jit=False)
  for leaf in tree_util.tree_leaves(state):
    assert np.asarray(leaf).dtype in (np.dtype(dtype), np.dtype(np.int32)), leaf.dtype
  want = _ref_run(ref, params, grads[:1], dtype)
  eps = float(ml_dtypes.finfo(dtype).eps)
  p0 = [np.asarray(x, dtype).astype(np.float64) for x in tree_util.tree_leaves(params)]
  for gl, wl, p in zip(tree_util.tree_leaves(got[0]), tree_util.tree_leaves(want[0]), p0):
    assert gl.dtype == np.dtype(dtype)
    step = np.abs(wl - p)
    np.testing.assert_allclose(gl.astype(np.float64), wl, rtol=4 * eps,
                               atol=4 * eps * (np.max(np.abs(p)) + np.max(step)))


# ---------------------------------------------------------------------------
# state structure (Optax's NamedTuples), counts, saturation

def test_states_are_optax_namedtuples_with_int32_counts():
  p = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
  s = optim.adam(0.1).init(p)
  assert isinstance(s, tuple) and isinstance(s[0], optim.ScaleByAdamState)
  assert isinstance(s[1], optim.EmptyState)
  assert s[0].count.dtype == np.int32 and s[0].count.shape == ()
  s = optim.sgd(optim.linear_schedule(1.0, 0.0, 10), momentum=0.9).init(p)
  assert isinstance(s[0], optim.TraceState) and isinstance(s[1], optim.ScaleByScheduleState)
  s = optim.adamw(0.1, mask={"w": True, "b": False}).init(p)
  assert isinstance(s[1], optim.MaskedState)
  s = optim.rmsprop(0.1, centered=True, bias_correction=True).init(p)
  assert isinstance(s[0], optim.ScaleByRStdDevWithCountState)
  assert isinstance(optim.adagrad(0.1).init(p)[0], optim.ScaleByRssState)
  assert isinstance(optim.lion(0.1).init(p)[0], optim.ScaleByLionState)


def test_count_increments_and_saturates():
  opt = optim.adam(0.1)
  p = jnp.ones(3)
  s = opt.init(p)
  for k in range(3):
    _, s = rjax.jit(opt.update)(jnp.ones(3), s, p)
    assert int(s[0].count) == k + 1
  top = np.iinfo(np.int32).max
  assert int(optim.safe_increment(jnp.asarray(top - 1, jnp.int32))) == top
  assert int(optim.safe_increment(jnp.asarray(top, jnp.int32))) == top
  assert optim.safe_increment(jnp.asarray(top, jnp.int32)).dtype == np.int32


def test_apply_updates_keeps_param_dtype_and_none():
  p = {"a": jnp.ones(3, jnp.bfloat16), "b": None, "c": jnp.ones(2, jnp.float16)}
  u = {"a": jnp.full(3, 0.25, jnp.float32), "b": None, "c": jnp.full(2, 0.5, jnp.float32)}
  out = optim.apply_updates(p, u)
  assert out["b"] is None
  assert out["a"].dtype == bfloat16 and out["c"].dtype == np.float16
  np.testing.assert_array_equal(np.asarray(out["a"], np.float32), [1.25] * 3)


def test_update_does_not_mutate_inputs():
  params = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3)}
  grads = {"w": np.ones((2, 3), np.float32)}
  keep_p, keep_g = params["w"].copy(), grads["w"].copy()
  opt = optim.adamw(0.1, weight_decay=0.5)
  s = opt.init(params)
  u, s = opt.update(grads, s, params)
  optim.apply_updates(params, u)
  np.testing.assert_array_equal(params["w"], keep_p)
  np.testing.assert_array_equal(grads["w"], keep_g)


# ---------------------------------------------------------------------------
# building blocks

@given(problem=problems(), max_norm=st.floats(0.1, 20.0), jit=st.booleans())
def test_clip_by_global_norm(problem, max_norm, jit):
  _, grads = problem
  g = tree_util.tree_map(lambda a: np.asarray(a, np.float32), grads[0])
  leaves = [a.astype(np.float64) for a in tree_util.tree_leaves(g)]
  norm = math.sqrt(sum(float(np.sum(a * a)) for a in leaves))
  np.testing.assert_allclose(float(optim.global_norm(g)), norm, rtol=1e-5)
  t = optim.clip_by_global_norm(max_norm)
  upd = rjax.jit(t.update) if jit else t.update
  out, _ = upd(g, t.init(g))
  scale = 1.0 if norm < max_norm else max_norm / norm
  for o, a in zip(tree_util.tree_leaves(out), leaves):
    np.testing.assert_allclose(np.asarray(o), a * scale, rtol=1e-5, atol=1e-6)
  assert float(optim.global_norm(out)) <= max_norm * (1 + 1e-5) or norm < max_norm


def test_clip_elementwise_and_scale():
  g = {"a": jnp.asarray([-3.0, -0.5, 0.2, 4.0])}
  out, _ = optim.clip(1.0).update(g, optim.EmptyState())
  np.testing.assert_array_equal(np.asarray(out["a"]), np.float32([-1.0, -0.5, 0.2, 1.0]))
  out, _ = optim.scale(-2.0).update(g, optim.EmptyState())
  np.testing.assert_array_equal(np.asarray(out["a"]), np.float32([6.0, 1.0, -0.4, -8.0]))


@pytest.mark.parametrize("mask_kind", ["tree", "prefix", "callable"])
def test_weight_decay_mask(mask_kind):
  params = {"w": jnp.full((2, 2), 2.0), "b": jnp.full((2,), 3.0), "n": {"x": jnp.ones(1)}}
  grads = tree_util.tree_map(jnp.zeros_like, params)
  mask = {"tree": {"w": True, "b": False, "n": {"x": True}},
          "prefix": {"w": True, "b": False, "n": True},
          "callable": lambda p: tree_util.tree_map(lambda x: x.ndim != 1 or x.shape[0] == 1, p)
          }[mask_kind]
  t = optim.add_decayed_weights(0.5, mask)
  u, _ = rjax.jit(t.update)(grads, t.init(params), params)
  np.testing.assert_array_equal(np.asarray(u["w"]), np.full((2, 2), 1.0))
  np.testing.assert_array_equal(np.asarray(u["b"]), np.zeros(2))
  np.testing.assert_array_equal(np.asarray(u["n"]["x"]), np.full(1, 0.5))


def test_adamw_mask_leaves_unmasked_params_to_adam():
  params = {"w": jnp.full(3, 2.0), "b": jnp.full(3, 2.0)}
  g = {"w": jnp.ones(3), "b": jnp.ones(3)}
  opt = optim.adamw(0.1, weight_decay=0.5, mask={"w": True, "b": False})
  u, _ = opt.update(g, opt.init(params), params)
  _, step = ref_adam(0.1, weight_decay=0.5)
  (want_w,), _ = step([np.ones(3)], ([np.zeros(3)], [np.zeros(3)]), [np.full(3, 2.0)], 0)
  _, step = ref_adam(0.1)
  (want_b,), _ = step([np.ones(3)], ([np.zeros(3)], [np.zeros(3)]), [np.full(3, 2.0)], 0)
  np.testing.assert_allclose(np.asarray(u["w"]), want_w, rtol=2e-5)
  np.testing.assert_allclose(np.asarray(u["b"]), want_b, rtol=2e-5)


def test_masked_keeps_state_only_for_masked_in_leaves():
  params = {"a": jnp.ones(2), "b": jnp.ones(3)}
  t = optim.masked(optim.trace(0.9), {"a": True, "b": False})
  s = t.init(params)
  assert isinstance(s.inner_state.trace["b"], optim.MaskedNode)
  g = {"a": jnp.ones(2), "b": jnp.full(3, 7.0)}
  u, s = t.update(g, s, params)
  u, s = t.update(g, s, params)
  np.testing.assert_allclose(np.asarray(u["a"]), [1.9, 1.9], rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(u["b"]), [7.0] * 3)


def test_scheduled_weight_decay():
  sched = optim.linear_schedule(1.0, 0.0, 4)
  t = optim.add_decayed_weights(sched)
  p = jnp.ones(2)
  s = t.init(p)
  assert isinstance(s, optim.WeightDecaySchedule)
  for k in range(5):
    u, s = t.update(jnp.zeros(2), s, p)
    np.testing.assert_allclose(np.asarray(u), [1.0 - min(k, 4) / 4] * 2, rtol=1e-6)


def test_chain_is_sequential_composition():
  g = {"a": jnp.asarray([3.0, -4.0])}
  t = optim.chain(optim.clip_by_global_norm(1.0), optim.scale(-0.5), optim.identity())
  u, s = t.update(g, t.init(g))
  assert isinstance(s, tuple) and len(s) == 3
  np.testing.assert_allclose(np.asarray(u["a"]), [-0.3, 0.4], rtol=1e-6)


def test_errors():
  p = jnp.ones(2)
  opt = optim.adamw(0.1)
  with pytest.raises(ValueError, match="add_decayed_weights: .*params"):
    opt.update(jnp.ones(2), opt.init(p))
  with pytest.raises(ValueError, match="chain: the number of states"):
    opt.update(jnp.ones(2), opt.init(p)[:1], p)
  with pytest.raises(TypeError, match="chain: argument 1"):
    optim.chain(optim.scale(1.0), 3)
  with pytest.raises(ValueError, match="cosine_decay_schedule: requires positive"):
    optim.cosine_decay_schedule(1.0, 0)
  with pytest.raises(ValueError, match="piecewise_constant_schedule"):
    optim.piecewise_constant_schedule(1.0, {3: -1.0})
  with pytest.raises(ValueError, match="join_schedules"):
    optim.join_schedules([optim.constant_schedule(1.0)], [2])
  traced_mask = optim.add_decayed_weights(0.1, lambda t: tree_util.tree_map(
      lambda x: jnp.all(x > 0), t))
  with pytest.raises(TypeError, match="masked: mask leaves must be static Python bools"):
    rjax.jit(traced_mask.update)(p, optim.MaskedState(optim.EmptyState()), p)


# ---------------------------------------------------------------------------
# schedules

@st.composite
def schedule_cases(draw):
  init = draw(st.floats(0.01, 2.0))
  end = draw(st.floats(0.0, 1.0))
  steps = draw(st.integers(1, 12))
  begin = draw(st.integers(0, 4))
  kind = draw(st.sampled_from(["constant", "linear", "cosine", "warmup_cosine", "exponential",
                               "piecewise", "join"]))
  if kind == "constant":
    return optim.constant_schedule(init), lambda c: init
  if kind == "linear":
    return optim.linear_schedule(init, end, steps, begin), np_linear(init, end, steps, begin)
  if kind == "cosine":
    alpha, expo = draw(st.floats(0.0, 0.5)), draw(st.sampled_from([1.0, 2.0]))
    return (optim.cosine_decay_schedule(init, steps, alpha, expo),
            np_cosine(init, steps, alpha, expo))
  if kind == "warmup_cosine":
    warm = draw(st.integers(1, 5))
    return (optim.warmup_cosine_decay_schedule(0.0, init, warm, warm + steps, end * init),
            np_warmup_cosine(0.0, init, warm, warm + steps, end * init))
  if kind == "exponential":
    rate = draw(st.floats(0.3, 1.5).filter(lambda r: abs(r - 1) > 1e-3))
    stair = draw(st.booleans())
    lim = draw(st.sampled_from([None, 0.5]))
    return (optim.exponential_decay(init, steps, rate, begin, stair, lim),
            np_exponential(init, steps, rate, begin, stair, lim))
  if kind == "piecewise":
    bs = {draw(st.integers(1, 15)): draw(st.floats(0.0, 2.0)) for _ in range(draw(st.integers(0, 3)))}
    return optim.piecewise_constant_schedule(init, bs), np_piecewise(init, bs)
  b = draw(st.integers(1, 8))
  return (optim.join_schedules([optim.constant_schedule(init),
                                optim.linear_schedule(init, end, steps)], [b]),
          lambda c: init if c < b else np_linear(init, end, steps)(c - b))


@given(case=schedule_cases())
def test_schedules_match_formulas(case):
  sched, ref = case
  jitted = rjax.jit(sched)
  for c in range(20):
    want = ref(c)
    got = sched(jnp.asarray(c, jnp.int32))
    np.testing.assert_allclose(float(got), want, rtol=2e-6, atol=1e-7, err_msg=f"count {c}")
    np.testing.assert_allclose(float(jitted(jnp.asarray(c, jnp.int32))), want, rtol=2e-6,
                               atol=1e-7, err_msg=f"count {c} (jit)")


def test_schedule_drives_sgd_learning_rate():
  sched = optim.piecewise_constant_schedule(1.0, {1: 0.5, 2: 0.1})
  opt = optim.sgd(sched)
  p = jnp.zeros(1)
  s = opt.init(p)
  got = []
  for _ in range(3):
    u, s = opt.update(jnp.ones(1), s, p)
    got.append(float(u[0]))
  np.testing.assert_allclose(got, [-1.0, -0.5, -0.05], rtol=1e-6)


# ---------------------------------------------------------------------------
# pmap, end-to-end training

def test_update_inside_pmap_matches_mean_gradient_step():
  n = 2
  opt = optim.adam(0.05)
  params = {"w": jnp.asarray(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))}
  rng = np.random.RandomState(0)
  grads = rng.randn(n, 2, 3).astype(np.float32)
  state = opt.init(params)

  def step(p, s, g):
    g = rjax.lax.pmean({"w": g}, "i")
    u, s = opt.update(g, s, p)
    return optim.apply_updates(p, u), s
  rep = lambda t: tree_util.tree_map(lambda a: jnp.stack([a] * n), t)  # noqa: E731
  p_out, s_out = rjax.pmap(step, axis_name="i")(rep(params), rep(state), jnp.asarray(grads))
  want_p, _ = _single(opt, params, state, grads.mean(0))
  for k in range(n):
    np.testing.assert_allclose(np.asarray(p_out["w"])[k], np.asarray(want_p["w"]), rtol=1e-5,
                               atol=1e-6)
    assert int(np.asarray(s_out[0].count)[k]) == 1


def _single(opt, p, s, g):
  u, s = opt.update({"w": jnp.asarray(g)}, s, p)
  return optim.apply_updates(p, u), s


TRAIN_CASES = [
    ("sgd", lambda: optim.sgd(0.1)),
    ("sgd_nesterov", lambda: optim.sgd(0.05, momentum=0.9, nesterov=True)),
    ("adam", lambda: optim.adam(0.1)),
    ("adamw", lambda: optim.adamw(0.1, weight_decay=1e-4, mask={"w": True, "b": False})),
    ("rmsprop", lambda: optim.rmsprop(0.02)),
    ("adagrad", lambda: optim.adagrad(0.5)),
    ("lion", lambda: optim.lion(optim.cosine_decay_schedule(0.03, 300), weight_decay=0.0)),
    ("clipped_adam_warmup", lambda: optim.chain(
        optim.clip_by_global_norm(1.0),
        optim.adam(optim.warmup_cosine_decay_schedule(0.0, 0.1, 10, 300, 0.001)))),
]


@pytest.mark.parametrize("name,make", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_linear_regression_converges_under_jit(name, make):
  rng = np.random.RandomState(1)
  x = rng.randn(64, 3).astype(np.float32)
  w_true = np.asarray([1.5, -2.0, 0.5], np.float32)
  y = x @ w_true + 0.3
  xs, ys = jnp.asarray(x), jnp.asarray(y)

  def loss(p):
    return jnp.mean((xs @ p["w"] + p["b"] - ys) ** 2)
  opt = make()
  params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
  state = opt.init(params)

  @rjax.jit
  def step(p, s):
    u, s = opt.update(rjax.grad(loss)(p), s, p)
    return optim.apply_updates(p, u), s
  start = float(loss(params))
  for _ in range(300):
    params, state = step(params, state)
  final = float(loss(params))
  assert final < 1e-2 * start, (name, start, final)
  np.testing.assert_allclose(np.asarray(params["w"]), w_true, atol=0.1)
