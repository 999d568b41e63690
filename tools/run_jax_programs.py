"""Run JAX's own example scripts and tutorial notebooks on JAX and on rjax
(``import jax`` -> ``import rjax as jax``) and compare what they print.

    python tools/run_jax_programs.py --jax-repo PATH [--only NAME ...] [--out DIR]

``PATH`` is a clone of github.com/jax-ml/jax (a bare clone works: files are
read with ``git show`` at the refs below, so nothing of JAX is copied into
this repository). The programs are the issue's list: the scripts in
``examples/`` at ``jax-v0.10.2``; ``kernel_lsq.py`` and
``gaussian_process_regression.py`` at ``jax-v0.9.2``; the pmap version of
``spmd_mnist_classifier_fromscratch.py`` (the parent of the commit that moved
it to NamedSharding); and the notebooks of ``docs/notebooks/`` that need no
sharding, GPU, private ``jax._src`` API or download. Scripts that load MNIST
get ``tools/jax_programs/datasets.py`` (scikit-learn's digits at 28x28).

Notebooks (their MyST ``.md`` form) run cell by cell; a cell's last
expression is printed (as IPython displays it); a cell that raises prints
``[cell N raised TypeName]`` and the run goes on, so the two runs can be
compared cell by cell. Lines are compared with their numbers replaced by
``#`` and the numbers compared within a relative tolerance; lines that
report timings are skipped.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPTS = [
    ("advi", "jax-v0.10.2", "examples/advi.py"),
    ("differentially_private_sgd", "jax-v0.10.2", "examples/differentially_private_sgd.py"),
    ("mnist_classifier", "jax-v0.10.2", "examples/mnist_classifier.py"),
    ("mnist_classifier_fromscratch", "jax-v0.10.2", "examples/mnist_classifier_fromscratch.py"),
    ("mnist_vae", "jax-v0.10.2", "examples/mnist_vae.py"),
    ("kernel_lsq", "jax-v0.9.2", "examples/kernel_lsq.py"),
    ("gaussian_process_regression", "jax-v0.9.2", "examples/gaussian_process_regression.py"),
    # the pmap version: the parent of 9d4f4aba28 ("SPMD with jax.jit, namedsharding ...")
    ("spmd_mnist_classifier_fromscratch", "9d4f4aba28^",
     "examples/spmd_mnist_classifier_fromscratch.py"),
]
# onnx2xla.py is left out: it needs the onnx package and downloads a model.

NOTEBOOKS = [
    "Common_Gotchas_in_JAX", "Custom_derivative_rules_for_Python_code",
    "Writing_custom_interpreters_in_Jax", "autodiff_cookbook", "autodiff_remat",
    "convolutions", "thinking_in_jax", "vmapped_log_probs",
]
# Left out: colocated-python, cute_dsl_jax, host-offloading, layout, shard_map
# (sharding / GPU / remote hosts), neural_network_with_tfds_data and
# Neural_Network_and_Data_Loading (they download MNIST through TFDS / torchvision).

# Extra arguments that keep a script short on the stand-in data.
SCRIPT_ARGS = {
    "differentially_private_sgd": ["--epochs=2", "--batch_size=128"],
}

_TIMING = re.compile(r"\b(sec|secs|seconds|time|took|ms|µs|us|it/s|examples/s)\b", re.I)
_NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_ADDR = re.compile(r"0x[0-9a-fA-F]+|(?<=\bid=)\d+")  # addresses and id()s


# ---------------------------------------------------------------------------
# Turning sources into programs


def to_rjax(src: str) -> str:
  """``jax`` imports -> ``rjax`` (the program text is otherwise unchanged)."""
  src = re.sub(r"^(\s*)import jax\s*$", r"\1import rjax as jax", src, flags=re.M)
  src = re.sub(r"^(\s*)import jax\.([\w.]+) as ", r"\1import rjax.\2 as ", src, flags=re.M)
  src = re.sub(r"^(\s*)import jax\.([\w.]+)\s*$", r"\1import rjax.\2; import rjax as jax", src,
               flags=re.M)
  src = re.sub(r"^(\s*)from jax(\.[\w.]+)? import ", r"\1from rjax\2 import ", src, flags=re.M)
  src = re.sub(r"^(\s*)import jax, ", r"\1import rjax as jax, ", src, flags=re.M)
  return src


def notebook_cells(md: str) -> list[tuple[str, bool]]:
  """The code cells of a MyST notebook: (source, raises_exception)."""
  cells = []
  for m in re.finditer(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", md, flags=re.M | re.S):
    body = m.group(1)
    lines = body.split("\n")
    meta = []
    if lines and lines[0].strip() == "---":      # a YAML block
      end = lines.index("---", 1) if "---" in lines[1:] else 0
      meta, lines = lines[1:end], lines[end + 1:]
    while lines and lines[0].startswith(":"):
      meta.append(lines.pop(0))
    raises = any("raises-exception" in x for x in meta)
    code = "\n".join(x for x in lines if not x.lstrip().startswith(("%", "!")))
    cells.append((code, raises))
  return cells


NOTEBOOK_RUNNER = '''
import ast as _ast, sys as _sys, traceback as _tb
def _run_cell(_i, _src, _raises):
  try:
    _tree = _ast.parse(_src)
  except SyntaxError as _e:
    print(f"[cell {_i} raised SyntaxError]"); return
  _last = None
  if _tree.body and isinstance(_tree.body[-1], _ast.Expr):
    _last = _ast.Expression(_tree.body.pop().value)
  try:
    exec(compile(_tree, f"<cell {_i}>", "exec"), globals())
    if _last is not None:
      _v = eval(compile(_last, f"<cell {_i}>", "eval"), globals())
      if _v is not None:
        print(repr(_v))
  except Exception as _e:
    print(f"[cell {_i} raised {type(_e).__name__}]")
    if not _raises:
      print(f"[cell {_i}] " + "".join(_tb.format_exception_only(type(_e), _e)).strip()[:300],
            file=_sys.stderr)
  _sys.stdout.flush()
'''


def notebook_program(md: str, rjax: bool) -> str:
  cells = notebook_cells(md)
  out = ["import matplotlib; matplotlib.use('Agg')", NOTEBOOK_RUNNER]
  for i, (code, raises) in enumerate(cells):
    code = to_rjax(code) if rjax else code
    out.append(f"_run_cell({i}, {code!r}, {raises})")
  return "\n".join(out) + "\n"


def git_show(repo: str, ref: str, path: str) -> str:
  return subprocess.run(["git", "--git-dir", _git_dir(repo), "show", f"{ref}:{path}"],
                        check=True, capture_output=True, text=True).stdout


def _git_dir(repo: str) -> str:
  return os.path.join(repo, ".git") if os.path.isdir(os.path.join(repo, ".git")) else repo


def prepare(repo: str, out: str, only: list[str] | None) -> list[tuple[str, dict[str, str]]]:
  """Write each program's two variants; returns (name, {variant: dir})."""
  progs = []
  for name, ref, path in SCRIPTS:
    if only and name not in only:
      continue
    src = git_show(repo, ref, path)
    dirs = {}
    for variant in ("jax", "rjax"):
      d = os.path.join(out, name, variant)
      os.makedirs(os.path.join(d, "examples"), exist_ok=True)
      with open(os.path.join(d, "examples", "__init__.py"), "w"):
        pass
      shutil.copy(os.path.join(HERE, "jax_programs", "datasets.py"),
                  os.path.join(d, "examples", "datasets.py"))
      with open(os.path.join(d, "prog.py"), "w") as f:
        f.write(to_rjax(src) if variant == "rjax" else src)
      dirs[variant] = d
    progs.append((name, dirs))
  for name in NOTEBOOKS:
    if only and name not in only:
      continue
    md = git_show(repo, "jax-v0.10.2", f"docs/notebooks/{name}.md")
    dirs = {}
    for variant in ("jax", "rjax"):
      d = os.path.join(out, name, variant)
      os.makedirs(d, exist_ok=True)
      with open(os.path.join(d, "prog.py"), "w") as f:
        f.write(notebook_program(md, variant == "rjax"))
      dirs[variant] = d
    progs.append((name, dirs))
  return progs


