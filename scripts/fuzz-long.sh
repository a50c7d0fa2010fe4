#!/usr/bin/env bash
# Grow the checked-in fuzz corpus: build the libFuzzer targets (clang, ASan+UBSan), run each
# for FUZZ_SECONDS (default 300) from its seeds, then merge (-merge=1) into fuzz/corpus/<parser>/
# only the inputs that reach new coverage. Commit what it adds. FUZZ_TARGETS limits the run to
# some parsers (e.g. "evidence jwt"); FUZZ_JOBS sets the build's parallelism (default 2).
set -euo pipefail
secs=${FUZZ_SECONDS:-300}
jobs=${FUZZ_JOBS:-2}
cmake --preset fuzz >/dev/null
targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for p in $FUZZ_TARGETS; do targets+=("fuzz_$p"); done
  cmake --build build/fuzz -j"$jobs" --target "${targets[@]}"
else
  cmake --build build/fuzz -j"$jobs"
  for t in build/fuzz/fuzz/fuzz_*; do [ -x "$t" ] && targets+=("$(basename "$t")"); done
fi
for name in "${targets[@]}"; do
  t=build/fuzz/fuzz/$name; parser=${name#fuzz_}
  mkdir -p "fuzz/corpus/$parser"
  work=$(mktemp -d)
  echo "fuzz-long: $name for ${secs}s"
  "$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 "$work" "fuzz/corpus/$parser" \
    2>"$work.log" || { tail -40 "$work.log"; echo "fuzz-long: $name FAILED (crash input in ./)"; exit 1; }
  grep -E "^stat::(number_of_executed_units|new_units_added)" "$work.log" || true
  before=$(ls "fuzz/corpus/$parser" | wc -l)
  "$t" -merge=1 "fuzz/corpus/$parser" "$work" 2>>"$work.log" >/dev/null
  after=$(ls "fuzz/corpus/$parser" | wc -l)
  echo "fuzz-long: $name corpus $before -> $after files"
  rm -rf "$work" "$work.log"
done
