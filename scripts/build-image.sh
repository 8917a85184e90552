#!/usr/bin/env bash
# The build stage of Dockerfile (the default, ring build) as a plain script, so CI runs the very
# same steps outside Docker (no Docker engine is needed): builds the binary, checks what it
# reports, and stages OUT/rootfs, the complete runtime image (compliance/rootfs.sh, shared with
# the FIPS image). The FIPS image is compliance/build-fips.sh.
#
# usage: scripts/build-image.sh OUT
# env:   PROFILE=release|dev   cargo profile (default release; CI uses dev to reuse its build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:?usage: build-image.sh OUT}" && cd "$1" && pwd)
PROFILE=${PROFILE:-release}
cd "$ROOT"
step() { printf '\n==> %s\n' "$*"; }

step "cargo build --profile $PROFILE (ring)"
cargo build --locked --profile "$PROFILE" --bin ztunnel
dir=$PROFILE; [ "$PROFILE" = dev ] && dir=debug
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$dir/ztunnel"

step "the binary reports its crypto"
"$BIN" version | tee "$OUT/version.txt"
grep -q 'CryptoProvider:"ring"' "$OUT/version.txt" || { echo "not the ring build" >&2; exit 1; }

step "staging the runtime root filesystem"
. compliance/rootfs.sh
stage_rootfs "$BIN" "$OUT/rootfs"
step "done: $OUT/rootfs"
