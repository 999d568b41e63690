"""The hostile-input battery's cases (issue 15), run by
``tests/test_hostile_inputs.py`` in subprocesses.

A case is ``(name, code, expect)``. ``code`` is an expression evaluated with
``lib`` (``rjax`` or ``jax``), ``jnp`` (its numpy), ``np`` and ``helpers``
bound; where it builds NumPy inputs it is a lambda-free expression over
``ins`` (a tuple of NumPy arrays made by the case's ``setup``), so the runner
can check that the inputs come back unchanged. ``expect`` is ``"jax"`` (the
outcome is JAX's: the same builtin exception class, or JAX's value), or a
stated outcome for the cases where JAX itself aborts or has no equivalent:
``("exc", "ValueError")`` or ``("value", <NumPy expression>)``.
"""
from __future__ import annotations

JAX = "jax"


def _exc(name):
  return ("exc", name)


def _val(expr):
  return ("value", expr)


# Each group runs in one subprocess: (group name, setup code, cases).
# setup runs once per case and must define ``ins`` (a tuple of NumPy arrays).
GROUPS: list[tuple[str, list[tuple[str, str, str, object]]]] = []


def group(name):
  cases: list = []
  GROUPS.append((name, cases))
  return lambda case_name, code, expect=JAX, setup="ins = ()": cases.append(
      (case_name, setup, code, expect))


# --- absurd shapes ------------------------------------------------------------
c = group("absurd_shapes")
c("zeros_int64_overflow", "jnp.zeros((2**63,))")
c("zeros_negative", "jnp.zeros((-1,))")
c("zeros_negative_2d", "jnp.zeros((3, -2))")
c("zeros_float_dim", "jnp.zeros((2.5,))")
c("zeros_str_dim", "jnp.zeros(('a',))")
c("zeros_none_dim", "jnp.zeros((None, 3))")
# JAX aborts in XLA on these too; rjax raises JAX's TypeError for a shape
# whose element count overflows int64
c("zeros_product_overflow", "jnp.zeros((2**32, 2**32))", _exc("TypeError"))
c("ones_product_overflow_3d", "jnp.ones((2**21, 2**21, 2**22))", _exc("TypeError"))
# JAX aborts in XLA ("overflow in static extent product"): rjax raises
c("zeros_bytes_overflow", "jnp.zeros((2**31, 2**31))", _exc("ValueError"))
c("broadcast_bytes_overflow_jit",
  "lib.jit(lambda a: jnp.broadcast_to(a, (2**31, 2**31)) * 2.0 + 1.0)(jnp.ones(()))",
  _exc("ValueError"))
c("sum_bytes_overflow_jit",
  "lib.jit(lambda a: jnp.broadcast_to(a, (2**31, 2**31)).sum())(jnp.ones(()))",
  _exc("ValueError"))
c("broadcast_to_negative", "jnp.broadcast_to(jnp.ones(3), (-3,))")
c("broadcast_to_incompatible", "jnp.broadcast_to(jnp.ones(3), (4,))")
c("reshape_two_minus_ones", "jnp.reshape(jnp.ones(6), (-1, -1))")
c("reshape_wrong_size", "jnp.reshape(jnp.ones(6), (4, 2))")
c("reshape_negative_other", "jnp.reshape(jnp.ones(6), (-2, 3))")
c("reshape_huge", "jnp.reshape(jnp.ones(6), (2**62, 2**62))")
c("arange_too_many", "jnp.arange(0, 1e30, 1e-30, dtype=jnp.float32)")
c("arange_zero_step", "jnp.arange(0, 10, 0)")
c("full_negative", "jnp.full((-5,), 1.0)")
c("eye_negative", "jnp.eye(-2)")
c("linspace_negative", "jnp.linspace(0, 1, -3)")
c("empty_shape_zero_huge", "jnp.zeros((0, 2**40, 2**40)).shape")
c("tile_negative", "jnp.tile(jnp.ones(3), -2)")
c("repeat_negative", "jnp.repeat(jnp.ones(3), -1)")
c("expand_dims_out_of_range", "jnp.expand_dims(jnp.ones(3), 5)")
c("transpose_bad_axes", "jnp.transpose(jnp.ones((2, 3)), (0, 0))")
c("sum_bad_axis", "jnp.sum(jnp.ones((2, 3)), axis=2)")
c("concatenate_rank_mismatch", "jnp.concatenate([jnp.ones(3), jnp.ones((3, 1))])")
c("matmul_mismatch", "jnp.ones((2, 3)) @ jnp.ones((4, 5))")

