//! HTTP/1.1 request/response on one keep-alive connection: a minimal server (thread per
//! connection) and the client loop that times each exchange.
//!
//! Unlike the 64-byte echo, a response here is bigger than a request (a 1 KiB body behind its
//! headers, as a small API reply) and the server parses before it answers, so the tunnel's
//! handling of asymmetric messages and of the read buffer's first growth steps is timed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// Body bytes of every response unless `--http-body N` says otherwise.
pub const BODY: usize = 1024;

const REQUEST: &[u8] = b"GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: ztunnel-bench\r\nAccept: */*\r\n\r\n";

/// Serves keep-alive HTTP/1.1 on `listener` until the process ends: every request (headers
/// only, no body) is answered 200 with `body` bytes, headers and body in one write.
pub fn serve(listener: TcpListener, body: usize) -> SocketAddr {
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = handle(conn, body);
            });
        }
    });
    addr
}

fn response(body: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body}\r\nServer: bench\r\n\r\n"
    )
    .into_bytes();
    r.extend(std::iter::repeat_n(b'r', body));
    r
}

fn handle(mut conn: TcpStream, body: usize) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let resp = response(body);
    let mut buf = vec![0u8; 16 * 1024];
    let mut have = 0;
    loop {
        let n = conn.read(&mut buf[have..])?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        // Answer every complete request in the buffer (the client sends one at a time).
        while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            conn.write_all(&resp)?;
            buf.copy_within(end + 4..have, 0);
            have -= end + 4;
        }
        if have == buf.len() {
            return Err(io::Error::other("request headers too long"));
        }
    }
}

/// Reads one response (headers, then Content-Length bytes) from `s`; `buf` is scratch.
fn read_response(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut have = 0;
    let header_end = loop {
        let n = s.read(&mut buf[have..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
        if let Some(p) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..header_end]).map_err(io::Error::other)?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("response without Content-Length"))?;
    let mut body = have - header_end;
    while body < len {
        let n = s.read(&mut buf[..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body += n;
    }
    Ok(())
}

/// Times `iterations` request/response exchanges on `s` (after `warmup` untimed ones):
/// each sample is from the request's write to the response's last byte, in microseconds.
pub fn exchanges(s: &mut TcpStream, warmup: usize, iterations: usize) -> Vec<f64> {
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..warmup {
        s.write_all(REQUEST).unwrap();
        read_response(s, &mut buf).unwrap();
    }
    (0..iterations)
        .map(|_| {
            let t = std::time::Instant::now();
            s.write_all(REQUEST).unwrap();
            read_response(s, &mut buf).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}
