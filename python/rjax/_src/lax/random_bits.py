"""``lax.rng_bit_generator``: XLA's stateless bit generators, bit for bit as
JAX's CPU backend computes them (XLA's RngBitGeneratorExpander and prng.cc),
from uint32 lax operations (no 64-bit arithmetic needed for 32-bit output).

The key is four uint32 words (or two uint64 with x64): words 0-1 are the
generator's key, words 2-3 its 64-bit counter. ``RNG_DEFAULT`` is Philox on
CPU. Philox-4x32-10 runs on a 128-bit counter whose low half is the counter
words and whose high half is the key, four outputs per counter value, taken
in round-robin order; Threefry-2x32-20 splits the shape into two halves on
its first even dimension. The returned key has its counter advanced by the
number of counter values used. 8- and 16-bit outputs are the low bits of the
32-bit stream.
"""
from __future__ import annotations

import enum
import math
import operator
from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.lax import lax, other, shapes, slicing
from rjax._src.lax.utils import _scalar_like, asarray_lax, export

_U32 = np.dtype(np.uint32)
_M32 = 0xFFFFFFFF


@export
class RandomAlgorithm(enum.IntEnum):
  """The bit generator of ``rng_bit_generator`` (``lax.RandomAlgorithm``)."""
  RNG_DEFAULT = 0
  RNG_THREE_FRY = 1
  RNG_PHILOX = 2

  def __str__(self):
    return self.name


def _c(v, like):
  return _scalar_like(int(v) & _M32, like)


def _add_carry(a, b):
  """(a + b mod 2**32, carry) for uint32 arrays."""
  s = lax.add(a, b)
  return s, lax.convert_element_type(lax.lt(s, a), _U32)


def _philox4x32(x, k0, k1):
  """Philox-4x32 with 10 rounds on four uint32 arrays and a two-word key."""
  for _ in range(10):
    m0, m1 = _c(0xD2511F53, x[0]), _c(0xCD9E8D57, x[2])
    hi0, lo0 = other.mulhi(x[0], m0), lax.mul(x[0], m0)
    hi1, lo1 = other.mulhi(x[2], m1), lax.mul(x[2], m1)
    x = [lax.bitwise_xor(lax.bitwise_xor(hi1, x[1]), k0), lo1,
         lax.bitwise_xor(lax.bitwise_xor(hi0, x[3]), k1), lo0]
    k0 = lax.add(k0, _c(0x9E3779B9, k0))
    k1 = lax.add(k1, _c(0xBB67AE85, k1))
  return x


def _rotl(v, d):
  return lax.bitwise_or(lax.shift_left(v, _c(d, v)), lax.shift_right_logical(v, _c(32 - d, v)))


def _threefry2x32(x0, x1, k0, k1):
  """Threefry-2x32 with 20 rounds (XLA's and JAX's)."""
  ks = [k0, k1, lax.bitwise_xor(lax.bitwise_xor(k0, k1), _c(0x1BD11BDA, k0))]
  rot = (13, 15, 26, 6, 17, 29, 16, 24)
  x0, x1 = lax.add(x0, ks[0]), lax.add(x1, ks[1])
  inject = ((1, 2), (2, 0), (0, 1), (1, 2), (2, 0))
  for blk, (a, b) in enumerate(inject):
    for r in (rot[:4] if blk % 2 == 0 else rot[4:]):
      x0 = lax.add(x0, x1)
      x1 = lax.bitwise_xor(_rotl(x1, r), x0)
    x0 = lax.add(x0, ks[a])
    x1 = lax.add(lax.add(x1, ks[b]), _c(blk + 1, x1))
  return x0, x1


def _word(key, i):
  return slicing.index_in_dim(key, i, 0, keepdims=False)


def _counter_plus(lo0, lo1, idx):
  """The 64-bit counter (lo0, lo1) plus the uint32 array ``idx``, with carry."""
  w0, c0 = _add_carry(shapes.broadcast_in_dim(lo0, core.get_aval(idx).shape, ()), idx)
  w1, c1 = _add_carry(shapes.broadcast_in_dim(lo1, core.get_aval(idx).shape, ()), c0)
  return w0, w1, c1


def _advanced_key(key, count: int):
  """The key with its counter (words 2-3) advanced by ``count``."""
  k0, k1, lo0, lo1 = (_word(key, i) for i in range(4))
  n0 = _c(count, lo0)
  n1 = _c(count >> 32, lo1)
  w0, c0 = _add_carry(lo0, n0)
  w1 = lax.add(lax.add(lo1, n1), c0)
  return shapes.concatenate([shapes.reshape(w, (1,)) for w in (k0, k1, w0, w1)], 0)


