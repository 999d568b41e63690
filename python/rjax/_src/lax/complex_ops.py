"""The parts of complex numbers: ``complex``, ``real``, ``imag``, ``conj``.

Each is linear over the reals, and its transpose is JAX's (the adjoint
with respect to the real inner product ``re(sum(a * b))``, with no
conjugation in transposition): ``real``'s transpose is ``complex(t, 0)``,
``imag``'s is ``complex(0, -t)``, ``complex``'s is ``(real(t), -imag(t))``
and ``conj``'s is ``conj(t)`` (``real(t)`` for a real operand). With these,
``grad`` of a real function of complex inputs gives JAX's conjugate
convention by itself.
"""
from __future__ import annotations

import numpy as np

from rjax._src import core
from rjax._src.base import dtypes
from rjax._src.core import ShapedArray
from rjax._src.interpreters import ad, batching, lowering, reference
# The rules use elementwise, shape and reduction ops, whose modules import this one:
# the lax modules import each other as modules, looked up at call time.
from rjax._src.lax import lax, reductions, shapes
from rjax._src.lax.utils import (_lax_binary_args, asarray_lax, binop_shape_dtype, export,
                                 standard_primitive, standard_unop)

_parts = ("float32", "float64")


def _check_parts(name: str, aval: ShapedArray, argname: str = "x") -> None:
  if aval.dtype.name not in _parts:
    raise TypeError(f"{name} does not accept dtype {aval.dtype.name} for argument {argname}; "
                    f"it accepts float32 or float64")


def _zeros_like(x):
  return shapes.full_like(x, 0)


# -- complex(x, y) = x + i y ----------------------------------------------------------


def _complex_abstract_eval(x, y):
  shape, dt, weak = binop_shape_dtype("complex", (x, y), "float")
  _check_parts("complex", x)
  return ShapedArray(shape, dtypes.complex_dtype(dt), weak)


def _complex_transpose(t, x, y):
  if isinstance(t, ad.Zero):
    return [None, None]
  re, im = real_p.bind(t), imag_p.bind(t)
  return [_unbroadcast(x, re) if ad.is_undefined_primal(x) else None,
          _unbroadcast(y, lax.neg(im)) if ad.is_undefined_primal(y) else None]


def _unbroadcast(x, ct):
  """``ct`` summed back to the shape of ``x`` (lax broadcasting)."""
  shape = x.aval.shape
  if ct.shape == shape:
    return ct
  if not shape:
    return reductions.reduce_sum(ct, tuple(range(ct.ndim)))
  axes = tuple(i for i, (a, b) in enumerate(zip(shape, ct.shape)) if a == 1 and b != 1)
  return shapes.reshape(reductions.reduce_sum(ct, axes), shape)


def _complex_reference(x, y):
  out = np.empty(np.broadcast(x, y).shape, dtypes.complex_dtype(x.dtype))
  out.real, out.imag = x, y
  return out


complex_p = standard_primitive("complex", _complex_abstract_eval)
ad.deflinear(complex_p, _complex_transpose)
batching.defbroadcasting(complex_p)
reference.register(complex_p, _complex_reference)


@export
def complex(x, y):  # noqa: A001
  """Elementwise ``x + i y`` of two float32 (or float64) arrays."""
  return complex_p.bind(*_lax_binary_args(x, y))


# -- real, imag ----------------------------------------------------------------------------

real_p = standard_unop("real", "complex", dtypes.real_dtype)
batching.defvectorized(real_p)
ad.deflinear(real_p, lambda t, x: [complex_p.bind(t, _zeros_like(t))])
reference.register(real_p, np.real)


@export
def real(x):
  """The real part of a complex array (a float array)."""
  return real_p.bind(asarray_lax(x))


def _imag_transpose(t, x):
  return [complex_p.bind(_zeros_like(t), lax.neg(t))]


imag_p = standard_unop("imag", "complex", dtypes.real_dtype)
batching.defvectorized(imag_p)
ad.deflinear(imag_p, _imag_transpose)
reference.register(imag_p, np.imag)


@export
def imag(x):
  """The imaginary part of a complex array (a float array)."""
  return imag_p.bind(asarray_lax(x))


# -- conj ------------------------------------------------------------------------------------


def _conj_abstract_eval(x, *, input_dtype):
  if not dtypes.is_complex(x.dtype):
    _check_parts("conj", x)
  return ShapedArray(x.shape, dtypes.complex_dtype(x.dtype), x.weak_type)


def _conj_transpose(t, x, *, input_dtype):
  if isinstance(t, ad.Zero):
    return [None]
  if dtypes.is_complex(input_dtype):
    return [conj_p.bind(t, input_dtype=t.dtype)]
  return [real_p.bind(t)]


def _conj_lowering(ctx, x, *, avals_in, avals_out, input_dtype):
  if dtypes.is_complex(input_dtype):
    return ctx.emit("conj", [x], avals_out, {})
  # the conjugate of a real is the real, as a complex value
  return ctx.emit("convert_element_type", [x], avals_out,
                  {"new_dtype": avals_out[0].dtype, "weak_type": False})


_conj_lowering.op_name = "conj"  # checked against the Rust registry by the rule-coverage test
conj_p = standard_primitive("conj", _conj_abstract_eval, lower=False)
lowering.lowerings[conj_p] = _conj_lowering
ad.deflinear(conj_p, _conj_transpose)
batching.defvectorized(conj_p)
reference.register(conj_p, lambda x, *, input_dtype: np.conj(x).astype(
    dtypes.complex_dtype(x.dtype)))


@export
def conj(x):
  """The complex conjugate (a real operand gives its complex value)."""
  x = asarray_lax(x)
  return conj_p.bind(x, input_dtype=core.get_aval(x).dtype)

