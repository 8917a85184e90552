//! Attacks on node B's HBONE port (15008) by an authenticated peer, with real ztunnel
//! processes: HTTP/2 rapid reset, SETTINGS and PING floods, oversized / endless header blocks,
//! more streams than allowed, and CONNECTs to addresses that are not the local workload; plus
//! certificate refusals `tests/tls_refusals.rs` does not cover (expired, not yet valid).
//!
//! Each test runs checked transfers (A → B tunnel, sha256) for the whole attack, asserts they
//! all complete, bounds node B's RSS growth and CPU time, prints the figures (SECURITY.md
//! quotes them), and checks B still serves afterwards. Frames are written by hand
//! (`adversary::RawH2`) because the `h2` client will not produce these sequences.
//!
//! Addresses: 127.0.80-85.x (see `adversary`).

mod common;
#[path = "adversary/mod.rs"]
mod adversary;

use std::time::{Duration, SystemTime};

use adversary::*;
use ztunnel::identity::Identity;

/// CVE-2023-44487: CONNECT + RST_STREAM(CANCEL) pairs, 20,000 of them on one connection,
/// as fast as the socket takes them. Every reset CONNECT names the real workload, so a
/// server that dials before noticing the reset turns each pair into a backend connection.
#[test]
fn h2_rapid_reset_flood_is_bounded() {
    let mut bed = start(80, |_, s| s);
    let authority = format!("{}:{}", bed.mesh.server_ip, bed.mesh.backend_port);
    let cert = client_cert(&bed);
    let transfers = Transfers::start(&bed);
    let dials_before = bed.echo.accepted();
    let fig = Figures::start("rapid reset", &bed.b);
    let (sent, seen) = rt().block_on(async {
        let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
        let block = connect_block(&authority);
        let mut sent = 0u32;
        for batch in 0..200u32 {
            let mut buf = Vec::new();
            for i in 0..100 {
                let id = 1 + 2 * (batch * 100 + i);
                frame(&mut buf, HEADERS, END_HEADERS, id, &block);
                frame(&mut buf, RST_STREAM, 0, id, &8u32.to_be_bytes());
            }
            if !h.send(&buf).await {
                break;
            }
            sent += 100;
        }
        let seen = h.wait(Duration::from_secs(3), |s| s.closed).await;
        (sent, seen)
    });
    let done = transfers.finish("rapid reset");
    // Stream tasks still in flight would dial now; the transfers' own round trip gives them time.
    let dials = bed.echo.accepted() - dials_before;
    fig.check(64, 3000);
    println!("ATTACK rapid reset: {sent} CONNECT+RST pairs sent, GOAWAY {:?}, backend dials {dials}", seen.goaway);
    // Transfers dial the backend too (one each); the reset streams must not.
    assert!(dials <= done as u64 + 100, "{dials} backend dials for {sent} reset streams ({done} transfers)");
    assert_serving(&mut bed, "rapid reset");
}

