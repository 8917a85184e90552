//! Network namespaces for tests and the benchmark (needs root and `ip`; the capture tests also
//! need `iptables`). A missing prerequisite panics with an explanation: a test that needs a
//! namespace fails, it never passes silently.
//!
//! [`Pair`]: namespaces `<prefix>-a` and `<prefix>-b` joined by a veth pair on 198.18.<n>.0/24
//! and 2001:db8:<n>::/64 (benchmarking and documentation ranges, private to these namespaces),
//! deleted on drop. [`in_netns`] runs code inside one of them.

use std::os::fd::AsRawFd;
use std::process::Command;

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(out.status.success(), "{:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
}

pub fn require_privileges() {
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "capture tests need root (network namespaces + iptables); run `cargo test` as root"
    );
    for tool in ["ip", "iptables"] {
        assert!(
            Command::new(tool).arg("--version").output().is_ok(),
            "capture tests need `{tool}` (apt-get install iproute2 iptables)"
        );
    }
}

/// Two namespaces joined by a veth pair; deleted on drop.
pub struct Pair {
    pub a: String,
    pub b: String,
}

impl Pair {
    pub fn new(n: u8) -> Pair {
        require_privileges();
        let prefix = format!("zt{}-{n}", std::process::id());
        let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
        let _ = Command::new("ip").args(["netns", "del", &a]).output();
        let _ = Command::new("ip").args(["netns", "del", &b]).output();
        sh(&["ip", "netns", "add", &a]);
        sh(&["ip", "netns", "add", &b]);
        let pair = Pair { a: a.clone(), b: b.clone() };
        let (va, vb) = (format!("vz{n}a"), format!("vz{n}b"));
        sh(&["ip", "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b]);
        for (ns, dev, ip) in [(&a, &va, 1), (&b, &vb, 2)] {
            sh(&["ip", "-n", ns, "addr", "add", &format!("198.18.{n}.{ip}/24"), "dev", dev]);
            // IPv6 from the documentation range; nodad so the address is usable at once.
            sh(&["ip", "-n", ns, "addr", "add", &format!("2001:db8:{n}::{ip}/64"), "dev", dev, "nodad"]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            // VIPs are routed towards the peer so connect() reaches netfilter.
            sh(&["ip", "-n", ns, "route", "add", "default", "dev", dev]);
            sh(&["ip", "-n", ns, "-6", "route", "add", "default", "dev", dev]);
        }
        pair
    }

    pub fn ipt(&self, ns: &str, rule: &str) {
        self.ipt_with("iptables", ns, rule);
    }

    /// `tool` is `iptables` or `ip6tables`.
    pub fn ipt_with(&self, tool: &str, ns: &str, rule: &str) {
        let mut args = vec!["ip", "netns", "exec", ns, tool];
        args.extend(rule.split_whitespace());
        sh(&args);
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).output();
    }
}

/// Moves the calling thread into network namespace `ns` (threads it spawns afterwards start
/// there too); sockets created afterwards belong to that namespace.
pub fn enter(ns: &str) -> std::io::Result<()> {
    let file = std::fs::File::open(format!("/var/run/netns/{ns}"))?;
    // SAFETY: setns on a valid namespace fd; it affects only the calling thread.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a thread that has entered network namespace `ns`; sockets it creates stay in
/// that namespace when handed back.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns).unwrap_or_else(|e| panic!("setns({ns}): {e}"));
        f()
    })
    .join()
    .unwrap()
}
