#!/usr/bin/env bash
# Run the unit tests of rjax's unsafe code under Valgrind's memcheck (Debian's
# valgrind works with stable Rust; Miri would need nightly).
#
#   tools/valgrind_unsafe.sh            # the default filters below
#   tools/valgrind_unsafe.sh exec::fused # one module
#
# The filters cover the modules with `unsafe` blocks: the buffers and their
# pool, typed slices, the GEMM kernels and their packing, the elementwise
# conversions, the fused tile runner, the communicator and the strided loops.
# Valgrind hides AVX-512 from the program (its CPUID), so the AVX-512 GEMM
# path is not exercised here; the portable one is.
# Exit status: 0 if memcheck found no error in any run.
set -euo pipefail
cd "$(dirname "$0")/.."
filters=("$@")
if [ ${#filters[@]} -eq 0 ]; then
  filters=(base::buffer base::slice ops::dot ops::elementwise::kernel exec::fused exec::comm
           loops:: exec::device)
fi
bin=$(cargo test --lib --no-run --message-format=json 2>/dev/null \
      | python3 -c 'import json,sys
for l in sys.stdin:
  m = json.loads(l)
  if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "_rjax":
    print(m["executable"])' | tail -1)
[ -x "$bin" ] || { echo "no test binary" >&2; exit 2; }
status=0
for f in "${filters[@]}"; do
  echo "== valgrind: $f"
  RUST_TEST_THREADS=1 RAYON_NUM_THREADS=2 valgrind --quiet --error-exitcode=99 \
    --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --fair-sched=yes "$bin" --test-threads=1 "$f" 2>&1 | tail -25 || status=1
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
exit $status
