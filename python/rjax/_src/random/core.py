"""``rjax.random``: JAX's PRNG, bit for bit.

Keys are threefry2x32 keys, and every sampler follows JAX 0.10.2's
``jax/_src/random/core.py`` and ``threefry2x32.py`` in its default
``jax_threefry_partitionable=True`` mode: the n-th random word of a draw of
shape ``s`` is ``threefry2x32(key, (hi(n), lo(n)))``, n the row-major index.
Only the hash is a primitive (``random/prng.py``); the rest is lax and
rjax.numpy, so it works under ``jit``, ``vmap`` (also over keys) and ``grad``.

Keys come in two forms, as in JAX: legacy raw keys (uint32 arrays whose last
dimension is 2, from ``PRNGKey``) and typed keys (``PRNGKeyArray``, from
``key``). Every function accepts both and returns keys in the form it was
given. Where rjax differs from JAX: a typed key is a pytree node holding its
uint32 data (JAX has an extended dtype ``key<fry>``), so jaxprs show the hash
and the lax ops, not ``random_bits``/``random_wrap``; and transformations see
the data's trailing dimension (use ``in_axes``/``out_axes`` >= 0 for typed keys).
The rejection samplers JAX writes with ``while_loop`` (gamma, loggamma, beta,
dirichlet, t, chisquare, f, poisson; in ``random/loops.py``) follow JAX's
loops step for step and run on ``lax.while_loop``; JAX's ``random_gamma`` primitive is here a composite (a
vmapped ``_gamma_one`` under a ``custom_jvp`` whose rule is JAX's implicit
reparameterisation gradient), so jaxprs show the loops. Their floats agree
with JAX's to a few ulp, not always bit for bit: rjax's log/exp/pow kernels
are not XLA's, and XLA flushes subnormal results to zero.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import dtypes, tree_util
from rjax._src.interpreters.custom_derivatives import stop_gradient
from rjax._src.lax import lax, reductions, shapes, slicing  # noqa: F401
from rjax._src.lax.utils import asarray_lax
from rjax._src.numpy import linalg_decomp as jla
from rjax._src.random.prng import threefry2x32
from rjax._src.transforms.jit import jit

_UINT = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}


# ---------------------------------------------------------------------------
# Typed keys


class KeyTy:
  """The dtype of a typed key array (JAX's ``key<fry>``)."""
  name = "key<fry>"
  itemsize = 8

  def __repr__(self):
    return self.name

  __str__ = __repr__

  def __eq__(self, other):
    return isinstance(other, KeyTy) or other == self.name

  def __hash__(self):
    return hash(self.name)


key_dtype_fry = KeyTy()


class PRNGKeyArray:
  """An array of threefry2x32 keys: ``shape`` is the key array's shape; the
  data (``key_data``) is uint32 of shape ``shape + (2,)``."""
  __slots__ = ("_base",)

  def __init__(self, base):
    self._base = base

  @property
  def shape(self) -> tuple:
    return tuple(core.get_aval(self._base).shape[:-1])

  @property
  def ndim(self) -> int:
    return len(self.shape)

  @property
  def size(self) -> int:
    return math.prod(self.shape)

  @property
  def dtype(self) -> KeyTy:
    return key_dtype_fry

  def __len__(self):
    if not self.shape:
      raise TypeError("len() of unsized object")
    return self.shape[0]

  def __iter__(self):
    if not self.shape:
      raise TypeError("iteration over a 0-d key array")
    return (self[i] for i in range(self.shape[0]))

  def __getitem__(self, idx):
    idx = idx if isinstance(idx, tuple) else (idx,)
    if any(i is Ellipsis for i in idx):
      idx = idx + (slice(None),)
    return PRNGKeyArray(self._base[idx])

  def reshape(self, *shape):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return PRNGKeyArray(jnp.reshape(self._base, tuple(shape) + (2,)))

  def ravel(self):
    return self.reshape(-1)

  flatten = ravel

  def __eq__(self, other):
    if not isinstance(other, PRNGKeyArray):
      return NotImplemented
    return jnp.all(self._base == other._base, axis=-1)

  def __ne__(self, other):
    if not isinstance(other, PRNGKeyArray):
      return NotImplemented
    return jnp.any(self._base != other._base, axis=-1)

  __hash__ = None

  def block_until_ready(self):
    if hasattr(self._base, "block_until_ready"):
      self._base.block_until_ready()
    return self

  def __repr__(self):
    if isinstance(self._base, core.Tracer):
      return f"PRNGKeyArray(shape={self.shape}, dtype={self.dtype}, data={self._base!r})"
    return f"Array({self.shape}, dtype={self.dtype}) overlaying:\n{np.asarray(self._base)}"


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ((k._base,), None),
                               lambda _, children: PRNGKeyArray(children[0]))


def _is_typed(x) -> bool:
  return isinstance(x, PRNGKeyArray)


def _check_key_data(name: str, data):
  """The uint32 key data of a raw key, or a clear error."""
  if isinstance(data, (int, float, bool)) or data is None:
    raise TypeError(f"{name}: unexpected PRNG key type {type(data).__name__}; pass a key from "
                    f"rjax.random.key or rjax.random.PRNGKey")
  data = data if isinstance(data, core.Tracer) else asarray_lax(data)
  aval = core.get_aval(data)
  if aval.ndim < 1 or aval.shape[-1] != 2:
    raise TypeError(f"{name}: invalid PRNG key data: expected a uint32 array whose last "
                    f"dimension is 2 (threefry2x32), got shape {aval.shape}")
  if aval.dtype != dtypes.uint32:
    raise TypeError(f"{name}: invalid PRNG key data: expected dtype uint32, got "
                    f"{aval.dtype.name}")
  return data


