//! SOCKS5 (127.0.0.1:15080, `UNSTABLE_ENABLE_SOCKS5=true`): lets a client that is not captured
//! by iptables use the outbound path. No authentication, CONNECT only; the target may be an
//! IPv4 or IPv6 address or a service hostname known to the state (resolved to its VIP).
//!
//! Reply codes (RFC 1928 §6): 0 success, 1 general failure, 2 not allowed, 4 host
//! unreachable, 5 connection refused, 7 command not supported, 8 address type not supported.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::drain::DrainWatcher;
use crate::proxy::access::{ConnectionLog, Direction};
use crate::proxy::outbound;
use crate::proxy::{Error, ProxyInputs};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const NO_ACCEPTABLE_METHOD: u8 = 0xFF;
const CMD_CONNECT: u8 = 1;

/// Reply codes we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reply {
    Succeeded = 0,
    GeneralFailure = 1,
    NotAllowed = 2,
    HostUnreachable = 4,
    ConnectionRefused = 5,
    CommandNotSupported = 7,
    AddressTypeNotSupported = 8,
}

/// The target a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Addr(SocketAddr),
    Host(String, u16),
}

/// Why a SOCKS5 client got no tunnel.
#[derive(Debug, thiserror::Error)]
pub enum Socks5Error {
    #[error("handshake timed out")]
    HandshakeTimeout,
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error("unknown host in {0:?}")]
    UnknownHost(Target),
}

/// The reply a SOCKS5 client gets when its connection cannot be established.
pub fn reply_for(e: &Error) -> Reply {
    match e {
        Error::Socks5(Socks5Error::Handshake(h)) => h.reply.unwrap_or(Reply::GeneralFailure),
        Error::Socks5(Socks5Error::UnknownHost(_)) => Reply::HostUnreachable,
        Error::Socks5(Socks5Error::HandshakeTimeout) => Reply::GeneralFailure,
        Error::SelfCall(_)
        | Error::ConnectRefused { .. }
        | Error::NotLocalAddress { .. }
        | Error::AuthorizationPolicyRejection(_)
        | Error::AuthorizationPolicyRevoked(_) => Reply::NotAllowed,
        Error::Route(_) | Error::Resolve(_) | Error::OnDemand(_) => Reply::HostUnreachable,
        Error::Connect { .. } | Error::Hbone { .. } => Reply::ConnectionRefused,
        Error::NoOriginalDst(_) | Error::UnknownLocalWorkload(_) | Error::Certificate { .. } | Error::Io(_) => {
            Reply::GeneralFailure
        }
    }
}

/// A malformed or unsupported request, with the reply it deserves (if any can be sent).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandshakeError {
    pub reply: Option<Reply>,
    pub message: String,
}

fn bad(reply: Option<Reply>, message: impl Into<String>) -> HandshakeError {
    HandshakeError { reply, message: message.into() }
}

/// The greeting and request, up to (not including) our reply.
pub async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Result<Target, HandshakeError> {
    let io = |e: std::io::Error| bad(None, format!("read failed: {e}"));
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[0] != VERSION {
        return Err(bad(None, format!("unsupported SOCKS version {} (only 5)", head[0])));
    }
    let mut methods = vec![0u8; head[1] as usize];
    s.read_exact(&mut methods).await.map_err(io)?;
    if !methods.contains(&NO_AUTH) {
        let _ = s.write_all(&[VERSION, NO_ACCEPTABLE_METHOD]).await;
        return Err(bad(None, "client offers no 'no authentication' method"));
    }
    s.write_all(&[VERSION, NO_AUTH]).await.map_err(io)?;

    let mut req = [0u8; 4];
    s.read_exact(&mut req).await.map_err(io)?;
    if req[0] != VERSION {
        return Err(bad(Some(Reply::GeneralFailure), format!("bad request version {}", req[0])));
    }
    let host = match req[3] {
        1 => {
            let mut b = [0u8; 4];
            s.read_exact(&mut b).await.map_err(io)?;
            Ok(IpAddr::V4(Ipv4Addr::from(b)))
        }
        4 => {
            let mut b = [0u8; 16];
            s.read_exact(&mut b).await.map_err(io)?;
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).await.map_err(io)?;
            let mut name = vec![0u8; len[0] as usize];
            s.read_exact(&mut name).await.map_err(io)?;
            let name =
                String::from_utf8(name).map_err(|_| bad(Some(Reply::GeneralFailure), "hostname is not UTF-8"))?;
            Err(name)
        }
        other => {
            return Err(bad(Some(Reply::AddressTypeNotSupported), format!("unsupported address type {other}")));
        }
    };
    let mut port = [0u8; 2];
    s.read_exact(&mut port).await.map_err(io)?;
    let port = u16::from_be_bytes(port);
    // Checked after reading the whole request so the reply is not mixed with unread bytes.
    if req[1] != CMD_CONNECT {
        return Err(bad(Some(Reply::CommandNotSupported), format!("unsupported command {} (only CONNECT)", req[1])));
    }
    Ok(match host {
        Ok(ip) => Target::Addr(SocketAddr::new(ip, port)),
        Err(name) => Target::Host(name, port),
    })
}

/// Writes a reply with the given bound address (0.0.0.0:0 when unknown).
pub async fn write_reply<S: AsyncWrite + Unpin>(s: &mut S, reply: Reply, bound: SocketAddr) -> std::io::Result<()> {
    let mut buf = vec![VERSION, reply as u8, 0];
    match bound {
        SocketAddr::V4(a) => {
            buf.push(1);
            buf.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            buf.push(4);
            buf.extend_from_slice(&a.ip().octets());
        }
    }
    buf.extend_from_slice(&bound.port().to_be_bytes());
    s.write_all(&buf).await
}

