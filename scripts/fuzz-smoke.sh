#!/usr/bin/env bash
# Build the libFuzzer targets with clang (ASan+UBSan) and run each briefly from its seeds.
set -euo pipefail
secs=${FUZZ_SECONDS:-10}
cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j"$(nproc)"
shopt -s nullglob
n=0
for t in build/fuzz/fuzz/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t"); parser=${name#fuzz_}
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$parser/." "$work/" 2>/dev/null || true
  echo "fuzz-smoke: $name for ${secs}s"
  "$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$work" 2>"$work.log" || {
    tail -40 "$work.log"; echo "fuzz-smoke: $name FAILED"; exit 1; }
  tail -1 "$work.log"
  rm -rf "$work" "$work.log"
  n=$((n+1))
done
echo "fuzz-smoke: $n targets ran clean"
