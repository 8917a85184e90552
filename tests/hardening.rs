//! Hardening against hostile or broken surroundings, with real ztunnel processes: what a node
//! does when it runs out of file descriptors, when a core task dies, and what a peer's headers
//! can make it remember.
//!
//! Addresses: 127.0.<95..99>.x only (each test its own third octet), so these never collide
//! with the other suites' 127.<n>.0.x meshes.

mod common;

use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::node::{Node, NodeSpec, message};

const WAIT: Duration = Duration::from_secs(10);

/// A mesh on 127.0.<octet>.1 (client) / .2 (server) / .101 (service VIP).
fn mesh(octet: u8, backend_port: u16) -> Mesh {
    Mesh {
        client_ip: IpAddr::from([127, 0, octet, 1]),
        server_ip: IpAddr::from([127, 0, octet, 2]),
        service_vip: IpAddr::from([127, 0, octet, 101]),
        ..Mesh::on_loopback(0, backend_port)
    }
}

/// Starts node B (`default/server`) of `mesh` alone; `tweak` adjusts its spec.
fn server_node(dir: &std::path::Path, mesh: &Mesh, tweak: impl FnOnce(NodeSpec) -> NodeSpec) -> Node {
    let (_ca, ca_files) = write_ca(dir);
    let config = dir.join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    tweak(NodeSpec::new("node-b", "default/server/server", mesh.server_ip, &config, &ca_files)).spawn(bin()).unwrap()
}

fn wait_ready(node: &Node) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok((200, _)) = ztunnel::testbed::http::request(node.addrs.readiness, "GET", "/healthz/ready") {
            return;
        }
        assert!(Instant::now() < deadline, "node never became ready:\n{}", node.raw_log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// With no fd left, `accept` fails for as long as the connection waits in the backlog. The
/// readiness loop used to retry at once, burning a whole core; it must back off like the
/// others, and serve again once fds are free.
#[test]
fn readiness_accept_backs_off_when_out_of_fds() {
    let dir = tempfile::tempdir().unwrap();
    let node = server_node(dir.path(), &mesh(95, 9), |s| s);
    wait_ready(&node);
    let pid = node.pid();
    // Leave a couple of spare fds, then use them up from outside with connections it accepts.
    // Only the soft limit: lowering it and raising it back needs no privilege.
    let limit = open_fds(pid) + 2;
    let (ok, out) = run("prlimit", &["--pid", &pid.to_string(), &format!("--nofile={limit}:")], b"");
    assert!(ok, "prlimit (util-linux) is required for this test: {out}");
    let conns: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(node.addrs.readiness).unwrap()).collect();
    node.wait_for(WAIT, |e| message(e).contains("accept failed"))
        .unwrap_or_else(|e| panic!("no accept failure logged ({e}):\n{}", node.raw_log()));

    // Measured over a second of wall time: the process is another process, so there is no
    // clock to pause; a spinning loop uses ~100 ticks per second, a backed-off one about none.
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    assert!(used < 30, "accept loop spins on EMFILE: {used} ticks of CPU in 1 s");

    // Free the fds: the waiting connections are served and readiness answers again.
    drop(conns);
    let hard = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let hard = hard.lines().find(|l| l.starts_with("Max open files")).unwrap().split_whitespace().nth(4).unwrap();
    let (ok, out) = run("prlimit", &["--pid", &pid.to_string(), &format!("--nofile={hard}:")], b"");
    assert!(ok, "{out}");
    wait_ready(&node);
}
