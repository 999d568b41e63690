"""Save and restore pytrees (parameters, optimizer states) as one safetensors file.

Format. A standard safetensors file (https://github.com/huggingface/safetensors):
an 8-byte header length, a JSON header naming each tensor's dtype, shape and byte
range, then the raw little-endian bytes. Tensors are named by their pytree path
(``"['params']['w']"``), so other safetensors readers see the arrays by name.
The header's ``__metadata__`` (strings only) holds:

- ``rjax.format``: ``"rjax.checkpoint/1"``;
- ``rjax.treedef``: the tree structure as JSON: dicts (with typed keys), lists,
  tuples, ``None``, namedtuples (type name and fields), and each leaf's tensor
  name, dtype, shape and Python scalar type if it was a Python scalar;
- ``rjax.sha256``: a SHA-256 over the treedef (which holds every leaf's shape)
  and every tensor's name, dtype, size and bytes, so a flipped bit anywhere
  (header or data) is caught.

(safetensors' writer records a 0-d array with shape ``[1]``; the treedef keeps the
true shape, and restore reshapes to it.)

Loading never runs code: no pickle, and namedtuple types are found only in an
allow-list (the ``rjax.optim`` states) when no target is given.

The file is read and checked completely (safetensors' own header validation, the
digest, the structure, each leaf against the target) before the first rjax Array
is made, so a bad file raises :class:`CheckpointError` and nothing is half-loaded.
Writes go to a temporary file in the same directory, then ``os.replace``.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

import ml_dtypes
import numpy as np

from rjax._src import numpy as jnp
from rjax._src.base import tree_util
from rjax._src.optim.state_types import STATE_TYPES

FORMAT = "rjax.checkpoint/1"
_META_FORMAT, _META_TREE, _META_SHA = "rjax.format", "rjax.treedef", "rjax.sha256"

# safetensors dtype codes <-> NumPy dtypes (the dtypes an rjax Array can hold).
_CODE_TO_DTYPE = {
    "F64": np.dtype(np.float64), "F32": np.dtype(np.float32), "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16), "I64": np.dtype(np.int64), "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16), "I8": np.dtype(np.int8), "U64": np.dtype(np.uint64),
    "U32": np.dtype(np.uint32), "U16": np.dtype(np.uint16), "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_)}
_DTYPE_NAMES = {dt.name: dt for dt in _CODE_TO_DTYPE.values()}
_PY_SCALARS = {bool: ("bool", np.bool_), int: ("int", np.int64), float: ("float", np.float64)}


class CheckpointError(ValueError):
  """A checkpoint file is unreadable, corrupted, or does not match the target."""


def _safetensors():
  try:
    import safetensors
    import safetensors.numpy
  except ImportError as e:  # a declared dependency; say how to get it
    raise ImportError("rjax.checkpoints needs the 'safetensors' package: "
                      "pip install safetensors") from e
  return safetensors


# ---------------------------------------------------------------------------
# structure <-> JSON

def _encode_key(k) -> list:
  if isinstance(k, bool) or not isinstance(k, (str, int)):
    raise TypeError(f"checkpoints.save: dict keys must be str or int, got {k!r} "
                    f"({type(k).__name__})")
  return ["str", k] if isinstance(k, str) else ["int", k]


def _decode_key(k):
  kind, v = k
  if kind == "str" and isinstance(v, str):
    return v
  if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
    return v
  raise ValueError(f"bad dict key {k!r}")


def _is_namedtuple_type(t) -> bool:
  return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


def _encode_node(treedef, leaf_specs, it) -> dict:
  """``treedef`` as JSON-able dicts; leaves take the next spec from ``it``."""
  if treedef.node_data() is None:
    return next(it)
  pytype, aux = treedef.node_data()
  children = [_encode_node(c, leaf_specs, it) for c in treedef.children()]
  if pytype is type(None):
    return {"node": "none"}
  if pytype is dict:
    return {"node": "dict", "keys": [_encode_key(k) for k in aux], "children": children}
  if pytype is list:
    return {"node": "list", "children": children}
  if pytype is tuple:
    return {"node": "tuple", "children": children}
  if _is_namedtuple_type(pytype):
    return {"node": "namedtuple", "name": pytype.__name__, "fields": list(pytype._fields),
            "children": children}
  return {"node": "custom", "name": f"{pytype.__module__}.{pytype.__qualname__}",
          "children": children}


def _leaf_array(path: str, leaf) -> tuple[np.ndarray, str | None]:
  """The leaf as a NumPy array, and its Python scalar type name if it was one."""
  if type(leaf) in _PY_SCALARS:
    name, dt = _PY_SCALARS[type(leaf)]
    try:
      return np.asarray(leaf, dtype=dt), name
    except OverflowError as e:
      raise TypeError(f"checkpoints.save: leaf {path} = {leaf} does not fit in int64") from e
  if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
    raise TypeError(f"checkpoints.save: leaf {path} is a {type(leaf).__name__}, not an array "
                    "or a Python scalar")
  arr = np.asarray(leaf)  # waits for an asynchronous rjax Array
  if arr.dtype not in _DTYPE_NAMES.values():
    raise TypeError(f"checkpoints.save: leaf {path} has dtype {arr.dtype}, which a checkpoint "
                    f"cannot hold (supported: {', '.join(sorted(_DTYPE_NAMES))})")
  return arr, None


def _digest(tree_json: str, tensors: dict) -> str:
  h = hashlib.sha256()
  h.update(FORMAT.encode())
  h.update(tree_json.encode())
  for name in sorted(tensors):
    a = tensors[name]
    h.update(json.dumps([name, a.dtype.name, a.size]).encode())
    h.update(np.ascontiguousarray(a).tobytes())  # little-endian on every supported host
  return h.hexdigest()


# ---------------------------------------------------------------------------
# save

def save(path, tree: Any, *, overwrite: bool = True) -> None:
  """Write ``tree`` (any pytree of arrays and Python scalars) to ``path``.

  The write is atomic: a reader sees the old file or the new one, never a part.
  With ``overwrite=False`` an existing ``path`` raises ``FileExistsError``.
  """
  path = os.fspath(path)
  safetensors = _safetensors()
  if not overwrite and os.path.exists(path):
    raise FileExistsError(f"checkpoints.save: {path} exists (pass overwrite=True to replace it)")
  with_path, treedef = tree_util.tree_flatten_with_path(tree)
  tensors: dict[str, np.ndarray] = {}
  specs = []
  for keys, leaf in with_path:
    name = tree_util.keystr(keys) or "<root>"
    if name in tensors:
      raise ValueError(f"checkpoints.save: two leaves share the path {name}")
    arr, py = _leaf_array(name, leaf)
    tensors[name] = np.ascontiguousarray(arr)
    specs.append({"node": "leaf", "name": name, "dtype": arr.dtype.name,
                  "shape": list(arr.shape), "py": py})
  tree_json = json.dumps(_encode_node(treedef, specs, iter(specs)), separators=(",", ":"))
  metadata = {_META_FORMAT: FORMAT, _META_TREE: tree_json,
              _META_SHA: _digest(tree_json, tensors)}
  data = safetensors.numpy.save(tensors, metadata=metadata)
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix=".rjax-ckpt-", suffix=".tmp", dir=directory)
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    if not overwrite and os.path.exists(path):
      raise FileExistsError(f"checkpoints.save: {path} exists (pass overwrite=True to replace it)")
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


# ---------------------------------------------------------------------------
# restore

def _read(path: str) -> tuple[dict, dict]:
  """The tensors (NumPy) and the parsed treedef of a checked file."""
  safetensors = _safetensors()
  with open(path, "rb") as f:
    data = f.read()
  try:
    if len(data) < 8:
      raise ValueError(f"{len(data)} bytes, shorter than a safetensors header")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > len(data) - 8:
      raise ValueError("the header runs past the end of the file (truncated?)")
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
    metadata = header.get("__metadata__") or {}
    flat = safetensors.deserialize(data)
  except Exception as e:  # noqa: BLE001 -- SafetensorError, JSON, UTF-8: one clear error
    raise CheckpointError(f"checkpoints.restore: {path} is not a valid safetensors file: "
                          f"{e}") from None
  if metadata.get(_META_FORMAT) != FORMAT:
    raise CheckpointError(f"checkpoints.restore: {path} is a safetensors file but not an rjax "
                          f"checkpoint (format {metadata.get(_META_FORMAT)!r}, expected "
                          f"{FORMAT!r})")
  tensors = {}
  for name, view in flat:
    dt = _CODE_TO_DTYPE.get(view["dtype"])
    if dt is None:
      raise CheckpointError(f"checkpoints.restore: {path}: tensor {name} has unsupported dtype "
                            f"{view['dtype']}")
    tensors[name] = np.frombuffer(view["data"], dtype=dt).reshape(view["shape"])
  tree_json = metadata.get(_META_TREE, "")
  if _digest(tree_json, tensors) != metadata.get(_META_SHA):
    raise CheckpointError(f"checkpoints.restore: {path} is corrupted: its SHA-256 does not "
                          "match the stored digest")
  try:
    tree = json.loads(tree_json)
  except ValueError as e:
    raise CheckpointError(f"checkpoints.restore: {path}: unreadable tree structure: {e}") from None
  return tensors, tree


def _rebuild(node, tensors, path: str, file: str):
  """A plain pytree (NumPy leaves) from the JSON structure."""
  def bad(msg):
    return CheckpointError(f"checkpoints.restore: {file}: {msg} at {path or 'the root'}")
  if not isinstance(node, dict):
    raise bad("malformed tree structure")
  kind = node.get("node")
  children = node.get("children", [])
  if kind == "leaf":
    return _leaf_value(_leaf_tensor(node, tensors, bad), node)
  if kind == "none":
    return None
  if kind == "dict":
    keys = [_decode_key(k) for k in node["keys"]]
    return {k: _rebuild(c, tensors, f"{path}[{k!r}]", file) for k, c in zip(keys, children)}
  if kind in ("list", "tuple"):
    out = [_rebuild(c, tensors, f"{path}[{i}]", file) for i, c in enumerate(children)]
    return out if kind == "list" else tuple(out)
  if kind == "namedtuple":
    cls = STATE_TYPES.get(node.get("name"))
    if cls is None or list(cls._fields) != node.get("fields"):
      raise bad(f"namedtuple {node.get('name')!r} is not a known rjax.optim state; pass "
                "`target` (a tree of the same structure) to restore it")
    return cls(*[_rebuild(c, tensors, f"{path}.{f}", file)
                 for f, c in zip(cls._fields, children)])
  if kind == "custom":
    raise bad(f"the file holds a custom pytree node {node.get('name')!r}; pass `target` "
              "(a tree of the same structure) to restore it")
  raise bad(f"unknown node kind {kind!r}")


def _leaf_tensor(node, tensors, bad) -> np.ndarray:
  """The tensor a leaf names, in the leaf's recorded dtype and shape."""
  name, dtype, shape = node.get("name"), node.get("dtype"), node.get("shape")
  if name not in tensors:
    raise bad(f"the tree names a tensor {name!r} that the file lacks")
  arr = tensors[name]
  if (dtype != arr.dtype.name or not isinstance(shape, list)
      or int(np.prod(shape, dtype=np.int64)) != arr.size):
    raise bad(f"tensor {name!r} is {arr.dtype.name}{list(arr.shape)} but the tree records "
              f"{dtype}{shape}")
  return arr.reshape(shape)


