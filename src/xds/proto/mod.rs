//! Generated protobuf types (from `proto/`, see `build.rs`). Nothing outside [`crate::xds`],
//! [`crate::identity::ca_client`] and [`crate::testbed`] should touch these: they are converted
//! to domain types at the boundary ([`super::convert`]).

#![allow(clippy::all, missing_docs, rustdoc::all)]

pub mod workload {
    tonic::include_proto!("istio.workload");
}

pub mod security {
    tonic::include_proto!("istio.security");
}

pub mod citadel {
    tonic::include_proto!("istio.v1.auth");
}

pub mod discovery {
    tonic::include_proto!("envoy.service.discovery.v3");
}

pub mod zds {
    tonic::include_proto!("istio.workload.zds");
}

/// Type URLs of the two resource types ztunnel subscribes to.
pub const ADDRESS_TYPE: &str = "type.googleapis.com/istio.workload.Address";
pub const AUTHORIZATION_TYPE: &str = "type.googleapis.com/istio.security.Authorization";
