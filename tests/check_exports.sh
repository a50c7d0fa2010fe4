#!/usr/bin/env bash
# Every dynamic symbol the shared library exports is a BPT_API declaration in include/, and
# every BPT_API function declared in include/ is exported.
set -euo pipefail
lib=$1 inc=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u)
X
bad=0
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$extra" ]; then echo "exported but not declared with BPT_API in include/:"; echo "$extra"; bad=1; fi
if [ -n "$missing" ]; then echo "declared with BPT_API but not exported:"; echo "$missing"; bad=1; fi
n=$(echo "$exported" | grep -c . || true)
echo "exports: $n symbols checked"
exit $bad
