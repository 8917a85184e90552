//! Network namespaces for the capture tests (needs root, `ip` and `iptables`; a missing
//! prerequisite FAILS the test with an explanation, never passes silently).
//!
//! [`Pair`]: namespaces `<prefix>-a` and `<prefix>-b` joined by a veth pair on 198.18.<n>.0/24
//! (the RFC 2544 benchmarking range, private to these namespaces), deleted on drop.

use std::os::fd::AsRawFd;
use std::process::Command;

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
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

/// Runs `f` on a thread that has entered network namespace `ns`; sockets it creates stay in
/// that namespace when handed back.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on a valid namespace fd affects only this (fresh) thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}


/// The two-pod mesh used inside a [`Pair`]: client 198.18.<n>.1, server 198.18.<n>.2 (echo on
/// 8080), service VIP 198.19.<n>.10 (exists only in the config).
pub fn mesh(n: u8) -> ztunnel::testbed::Mesh {
    ztunnel::testbed::Mesh {
        client_ip: std::net::IpAddr::from([198, 18, n, 1]),
        server_ip: std::net::IpAddr::from([198, 18, n, 2]),
        service_vip: std::net::IpAddr::from([198, 19, n, 10]),
        service_host: "echo.default.svc.cluster.local".into(),
        service_port: 80,
        backend_port: 8080,
        trust_domain: "cluster.local".into(),
    }
}
