//! An istiod `Authorization` resource: prost decode, then conversion to the RBAC types
//! (src/xds/convert.rs `authorization`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use ztunnel::proto::security::Authorization;
use ztunnel::xds::convert;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Authorization::decode(data) else { return };
    if let Err(e) = convert::authorization(p) {
        drop(e.to_string());
    }
});
