"""Image resampling (``jax.image``): ``resize`` and ``scale_and_translate``
with JAX's kernels (nearest, linear, Lanczos 3/5, Keys cubic, the OpenCV /
PyTorch cubic, area), antialiasing, and JAX's arithmetic: each resized axis
is one contraction with a (input size x output size) weight matrix built
from the kernel, so the numbers are JAX's to rounding.
"""
from __future__ import annotations

import enum
import math
import operator
import string
from typing import Callable, Sequence

import numpy as np

from rjax._src import core
from rjax._src import numpy as jnp
from rjax._src.base import dtypes, errors
from rjax._src.transforms.jit import jit

__all__ = ["ResizeMethod", "resize", "scale_and_translate"]


# ---------------------------------------------------------------------------
# Kernels, on |distance| in input pixels (already divided by the kernel scale)


def _lanczos(radius: float, x):
  y = radius * jnp.sin(np.pi * x) * jnp.sin(np.pi * x / radius)
  out = jnp.where(x > 0.001, jnp.divide(y, jnp.where(x != 0, np.pi ** 2 * x ** 2, 1)), 1)
  return jnp.where(x > radius, 0.0, out)


def _keys_cubic(x):
  out = (1.5 * x - 2.5) * x * x + 1.0
  out = jnp.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
  return jnp.where(x >= 2.0, 0.0, out)


def _opencv_cubic(x):
  a = -0.75
  out = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
  out = jnp.where(x >= 1.0, ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a, out)
  return jnp.where(x >= 2.0, 0.0, out)


def _triangle(x):
  return jnp.maximum(0, 1 - jnp.abs(x))


_AREA = object()   # the area kernel: overlap of output and input pixel intervals


class ResizeMethod(enum.Enum):
  """The resampling kernels (``jax.image.ResizeMethod``)."""
  NEAREST = 0
  LINEAR = 1
  LANCZOS3 = 2
  LANCZOS5 = 3
  CUBIC = 4
  CUBIC_PYTORCH = 5
  AREA = 6

  @staticmethod
  def from_string(s: str) -> "ResizeMethod":
    names = {"nearest": ResizeMethod.NEAREST, "linear": ResizeMethod.LINEAR,
             "bilinear": ResizeMethod.LINEAR, "trilinear": ResizeMethod.LINEAR,
             "triangle": ResizeMethod.LINEAR, "lanczos3": ResizeMethod.LANCZOS3,
             "lanczos5": ResizeMethod.LANCZOS5, "cubic": ResizeMethod.CUBIC,
             "bicubic": ResizeMethod.CUBIC, "tricubic": ResizeMethod.CUBIC,
             "cubic-pytorch": ResizeMethod.CUBIC_PYTORCH,
             "bicubic-pytorch": ResizeMethod.CUBIC_PYTORCH, "area": ResizeMethod.AREA}
    if s not in names:
      raise ValueError(f'Unknown resize method "{s}"')
    return names[s]


_KERNELS = {ResizeMethod.LINEAR: (1, _triangle),
            ResizeMethod.LANCZOS3: (3, lambda x: _lanczos(3.0, x)),
            ResizeMethod.LANCZOS5: (5, lambda x: _lanczos(5.0, x)),
            ResizeMethod.CUBIC: (2, _keys_cubic),
            ResizeMethod.CUBIC_PYTORCH: (2, _opencv_cubic),
            ResizeMethod.AREA: (1, _AREA)}


def _normalize(weights, dtype_eps_guard=1000.0 * float(np.finfo(np.float32).eps)):
  total = jnp.sum(weights, axis=0, keepdims=True)
  return jnp.where(jnp.abs(total) > dtype_eps_guard,
                   jnp.divide(weights, jnp.where(total != 0, total, 1)), 0)


def _weight_matrix(in_size: int, out_size: int, scale, translation, kernel, antialias: bool,
                   edge_padding: bool, radius: int):
  """The [in_size, out_size] matrix whose column j holds the weights of each
  input pixel in output pixel j (columns normalised to sum to 1)."""
  dtype = dtypes.result_type(scale, translation)
  inv_scale = 1.0 / scale
  kernel_scale = jnp.maximum(inv_scale, 1.0) if antialias else 1.0
  sample_f = ((jnp.arange(out_size, dtype=dtype) + 0.5) * inv_scale - translation * inv_scale
              - 0.5)
  k = 0
  if edge_padding:
    if antialias:
      if isinstance(scale, core.Tracer):
        raise errors.ConcretizationTypeError(
            "scale_and_translate: antialiasing with edge padding requires a static scale.")
      k = math.ceil(radius * max(1.0 / float(scale), 1.0))
    else:
      k = radius
  positions = jnp.arange(-k, in_size + k, dtype=dtype)
  if kernel is _AREA:
    lo_out = jnp.arange(out_size, dtype=dtype) * inv_scale - translation * inv_scale
    hi_out = lo_out + inv_scale
    lo_in = jnp.arange(in_size, dtype=dtype)
    hi_in = lo_in + 1.0
    weights = jnp.maximum(0.0, jnp.minimum(hi_out[None, :], hi_in[:, None])
                          - jnp.maximum(lo_out[None, :], lo_in[:, None]))
  else:
    weights = kernel(jnp.abs(sample_f[None, :] - positions[:, None]) / kernel_scale)
  if edge_padding:
    clamped = jnp.clip(positions.astype(np.int32), 0, in_size - 1)
    cols = jnp.broadcast_to(jnp.arange(out_size)[None, :], (positions.shape[0], out_size))
    mat = jnp.zeros((in_size, out_size), dtype=dtype).at[clamped[:, None], cols].add(weights)
    return _normalize(mat)
  weights = _normalize(weights)
  inside = jnp.logical_and(sample_f >= -0.5, sample_f <= in_size - 0.5)
  return jnp.where(inside[None, :], weights, 0)


