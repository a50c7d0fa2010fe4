#!/usr/bin/env bash
# The generated man page (build/.../bpt.1, from scripts/gen-manpage.sh at build time): it exists,
# it has a section for every command `bpt --help` lists with that command's help in it, its EXIT
# STATUS names the five classes as `bpt --help` does, and groff reads it without a warning.
# Usage: check_manpage.sh path/to/bpt path/to/bpt.1
set -uo pipefail
bpt=$1 page=$2
fail=0
[ -s "$page" ] || { echo "manpage: $page missing or empty"; exit 1; }
cmds=$("$bpt" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\)  .*/\1/p')
[ -n "$cmds" ] || { echo "manpage: no commands in bpt --help"; exit 1; }
for c in $cmds; do
  grep -qx ".SS \"bpt $c\"" "$page" || { echo "manpage: no section for 'bpt $c'"; fail=1; }
  first=$("$bpt" "$c" --help | head -1 | sed 's/\\/\\e/g')
  grep -qxF -- "$first" "$page" || { echo "manpage: '$first' (bpt $c --help) missing"; fail=1; }
done
status=$(sed -n '/^\.SH "EXIT STATUS"/,/^\.SH /p' "$page")
for pair in 0:ok 1:refused 2:usage 3:input 4:network; do
  code=${pair%%:*} cls=${pair#*:}
  grep -qx ".B $code" <<<"$status" && grep -q "^$cls: " <<<"$status" ||
    { echo "manpage: EXIT STATUS lacks $code ($cls)"; fail=1; }
done
grep -q '"exit_code"' <<<"$status" || { echo "manpage: EXIT STATUS does not mention exit_code"; fail=1; }
if command -v groff >/dev/null 2>&1; then
  warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  [ -z "$warn" ] || { echo "manpage: groff warns: $warn"; fail=1; }
fi
[ "$fail" -eq 0 ] && echo "manpage: ok ($(echo $cmds | wc -w) commands, exit status 0-4)"
exit $fail
