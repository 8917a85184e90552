#!/usr/bin/env bash
# Produces the prebuilt FIPS-mode BoringSSL libraries that `--features tls-boring` links:
#
#   vendor/boringssl-fips/<os_arch>/lib/{libcrypto.a,libssl.a}   (debug info stripped)
#   vendor/boringssl-fips/include/openssl/*.h                      (headers, boring-pq.patch applied)
#   vendor/boringssl-fips/<os_arch>/SHA256SUMS                     (manifest of the two libraries)
#   vendor/boringssl-fips/<os_arch>/BUILDINFO                      (exact source and toolchain)
#
# The libraries are built by boring-sys' own build script (so flags, patches and the FIPS
# integrity-hash injection are exactly what a from-source `cargo build --features tls-boring`
# would do), from the BoringSSL tree that the pinned boring-sys crate ships, and exported with
# BORING_BSSL_FIPS_INSTALL_DIR.
#
# Usage:
#   vendor/boringssl-fips/build.sh            rebuild and replace the vendored files
#   vendor/boringssl-fips/build.sh --check    rebuild into a scratch dir and report whether the
#                                             result differs from what is committed (exit 1 if so)
# Environment:
#   BORINGSSL_FIPS_SOURCE   a BoringSSL source tree or .tar.xz/.tar.gz to build instead of the one
#                           boring-sys ships (e.g. a CMVP-validated fips-YYYYMMDD tarball; see
#                           compliance/README.md for the caveats)
#   GO                      the go binary to use (default: `go` on PATH)
#
# Needs: cargo, clang, clang++, libclang (bindgen), cmake >= 3.22, git, go. If the Go on PATH is
# older than the `go` directive in BoringSSL's go.mod (Debian bookworm has 1.19, the tree says
# 1.27), the copy of the source gets a go.mod rewritten to the local Go version: the FIPS build
# only compiles util/fipstools/{delocate,inject_hash}, which use the standard library alone.
set -euo pipefail

BORING_SYS_VERSION=5.4.0
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODE=${1:-build}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ARCH_DIR=linux_x86_64 ;;
  Linux-aarch64 | Linux-arm64) ARCH_DIR=linux_arm64 ;;
  *) echo "unsupported host $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac

for tool in cargo clang clang++ cmake git strip sha256sum; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is required" >&2; exit 2; }
done
GO=${GO:-go}
command -v "$GO" >/dev/null || { echo "build.sh: Go is required (set GO=/path/to/go)" >&2; exit 2; }

# Fixed scratch location: BoringSSL embeds __FILE__ paths in error strings, so building at the
# same path every time is what makes two builds byte-identical.
WORK=${BORINGSSL_FIPS_WORKDIR:-/tmp/ztunnel-boringssl-fips}
rm -rf "$WORK"
mkdir -p "$WORK/export" "$WORK/probe/src"

# Locate the pinned boring-sys sources (downloads the crate if it is not cached yet).
BSYS=$(cargo metadata --format-version 1 --manifest-path "$ROOT/Cargo.toml" \
         --no-default-features --features tls-boring 2>/dev/null |
       python3 -c 'import json,sys
m=json.load(sys.stdin)
print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="boring-sys" and p["version"]==sys.argv[1]))' \
         "$BORING_SYS_VERSION")
BSYS=$(dirname "$BSYS")

if [ -n "${BORINGSSL_FIPS_SOURCE:-}" ]; then
  SRC_DESC="external: $BORINGSSL_FIPS_SOURCE ($(sha256sum "$BORINGSSL_FIPS_SOURCE" 2>/dev/null | cut -c1-64 || echo directory))"
  mkdir -p "$WORK/src"
  if [ -d "$BORINGSSL_FIPS_SOURCE" ]; then
    cp -r "$BORINGSSL_FIPS_SOURCE/." "$WORK/src/"
  else
    tar -xf "$BORINGSSL_FIPS_SOURCE" -C "$WORK/src" --strip-components=1
  fi
else
  SRC_DESC="boring-sys $BORING_SYS_VERSION deps/boringssl (BoringSSL 0.20261020.0)"
  cp -r "$BSYS/deps/boringssl" "$WORK/src"
