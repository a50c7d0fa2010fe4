#!/usr/bin/env bash
# The EVM node and Solidity compiler the chain tests use: ganache and solc from npm, pinned by
# tests/evm/package-lock.json, installed with `npm ci` into a cache directory named after the
# lock file's hash (outside the source tree, so a fresh clone reuses it). A second run with the
# same lock is a no-op; `--prefer-offline` takes packages from npm's cache once they were
# fetched, so only the very first install needs the registry. Without node or npm it says so
# and exits 0: the chain tests then skip with that message.
set -euo pipefail
src="$(cd "$(dirname "$0")/../tests/evm" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-evm: node or npm not found: the chain tests against ganache will be skipped"
  exit 0
fi
hash=$(sha256sum "$src/package-lock.json" | cut -c1-16)
# (tests/CMakeLists.txt computes the same directory: keep the two in step)
dir="${BPT_EVM_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/blueprint-tee/evm-$hash}"
if [ -f "$dir/.installed" ]; then
  echo "install-evm: ganache and solc present ($dir)"
  exit 0
fi
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
echo "install-evm: npm ci in $dir"
(cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
touch "$dir/.installed"
