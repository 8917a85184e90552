#!/usr/bin/env bash
# The whole test suite, both crypto builds, plus the compliance checks. Run as root (the
# capture / in-pod tests create network namespaces and iptables rules). `.ci/run` installs the
# system packages this needs and then runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Time per step, printed at the end (also when a step fails): what CI spends where.
LAST=$SECONDS
STEPS=()
lap() { STEPS+=("$(printf '%6ds  %s' $((SECONDS - LAST)) "$1")"); LAST=$SECONDS; }
trap 'printf "%s\n" "--- time per step (total ${SECONDS}s):" "${STEPS[@]}"' EXIT

FIPS_TARGET=target/fips   # own target dir: different features, and each build's tests find the other's binary
fips() { CARGO_TARGET_DIR=$FIPS_TARGET "$@" --no-default-features --features tls-boring; }

# Lints are policy (both builds): formatting, clippy with warnings as errors, no import
# cycles between modules.
cargo fmt --check
python3 scripts/module-graph.py
cargo clippy --locked --all-targets -- -D warnings
CARGO_TARGET_DIR=$FIPS_TARGET cargo clippy --locked --all-targets --no-default-features --features tls-boring -- -D warnings
lap "lints: fmt, module graph, clippy (ring, FIPS)"

# Istio's own control plane (interop/istio: istiod's discovery server and CA, istioctl's
# config-dump reader, built from Istio's Go packages) for tests/istio.rs, and its Go tests.
mkdir -p target/interop
(cd interop/istio && go build -o ../../target/interop/istio-cp ./cmd/istio-cp && go test ./...)
export ISTIO_CP_BIN="$PWD/target/interop/istio-cp"
lap "istio-cp build and Go tests"

# The FIPS binary first: the ring suite's interop test runs it as the peer.
fips cargo build --locked --bin ztunnel
lap "FIPS binary"

# Ring build (default), then the FIPS build's suite.
cargo test --locked
lap "tests (ring)"
fips cargo test --locked
lap "tests (FIPS)"

# Fuzzing (fuzz/, cargo-fuzz on the stable toolchain): every parser that sees peer or
# control-plane bytes, 10 s per target. A cold build of the targets takes several minutes.
scripts/fuzz.sh 10
lap "fuzzing"

# Compliance: dependency trees of both builds, live TLS scans of both binaries, and the
# Dockerfile.fips and Dockerfile build stages (dev profile here, to reuse the artifacts built
# above).
python3 compliance/check_deps.py
python3 compliance/scan.py --build ring --bin target/debug/ztunnel --out target/compliance
PROFILE=dev CARGO_TARGET_DIR=$FIPS_TARGET compliance/build-fips.sh target/compliance/fips-image
# The default image's build stage (Dockerfile), dev profile to reuse the ring build above.
PROFILE=dev scripts/build-image.sh target/image
lap "compliance and image stages"