const UNSPECIFIED: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

pub async fn serve(listener: TcpListener, inputs: Arc<ProxyInputs>, drain: DrainWatcher) {
    crate::proxy::accept_loop(listener, "socks5", drain, move |stream, peer, drain| {
        let inputs = inputs.clone();
        async move {
            let mut log = ConnectionLog::new(Direction::Outbound, super::SourceAddr::new(peer), &inputs.metrics);
            let result = handle(&inputs, stream, &mut log).await;
            log.finish(result);
            drop(drain);
        }
    })
    .await
}

async fn handle(
    inputs: &ProxyInputs,
    mut client: TcpStream,
    log: &mut ConnectionLog,
) -> Result<crate::proxy::copy::Transferred, Error> {
    // A client that never finishes its handshake must not hold a task forever.
    let target = match tokio::time::timeout(Duration::from_secs(10), read_request(&mut client)).await {
        Err(_) => return Err(Socks5Error::HandshakeTimeout.into()),
        Ok(Err(e)) => {
            if let Some(reply) = e.reply {
                let _ = write_reply(&mut client, reply, UNSPECIFIED).await;
            }
            return Err(Socks5Error::Handshake(e).into());
        }
        Ok(Ok(t)) => t,
    };
    // A hostname names a service; its VIP on the client's network is the one to dial.
    let network = match &target {
        Target::Host(..) => match inputs.local_workload().await {
            Ok(w) => crate::proxy::route::on_network(&w, &inputs.cfg.network).network.to_string(),
            Err(_) => inputs.cfg.network.clone(),
        },
        Target::Addr(_) => String::new(),
    };
    let dst = match resolve(inputs, &target, &network) {
        Some(d) => d,
        None => {
            let e = Error::from(Socks5Error::UnknownHost(target));
            let _ = write_reply(&mut client, reply_for(&e), UNSPECIFIED).await;
            return Err(e);
        }
    };
    let upstream = match outbound::establish(inputs, dst, log, outbound::FirstBytes::AfterAnswer).await {
        Ok(u) => u,
        Err(e) => {
            let _ = write_reply(&mut client, reply_for(&e), UNSPECIFIED).await;
            return Err(e);
        }
    };
    let bound = client.local_addr().unwrap_or(UNSPECIFIED);
    write_reply(&mut client, Reply::Succeeded, bound).await?;
    outbound::pump(&mut client, upstream).await
}

/// A literal address, or a service hostname → its first VIP on `network` (the client's).
fn resolve(inputs: &ProxyInputs, target: &Target, network: &str) -> Option<SocketAddr> {
    match target {
        Target::Addr(a) => Some(*a),
        Target::Host(name, port) => {
            if let Ok(ip) = name.parse::<IpAddr>() {
                return Some(SocketAddr::new(ip, *port));
            }
            let state = inputs.state.snapshot();
            let svc = state.service_by_hostname(name)?;
            let vip = svc.vips.iter().find(|v| v.network == network)?;
            Some(SocketAddr::new(vip.address, *port))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(client_bytes: &[u8]) -> (Result<Target, HandshakeError>, Vec<u8>) {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(client_bytes).await.unwrap();
        let res = read_request(&mut b).await;
        drop(b);
        let mut out = Vec::new();
        a.read_to_end(&mut out).await.unwrap();
        (res, out)
    }

    #[tokio::test]
    async fn ipv4_connect() {
        let (res, out) = run(&[5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 7, 0x1f, 0x90]).await;
        assert_eq!(res.unwrap(), Target::Addr("10.0.0.7:8080".parse().unwrap()));
        assert_eq!(out, vec![5, 0]);
    }

    #[tokio::test]
    async fn ipv6_and_domain() {
        let mut req = vec![5, 1, 0, 5, 1, 0, 4];
        req.extend_from_slice(&"fd00::7".parse::<Ipv6Addr>().unwrap().octets());
        req.extend_from_slice(&[0, 80]);
        let (res, _) = run(&req).await;
        assert_eq!(res.unwrap(), Target::Addr("[fd00::7]:80".parse().unwrap()));

        let mut req = vec![5, 2, 2, 0, 5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.com");
        req.extend_from_slice(&[0, 80]);
        let (res, _) = run(&req).await;
        assert_eq!(res.unwrap(), Target::Host("example.com".into(), 80));
    }

    #[tokio::test]
    async fn refuses_auth_only_clients() {
        let (res, out) = run(&[5, 1, 2]).await;
        assert!(res.unwrap_err().message.contains("no 'no authentication'"));
        assert_eq!(out, vec![5, 0xFF]);
    }

    #[tokio::test]
    async fn refuses_bind_and_bad_atyp() {
        let (res, _) = run(&[5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80]).await;
        assert_eq!(res.unwrap_err().reply, Some(Reply::CommandNotSupported));
        let (res, _) = run(&[5, 1, 0, 5, 1, 0, 9]).await;
        assert_eq!(res.unwrap_err().reply, Some(Reply::AddressTypeNotSupported));
        let (res, _) = run(&[4, 1, 0]).await;
        assert!(res.unwrap_err().message.contains("version 4"));
    }

    #[tokio::test]
    async fn reply_encoding() {
        let mut out = Vec::new();
        write_reply(&mut out, Reply::Succeeded, "127.0.0.1:15080".parse().unwrap()).await.unwrap();
        assert_eq!(out, vec![5, 0, 0, 1, 127, 0, 0, 1, 0x3a, 0xe8]);
    }
}
