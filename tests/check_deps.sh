#!/usr/bin/env bash
# Nothing declared and unused: every module the pkg-config file requires must provide symbols the
# shared library actually calls (SQLite and libssl were required while nothing used them). A
# dependency comes back with the first code that uses it.
# Usage: check_deps.sh path/to/libblueprint-tee.so path/to/blueprint-tee.pc
set -uo pipefail
so=$1 pc=$2
mods=$(sed -n 's/^Requires.private: *//p' "$pc")
[ -n "$mods" ] || { echo "deps: no Requires.private in $pc"; exit 1; }
und=$(nm -D --undefined-only "$so" | awk '{print $2}' | sed 's/@.*//' | sort -u)
fail=0
for mod in $mods; do
  used=0
  for l in $(pkg-config --libs-only-l "$mod" | tr ' ' '\n' | sed -n 's/^-l//p'); do
    f=$(readlink -f "$(${CC:-cc} -print-file-name="lib$l.so")")
    [ -f "$f" ] || { echo "deps: lib$l.so of $mod not found"; fail=1; continue; }
    n=$(nm -D --defined-only "$f" | awk '{print $3}' | sed 's/@.*//' | sort -u | comm -12 - <(printf '%s\n' "$und") | wc -l)
    used=$((used + n))
  done
  if [ "$used" -eq 0 ]; then
    echo "deps: $mod is required by $(basename "$pc") but the library uses none of its symbols"
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "deps: every required module is used ($mods)"
exit $fail
