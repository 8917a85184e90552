//! `ztunnel redirect install|remove` in a fresh network namespace (needs root, `ip`,
//! `iptables`; a missing prerequisite FAILS with an explanation).
//!
//! Checks the installed rules, that a second install changes nothing, and that removal
//! restores the exact `iptables-save` / `ip rule` / `ip route` state from before.

mod common;

use std::process::Command;

use ztunnel::testbed::netns::{require_privileges, sh};

fn ztunnel(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ztunnel")).args(args).output().unwrap();
    assert!(out.status.success(), "ztunnel {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_ns(ns: &str, cmd: &[&str]) -> String {
    let out = Command::new("ip").args(["netns", "exec", ns]).args(cmd).output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rules and routes, without the counters and comments that differ between dumps.
fn state(ns: &str, save: &str, save6: &str) -> String {
    let mut s = String::new();
    for cmd in [
        vec![save],
        vec![save6],
        vec!["ip", "-4", "rule"],
        vec!["ip", "-6", "rule"],
        vec!["ip", "-4", "route", "show", "table", "all"],
        vec!["ip", "-6", "route", "show", "table", "all"],
    ] {
        for line in in_ns(ns, &cmd).lines() {
            // Comments, table headers and built-in chain policies (which appear as soon as a
            // table is first loaded, with packet counters) are not rules.
            let builtin = [":PREROUTING ", ":INPUT ", ":FORWARD ", ":OUTPUT ", ":POSTROUTING "];
            if line.starts_with('#')
                || line.starts_with('*')
                || line == "COMMIT"
                || builtin.iter().any(|b| line.starts_with(b))
            {
                continue;
            }
            let line = line.split(" [").next().unwrap();
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

fn run_backend(backend: &str, save: &str, save6: &str, n: u8) {
    require_privileges();
    let ns = format!("ztr{}-{n}", std::process::id());
    let _ = Command::new("ip").args(["netns", "del", &ns]).output();
    sh(&["ip", "netns", "add", &ns]);
    let _guard = scopeguard(ns.clone());
    sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);

    let before = state(&ns, save, save6);
    let msg = ztunnel(&["redirect", "install", "--netns", &ns, "--backend", backend]);
    assert!(msg.contains(&format!("backend: {backend}")), "{msg}");
    let installed = state(&ns, save, save6);
    for needle in [
        "-A OUTPUT -j ISTIO_OUTPUT",
        "-A PREROUTING -j ISTIO_PRERT",
        "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001",
        "-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006",
        "--dport 53 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15053",
        "-A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff",
        "-A ISTIO_OUTPUT ! -d ::1/128 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001",
        "fwmark 0x111/0xfff lookup 100",
        "local default dev lo table 100",
    ] {
        assert!(installed.contains(needle), "missing {needle:?} in:\n{installed}");
    }

    // Idempotent: a second install leaves the exact same rules.
    ztunnel(&["redirect", "install", "--netns", &ns, "--backend", backend]);
    assert_eq!(state(&ns, save, save6), installed, "second install changed the rules");

    ztunnel(&["redirect", "remove", "--netns", &ns, "--backend", backend]);
    assert_eq!(state(&ns, save, save6), before, "remove left rules behind");
    // Removing again is a no-op, not an error.
    ztunnel(&["redirect", "remove", "--netns", &ns, "--backend", backend]);
}

struct Guard(String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}
fn scopeguard(ns: String) -> Guard {
    Guard(ns)
}

#[test]
fn install_reinstall_remove_nft() {
    run_backend("nft", "iptables-nft-save", "ip6tables-nft-save", 1);
}

#[test]
fn install_reinstall_remove_legacy() {
    run_backend("legacy", "iptables-legacy-save", "ip6tables-legacy-save", 2);
}

#[test]
fn auto_detects_a_backend_and_reports_it() {
    require_privileges();
    let ns = format!("ztr{}-3", std::process::id());
    let _ = Command::new("ip").args(["netns", "del", &ns]).output();
    sh(&["ip", "netns", "add", &ns]);
    let _guard = scopeguard(ns.clone());
    sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
    // Pre-existing legacy rules: auto must pick legacy so both sets don't fight.
    in_ns(&ns, &["iptables-legacy", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "9", "-j", "RETURN"]);
    let msg = ztunnel(&["redirect", "install", "--netns", &ns]);
    assert!(msg.contains("backend: legacy"), "{msg}");
    let msg = ztunnel(&["redirect", "remove", "--netns", &ns]);
    assert!(msg.contains("backend: legacy"), "{msg}");
}