# --- wrong dtypes -------------------------------------------------------------
c = group("wrong_dtypes")
c("zeros_unknown_dtype", "jnp.zeros(3, 'foo')")
c("zeros_str_dtype", "jnp.zeros(3, dtype=str)")
c("zeros_object_dtype", "jnp.zeros(3, dtype=object)")
c("asarray_str_array", "jnp.asarray(np.array(['a', 'b']))")
c("asarray_bytes_array", "jnp.asarray(np.array([b'a', b'b']))")
c("asarray_datetime", "jnp.asarray(np.array(['2020-01-01'], dtype='datetime64[D]'))")
c("asarray_timedelta", "jnp.asarray(np.array([1, 2], dtype='timedelta64[s]'))")
c("asarray_object_array", "jnp.asarray(np.array([1, 'a'], dtype=object))")
c("asarray_void", "jnp.asarray(np.zeros(2, dtype='V4'))")
c("asarray_structured", "jnp.asarray(np.zeros(2, dtype=[('a', 'i4'), ('b', 'f4')]))")
c("astype_str", "jnp.ones(3).astype('S3')")
c("astype_unknown", "jnp.ones(3).astype('bogus')")
c("add_str_scalar", "jnp.add(jnp.ones(3), 'a')")
c("bitwise_on_float", "jnp.bitwise_and(jnp.ones(3), jnp.ones(3))")
c("shift_on_float", "jnp.left_shift(jnp.ones(3), 1)")
c("lax_add_mixed", "lib.lax.add(jnp.ones(3, jnp.float32), jnp.ones(3, jnp.int32))")
c("lax_add_float16_float32", "lib.lax.add(jnp.ones(3, jnp.float16), jnp.ones(3, jnp.float32))")
c("index_with_float", "jnp.arange(5)[1.5]")
c("index_with_float_array", "jnp.arange(5)[jnp.ones(2)]")
c("longdouble_input", "jnp.asarray(np.ones(3, np.longdouble)).dtype.name")
c("float64_canonicalised", "jnp.asarray(np.ones(3, np.float64)).dtype.name")
c("int64_canonicalised", "jnp.asarray(np.ones(3, np.int64)).dtype.name")
c("uint64_values", "jnp.asarray(np.array([2**64 - 1], np.uint64))")

# --- NaN and inf everywhere ---------------------------------------------------
c = group("nan_inf")
_SPECIAL = "ins = (np.array([np.nan, 1.0, -np.inf, np.inf, 0.0, -0.0, -1.0], np.float32),)"
for _name, _code in [
    ("sum", "jnp.sum(ins[0])"), ("prod", "jnp.prod(ins[0])"), ("max", "jnp.max(ins[0])"),
    ("min", "jnp.min(ins[0])"), ("argmax", "jnp.argmax(ins[0])"),
    ("argmin", "jnp.argmin(ins[0])"), ("sort", "jnp.sort(ins[0])"),
    ("argsort", "jnp.argsort(ins[0])"), ("cumsum", "jnp.cumsum(ins[0])"),
    ("cummax", "lib.lax.cummax(ins[0])"), ("exp", "jnp.exp(ins[0])"),
    ("log", "jnp.log(ins[0])"), ("sqrt", "jnp.sqrt(ins[0])"),
    ("floor", "jnp.floor(ins[0])"), ("sign", "jnp.sign(ins[0])"),
    ("reciprocal", "jnp.reciprocal(ins[0])"), ("tanh", "jnp.tanh(ins[0])"),
    ("mean", "jnp.mean(ins[0])"), ("var", "jnp.var(ins[0])"),
    ("nanmax", "jnp.nanmax(ins[0])"), ("nansum", "jnp.nansum(ins[0])"),
    ("isnan", "jnp.isnan(ins[0])"), ("isinf", "jnp.isinf(ins[0])"),
    ("equal_self", "jnp.equal(ins[0], ins[0])"), ("maximum", "jnp.maximum(ins[0], 0.0)"),
    ("minimum", "jnp.minimum(ins[0], 0.0)"), ("clip", "jnp.clip(ins[0], -1, 1)"),
    ("where", "jnp.where(ins[0] > 0, ins[0], -ins[0])"),
    ("logsumexp", "lib.scipy.special.logsumexp(ins[0])"),
    ("softmax", "lib.nn.softmax(ins[0])"), ("relu", "lib.nn.relu(ins[0])"),
    ("astype_bool", "jnp.asarray(ins[0]).astype(jnp.bool_)"),
    ("jit_chain", "lib.jit(lambda x: jnp.exp(x) * 2.0 - x)(ins[0])"),
    ("grad_sqrt", "lib.grad(lambda x: jnp.sqrt(x).sum())(ins[0])"),
    ("dot", "jnp.dot(ins[0], ins[0])"), ("round", "jnp.round(ins[0])"),
    ("nan_to_num", "jnp.nan_to_num(ins[0])"),
]:
  c(f"special_{_name}", _code, setup=_SPECIAL)
