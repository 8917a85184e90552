//! The socket factory of the whole crate: every listener and every dialled socket is made
//! here, so each gets the same options (TCP_NODELAY, keepalive and TCP_USER_TIMEOUT, `SO_MARK`
//! so our own traffic is not captured again, IP_TRANSPARENT for original-source binds,
//! SO_REUSEPORT for in-pod listeners) and can be created inside a pod's network namespace
//! ([`netns`]).
//!
//! One of the few modules with `unsafe` (`setns` in [`netns`], the open-files limit,
//! IPV6_TRANSPARENT which socket2 does not expose); see the crate root for the list.

pub mod netns;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// How long an accept loop pauses after a failed accept.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// The next connection on `listener`, with the peer address normalised. Accept errors are
/// transient (EMFILE/ENFILE when file descriptors run out, ECONNABORTED): each is logged and
/// retried after [`ACCEPT_ERROR_BACKOFF`], so a process out of descriptors does not spin at
/// 100% CPU, and serving resumes by itself once descriptors free up. Cancel-safe (for
/// `select!` with a drain signal). Every accept loop of the crate goes through here.
pub async fn accept(listener: &TcpListener, name: &'static str) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, crate::util::net::canonical(peer)),
            Err(e) => {
                tracing::warn!(listener = name, "accept failed: {e}");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
}

/// Options for sockets we open towards upstreams.
#[derive(Debug, Clone, Default)]
pub struct SocketOptions {
    /// `SO_MARK` for our own outbound sockets, so capture rules can skip them (PACKET_MARK).
    pub mark: Option<u32>,
    /// Bind to this source IP with IP_TRANSPARENT (original-source preservation).
    pub transparent_source: Option<IpAddr>,
    /// Create the socket inside this network namespace (in-pod mode: the pod's).
    pub netns: Option<netns::Netns>,
    pub keepalive: Keepalive,
}

/// Options for listeners; accepted sockets inherit the per-connection ones (see [`bind`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListenOptions {
    /// IP_TRANSPARENT: accept connections for addresses that are not ours (best effort).
    pub transparent: bool,
    /// SO_REUSEPORT: a second ztunnel (a surge upgrade) can bind the same pod's ports while
    /// the first still serves them; the kernel spreads new connections over both.
    pub reuse_port: bool,
    pub keepalive: Keepalive,
}

/// TCP keepalive on proxied sockets (KEEPALIVE_ENABLED, _TIME, _INTERVAL, _RETRIES) and
/// optionally TCP_USER_TIMEOUT (USER_TIMEOUT_ENABLED), with upstream's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Keepalive {
    pub enabled: bool,
    pub time: Duration,
    pub interval: Duration,
    pub retries: u32,
    /// Also give up on unacknowledged data after time + interval × retries, the same bound
    /// keepalive puts on an idle peer.
    pub user_timeout: bool,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            enabled: true,
            time: Duration::from_secs(180),
            interval: Duration::from_secs(180),
            retries: 9,
            user_timeout: false,
        }
    }
}

impl Keepalive {
    fn apply(&self, sock: &SockRef<'_>) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        sock.set_tcp_keepalive(
            &TcpKeepalive::new().with_time(self.time).with_interval(self.interval).with_retries(self.retries),
        )?;
        if self.user_timeout {
            sock.set_tcp_user_timeout(Some(self.time + self.interval * self.retries))?;
        }
        Ok(())
    }
}

/// Applies the per-connection options every dialled socket gets (accepted sockets inherit
/// them from the listener, see [`bind`]).
pub fn tune(stream: &TcpStream, keepalive: &Keepalive) {
    let _ = stream.set_nodelay(true);
    let _ = keepalive.apply(&SockRef::from(stream));
}

