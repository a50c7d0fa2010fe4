#!/usr/bin/env bash
# The demo: what blueprint-tee does today, on the simulated TEE when no hardware is present.
# Usage: scripts/demo.sh [path/to/bpt]   (make demo builds it first)
set -uo pipefail
BPT=${1:-build/dev/bpt}
TESTDATA=${BPT_TESTDATA:-$(cd "$(dirname "$0")/.." && pwd)/../shared/testdata}
work=$(mktemp -d /tmp/bpt-demo.XXXXXX)
run_pid= deployed=
trap '[ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null; [ -n "$deployed" ] && "$BPT" destroy --state-dir "$work/state" demo-tee >/dev/null 2>&1; rm -rf "$work"' EXIT
step=0
say() { step=$((step + 1)); printf '\n\033[1m%d. %s\033[0m\n' "$step" "$*"; }
run() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; return "${PIPESTATUS[0]}"; }
expect() { # expect CODE cmd...: run and check the exit status
  local want=$1; shift
  run "$@"; local got=$?
  if [ "$got" -ne "$want" ]; then echo "   !! exit $got, expected $want"; exit 1; fi
  echo "   -> exit $got, as expected"
}

say "Which TEE does this host have? ('none' is an answer)"
expect 0 "$BPT" detect

say "Create a simulated TEE: test PKIs in the vendors' shapes (AMD ARK -> ASK -> VCEK, Intel root -> PCK CA -> PCK, Nitro)"
expect 0 "$BPT" sim init "$work/sim"

say "Inside the 'TEE': produce SEV-SNP evidence binding a fresh nonce into report_data"
nonce=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
expect 0 "$BPT" attest --simulate sev-snp --sim-dir "$work/sim" --nonce "$nonce" --json -o "$work/report.json"

say "Relying party: verify it against the simulator's roots, expecting our nonce (the same rule binds it)"
expect 0 "$BPT" verify --trust-root "$work/sim/trust-roots.pem" --expect-nonce "$nonce" "$work/report.json"

say "The same evidence under the pinned AMD roots (the default) is refused: it is not real hardware"
expect 1 "$BPT" verify "$work/report.json"

say "A replayed report for another nonce is refused (kind claim)"
expect 1 "$BPT" verify --trust-root "$work/sim/trust-roots.pem" --expect-nonce "another-nonce" "$work/report.json"

if [ -f "$TESTDATA/sev-snp/milan-virtee/report.bin" ]; then
  say "Real AMD evidence (public, Milan): verified to the pinned ARK at a fixed time (no AMD CRL of 2023 at hand: revocation not checked; --json carries that warning)"
  expect 0 "$BPT" verify --at 2023-04-05T00:00:00Z --no-revocation-check \
    --certs "$TESTDATA/sev-snp/milan-virtee/vcek.der" "$TESTDATA/sev-snp/milan-virtee/report.bin"
  say "Without that opt-out and offline, revocation fails closed: AMD's CRL is missing"
  expect 1 "$BPT" verify --at 2023-04-05T00:00:00Z --offline \
    --certs "$TESTDATA/sev-snp/milan-virtee/vcek.der" "$TESTDATA/sev-snp/milan-virtee/report.bin"
  say "Real AMD evidence from a debug guest: refused unless --allow-debug"
  expect 1 "$BPT" verify --at 2022-09-26T00:00:00Z --no-revocation-check \
    --certs "$TESTDATA/sev-snp/milan-go-sev-guest/vcek.der" "$TESTDATA/sev-snp/milan-go-sev-guest/report.bin"
else
  say "(skipping real vendor evidence: $TESTDATA not found)"
fi

say "Intel TDX in the simulated TEE: a v4 quote through a simulated QE, its collateral signed by a test Intel PKI"
expect 0 "$BPT" attest --simulate tdx --sim-dir "$work/sim" --nonce "$nonce" -o "$work/tdx.quote"
expect 0 "$BPT" verify --trust-root "$work/sim/trust-roots.pem" --collateral "$work/sim/tdx/collateral.json" \
  --expect-nonce "$nonce" "$work/tdx.quote"

if [ -f "$TESTDATA/tdx/phala-v4-uptodate/quote.bin" ]; then
  say "Real Intel TDX quotes (public): PCK chain, CRLs, QE, TCB Info and QE Identity to the pinned Intel root"
  expect 0 "$BPT" verify --at 2025-06-21T00:00:00Z --offline \
    --collateral "$TESTDATA/tdx/phala-v4-uptodate/collateral.json" "$TESTDATA/tdx/phala-v4-uptodate/quote.bin"
  say "A v5 quote whose platform is below every TCB level of its collateral: refused (TCB level not supported)"
  expect 1 "$BPT" verify --at 2026-02-20T00:00:00Z --offline \
    --collateral "$TESTDATA/tdx/phala-v5-tcb-not-supported/collateral.json" \
    "$TESTDATA/tdx/phala-v5-tcb-not-supported/quote.bin"