def _leaf_value(arr: np.ndarray, spec: dict):
  if spec.get("py") == "bool":
    return bool(arr)
  if spec.get("py") == "int":
    return int(arr)
  if spec.get("py") == "float":
    return float(arr)
  return arr


def _describe(node) -> str:
  kind = node.get("node")
  if kind == "leaf":
    return f"a leaf {node.get('dtype')}{node.get('shape')}"
  if kind == "dict":
    return f"a dict with keys {[_decode_key(k) for k in node.get('keys', [])]}"
  if kind == "namedtuple":
    return f"a {node.get('name')} (namedtuple)"
  if kind == "custom":
    return f"a {node.get('name')}"
  if kind == "none":
    return "None"
  return f"a {kind} of {len(node.get('children', []))}"


def _compare(file_node, target_node, path: str, file: str) -> None:
  """Raise naming the first path where the file's structure differs from the target's."""
  where = path or "the root"
  fk, tk = file_node.get("node"), target_node.get("node")
  same = fk == tk and len(file_node.get("children", [])) == len(target_node.get("children", []))
  if same and fk == "dict":
    same = file_node["keys"] == target_node["keys"]
  if same and fk in ("namedtuple", "custom"):
    same = file_node.get("name") == target_node.get("name")
  if not same:
    raise CheckpointError(f"checkpoints.restore: {file} does not match the target at {where}: "
                          f"the file has {_describe(file_node)}, the target "
                          f"{_describe(target_node)}")
  if fk == "leaf":
    if (file_node["dtype"], file_node["shape"]) != (target_node["dtype"], target_node["shape"]):
      raise CheckpointError(
          f"checkpoints.restore: {file} does not match the target at {where}: the file has "
          f"{file_node['dtype']}{tuple(file_node['shape'])}, the target "
          f"{target_node['dtype']}{tuple(target_node['shape'])}")
    return
  keys = ([f"[{_decode_key(k)!r}]" for k in file_node["keys"]] if fk == "dict" else
          [f".{f}" for f in file_node.get("fields", [])] if fk == "namedtuple" else
          [f"[{i}]" for i in range(len(file_node.get("children", [])))])
  for k, fc, tc in zip(keys, file_node.get("children", []), target_node.get("children", [])):
    _compare(fc, tc, path + k, file)


