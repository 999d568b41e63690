"""Bad calls raise the exception types JAX raises (rjax keeps its own
messages). Each case is one bad call, run against jax.numpy/jax.lax and
against rjax.numpy/rjax.lax; the two must raise exceptions of the same type
(the same class, or the class of the same name for JAX's own errors)."""
import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import rjax
import rjax.numpy as jnp
from rjax import lax

x23 = np.arange(6, dtype=np.float32).reshape(2, 3)
x3 = np.arange(3, dtype=np.float32)
i3 = np.arange(3, dtype=np.int32)
b3 = np.array([True, False, True])


def _jit(m):
  return jax.jit if m is jjnp else rjax.jit


CASES = {
    # shapes and reshaping
    "reshape_two_minus_one": lambda m, l: m.reshape(m.asarray(x23), (-1, -1)),
    "reshape_bad_size": lambda m, l: m.reshape(m.asarray(x23), (4, 2)),
    "reshape_indivisible": lambda m, l: m.reshape(m.asarray(x23), (4, -1)),
    "reshape_order": lambda m, l: m.reshape(m.asarray(x23), (6,), order="X"),
    "reshape_order_a": lambda m, l: m.reshape(m.asarray(x23), (6,), order="A"),
    "method_reshape_bad": lambda m, l: m.asarray(x23).reshape(5),
    "ravel_order_k": lambda m, l: m.ravel(x23, order="K"),
    "transpose_repeated": lambda m, l: m.transpose(x23, (0, 0)),
    "transpose_wrong_len": lambda m, l: m.transpose(x23, (0,)),
    "transpose_axis_oob": lambda m, l: m.transpose(x23, (0, 5)),
    "swapaxes_oob": lambda m, l: m.swapaxes(x23, 0, 4),
    "moveaxis_oob": lambda m, l: m.moveaxis(x23, 3, 0),
    "moveaxis_len": lambda m, l: m.moveaxis(x23, (0, 1), (0,)),
    "expand_dims_oob": lambda m, l: m.expand_dims(x23, 4),
    "squeeze_non_one": lambda m, l: m.squeeze(x23, 0),
    "squeeze_oob": lambda m, l: m.squeeze(x23, 5),
    "concatenate_ranks": lambda m, l: m.concatenate([x23, x3]),
    "concatenate_shapes": lambda m, l: m.concatenate([x23, np.ones((2, 2))], axis=0),
    "concatenate_empty": lambda m, l: m.concatenate([]),
    "concatenate_scalars": lambda m, l: m.concatenate([np.float32(1), np.float32(2)]),
    "concatenate_axis_oob": lambda m, l: m.concatenate([x23, x23], axis=2),
    "stack_shapes": lambda m, l: m.stack([x3, np.ones(4)]),
    "stack_empty": lambda m, l: m.stack([]),
    "split_unequal": lambda m, l: m.split(np.arange(5), 2),
    "split_zero": lambda m, l: m.split(np.arange(4), 0),
    "broadcast_to_bad": lambda m, l: m.broadcast_to(x3, (4,)),
    "broadcast_to_rank": lambda m, l: m.broadcast_to(x23, (3,)),
    "broadcast_shapes_bad": lambda m, l: m.broadcast_shapes((2,), (3,)),
    "broadcast_arrays_bad": lambda m, l: m.broadcast_arrays(x3, np.ones(4)),
    "repeat_negative": lambda m, l: m.repeat(x3, -1),
    "roll_axis_oob": lambda m, l: m.roll(x3, 1, axis=2),
    "flip_oob": lambda m, l: m.flip(x3, 1),
    "rot90_same_axes": lambda m, l: m.rot90(x23, axes=(0, 0)),
    "diff_axis_oob": lambda m, l: m.diff(x3, axis=2),
    "atleast_list": lambda m, l: m.atleast_1d([1, 2]),
    "pad_negative": lambda m, l: m.pad(x3, -1),
    "pad_mode": lambda m, l: m.pad(x3, 1, mode="nope"),
    "unstack_scalar": lambda m, l: m.unstack(np.float32(1)),
    # creation
    "zeros_negative": lambda m, l: m.zeros((2, -1)),
    "ones_negative": lambda m, l: m.ones(-3),
    "full_negative": lambda m, l: m.full((-1,), 1.0),
    "empty_negative": lambda m, l: m.empty((-2, 2)),
    "zeros_float_shape": lambda m, l: m.zeros((2.5,)),
    "zeros_str_shape": lambda m, l: m.zeros("a"),
    "zeros_bad_dtype": lambda m, l: m.zeros(3, dtype="not-a-dtype"),
    "eye_negative": lambda m, l: m.eye(-1),
    "arange_no_args": lambda m, l: m.arange(),
    "arange_array_arg": lambda m, l: m.arange(np.arange(3)),
    "linspace_negative": lambda m, l: m.linspace(0, 1, -1),
    "linspace_num_float": lambda m, l: m.linspace(0, 1, 2.5),
    "full_like_list": lambda m, l: m.full_like([1, 2], 3),
    "tri_negative_k_float": lambda m, l: m.tri(3, k=0.5),
    "identity_float": lambda m, l: m.identity(2.5),
    "meshgrid_indexing": lambda m, l: m.meshgrid(x3, x3, indexing="ab"),
    "diag_3d": lambda m, l: m.diag(np.ones((2, 2, 2))),
    # elementwise and reductions
    "add_list": lambda m, l: m.add([1, 2], x3),
    "sin_list": lambda m, l: m.sin([1.0, 2.0]),
    "sum_list": lambda m, l: m.sum([1, 2]),
    "add_shapes": lambda m, l: m.add(x3, np.ones(4)),
    "add_str": lambda m, l: m.add(x3, "a"),
    "where_shapes": lambda m, l: m.where(b3, x3, np.ones(4)),
    "where_one_arg_missing": lambda m, l: m.where(b3, x3),
    "where_list": lambda m, l: m.where([True, False], 1, 2),
    "sum_axis_oob": lambda m, l: m.sum(x23, axis=2),
    "sum_axis_repeated": lambda m, l: m.sum(x23, axis=(0, 0)),
    "sum_out": lambda m, l: m.sum(x23, out=np.zeros(3)),
    "max_empty": lambda m, l: m.max(np.zeros((0,))),
    "argmax_empty": lambda m, l: m.argmax(np.zeros((0,))),
    "mean_axis_oob": lambda m, l: m.mean(x23, axis=-3),
    "cumsum_axis_oob": lambda m, l: m.cumsum(x23, axis=2),
    "var_ddof_and_correction": lambda m, l: m.var(x3, ddof=1, correction=1),
    "round_bool": lambda m, l: m.round(b3),
    "gcd_float": lambda m, l: m.gcd(x3, x3),
    "ldexp_float_exp": lambda m, l: m.ldexp(x3, x3),
    "isclose_str": lambda m, l: m.isclose(x3, "a"),
    "clip_list": lambda m, l: m.clip([1, 2], 0, 1),
    "matmul_shapes": lambda m, l: m.matmul(x23, x23),
    "matmul_scalar": lambda m, l: m.matmul(np.float32(2), x3),
    "dot_shapes": lambda m, l: m.dot(x3, np.ones(4)),
    "outer_list": lambda m, l: m.outer([1, 2], x3),
    "quantile_method": lambda m, l: m.quantile(x3, 0.5, method="nope"),
    # sorting, set operations and data-dependent shapes under jit
    "sort_kind": lambda m, l: m.sort(x3, kind="quicksort"),
    "argsort_axis_oob": lambda m, l: m.argsort(x3, axis=1),
    "searchsorted_2d": lambda m, l: m.searchsorted(x23, 1.0),
    "searchsorted_side": lambda m, l: m.searchsorted(x3, 1.0, side="middle"),
    "nonzero_0d": lambda m, l: m.nonzero(np.float32(1)),
    "nonzero_jit": lambda m, l: _jit(m)(m.nonzero)(x3),
    "unique_jit": lambda m, l: _jit(m)(m.unique)(x3),
    "argwhere_jit": lambda m, l: _jit(m)(m.argwhere)(x3),
    "where1_jit": lambda m, l: _jit(m)(lambda c: m.where(c))(b3),
    "setdiff1d_jit": lambda m, l: _jit(m)(m.setdiff1d)(x3, x3),
    "bincount_float": lambda m, l: m.bincount(x3),
    "bincount_2d": lambda m, l: m.bincount(np.ones((2, 2), np.int32)),
    "isin_method": lambda m, l: m.isin(x3, x3, method="nope"),
    "unique_zero_size": lambda m, l: m.unique(np.zeros((0,)), size=2),
    "lexsort_empty": lambda m, l: m.lexsort([]),
    # indexing
    "index_list": lambda m, l: m.asarray(x3)[[0, 1]],
    "index_float": lambda m, l: m.asarray(x3)[1.5],
    "index_str": lambda m, l: m.asarray(x3)["a"],
    "index_too_many": lambda m, l: m.asarray(x3)[0, 0],
    "index_two_ellipsis": lambda m, l: m.asarray(x23)[..., ...],
    "index_int32_overflow": lambda m, l: m.asarray(x3)[2 ** 40],
    "index_int64_overflow": lambda m, l: m.asarray(x3)[2 ** 70],
    "index_negative_overflow": lambda m, l: m.asarray(x3)[-2 ** 70],
    "index_bool_shape": lambda m, l: m.asarray(x3)[np.array([True, False])],
    "index_float_array": lambda m, l: m.asarray(x3)[np.array([0.5])],
    "index_traced_bool": lambda m, l: _jit(m)(lambda c: m.asarray(x3)[c])(b3),
    "index_none_dict": lambda m, l: m.asarray(x3)[{}],
    "at_set_list": lambda m, l: m.asarray(x3).at[[0, 1]].set(1.0),
    "at_bad_shape": lambda m, l: m.asarray(x3).at[0:2].set(np.ones(3)),
    "setitem": lambda m, l: m.asarray(x3).__setitem__(0, 1.0),
    "take_float_indices": lambda m, l: m.take(x3, np.array([0.5])),
    "take_mode": lambda m, l: m.take(x3, i3, mode="nope"),
    "take_along_axis_ndim": lambda m, l: m.take_along_axis(x23, i3, axis=1),
    "take_along_axis_float": lambda m, l: m.take_along_axis(x3, x3, axis=0),
    "iter_0d": lambda m, l: iter(m.asarray(np.float32(1))),
    "len_0d": lambda m, l: len(m.asarray(np.float32(1))),
    "int_of_vector": lambda m, l: int(m.asarray(x3)),
    "bool_of_vector": lambda m, l: bool(m.asarray(x3)),
    "hash_array": lambda m, l: hash(m.asarray(x3)),
    "index_of_float": lambda m, l: [1, 2, 3][m.asarray(np.float32(1))],
    "bool_of_tracer": lambda m, l: _jit(m)(lambda v: 1 if v > 0 else 0)(np.float32(1)),
    "int_of_tracer": lambda m, l: _jit(m)(lambda v: int(v))(np.int32(1)),
    "float_of_tracer": lambda m, l: _jit(m)(lambda v: float(v))(np.float32(1)),
    "numpy_of_tracer": lambda m, l: _jit(m)(lambda v: np.asarray(v))(x3),
    "item_of_tracer": lambda m, l: _jit(m)(lambda v: v.item())(np.float32(1)),
    "zeros_traced_shape": lambda m, l: _jit(m)(lambda n: m.zeros(n))(np.int32(3)),
    "arange_traced": lambda m, l: _jit(m)(lambda n: m.arange(n))(np.int32(3)),
    "contains_2d": lambda m, l: 1.0 in m.asarray(x23),
    "flat": lambda m, l: m.asarray(x3).flat,
    # lax: strict types and shapes
    "lax_add_dtypes": lambda m, l: l.add(x3, i3),
    "lax_add_shapes": lambda m, l: l.add(x3, np.ones(4, np.float32)),
    "lax_sin_int": lambda m, l: l.sin(i3),
    "lax_bitwise_float": lambda m, l: l.bitwise_and(x3, x3),
    "lax_reshape_size": lambda m, l: l.reshape(x23, (4,)),
    "lax_transpose_perm": lambda m, l: l.transpose(x23, (0, 0)),
    "lax_broadcast_in_dim": lambda m, l: l.broadcast_in_dim(x3, (3, 4), (1,)),
    "lax_concatenate_dtypes": lambda m, l: l.concatenate([x3, i3], 0),
    "lax_concatenate_ranks": lambda m, l: l.concatenate([x23, x3], 0),
    "lax_slice_oob": lambda m, l: l.slice(x3, (0,), (5,)),
    "lax_slice_rank": lambda m, l: l.slice(x23, (0,), (1,)),
    "lax_dynamic_slice_size": lambda m, l: l.dynamic_slice(x3, (0,), (5,)),
    "lax_dynamic_slice_rank": lambda m, l: l.dynamic_slice(x23, (0,), (1,)),
    "lax_dynamic_update_slice_shape": lambda m, l: l.dynamic_update_slice(x3, x23, (0,)),
    "lax_select_dtype": lambda m, l: l.select(x3, x3, x3),
    "lax_select_n_shape": lambda m, l: l.select_n(b3, x3, np.ones(4, np.float32)),
    "lax_dot_general_shape": lambda m, l: l.dot_general(x23, x23, (((1,), (1,)), ((0,), (1,)))),
    "lax_dot_shape": lambda m, l: l.dot(x23, x23),
    "lax_convert_bad_dtype": lambda m, l: l.convert_element_type(x3, "nope"),
    "lax_pad_rank": lambda m, l: l.pad(x3, np.float32(0), [(1, 1, 0), (1, 1, 0)]),
    "lax_rev_oob": lambda m, l: l.rev(x3, (2,)),
    "lax_squeeze_non_one": lambda m, l: l.squeeze(x23, (0,)),
    "lax_reduce_sum_axis": lambda m, l: l.reduce_sum(x3, (1,)),
    "lax_argmax_axis": lambda m, l: l.argmax(x3, 1, np.int32),
    "lax_sort_dim": lambda m, l: l.sort(x3, dimension=1),
    "lax_top_k_big": lambda m, l: l.top_k(x3, 5),
    "lax_iota_dtype": lambda m, l: l.iota(np.int32, -1),
    "lax_clamp_shapes": lambda m, l: l.clamp(np.ones(2, np.float32), x3, np.float32(2)),
    "lax_integer_pow_int": lambda m, l: l.integer_pow(x3, 1.5),
    "lax_round_method": lambda m, l: l.round(x3, 5),
    "lax_cumsum_axis": lambda m, l: l.cumsum(x3, axis=1),
    "lax_gather_mode": lambda m, l: l.gather(x3, i3[:, None], l.GatherDimensionNumbers(
        offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,)), (1,), mode="nope"),
    "lax_cond_pred": lambda m, l: l.cond(x3, lambda: 1.0, lambda: 2.0),
    "lax_cond_branch_types": lambda m, l: l.cond(True, lambda: np.float32(1), lambda: np.int32(1)),
    "lax_switch_index": lambda m, l: l.switch(1.5, [lambda: 1, lambda: 2]),
    "lax_while_carry_type": lambda m, l: l.while_loop(lambda c: c < 3, lambda c: c + 1.5,
                                                      np.int32(0)),
    "lax_scan_carry_shape": lambda m, l: l.scan(lambda c, x: (x, None), np.float32(0), x23),
    "lax_fori_carry_type": lambda m, l: l.fori_loop(0, 3, lambda i, c: c + 1.5, np.int32(0)),
    "lax_dynamic_update_slice_dtype": lambda m, l: l.dynamic_update_slice(x3, i3, (0,)),
    "lax_scatter_add_dtypes": lambda m, l: l.scatter_add(x3, i3[:, None], i3,
                                                          l.ScatterDimensionNumbers(
                                                              (), (0,), (0,))),
    "lax_full_negative": lambda m, l: l.full((-1,), 0.0),
    "lax_broadcast_negative": lambda m, l: l.broadcast(x3, (-1,)),
    "lax_sort_num_keys": lambda m, l: l.sort((x3, x3), num_keys=3),
    "lax_conv_shapes": lambda m, l: l.conv(np.ones((1, 1, 4), np.float32),
                                           np.ones((1, 2, 2), np.float32), (1,), "VALID"),
    "lax_reduce_window_dims": lambda m, l: l.reduce_window(x3, np.float32(0), l.add, (2, 2),
                                                           (1,), "VALID"),
    "lax_dynamic_index_axis": lambda m, l: l.dynamic_index_in_dim(x3, 0, axis=2),
}


