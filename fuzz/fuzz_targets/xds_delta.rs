//! A delta ADS response as the xDS client hands it to its cache (src/xds/cache.rs
//! `XdsCache::apply`, then `build`). Input: length-prefixed `DeltaDiscoveryResponse`s, applied
//! in order to one cache.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use ztunnel::proto::discovery::DeltaDiscoveryResponse;
use ztunnel::proto::{ADDRESS_TYPE, AUTHORIZATION_TYPE};
use ztunnel::xds::cache::XdsCache;

fuzz_target!(|data: &[u8]| {
    let mut cache = XdsCache::new();
    for frame in common::frames(data) {
        let Ok(mut resp) = DeltaDiscoveryResponse::decode(frame) else { continue };
        // Spelling out the two type URLs is not what the fuzzer should spend its time on:
        // "" and "p" stand for them, and a body without a type URL gets the response's.
        let type_url = match resp.type_url.as_str() {
            "" => ADDRESS_TYPE.to_string(),
            "p" => AUTHORIZATION_TYPE.to_string(),
            other => other.to_string(),
        };
        for r in &mut resp.resources {
            if let Some(any) = &mut r.resource
                && any.type_url.is_empty()
            {
                any.type_url = type_url.clone();
            }
        }
        let n = resp.resources.len();
        let out = cache.apply(&type_url, resp.resources.clone(), &resp.removed_resources);
        assert_eq!(out.applied + out.rejected.len(), n);
        let state = cache.snapshot();
        // Applying the same response again changes nothing.
        let again = cache.apply(&type_url, resp.resources, &[]);
        assert_eq!(again.applied, out.applied);
        let state2 = cache.snapshot();
        assert_eq!(state.workload_count(), state2.workload_count());
        assert_eq!(state.service_count(), state2.service_count());
        assert_eq!(state.policy_count(), state2.policy_count());
    }
});
