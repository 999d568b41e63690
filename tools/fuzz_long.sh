#!/usr/bin/env bash
# A long run of the Program fuzzer (rust/src/exec/fuzz_tests.rs), by hand:
# rounds of RJAX_FUZZ_CASES cases, each from a fresh random seed, until a
# deadline, at the lowest CPU priority (it only takes idle CPU).
#
#   tools/fuzz_long.sh BIN DEADLINE [CASES_PER_ROUND]
#   tools/fuzz_long.sh target/release/deps/rjax-<hash> 05:10 20000 > fuzz.log 2>&1 &
#
# BIN is the lib's test binary (`cargo test --lib --release --no-run`);
# DEADLINE is anything `date -d` reads. Each round prints its start time,
# seed, cases, outcome and wall and CPU seconds; a failing round keeps its
# whole output (proptest's shrunk recipe) in the log, and
# `PROPTEST_RNG_SEED=<seed> RJAX_FUZZ_CASES=<cases> BIN fuzz` replays it.
# A round still running at the deadline is stopped (its cases are not
# counted). The last line sums the rounds.
set -uo pipefail
bin=${1:?test binary}
deadline=$(date -d "${2:?deadline}" +%s) || exit 2
cases=${3:-20000}
[ -x "$bin" ] || { echo "no test binary $bin" >&2; exit 2; }
rounds=0 failed=0 total=0 cpu_total=0 start=$(date +%s)
echo "fuzz_long: $bin, $cases cases a round, until $(date -u -d "@$deadline" +%FT%TZ)"
while [ "$(date +%s)" -lt "$deadline" ]; do
  seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
  left=$((deadline - $(date +%s)))
  t0=$(date +%s.%N)
  echo "== round $((rounds + 1)) $(date -u +%FT%TZ) seed=$seed cases=$cases"
  out=$(PROPTEST_RNG_SEED=$seed RJAX_FUZZ_CASES=$cases \
        /usr/bin/time -f "cpu %U %S" timeout "$left" nice -n 19 "$bin" fuzz --test-threads=1 2>&1)
  rc=$?
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  cpu=$(echo "$out" | awk '/^cpu /{print $2 + $3}' | tail -1)
  if [ $rc -eq 124 ]; then
    echo "   stopped at the deadline after ${wall}s (not counted)"
    break
  fi
  rounds=$((rounds + 1))
  cpu_total=$(echo "$cpu_total + ${cpu:-0}" | bc)
  if [ $rc -eq 0 ]; then
    total=$((total + cases))
    echo "   ok: $(echo "$out" | grep -E '^test result' | tail -1); wall ${wall}s cpu ${cpu}s"
  else
    failed=$((failed + 1))
    echo "   FAILED (exit $rc); wall ${wall}s cpu ${cpu}s; replay: PROPTEST_RNG_SEED=$seed RJAX_FUZZ_CASES=$cases $bin fuzz"
    echo "$out" | sed 's/^/   | /'
  fi
done
echo "fuzz_long: $rounds rounds, $failed failed, $total cases passed, wall $(( $(date +%s) - start ))s, cpu ${cpu_total}s"
[ $failed -eq 0 ]
