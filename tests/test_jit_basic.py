"""jit, first version: one Program per abstract signature, cached; static
arguments; pytrees; compile logging; lowering text."""
import logging

import numpy as np
import pytest
from hypothesis import given, strategies as st

import rjax
import rjax.numpy as jnp


def _count_traces():
  calls = []

  def f(x, y):
    calls.append(1)
    return {"a": jnp.tanh(x) * y + 1.0, "b": [x - y]}
  return rjax.jit(f), calls


@given(st.integers(1, 50), st.floats(-2, 2, width=32))
def test_jit_matches_eager(n, s):
  rng = np.random.default_rng(n)
  x = jnp.asarray(rng.standard_normal(n).astype(np.float32))
  jf, _ = _count_traces()
  out = jf(x, s)
  np.testing.assert_allclose(np.asarray(out["a"]), np.tanh(np.asarray(x)) * np.float32(s) + 1,
                             rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(np.asarray(out["b"][0]), np.asarray(x) - np.float32(s), rtol=1e-6)


def test_cache_retraces_only_on_new_signature():
  jf, calls = _count_traces()
  x = jnp.asarray(np.ones(3, np.float32))
  jf(x, 2.0)
  jf(x, 3.0)                                    # same signature (weak f32 scalar)
  jf(jnp.asarray(np.zeros(3, np.float32)), 5.0)
  assert len(calls) == 1
  jf(jnp.asarray(np.ones(4, np.float32)), 2.0)  # new shape
  assert len(calls) == 2
  jf(x, jnp.asarray(np.float32(2.0)))           # strong, not weak: a new signature
  assert len(calls) == 3


def test_static_argnums_and_names():
  calls = []

  @rjax.jit
  def plain(x):
    return x

  def g(x, n, *, mode="add"):
    calls.append(n)
    return x + n if mode == "add" else x * n
  jg = rjax.jit(g, static_argnums=1, static_argnames="mode")
  x = jnp.asarray(np.ones(2, np.float32))
  assert np.asarray(jg(x, 2)).tolist() == [3.0, 3.0]
  assert np.asarray(jg(x, 2)).tolist() == [3.0, 3.0]
  assert np.asarray(jg(x, 3, mode="mul")).tolist() == [3.0, 3.0]
  assert calls == [2, 3]
  with pytest.raises(ValueError, match="Non-hashable static"):
    rjax.jit(g, static_argnums=1)(x, [1])
  assert plain(x) is not None


def test_log_compiles_says_why(caplog):
  jf, _ = _count_traces()
  x = jnp.asarray(np.ones(3, np.float32))
  rjax.config.update("jax_log_compiles", True)
  try:
    with caplog.at_level(logging.WARNING, logger="rjax"):
      jf(x, 1.0)
      jf(jnp.asarray(np.ones(5, np.float32)), 1.0)
  finally:
    rjax.config.update("jax_log_compiles", False)
  msgs = [r.getMessage() for r in caplog.records]
  assert any("first call" in m for m in msgs)
  assert any("argument 0 changed from f32[3] to f32[5]" in m for m in msgs)


def test_lower_as_text_shows_jaxpr_and_program():
  jf, _ = _count_traces()
  text = jf.lower(jnp.asarray(np.ones(3, np.float32)), 2.0).as_text()
  assert "tanh a" in text and "program(inputs:" in text and "= tanh %0" in text