fi
# A digest of the source tree (paths + contents) before any patch, for BUILDINFO.
SRC_DIGEST=$(cd "$WORK/src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)

# The Go pitfall: an old Go cannot even parse a newer go.mod.
go_have=$("$GO" env GOVERSION | sed 's/^go//')
go_want=$(awk '$1=="go"{print $2; exit}' "$WORK/src/go.mod" 2>/dev/null || true)
GO_NOTE="go.mod unchanged"
if [ -n "$go_want" ] && [ "$(printf '%s\n%s\n' "$go_want" "$go_have" | sort -V | head -1)" != "$go_want" ]; then
  go_short=$(echo "$go_have" | cut -d. -f1,2)
  printf 'module boringssl.googlesource.com/boringssl.git\n\ngo %s\n' "$go_short" > "$WORK/src/go.mod"
  rm -f "$WORK/src/go.sum"
  GO_NOTE="go.mod rewritten from 'go $go_want' to 'go $go_short' (local Go is older; delocate and inject_hash need only the standard library)"
fi

# A throw-away crate that depends on nothing but the pinned boring-sys: its build script does
# the CMake build (FIPS=1, clang) and exports the result.
cat > "$WORK/probe/Cargo.toml" <<TOML
[package]
name = "boringssl-fips-export"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
boring-sys = { version = "=$BORING_SYS_VERSION", features = ["fips"] }
TOML
echo 'fn main() {}' > "$WORK/probe/src/main.rs"

GO_BIN_DIR=$(dirname "$(command -v "$GO")")
echo "build.sh: building FIPS BoringSSL from $SRC_DESC ($GO_NOTE)" >&2
start=$(date +%s)
(cd "$WORK/probe" &&
  env PATH="$GO_BIN_DIR:$PATH" GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod \
    BORING_BSSL_FIPS_SOURCE_PATH="$WORK/src" BORING_BSSL_FIPS_INSTALL_DIR="$WORK/export" \
    CARGO_TARGET_DIR="$WORK/target" cargo build --release --offline 2>&1 | tail -n 20) >&2
secs=$(( $(date +%s) - start ))

OUT="$WORK/out"
mkdir -p "$OUT/$ARCH_DIR/lib"
for lib in libcrypto.a libssl.a; do
  # Debug info only: symbols stay, and the FIPS module's integrity hash covers code and
  # read-only data, not debug sections, so the power-on self-test still passes.
  strip --strip-debug -o "$OUT/$ARCH_DIR/lib/$lib" "$WORK/export/lib/$lib"
done
cp -r "$WORK/export/include" "$OUT/include"
(cd "$OUT/$ARCH_DIR" && sha256sum lib/libcrypto.a lib/libssl.a > SHA256SUMS)
{
  echo "source: $SRC_DESC"
  echo "source-tree-sha256: $SRC_DIGEST"
  echo "boring-sys: $BORING_SYS_VERSION (vcs $(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["git"]["sha1"])' "$BSYS/.cargo_vcs_info.json" 2>/dev/null || echo unknown))"
  echo "patches: boring-sys patches/boring-pq.patch (applied by boring-sys)"
  echo "cmake: -DFIPS=1 -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_ASM_COMPILER=clang (boring-sys defaults)"
  echo "clang: $(clang --version | head -1)"
  echo "cmake-version: $(cmake --version | head -1)"
  echo "go: $("$GO" version); $GO_NOTE"
  echo "rustc: $(rustc --version)"
  echo "strip: $(strip --version | head -1) --strip-debug"
  echo "host: $(uname -s) $(uname -m)"
} > "$OUT/$ARCH_DIR/BUILDINFO"
echo "build.sh: built in ${secs}s" >&2

if [ "$MODE" = "--check" ]; then
  rc=0
  if ! diff -u "$HERE/$ARCH_DIR/SHA256SUMS" <(cd "$OUT/$ARCH_DIR" && cat SHA256SUMS); then
    echo "build.sh: rebuilt libraries DIFFER from the committed ones" >&2; rc=1
  fi
  if ! diff -r -q "$HERE/include" "$OUT/include"; then
    echo "build.sh: rebuilt headers DIFFER from the committed ones" >&2; rc=1
  fi
  diff -u "$HERE/$ARCH_DIR/BUILDINFO" "$OUT/$ARCH_DIR/BUILDINFO" >&2 || echo "build.sh: (toolchain notes differ)" >&2
  [ $rc -eq 0 ] && echo "build.sh: rebuilt libraries and headers are identical to the committed ones" >&2
  exit $rc
fi

rm -rf "$HERE/$ARCH_DIR" "$HERE/include"
cp -r "$OUT/$ARCH_DIR" "$HERE/$ARCH_DIR"
cp -r "$OUT/include" "$HERE/include"
cat "$HERE/$ARCH_DIR/SHA256SUMS"
