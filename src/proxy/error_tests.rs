//! The proxy's one error mapping: who is to blame, the SOCKS5 reply, the HBONE status and the
//! `response_flags` label, per variant.

use std::io;
use std::net::SocketAddr;

use http::StatusCode;

use super::socks5::{Reply, Socks5Error, reply_for};
use super::{Blame, Error, inbound, route};
use crate::hbone::{self, DialError};
use crate::rbac::DenyReason;

fn dst() -> SocketAddr {
    "10.0.0.1:8080".parse().unwrap()
}

fn deny() -> DenyReason {
    DenyReason { policy: Some("ns/deny".into()), message: "explicitly denied by: ns/deny".into() }
}

#[test]
fn policy_denials_are_the_sources_and_flagged_deny() {
    for e in [Error::AuthorizationPolicyRejection(deny()), Error::AuthorizationPolicyRevoked(deny())] {
        assert_eq!(e.blame(), Blame::Source);
        assert_eq!(e.response_flag(), "DENY");
        assert_eq!(e.hbone_status(), StatusCode::UNAUTHORIZED);
        assert_eq!(reply_for(&e), Reply::NotAllowed);
    }
}

#[test]
fn refusals_keep_their_own_status_and_message() {
    let e = Error::ConnectRefused {
        authority: "10.0.0.9:80".into(),
        refusal: inbound::Refusal::BadAuthority("10.0.0.9:80".into()),
    };
    assert_eq!(e.blame(), Blame::Source);
    assert_eq!(e.hbone_status(), StatusCode::BAD_REQUEST);
    assert_eq!(e.response_flag(), "CONNECT");
    assert_eq!(reply_for(&e), Reply::NotAllowed);
    assert_eq!(e.to_string(), "refused: CONNECT 10.0.0.9:80: authority \"10.0.0.9:80\" is not an ip:port");
    let missing = Error::ConnectRefused {
        authority: "10.0.0.9:80".into(),
        refusal: inbound::Refusal::NoWorkload("no workload".into()),
    };
    assert_eq!(missing.hbone_status(), StatusCode::SERVICE_UNAVAILABLE);
    let own_port = Error::ConnectRefused {
        authority: "10.0.0.9:15008".into(),
        refusal: inbound::Refusal::SelfCall("10.0.0.9:15008".parse().unwrap()),
    };
    assert_eq!(own_port.response_flag(), "DENY");
    assert_eq!(own_port.hbone_status(), StatusCode::BAD_REQUEST);
    assert_eq!(Error::SelfCall("10.0.0.9:15006".parse().unwrap()).response_flag(), "DENY");
}

#[test]
fn destination_failures_are_refused_connections_and_503() {
    let tcp = Error::Connect { dst: dst(), source: io::Error::from(io::ErrorKind::ConnectionRefused) };
    let peer = Error::Hbone {
        dst: dst(),
        source: DialError::Handshake { dst: dst(), source: io::Error::other("bad certificate") }.into(),
    };
    for e in [tcp, peer] {
        assert_eq!(e.blame(), Blame::Destination);
        assert_eq!(reply_for(&e), Reply::ConnectionRefused);
        assert_eq!(e.hbone_status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let unroutable = Error::Route(route::RouteError::NoHealthyEndpoint { service: "ns/svc".into() });
    assert_eq!(unroutable.blame(), Blame::Destination);
    assert_eq!(reply_for(&unroutable), Reply::HostUnreachable);
}

#[test]
fn our_own_certificate_is_blamed_on_us_not_the_peer() {
    let no_cert = Error::Hbone {
        dst: dst(),
        source: hbone::Error::PoolConnect(std::sync::Arc::new(
            DialError::Certificate { identity: "spiffe://td/ns/a/sa/b".into(), reason: "CA down".into() }.into(),
        )),
    };
    assert_eq!(no_cert.blame(), Blame::Local);
    let unknown = Error::UnknownLocalWorkload("default/client".into());
    assert_eq!(unknown.blame(), Blame::ControlPlane);
    assert_eq!(reply_for(&unknown), Reply::GeneralFailure);
}

#[test]
fn socks5_errors_reply_what_the_handshake_decided() {
    let unknown = Error::from(Socks5Error::UnknownHost(super::socks5::Target::Host("nowhere".into(), 80)));
    assert_eq!(reply_for(&unknown), Reply::HostUnreachable);
    assert_eq!(unknown.blame(), Blame::Source);
    assert_eq!(unknown.to_string(), "SOCKS5: unknown host in Host(\"nowhere\", 80)");
    assert_eq!(reply_for(&Error::from(Socks5Error::HandshakeTimeout)), Reply::GeneralFailure);
}

/// On demand, istiod not answering in time fails the connection as the control plane's fault,
/// with the name and the bound in the message.
#[test]
fn an_unanswered_on_demand_request_is_the_control_planes_fault() {
    use crate::xds::demand::DemandError;
    let e = Error::from(DemandError::Timeout { name: "/10.0.0.9".into(), after: std::time::Duration::from_secs(5) });
    assert_eq!(e.blame(), Blame::ControlPlane);
    assert_eq!(e.response_flag(), "CONNECT");
    assert_eq!(e.hbone_status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply_for(&e), Reply::HostUnreachable);
    assert_eq!(e.to_string(), "on-demand xDS: istiod did not answer the request for \"/10.0.0.9\" within 5s");
}
