use super::*;
use crate::xds::cache::Rejected;

#[test]
fn backoff_doubles_to_fifteen_seconds_and_resets() {
    let mut b = RECONNECT_BACKOFF.without_jitter();
    let seq: Vec<u128> = (0..13).map(|_| b.next_delay().as_millis()).collect();
    assert_eq!(&seq[..5], &[10, 20, 40, 80, 160]);
    assert_eq!(seq[11], 15_000);
    assert_eq!(seq[12], 15_000);
    b.reset();
    assert_eq!(b.next_delay(), Duration::from_millis(10));
}

#[test]
fn ack_and_nack() {
    let ack = reply(ADDRESS_TYPE, "7", &[]);
    assert_eq!(ack.response_nonce, "7");
    assert_eq!(ack.type_url, ADDRESS_TYPE);
    assert!(ack.error_detail.is_none());
    let nack = reply(ADDRESS_TYPE, "8", &[Rejected { name: "ns/bad".into(), reason: "boom".into() }]);
    let d = nack.error_detail.unwrap();
    assert_eq!(d.code, 3);
    assert_eq!(d.message, "ns/bad: boom");
}

#[test]
fn node_matches_upstream_shape() {
    let n = node(&NodeInfo {
        pod_name: "ztunnel-x".into(),
        pod_namespace: "istio-system".into(),
        node_name: Some("n1".into()),
        metadata: [("CLUSTER_ID".to_string(), "c1".to_string())].into(),
        ..Default::default()
    });
    assert_eq!(n.id, "ztunnel~1.1.1.1~ztunnel-x.istio-system~istio-system.svc.cluster.local");
    let f = n.metadata.unwrap().fields;
    for (k, v) in [
        ("NAME", "ztunnel-x"),
        ("NAMESPACE", "istio-system"),
        ("INSTANCE_IPS", "1.1.1.1"),
        ("NODE_NAME", "n1"),
        ("CLUSTER_ID", "c1"),
    ] {
        assert_eq!(f[k].kind, Some(Kind::StringValue(v.into())), "{k}");
    }
}

#[test]
fn initial_request_is_wildcard_with_known_versions() {
    let cache = XdsCache::new();
    let r = initial_request(AUTHORIZATION_TYPE, &Node::default(), &cache, None);
    assert!(r.resource_names_unsubscribe.is_empty());
    assert!(r.resource_names_subscribe.is_empty());
    assert!(r.response_nonce.is_empty());
    assert!(r.node.is_some());
    assert!(r.initial_resource_versions.is_empty());
}

/// A response over the limit is refused by tonic's decoder before it is buffered, and comes
/// out as its own error rather than a generic stream failure.
#[tokio::test]
async fn oversized_response_is_a_clear_error() {
    use tonic::codec::Codec;
    let limit = 64;
    // One gRPC frame: uncompressed flag, then a length over the limit (the body never comes).
    let mut frame = vec![0u8];
    frame.extend_from_slice(&1000u32.to_be_bytes());
    let body = http_body_util::Full::new(bytes::Bytes::from(frame));
    let decoder = tonic_prost::ProstCodec::<DeltaDiscoveryRequest, DeltaDiscoveryResponse>::default().decoder();
    let mut stream = tonic::codec::Streaming::new_response(decoder, body, http::StatusCode::OK, None, Some(limit));
    let status = stream.message().await.expect_err("over the limit");
    let err = stream_error(status);
    assert!(matches!(err, StreamError::TooLarge { limit: MAX_MESSAGE_BYTES, .. }), "{err}");
    assert!(err.to_string().contains("limit"), "{err}");
    // Anything else stays a plain stream error.
    assert!(matches!(stream_error(tonic::Status::unavailable("gone")), StreamError::Grpc(_)));
}

/// On demand, the Address stream starts with "subscribe to nothing" (`*` in and out, as
/// upstream) and, after a reconnect, lists every demanded name, held or known absent.
#[test]
fn on_demand_initial_request_subscribes_to_nothing_then_to_what_was_demanded() {
    let cache = XdsCache::new();
    let first = initial_request(ADDRESS_TYPE, &Node::default(), &cache, Some(&[]));
    assert_eq!(first.resource_names_subscribe, vec!["*"]);
    assert_eq!(first.resource_names_unsubscribe, vec!["*"]);
    assert!(first.initial_resource_versions.is_empty());
    assert!(first.node.is_some() && first.response_nonce.is_empty());

    let demanded = vec!["/10.0.0.1".to_string(), "default/echo.default.svc.cluster.local".to_string()];
    let again = initial_request(ADDRESS_TYPE, &Node::default(), &cache, Some(&demanded));
    assert_eq!(again.resource_names_subscribe, vec!["*"]);
    assert_eq!(again.resource_names_unsubscribe, vec!["*"]);
    let mut names: Vec<&String> = again.initial_resource_versions.keys().collect();
    names.sort();
    assert_eq!(names, vec!["/10.0.0.1", "default/echo.default.svc.cluster.local"]);
    assert!(again.initial_resource_versions.values().all(String::is_empty));
}

#[test]
fn demand_request_is_a_spontaneous_subscription() {
    let r = demand_request(vec!["/10.0.0.1".into()]);
    assert_eq!(r.type_url, ADDRESS_TYPE);
    assert_eq!(r.resource_names_subscribe, vec!["/10.0.0.1"]);
    assert!(r.resource_names_unsubscribe.is_empty());
    assert!(r.response_nonce.is_empty(), "istiod treats a request with a nonce as an ACK");
    assert!(r.node.is_none() && r.initial_resource_versions.is_empty());
}

/// istiod answers `network/IP` with the workload (named by uid) and lists the IP name in its
/// aliases; a name it does not know comes back removed.
#[test]
fn answered_names_include_aliases_and_removed() {
    use crate::proto::discovery::Resource;
    let resp = DeltaDiscoveryResponse {
        type_url: ADDRESS_TYPE.into(),
        resources: vec![Resource {
            name: "Kubernetes//Pod/default/server".into(),
            aliases: vec!["/127.105.0.2".into()],
            ..Default::default()
        }],
        removed_resources: vec!["/127.105.9.9".into()],
        ..Default::default()
    };
    let (present, removed) = answered_names(&resp);
    assert_eq!(present, vec!["Kubernetes//Pod/default/server", "/127.105.0.2"]);
    assert_eq!(removed, vec!["/127.105.9.9"]);
}