c("float_to_int_overflow", "jnp.asarray(np.array([1e10, -1e10], np.float32)).astype(jnp.int32)")
c("inf_integer_pow", "lib.lax.integer_pow(jnp.float32(np.inf), -2)")

# --- empty arrays -------------------------------------------------------------
c = group("empty")
_E = "ins = (np.zeros((0,), np.float32),)"
_E2 = "ins = (np.zeros((0, 3), np.float32),)"
for _name, _code, _setup in [
    ("sum", "jnp.sum(ins[0])", _E), ("prod", "jnp.prod(ins[0])", _E),
    ("max", "jnp.max(ins[0])", _E), ("min", "jnp.min(ins[0])", _E),
    ("argmax", "jnp.argmax(ins[0])", _E), ("argmin", "jnp.argmin(ins[0])", _E),
    ("mean", "jnp.mean(ins[0])", _E), ("max_initial", "jnp.max(ins[0], initial=3.0)", _E),
    ("sort", "jnp.sort(ins[0])", _E), ("cumsum", "jnp.cumsum(ins[0])", _E),
    ("sum_axis0", "jnp.sum(ins[0], axis=0)", _E2), ("max_axis1", "jnp.max(ins[0], axis=1)", _E2),
    ("max_axis0", "jnp.max(ins[0], axis=0)", _E2),
    ("matmul_empty", "ins[0] @ ins[0].T", _E2), ("matmul_k0", "ins[0].T @ ins[0]", _E2),
    ("reshape", "jnp.reshape(ins[0], (0, 5, -1))", _E2),
    ("reshape_ambiguous", "jnp.reshape(ins[0], (-1, 0))", _E2),
    ("concatenate", "jnp.concatenate([ins[0], ins[0]])", _E2),
    ("jit_add", "lib.jit(lambda x: x + 1)(ins[0])", _E2),
    ("index_empty", "ins[0][0]", _E), ("take_empty", "jnp.take(ins[0], jnp.array([], jnp.int32))", _E),
    ("stack_empty_list", "jnp.stack([])", "ins = ()"),
    ("concat_empty_list", "jnp.concatenate([])", "ins = ()"),
    ("vmap_empty", "lib.vmap(lambda x: x * 2)(ins[0])", _E2),
    ("grad_of_empty_sum", "lib.grad(lambda x: x.sum())(ins[0])", _E2),
]:
  c(f"empty_{_name}", _code, setup=_setup)

# --- non-contiguous, byte-swapped, unaligned NumPy inputs ------------------------
c = group("layouts")
_LAYOUTS = {
    "strided": "ins = (np.arange(20, dtype=np.float32)[::3],)",
    "transposed": "ins = (np.arange(12, dtype=np.float32).reshape(3, 4).T,)",
    "fortran": "ins = (np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),)",
    "reversed": "ins = (np.arange(7, dtype=np.float32)[::-1],)",
    "big_endian_f4": "ins = (np.arange(6, dtype='>f4'),)",
    "big_endian_i8": "ins = (np.arange(6, dtype='>i8') * 3,)",
    "zero_stride": "ins = (np.broadcast_to(np.arange(3, dtype=np.float32), (4, 3)),)",
    "unaligned": ("buf = np.zeros(4 * 6 + 1, np.uint8); buf[1:] = np.arange(6, dtype=np.float32)"
                  ".view(np.uint8); ins = (np.frombuffer(buf.tobytes(), np.float32, 6, 1),)"),
    "readonly": "a = np.arange(6, dtype=np.float32); a.setflags(write=False); ins = (a,)",
    "big_endian_bool": "ins = (np.array([True, False, True]).astype('>?'),)",
}
for _lname, _setup in _LAYOUTS.items():
  for _name, _code in [("add", "jnp.add(ins[0], 1)"), ("sum", "jnp.sum(ins[0])"),
                       ("jit", "lib.jit(lambda x: x * 2)(ins[0])"), ("asarray", "jnp.asarray(ins[0])")]:
    c(f"{_lname}_{_name}", _code, setup=_setup)

