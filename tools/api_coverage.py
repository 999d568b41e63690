"""Which of JAX's public names rjax has, namespace by namespace.

    python tools/api_coverage.py              # the table (markdown)
    python tools/api_coverage.py --missing    # and, per namespace, the names rjax lacks
    python tools/api_coverage.py --json out.json

The reference is the JAX installed next to rjax (the test extra pins 0.10.2).
A namespace's public names are ``dir()`` of the JAX module, leaving out names
that start with ``_`` and modules imported from elsewhere (``functools`` or
``jnp`` inside ``jax.example_libraries.stax``); its own submodules count as
names. rjax has a name when the matching ``rjax`` module has the attribute.
``jax.lax`` is split into its primitive objects (``*_p``) and the rest.

A namespace's row counts only its own names; a submodule counts there as one
name, present or not, whatever it holds. So every submodule of a listed
namespace that is not listed itself gets a row of its own (found by walking
JAX's modules; ``jax.scipy.stats``' distributions share one row), and
``jax.scipy (all names)`` counts every function and class in every
``jax.scipy`` module, which the ``jax.scipy`` row (its submodules) does not.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import types

#: (JAX namespace, note) in report order.
NAMESPACES = [
    ("jax", ""),
    ("jax.numpy", ""),
    ("jax.numpy.linalg", ""),
    ("jax.numpy.fft", ""),
    ("jax.lax", "non-primitive names"),
    ("jax.lax:primitives", "the `*_p` primitive objects"),
    ("jax.lax.linalg", ""),
    ("jax.random", ""),
    ("jax.tree_util", ""),
    ("jax.tree", ""),
    ("jax.nn", ""),
    ("jax.nn.initializers", ""),
    ("jax.example_libraries.stax", ""),
    ("jax.example_libraries.optimizers", ""),
    ("jax.flatten_util", ""),
    ("jax.debug", ""),
    ("jax.dtypes", ""),
    ("jax.errors", ""),
    ("jax.ops", ""),
    ("jax.image", ""),
    ("jax.typing", ""),
    ("jax.dlpack", ""),
    ("jax.custom_batching", ""),
    ("jax.custom_derivatives", ""),
    ("jax.test_util", ""),
    ("jax.experimental", ""),
    ("jax.experimental.ode", ""),
    ("jax.experimental.checkify", ""),
    ("jax.sharding", ""),
    ("jax.export", ""),
    ("jax.stages", ""),
    ("jax.scipy", ""),
    ("jax.scipy.special", ""),
    ("jax.scipy.stats", ""),
    ("jax.scipy.linalg", ""),
    ("jax.scipy.signal", ""),
    ("jax.scipy.optimize", ""),
    ("jax.scipy.sparse.linalg", ""),
    ("jax.scipy.ndimage", ""),
    ("jax.scipy.integrate", ""),
    ("jax.scipy.interpolate", ""),
    ("jax.scipy.spatial.transform", ""),
    ("jax.scipy.cluster.vq", ""),
    ("jax.scipy.fft", ""),
]


def public_names(mod: types.ModuleType) -> list[str]:
  """``dir(mod)`` without private names and modules imported from elsewhere."""
  out = []
  for k in dir(mod):
    if k.startswith("_"):
      continue
    v = getattr(mod, k, None)
    if isinstance(v, types.ModuleType) and v.__name__ != f"{mod.__name__}.{k}":
      continue
    out.append(k)
  return sorted(out)


def _import(name: str):
  try:
    return importlib.import_module(name)
  except Exception:
    return None


#: Unlisted submodules of these share one row (``jax.scipy.stats.*``).
GROUPED = ("jax.scipy.stats",)


def _own_names(name: str, part: str = "") -> list[str]:
  jmod = _import(name)
  if jmod is None:
    return []
  names = public_names(jmod)
  if name == "jax.lax":
    prims = part == "primitives"
    names = [n for n in names if n.endswith("_p") == prims]
  return names


def _submodules(name: str) -> list[str]:
  """The modules below ``name`` (recursively), by their JAX names."""
  jmod = _import(name)
  out = []
  for k in public_names(jmod) if jmod is not None else []:
    if isinstance(getattr(jmod, k, None), types.ModuleType):
      out.append(f"{name}.{k}")
      out.extend(_submodules(f"{name}.{k}"))
  return out


def _row(label: str, note: str, pairs: list[tuple[str, str]]) -> dict:
  """``pairs``: (JAX module, name) to look up in the matching rjax module."""
  have, lack = 0, []
  for mod, n in pairs:
    rmod = _import("r" + mod)
    if rmod is not None and hasattr(rmod, n):
      have += 1
    else:
      lack.append(n if mod == label else f"{mod[len(label) - 1:]}.{n}" if label.endswith("*")
                  else f"{mod}.{n}")
  return {"namespace": label, "note": note, "total": len(pairs), "have": have, "missing": lack}


def coverage() -> list[dict]:
  rows = []
  listed = {spec.partition(":")[0] for spec, _ in NAMESPACES}
  for spec, note in NAMESPACES:
    name, _, part = spec.partition(":")
    if _import(name) is None:
      continue
    rows.append(_row(name, note, [(name, n) for n in _own_names(name, part)]))
    rows[-1]["namespace"] = spec
  # submodules no row covers
  extra = sorted({m for spec in listed for m in _submodules(spec)} - listed)
  grouped = {g: [m for m in extra if m.startswith(g + ".")] for g in GROUPED}
  for g, mods in grouped.items():
    if mods:
      rows.append(_row(g + ".*", f"the names inside its {len(mods)} submodules",
                       [(m, n) for m in mods for n in _own_names(m)
                        if not isinstance(getattr(_import(m), n, None), types.ModuleType)]))
  for m in extra:
    if not any(m.startswith(g + ".") for g in GROUPED):
      rows.append(_row(m, "a submodule the rows above count as one name",
                       [(m, n) for n in _own_names(m)]))
  # every function and class anywhere in jax.scipy
  mods = ["jax.scipy"] + _submodules("jax.scipy")
  rows.append(_row("jax.scipy", "all names, every submodule",
                   [(m, n) for m in mods for n in _own_names(m)
                    if not isinstance(getattr(_import(m), n, None), types.ModuleType)]))
  rows[-1]["namespace"] = "jax.scipy:all"
  return rows


def table(rows: list[dict]) -> str:
  import jax
  lines = [f"JAX {jax.__version__}; `python tools/api_coverage.py`", "",
           "| JAX namespace | rjax has | of | share |", "|---|---|---|---|"]
  for r in rows:
    share = f"{100 * r['have'] / r['total']:.0f}%" if r["total"] else "-"
    label = r["namespace"].replace(":primitives", " (primitives)").replace(":all", " (all names)")
    lines.append(f"| `{label}` | {r['have']} | {r['total']} | {share} |")
  return "\n".join(lines)


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--missing", action="store_true", help="list the names rjax lacks")
  ap.add_argument("--json", help="write the full report to this file")
  args = ap.parse_args(argv)
  rows = coverage()
  print(table(rows))
  if args.missing:
    for r in rows:
      if r["missing"]:
        print(f"\n{r['namespace']} lacks {len(r['missing'])}: " + ", ".join(r["missing"]))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(rows, f, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())
