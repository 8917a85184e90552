//! SOCKS5 greeting and request (src/proxy/socks5.rs `read_request`), as a client on
//! 127.0.0.1:15080 sends them.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use ztunnel::proxy::socks5::{Target, read_request};

fuzz_target!(|data: &[u8]| {
    let mut io = common::MemIo::new(data.to_vec(), 0);
    match common::ready(read_request(&mut io)) {
        // One length byte bounds a hostname.
        Ok(Target::Host(name, _)) => assert!(name.len() <= 255),
        Ok(Target::Addr(_)) => {}
        Err(e) => drop(e.to_string()),
    }
    // Only the method selection is written before a request is parsed: one 2-byte reply.
    assert!(io.written <= 2, "wrote {} bytes", io.written);
});
