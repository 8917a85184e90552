#!/usr/bin/env bash
# Fuzzes every parser that sees peer or control-plane bytes (fuzz/fuzz_targets, see
# fuzz/README.md): builds all targets once, then runs each for SECONDS_PER_TARGET (default 20)
# starting from its committed seeds. Fails if any target crashes, leaks past the RSS limit or
# hangs; the input is kept in fuzz/artifacts/<target>/. Prints each target's exec count.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECS=${1:-20}
# cargo-fuzz drives rustc with unstable flags (-Zsanitizer=address, SanitizerCoverage passes);
# RUSTC_BOOTSTRAP lets the stable toolchain accept them, so no nightly is needed.
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Same flags for build and run, so `run` finds the build up to date.
FUZZ_FLAGS=(--release --debug-assertions)
cargo fuzz build "${FUZZ_FLAGS[@]}"

# libFuzzer adds every new interesting input to the corpus directory it is given: run on a
# scratch copy so fuzz/corpus keeps only the committed seeds.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
printf '%-20s %12s %8s\n' target execs exec/s
for t in $(cargo fuzz list); do
    mkdir -p "$work/corpus/$t" "artifacts/$t"
    cp corpus/"$t"/* "$work/corpus/$t/" 2>/dev/null || true
    log="$work/$t.log"
    # -rss_limit_mb: the targets are small; a parser that balloons is a bug. -timeout: one
    # input taking seconds is a hang. -print_final_stats gives the exec count.
    if cargo fuzz run "${FUZZ_FLAGS[@]}" "$t" "$work/corpus/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1; then
        status=""
    else
        status="  CRASH (see below)"
        failed+=("$t")
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    printf '%-20s %12s %8s%s\n' "$t" "${execs:-?}" "${rate:-?}" "$status"
    if [ -n "$status" ]; then
        # The panic or sanitizer report and the artifact path.
        grep -E -A30 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer|deadly signal|SUMMARY' "$log" | head -60 >&2
        grep -E 'Test unit written to' "$log" >&2 || true
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all targets ran ${SECS}s without a crash"
