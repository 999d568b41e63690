#!/usr/bin/env bash
# The unit tests of rjax's unsafe code under Valgrind's memcheck (Debian's
# valgrind works with stable Rust; Miri would need nightly). CI runs it after
# `cargo test --lib --release --no-default-features`, whose lib test
# binary it reuses (asked of cargo with the same flags, so nothing rebuilds).
#
#   tools/valgrind_tests.sh             # the self-check, then the default filters
#   tools/valgrind_tests.sh exec::fused # some filters (libtest substrings)
#
# Environment: RJAX_TEST_BIN, the test binary to run (default: the release
# lib test binary, asked of cargo, which builds it only if it is stale).
#
# The default filters cover the modules with `unsafe` code: the buffers and
# their pool, typed slices, the strided and parallel loops, the elementwise
# kernels, the GEMM packing and kernels, sort, FFT, the fused tile runner and
# the device queue, the communicator, the export format reader and the C API,
# and 64 cases of the Program fuzzer (RJAX_FUZZ_CASES), whose random fused
# groups drive the tile runner over every dtype.
# Valgrind hides AVX-512 from the program (its CPUID), so the AVX-512 GEMM is
# not run here; the portable kernels (selected at run time) are.
#
# First a self-check: a C program that reads past a heap block must fail
# under the same valgrind flags, or this script proves nothing.
# Exit status: 0 if memcheck found no error (and no definite leak) anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 2; }
vg=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --fair-sched=yes)

# --- self-check ----------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/oob.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  (void)argv;
  int *p = malloc(16 * sizeof(int));
  for (int i = 0; i < 16; i++) p[i] = i;
  int x = p[16 + argc - 1]; /* one past the end: argc is 1 */
  free(p);
  printf("%d\n", x);
  return 0;
}
EOF
cc -O0 -g -o "$tmp/oob" "$tmp/oob.c"
if "${vg[@]}" "$tmp/oob" > "$tmp/oob.out" 2>&1; then
  echo "self-check FAILED: memcheck did not flag an out-of-bounds read" >&2
  cat "$tmp/oob.out" >&2
  exit 2
fi
grep -q "Invalid read of size 4" "$tmp/oob.out" || {
  echo "self-check FAILED: no 'Invalid read' report" >&2; cat "$tmp/oob.out" >&2; exit 2; }
echo "== self-check: memcheck flags an out-of-bounds read (exit 1), as it should"

# --- the test binary -------------------------------------------------------------
bin=${RJAX_TEST_BIN:-}
if [ -z "$bin" ]; then
  bin=$(cargo test --lib --release --no-default-features --no-run \
        --message-format=json 2> /dev/null \
        | python3 -c 'import json, sys
for l in sys.stdin:
  m = json.loads(l)
  if (m.get("reason") == "compiler-artifact" and m.get("executable")
      and m["target"]["name"] == "rjax" and m["profile"]["test"]):
    print(m["executable"])' | tail -1)
fi
[ -x "$bin" ] || { echo "no test binary (build it: cargo test --lib --release --no-default-features --no-run)" >&2; exit 2; }

filters=("$@")
if [ ${#filters[@]} -eq 0 ]; then
  filters=(base:: loops:: ops::elementwise::kernel ops::dot ops::sort ops::fft
           exec::fused exec::device exec::comm api:: exec::fuzz_tests)
fi
status=0
for f in "${filters[@]}"; do
  t0=$(date +%s)
  # one test thread (valgrind serialises threads anyway), two rayon workers
  # so that the parallel paths still split their work
  # (and a short run of the Program fuzzer: random fused kernels)
  if RUST_TEST_THREADS=1 RAYON_NUM_THREADS=2 RJAX_FUZZ_CASES=${RJAX_FUZZ_CASES:-64} "${vg[@]}" "$bin" --test-threads=1 "$f" \
       > "$tmp/run.out" 2>&1; then
    echo "== valgrind $f: $(grep -E '^test result' "$tmp/run.out" | tail -1) ($(( $(date +%s) - t0 )) s)"
  else
    status=1
    echo "== valgrind $f: FAILED ($(( $(date +%s) - t0 )) s)"
    grep -vE '^test .* ok$' "$tmp/run.out" | tail -60
  fi
done
exit $status