/// Dials `dst` with our socket options, within `timeout`.
pub async fn connect(dst: SocketAddr, opts: &SocketOptions, timeout: Duration) -> io::Result<TcpStream> {
    let v4 = dst.is_ipv4();
    let new = move || if v4 { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
    let socket = match &opts.netns {
        Some(ns) => ns.run_async(new).await??,
        None => new()?,
    };
    {
        let sock = SockRef::from(&socket);
        if let Some(mark) = opts.mark {
            sock.set_mark(mark)?;
        }
        if let Some(src) = opts.transparent_source {
            // Only meaningful when the source family matches the destination family.
            if src.is_ipv4() == dst.is_ipv4() {
                if dst.is_ipv4() {
                    sock.set_ip_transparent_v4(true)?;
                } else {
                    set_ipv6_transparent(&socket)?;
                }
                socket.bind(SocketAddr::new(src, 0))?;
            }
        }
    }
    let stream = tokio::time::timeout(timeout, socket.connect(dst)).await.map_err(|_| {
        io::Error::new(io::ErrorKind::TimedOut, format!("connect to {dst} timed out after {timeout:?}"))
    })??;
    tune(&stream, &opts.keepalive);
    Ok(stream)
}

fn set_ipv6_transparent(socket: &TcpSocket) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a valid fd and a c_int option value.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_IPV6,
            libc::IPV6_TRANSPARENT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Binds a listener with `opts`. Wildcard IPv6 binds are dual-stack.
///
/// The per-connection options (TCP_NODELAY, keepalive) are set on the listener: Linux copies
/// them into every accepted socket, which saves five `setsockopt` calls per connection.
pub fn bind(addr: SocketAddr, opts: &ListenOptions) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if opts.reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.set_nodelay(true)?;
    {
        let sock = SockRef::from(&socket);
        opts.keepalive.apply(&sock)?;
        if addr.is_ipv6() {
            sock.set_only_v6(false)?;
        }
        if opts.transparent {
            let res = if addr.is_ipv4() { sock.set_ip_transparent_v4(true) } else { set_ipv6_transparent(&socket) };
            if let Err(e) = res {
                tracing::debug!(%addr, "IP_TRANSPARENT unavailable: {e}");
            }
        }
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A UDP socket for `addr` (the DNS proxy), non-blocking, with SO_REUSEPORT when asked (as
/// for [`bind`]).
pub fn bind_udp(addr: SocketAddr, reuse_port: bool) -> io::Result<tokio::net::UdpSocket> {
    let domain = if addr.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Whether this process may set IP_TRANSPARENT (CAP_NET_ADMIN), i.e. bind a connection to a
/// source address that is not its own: what original-source preservation needs.
pub fn ip_transparent_available() -> bool {
    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .and_then(|s| s.set_ip_transparent_v4(true))
        .is_ok()
}

/// Asks the kernel (Linux 5.14+, `net.ipv4.tcp_migrate_req`) to hand connections still queued
/// on a closing listener to another listener of its SO_REUSEPORT group instead of resetting
/// them: when the old ztunnel of a surge upgrade stops accepting, the handshakes it had not
/// accepted yet go to the new one. Applies to the network namespace of the calling thread (a
/// pod's, when called from inside it). Best effort: `/proc/sys` is read-only in many
/// containers, where the CNI has to set it.
pub fn migrate_requests_on_close() -> io::Result<()> {
    std::fs::write("/proc/sys/net/ipv4/tcp_migrate_req", "1")
}

/// Raises the soft limit on open files to the hard limit, as upstream does at start: every
/// proxied connection holds at least two descriptors, and the common 1024 soft limit gives
/// EMFILE under modest load. Returns the soft limit before and after.
pub fn raise_open_files_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct we pass, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((before, limit.rlim_cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reuse_port_lets_two_listeners_share_a_port() {
        let reuse = ListenOptions { reuse_port: true, ..ListenOptions::default() };
        let first = bind("127.0.0.1:0".parse().unwrap(), &reuse).unwrap();
        let addr = first.local_addr().unwrap();
        let second = bind(addr, &reuse).expect("a second SO_REUSEPORT listener binds");
        assert_eq!(second.local_addr().unwrap(), addr);
        let err = bind(addr, &ListenOptions::default()).expect_err("without SO_REUSEPORT the port is taken");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let udp = bind_udp(addr, true).unwrap();
        bind_udp(udp.local_addr().unwrap(), true).expect("UDP too");
    }

    #[tokio::test]
    async fn keepalive_settings_reach_the_socket() {
        let ka = Keepalive {
            time: Duration::from_secs(30),
            interval: Duration::from_secs(5),
            retries: 3,
            user_timeout: true,
            ..Keepalive::default()
        };
        let l =
            bind("127.0.0.1:0".parse().unwrap(), &ListenOptions { keepalive: ka, ..ListenOptions::default() }).unwrap();
        let opts = SocketOptions { keepalive: ka, ..SocketOptions::default() };
        let dialled = connect(l.local_addr().unwrap(), &opts, Duration::from_secs(5)).await.unwrap();
        let (accepted, _) = l.accept().await.unwrap();
        for s in [&dialled, &accepted] {
            let sock = SockRef::from(s);
            assert!(sock.keepalive().unwrap());
            assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(30));
            assert_eq!(sock.tcp_keepalive_interval().unwrap(), Duration::from_secs(5));
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);
            assert_eq!(sock.tcp_user_timeout().unwrap(), Some(Duration::from_secs(45)));
        }
        let off = SocketOptions {
            keepalive: Keepalive { enabled: false, ..Keepalive::default() },
            ..SocketOptions::default()
        };
        let plain = connect(l.local_addr().unwrap(), &off, Duration::from_secs(5)).await.unwrap();
        assert!(!SockRef::from(&plain).keepalive().unwrap());
    }

    #[test]
    fn open_files_limit_ends_at_the_hard_limit() {
        let (before, after) = raise_open_files_limit().unwrap();
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert!(after >= before);
        assert_eq!(after, limit.rlim_max);
    }

    /// `bind` relies on the kernel copying the listener's options into accepted sockets.
    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay_and_keepalive() {
        let l = bind("127.0.0.1:0".parse().unwrap(), &ListenOptions::default()).unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let sock = SockRef::from(&s);
        assert!(s.nodelay().unwrap());
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(180));
        assert_eq!(sock.tcp_keepalive_interval().unwrap(), Duration::from_secs(180));
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 9);
    }
}