def _philox_bits(key, n: int):
  """``4 * ceil(n / 4)`` Philox words (in output order) and the number of
  counter values used."""
  nv = -(-n // 4)
  k0, k1, lo0, lo1 = (_word(key, i) for i in range(4))
  idx = shapes.iota(_U32, nv)
  w0, w1, carry = _counter_plus(lo0, lo1, idx)
  h0, c2 = _add_carry(shapes.broadcast_in_dim(k0, (nv,), ()), carry)
  h1 = lax.add(shapes.broadcast_in_dim(k1, (nv,), ()), c2)
  out = _philox4x32([w0, w1, h0, h1], k0, k1)
  words = shapes.concatenate([shapes.reshape(o, (nv, 1)) for o in out], 1)
  return shapes.reshape(words, (nv * 4,)), nv


def _split_halves(shape):
  """XLA's SplitShapeIntoHalves: (half shape, concat shape, split dim, concat dim)."""
  if not shape:
    return (1,), (2,), 0, 0
  sd = next((i for i, d in enumerate(shape) if d % 2 == 0), -1)
  if sd == -1:
    sd = max(range(len(shape)), key=lambda i: (shape[i], -i))
  half, concat = [], []
  for i, d in enumerate(shape):
    if i == sd:
      half += [-(-d // 2), 1]
      concat += [-(-d // 2), 2]
    else:
      half.append(d)
      concat.append(d)
  return tuple(half), tuple(concat), sd, sd + 1


def _threefry_bits32(key, shape):
  half, _, sd, nc = _split_halves(shape)
  count = math.prod(half)
  k0, k1, lo0, lo1 = (_word(key, i) for i in range(4))
  idx = shapes.reshape(shapes.iota(_U32, count), half)
  w0, w1, _ = _counter_plus(lo0, lo1, idx)
  o0, o1 = _threefry2x32(w0, w1, shapes.broadcast_in_dim(k0, half, ()),
                         shapes.broadcast_in_dim(k1, half, ()))
  if not shape:
    return shapes.reshape(o0, ()), count
  res = shapes.concatenate([o0, o1], nc)
  dims = list(shape)
  dims[sd] += dims[sd] % 2
  res = shapes.reshape(res, tuple(dims))
  if tuple(dims) != tuple(shape):
    res = slicing.slice(res, (0,) * len(shape), tuple(shape))
  return res, count


def _key_words(key):
  """The key as four uint32 words (a uint64[2] key is split little-endian)."""
  a = core.get_aval(key)
  if a.dtype == _U32 and a.shape == (4,):
    return key, False
  if a.dtype == np.dtype(np.uint64) and a.shape == (2,):
    return shapes.reshape(lax.bitcast_convert_type(key, _U32), (4,)), True
  raise TypeError(f"rng_bit_generator: the key must be uint32[4] (or uint64[2]), got "
                  f"{a.str_short()}")


@export
def rng_bit_generator(key, shape: Sequence[int], dtype=np.uint32,
                      algorithm=RandomAlgorithm.RNG_DEFAULT, *, out_sharding=None):
  """Random bits of ``shape`` and ``dtype`` (uint8/16/32/64) from ``key``,
  and the next key (``lax.rng_bit_generator``); the same bits as JAX on CPU."""
  shape = tuple(operator.index(d) for d in shape)
  if any(d < 0 for d in shape):
    raise TypeError(f"rng_bit_generator: negative dimensions in shape {shape}")
  dt = dtypes.canonicalize_dtype(dtype)
  if dt not in (np.dtype(np.uint8), np.dtype(np.uint16), _U32, np.dtype(np.uint64)):
    raise TypeError(f"rng_bit_generator: unsupported dtype {dt}")
  algorithm = RandomAlgorithm(algorithm)
  key = asarray_lax(key)
  words, wide_key = _key_words(key)
  n = math.prod(shape)
  philox = algorithm != RandomAlgorithm.RNG_THREE_FRY
  if dt == np.dtype(np.uint64):
    bits, used = _bits64(words, shape, philox)
  elif philox:
    flat, used = _philox_bits(words, n)
    bits = shapes.reshape(slicing.slice(flat, (0,), (n,)), shape)
  else:
    bits, used = _threefry_bits32(words, shape)
  if dt.itemsize < 4:
    bits = lax.convert_element_type(lax.bitwise_and(bits, _c((1 << (8 * dt.itemsize)) - 1, bits)),
                                    dt)
  new_key = _advanced_key(words, used)
  if wide_key:
    new_key = lax.bitcast_convert_type(shapes.reshape(new_key, (2, 2)), np.dtype(np.uint64))
  return new_key, bits


def _bits64(words, shape, philox):
  """uint64 output (x64): Philox pairs words 0|1 and 2|3 of each counter value
  (round-robin); Threefry runs unsplit on the whole shape."""
  u64 = np.dtype(np.uint64)
  if not dtypes.x64_enabled():
    raise TypeError("rng_bit_generator: uint64 output needs jax_enable_x64")
  n = math.prod(shape)

  def join(lo, hi):
    return lax.bitwise_or(lax.convert_element_type(lo, u64),
                          lax.shift_left(lax.convert_element_type(hi, u64),
                                         _scalar_like(32, lax.convert_element_type(hi, u64))))
  if philox:
    flat, used = _philox_bits(words, 2 * n)
    pairs = shapes.reshape(flat, (core.get_aval(flat).shape[0] // 2, 2))
    vals = join(slicing.index_in_dim(pairs, 0, 1, keepdims=False),
                slicing.index_in_dim(pairs, 1, 1, keepdims=False))
    return shapes.reshape(slicing.slice(vals, (0,), (n,)), shape), used
  k0, k1, lo0, lo1 = (_word(words, i) for i in range(4))
  idx = shapes.reshape(shapes.iota(_U32, n), shape)
  w0, w1, _ = _counter_plus(lo0, lo1, idx)
  o0, o1 = _threefry2x32(w0, w1, shapes.broadcast_in_dim(k0, shape, ()),
                         shapes.broadcast_in_dim(k1, shape, ()))
  return join(o0, o1), n