/// SETTINGS (each one demands an ACK) and PING floods, 50,000 frames each on one connection,
/// read back as fast as the server answers.
#[test]
fn h2_settings_and_ping_floods_are_bounded() {
    let mut bed = start(81, |_, s| s);
    let cert = client_cert(&bed);
    let transfers = Transfers::start(&bed);
    for (name, kind) in [("SETTINGS flood", SETTINGS), ("PING flood", PING)] {
        let fig = Figures::start(name, &bed.b);
        let seen = rt().block_on(async {
            let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
            let mut one = Vec::new();
            // SETTINGS_MAX_CONCURRENT_STREAMS = 100, a harmless value to re-announce.
            let body: &[u8] = if kind == SETTINGS { &[0, 3, 0, 0, 0, 100] } else { b"12345678" };
            frame(&mut one, kind, 0, 0, body);
            let batch = one.repeat(1000);
            for _ in 0..50 {
                if !h.send(&batch).await {
                    break;
                }
            }
            h.wait(Duration::from_secs(3), |s| s.closed || s.ping_acks + s.settings_acks >= 50_000).await
        });
        fig.check(64, 3000);
        println!(
            "ATTACK {name}: 50000 frames, {} SETTINGS ACKs, {} PING ACKs, GOAWAY {:?}, closed {}",
            seen.settings_acks, seen.ping_acks, seen.goaway, seen.closed
        );
        // Either every frame was answered, or the server cut the flood off with a GOAWAY.
        let acks = if kind == SETTINGS { seen.settings_acks } else { seen.ping_acks };
        assert!(acks >= 50_000 || seen.goaway.is_some(), "{name}: {seen:?}");
    }
    // The same PING flood from a peer that never reads: the answers back up, and the server
    // must stop reading rather than queue a PONG per PING.
    let fig = Figures::start("PING flood, deaf peer", &bed.b);
    let accepted = rt().block_on(async {
        let mut h = RawH2::connect_deaf(bed.b.addrs.inbound, &cert).await.unwrap();
        let mut one = Vec::new();
        frame(&mut one, PING, 0, 0, b"12345678");
        let batch = one.repeat(1000);
        let mut accepted = 0usize;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while accepted < 200 << 20 {
            match tokio::time::timeout_at(deadline, h.send(&batch)).await {
                Ok(true) => accepted += batch.len(),
                _ => break,
            }
        }
        accepted
    });
    fig.check(64, 1500);
    println!("ATTACK PING flood, deaf peer: {} KiB of PINGs taken before the server pushed back", accepted >> 10);
    assert!(accepted < 200 << 20, "the server kept reading PINGs it could not answer");
    transfers.finish("SETTINGS/PING floods");
    assert_serving(&mut bed, "SETTINGS/PING floods");
}

