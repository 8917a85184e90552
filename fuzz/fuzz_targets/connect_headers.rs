//! The parts of an inbound HBONE CONNECT that the handler parses itself: the `:authority`
//! (src/proxy/inbound.rs `parse_authority`) and the `forwarded` header
//! (src/proxy/peers.rs `forwarded_for`). Input: authority, newline, forwarded value.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use ztunnel::proxy::{inbound, peers};

fuzz_target!(|data: &[u8]| {
    let (authority, forwarded) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(authority) = std::str::from_utf8(authority) {
        if let Ok(addr) = inbound::parse_authority(authority) {
            // Canonical, and its own printed form parses back to it.
            assert_eq!(ztunnel::util::net::canonical(addr), addr);
            assert_eq!(inbound::parse_authority(&addr.to_string()).unwrap(), addr);
        }
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(forwarded) {
        headers.insert("forwarded", v);
    }
    let _ = peers::forwarded_for(&headers);
});