# --- read-only and writable buffers, and no mutation ------------------------------
c = group("buffers")
_W = "ins = (np.arange(6, dtype=np.float32),)"
c("asarray_then_mutate_source", "helpers.mutate_after(jnp.asarray(ins[0]), ins[0])",
  _val("np.arange(6, dtype=np.float32)"), setup="ins = (np.arange(6, dtype=np.float32),)")
c("array_copy_false_then_mutate", "helpers.mutate_after(jnp.array(ins[0], copy=False), ins[0])",
  _val("np.arange(6, dtype=np.float32)"), setup="ins = (np.arange(6, dtype=np.float32),)")
c("np_view_of_result_readonly", "helpers.try_write(np.asarray(jnp.arange(3.0)))",
  _val("np.array(False)"))
c("at_set_does_not_mutate", "(jnp.asarray(ins[0]).at[0].set(9.0), ins[0])[1]", setup=_W)
c("inplace_add_rebinds", "helpers.iadd(jnp.asarray(ins[0]))", setup=_W)
c("setitem_raises", "helpers.setitem(jnp.asarray(ins[0]))", setup=_W)
c("memoryview_input", "jnp.asarray(memoryview(np.arange(4, dtype=np.float32)))")
c("bytearray_input", "jnp.asarray(bytearray(b'abc'))")
c("frombuffer_readonly", "jnp.asarray(np.frombuffer(b'\\x00\\x00\\x80?', np.float32)) + 1")
c("bool_view_of_bytes", "jnp.asarray(np.array([0, 1, 2, 255], np.uint8).view(bool)).sum()",
  _val("np.int32(3)"))
c("bool_view_logical_not", "jnp.logical_not(np.array([0, 1, 2, 255], np.uint8).view(bool))",
  _val("np.array([True, False, False, False])"))
c("bool_view_astype", "jnp.asarray(np.array([0, 1, 2, 255], np.uint8).view(bool)).astype(jnp.float32)",
  _val("np.array([0, 1, 1, 1], np.float32)"))
c("jit_arg_unchanged", "lib.jit(lambda x: x * 2)(ins[0])", setup=_W)
c("grad_arg_unchanged", "lib.grad(lambda x: (x ** 2).sum())(ins[0])", setup=_W)
c("device_put_unchanged", "lib.device_put(ins[0]) + 0", setup=_W)

# --- objects that are not arrays ------------------------------------------------
c = group("not_arrays")
for _name, _obj in [
    ("none", "None"), ("string", "'abc'"), ("object", "object()"), ("dict", "{1: 2}"),
    ("set", "{1, 2}"), ("function", "(lambda: 0)"), ("ragged", "[[1, 2], [3]]"),
    ("mixed_list", "[1, 'a']"), ("bytes", "b'ab'"), ("ellipsis", "Ellipsis"),
    ("slice", "slice(1, 2)"), ("generator", "(i for i in range(3))"),
    ("nested_none", "[None, None]"), ("complex_object_list", "[object(), object()]"),
]:
  c(f"asarray_{_name}", f"jnp.asarray({_obj})")
  c(f"add_{_name}", f"jnp.add(jnp.ones(2), {_obj})")
c("jit_of_string_arg", "lib.jit(lambda x: x)('abc')")
c("jit_of_object_arg", "lib.jit(lambda x: x + 1)(object())")
c("grad_of_int_arg", "lib.grad(lambda x: x * 2)(3)")
c("grad_of_non_scalar_output", "lib.grad(lambda x: x * 2)(jnp.ones(3))")
c("vmap_mismatched_axes", "lib.vmap(lambda a, b: a + b)(jnp.ones(3), jnp.ones(4))")
c("vmap_of_scalar", "lib.vmap(lambda a: a)(1.0)")

