#!/usr/bin/env python3
"""Proves from `cargo tree` which crypto crates each build links.

For every build in compliance/policy.json (or the ones named on the command line) it lists the
*normal* dependency tree (what ends up in the binary; build-only and dev-only crates such as
bindgen are excluded) for all targets, and fails if a forbidden crate is present or a required
one is missing. In the FIPS build that proves there is no ring, aws-lc or openssl-sys next to
BoringSSL (BoringSSL exports unprefixed OpenSSL symbols, so openssl-sys would clash).

usage: compliance/check_deps.py [ring] [fips] [--json OUT]
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tree(features):
    cmd = ["cargo", "tree", "--locked", "-e", "normal", "--target", "all",
           "--prefix", "none", "--format", "{p}", "--no-default-features", "--features", ",".join(features)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    crates = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            crates.add((parts[0], parts[1].lstrip("v")))
    return cmd, crates


def main(argv):
    out_json = None
    if "--json" in argv:
        i = argv.index("--json")
        out_json = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    policy = json.loads((ROOT / "compliance" / "policy.json").read_text())["builds"]
    builds = argv or list(policy)
    report, failed = {}, False
    for build in builds:
        p = policy[build]
        cmd, crates = tree(p["cargo_features"])
        names = {n for n, _ in crates}
        forbidden = sorted(n for n in p["forbidden_crates"] if n in names)
        missing = sorted(n for n in p["required_crates"] if n not in names)
        crypto = sorted(f"{n} {v}" for n, v in crates
                        if any(k in n for k in ("ring", "boring", "aws-lc", "openssl", "rustls", "rcgen")))
        ok = not forbidden and not missing
        failed |= not ok
        report[build] = {"command": " ".join(cmd), "crates": len(crates), "crypto_crates": crypto,
                         "forbidden_present": forbidden, "required_missing": missing, "ok": ok}
        status = "OK" if ok else "FAIL"
        print(f"[{status}] {build}: {len(crates)} crates; crypto-related: {', '.join(crypto)}")
        if forbidden:
            print(f"    forbidden crates present: {', '.join(forbidden)}")
        if missing:
            print(f"    required crates missing: {', '.join(missing)}")
    if out_json:
        Path(out_json).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
