#!/usr/bin/env bash
# Declarations may wrap over lines (clang-format); they are joined before matching.
# Every dynamic symbol the shared library exports is a BPT_API declaration in include/, and
# every BPT_API function declared in include/ is exported. Every global symbol the static
# library defines (hidden ones included: they still meet a program's own names) starts bpt_;
# names starting __ are the toolchain's (sanitizer instrumentation), not ours.
set -euo pipefail
lib=$1 inc=$2 static=${3:-}
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u)
declared=$(find "$inc" -name '*.h' -exec cat {} + | tr '\n' ' ' | grep -oE 'BPT_API[^;(]*[ *]bpt_[a-z0-9_]+ *\(' | grep -oE 'bpt_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u)
bad=0
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$extra" ]; then echo "exported but not declared with BPT_API in include/:"; echo "$extra"; bad=1; fi
if [ -n "$missing" ]; then echo "declared with BPT_API but not exported:"; echo "$missing"; bad=1; fi
if [ -n "$static" ]; then
  unprefixed=$(nm -g --defined-only "$static" | awk 'NF == 3 && $2 ~ /^[TDBRCV]$/ {print $3}' |
               grep -v '^bpt_' | grep -v '^__' | sort -u || true)
  if [ -n "$unprefixed" ]; then echo "global symbols without the bpt_ prefix:"; echo "$unprefixed"; bad=1; fi
fi
n=$(echo "$exported" | grep -c . || true)
echo "exports: $n symbols checked"
if [ "$n" -lt 50 ]; then echo "too few exports ($n): is this the right library?"; bad=1; fi
exit $bad