def _check_prng_key(name: str, key, allow_batched: bool = False):
  """``(raw uint32 key data, was_typed)``; a single key unless ``allow_batched``."""
  if _is_typed(key):
    data, typed = key._base, True
  else:
    data, typed = _check_key_data(name, key), False
  shape = core.get_aval(data).shape[:-1]
  if not allow_batched and shape:
    raise ValueError(f"{name} accepts a single key, but was given a key array of shape "
                     f"{shape} != (). Use rjax.vmap for batching.")
  return data, typed


def _return_keys(typed: bool, data):
  return PRNGKeyArray(data) if typed else data


def _canonical_shape(name: str, shape) -> tuple:
  if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
    shape = (shape,)
  try:
    out = tuple(shape)
  except TypeError:
    raise TypeError(f"{name}: shape must be a tuple of non-negative ints, got {shape!r}") from None
  res = []
  for d in out:
    if isinstance(d, core.Tracer):
      raise TypeError(f"{name}: shapes must be static Python ints, got a traced value {d!r}. "
                      f"Pass the shape as a static argument (static_argnums) under jit.")
    try:
      i = int(d)
    except (TypeError, ValueError):
      raise TypeError(f"{name}: shape must be a tuple of non-negative ints, got {shape!r}") \
          from None
    if i != d or i < 0:
      raise TypeError(f"{name}: shape must be a tuple of non-negative ints, got {shape!r}")
    res.append(i)
  return tuple(res)


def _jit(static_argnames: Sequence[str]):
  """jit with static args, plus the x64 flag in the cache key (the traced
  program depends on default dtypes)."""
  def wrap(f):
    @functools.wraps(f)
    def g(*args, **kwargs):
      kwargs.pop("_x64")
      return f(*args, **kwargs)
    jf = jit(g, static_argnames=tuple(static_argnames) + ("_x64",))

    @functools.wraps(f)
    def call(*args, **kwargs):
      return jf(*args, _x64=dtypes.x64_enabled(), **kwargs)
    return call
  return wrap


# ---------------------------------------------------------------------------
# The threefry2x32 PRNG implementation (jax/_src/random/threefry2x32.py)


def _u32(v):
  return np.uint32(v)


def _split_key(k):
  """A raw key's two words, each rank 0."""
  return (shapes.reshape(slicing.slice(k, (0,), (1,)), ()),
          shapes.reshape(slicing.slice(k, (1,), (2,)), ()))


def _iota_2x32(shape):
  """(hi, lo) words of the row-major 64-bit index over ``shape`` (JAX's
  ``iota_2x32_shape``). hi is rank 0 (zero): sizes stay below 2**32."""
  n = math.prod(shape)
  if n >= 2 ** 32:
    raise NotImplementedError(f"random arrays of 2**32 or more elements (shape {shape})")
  zero = asarray_lax(_u32(0))
  if not shape:
    return zero, zero
  # As JAX lowers it: a sum of small per-dimension iotas times the strides
  # (one fused pass), not one big iota. n is first factored as rows x cols.
  cols = next((d for d in range(math.isqrt(n), 0, -1) if n % d == 0), 1)
  if cols < 16:
    return zero, shapes.reshape(shapes.iota(dtypes.uint32, n), shape)
  rows = n // cols
  r = shapes.broadcasted_iota(dtypes.uint32, (rows, 1), 0)
  c = shapes.broadcasted_iota(dtypes.uint32, (1, cols), 1)
  lo = lax.add(lax.mul(r, asarray_lax(_u32(cols))), c)
  return zero, shapes.reshape(lo, shape)


def _threefry_seed(seed):
  """Raw key from an integer seed: (seed >> 32, seed & 0xFFFFFFFF)."""
  if isinstance(seed, (bool, np.bool_)):
    raise TypeError("PRNG key seed must be an integer; got a bool")
  if isinstance(seed, (int, np.integer)):
    s = int(seed)
    if dtypes.x64_enabled():
      s %= 2 ** 64
      return asarray_lax(np.array([s >> 32, s & 0xFFFFFFFF], np.uint32))
    # as JAX without x64: the seed wraps to int32 first
    return asarray_lax(np.array([0, s % 2 ** 32], np.uint32))
  seed = seed if isinstance(seed, core.Tracer) else asarray_lax(seed)
  aval = core.get_aval(seed)
  if aval.shape:
    raise TypeError(f"PRNG key seed must be a scalar; got an array of shape {aval.shape}. "
                    f"Use rjax.vmap for batching")
  if not dtypes.is_int(aval.dtype):
    raise TypeError(f"PRNG key seed must be an integer; got dtype {aval.dtype.name}")
  lo = lax.convert_element_type(seed, dtypes.uint32)
  if aval.dtype.itemsize == 8:
    hi = lax.convert_element_type(lax.shift_right_logical(seed, 32), dtypes.uint32)
  else:
    hi = asarray_lax(_u32(0))
  return shapes.concatenate([shapes.reshape(hi, (1,)), shapes.reshape(lo, (1,))], 0)


def _threefry_split(k, shape):
  k1, k2 = _split_key(k)
  hi, lo = _iota_2x32(shape)
  b1, b2 = threefry2x32(k1, k2, hi, lo)
  return jnp.stack([b1, b2], axis=len(shape))


def _threefry_fold_in(k, data):
  k1, k2 = _split_key(k)
  b1, b2 = threefry2x32(k1, k2, asarray_lax(_u32(0)), data)
  return shapes.concatenate([shapes.reshape(b1, (1,)), shapes.reshape(b2, (1,))], 0)


def _random_bits(k, bit_width: int, shape):
  """uint{bit_width} random words of ``shape`` (partitionable threefry)."""
  k1, k2 = _split_key(k)
  hi, lo = _iota_2x32(shape)
  b1, b2 = threefry2x32(k1, k2, hi, lo)
  dt = _UINT[bit_width]
  if bit_width == 64:
    hi64 = lax.convert_element_type(b1, dt)
    lo64 = lax.convert_element_type(b2, dt)
    return lax.bitwise_or(lax.shift_left(hi64, np.uint64(32)), lo64)
  x = lax.bitwise_xor(b1, b2)
  return x if bit_width == 32 else lax.convert_element_type(x, dt)


