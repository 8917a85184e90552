#!/usr/bin/env bash
# The build stage of Dockerfile.fips as a plain script, so CI runs the very same steps outside
# Docker. Produces OUT/rootfs (the complete runtime image: the FIPS binary, the shared
# libraries it needs, a non-root user) and OUT/reports (compliance reports).
#
# usage: compliance/build-fips.sh OUT
# env:   PROFILE=release|dev          cargo profile (default release; CI uses dev to reuse its
#                                     test build)
#        CARGO_TARGET_DIR             default target/fips (keeps ring and FIPS artifacts apart)
#        BORINGSSL_FIPS_SOURCE=PATH   build the FIPS module from this source (e.g. a validated
#                                     fips-YYYYMMDD tarball) instead of using vendor/; needs
#                                     clang, cmake, go (see vendor/boringssl-fips/README.md)
#        SKIP_SCAN=1                  skip the live TLS scan (e.g. no loopback aliases)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:?usage: build-fips.sh OUT}" && cd "$1" && pwd)
PROFILE=${PROFILE:-release}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/fips}
cd "$ROOT"
step() { printf '\n==> %s\n' "$*"; }

case "$(uname -m)" in
  x86_64) ARCH_DIR=linux_x86_64 ;;
  aarch64 | arm64) ARCH_DIR=linux_arm64 ;;
  *) echo "unsupported architecture $(uname -m)" >&2; exit 2 ;;
esac

if [ -n "${BORINGSSL_FIPS_SOURCE:-}" ]; then
  step "building the FIPS module from $BORINGSSL_FIPS_SOURCE"
  vendor/boringssl-fips/build.sh
fi

step "verifying vendored FIPS libraries ($ARCH_DIR)"
[ -d "vendor/boringssl-fips/$ARCH_DIR" ] || {
  echo "no vendor/boringssl-fips/$ARCH_DIR: run vendor/boringssl-fips/build.sh on this architecture" >&2; exit 1; }
(cd "vendor/boringssl-fips/$ARCH_DIR" && sha256sum -c SHA256SUMS)
cat "vendor/boringssl-fips/$ARCH_DIR/BUILDINFO"

step "dependency tree check (no ring / aws-lc / openssl-sys in the FIPS build)"
python3 compliance/check_deps.py fips --json "$OUT/deps-fips.json"

step "cargo build --profile $PROFILE --no-default-features --features tls-boring"
start=$(date +%s)
# CMAKE=false proves the vendored libraries are used: boring-sys never runs cmake.
CMAKE=/bin/false cargo build --locked --profile "$PROFILE" --no-default-features --features tls-boring --bin ztunnel
echo "build took $(( $(date +%s) - start ))s"
dir=$PROFILE; [ "$PROFILE" = dev ] && dir=debug
BIN="$CARGO_TARGET_DIR/$dir/ztunnel"
ls -l "$BIN"

step "the binary reports FIPS mode"
"$BIN" version | tee "$OUT/version.txt"
grep -qx "FIPS mode: true" "$OUT/version.txt" || { echo "FIPS binary does not report FIPS mode" >&2; exit 1; }

step "staging the runtime root filesystem"
. compliance/rootfs.sh
stage_rootfs "$BIN" "$OUT/rootfs"

if [ "${SKIP_SCAN:-0}" != 1 ]; then
  step "live TLS compliance scan of the FIPS binary"
  python3 compliance/scan.py --build fips --bin "$BIN" --out "$OUT/reports"
fi
step "done: $OUT/rootfs, $OUT/reports"
