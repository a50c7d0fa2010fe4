#!/usr/bin/env bash
# Install into a temporary prefix, build examples/verify_report.c against it with pkg-config
# alone, and run it on random bytes (a refusal, exit 1) and, when present, real AMD evidence.
set -euo pipefail
build=$1 src=$2 testdata=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name blueprint-tee.pc | head -1)
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir blueprint-tee)
cc -std=c11 -Wall -Wextra -Werror "$src/examples/verify_report.c" \
   $(pkg-config --cflags --libs blueprint-tee) -o "$tmp/verify_report"
head -c 500 /dev/urandom > "$tmp/random.bin"
set +e
LD_LIBRARY_PATH=$libdir "$tmp/verify_report" "$tmp/random.bin"; rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "random bytes: exit $rc, want 1"; exit 1; }
if [ -n "$testdata" ] && [ -f "$testdata/sev-snp/milan-virtee/report.bin" ]; then
  LD_LIBRARY_PATH=$libdir "$tmp/verify_report" "$testdata/sev-snp/milan-virtee/report.bin" \
    1680652800 "$testdata/sev-snp/milan-virtee/vcek.der" | grep -q "^verified amd_sev_snp"
fi
echo "install: headers, library and pkg-config file work from $tmp/prefix"