# --- huge Python ints -------------------------------------------------------------
c = group("huge_ints")
c("array_2_64", "jnp.array(2**64)")
c("array_minus_2_63_minus_1", "jnp.array(-2**63 - 1)")
c("array_2_63", "jnp.array(2**63)")
c("array_2_31", "jnp.array(2**31)")
c("int32_2_31", "jnp.int32(2**31)")
c("add_2_64", "jnp.ones(3) + 2**64")
c("int_add_2_40", "jnp.arange(3) + 2**40")
# JAX wraps these silently ([0, 0, 0], [0, 1, 2]); rjax raises NumPy's
# OverflowError instead of a wrong number
c("full_2_40_int32", "jnp.full(3, 2**40, dtype=jnp.int32)", _exc("OverflowError"))
c("arange_big", "jnp.arange(2**40, 2**40 + 3)", _exc("OverflowError"))
c("index_2_64", "jnp.arange(5)[2**64]")
c("index_minus_huge", "jnp.arange(5)[-2**40]")
c("list_with_huge", "jnp.array([1, 2**70])")
c("float_from_huge_int", "jnp.float32(2**200)")
c("scalar_mul_huge", "jnp.float32(1) * 10**400")
c("pow_huge_exponent", "lib.lax.integer_pow(jnp.float32(2), 2**40)")
c("shift_huge", "jnp.left_shift(jnp.int32(1), 2**40)")

# --- checkpoints (rjax only: JAX has none; a bad file is CheckpointError, a ValueError) ---
c = group("checkpoints")
for _name, _corrupt in [
    ("empty_file", "b''"), ("five_bytes", "data[:5]"), ("header_only", "data[:8]"),
    ("truncated_half", "data[: len(data) // 2]"), ("truncated_last_byte", "data[:-1]"),
    ("huge_header_len", "(2**63).to_bytes(8, 'little') + data[8:]"),
    ("garbage_json", "data[:8] + b'{' * (len(data) - 8)"),
    ("flipped_data_bit", "data[:-1] + bytes([data[-1] ^ 1])"),
    ("appended_garbage", "data + b'garbage'"),
    ("not_rjax_format", "helpers.foreign_safetensors()"),
]:
  c(f"ckpt_{_name}", f"helpers.restore_corrupted(lambda data: {_corrupt})",
    _exc("ValueError") if _name != "appended_garbage" else _exc("ValueError"))
c("ckpt_forged_bool_bytes", "helpers.forged_bool_checkpoint()", _val("np.int32(3)"))
c("ckpt_roundtrip_nan_inf", "helpers.roundtrip(np.array([np.nan, np.inf, -0.0], np.float32))",
  _val("np.array([np.nan, np.inf, -0.0], np.float32)"))

# --- deep pytrees ---------------------------------------------------------------
c = group("deep_pytrees")
c("depth_100_leaves", "len(lib.tree_util.tree_leaves(helpers.nest(100)))", _val("np.int64(1)"))
c("depth_100_jit", "lib.jit(lambda t: lib.tree_util.tree_leaves(t)[0] + 1)(helpers.nest(100))",
  _val("np.float32(2)"))
c("depth_100_map", "lib.tree_util.tree_leaves(lib.tree_util.tree_map(lambda x: x * 2, "
  "helpers.nest(100)))[0]", _val("np.float32(2)"))
# deeper than Python's recursion limit: rjax flattens without recursing
c("depth_100000_leaves", "lib.tree_util.tree_leaves(helpers.nest(100000))",
  _val("np.array([1.0], np.float32)"))
c("depth_100000_jit", "lib.jit(lambda t: lib.tree_util.tree_leaves(t)[0] * 2)(helpers.nest(100000))",
  _val("np.float32(2)"))
c("wide_pytree", "len(lib.tree_util.tree_leaves([np.float32(1)] * 100000))",
  _val("np.int64(100000)"))
c("self_referencing_list", "lib.tree_util.tree_leaves(helpers.cyclic())", _exc("RecursionError"))

# --- threads --------------------------------------------------------------------
c = group("threads")
c("eight_threads_one_jit", "helpers.threads_jit(lib, jnp)", _val("np.array(True)"))
c("eight_threads_eager", "helpers.threads_eager(lib, jnp)", _val("np.array(True)"))
c("eight_threads_new_shapes", "helpers.threads_shapes(lib, jnp)", _val("np.array(True)"))
c("eight_threads_grad", "helpers.threads_grad(lib, jnp)", _val("np.array(True)"))
c("eight_threads_errors", "helpers.threads_errors(lib, jnp)", _val("np.array(True)"))


def all_cases():
  return [(g, *case) for g, cases in GROUPS for case in cases]
