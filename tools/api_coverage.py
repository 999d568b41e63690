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


def coverage() -> list[dict]:
  rows = []
  for spec, note in NAMESPACES:
    name, _, part = spec.partition(":")
    jmod = _import(name)
    if jmod is None:
      continue
    names = public_names(jmod)
    if name == "jax.lax":
      prims = part == "primitives"
      names = [n for n in names if n.endswith("_p") == prims]
    rmod = _import("r" + name)
    have = [n for n in names if rmod is not None and hasattr(rmod, n)]
    lack = [n for n in names if n not in have]
    rows.append({"namespace": spec, "note": note, "total": len(names), "have": len(have),
                 "missing": lack})
  return rows


def table(rows: list[dict]) -> str:
  import jax
  lines = [f"JAX {jax.__version__}; `python tools/api_coverage.py`", "",
           "| JAX namespace | rjax has | of | share |", "|---|---|---|---|"]
  for r in rows:
    share = f"{100 * r['have'] / r['total']:.0f}%" if r["total"] else "-"
    label = r["namespace"].replace(":primitives", " (primitives)")
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
