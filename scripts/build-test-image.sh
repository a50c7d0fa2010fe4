#!/usr/bin/env bash
# Build a small workload image for the direct backend (docs/runtime.md): a root file system
# with busybox (static) and the bpt binary with the shared libraries it needs (found with ldd),
# so that `bpt serve --simulate ... --listen unix:/run/bpt/kx.sock` runs as a workload. Tests,
# the demo and users use it.
#
# Usage: scripts/build-test-image.sh OUT_DIR [--bpt PATH] [--sim-dir DIR] [--oci LAYOUT[:TAG]]
#   OUT_DIR         the root file system to make (replaced if it exists)
#   --bpt PATH      the bpt binary to put in it (default: bpt from PATH)
#   --sim-dir DIR   a simulator directory ('bpt sim init DIR') copied to /etc/bpt/sim, owned by
#                   the workload's default user (65534), so the workload can make evidence
#   --oci LAYOUT    also pack the root file system as an OCI image layout (umoci; tag: latest)
# Needs: busybox-static (busybox), ldd; umoci for --oci. Prints the image's path.
set -euo pipefail
out= bpt= sim= oci=
while [ $# -gt 0 ]; do
  case $1 in
    --bpt) bpt=$2; shift 2 ;;
    --sim-dir) sim=$2; shift 2 ;;
    --oci) oci=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-test-image: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "build-test-image: one OUT_DIR" >&2; exit 2; }; out=$1; shift ;;
  esac
done
[ -n "$out" ] || { echo "usage: build-test-image.sh OUT_DIR [--bpt PATH] [--sim-dir DIR] [--oci LAYOUT]" >&2; exit 2; }
[ -n "$bpt" ] || bpt=$(command -v bpt) || { echo "build-test-image: no bpt (use --bpt PATH)" >&2; exit 3; }
busybox=$(command -v busybox) || { echo "build-test-image: busybox not found (apt install busybox-static)" >&2; exit 3; }
if ldd "$busybox" >/dev/null 2>&1; then
  echo "build-test-image: $busybox is not static (apt install busybox-static)" >&2; exit 3
fi

rm -rf "$out"
mkdir -p "$out"/{bin,usr/bin,etc/bpt,proc,sys,dev,tmp,run/bpt,root}
cp "$busybox" "$out/bin/busybox"
for a in $("$busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$out/bin/$a"
done
cp "$bpt" "$out/usr/bin/bpt"
# bpt's shared libraries and its loader, each at the path the loader looks for it
for lib in $(ldd "$bpt" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}'); do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$out/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$out/etc/group"
if [ -n "$sim" ]; then
  cp -r "$sim" "$out/etc/bpt/sim"
  chown -R 65534:65534 "$out/etc/bpt/sim"
fi
if [ -n "$oci" ]; then
  command -v umoci >/dev/null || { echo "build-test-image: umoci not found (apt install umoci)" >&2; exit 3; }
  layout=${oci%%:*} tag=latest
  [ "$oci" = "$layout" ] || tag=${oci#*:}
  bundle=$(mktemp -d)
  rm -rf "$layout"
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$bundle/b" >/dev/null
  cp -a "$out/." "$bundle/b/rootfs/"
  umoci repack --image "$layout:$tag" "$bundle/b" >/dev/null
  rm -rf "$bundle"
fi
echo "$out"
