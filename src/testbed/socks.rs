//! A minimal blocking SOCKS5 client (no auth, CONNECT), for the testbed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// Where to connect through the proxy.
pub enum Dest<'a> {
    Addr(SocketAddr),
    Host(&'a str, u16),
}

/// Connects through the SOCKS5 proxy at `proxy`; returns the stream, ready for data, or the
/// reply code the proxy refused with.
pub fn connect(proxy: SocketAddr, dest: Dest<'_>) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(proxy)?;
    s.set_nodelay(true)?;
    s.write_all(&[5, 1, 0])?;
    let mut m = [0u8; 2];
    s.read_exact(&mut m)?;
    if m != [5, 0] {
        return Err(io::Error::other(format!("proxy refused methods: {m:?}")));
    }
    let mut req = vec![5, 1, 0];
    let port = match dest {
        Dest::Addr(SocketAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.ip().octets());
            a.port()
        }
        Dest::Addr(SocketAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.ip().octets());
            a.port()
        }
        Dest::Host(h, p) => {
            req.push(3);
            req.push(h.len() as u8);
            req.extend_from_slice(h.as_bytes());
            p
        }
    };
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        other => return Err(io::Error::other(format!("bad reply address type {other}"))),
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip)?;
    if head[1] != 0 {
        return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("SOCKS5 reply code {}", head[1])));
    }
    Ok(s)
}
