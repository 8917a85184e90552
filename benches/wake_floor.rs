//! What a sleep and a wake-up cost on this machine, apart from any proxy: the floor under CPU
//! per round trip and per connection.
//!
//! Two threads ping-pong 64 bytes over a loopback TCP pair, once sleeping in a blocking `read`
//! between messages (as every proxy does when its peer is slower than it) and once spinning on
//! a non-blocking one (no sleep, no wake-up: the cost of the socket calls alone). The first
//! against the second is what the scheduler charges per message; on a VM it is most of the
//! relays' CPU per round trip. Thread CPU time, so other processes on the cores do not count.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

const MSG: usize = 64;

/// CPU µs per round trip for (blocking, spinning) ping-pong over `n` round trips.
pub fn cpu_per_rtt_us(n: usize) -> (f64, f64) {
    (ping_pong(n, false), ping_pong(n, true))
}

fn ping_pong(n: usize, spin: bool) -> f64 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    for s in [&a, &b] {
        s.set_nodelay(true).unwrap();
        s.set_nonblocking(spin).unwrap();
    }
    let echo = std::thread::spawn(move || side(b, n, spin, false));
    let mine = side(a, n, spin, true);
    let theirs = echo.join().unwrap();
    (mine + theirs) * 1e6 / n as f64
}

/// One end: `n` times read a message and write it back (the first end writes first). Returns
/// this thread's CPU seconds.
fn side(mut s: TcpStream, n: usize, spin: bool, first: bool) -> f64 {
    let start = thread_cpu_secs();
    let mut buf = [7u8; MSG];
    if first {
        s.write_all(&buf).unwrap();
    }
    for i in 0..n {
        let mut got = 0;
        while got < MSG {
            match s.read(&mut buf[got..]) {
                Ok(0) => panic!("peer closed"),
                Ok(k) => got += k,
                Err(e) if spin && e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        }
        // The last message of the first end needs no answer.
        if !(first && i + 1 == n) {
            write_all(&mut s, &buf, spin);
        }
    }
    thread_cpu_secs() - start
}

fn write_all(s: &mut TcpStream, mut b: &[u8], spin: bool) {
    while !b.is_empty() {
        match s.write(b) {
            Ok(k) => b = &b[k..],
            Err(e) if spin && e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => panic!("{e}"),
        }
    }
}

fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