def _outcome(fn, m, l):
  try:
    fn(m, l)
  except Exception as e:  # noqa: BLE001  (the type is what the test compares)
    return type(e)
  return None


def _same_type(got, want) -> bool:
  """rjax's exception is JAX's class, or a subclass of it (so ``except``
  clauses written for JAX catch it: NumPy's AxisError is both a ValueError
  and an IndexError, and rjax's ConcretizationTypeError is a TypeError); a
  JAX error class (``jax.errors.*``) matches rjax's class of the same name."""
  if got is None or want is None:
    return got is want
  if issubclass(got, want):
    return True
  if want.__module__.startswith("jax"):
    builtin_bases = [b for b in want.__mro__ if b.__module__ == "builtins"]
    return got.__name__ == want.__name__ and all(issubclass(got, b) for b in builtin_bases)
  return False


@pytest.mark.parametrize("name", sorted(CASES))
def test_exception_type_matches_jax(name):
  want = _outcome(CASES[name], jjnp, jax.lax)
  assert want is not None, f"{name}: JAX does not raise; the case is not a bad call"
  got = _outcome(CASES[name], jnp, lax)
  assert _same_type(got, want), f"{name}: rjax raised {got}, JAX raises {want}"


def test_case_count():
  assert len(CASES) >= 100
