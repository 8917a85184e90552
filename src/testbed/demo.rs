//! `ztunnel demo`: the whole product on one machine. Starts an echo backend and two ztunnel
//! nodes on loopback sharing one built-in CA root, sends data from the "client" workload
//! through node A's SOCKS5 listener to the `echo` service, across a real HBONE tunnel
//! (mTLS + HTTP/2 CONNECT) to node B and the backend, checks every byte that comes back, and
//! prints what each hop negotiated and verified.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::certs::dev_ca::DevCa;
use crate::testbed::Mesh;
use crate::testbed::backend::{self, Echo};
use crate::testbed::node::{Node, NodeSpec, message};
use crate::testbed::socks::{self, Dest};

/// Runs the demo; `args` may hold `--bytes N`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut bytes: usize = 4 << 20;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bytes" => bytes = it.next().context("--bytes needs a value")?.parse().context("--bytes")?,
            other => bail!("unknown demo option {other:?} (supported: --bytes N)"),
        }
    }
    let bin = std::env::current_exe().context("locating the ztunnel binary")?;
    let dir = std::env::temp_dir().join(format!("ztunnel-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&bin, &dir, bytes);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(bin: &std::path::Path, dir: &std::path::Path, bytes: usize) -> anyhow::Result<()> {
    let probe = Mesh::on_loopback(0, 0);
    let echo = Echo::start(SocketAddr::new(probe.server_ip, 0)).context("starting the echo backend")?;
    let mesh = Mesh::on_loopback(0, echo.addr.port());
    let ca_files: (PathBuf, PathBuf) = (dir.join("root-cert.pem"), dir.join("root-key.pem"));
    DevCa::generate(&mesh.trust_domain)?.write(&ca_files.0, &ca_files.1)?;
    let config = dir.join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml())?;

    println!("== ztunnel demo: two nodes on loopback, one shared built-in CA root ==");
    println!("backend   echo server             {}", echo.addr);
    let mut a = NodeSpec::new("node-a", "default/client/client", mesh.client_ip, &config, &ca_files).spawn(bin)?;
    println!(
        "node A    serves default/client    SOCKS5 {}  HBONE {}",
        a.addrs.socks5.context("no SOCKS5")?,
        a.addrs.inbound
    );
    let mut b = NodeSpec::new("node-b", "default/server/server", mesh.server_ip, &config, &ca_files).spawn(bin)?;
    println!("node B    serves default/server    HBONE {}", b.addrs.inbound);
    println!();
    println!("client --SOCKS5--> node A --HBONE (mTLS + HTTP/2 CONNECT)--> node B --TCP--> {}", echo.addr);
    println!("dialling {}:{} (service VIP {})", mesh.service_host, mesh.service_port, mesh.service_vip);

    let payload: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    let started = Instant::now();
    let conn = socks::connect(a.addrs.socks5.expect("checked"), Dest::Host(&mesh.service_host, mesh.service_port))
        .context("SOCKS5 connect through node A")?;
    let back = backend::round_trip(conn, &payload).context("sending data through the tunnel")?;
    let elapsed = started.elapsed();
    if back != payload {
        bail!("echo mismatch: sent {} bytes, got {} bytes back (or different content)", payload.len(), back.len());
    }
    println!(
        "sent {} bytes, received {} identical bytes back (fnv64 {:016x}) in {:.1} ms",
        payload.len(),
        back.len(),
        fnv64(&back),
        elapsed.as_secs_f64() * 1e3
    );
    println!();

    let wait = Duration::from_secs(5);
    let out = a.wait_for(wait, |e| message(e) == "HBONE connection established")?;
    let inb = b.wait_for(wait, |e| message(e) == "HBONE connection accepted")?;
    println!("hop 1  client -> node A     plaintext SOCKS5 on loopback (the captured side)");
    println!(
        "hop 2  node A -> node B     {} {} {}  node A verified server identity {}",
        field(&out, "tls_version"),
        field(&out, "cipher_suite"),
        field(&out, "kx_group"),
        field(&out, "peer_identity")
    );
    println!(
        "                            node B verified client identity {} (presented {})",
        field(&inb, "peer_identity"),
        field(&inb, "local_identity")
    );
    println!("hop 3  node B -> backend    plaintext TCP to {}", echo.addr);
    println!();
    let access_a = a.wait_for(wait, |e| message(e) == "connection complete")?;
    let access_b = b.wait_for(wait, |e| message(e) == "connection complete")?;
    for (name, e) in [("node A", &access_a), ("node B", &access_b)] {
        println!(
            "access log {name}: {} {} -> {} (hbone {}) src.identity={} dst.identity={} sent={} recv={}",
            field(e, "direction"),
            field(e, "src.addr"),
            field(e, "dst.addr"),
            field(e, "dst.hbone_addr"),
            field(e, "src.identity"),
            field(e, "dst.identity"),
            field(e, "bytes_sent"),
            field(e, "bytes_recv"),
        );
    }
    stop(&mut a)?;
    stop(&mut b)?;
    println!();
    println!("demo OK: traffic crossed a mutually authenticated TLS 1.3 HBONE tunnel");
    Ok(())
}

fn stop(n: &mut Node) -> anyhow::Result<()> {
    let st = n.terminate(Duration::from_secs(10))?;
    println!("{} stopped on SIGTERM: {st}", n.name);
    if !st.success() {
        bail!("{} exited with {st}; log:\n{}", n.name, n.raw_log());
    }
    Ok(())
}

fn field(e: &Value, k: &str) -> String {
    match e.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "-".into(),
    }
}

fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}
