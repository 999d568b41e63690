#!/usr/bin/env bash
# Build rjax without Python, export a model from Python, compile the C
# example against the library, run it, and check that its output equals
# Python's bit for bit and that the binary does not link libpython.
#   examples/c_infer/run.sh        (from the repository root, rjax installed)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --no-default-features --lib
python examples/c_infer/export_model.py "$work" 37
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/c_infer/main.c \
   -Ltarget/release -lrjax -Wl,-rpath,"$root/target/release" -o "$work/c_infer"
"$work/c_infer" "$work/model.rjax" "$work/input.f32" 37 6 "$work/out.f32"
cmp "$work/out.f32" "$work/expected.f32"
if ldd "$work/c_infer" | grep -i python; then
  echo "c_infer links libpython" >&2
  exit 1
fi
echo "c_infer: output equals Python's bit for bit; no libpython"