def _split(k, num=2):
  """Split a raw key inside samplers."""
  return _threefry_split(k, (num,) if isinstance(num, int) else tuple(num))


def _unstack_keys(ks):
  return [shapes.reshape(slicing.slice(ks, (i, 0), (i + 1, 2)), (2,))
          for i in range(core.get_aval(ks).shape[0])]


# ---------------------------------------------------------------------------
# Keys


def key(seed, *, impl=None) -> PRNGKeyArray:
  """A typed PRNG key (a scalar key array) from an integer seed."""
  _check_impl(impl)
  if _is_typed(seed):
    raise TypeError("key accepts a scalar seed, but was given a PRNG key.")
  if np.ndim(seed) if not isinstance(seed, core.Tracer) else core.get_aval(seed).ndim:
    raise TypeError(f"key accepts a scalar seed, but was given an array of shape "
                    f"{np.shape(seed)} != (). Use rjax.vmap for batching")
  return PRNGKeyArray(_threefry_seed(seed))


def PRNGKey(seed, *, impl=None):
  """A legacy raw key: uint32[2] from an integer seed."""
  _check_impl(impl)
  if _is_typed(seed):
    raise TypeError("PRNGKey accepts a scalar seed, but was given a PRNG key.")
  if np.ndim(seed) if not isinstance(seed, core.Tracer) else core.get_aval(seed).ndim:
    raise TypeError(f"PRNGKey accepts a scalar seed, but was given an array of shape "
                    f"{np.shape(seed)} != (). Use rjax.vmap for batching")
  return _threefry_seed(seed)


def _check_impl(impl):
  if impl not in (None, "threefry2x32", key_dtype_fry):
    raise ValueError(f'unrecognized PRNG implementation "{impl}"; rjax implements '
                     f'"threefry2x32"')


def key_dtype(impl=None) -> KeyTy:
  """The dtype of typed keys of ``impl`` (only threefry2x32: ``key<fry>``)."""
  _check_impl(impl)
  return key_dtype_fry


def key_data(keys):
  """The uint32 data of a key array (the raw key itself for raw keys)."""
  data, _ = _check_prng_key("key_data", keys, allow_batched=True)
  return data


def wrap_key_data(key_bits_array, *, impl=None) -> PRNGKeyArray:
  """A typed key array from uint32 data of shape ``(..., 2)``."""
  _check_impl(impl)
  if _is_typed(key_bits_array):
    raise TypeError("wrap_key_data: expected uint32 key data, got a typed key array")
  return PRNGKeyArray(_check_key_data("wrap_key_data", key_bits_array))


def key_impl(keys) -> str:
  _check_prng_key("key_impl", keys, allow_batched=True)
  return "threefry2x32"


def clone(key):
  """The identity (JAX uses it for key-reuse checking)."""
  return key


def split(key, num: int | tuple = 2):
  """``num`` new keys (a leading axis, or the shape ``num``)."""
  k, typed = _check_prng_key("split", key)
  shape = _canonical_shape("split", num)
  return _return_keys(typed, _split_jit(k, shape=shape))


@_jit(["shape"])
def _split_jit(k, shape):
  return _threefry_split(k, shape)


def fold_in(key, data):
  """A new key that is a deterministic function of ``key`` and the 32-bit ``data``."""
  k, typed = _check_prng_key("fold_in", key)
  if np.ndim(data) if not isinstance(data, core.Tracer) else core.get_aval(data).ndim:
    raise TypeError(f"fold_in accepts a scalar, but was given an array of shape "
                    f"{np.shape(data)} != (). Use rjax.vmap for batching.")
  if isinstance(data, (int, np.integer)) and not isinstance(data, bool):
    d = asarray_lax(np.uint32(int(data) % 2 ** 32))
  else:
    d = data if isinstance(data, core.Tracer) else asarray_lax(data)
    if not dtypes.is_int(core.get_aval(d).dtype):
      raise TypeError(f"fold_in: data must be an integer, got {core.get_aval(d).dtype.name}")
    d = lax.convert_element_type(d, dtypes.uint32)
  return _return_keys(typed, _fold_in_jit(k, d))


@_jit([])
def _fold_in_jit(k, d):
  return _threefry_fold_in(k, d)


def bits(key, shape=(), dtype=None):
  """Uniform random bits as unsigned integers (default uint32; uint64 with x64)."""
  k, _ = _check_prng_key("bits", key)
  dt = dtypes.default_uint_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)
  if not dtypes.is_unsigned(dt):
    raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dt}")
  shape = _canonical_shape("bits", shape)
  return _bits_jit(k, bit_width=dt.itemsize * 8, shape=shape)


@_jit(["bit_width", "shape"])
def _bits_jit(k, bit_width, shape):
  return _random_bits(k, bit_width, shape)


# ---------------------------------------------------------------------------
# Samplers


def _float_dtype(name: str, dtype):
  dt = dtypes.canonicalize_dtype(float if dtype is None else dtype)
  if not dtypes.is_float(dt):
    raise ValueError(f"dtype argument to `{name}` must be a float dtype, got {dt}")
  return dt


def _check_shape(name: str, shape, *param_shapes):
  if param_shapes:
    try:
      shape_ = np.broadcast_shapes(shape, *param_shapes)
    except ValueError:
      shape_ = None
    if shape_ != tuple(shape):
      raise ValueError(f"{name} parameter shapes must be broadcast-compatible with shape "
                       f"argument, and the result of broadcasting the shapes must equal the "
                       f"shape argument, but got result {shape_} for shape argument {shape}.")


def _shape_of(x):
  return tuple(core.get_aval(x).shape) if isinstance(x, core.Tracer) else np.shape(x)


def _to_rank(x, rank: int):
  """Reshape ``x`` to ``rank`` dims by adding leading 1s (lax.broadcast_to_rank)."""
  s = core.get_aval(x).shape
  if len(s) >= rank:
    return x
  return shapes.reshape(x, (1,) * (rank - len(s)) + tuple(s))


