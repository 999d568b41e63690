"""Small loop bodies through loop frames (rust/src/exec/frame.rs): a
``while``/``scan``/``fori_loop`` body made only of elementwise work on small
values runs each iteration straight over buffers allocated once per loop.

Frames must not change a bit: every case runs with frames on and off
(``set_loop_frames``) under ``RJAX_CODEGEN=sync``, and the results must be
equal bit for bit, and close to JAX's. Whether a loop took the frame path is
read from a counter (``framed_loops``), never from a timing.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jax
import jax.numpy as jjnp

import rjax
import rjax.numpy as jnp
from rjax import lax
from rjax._src.runtime import codegen
from rjax._src.runtime.executable import framed_loops, set_loop_frames
from util_vs_jax import x64_in_both


@contextlib.contextmanager
def _frames(on):
  prev = set_loop_frames(on)
  try:
    yield
  finally:
    set_loop_frames(prev)


@contextlib.contextmanager
def _sync():
  prev = codegen.set_mode("sync")
  try:
    yield
  finally:
    codegen.set_mode(prev)


def _run_both(make, *args):
  """``make(np_module, lax_module)`` jitted with frames on (counting the
  framed loops) and off; returns (on, off, framed loops with frames on)."""
  with _sync():
    with _frames(True):
      before = framed_loops()
      on = rjax.tree_util.tree_map(np.asarray, rjax.jit(make(jnp, lax))(*args))
      n = framed_loops() - before
    with _frames(False):
      before_off = framed_loops()
      off = rjax.tree_util.tree_map(np.asarray, rjax.jit(make(jnp, lax))(*args))
      assert framed_loops() == before_off
  return on, off, n


def _same_bits(a, b):
  la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(la) == len(lb)
  for x, y in zip(la, lb):
    assert x.dtype == y.dtype and x.shape == y.shape
    assert x.tobytes() == y.tobytes(), (x, y)


def _close_to_jax(got, make, *args, rtol=2e-5, atol=1e-6):
  want = jax.jit(make(jjnp, jax.lax))(*args)
  for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    w = np.asarray(w)
    assert g.dtype == w.dtype and g.shape == w.shape
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# -- the benchmark's loop, and the shapes of carries ---------------------------

def _fori(n):
  def make(np_, lax_):
    return lambda x: lax_.fori_loop(0, n, lambda i, c: c * 0.999 + np_.sin(c) * 0.001, x)
  return make


@pytest.mark.parametrize("shape", [(), (1,), (16,), (3, 5), (0,), (4096,)])
@pytest.mark.parametrize("n", [0, 1, 37])
def test_fori_loop_takes_a_frame_and_keeps_the_bits(shape, n):
  x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
  on, off, framed = _run_both(_fori(n), x)
  _same_bits(on, off)
  assert framed == 1
  _close_to_jax(on, _fori(n), x)


def test_more_than_one_chunk_keeps_the_executor():
  # a value over 32768 elements would be split into chunks: no frame
  x = np.ones(40000, np.float32)
  on, off, framed = _run_both(_fori(3), x)
  _same_bits(on, off)
  assert framed == 0


def _scan(reverse):
  def make(np_, lax_):
    def f(c0, xs, w):
      def body(c, x):
        c = np_.tanh(c * w + x)
        return c, (c * 2.0, (x > 0).astype(np.int32))
      return lax_.scan(body, c0, xs, reverse=reverse)
    return f
  return make


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [0, 1, 9])
def test_scan_reads_xs_rows_and_writes_ys_rows(reverse, length):
  r = np.random.default_rng(length)
  c0 = r.normal(size=(3,)).astype(np.float32)
  xs = r.normal(size=(length, 3)).astype(np.float32)
  w = r.normal(size=(3,)).astype(np.float32)
  on, off, framed = _run_both(_scan(reverse), c0, xs, w)
  _same_bits(on, off)
  assert framed == 1
  _close_to_jax(on, _scan(reverse), c0, xs, w)


def _while(np_, lax_):
  def f(x, limit):
    def cond(s):
      i, _, _ = s
      return i < limit
    def body(s):
      i, a, b = s
      # swap the carries, keep one as it is, a scalar counter
      return i + 1, np_.where(a > b, a - b, b + a * 0.5), a
    return lax_.while_loop(cond, body, (np.int32(0), x, x * 2.0))
  return f


@pytest.mark.parametrize("limit", [0, 1, 25])
def test_while_loop_with_a_condition_on_the_carry(limit):
  x = np.random.default_rng(1).normal(size=(7,)).astype(np.float32)
  lim = np.int32(limit)
  on, off, framed = _run_both(lambda np_, lax_: _while(np_, lax_), x, lim)
  _same_bits(on, off)
  assert framed == 1
  _close_to_jax(on, lambda np_, lax_: _while(np_, lax_), x, lim)


def test_carries_swapped_repeated_and_constant():
  def make(np_, lax_):
    def f(a, b):
      def body(i, s):
        a, b, c, d = s
        return b, a, a, np_.float32(3.0) + 0 * d
      return lax_.fori_loop(0, 5, body, (a, b, a, b))
    return f
  a = np.arange(4, dtype=np.float32)
  b = -np.arange(4, dtype=np.float32)
  on, off, framed = _run_both(make, a, b)
  _same_bits(on, off)
  assert framed == 1
  _close_to_jax(on, make, a, b)


def test_integer_bool_and_float64_carries():
  def make(np_, lax_):
    def f(k, m, z):
      def body(i, s):
        k, m, z = s
        return (k * 3 + 1) % 1000, np_.logical_xor(m, k % 2 == 0), z * 1.5 - np_.exp(-z)
      return lax_.fori_loop(0, 11, body, (k, m, z))
    return f
  with x64_in_both():
    k = np.arange(6, dtype=np.int32)
    m = np.array([True, False, True, False, True, False])
    z = np.linspace(-1, 1, 6)
    on, off, framed = _run_both(make, k, m, z)
    _same_bits(on, off)
    assert framed == 1
    assert on[2].dtype == np.float64
    _close_to_jax(on, make, k, m, z, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint32", "uint64"])
@pytest.mark.parametrize("cmp", ["lt", "le", "gt", "ge", "ne"])
def test_scalar_counter_steps_wrap_and_compare_as_the_kernels(dtype, cmp):
  """One-element integer operands of one type (a counter and its bound)
  take the frame's scalar functions: products and sums that wrap around,
  differences below zero for unsigned types, and each comparison."""
  def make(np_, lax_):
    def f(k, big, x):
      def cond(s):
        i, k, _, _ = s
        return getattr(lax_, cmp)(i, k) if cmp != "ne" else lax_.ne(i, k)
      def body(s):
        i, k, w, x = s
        one = np_.ones_like(i)
        step = one if cmp in ("lt", "le", "ne") else i - i - one
        return i + step, k, w * big - one + (w - big) * one, x * 0.5
      start = np_.zeros_like(k) if cmp in ("lt", "le", "ne") else k + k
      return lax_.while_loop(cond, body, (start, k, big, x))
    return f
  with x64_in_both():
    dt = np.dtype(dtype)
    k = np.array(9, dt)
    big = np.array(np.iinfo(dt).max // 3 + 7, dt)
    x = np.ones(4, np.float32)
    on, off, framed = _run_both(make, k, big, x)
    _same_bits(on, off)
    assert framed == 1
    want = jax.jit(make(jjnp, jax.lax))(k, big, x)
    for g, w in zip(on, want):
      assert g.dtype == np.asarray(w).dtype
      np.testing.assert_array_equal(g, np.asarray(w))


def test_bodies_with_other_ops_keep_the_executor():
  def make(np_, lax_):
    def f(x, w):
      return lax_.fori_loop(0, 4, lambda i, c: np_.tanh(w @ c) + c.sum(), x)
    return f
  x = np.ones(8, np.float32)
  w = np.eye(8, dtype=np.float32) * 0.5
  on, off, framed = _run_both(make, x, w)
  _same_bits(on, off)
  assert framed == 0
  _close_to_jax(on, make, x, w)


def test_grad_through_a_framed_scan():
  def make(np_, lax_):
    def loss(w, xs):
      def body(c, x):
        c = np_.sin(c * w + x)
        return c, c
      c, ys = lax_.scan(body, np_.zeros(4, np.float32), xs)
      return (ys * ys).sum() + c.sum()
    return lambda w, xs: (rjax if np_ is jnp else jax).grad(loss)(w, xs)
  w = np.full(4, 0.7, np.float32)
  xs = np.random.default_rng(2).normal(size=(12, 4)).astype(np.float32)
  on, off, framed = _run_both(make, w, xs)
  _same_bits(on, off)
  assert framed >= 1
  _close_to_jax(on, make, w, xs, rtol=1e-4)


def test_frames_are_safe_from_several_threads():
  from concurrent.futures import ThreadPoolExecutor
  f = _fori(200)(jnp, lax)
  with _sync():
    g = rjax.jit(f)
    xs = [np.full(16, k / 10, np.float32) for k in range(8)]
    want = [np.asarray(g(x)) for x in xs]
    with ThreadPoolExecutor(4) as ex:
      for _ in range(5):
        got = list(ex.map(lambda x: np.asarray(g(x)), xs))
        for a, b in zip(got, want):
          assert a.tobytes() == b.tobytes()


# -- random elementwise bodies -------------------------------------------------

_UNARY = ["sin", "exp", "tanh", "abs", "negative", "sqrt", "log1p", "floor"]
_BINARY = ["add", "multiply", "subtract", "maximum", "minimum", "where_gt"]


def _apply(np_, op, a, b):
  if op == "where_gt":
    return np_.where(a > b, a, b * 0.5)
  if op in _UNARY:
    return getattr(np_, op)(np_.abs(a) if op in ("sqrt", "log1p") else a)
  return getattr(np_, op)(a, b)


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from([(), (1,), (2, 3), (16,), (0, 4), (5,)]),
       dtype=st.sampled_from(["float32", "float64"]),
       ops=st.lists(st.sampled_from(_UNARY + _BINARY), min_size=1, max_size=6),
       n=st.integers(0, 6), seed=st.integers(0, 2**16),
       special=st.booleans())
def test_random_elementwise_bodies(shape, dtype, ops, n, seed, special):
  r = np.random.default_rng(seed)
  a = r.normal(size=shape)
  if special:
    sp = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0])
    k = min(a.size, sp.size)
    a.flat[:k] = sp[:k]
  b = r.normal(size=shape)

  def make(np_, lax_):
    def f(a, b):
      def body(i, s):
        x, y = s
        for k, op in enumerate(ops):
          x, y = (_apply(np_, op, x, y), x) if k % 2 == 0 else (x, _apply(np_, op, y, x))
        return x * 0.5, y * 0.25
      return lax_.fori_loop(0, n, body, (a, b))
    return f

  ctx = x64_in_both() if dtype == "float64" else contextlib.nullcontext()
  with ctx:
    a, b = a.astype(dtype), b.astype(dtype)
    on, off, framed = _run_both(make, a, b)
    _same_bits(on, off)
    assert framed == 1
