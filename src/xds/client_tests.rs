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
    let r = initial_request(AUTHORIZATION_TYPE, &Node::default(), &cache);
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