def _apply(x, out_shape, spatial_dims, scales, translations, kernel, antialias, precision,
           edge_padding, radius):
  if not spatial_dims:
    return x
  letters = iter(string.ascii_letters)
  in_sub = [next(letters) for _ in range(x.ndim)]
  out_sub = list(in_sub)
  operands, subs = [x], ["".join(in_sub)]
  for i, d in enumerate(spatial_dims):
    d = operator.index(d) % x.ndim
    w = _weight_matrix(x.shape[d], out_shape[d], scales[i], translations[i], kernel, antialias,
                       edge_padding, radius).astype(x.dtype)
    new = next(letters)
    operands.append(w)
    subs.append(in_sub[d] + new)
    out_sub[d] = new
  return jnp.einsum(",".join(subs) + "->" + "".join(out_sub), *operands, precision=precision)


def _inexact(x):
  x = jnp.asarray(x)
  return x if dtypes.is_inexact(x.dtype) else x.astype(dtypes.to_inexact_dtype(x.dtype))


def _shape(name, shape, image) -> tuple:
  shape = tuple(operator.index(d) for d in shape)
  if len(shape) != jnp.ndim(image):
    raise ValueError(f"shape must have length equal to the number of dimensions of x;  {shape} "
                     f"vs {jnp.shape(image)}")
  return shape


def _method(method) -> ResizeMethod:
  if isinstance(method, str):
    return ResizeMethod.from_string(method)
  if not isinstance(method, ResizeMethod):
    raise TypeError(f"method must be a str or a ResizeMethod, got {method!r}")
  return method


def scale_and_translate(image, shape: Sequence[int], spatial_dims: Sequence[int], scale,
                        translation, method, antialias: bool = True, precision=None):
  """Resample ``image`` to ``shape``: along each of ``spatial_dims``, output
  pixel ``j`` samples input position ``(j + 0.5 - translation) / scale - 0.5``
  with the kernel of ``method`` (not 'nearest'), stretched by ``1/scale`` when
  downsampling with ``antialias``. Differentiable in the image, the scale and
  the translation."""
  shape = _shape("scale_and_translate", shape, image)
  method = _method(method)
  if method == ResizeMethod.NEAREST:
    raise ValueError("Nearest neighbor resampling is not currently supported for "
                     "scale_and_translate.")
  if method == ResizeMethod.CUBIC_PYTORCH and antialias:
    method = ResizeMethod.CUBIC
  radius, kernel = _KERNELS[method]
  edge_padding = method == ResizeMethod.CUBIC_PYTORCH and not antialias
  image = _inexact(image)
  st = jnp.asarray(scale), jnp.asarray(translation)
  ft = dtypes.result_type(*st)
  if not dtypes.is_float(ft):
    ft = dtypes.to_inexact_dtype(ft)
  scale, translation = st[0].astype(ft), st[1].astype(ft)
  if scale.shape != (len(spatial_dims),) or translation.shape != (len(spatial_dims),):
    raise ValueError(f"scale_and_translate: scale and translation need one entry per spatial "
                     f"dim ({len(spatial_dims)}), got shapes {scale.shape} and "
                     f"{translation.shape}")
  return _apply(image, shape, tuple(spatial_dims), [scale[i] for i in range(len(spatial_dims))],
                [translation[i] for i in range(len(spatial_dims))], kernel, antialias,
                precision, edge_padding, radius)


def _resize_nearest(x, out_shape):
  for d in range(x.ndim):
    m, n = x.shape[d], out_shape[d]
    if m == n:
      continue
    offsets = jnp.floor(((jnp.arange(n, dtype=np.float32) + 0.5) * m / n).astype(np.float32))
    idx = [slice(None)] * x.ndim
    idx[d] = offsets.astype(np.int32)
    x = x[tuple(idx)]
  return x


def _resize_impl(image, shape, method, antialias, precision):
  if method == ResizeMethod.NEAREST:
    return _resize_nearest(image, shape)
  image = _inexact(image)
  spatial = tuple(i for i in range(len(shape)) if image.shape[i] != shape[i])
  if method == ResizeMethod.CUBIC_PYTORCH and antialias:
    method = ResizeMethod.CUBIC
  radius, kernel = _KERNELS[method]
  scales = [1.0 if shape[d] == 0 else shape[d] / image.shape[d] for d in spatial]
  edge_padding = method == ResizeMethod.CUBIC_PYTORCH and not antialias
  return _apply(image, shape, spatial, scales, [0.0] * len(spatial), kernel, antialias,
                precision, edge_padding, radius)


_resize_jit = jit(_resize_impl, static_argnums=(1, 2, 3, 4))


def resize(image, shape: Sequence[int], method, antialias: bool = True, precision=None):
  """``image`` resampled to ``shape`` (every axis whose size changes), with
  ``method``: 'nearest', 'linear' (bilinear...), 'lanczos3', 'lanczos5',
  'cubic' (Keys), 'cubic-pytorch' or 'area', or a :class:`ResizeMethod`.
  Downsampling with ``antialias`` (the default) widens the kernel, as in JAX
  and TensorFlow; values are not clipped to the input's range."""
  shape = _shape("resize", shape, image)
  return _resize_jit(image, shape, _method(method), bool(antialias), precision)
