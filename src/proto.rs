//! Generated protobuf types (from `proto/`, see `build.rs`). Only the edges touch these: the
//! xDS client and its converter ([`crate::xds`]), the CA client ([`crate::certs::ca_client`]),
//! the ZDS client ([`crate::inpod`]) and the test bed. They are converted to domain types at
//! the boundary ([`crate::xds::convert`]).

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