def uniform(key, shape=(), dtype=None, minval=0., maxval=1.):
  """Uniform floats in [minval, maxval)."""
  k, _ = _check_prng_key("uniform", key)
  dt = _float_dtype("uniform", dtype)
  shape = _canonical_shape("uniform", shape)
  return _uniform_jit(k, minval, maxval, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _uniform_jit(k, minval, maxval, shape, dtype):
  return _uniform(k, minval, maxval, shape, dtype)


def _uniform(k, minval, maxval, shape, dtype):
  _check_shape("uniform", shape, _shape_of(minval), _shape_of(maxval))
  minval = _to_rank(lax.convert_element_type(minval, dtype), len(shape))
  maxval = _to_rank(lax.convert_element_type(maxval, dtype), len(shape))
  finfo = dtypes.finfo(dtype)
  nbits, nmant = finfo.bits, finfo.nmant
  rng_bits = 8 if nmant < 8 else nbits
  b = _random_bits(k, rng_bits, shape)
  udt = _UINT[nbits]
  if rng_bits != nbits:
    b = lax.convert_element_type(b, udt)
  fb = lax.shift_right_logical(b, asarray_lax(np.array(rng_bits - nmant, udt)))
  fb = lax.bitwise_or(fb, asarray_lax(np.array(1.0, dtype).view(udt)))
  floats = lax.sub(lax.bitcast_convert_type(fb, dtype), asarray_lax(np.array(1.0, dtype)))
  return lax.max(minval, shapes.reshape(_fma(floats, lax.sub(maxval, minval), minval), shape))


def _fma(a, b, c):
  """``a * b + c`` rounded once, as XLA's CPU backend computes JAX's
  ``floats * (maxval - minval) + minval`` (it contracts it to an FMA).
  float32 goes through float64, where the product and, for uniform's
  operands (multiples of 2**-23 and bounds of similar magnitude), the sum are
  exact. float64 uses Dekker's error-free product and Knuth's two-sum:
  correctly rounded except in near-tie cases far rarer than 1 in 2**40.
  float16/bfloat16 are not contracted by XLA: plain multiply and add."""
  dt = core.get_aval(a).dtype
  if dt.itemsize < 4:
    return lax.add(lax.mul(a, b), c)
  if dt == dtypes.float32:
    f64 = lambda x: lax.convert_element_type_p.bind(x, new_dtype=dtypes.float64, weak_type=False)
    r = lax.add(lax.mul(f64(a), f64(b)), f64(c))
    return lax.convert_element_type_p.bind(r, new_dtype=dt, weak_type=False)

  def split(x):
    t = lax.mul(x, asarray_lax(np.float64(134217729.0)))   # 2**27 + 1
    hi = lax.sub(t, lax.sub(t, x))
    return hi, lax.sub(x, hi)
  p = lax.mul(a, b)
  (ah, al), (bh, bl) = split(a), split(b)
  e = lax.add(lax.add(lax.add(lax.sub(lax.mul(ah, bh), p), lax.mul(ah, bl)), lax.mul(al, bh)),
              lax.mul(al, bl))
  s = lax.add(p, c)
  bb = lax.sub(s, p)
  t = lax.add(lax.sub(p, lax.sub(s, bb)), lax.sub(c, bb))
  return lax.add(s, lax.add(t, e))


# XLA's float32 erf_inv (Giles' single-precision approximation, as JAX lowers
# chlo.erf_inv on CPU; XLA contracts its Horner steps to FMAs, which would
# cost here a float64 detour per step for fewer 1-2 ulp differences, so plain
# multiply-adds are used). rjax's lax.erf_inv is
# more accurate in the tails; normal and truncated_normal use this one so that
# their samples agree with JAX's to an ulp or two, not only to 1e-5.
_ERF_INV_LT5 = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERF_INV_GE5 = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


# XLA's float64 erf_inv: Giles' double-precision approximation in three
# ranges of w = -log1p(-x*x) (polynomials of degree 22, 18 and 16).
_ERF_INV64_LT6_25 = (
    -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
    1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
    6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
    2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
    1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
    4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
    0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
    0.24015818242558961693, 1.6536545626831027356)
_ERF_INV64_LT16 = (
    2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
    1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
    2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
    6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
    0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
    -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
    3.0838856104922207635)
_ERF_INV64_GE16 = (
    -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
    -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
    2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
    -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
    7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
    1.0103004648645343977, 4.8499064014085844221)


def _erf_inv64(x):
  c = lambda v: shapes.full_like(x, v)
  w = lax.neg(lax.log1p(lax.neg(lax.mul(x, x))))
  lt_6_25, lt_16 = lax.lt(w, c(6.25)), lax.lt(w, c(16.0))
  sqrt_w = lax.sqrt(w)
  w = lax.select(lt_6_25, lax.sub(w, c(3.125)),
                 lax.sub(sqrt_w, lax.select(lt_16, c(3.25), c(5.0))))

  def coef(i):
    v = c(_ERF_INV64_LT6_25[i])
    if i < 19:
      v = lax.select(lt_6_25, v, c(_ERF_INV64_LT16[i]))
    if i < 17:
      v = lax.select(lt_16, v, c(_ERF_INV64_GE16[i]))
    return v
  p = coef(0)
  for i in range(1, 17):
    p = lax.add(coef(i), lax.mul(p, w))
  for i in range(17, 19):
    p = lax.select(lt_16, lax.add(coef(i), lax.mul(p, w)), p)
  for i in range(19, 23):
    p = lax.select(lt_6_25, lax.add(coef(i), lax.mul(p, w)), p)
  return lax.select(lax.eq(lax.abs(x), c(1.0)), lax.mul(x, c(np.finfo(np.float64).max)),
                    lax.mul(p, x))


def _erf_inv(x):
  dt = core.get_aval(x).dtype
  if dt == dtypes.float64:
    return _erf_inv64(x)
  if dt != dtypes.float32:
    return lax.erf_inv(x)
  c = lambda v: asarray_lax(np.float32(v))
  w = lax.neg(lax.log1p(lax.neg(lax.mul(x, x))))
  lt = lax.lt(w, c(5.0))

  def horner(coefs, v):   # XLA selects each coefficient by `lt`: the same values
    p = c(coefs[0])
    for a in coefs[1:]:
      p = lax.add(c(a), lax.mul(p, v))
    return p
  p = lax.select(lt, horner(_ERF_INV_LT5, lax.sub(w, c(2.5))),
                 horner(_ERF_INV_GE5, lax.sub(lax.sqrt(w), c(3.0))))
  return lax.select(lax.eq(lax.abs(x), c(1.0)), lax.mul(x, c(np.finfo(np.float32).max)),
                    lax.mul(p, x))


def normal(key, shape=(), dtype=None):
  """Standard normal floats (inverse-CDF of a uniform, as JAX)."""
  k, _ = _check_prng_key("normal", key)
  dt = _float_dtype("normal", dtype)
  shape = _canonical_shape("normal", shape)
  return _normal_jit(k, shape=shape, dtype=dt)


def _normal(k, shape, dtype):
  lo = np.nextafter(np.array(-1., dtype), np.array(0., dtype), dtype=dtype)
  u = _uniform(k, asarray_lax(lo), asarray_lax(np.array(1., dtype)), shape, dtype)
  return lax.mul(asarray_lax(np.array(np.sqrt(2), dtype)), _erf_inv(u))


@_jit(["shape", "dtype"])
def _normal_jit(k, shape, dtype):
  return _normal(k, shape, dtype)


def _int_dtype(name, dtype):
  dt = dtypes.canonicalize_dtype(int if dtype is None else dtype)
  if not dtypes.is_int(dt):
    raise TypeError(f"{name} only accepts integer dtypes, got {dt}")
  return dt


def _convert_and_clip_integer(val, dtype):
  vdt = core.get_aval(val).dtype
  lo = max(int(dtypes.iinfo(dtype).min), int(dtypes.iinfo(vdt).min))
  hi = min(int(dtypes.iinfo(dtype).max), int(dtypes.iinfo(vdt).max))
  return jnp.clip(val, np.array(lo, vdt), np.array(hi, vdt)).astype(dtype)


def randint(key, shape, minval, maxval, dtype=None):
  """Uniform integers in [minval, maxval) (JAX's modulus method, 2x the bits)."""
  k, _ = _check_prng_key("randint", key)
  dt = _int_dtype("randint", dtype)
  shape = _canonical_shape("randint", shape)
  info = dtypes.iinfo(dt)
  sample_dt = dt
  if info.bits < 32:
    sample_dt = dtypes.int32
    minval = jnp.asarray(minval).astype("int32").clip(int(info.min), int(info.max))
    maxval = jnp.asarray(maxval).astype("int32").clip(int(info.min), int(info.max) + 1)
  return _randint_jit(k, minval, maxval, shape=shape, dtype=sample_dt).astype(dt)


@_jit(["shape", "dtype"])
def _randint_jit(k, minval, maxval, shape, dtype):
  return _randint(k, minval, maxval, shape, dtype)


def _randint(k, minval, maxval, shape, dtype):
  _check_shape("randint", shape, _shape_of(minval), _shape_of(maxval))
  minval, maxval = jnp.asarray(minval), jnp.asarray(maxval)
  if not dtypes.is_int(minval.dtype):
    minval = minval.astype(int)
  if not dtypes.is_int(maxval.dtype):
    maxval = maxval.astype(int)
  maxval_out_of_range = lax.gt(maxval, _convert_and_clip_integer(
      jnp.array(dtypes.iinfo(dtype).max, dtype), maxval.dtype))
  minval = _to_rank(_convert_and_clip_integer(minval, dtype), len(shape))
  maxval = _to_rank(_convert_and_clip_integer(maxval, dtype), len(shape))
  maxval_out_of_range = _to_rank(maxval_out_of_range, len(shape))
  nbits = dtypes.iinfo(dtype).bits
  k1, k2 = _unstack_keys(_split(k))
  higher, lower = _random_bits(k1, nbits, shape), _random_bits(k2, nbits, shape)
  udt = _UINT[nbits]
  span = lax.convert_element_type(lax.sub(maxval, minval), udt)
  one = asarray_lax(np.array(1, udt))
  sshape = core.get_aval(span).shape
  span = lax.select(lax.le(maxval, minval), shapes.full(sshape, 1, udt), span)
  span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)),
                    lax.add(span, one), span)
  multiplier = lax.rem(asarray_lax(np.array(2 ** (nbits // 2), udt)), span)
  multiplier = lax.rem(lax.mul(multiplier, multiplier), span)
  offset = lax.add(lax.mul(lax.rem(higher, span), multiplier), lax.rem(lower, span))
  offset = lax.rem(offset, span)
  return lax.add(minval, lax.convert_element_type(offset, dtype))


def _shuffle(k, x, axis):
  """JAX's sort-based shuffle: ceil(3 ln n / ln(2**32-1)) rounds of sorting by
  fresh random 32-bit keys."""
  exponent = 3
  uint32max = np.iinfo(np.uint32).max
  size = math.prod(core.get_aval(x).shape)
  num_rounds = int(np.ceil(exponent * np.log(max(1, size)) / np.log(uint32max)))
  for _ in range(num_rounds):
    ks = _split(k)
    k, subkey = _unstack_keys(ks)
    sort_keys = _random_bits(subkey, 32, core.get_aval(x).shape)
    _, x = reductions.sort_key_val(sort_keys, x, axis)
  return x


@_jit(["axis"])
def _shuffle_jit(k, x, axis):
  return _shuffle(k, x, axis)


@_jit(["axis", "independent"])
def _permutation_jit(k, x, axis, independent):
  if independent or x.ndim == 1:
    return _shuffle(k, x, axis)
  ind = _shuffle(k, jnp.arange(x.shape[axis]), 0)
  return jnp.take(x, ind, axis, unique_indices=True)


def _canon_axis(name, axis, ndim):
  if not -ndim <= axis < ndim:
    raise ValueError(f"{name}: axis {axis} is out of bounds for array of dimension {ndim}")
  return axis % ndim


def _concrete_int(name, x, what):
  if isinstance(x, core.Tracer):
    raise TypeError(f"{name}: {what} must be a concrete integer, got a traced value; "
                    f"pass it as a static argument under jit")
  return int(x)


def permutation(key, x, axis: int = 0, independent: bool = False):
  """A random permutation of ``arange(x)`` (int x) or of ``x`` along ``axis``."""
  k, _ = _check_prng_key("permutation", key)
  if isinstance(x, core.Tracer) or hasattr(x, "shape"):
    nd = core.get_aval(x).ndim if isinstance(x, core.Tracer) else np.ndim(x)
  else:
    nd = np.ndim(x)
  axis = _canon_axis("permutation", axis, nd or 1)
  if not nd:
    dt = core.get_aval(x).dtype if isinstance(x, core.Tracer) else np.asarray(x).dtype
    if not np.issubdtype(dt, np.integer):
      raise TypeError("x must be an integer or at least 1-dimensional")
    r = _concrete_int("permutation", x, "x")
    return _shuffle_jit(k, jnp.arange(r), axis=axis)
  return _permutation_jit(k, jnp.asarray(x), axis=axis, independent=bool(independent))


def choice(key, a, shape: Sequence[int] = (), replace: bool = True, p=None, axis: int = 0,
           mode: str | None = None):
  """Random samples of ``a`` (or ``arange(a)``), with or without replacement,
  optionally with probabilities ``p``."""
  k, _ = _check_prng_key("choice", key)
  if not isinstance(shape, Sequence):
    raise TypeError(f"shape argument of rjax.random.choice must be a sequence, got {shape}")
  shape = _canonical_shape("choice", shape)
  arr = jnp.asarray(a)
  if arr.ndim == 0:
    n_inputs = _concrete_int("choice", a, "a")
  else:
    axis = _canon_axis("choice", axis, arr.ndim)
    n_inputs = arr.shape[axis]
  n_draws = math.prod(shape)
  if n_draws == 0:
    return jnp.zeros(shape, dtype=arr.dtype)
  if n_inputs <= 0:
    raise ValueError("a must be greater than 0 unless no samples are taken")
  if not replace and n_draws > n_inputs:
    raise ValueError(f"Cannot take a larger sample (size {n_draws}) than population "
                     f"(size {n_inputs}) when 'replace=False'")
  if p is None:
    if replace:
      ind = randint(k, shape, 0, n_inputs)
      result = ind if arr.ndim == 0 else jnp.take(arr, ind, axis)
    else:
      slices = (slice(None),) * axis + (slice(n_draws),)
      result = permutation(k, n_inputs if arr.ndim == 0 else arr, axis)[slices]
  else:
    p_arr = jnp.asarray(p)
    if not dtypes.is_float(p_arr.dtype):
      p_arr = p_arr.astype(dtypes.to_inexact_dtype(p_arr.dtype))
    if p_arr.shape != (n_inputs,):
      raise ValueError(f"p must be None or a 1D vector with the same size as a.shape[axis]. "
                       f"p has shape {p_arr.shape} and a.shape[axis] is {n_inputs}.")
    if replace:
      p_cuml = jnp.cumsum(p_arr)
      r = p_cuml[-1] * (1 - uniform(k, shape, dtype=p_cuml.dtype))
      ind = jnp.searchsorted(p_cuml, r).astype(int)
    else:
      g = gumbel(k, (n_inputs,), dtype=p_arr.dtype, mode=mode) + jnp.log(p_arr)
      ind = reductions.top_k(g, n_draws)[1].astype(int)
    result = ind if arr.ndim == 0 else jnp.take(arr, ind, axis)
  return result.reshape(shape if arr.ndim == 0 else
                        arr.shape[0:axis] + tuple(shape) + arr.shape[axis + 1:])


def truncated_normal(key, lower, upper, shape=None, dtype=None):
  """Standard normal floats truncated to the open interval (lower, upper)."""
  k, _ = _check_prng_key("truncated_normal", key)
  dt = _float_dtype("truncated_normal", dtype)
  if shape is None:
    shape = np.broadcast_shapes(_shape_of(lower), _shape_of(upper))
  shape = _canonical_shape("truncated_normal", shape)
  return _truncated_normal_jit(k, lower, upper, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _truncated_normal_jit(k, lower, upper, shape, dtype):
  _check_shape("truncated_normal", shape, _shape_of(lower), _shape_of(upper))
  sqrt2 = asarray_lax(np.array(np.sqrt(2), dtype))
  lower = lax.convert_element_type(lower, dtype)
  upper = lax.convert_element_type(upper, dtype)
  a = lax.erf(lax.div(lower, sqrt2))
  b = lax.erf(lax.div(upper, sqrt2))
  u = _uniform(k, a, b, shape, dtype)
  out = lax.mul(sqrt2, _erf_inv(u))
  inf = asarray_lax(np.array(np.inf, dtype))
  lo = lax.nextafter(stop_gradient(lower), inf)
  hi = lax.nextafter(stop_gradient(upper), lax.neg(inf))
  return jnp.clip(out, lo, hi)


def bernoulli(key, p=0.5, shape=None, mode: str = "low"):
  """Booleans that are True with probability ``p``."""
  if mode not in ("high", "low"):
    raise ValueError(f"got mode={mode!r}, expected 'high' or 'low'")
  k, _ = _check_prng_key("bernoulli", key)
  p = jnp.asarray(p)
  if not dtypes.is_float(p.dtype):
    raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {p.dtype}.")
  if shape is None:
    shape = p.shape
  shape = _canonical_shape("bernoulli", shape)
  return _bernoulli_jit(k, p, shape=shape, mode=mode)


@_jit(["shape", "mode"])
def _bernoulli_jit(k, p, shape, mode):
  _check_shape("bernoulli", shape, p.shape)
  dtype = p.dtype
  if mode == "high":
    u = _uniform(k, 0., 1., (2, *shape), dtype)
    u1, u2 = u[0], u[1]
    u2 = u2 * asarray_lax(np.array(2.0 ** -dtypes.finfo(dtype).nmant, dtype))
    return u2 < p - u1
  return _uniform(k, 0., 1., shape, dtype) < p


def _simple_sampler(name, body):
  """A sampler ``f(key, shape=(), dtype=None)`` built from ``body(k, shape, dtype)``."""
  jitted = _jit(["shape", "dtype"])(body)

  def sampler(key, shape=(), dtype=None):
    k, _ = _check_prng_key(name, key)
    dt = _float_dtype(name, dtype)
    return jitted(k, shape=_canonical_shape(name, shape), dtype=dt)
  sampler.__name__ = sampler.__qualname__ = name
  return sampler


def _exponential(k, shape, dtype):
  u = _uniform(k, 0., 1., shape, dtype)
  return lax.neg(lax.log1p(lax.neg(u)))


def _laplace(k, shape, dtype):
  u = _uniform(k, -1. + dtypes.finfo(dtype).epsneg, 1., shape, dtype)
  return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def _logistic(k, shape, dtype):
  x = _uniform(k, dtypes.finfo(dtype).tiny, 1., shape, dtype)
  return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def _cauchy(k, shape, dtype):
  u = _uniform(k, dtypes.finfo(dtype).eps, 1., shape, dtype)
  pi = asarray_lax(np.array(np.pi, dtype))
  return lax.tan(lax.mul(pi, lax.sub(u, asarray_lax(np.array(0.5, dtype)))))


exponential = _simple_sampler("exponential", _exponential)
exponential.__doc__ = "Exponential(1) floats: -log1p(-u)."
laplace = _simple_sampler("laplace", _laplace)
laplace.__doc__ = "Laplace(0, 1) floats."
logistic = _simple_sampler("logistic", _logistic)
logistic.__doc__ = "Logistic(0, 1) floats."
cauchy = _simple_sampler("cauchy", _cauchy)
cauchy.__doc__ = "Standard Cauchy floats."


def gumbel(key, shape=(), dtype=None, mode: str | None = None):
  """Standard Gumbel floats (mode 'low' or 'high' dynamic range)."""
  k, _ = _check_prng_key("gumbel", key)
  dt = _float_dtype("gumbel", dtype)
  shape = _canonical_shape("gumbel", shape)
  mode = "low" if mode is None else mode
  if mode not in ("highest", "high", "low"):
    raise ValueError(f"Must provide valid mode for gumbel got: {mode}")
  return _gumbel_jit(k, shape=shape, dtype=dt, mode=mode)


def _safe_int_to_float(hi, lo):
  """64 random bits (two uint32 words) to a float32 in (0, 1) keeping all
  the precision of small values (JAX's ``_safe_int_to_float``)."""
  finfo = np.finfo(np.float32)
  u = lambda v: asarray_lax(np.uint32(v))
  hiclz, loclz = lax.clz(hi), lax.clz(lo)
  hi_zero = lax.eq(hiclz, u(32))
  mantissa = lax.bitwise_or(
      lax.shift_left(hi, hiclz),
      lax.select(hi_zero, lax.shift_left(lo, loclz),
                 lax.shift_right_logical(lo, lax.sub(u(finfo.bits), hiclz))))
  mantissa = lax.shift_right_logical(mantissa, u(finfo.bits - finfo.nmant - 1))
  mantissa = lax.bitwise_and(mantissa, u((1 << finfo.nmant) - 1))
  exp = lax.shift_left(lax.sub(u(-finfo.minexp), lax.select(hi_zero, lax.add(loclz, u(32)), hiclz)),
                       u(finfo.nmant))
  exp = lax.bitwise_and(exp, u((1 << (finfo.bits - 2)) - (1 << (finfo.nmant - 1))))
  return lax.bitcast_convert_type(lax.bitwise_or(exp, mantissa), dtypes.float32)


def _gumbel(k, shape, dtype, mode):
  info = dtypes.finfo(dtype)
  if dtype == dtypes.float32 and mode == "highest":
    b = _random_bits(k, 32, (2,) + shape)
    neg = jnp.invert(b)
    lo_bits = neg[1]
    neg = neg + jnp.stack([(lo_bits == np.uint32(0xFFFFFFFF)).astype(np.uint32),
                           jnp.ones_like(lo_bits)])
    flip = b[0] < np.uint32(1 << 31)
    sel = jnp.where(flip, b, neg)
    x = _safe_int_to_float(sel[0], sel[1])
    return jnp.where(flip, -jnp.log(-jnp.log1p(-x)), -jnp.log(-jnp.log(x)))
  if mode in ("high", "highest"):
    u = _uniform(k, 0., 1., (2,) + shape, dtype)
    high, low = u[0], u[1]
    x = jnp.where(high >= 0.5, high, high + 2 ** -(info.nmant) * low + info.tiny)
    return -jnp.log(-jnp.log1p(-x))
  return -jnp.log(-jnp.log(_uniform(k, info.tiny, 1., shape, dtype)))


@_jit(["shape", "dtype", "mode"])
def _gumbel_jit(k, shape, dtype, mode):
  return _gumbel(k, shape, dtype, mode)


def categorical(key, logits, axis: int = -1, shape=None, replace: bool = True,
                mode: str | None = None):
  """Samples of categorical distributions given by ``logits`` along ``axis``
  (the Gumbel-max trick; Gumbel top-k without replacement)."""
  k, _ = _check_prng_key("categorical", key)
  logits_arr = jnp.asarray(logits)
  if not dtypes.is_float(logits_arr.dtype):
    logits_arr = logits_arr.astype(dtypes.to_inexact_dtype(logits_arr.dtype))
  axis = _canon_axis("categorical", axis, logits_arr.ndim)
  batch_shape = tuple(np.delete(logits_arr.shape, axis))
  if shape is None:
    shape = batch_shape
  else:
    shape = _canonical_shape("categorical", shape)
    _check_shape("categorical", shape, batch_shape)
  mode = "low" if mode is None else mode
  shape_prefix = shape[:len(shape) - len(batch_shape)]
  if replace:
    ax = axis - logits_arr.ndim
    logits_shape = list(shape[len(shape) - len(batch_shape):])
    logits_shape.insert(ax % logits_arr.ndim, logits_arr.shape[ax])
    g = gumbel(k, (*shape_prefix, *logits_shape), logits_arr.dtype, mode=mode)
    if shape_prefix:
      logits_arr = jnp.expand_dims(logits_arr, tuple(range(len(shape_prefix))))
    return jnp.argmax(g + logits_arr, axis=ax)
  logits_arr = logits_arr + gumbel(k, logits_arr.shape, logits_arr.dtype, mode=mode)
  kk = math.prod(shape_prefix)
  if kk > logits_arr.shape[axis]:
    raise ValueError(f"Number of samples without replacement ({kk}) cannot exceed number of "
                     f"categories ({logits_arr.shape[axis]}).")
  _, indices = reductions.top_k(jnp.moveaxis(logits_arr, axis, -1), kk)
  dimensions = (indices.ndim - 1, *range(indices.ndim - 1))
  return shapes.reshape(shapes.transpose(indices, dimensions), shape)


def rademacher(key, shape=(), dtype=None):
  """-1 or +1 with equal probability (integers by default)."""
  k, _ = _check_prng_key("rademacher", key)
  dt = dtypes.canonicalize_dtype(int if dtype is None else dtype)
  shape = _canonical_shape("rademacher", shape)
  return _rademacher_jit(k, shape=shape, dtype=dt)


@_jit(["shape", "dtype"])
def _rademacher_jit(k, shape, dtype):
  fdt = dtypes.default_float_dtype()   # JAX: bernoulli(p=0.5), p's dtype
  b = (_uniform(k, 0., 1., shape, fdt) < 0.5).astype(dtype)
  return (2 * b - 1).astype(dtype)


# -- samplers that need a matrix factorisation (rjax.numpy.linalg's, as JAX)


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method: str = "cholesky"):
  """Multivariate normal samples ``mean + F @ z`` with ``F`` a factor of
  ``cov`` (F F^T = cov): its Cholesky factor, or from its 'eigh' or 'svd'."""
  k, _ = _check_prng_key("multivariate_normal", key)
  if method not in {"svd", "eigh", "cholesky"}:
    raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
  mean, cov = jnp.asarray(mean), jnp.asarray(cov)
  dt = jnp.result_type(mean.dtype, cov.dtype)
  if not dtypes.is_float(dt):
    dt = dtypes.to_inexact_dtype(dt)
  if dtype is not None:
    dt = _float_dtype("multivariate_normal", dtype)
  if mean.ndim < 1:
    raise ValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == {mean.ndim}")
  if cov.ndim < 2:
    raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == {cov.ndim}")
  n = mean.shape[-1]
  if cov.shape[-2:] != (n, n):
    raise ValueError(f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, but got "
                     f"cov.shape == {cov.shape}.")
  if shape is None:
    shape = np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2])
  else:
    shape = _canonical_shape("multivariate_normal", shape)
    _check_shape("normal", shape, mean.shape[:-1], cov.shape[:-2])
  return _mvn_jit(k, mean.astype(dt), cov.astype(dt), shape=tuple(shape), dtype=dt, method=method)


@_jit(["shape", "dtype", "method"])
def _mvn_jit(k, mean, cov, shape, dtype, method):
  if method == "svd":
    u, s, _ = jla.svd(cov)
    factor = u * jnp.sqrt(s[..., None, :])
  elif method == "eigh":
    w, v = jla.eigh(cov)
    factor = v * jnp.sqrt(w[..., None, :])
  else:
    factor = jla.cholesky(cov)
  z = _normal(k, shape + mean.shape[-1:], dtype)
  return mean + jnp.einsum("...ij,...j->...i", factor, z)


def orthogonal(key, n: int, shape=(), dtype=None, m: int | None = None):
  """A Haar-random (semi-)orthogonal n x m matrix (batch ``shape``)."""
  k, _ = _check_prng_key("orthogonal", key)
  dt = _float_dtype("orthogonal", dtype)
  shape = _canonical_shape("orthogonal", shape)
  n = _concrete_int("orthogonal", n, "n")
  m = n if m is None else _concrete_int("orthogonal", m, "m")
  return _orthogonal_jit(k, n=n, m=m, shape=shape, dtype=dt)


@_jit(["n", "m", "shape", "dtype"])
def _orthogonal_jit(k, n, m, shape, dtype):
  z = _normal(k, (*shape, max(n, m), min(n, m)), dtype)
  q, r = jla.qr(z)
  d = jnp.diagonal(r, axis1=-2, axis2=-1)
  x = q * jnp.expand_dims(jnp.sign(d), -2)
  return jnp.swapaxes(x, -1, -2) if n < m else x


__all__ = ["PRNGKey", "PRNGKeyArray", "key", "key_data", "key_dtype", "wrap_key_data", "key_impl", "clone",
           "split", "fold_in", "bits", "uniform", "normal", "randint", "bernoulli",
           "categorical", "choice", "permutation", "truncated_normal", "exponential", "laplace",
           "logistic", "gumbel", "multivariate_normal", "orthogonal", "rademacher", "cauchy"]