fi

say "A TeeConfig for a service running inside a TEE: checked (Direct mode forces sealed secrets)"
printf '{"mode":"direct","requirement":"required","key_exchange":{"session_ttl_secs":120}}' > "$work/tee.json"
expect 0 "$BPT" config check "$work/tee.json"
printf '{"mode":"direct","secret_injection":"env_or_sealed"}' > "$work/bad.json"
expect 1 "$BPT" config check "$work/bad.json"

say "The main job: a job service in the (simulated) TEE. 'bpt run' attests itself, verifies its own evidence, then serves job 0 (an external program) and the key exchange on one port"
cat > "$work/keyed-digest.sh" <<'SH'
#!/bin/sh
# Job 0: a keyed digest of the call's body with the sealed key 'signing_key', which this
# program reads by name from a 0400 file on tmpfs (never argv, never the environment).
cat "$BPT_SECRETS_DIR/signing_key" - | sha256sum | cut -c1-64
SH
chmod +x "$work/keyed-digest.sh"
printf '   $ %s\n' "bpt run --config tee.json --job 0=keyed-digest.sh --job-secret 0=signing_key --simulate sev-snp ..."
"$BPT" run --config "$work/tee.json" --job "0=$work/keyed-digest.sh" --job-secret 0=signing_key \
  --simulate sev-snp --sim-dir "$work/sim" --listen 127.0.0.1:0 > "$work/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 100); do grep -q '^run: listening' "$work/run.log" && break; sleep 0.05; done
sed 's/^/     /' "$work/run.log"
url=$(sed -n 's/^run: listening on \(http:[^ ]*\).*/\1/p' "$work/run.log")
[ -n "$url" ] || { echo "   !! the service did not start"; exit 1; }

say "Client: verify the service's evidence, check its session key is bound in it, seal the signing key"
export DEMO_SIGNING_KEY="correct horse battery staple"
expect 0 "$BPT" seal --url "$url" --trust-root "$work/sim/trust-roots.pem" --name signing_key \
  --secret-env DEMO_SIGNING_KEY

say "The same client trusting only the pinned AMD roots refuses to send anything"
expect 1 "$BPT" seal --url "$url" --name signing_key --secret-env DEMO_SIGNING_KEY

say "Call job 0 over HTTP: the result comes stamped with the attestation (X-Bpt-Meta-tee.*)"
printf '   $ curl -X POST --data-binary "pay alice 10" %s/v1/jobs/0\n' "$url"
curl -sS -D "$work/job.headers" -o "$work/job.body" -H 'Content-Type: application/octet-stream' \
  --data-binary 'pay alice 10' "$url/v1/jobs/0" || { echo "   !! the call failed"; exit 1; }
tr -d '\r' < "$work/job.headers" | grep -E '^(HTTP|X-Bpt)' | sed 's/^/     /'
printf '     body: %s\n' "$(cat "$work/job.body")"
want=$(printf '%s%s' "$DEMO_SIGNING_KEY" 'pay alice 10' | sha256sum | cut -c1-64)
[ "$(cat "$work/job.body")" = "$want" ] || { echo "   !! the job did not use the sealed key"; exit 1; }
echo "   -> the keyed digest matches the key the client sealed"

say "Client: fetch the attestation results are stamped with, verify it, and check the stamp is the SHA-256 of that evidence"
printf '   $ curl %s/v1/attestation   (its "attestation" member: a report JSON)\n' "$url"
printf '   $ bpt verify --json --trust-root sim/trust-roots.pem attestation.json\n'
curl -sS "$url/v1/attestation" | python3 -c 'import json,sys; json.dump(json.load(sys.stdin)["attestation"], sys.stdout)' \
  > "$work/attestation.json"
"$BPT" verify --json --trust-root "$work/sim/trust-roots.pem" "$work/attestation.json" > "$work/verified.json" \
  || { echo "   !! the service's attestation did not verify"; exit 1; }