/// Frames that cost the sender nothing and the server a wake-up each (CVE-2019-9518 and
/// friends): 50,000 each of empty DATA on an open tunnel, WINDOW_UPDATE(+1), PRIORITY and an
/// unknown extension type, read back as they come.
#[test]
fn h2_empty_and_control_frame_floods_are_bounded() {
    let mut bed = start_in_slot(81, 1, |_, s| s);
    let authority = format!("{}:{}", bed.mesh.server_ip, bed.mesh.backend_port);
    let cert = client_cert(&bed);
    let transfers = Transfers::start(&bed);
    let floods: [(&'static str, u8, u32, &[u8]); 4] = [
        ("empty DATA flood", DATA, 1, &[]),
        ("WINDOW_UPDATE flood", WINDOW_UPDATE, 0, &[0, 0, 0, 1]),
        ("PRIORITY flood", 2, 3, &[0, 0, 0, 0, 16]),
        ("unknown frame type flood", 0xfa, 0, b"hello"),
    ];
    for (name, kind, stream, body) in floods {
        let fig = Figures::start(name, &bed.b);
        let seen = rt().block_on(async {
            let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
            let mut open = Vec::new();
            frame(&mut open, HEADERS, END_HEADERS, 1, &connect_block(&authority));
            h.send(&open).await;
            h.wait(WAIT, |s| s.headers > 0).await;
            let mut one = Vec::new();
            frame(&mut one, kind, 0, stream, body);
            let batch = one.repeat(1000);
            let mut sent = 0;
            for _ in 0..50 {
                if !h.send(&batch).await {
                    break;
                }
                sent += 1000;
            }
            // A PING answered after the flood: the connection is still being served. If the
            // server cut it off (h2 allows 100 empty DATA frames), our writes fail at once,
            // but its GOAWAY may still be on its way to the reader: wait for that too.
            let mut ping = Vec::new();
            frame(&mut ping, PING, 0, 0, b"after!!!");
            let pinged = h.send(&ping).await;
            let seen = h.wait(WAIT, |s| s.ping_acks > 0 || s.goaway.is_some() || s.closed).await;
            (sent, pinged && seen.ping_acks > 0, seen)
        });
        fig.check(32, 1000);
        let (sent, alive, seen) = seen;
        println!("ATTACK {name}: {sent} frames, then PING answered {alive}, GOAWAY {:?}", seen.goaway);
        // Either tolerated (and the connection still answers) or cut off with a GOAWAY.
        assert!(alive || seen.goaway.is_some(), "{name}: {seen:?}");
    }
    transfers.finish("empty / control frame floods");
    assert_serving(&mut bed, "empty / control frame floods");
}

/// Header blocks: one oversized header (256 KiB, over the 64 KiB list limit), 4,000 small
/// headers, and a CONTINUATION flood (HEADERS without END_HEADERS, then 16 MiB of
/// CONTINUATION frames that never end the block).
#[test]
fn h2_oversized_and_endless_header_blocks_are_refused() {
    let mut bed = start(82, |_, s| s);
    let authority = format!("{}:{}", bed.mesh.server_ip, bed.mesh.backend_port);
    let cert = client_cert(&bed);
    let transfers = Transfers::start(&bed);
    let dials_before = bed.echo.accepted();

    let fig = Figures::start("oversized header", &bed.b);
    let big = rt().block_on(async {
        let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
        let mut block = connect_block(&authority);
        hpack_literal(&mut block, "x-big", &vec![b'a'; 256 * 1024]);
        let mut buf = Vec::new();
        let chunks: Vec<&[u8]> = block.chunks(16 * 1024).collect();
        for (i, c) in chunks.iter().enumerate() {
            let last = if i + 1 == chunks.len() { END_HEADERS } else { 0 };
            frame(&mut buf, if i == 0 { HEADERS } else { CONTINUATION }, last, 1, c);
        }
        h.send(&buf).await;
        h.wait(Duration::from_secs(5), |s| s.closed || s.headers > 0 || !s.resets.is_empty()).await
    });
    fig.check(32, 500);
    println!("ATTACK oversized header: statuses {:?}, resets {:?}, GOAWAY {:?}", big.statuses, big.resets, big.goaway);
    assert!(big.statuses == [431] || big.goaway.is_some() || !big.resets.is_empty(), "{big:?}");

    let fig = Figures::start("many headers", &bed.b);
    let many = rt().block_on(async {
        let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
        let mut block = connect_block(&authority);
        for i in 0..4000 {
            hpack_literal(&mut block, &format!("x-h{i}"), b"v");
        }
        let mut buf = Vec::new();
        let chunks: Vec<&[u8]> = block.chunks(16 * 1024).collect();
        for (i, c) in chunks.iter().enumerate() {
            let last = if i + 1 == chunks.len() { END_HEADERS } else { 0 };
            frame(&mut buf, if i == 0 { HEADERS } else { CONTINUATION }, last, 1, c);
        }
        h.send(&buf).await;
        h.wait(Duration::from_secs(5), |s| s.closed || s.headers > 0 || !s.resets.is_empty()).await
    });
    fig.check(32, 500);
    println!("ATTACK many headers: statuses {:?}, resets {:?}, GOAWAY {:?}", many.statuses, many.resets, many.goaway);
    assert!(many.statuses == [431] || many.goaway.is_some() || !many.resets.is_empty(), "{many:?}");

    let fig = Figures::start("CONTINUATION flood", &bed.b);
    let (sent, flood) = rt().block_on(async {
        let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
        let mut head = Vec::new();
        frame(&mut head, HEADERS, 0, 1, &connect_block(&authority));
        h.send(&head).await;
        let mut junk = Vec::new();
        for i in 0..400 {
            hpack_literal(&mut junk, &format!("x-junk-{i:04}"), b"0123456789");
        }
        let mut batch = Vec::new();
        for _ in 0..16 {
            frame(&mut batch, CONTINUATION, 0, 1, &junk[..8192.min(junk.len())]);
        }
        let mut sent = 0usize;
        while sent < 16 << 20 {
            if !h.send(&batch).await {
                break;
            }
            sent += batch.len();
        }
        (sent, h.wait(Duration::from_secs(5), |s| s.closed).await)
    });
    fig.check(32, 1000);
    println!(
        "ATTACK CONTINUATION flood: {} KiB accepted before the server stopped reading, GOAWAY {:?}, closed {}",
        sent >> 10,
        flood.goaway,
        flood.closed
    );
    assert!(flood.closed && flood.goaway.is_some(), "an endless header block must end the connection: {flood:?}");

    let done = transfers.finish("header attacks") as u64;
    assert_eq!(bed.echo.accepted() - dials_before, done, "no refused block dialled");
    assert_serving(&mut bed, "header attacks");
}

/// 1,000 CONNECT streams opened at once on one connection (B advertises 200): the excess is
/// refused with RST_STREAM(REFUSED_STREAM), the admitted ones are real tunnels, and closing
/// the connection frees them all.
#[test]
fn h2_streams_beyond_the_concurrency_limit_are_refused() {
    let mut bed = start(83, |_, s| s);
    let authority = format!("{}:{}", bed.mesh.server_ip, bed.mesh.backend_port);
    let cert = client_cert(&bed);
    let transfers = Transfers::start(&bed);
    let fig = Figures::start("too many streams", &bed.b);
    let fds_before = usage(bed.b.pid()).fds;
    let held = rt().block_on(async {
        let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
        let block = connect_block(&authority);
        let mut buf = Vec::new();
        for i in 0..1000u32 {
            frame(&mut buf, HEADERS, END_HEADERS, 1 + 2 * i, &block);
        }
        h.send(&buf).await;
        let seen = h.wait(WAIT, |s| s.headers + s.resets.values().sum::<usize>() >= 1000).await;
        let fds_held = usage(bed.b.pid()).fds;
        drop(h);
        (seen, fds_held)
    });
    let (seen, fds_held) = held;
    let refused = seen.resets.get(&7).copied().unwrap_or(0);
    let admitted = seen.statuses.iter().filter(|&&s| s == 200).count();
    println!(
        "ATTACK too many streams: 1000 opened, {admitted} admitted (200), {refused} REFUSED_STREAM, \
         fds {fds_before} -> {fds_held} while held"
    );
    assert!(admitted <= 200, "more streams admitted than advertised: {admitted}");
    assert!(refused >= 800, "excess streams were not refused: {seen:?}");
    // Dropping the connection closes every tunnel it carried (and its backend socket).
    let deadline = std::time::Instant::now() + WAIT;
    while usage(bed.b.pid()).fds > fds_before + 20 {
        assert!(std::time::Instant::now() < deadline, "tunnels of a closed connection were not freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    transfers.finish("too many streams");
    fig.check(64, 1000);
    assert_serving(&mut bed, "too many streams");
}

/// A peer that fills every window and never reads: 200 echo tunnels on one connection, sent
/// DATA for 8 s (up to 800 MiB), while the peer neither reads the socket nor returns
/// flow-control credit for the echoes. What B holds in user space must stay bounded (its
/// per-stream send buffer and read buffer; the rest backs up in kernel socket buffers and
/// the backend), and everything is freed when the peer goes.
#[test]
fn h2_deaf_peer_filling_every_window_is_bounded() {
    let mut bed = start_in_slot(80, 1, |_, s| s);
    let authority = format!("{}:{}", bed.mesh.server_ip, bed.mesh.backend_port);
    let cert = client_cert(&bed);
    let transfers = Transfers::start(&bed);
    let fds_before = usage(bed.b.pid()).fds;
    let fig = Figures::start("deaf peer filling windows", &bed.b);
    let (offered, held) = rt().block_on(async {
        let mut h = RawH2::connect_deaf(bed.b.addrs.inbound, &cert).await.unwrap();
        let mut buf = Vec::new();
        for i in 0..200u32 {
            frame(&mut buf, HEADERS, END_HEADERS, 1 + 2 * i, &connect_block(&authority));
        }
        h.send(&buf).await;
        let chunk = vec![0x5au8; 16 * 1024];
        let mut offered = 0usize;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        'fill: for _ in 0..256 {
            let mut round = Vec::new();
            for i in 0..200u32 {
                frame(&mut round, DATA, 0, 1 + 2 * i, &chunk);
            }
            match tokio::time::timeout_at(deadline, h.send(&round)).await {
                Ok(true) => offered += round.len(),
                _ => break 'fill,
            }
        }
        let held = usage(bed.b.pid());
        drop(h);
        (offered, held)
    });
    println!(
        "ATTACK deaf peer filling windows: {} KiB taken in 8 s at most, B RSS {} KiB / fds {} while held",
        offered >> 10,
        held.rss_kib,
        held.fds
    );
    let deadline = std::time::Instant::now() + WAIT;
    while usage(bed.b.pid()).fds > fds_before + 20 {
        assert!(std::time::Instant::now() < deadline, "tunnels of a dropped connection were not freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    transfers.finish("deaf peer filling windows");
    // Per stream at most h2's 400 KiB send buffer plus a 256 KiB read buffer: 200 streams
    // can pin up to ~128 MiB; measured 17-61 MiB.
    fig.check(160, 3000);
    assert_serving(&mut bed, "deaf peer filling windows");
}

/// CONNECTs whose authority is not the local workload (other local addresses, link-local
/// metadata, public IPs, IPv6 loopback, port 0): each gets 400 and nothing is dialled.
#[test]
fn connect_to_non_local_targets_is_refused() {
    let mut bed = start(84, |_, s| s);
    let cert = client_cert(&bed);
    let port = bed.mesh.backend_port;
    let targets = [
        format!("127.0.0.1:{port}"),
        format!("127.0.84.1:{port}"),
        "169.254.169.254:80".to_string(),
        "10.0.0.1:443".to_string(),
        "8.8.8.8:53".to_string(),
        format!("[::1]:{port}"),
        format!("{}:0", bed.mesh.server_ip),
    ];
    let transfers = Transfers::start(&bed);
    let dials_before = bed.echo.accepted();
    let fig = Figures::start("non-local CONNECT", &bed.b);
    let statuses = rt().block_on(async {
        let mut h = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
        let mut buf = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            frame(&mut buf, HEADERS, END_HEADERS, 1 + 2 * i as u32, &connect_block(t));
        }
        h.send(&buf).await;
        let seen = h.wait(WAIT, |s| s.headers >= targets.len()).await;
        seen.status_of_stream.values().copied().collect::<Vec<u16>>()
    });
    fig.check(16, 300);
    println!("ATTACK non-local CONNECT: {targets:?} -> {statuses:?}");
    assert_eq!(statuses.len(), targets.len(), "{statuses:?}");
    // Port 0 passes the address checks and fails the dial (503); the others are misdirected.
    assert_eq!(statuses[..6], [400; 6], "{statuses:?}");
    assert_eq!(statuses[6], 503, "{statuses:?}");
    let done = transfers.finish("non-local CONNECT") as u64;
    assert_eq!(bed.echo.accepted() - dials_before, done, "only the transfers reached the backend");
    assert_serving(&mut bed, "non-local CONNECT");
}

/// mTLS clients with an expired or a not-yet-valid certificate from the mesh CA, 100
/// handshakes each: every one is refused, and a valid client still gets through.
#[test]
fn expired_and_not_yet_valid_client_certificates_are_refused() {
    let mut bed = start(85, |_, s| s);
    let id = Identity::new("cluster.local", "default", "client");
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let expired = bed.ca.issue_with_validity(&id, now - 2 * day, now - day).unwrap();
    let future = bed.ca.issue_with_validity(&id, now + day, now + 2 * day).unwrap();
    let transfers = Transfers::start(&bed);
    let fig = Figures::start("expired / not-yet-valid certs", &bed.b);
    let (refused, accepted) = rt().block_on(async {
        let (mut refused, mut accepted) = (0, 0);
        for cert in [&expired, &future] {
            for _ in 0..100 {
                // TLS 1.3: the client finishes first; the refusal is the alert on the first read.
                match tls_to(bed.b.addrs.inbound, cert).await {
                    Ok(mut tls) => {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let _ = tls.write_all(PREFACE).await;
                        let mut b = [0u8; 64];
                        match tokio::time::timeout(WAIT, tls.read(&mut b)).await {
                            Ok(Ok(n)) if n > 0 => accepted += 1,
                            _ => refused += 1,
                        }
                    }
                    Err(_) => refused += 1,
                }
            }
        }
        (refused, accepted)
    });
    fig.check(32, 3000);
    println!("ATTACK expired / not-yet-valid certs: {refused} of 200 handshakes refused, {accepted} accepted");
    assert_eq!((refused, accepted), (200, 0));
    transfers.finish("expired / not-yet-valid certs");
    // The node logs a refusal after sending its alert, so the last lines can trail the client.
    let failures =
        || bed.b.events().iter().filter(|e| ztunnel::testbed::node::message(e) == "connection failed").count();
    common::eventually(WAIT, "refusals are logged", || failures() >= 200);
    assert!(failures() >= 200, "refusals are logged: {}", failures());
    assert_serving(&mut bed, "expired / not-yet-valid certs");
}

/// Client certificates the mesh CA did not sign as a CA: a self-signed one, and one signed by
/// a mesh *leaf* (no CA basic constraint), each with the right SPIFFE ID, sent by
/// `openssl s_client`. Both are refused; a proper client is accepted (control).
#[test]
fn self_signed_and_leaf_signed_client_certificates_are_refused() {
    let mut bed = start_in_slot(85, 1, |_, s| s);
    let d = bed.dir.path().to_path_buf();
    let file = |n: &str| d.join(n).display().to_string();
    let id = Identity::new("cluster.local", "default", "client");
    let (leaf, leaf_key) = bed.ca.issue_pem(&id, Duration::from_secs(3600)).unwrap();
    std::fs::write(file("leaf.pem"), leaf).unwrap();
    std::fs::write(file("leaf.key"), leaf_key).unwrap();
    let san = "subjectAltName=URI:spiffe://cluster.local/ns/default/sa/client";
    std::fs::write(file("ext.cnf"), format!("{san}\n")).unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let steps: Vec<Vec<String>> = vec![
        [&["req", "-x509"][..], &ec, &["-keyout", &file("self.key"), "-out", &file("self.pem"), "-days", "1"]]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .chain(["-subj", "/CN=self", "-addext", san].map(String::from))
            .collect(),
        [&["req", "-new"][..], &ec, &["-keyout", &file("sub.key"), "-out", &file("sub.csr"), "-subj", "/CN=sub"]]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ["x509", "-req", "-in", &file("sub.csr"), "-CA", &file("leaf.pem"), "-CAkey", &file("leaf.key")]
            .iter()
            .map(|s| s.to_string())
            .chain(
                ["-CAcreateserial", "-out", &file("sub.pem"), "-days", "1", "-extfile", &file("ext.cnf")]
                    .map(String::from),
            )
            .collect(),
    ];
    for args in &steps {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out) = common::run("openssl", &args, b"");
        assert!(ok, "openssl {args:?}: {out}");
    }
    let connect = bed.b.addrs.inbound.to_string();
    let root = bed.ca_files.0.display().to_string();
    let s_client = |extra: &[&str]| {
        let mut args =
            vec!["10", "openssl", "s_client", "-connect", &connect, "-CAfile", &root, "-alpn", "h2", "-ign_eof"];
        args.extend_from_slice(extra);
        common::run("timeout", &args, b"")
    };
    let fig = Figures::start("self-signed / leaf-signed certs", &bed.b);
    let (_, control) = s_client(&["-cert", &file("leaf.pem"), "-key", &file("leaf.key")]);
    assert!(control.contains("ALPN protocol: h2") && !control.contains("alert"), "control refused:\n{control}");
    let (_, selfsigned) = s_client(&["-cert", &file("self.pem"), "-key", &file("self.key")]);
    let (_, leafsigned) =
        s_client(&["-cert", &file("sub.pem"), "-key", &file("sub.key"), "-cert_chain", &file("leaf.pem")]);
    fig.check(16, 300);
    let alert = |out: &str| out.lines().find(|l| l.contains("alert")).unwrap_or("").to_string();
    println!("ATTACK self-signed cert: {}", alert(&selfsigned));
    println!("ATTACK leaf-signed cert: {}", alert(&leafsigned));
    assert!(selfsigned.contains("alert"), "self-signed client was not refused:\n{selfsigned}");
    assert!(leafsigned.contains("alert"), "leaf-signed client was not refused:\n{leafsigned}");
    assert_eq!(bed.echo.accepted(), 0);
    assert_serving(&mut bed, "self-signed / leaf-signed certs");
}
