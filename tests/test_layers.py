"""The layers of ``rjax._src`` (see ``python/rjax/_src/__init__.py``) hold:
import-linter's contracts pass on the tree and fail when an upward import is
injected; each layer imports alone, without the layers above it; only the
runtime layer uses the extension module; function-level imports stay inside
one layer and say which cycle they break."""
import ast
import io
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import tokenize

import pytest

import rjax

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
# The rjax under test: the checkout's python/ in a development build
# (conftest.py), the installed package otherwise.
PKG = pathlib.Path(rjax.__file__).resolve().parent
SRC = PKG / "_src"

#: Lowest first; a layer may import only itself and the layers before it.
LAYERS = [
    ("base", ["base", "util"]),   # util: the helpers JAX programs import from jax._src.util
    ("core", ["core"]),
    ("runtime", ["runtime"]),
    ("interpreters", ["interpreters"]),
    ("lax", ["lax"]),
    ("numpy", ["numpy"]),
    ("transforms", ["transforms"]),
    ("libraries", ["random", "nn", "optim", "checkpoints", "distributed", "demo_train",
                   "example_libraries", "flatten_util", "ops", "typing", "array_api", "debugging",
                   "experimental", "image", "scipy", "export"]),
]
RANK = {top: i for i, (_, tops) in enumerate(LAYERS) for top in tops}


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(PKG.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer_of(module: str):
  """The layer index of a module ``rjax._src.<top>...`` (None outside _src)."""
  parts = module.split(".")
  if parts[:2] != ["rjax", "_src"] or len(parts) < 3:
    return None
  return RANK[parts[2]]


def _src_files():
  return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _lint(package_parent: pathlib.Path) -> subprocess.CompletedProcess:
  """Run the import contracts of pyproject.toml on the rjax under ``package_parent``."""
  code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
  env = {**os.environ, "PYTHONPATH": str(package_parent)}
  return subprocess.run([sys.executable, "-c", code, str(PYPROJECT), "--no-cache"],
                        capture_output=True, text=True, env=env, cwd=package_parent)


def test_every_src_package_is_in_a_layer():
  tops = {p.name.removesuffix(".py") for p in SRC.iterdir()
          if p.name != "__pycache__" and (p.suffix == ".py" or p.is_dir())} - {"__init__"}
  assert tops == set(RANK), tops ^ set(RANK)


def test_import_contracts_pass():
  r = _lint(PKG.parent)
  assert r.returncode == 0, r.stdout + r.stderr
  assert "BROKEN" not in r.stdout and r.stdout.count("KEPT") == 3, r.stdout


def test_import_contracts_catch_an_upward_import(tmp_path):
  """Inject ``from rjax._src.numpy import ufuncs`` into core (inside a
  function, where it would not even run at import time): the layers
  contract must fail and name that import."""
  copy = tmp_path / "rjax"
  shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
  core = copy / "_src" / "core.py"
  core.write_text(core.read_text() + textwrap.dedent("""

      def _upward():
        from rjax._src.numpy import ufuncs
        return ufuncs
      """))
  r = _lint(tmp_path)
  assert r.returncode != 0, r.stdout
  assert "BROKEN" in r.stdout
  assert "rjax._src.core is not allowed to import rjax._src.numpy" in r.stdout, r.stdout
  assert "rjax._src.core -> rjax._src.numpy.ufuncs" in r.stdout, r.stdout


_IMPORT_ALONE = """
import sys, types
# Stand in an empty ``rjax`` package: Python imports a package's parent first,
# and rjax/__init__.py (the public face) imports every layer.
rjax = types.ModuleType("rjax")
rjax.__path__ = [{pkg!r}]
sys.modules["rjax"] = rjax
import importlib
for name in {modules!r}:
  importlib.import_module(name)
print("\\n".join(sorted(m for m in sys.modules if m.startswith("rjax."))))
"""


@pytest.mark.parametrize("index", range(len(LAYERS)), ids=[name for name, _ in LAYERS])
def test_each_layer_imports_alone(index):
  """In a fresh interpreter, importing every module of a layer (and so the
  layers below it) loads no module of a higher layer nor the public face."""
  modules = [_module_name(p) for p in _src_files() if _layer_of(_module_name(p)) == index]
  assert modules
  code = _IMPORT_ALONE.format(pkg=str(PKG), modules=modules)
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
  assert r.returncode == 0, r.stderr
  loaded = r.stdout.split()
  higher = [m for m in loaded if (_layer_of(m) or 0) > index]
  public = [m for m in loaded if _layer_of(m) is None and m not in ("rjax._src", "rjax._rjax")]
  assert not higher, f"{LAYERS[index][0]} loads higher layers: {higher}"
  assert not public, f"{LAYERS[index][0]} loads the public face: {public}"


def _imports(tree):
  """(node, function-level?) for every import statement of a module."""
  out = []

  def visit(node, in_function):
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.Import, ast.ImportFrom)):
        out.append((child, in_function))
      visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                     ast.Lambda)))

  visit(tree, False)
  return out


def _targets(node) -> list[str]:
  if isinstance(node, ast.Import):
    return [a.name for a in node.names]
  if node.level or node.module is None:
    return []
  # ``from rjax._src.lax import shapes`` imports a module of that package
  return [node.module] + [f"{node.module}.{a.name}" for a in node.names]


def _comments(path) -> dict[int, str]:
  toks = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
  return {t.start[0]: t.string for t in toks if t.type == tokenize.COMMENT}


def test_only_the_runtime_uses_the_extension_and_nothing_uses_the_public_face():
  bad = []
  for path in _src_files():
    name = _module_name(path)
    for node, _ in _imports(ast.parse(path.read_text())):
      for t in _targets(node):
        if t == "rjax" or t.startswith("rjax.") and not t.startswith("rjax._src"):
          if t.startswith("rjax._rjax") and _layer_of(name) == RANK["runtime"]:
            continue
          if isinstance(node, ast.ImportFrom) and t == "rjax" and node.names[0].name == "_src":
            continue
          bad.append(f"{name}:{node.lineno} imports {t}")
  assert not bad, "\n".join(bad)


def test_function_level_imports_stay_in_their_layer_and_say_why():
  """A function-level import of rjax is allowed only inside one layer, with
  a comment on the line naming the cycle it breaks."""
  bad = []
  for path in _src_files():
    name = _module_name(path)
    comments = _comments(path)
    for node, in_function in _imports(ast.parse(path.read_text())):
      targets = [t for t in _targets(node) if t.startswith("rjax.")]
      if not in_function or not targets:
        continue
      layer = _layer_of(name)
      if any(_layer_of(t) not in (None, layer) for t in targets if t.startswith("rjax._src")):
        bad.append(f"{name}:{node.lineno}: function-level import from another layer")
      elif "cycle" not in comments.get(node.lineno, ""):
        bad.append(f"{name}:{node.lineno}: function-level import without a '# cycle: ...' "
                   f"comment")
  assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", ["lax", "numpy", "random", "nn", "optim"])
def test_namespace_packages_do_not_shadow_their_modules(package):
  """These packages' namespaces are their layer's API (``from rjax._src
  import lax``); an exported name equal to a submodule's name would hide the
  submodule from ``from rjax._src.<package> import <module>``."""
  import importlib
  import pkgutil
  mod = importlib.import_module(f"rjax._src.{package}")
  for m in pkgutil.iter_modules(mod.__path__):
    sub = importlib.import_module(f"{mod.__name__}.{m.name}")
    assert getattr(mod, m.name) is sub, f"rjax._src.{package}.{m.name} is not the submodule"
