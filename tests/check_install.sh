#!/usr/bin/env bash
# Install into a temporary prefix, build the examples against it with pkg-config alone, and run
# them: quick_start (a job service) on the simulated SEV-SNP, called over HTTP and stopped;
# verify_report on random bytes (a refusal, exit 1) and, when present, real AMD evidence;
# shared_context on that evidence from two threads sharing one context (every round verified,
# and the chain verified once: the other verifications are cache hits).
set -euo pipefail
build=$1 src=$2 testdata=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null 2>&1
# What goes where: the CLI, its man page (when generated) and bash completion beside the library.
p=$tmp/prefix
"$p/bin/bpt" version | grep -q '^bpt ' || { echo "install: bin/bpt does not run"; exit 1; }
[ -f "$p/share/bash-completion/completions/bpt" ] || { echo "install: no bash completion"; exit 1; }
if [ -f "$build/bpt.1" ]; then
  [ -f "$p/share/man/man1/bpt.1" ] || { echo "install: no share/man/man1/bpt.1"; exit 1; }
fi
pc=$(find "$tmp/prefix" -name blueprint-tee.pc | head -1)
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir blueprint-tee)
cc -std=c11 -Wall -Wextra -Werror "$src/examples/verify_report.c" \
   $(pkg-config --cflags --libs blueprint-tee) -o "$tmp/verify_report"
cc -std=c11 -Wall -Wextra -Werror "$src/examples/shared_context.c" \
   $(pkg-config --cflags --libs blueprint-tee) -lpthread -o "$tmp/shared_context"
cc -std=c11 -Wall -Wextra -Werror "$src/examples/quick_start.c" \
   $(pkg-config --cflags --libs blueprint-tee) -o "$tmp/quick_start"
# The quick start on the simulated SEV-SNP: a job over HTTP comes back squared and stamped, and
# SIGTERM stops it with exit 0.
"$p/bin/bpt" sim init "$tmp/sim" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LD_LIBRARY_PATH=$libdir "$tmp/quick_start" "127.0.0.1:$port" "$tmp/sim" 2> "$tmp/qs.log" &
qs=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
  sleep 0.05
done
answer=$(curl -sS -D "$tmp/qs.headers" -H 'Content-Type: application/octet-stream' --data-binary 12 \
  "http://127.0.0.1:$port/v1/jobs/0")
kill -TERM "$qs"
qs_rc=0
wait "$qs" || qs_rc=$?
[ "$answer" = 144 ] || { echo "quick_start: job 0 answered '$answer'"; cat "$tmp/qs.log"; exit 1; }
grep -qi '^X-Bpt-Meta-tee.provider: amd_sev_snp' "$tmp/qs.headers" ||
  { echo "quick_start: the result is not stamped"; exit 1; }
[ "$qs_rc" -eq 0 ] || { echo "quick_start: exit $qs_rc after SIGTERM"; cat "$tmp/qs.log"; exit 1; }
head -c 500 /dev/urandom > "$tmp/random.bin"
set +e
LD_LIBRARY_PATH=$libdir "$tmp/verify_report" "$tmp/random.bin"; rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "random bytes: exit $rc, want 1"; exit 1; }
if [ -n "$testdata" ] && [ -f "$testdata/sev-snp/milan-virtee/report.bin" ]; then
  # The test data has no AMD CRL of 2023: revocation checking off ("none", the documented opt-out).
  LD_LIBRARY_PATH=$libdir "$tmp/verify_report" "$testdata/sev-snp/milan-virtee/report.bin" \
    1680652800 "$testdata/sev-snp/milan-virtee/vcek.der" none | grep -q "^verified amd_sev_snp"
  out=$(LD_LIBRARY_PATH=$libdir "$tmp/shared_context" "$testdata/sev-snp/milan-virtee/report.bin" \
    1680652800 "$testdata/sev-snp/milan-virtee/vcek.der" 2 25 none)
  echo "$out"
  [ "$(grep -c '25 of 25 verified$' <<<"$out")" -eq 2 ] || { echo "shared_context: a thread failed"; exit 1; }
  # Both threads may miss before the first verified chain is stored: 1 or 2 misses of 50.
  grep -Eq 'chain cache (49 hits, 1|48 hits, 2) misses' <<<"$out" ||
    { echo "shared_context: the cache was not shared"; exit 1; }
fi
echo "install: headers, library and pkg-config file work from $tmp/prefix"
