#!/usr/bin/env bash
# Install the Debian 12 packages blueprint-tee needs, only the missing ones (idempotent).
set -euo pipefail
# runc, umoci, busybox-static: the runtime's direct backend (runc runs the workloads, umoci
# unpacks OCI image layouts, busybox-static goes into the test image); sqlite3 for inspecting
# the deployment store.
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
      libssl-dev libcbor-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev
      libsqlite3-dev sqlite3 runc umoci busybox-static libsecp256k1-dev nettle-dev libgmp-dev
      libcmocka-dev openssl wrk python3 clang-format curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# ganache and solc for the chain tests (npm ci, cached by the lock file; skipped without node)
"$(dirname "$0")/install-evm.sh"
