"""Long-run stability: N jitted training steps of the demo's CNN (AdamW, the
digits data), printing the process's resident set size every K steps.

    python benches/bench_rss.py --steps 10000 --every 500

The RSS must stay flat after warm-up: the script reports the largest
relative growth over the value at the end of warm-up (the first --warmup
steps) and exits 1 if it passes --tolerance (5% by default). The curve is
printed as ``step rss_mib`` lines (and written as CSV with --csv)."""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

import rjax
import rjax.numpy as jnp
from rjax._src import demo_train


def rss_mib() -> float:
  """Current resident set size (Linux /proc; ru_maxrss elsewhere is a peak)."""
  try:
    with open("/proc/self/statm") as f:
      pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
  except OSError:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--steps", type=int, default=10_000)
  p.add_argument("--every", type=int, default=500)
  p.add_argument("--warmup", type=int, default=1000)
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--tolerance", type=float, default=0.05)
  p.add_argument("--csv", default=None)
  a = p.parse_args(argv)

  model = demo_train.make_model("cnn")
  x_train, y_train, _, _ = demo_train.load_digits_split(seed=0)
  mean, scale = demo_train.standardizer(x_train)
  x_train = ((x_train - mean) / scale).astype(np.float32)
  tx = demo_train.make_optimizer(1e-3, a.steps)
  params = model.init(rjax.random.PRNGKey(0), jnp.asarray(x_train[:1]))["params"]
  opt_state = tx.init(params)
  update = rjax.jit(demo_train.make_update(model, tx))
  rng = np.random.default_rng(0)
  n = len(x_train)
  curve = []
  t0 = time.perf_counter()
  for step in range(1, a.steps + 1):
    idx = rng.integers(0, n, a.batch)
    params, opt_state, loss = update(params, opt_state, x_train[idx], y_train[idx])
    if step % a.every == 0 or step == a.steps:
      loss = float(loss)  # waits for the step
      gc.collect()
      r = rss_mib()
      curve.append((step, r))
      print(f"{step:7d} {r:9.1f} MiB  loss {loss:.4f}  {time.perf_counter() - t0:7.1f} s",
            flush=True)
  if a.csv:
    with open(a.csv, "w") as f:
      f.write("step,rss_mib\n")
      f.writelines(f"{s},{r:.1f}\n" for s, r in curve)
  base = [r for s, r in curve if s >= a.warmup]
  if len(base) < 2:
    print("too few samples after warm-up")
    return 0
  growth = max(base) / base[0] - 1
  print(f"RSS after warm-up: {base[0]:.1f} MiB, max {max(base):.1f} MiB, "
        f"growth {100 * growth:+.2f}% (tolerance {100 * a.tolerance:.0f}%)")
  return 0 if growth <= a.tolerance else 1


if __name__ == "__main__":
  sys.exit(main())