verified=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["evidence_sha256"])' "$work/verified.json")
stamp=$(tr -d '\r' < "$work/job.headers" | sed -n 's/^X-Bpt-Meta-tee.attestation.digest: //p')
printf '     verified evidence sha256: %s\n     result tee.attestation.digest: %s\n' "$verified" "$stamp"
[ -n "$stamp" ] && [ "$verified" = "$stamp" ] || { echo "   !! the stamp is not the verified evidence"; exit 1; }
echo "   -> the result was made by the TEE the client verified"

say "SIGTERM: the service stops taking jobs, finishes those in flight, cleanses the secret"
kill -TERM "$run_pid"; wait "$run_pid" 2>/dev/null; run_pid=
sed 's/^/     /' "$work/run.log"
if grep -q "correct horse" "$work/run.log"; then echo "   !! the secret leaked into output"; exit 1; fi

if "$BPT" detect | grep -q '^provider: none'; then
  say "The same service without the simulator on this host (no TEE): 'required' refuses to start"
  expect 1 "$BPT" run --config "$work/tee.json" --job "0=$work/keyed-digest.sh" --listen 127.0.0.1:0
fi

# Can this machine run a container? root, runc, and a probe container under runc's own config.
runc_usable() {
  local runc probe=$work/probe
  [ "$(id -u)" -eq 0 ] || { why="not root"; return 1; }
  runc=$(command -v runc || { [ -x /usr/sbin/runc ] && echo /usr/sbin/runc; }) || { why="runc is not installed"; return 1; }
  bash "$(dirname "$0")/build-test-image.sh" "$work/image" --bpt "$BPT" --sim-dir "$work/sim" > "$work/image.log" 2>&1 \
    || { sed 's/^/     /' "$work/image.log"; echo "   !! the workload image could not be built"; exit 1; }
  mkdir -p "$probe" && "$runc" spec --bundle "$probe" || { why="runc spec failed"; return 1; }
  python3 - "$probe/config.json" "$work/image" <<'PY' || { why="cannot write the probe's config"; return 1; }
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"]["path"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
PY
  "$runc" --root "$work/probe-root" run --bundle "$probe" "bpt-demo-probe-$$" >/dev/null 2>&1 \
    || { why="runc cannot run a container here"; return 1; }
}

say "A hardened workload: the simulated TEE service deployed in a container under runc (read-only root, no capabilities, no_new_privs, seccomp, its own namespaces, cgroup limits, user nobody), reached through the unix socket in its host directory"
if runc_usable; then
  cat > "$work/workload.json" <<JSON
{"name":"demo-tee","image":"$work/image","resources":{"memory_mb":128,"pids":64},
 "args":["/bin/sh","-c","grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status > /run/bpt/kernel-says; touch / 2>/dev/null || echo 'write to /: refused' >> /run/bpt/kernel-says; exec /usr/bin/bpt serve --simulate sev-snp --sim-dir /etc/bpt/sim --listen unix:/run/bpt/kx.sock"]}
JSON
  printf '   (workload.json: the image from scripts/build-test-image.sh, bpt serve as the workload)\n'
  expect 0 "$BPT" deploy --state-dir "$work/state" "$work/workload.json"
  deployed=1
  say "Attest the deployment: its evidence for a fresh nonce, fetched over its socket, verified (report_data binds the nonce)"
  expect 0 "$BPT" attestation --state-dir "$work/state" --trust-root "$work/sim/trust-roots.pem" demo-tee
  host_dir=$("$BPT" status --json --state-dir "$work/state" demo-tee | python3 -c 'import json,sys; print(json.load(sys.stdin)["host_dir"])')
  printf '   what the kernel says inside the container (it wrote it to /run/bpt):\n'
  sed 's/^/     /' "$host_dir/kernel-says"
  grep -q '^CapEff:.*0000000000000000$' "$host_dir/kernel-says" && grep -q '^NoNewPrivs:.*1$' "$host_dir/kernel-says" \
    && grep -q '^Seccomp:.*2$' "$host_dir/kernel-says" || { echo "   !! the workload is not hardened"; exit 1; }
  say "Seal the signing key to the deployment (the same verification as any client: evidence, key binding)"
  expect 0 "$BPT" seal --deployment demo-tee --state-dir "$work/state" --trust-root "$work/sim/trust-roots.pem" \
    --name signing_key --secret-env DEMO_SIGNING_KEY
  expect 0 "$BPT" destroy --state-dir "$work/state" demo-tee
  deployed=
else
  echo "   (skipping the container step: $why)"
fi

say "Random bytes are not evidence (kind malformed)"
head -c 2000 /dev/urandom > "$work/random.bin"
expect 1 "$BPT" verify --json "$work/random.bin"

printf '\n\033[1mDemo finished: every step behaved as expected.\033[0m\n'
