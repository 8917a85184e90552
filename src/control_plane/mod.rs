//! The channel to istiod: the gRPC endpoint both control-plane clients (xDS in
//! [`crate::xds::client`], the CA in [`crate::certs::ca_client`]) dial, with its TLS roots,
//! keepalives and alternate host names ([`channel`]), and the credentials sent on it: the
//! bearer token and extra headers ([`auth`]).

pub mod auth;
pub mod channel;
