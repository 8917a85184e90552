//! Address normalisation. A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6
//! (`::ffff:10.1.2.3`); the state, policies and logs know them as IPv4, so every address that
//! came from a socket is normalised once, here, before it is compared or indexed.

use std::net::{IpAddr, SocketAddr};

/// Maps an IPv4-mapped IPv6 address back to IPv4; any other address is returned unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// [`canonical_ip`] for a socket address; the port is kept.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmaps_v4_and_keeps_the_rest() {
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:80".parse().unwrap();
        assert_eq!(canonical(mapped), "10.1.2.3:80".parse().unwrap());
        let v6: SocketAddr = "[fd00::1]:80".parse().unwrap();
        assert_eq!(canonical(v6), v6);
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(canonical_ip(v4), v4);
        // The IPv4-compatible form (deprecated, ::a.b.c.d) is a real IPv6 address: not unmapped.
        let compat: IpAddr = "::10.1.2.3".parse().unwrap();
        assert_eq!(canonical_ip(compat), compat);
    }
}
