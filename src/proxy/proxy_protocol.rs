//! PROXY protocol v2 headers for application tunnels: a local workload that asks for
//! `applicationTunnel: {protocol: PROXY}` (a waypoint deployed with
//! `ambient.istio.io/waypoint-inbound-binding: PROXY/15088`) is sent, before the tunnelled
//! bytes, the real client address, the original HBONE target and the client's verified
//! identity, as upstream writes them: `PROXY` command, `STREAM` protocol, TLV 0xD0 = the
//! SPIFFE identity (haproxy.org/download/2.0/doc/proxy-protocol.txt).
//!
//! Pure: [`header`] builds the bytes, [`parse`] reads them back (tests, the test bed).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::identity::Identity;

const SIGNATURE: [u8; 12] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
/// Version 2, command PROXY.
const VERSION_PROXY: u8 = 0x21;
const TCP4: u8 = 0x11;
const TCP6: u8 = 0x21;
/// Upstream's custom TLV carrying the source identity.
pub const TLV_IDENTITY: u8 = 0xD0;

/// The header for a connection from `src` to `dst` (mixed families are written as IPv6, the
/// IPv4 one mapped), with `identity` as TLV 0xD0 when known.
pub fn header(src: SocketAddr, dst: SocketAddr, identity: Option<&Identity>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 36 + 64);
    out.extend_from_slice(&SIGNATURE);
    out.push(VERSION_PROXY);
    let mut body = Vec::with_capacity(36 + 64);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(TCP4);
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.push(TCP6);
            body.extend_from_slice(&v6(s).octets());
            body.extend_from_slice(&v6(d).octets());
        }
    }
    body.extend_from_slice(&src.port().to_be_bytes());
    body.extend_from_slice(&dst.port().to_be_bytes());
    if let Some(id) = identity {
        let value = id.to_string();
        // An identity is far below 64 KiB; truncating would only ever cut a malformed one.
        let len = value.len().min(usize::from(u16::MAX));
        body.push(TLV_IDENTITY);
        body.extend_from_slice(&(len as u16).to_be_bytes());
        body.extend_from_slice(&value.as_bytes()[..len]);
    }
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// What a PROXY v2 header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// TLV 0xD0, if present.
    pub identity: Option<String>,
    /// Bytes the header took.
    pub len: usize,
}

/// Why bytes are not a PROXY v2 `PROXY`/`STREAM` header over TCP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("incomplete PROXY v2 header: need {0} bytes")]
    Incomplete(usize),
    #[error("not a PROXY v2 header: {0}")]
    Invalid(&'static str),
}

/// Reads a header from the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parsed, ParseError> {
    if buf.len() < 16 {
        return Err(ParseError::Incomplete(16));
    }
    if buf[..12] != SIGNATURE {
        return Err(ParseError::Invalid("bad signature"));
    }
    if buf[12] != VERSION_PROXY {
        return Err(ParseError::Invalid("not version 2 / PROXY"));
    }
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = 16 + len;
    if buf.len() < total {
        return Err(ParseError::Incomplete(total));
    }
    let body = &buf[16..total];
    let (src_ip, dst_ip, rest): (IpAddr, IpAddr, &[u8]) = match buf[13] {
        TCP4 if body.len() >= 12 => {
            let s: [u8; 4] = body[0..4].try_into().expect("4 bytes");
            let d: [u8; 4] = body[4..8].try_into().expect("4 bytes");
            (s.into(), d.into(), &body[8..])
        }
        TCP6 if body.len() >= 36 => {
            let s: [u8; 16] = body[0..16].try_into().expect("16 bytes");
            let d: [u8; 16] = body[16..32].try_into().expect("16 bytes");
            (s.into(), d.into(), &body[32..])
        }
        _ => return Err(ParseError::Invalid("not TCP over IPv4/IPv6, or too short")),
    };
    let src = SocketAddr::new(src_ip, u16::from_be_bytes([rest[0], rest[1]]));
    let dst = SocketAddr::new(dst_ip, u16::from_be_bytes([rest[2], rest[3]]));
    let mut tlvs = &rest[4..];
    let mut identity = None;
    while tlvs.len() >= 3 {
        let (kind, n) = (tlvs[0], usize::from(u16::from_be_bytes([tlvs[1], tlvs[2]])));
        let value = tlvs.get(3..3 + n).ok_or(ParseError::Invalid("TLV runs past the header"))?;
        if kind == TLV_IDENTITY {
            identity = Some(String::from_utf8_lossy(value).into_owned());
        }
        tlvs = &tlvs[3 + n..];
    }
    Ok(Parsed { src, dst, identity, len: total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_header_round_trips_with_identity() {
        let id = Identity::new("cluster.local", "default", "client");
        let h = header("10.0.0.1:40000".parse().unwrap(), "10.96.0.1:80".parse().unwrap(), Some(&id));
        assert_eq!(&h[..12], &SIGNATURE);
        assert_eq!((h[12], h[13]), (0x21, 0x11));
        let p = parse(&h).unwrap();
        assert_eq!(p.src, "10.0.0.1:40000".parse().unwrap());
        assert_eq!(p.dst, "10.96.0.1:80".parse().unwrap());
        assert_eq!(p.identity.as_deref(), Some("spiffe://cluster.local/ns/default/sa/client"));
        assert_eq!(p.len, h.len());
        // Address block (12) + TLV header (3) + the identity.
        assert_eq!(u16::from_be_bytes([h[14], h[15]]) as usize, 12 + 3 + id.to_string().len());
    }

    #[test]
    fn mixed_families_are_written_as_v6_and_no_identity_means_no_tlv() {
        let h = header("[fd00::1]:1".parse().unwrap(), "10.96.0.1:80".parse().unwrap(), None);
        assert_eq!(h[13], 0x21);
        let p = parse(&h).unwrap();
        assert_eq!(p.dst, "[::ffff:10.96.0.1]:80".parse().unwrap());
        assert_eq!(p.identity, None);
        assert_eq!(h.len(), 16 + 36);
    }

    #[test]
    fn parse_rejects_garbage_and_waits_for_more() {
        let h = header("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap(), None);
        assert_eq!(parse(&h[..10]), Err(ParseError::Incomplete(16)));
        assert_eq!(parse(&h[..20]), Err(ParseError::Incomplete(28)));
        let mut bad = h.clone();
        bad[0] = 0;
        assert!(matches!(parse(&bad), Err(ParseError::Invalid(_))));
    }
}