# ---------------------------------------------------------------------------
# Running and comparing


def run(d: str, args: list[str], timeout: float) -> tuple[int, str, str]:
  env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=d,
             XLA_FLAGS="--xla_force_host_platform_device_count=2", RJAX_NUM_CPU_DEVICES="2")
  try:
    p = subprocess.run([sys.executable, "prog.py", *args], cwd=d, env=env, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr
  except subprocess.TimeoutExpired as e:
    return -1, (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), \
        f"timeout after {timeout} s"


def _norm(line: str) -> tuple[str, list[float]]:
  line = _ADDR.sub("0x?", line.replace("rjax", "jax"))
  nums = [float(x) for x in _NUM.findall(line)]
  # whitespace is left out: NumPy pads printed arrays to their longest number
  return re.sub(r"\s+", "", _NUM.sub("#", line)), nums


def compare(a: str, b: str, rtol: float, atol: float) -> list[str]:
  """Differences between two outputs (timing lines skipped)."""
  la = [x for x in a.splitlines() if x.strip() and not _TIMING.search(x)]
  lb = [x for x in b.splitlines() if x.strip() and not _TIMING.search(x)]
  diffs = []
  if len(la) != len(lb):
    diffs.append(f"{len(la)} lines (jax) vs {len(lb)} lines (rjax)")
  for i, (x, y) in enumerate(zip(la, lb)):
    (sx, nx), (sy, ny) = _norm(x), _norm(y)
    ok = sx == sy and len(nx) == len(ny) and all(
        abs(p - q) <= atol + rtol * max(abs(p), abs(q)) for p, q in zip(nx, ny))
    if not ok:
      diffs.append(f"line {i}:\n    jax:  {x[:200]}\n    rjax: {y[:200]}")
  return diffs


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--jax-repo", required=True, help="a clone of github.com/jax-ml/jax")
  ap.add_argument("--out", default="/tmp/rjax_jax_programs")
  ap.add_argument("--only", nargs="*", help="program names to run")
  ap.add_argument("--timeout", type=float, default=900)
  ap.add_argument("--rtol", type=float, default=2e-3)
  ap.add_argument("--atol", type=float, default=1e-5)
  ap.add_argument("--skip-jax", action="store_true", help="reuse the JAX outputs of an earlier run")
  args = ap.parse_args(argv)
  progs = prepare(args.jax_repo, args.out, args.only)
  summary = []
  for name, dirs in progs:
    results = {}
    for variant, d in dirs.items():
      saved = os.path.join(d, "stdout.txt")
      if variant == "jax" and args.skip_jax and os.path.exists(saved):
        with open(saved) as f:
          results[variant] = (0, f.read(), "")
        continue
      rc, out, err = run(d, SCRIPT_ARGS.get(name, []), args.timeout)
      with open(saved, "w") as f:
        f.write(out)
      with open(os.path.join(d, "stderr.txt"), "w") as f:
        f.write(err)
      results[variant] = (rc, out, err)
    (rc_j, out_j, _), (rc_r, out_r, err_r) = results["jax"], results["rjax"]
    diffs = compare(out_j, out_r, args.rtol, args.atol)
    status = "same output" if rc_r == 0 and not diffs else \
        f"rjax exit {rc_r}" if rc_r != 0 else f"{len(diffs)} differences"
    if rc_j != 0:
      status += f" (JAX itself exited {rc_j})"
    summary.append((name, status))
    print(f"== {name}: {status}")
    for dd in diffs[:8]:
      print("  " + dd)
    if rc_r != 0:
      print(textwrap.indent(err_r[-1500:], "  | "))
    sys.stdout.flush()
  print("\n| program | result |\n|---|---|")
  for name, status in summary:
    print(f"| {name} | {status} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
