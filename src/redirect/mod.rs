//! Traffic capture: the original destination of a connection netfilter REDIRECTed to us
//! (`SO_ORIGINAL_DST`), and the in-pod iptables rules that do the redirecting ([`rules`],
//! `ztunnel redirect install|remove`).
//!
//! One of the few modules with `unsafe`: `getsockopt(SO_ORIGINAL_DST)`, which neither the
//! standard library nor socket2 exposes.

pub mod rules;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use tokio::net::TcpStream;

/// `SO_ORIGINAL_DST` / `IP6T_SO_ORIGINAL_DST` from linux/netfilter_ipv4.h and ip6_tables.h.
const SO_ORIGINAL_DST: libc::c_int = 80;

/// The destination the client originally dialled before netfilter redirected it to us.
///
/// Returns an error when the connection was not redirected (no conntrack entry); callers must
/// not guess in that case, because the local address would point back at our own listener.
pub fn original_dst(stream: &TcpStream) -> io::Result<SocketAddr> {
    let local = stream.local_addr()?;
    let fd = stream.as_raw_fd();
    // A dual-stack listener sees IPv4 clients as v4-mapped IPv6; their conntrack entry is IPv4.
    let is_v4 = match local.ip() {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
    };
    if is_v4 {
        // SAFETY: sockaddr_in is plain old data; the kernel writes at most `len` bytes into it.
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = unsafe {
            libc::getsockopt(fd, libc::SOL_IP, SO_ORIGINAL_DST, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
        Ok(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(addr.sin_port))))
    } else {
        // SAFETY: as above, for sockaddr_in6.
        let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_IPV6,
                SO_ORIGINAL_DST,
                (&mut addr as *mut libc::sockaddr_in6).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
        Ok(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(addr.sin6_port), addr.sin6_flowinfo, addr.sin6_scope_id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::{ListenOptions, bind};

    #[tokio::test]
    async fn original_dst_fails_without_redirect() {
        let l = bind("127.0.0.1:0".parse().unwrap(), &ListenOptions::default()).unwrap();
        let addr = l.local_addr().unwrap();
        let _c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        assert!(original_dst(&s).is_err());
    }
}
