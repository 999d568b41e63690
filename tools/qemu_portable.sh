#!/usr/bin/env bash
# Run tools/portable_smoke.py with the given Python (default: python3 on PATH)
# under qemu-user emulating CPUs older than this machine: Nehalem (x86-64-v2:
# SSE4.2, no AVX) and Haswell (AVX2 + FMA, no AVX-512). A build that used an
# instruction the emulated CPU lacks dies with SIGILL (exit 132).
# `--demo` also runs `python -m rjax.demo --quick` under Nehalem (~7 min).
# Needs Debian's qemu-user (apt-get install qemu-user).
set -euo pipefail
cd "$(dirname "$0")/.."
py="$(command -v "${1:-python3}")"
quiet() { grep -v "TCG doesn't support requested feature" || true; }
for cpu in Nehalem Haswell; do
  echo "-- qemu-x86_64 -cpu $cpu"
  timeout 600 qemu-x86_64 -cpu "$cpu" "$py" tools/portable_smoke.py 2> >(quiet >&2)
done
if [[ "${2:-}" == "--demo" ]]; then
  echo "-- qemu-x86_64 -cpu Nehalem: python -m rjax.demo --quick"
  timeout 1200 qemu-x86_64 -cpu Nehalem "$py" -m rjax.demo --quick 2>/dev/null | tail -n 3
fi
