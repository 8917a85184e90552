//! Backends for the testbed: an echo server (every byte comes back, half-close respected) and
//! a sink (counts what it reads), thread per connection. Simple and fast enough for tests, the
//! demo and the benchmark.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

/// A thread-per-connection server running `handle` on every accepted connection until it is
/// dropped; the echo server and the sink differ only in the handler.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
}

impl Server {
    fn spawn(listener: TcpListener, handle: fn(TcpStream)) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let (stop2, accepted2) = (stop.clone(), accepted.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                accepted2.fetch_add(1, Ordering::Relaxed);
                thread::spawn(move || handle(conn));
            }
        });
        Ok(Server { addr, stop, accepted })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// An echo server that runs until dropped.
pub struct Echo {
    pub addr: SocketAddr,
    server: Server,
}

impl Echo {
    /// Listens on `addr` (port 0 allowed).
    pub fn start(addr: SocketAddr) -> io::Result<Echo> {
        Echo::serve(TcpListener::bind(addr)?)
    }

    /// Serves an already bound listener (e.g. one created inside a network namespace).
    pub fn serve(listener: TcpListener) -> io::Result<Echo> {
        let server = Server::spawn(listener, echo)?;
        Ok(Echo { addr: server.addr, server })
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.server.accepted.load(Ordering::Relaxed)
    }
}

fn echo(mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    // Peer finished sending: finish ours, so the client sees EOF after the last echoed byte.
    let _ = conn.shutdown(Shutdown::Write);
}

/// Sends `data` on `conn` while reading the echo back concurrently; returns what came back.
pub fn round_trip(conn: TcpStream, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut reader = conn.try_clone()?;
    let mut writer = conn;
    let data = data.to_vec();
    let w = thread::spawn(move || -> io::Result<()> {
        for chunk in data.chunks(256 * 1024) {
            writer.write_all(chunk)?;
        }
        writer.shutdown(Shutdown::Write)
    });
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    w.join().map_err(|_| io::Error::other("writer panicked"))??;
    Ok(out)
}

/// A sink: reads until EOF, then answers with the byte count (8 bytes, big endian).
/// Used to measure one-way throughput without the echo doubling the load.
pub struct Sink {
    pub addr: SocketAddr,
    _server: Server,
}

impl Sink {
    pub fn start(addr: SocketAddr) -> io::Result<Sink> {
        Sink::serve(TcpListener::bind(addr)?)
    }

    /// Serves an already bound listener (e.g. one created inside a network namespace).
    pub fn serve(listener: TcpListener) -> io::Result<Sink> {
        let server = Server::spawn(listener, sink)?;
        Ok(Sink { addr: server.addr, _server: server })
    }
}

fn sink(mut conn: TcpStream) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(_) => return,
        }
    }
    let _ = conn.write_all(&total.to_be_bytes());
}
