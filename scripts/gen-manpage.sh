#!/usr/bin/env bash
# Generate the bpt(1) man page from the help text of the built binary, so the page says what
# `bpt --help` and each `bpt <command> --help` say, and nothing else (CMake runs this after
# building bpt; the page is installed to share/man/man1).
# Usage: scripts/gen-manpage.sh path/to/bpt OUT.1
set -euo pipefail
bpt=$1 out=$2
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT

# Text for a no-fill block: backslashes escaped, lines that would read as requests protected.
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

top=$("$bpt" --help)
version=$("$bpt" version | sed -n 's/^bpt \([^ ]*\).*/\1/p')
commands=$(printf '%s\n' "$top" | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\)  .*/\1/p')
[ -n "$commands" ] || { echo "gen-manpage: no commands in 'bpt --help'" >&2; exit 1; }

{
  echo ".TH BPT 1 \"\" \"blueprint-tee $version\" \"User Commands\""
  echo ".SH NAME"
  echo "bpt \\- TEE attestation evidence, verification and sealed secrets from the command line"
  echo ".SH SYNOPSIS"
  echo ".B bpt"
  echo ".I command"
  echo "[\\fIoptions\\fR]"
  echo ".SH DESCRIPTION"
  echo ".nf"
  printf '%s\n' "$top" | esc
  echo ".fi"
  echo ".SH COMMANDS"
  for c in $commands; do
    echo ".SS \"bpt $c\""
    echo ".nf"
    "$bpt" "$c" --help | esc
    echo ".fi"
  done
  # The exit-status table of `bpt --help`, one tagged paragraph per status.
  echo ".SH \"EXIT STATUS\""
  printf '%s\n' "$top" | awk '
    /^exit status/ { on = 1; next }
    on && /^  [0-9]  / { if (item) print item; item = sprintf(".TP\n.B %s\n%s: %s", $1, $2, substr($0, index($0, $2) + length($2) + 2)); sub(/: +/, ": ", item); next }
    on && /^      +[^ ]/ { sub(/^ +/, ""); item = item " " $0; next }
    on && item { print item; item = ""; on = 0 }
    END { if (item) print item }' | sed -e 's/\\/\\e/g'
  echo ".PP"
  echo "With \\fB\\-\\-json\\fR an error's JSON object carries the same status in \"exit_code\" and"
  echo "its class in \"exit_class\"."
  echo ".SH ENVIRONMENT"
  echo ".TP"
  echo ".B BPT_LOG"
  echo "log level of the messages on stderr: error, warn (default), info, debug, trace."
  echo ".SH \"SEE ALSO\""
  echo "docs/cli.md (the command-line contract), docs/schemas/ (JSON schemas of the output),"
  echo "docs/errors.md (library error codes), in the blueprint-tee sources."
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
