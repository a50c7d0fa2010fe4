#!/usr/bin/env bash
# .ci/check-includes passes on the tree and fails, naming the file, on each planted violation:
# an include up the module order, one between sibling modules, a public header including a
# higher one, a cycle between units of one layer, and the CLI reaching past the public API.
set -euo pipefail
src=$1
check=$src/.ci/check-includes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fresh() { rm -rf "$tmp/t"; mkdir -p "$tmp/t"; cp -r "$src/src" "$src/include" "$src/tools" "$tmp/t/"; }
expect_fail() { # $1: what, $2: a substring the report must contain
  local out
  if out=$("$check" "$tmp/t"); then echo "not refused: $1"; exit 1; fi
  grep -qF -- "$2" <<<"$out" || { echo "$1: report lacks '$2':"; echo "$out"; exit 1; }
  echo "refused as expected: $1"
}
"$check" "$src" >/dev/null || { echo "the tree itself violates the module order:"; "$check" "$src"; exit 1; }
fresh; sed -i '1i #include "attestation/context_internal.h"' "$tmp/t/src/attestation/collateral/kds.c"
expect_fail "collateral including the model" "src/attestation/collateral/kds.c:1: attestation/collateral (layer 3) includes attestation (layer 4)"
fresh; sed -i '1i #include "attestation/verify/dispatch.h"' "$tmp/t/src/core/buf.c"; touch "$tmp/t/src/attestation/verify/dispatch.h"
expect_fail "core including the dispatcher" "src/core/buf.c:1: core (layer 0) includes attestation/verify (layer 6)"
fresh; sed -i '1i #include "exchange/exchange_internal.h"' "$tmp/t/src/attester/tsm.c"
expect_fail "attester including exchange" "src/attester/tsm.c:1: attester includes its sibling module exchange"
fresh; sed -i '1i #include <blueprint-tee/verify.h>' "$tmp/t/include/blueprint-tee/policy.h"
expect_fail "policy.h including verify.h" "include/blueprint-tee/policy.h:1: attestation (layer 4) includes attestation/verify (layer 6)"
fresh; sed -i '1i #include "attestation/verified_internal.h"' "$tmp/t/src/attestation/evidence.c"
expect_fail "a cycle between evidence and verified" "include cycle: attestation/evidence -> attestation/verified -> attestation/evidence"
fresh; sed -i '1i #include "attestation/policy_internal.h"' "$tmp/t/tools/bpt/cmd_verify.c"
expect_fail "the CLI including library internals" "tools/bpt/cmd_verify.c:1: the CLI includes attestation/policy_internal.h"
echo "check-includes: clean tree passes, 6 planted violations refused"
