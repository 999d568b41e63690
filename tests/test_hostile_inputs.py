"""The hostile-input battery (issue 15): absurd shapes, wrong dtypes, NaN/inf,
empty arrays, odd NumPy layouts, read-only and writable buffers, objects that
are not arrays, huge Python ints, corrupted checkpoints, deep pytrees and
eight threads on one function (the cases: ``hostile_cases.py``).

Each group of cases runs in a subprocess with a timeout, once with rjax and
once with JAX, so a crash or a hang is a failed test, not a lost run. Every
case must end in JAX's exception class (the builtin class JAX's exception
derives from) or JAX's value (dtype and all), or in the outcome the case
states where JAX itself aborts or has no equivalent; and no case may change
its NumPy inputs."""
import base64
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import hostile_cases

_HERE = os.path.dirname(os.path.abspath(__file__))
_TIMEOUT = 240

# The runner: evaluates each case of a group with one library, prints one
# JSON line per case (flushed, so a crash still names the case it hit).
_RUNNER = r"""
import base64, builtins, hashlib, json, pickle, sys
import numpy as np
sys.path.insert(0, HERE)
import hostile_cases, hostile_helpers as helpers
sys.setrecursionlimit(3000)
if LIB == "rjax":
  import rjax as lib, rjax.numpy as jnp
  import rjax.scipy.special, rjax.nn, rjax.dlpack  # noqa: F401
else:
  import jax as lib, jax.numpy as jnp
  import jax.scipy.special, jax.nn  # noqa: F401
cases = [c for g, *c in hostile_cases.all_cases() if g == GROUP]
for name, setup, code, expect in cases:
  if LIB == "jax" and expect != "jax":
    continue
  print(json.dumps({"start": name}), flush=True)
  ns = {"lib": lib, "jnp": jnp, "np": np, "helpers": helpers}
  exec(setup, ns)
  ins = ns["ins"]
  before = [hashlib.sha256(np.ascontiguousarray(a).view(np.uint8).tobytes()).hexdigest()
            for a in ins]
  rec = {"case": name}
  try:
    out = eval(code, ns)
    val = np.asarray(out)
    rec["value"] = base64.b64encode(pickle.dumps(val)).decode()
  except BaseException as e:  # noqa: BLE001 -- the outcome under test
    rec["exc"] = [c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins"]
    rec["type"] = f"{type(e).__module__}.{type(e).__qualname__}"
    rec["msg"] = str(e)[:300]
  after = [hashlib.sha256(np.ascontiguousarray(a).view(np.uint8).tobytes()).hexdigest()
           for a in ins]
  rec["mutated"] = before != after and not name.startswith(("asarray_then", "array_copy"))
  print(json.dumps(rec), flush=True)
print(json.dumps({"done": True}), flush=True)
"""


def _run(group: str, lib: str) -> dict:
  code = f"HERE = {_HERE!r}; LIB = {lib!r}; GROUP = {group!r}\n" + _RUNNER
  env = dict(os.environ)
  try:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=_TIMEOUT, env=env)
  except subprocess.TimeoutExpired as e:
    out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    last = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    pytest.fail(f"{lib}: group {group} hung; last case started: {last[-1] if last else None}")
  lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
  if not lines or "done" not in lines[-1]:
    started = [l["start"] for l in lines if "start" in l]
    pytest.fail(f"{lib}: group {group} died (exit {p.returncode}) in case "
                f"{started[-1] if started else None}:\n{p.stderr[-3000:]}")
  return {l["case"]: l for l in lines if "case" in l}


def _value(rec):
  return pickle.loads(base64.b64decode(rec["value"]))


def _same_value(got, want) -> str | None:
  if got.dtype != want.dtype:
    return f"dtype {got.dtype} != {want.dtype}"
  if got.shape != want.shape:
    return f"shape {got.shape} != {want.shape}"
  if got.dtype.kind in "fc":
    ok = np.allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True) and np.array_equal(
        np.isnan(got), np.isnan(want))
  else:
    ok = np.array_equal(got, want)
  return None if ok else f"value {got!r} != {want!r}"


def _compare(name, got, want) -> str | None:
  if "exc" in want:
    cls = want["exc"][0]
    if "exc" not in got:
      return f"{name}: expected {cls} ({want.get('msg')!r}), got value {_value(got)!r}"
    if cls not in got["exc"]:
      return f"{name}: expected {cls}, got {got['type']}: {got['msg']}"
    return None
  if "exc" in got:
    return f"{name}: expected a value, got {got['type']}: {got['msg']}"
  err = _same_value(_value(got), _value(want))
  return f"{name}: {err}" if err else None


@pytest.mark.parametrize("group", [g for g, _ in hostile_cases.GROUPS])
def test_hostile_inputs(group):
  cases = [c for g, *c in hostile_cases.all_cases() if g == group]
  ours = _run(group, "rjax")
  theirs = _run(group, "jax") if any(e == "jax" for *_, e in cases) else {}
  problems = []
  for name, _setup, _code, expect in cases:
    got = ours[name]
    if got["mutated"]:
      problems.append(f"{name}: changed its NumPy input")
    if expect == "jax":
      want = theirs[name]
    elif expect[0] == "exc":
      want = {"exc": [expect[1]]}
    else:
      want = {"value": base64.b64encode(pickle.dumps(np.asarray(eval(expect[1])))).decode()}
    err = _compare(name, got, want)
    if err:
      problems.append(err)
  assert not problems, "\n".join(problems)


def test_the_battery_has_enough_cases():
  assert len(hostile_cases.all_cases()) >= 150
