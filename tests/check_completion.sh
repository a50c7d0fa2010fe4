#!/usr/bin/env bash
# The bash completion (tools/completion/bpt.bash) against the built bpt: every command of
# `bpt --help` completes, every flag on the option lines of each command's --help completes,
# and the listed values of --provider/--simulate do.
# Usage: check_completion.sh path/to/bpt path/to/bpt.bash
set -uo pipefail
bpt=$1 script=$2
bash -n "$script" || { echo "completion: syntax error"; exit 1; }
# shellcheck disable=SC1090
source "$script"
fail=0
complete_line() { # complete_line WORD... : COMPREPLY for the last word, one per line
  COMP_WORDS=("$bpt" "${@:2}")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _bpt
  printf '%s\n' "${COMPREPLY[@]}"
}
want() { # want EXPECTED WORD...
  local exp=$1 got; shift
  got=$(complete_line "$@")
  if ! grep -qx -- "$exp" <<<"$got"; then
    echo "completion: '${*:2}' does not offer '$exp' (got: $(tr '\n' ' ' <<<"$got"))"
    fail=1
  fi
}
cmds=$("$bpt" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\)  .*/\1/p')
[ -n "$cmds" ] || { echo "completion: no commands in bpt --help"; exit 1; }
for c in $cmds; do
  want "$c" bpt ""
  # every flag that starts an option line of the command's help
  for f in $("$bpt" "$c" --help | grep -E '^ +--[a-z]' | sed -E 's/^ +(--[a-z][a-z0-9-]*).*/\1/' | sort -u); do
    want "$f" bpt "$c" "--"
  done
done
want verify bpt ver
want version bpt ver
want --trust-root bpt verify --tru
want --quiet bpt verify --q
want --quiet bpt seal --q
want --expect-mr-seam bpt verify --expect-mr-s
want --snp-min-launch-tcb bpt verify --snp-min-l
want --no-revocation-check bpt verify --no-rev
want disabled bpt verify --snp-platform-tsme d
want sev_snp bpt verify --provider sev
want sev-snp bpt verify --provider sev
want aws-nitro bpt attest --simulate a
want init bpt sim ""
want check bpt config ""
want service-key bpt serve --binding s
[ "$fail" -eq 0 ] && echo "completion: ok ($(echo $cmds | wc -w) commands)"
exit $fail
