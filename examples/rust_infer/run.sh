#!/usr/bin/env bash
# Train the demo's CNN in Python, export it, build the Rust binary against
# rjax without Python, and serve the held-out digits with it. The binary
# checks that its logits equal Python's bit for bit (batch 1 and batch 128),
# prints its accuracy and a latency table (Rust, Python rjax, JAX); ldd
# checks that it does not link libpython. Any mismatch exits non-zero.
#   examples/rust_infer/run.sh        (rjax, scikit-learn and jax installed)
# EPOCHS=3 trains for 3 epochs instead of the demo's 20.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A workspace member that depends on rjax by path (default features off).
# Its thin-LTO link wants rjax as bitcode, so this compiles rjax again after
# examples/c_infer's `cargo build --lib`, unless both were built by one
# command: `cargo build --release --no-default-features -p rjax -p
# rust_infer` (what CI runs first; then this finds everything fresh).
cargo build --release -p rust_infer
python examples/rust_infer/digits.py export "$work" ${EPOCHS:+--epochs "$EPOCHS"}
python examples/rust_infer/digits.py bench "$work"
target/release/rust_infer "$work"
if ldd target/release/rust_infer | grep -i python; then
  echo "rust_infer links libpython" >&2
  exit 1
fi
echo "rust_infer: logits equal Python's bit for bit; no libpython"
