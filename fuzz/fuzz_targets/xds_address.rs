//! An istiod `Address` resource (workload or service): prost decode, then conversion to the
//! domain types (src/xds/convert.rs `address`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use ztunnel::proto::workload::Address;
use ztunnel::xds::convert::{self, AddressResource};

fuzz_target!(|data: &[u8]| {
    let Ok(a) = Address::decode(data) else { return };
    match convert::address(a) {
        Ok(AddressResource::Workload(w, _)) => assert!(!w.uid.is_empty()),
        Ok(AddressResource::Service(_)) => {}
        Err(e) => drop(e.to_string()),
    }
});