def _target_spec(tree) -> tuple[dict, Any, list]:
  """The target's structure in the file's JSON form, its treedef and its leaves."""
  with_path, treedef = tree_util.tree_flatten_with_path(tree)
  specs = []
  for keys, leaf in with_path:
    name = tree_util.keystr(keys) or "<root>"
    if type(leaf) in _PY_SCALARS:
      py, dt = _PY_SCALARS[type(leaf)]
      dtype, shape = np.dtype(dt).name, []
    elif hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
      py, dtype, shape = None, np.dtype(leaf.dtype).name, list(leaf.shape)
    else:
      raise TypeError(f"checkpoints.restore: target leaf {name} is a {type(leaf).__name__}, not "
                      "an array, a ShapeDtypeStruct or a Python scalar")
    specs.append({"node": "leaf", "name": name, "dtype": dtype, "shape": shape, "py": py})
  return _encode_node(treedef, specs, iter(specs)), treedef, specs


def restore(path, target: Any = None) -> Any:
  """Read a checkpoint written by :func:`save`.

  Without ``target``, rebuilds dicts, lists, tuples, ``None`` and the
  ``rjax.optim`` state NamedTuples. With ``target`` (any pytree whose leaves are
  arrays, ``ShapeDtypeStruct`` or Python scalars), the file must have exactly its
  structure, shapes and dtypes; the result has the target's node types. Array
  leaves come back as rjax Arrays, Python scalars as Python scalars. Any problem
  raises :class:`CheckpointError` (a ``ValueError``) naming the file and the path.
  """
  path = os.fspath(path)
  tensors, tree = _read(path)
  if target is None:
    plain = _rebuild(tree, tensors, "", path)
    return tree_util.tree_map(lambda x: x if not isinstance(x, np.ndarray) else jnp.asarray(x),
                              plain)
  target_json, treedef, specs = _target_spec(target)
  _compare(tree, target_json, "", path)
  leaves_json: list = []
  _collect_leaves(tree, leaves_json)

  def bad(msg):
    return CheckpointError(f"checkpoints.restore: {path}: {msg}")
  values = [_leaf_value(_leaf_tensor(n, tensors, bad), s) for n, s in zip(leaves_json, specs)]
  return treedef.unflatten(v if not isinstance(v, np.ndarray) else jnp.asarray(v)
                           for v in values)


def _collect_leaves(node, out: list) -> None:
  if node.get("node") == "leaf":
    out.append(node)
    return
  for c in node.get("children", []):
    _collect_leaves(c, out)
