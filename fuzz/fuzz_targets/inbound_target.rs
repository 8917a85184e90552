//! The inbound CONNECT target parser (src/proxy/inbound.rs `parse_target`): the peer-supplied
//! `:authority` of an HBONE request, `ip:port`, `[v6]:port` or (double HBONE through a network
//! gateway) `hostname:port`. Input: the authority bytes.
//!
//! Properties: never panics; what it accepts is in its documented shape (an address is
//! canonical, a hostname DNS-shaped and lower-case, no port 0 for a hostname); and the
//! accepted value, printed back as an authority, parses to the same value (so a target logged
//! or forwarded means what the peer's did).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ztunnel::proxy::inbound::{self, Target};

fuzz_target!(|data: &[u8]| {
    let Ok(authority) = std::str::from_utf8(data) else { return };
    let Ok(target) = inbound::parse_target(authority) else { return };
    let printed = match &target {
        Target::Addr(addr) => {
            assert_eq!(ztunnel::util::net::canonical(*addr), *addr, "address not canonical: {authority:?}");
            addr.to_string()
        }
        Target::Host { hostname, port } => {
            assert_ne!(*port, 0, "port 0 accepted: {authority:?}");
            assert!(!hostname.is_empty() && hostname.len() <= 253, "hostname length: {authority:?}");
            assert!(
                hostname.split('.').all(|l| !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')),
                "hostname not DNS-shaped and lower-case: {hostname:?} from {authority:?}"
            );
            format!("{hostname}:{port}")
        }
    };
    assert_eq!(inbound::parse_target(&printed).ok(), Some(target), "{authority:?} printed as {printed:?}");
});
