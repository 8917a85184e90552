//! Real TLS handshakes between our client and server configurations (tokio-rustls over
//! in-memory pipes and loopback TCP).

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::{ClientConfig, HandshakeKind, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;
use crate::certs::dev_ca::DevCa;

const ALLOWED_SUITES: [&str; 2] = ["TLS13_AES_256_GCM_SHA384", "TLS13_AES_128_GCM_SHA256"];

fn id(td: &str, sa: &str) -> Identity {
    Identity::new(td, "default", sa)
}

fn cert(ca: &DevCa, id: &Identity) -> WorkloadCertificate {
    ca.issue(id, Duration::from_secs(3600)).unwrap()
}

/// What each side saw.
struct Outcome {
    client: io::Result<(ConnectionInfo, Option<HandshakeKind>)>,
    server: io::Result<ConnectionInfo>,
}

async fn client_side<S: AsyncRead + AsyncWrite + Unpin>(
    config: Arc<ClientConfig>,
    io: S,
) -> io::Result<(ConnectionInfo, Option<HandshakeKind>)> {
    // The name is a placeholder; our verifier must ignore it.
    let name = ServerName::try_from("0.0.0.0").unwrap();
    let mut tls = TlsConnector::from(config).connect(name, io).await?;
    // In TLS 1.3 the client finishes before the server has checked the client certificate,
    // so only a round trip proves the server accepted us.
    tls.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"pong");
    let conn = tls.get_ref().1;
    Ok((connection_info(conn), conn.handshake_kind()))
}

async fn server_side<S: AsyncRead + AsyncWrite + Unpin>(
    config: Arc<ServerConfig>,
    io: S,
) -> io::Result<ConnectionInfo> {
    let mut tls = TlsAcceptor::from(config).accept(io).await?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    tls.write_all(b"pong").await?;
    tls.flush().await?;
    Ok(connection_info(tls.get_ref().1))
}

async fn handshake(client: Arc<ClientConfig>, server: Arc<ServerConfig>) -> Outcome {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let (client, server) = tokio::join!(client_side(client, c), server_side(server, s));
    Outcome { client, server }
}

/// Both dev CAs carry the same subject name, so webpki reports the foreign chain as a bad
/// signature under the same-named anchor rather than as an unknown issuer.
fn assert_untrusted(err: &str) {
    assert!(err.contains("UnknownIssuer") || err.contains("BadSignature"), "{err}");
}

fn err_text<T>(r: &io::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected a failure"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn mutual_tls_between_workloads_of_one_ca() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let (a, b) = (id("cluster.local", "a"), id("cluster.local", "b"));
    let client = client_config(&cert(&ca, &a), std::slice::from_ref(&b)).unwrap();
    let server = server_config(&cert(&ca, &b)).unwrap();

    let out = handshake(client, server).await;
    let (client_info, kind) = out.client.unwrap();
    let server_info = out.server.unwrap();
    for info in [&client_info, &server_info] {
        assert_eq!(info.version, "TLSv1_3");
        assert_eq!(info.alpn.as_deref(), Some("h2"));
        assert!(ALLOWED_SUITES.contains(&info.cipher_suite.as_str()), "{info:?}");
        // Both ends are ours, so the first (preferred) group wins without a retry.
        assert_eq!(info.kx_group, "secp256r1");
    }
    assert_eq!(client_info.peer_identity, Some(b.to_string()));
    assert_eq!(server_info.peer_identity, Some(a.to_string()));
    assert_eq!(kind, Some(HandshakeKind::Full));
}

/// istiod's default root and upstream's FAKE_CA root are RSA; plugged-in roots may be P-384.
#[tokio::test]
async fn mutual_tls_under_rsa_and_p384_roots() {
    let fixture = |name: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/certs/testdata");
        std::fs::read_to_string(dir.join(name)).unwrap()
    };
    let cas = [
        DevCa::built_in().unwrap(),
        DevCa::from_pem(&fixture("rsa4096-cert.pem"), &fixture("rsa4096-key.pem")).unwrap(),
        DevCa::from_pem(&fixture("p384-cert.pem"), &fixture("p384-key.pem")).unwrap(),
        // Made as upstream ztunnel's FAKE_CA root is: RSA 2048, PKCS#8, no keyUsage.
        DevCa::from_pem(&fixture("upstream-style-cert.pem"), &fixture("upstream-style-key.pem")).unwrap(),
    ];
    for ca in &cas {
        let (a, b) = (id("cluster.local", "a"), id("cluster.local", "b"));
        let client = client_config(&cert(ca, &a), std::slice::from_ref(&b)).unwrap();
        let server = server_config(&cert(ca, &b)).unwrap();
        let out = handshake(client, server).await;
        assert_eq!(out.client.unwrap().0.peer_identity, Some(b.to_string()));
        assert_eq!(out.server.unwrap().peer_identity, Some(a.to_string()));
    }
}

#[tokio::test]
async fn mutual_tls_over_loopback_tcp_without_resumption() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let (a, b) = (id("cluster.local", "a"), id("cluster.local", "b"));
    let client = client_config(&cert(&ca, &a), std::slice::from_ref(&b)).unwrap();
    let server = server_config(&cert(&ca, &b)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let mut infos = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            infos.push(server_side(server.clone(), tcp).await.unwrap());
        }
        infos
    });
    for _ in 0..2 {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (info, kind) = client_side(client.clone(), tcp).await.unwrap();
        assert_eq!(info.peer_identity, Some(b.to_string()));
        // Resumption is disabled: the second connection is a full handshake too.
        assert_eq!(kind, Some(HandshakeKind::Full));
    }
    let infos = accept.await.unwrap();
    assert!(infos.iter().all(|i| i.peer_identity == Some(a.to_string())));
}

#[tokio::test]
async fn client_refuses_unexpected_server_identity() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let client = client_config(
        &cert(&ca, &id("cluster.local", "a")),
        &[id("cluster.local", "expected"), id("other.domain", "b")],
    )
    .unwrap();
    let server = server_config(&cert(&ca, &id("cluster.local", "b"))).unwrap();
    let out = handshake(client, server).await;
    let err = err_text(&out.client);
    assert!(err.contains("do not match any expected identity"), "{err}");
    assert!(err.contains("spiffe://cluster.local/ns/default/sa/b"), "{err}");
    assert!(out.server.is_err());
}

#[tokio::test]
async fn server_refuses_client_from_another_ca() {
    let ours = DevCa::generate("cluster.local").unwrap();
    let theirs = DevCa::generate("cluster.local").unwrap();
    let b = id("cluster.local", "b");
    // The client trusts both roots so that only the server's check can fail: the client leaf
    // does not chain to the server's roots.
    let issued = cert(&theirs, &id("cluster.local", "a"));
    let client_cert = WorkloadCertificate::new(
        issued.chain().to_vec(),
        issued.private_key(),
        vec![root_der(&theirs), root_der(&ours)],
    )
    .unwrap();
    let client = client_config(&client_cert, std::slice::from_ref(&b)).unwrap();
    let server = server_config(&cert(&ours, &b)).unwrap();
    let out = handshake(client, server).await;
    let err = err_text(&out.server);
    assert_untrusted(&err);
    assert!(out.client.is_err());
}

fn root_der(ca: &DevCa) -> rustls_pki_types::CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(ca.root_pem().as_bytes()).unwrap()
}

#[tokio::test]
async fn client_refuses_server_from_another_ca() {
    let ours = DevCa::generate("cluster.local").unwrap();
    let theirs = DevCa::generate("cluster.local").unwrap();
    let b = id("cluster.local", "b");
    let client = client_config(&cert(&ours, &id("cluster.local", "a")), std::slice::from_ref(&b)).unwrap();
    let server = server_config(&cert(&theirs, &b)).unwrap();
    let out = handshake(client, server).await;
    let err = err_text(&out.client);
    assert_untrusted(&err);
    assert!(out.server.is_err());
}

#[tokio::test]
async fn server_refuses_client_from_another_trust_domain() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let b = id("cluster.local", "b");
    let client = client_config(&cert(&ca, &id("evil.domain", "a")), std::slice::from_ref(&b)).unwrap();
    let server = server_config(&cert(&ca, &b)).unwrap();
    let out = handshake(client, server).await;
    let err = err_text(&out.server);
    assert!(err.contains("not in trust domain \"cluster.local\""), "{err}");
    assert!(out.client.is_err());
}

#[tokio::test]
async fn server_refuses_client_without_certificate() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let b = id("cluster.local", "b");
    let server_cert = cert(&ca, &b);
    let provider = provider::get();
    let verifier = verifier::IdentityVerifier::new(
        root_store(server_cert.roots()).unwrap(),
        vec![b.clone()],
        provider.signature_verification_algorithms,
    );
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(provider::PROTOCOL_VERSIONS)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h2".to_vec()];
    let server = server_config(&server_cert).unwrap();
    let out = handshake(Arc::new(client), server).await;
    let err = err_text(&out.server);
    assert!(err.contains("no certificates"), "{err}");
    assert!(out.client.is_err());
}

#[tokio::test]
async fn expired_certificates_are_refused_both_ways() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let (a, b) = (id("cluster.local", "a"), id("cluster.local", "b"));
    let now = SystemTime::now();
    let expired = |who: &Identity| {
        ca.issue_with_validity(who, now - Duration::from_secs(7200), now - Duration::from_secs(3600)).unwrap()
    };

    // Expired server certificate: the client refuses.
    let client = client_config(&cert(&ca, &a), std::slice::from_ref(&b)).unwrap();
    let server = server_config(&expired(&b)).unwrap();
    let out = handshake(client, server).await;
    let err = err_text(&out.client);
    assert!(err.contains("certificate expired"), "{err}");

    // Expired client certificate: the server refuses.
    let client = client_config(&expired(&a), std::slice::from_ref(&b)).unwrap();
    let server = server_config(&cert(&ca, &b)).unwrap();
    let out = handshake(client, server).await;
    let err = err_text(&out.server);
    assert!(err.contains("certificate expired"), "{err}");
}

#[test]
fn empty_expected_identities_fail_closed() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let c = cert(&ca, &id("cluster.local", "a"));
    assert!(matches!(client_config(&c, &[]), Err(Error::NoExpectedIdentities)));

    // The verifier itself also refuses when constructed with nothing to match.
    use rustls::client::danger::ServerCertVerifier;
    let verifier = verifier::IdentityVerifier::new(
        root_store(c.roots()).unwrap(),
        Vec::new(),
        provider::get().signature_verification_algorithms,
    );
    let result = verifier.verify_server_cert(
        &c.chain()[0],
        &[],
        &ServerName::try_from("0.0.0.0").unwrap(),
        &[],
        rustls_pki_types::UnixTime::now(),
    );
    assert!(result.is_err());
}

#[test]
fn san_identities_reads_all_spiffe_uris() {
    use crate::tls::provider::Validity;
    let now = SystemTime::now();
    let validity = Validity { not_before: now, not_after: now + Duration::from_secs(60) };
    let ca = provider::generate_ca("cluster.local", validity).unwrap();
    let uris = [
        "https://example.com/not-spiffe".to_string(),
        "spiffe://td1/ns/a/sa/x".to_string(),
        "spiffe://td2/ns/b/sa/y".to_string(),
    ];
    let leaf = provider::issue_leaf(&ca, &uris, validity).unwrap();
    assert_eq!(san_identities(&leaf.cert), vec![id_ns("td1", "a", "x"), id_ns("td2", "b", "y")]);
    // The certificate's identity is the first parseable one.
    let wc = WorkloadCertificate::new(vec![leaf.cert], rustls_pki_types::PrivateKeyDer::Pkcs8(leaf.key), vec![ca.cert])
        .unwrap();
    assert_eq!(wc.identity(), &id_ns("td1", "a", "x"));
}

fn id_ns(td: &str, ns: &str, sa: &str) -> Identity {
    Identity::new(td, ns, sa)
}

/// A client certificate carrying a foreign-trust-domain SAN first and one of ours second: the
/// verifier admits it on the second, so that is the identity RBAC must see, not the first
/// (whose namespace and service account could match policy written for our own workloads).
#[tokio::test]
async fn inbound_identity_is_the_san_the_verifier_admitted() {
    use crate::tls::provider::Validity;
    let now = SystemTime::now();
    let validity = Validity { not_before: now - Duration::from_secs(60), not_after: now + Duration::from_secs(3600) };
    let ca = provider::generate_ca("cluster.local", validity).unwrap();
    let workload = |uris: &[String]| {
        let leaf = provider::issue_leaf(&ca, uris, validity).unwrap();
        WorkloadCertificate::new(
            vec![leaf.cert],
            rustls_pki_types::PrivateKeyDer::Pkcs8(leaf.key),
            vec![ca.cert.clone()],
        )
        .unwrap()
    };
    let (ours, foreign) = (id_ns("cluster.local", "default", "a"), id_ns("evil.example", "kube-system", "admin"));
    let client_cert = workload(&[foreign.to_string(), ours.to_string()]);
    let server_id = id("cluster.local", "b");
    let server_cert = workload(&[server_id.to_string()]);
    let client = client_config(&client_cert, std::slice::from_ref(&server_id)).unwrap();
    let server = server_config(&server_cert).unwrap();

    let (c, s) = tokio::io::duplex(64 * 1024);
    let serve = async move {
        let mut tls = TlsAcceptor::from(server).accept(s).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        tls.write_all(b"pong").await?;
        tls.flush().await?;
        io::Result::Ok(peer_identity(tls.get_ref().1, server_id.trust_domain()))
    };
    let (client_out, seen) = tokio::join!(client_side(client, c), serve);
    client_out.expect("admitted on its cluster.local SAN");
    assert_eq!(seen.unwrap(), Some(ours.clone()), "RBAC must see the SAN that passed verification");

    // The same rule, without a handshake; and no SAN of ours means no identity (and no entry).
    let sans = [foreign.clone(), ours.clone()];
    assert_eq!(select_peer_identity(&sans, "cluster.local"), Some(&ours));
    assert_eq!(select_peer_identity(&sans[..1], "cluster.local"), None);
}

#[tokio::test]
async fn accepted_chains_are_remembered_and_still_verified_each_time() {
    let ca = DevCa::generate("cluster.local").unwrap();
    let (a, b) = (id("cluster.local", "a"), id("cluster.local", "b"));
    let client_cert = cert(&ca, &a);
    let memo = Arc::new(verifier::VerifiedChains::default());
    let server = server_config_with_memo(&cert(&ca, &b), &crl::CrlSet::default(), memo.clone()).unwrap();
    let client = client_config(&client_cert, std::slice::from_ref(&b)).unwrap();

    for round in 0..2 {
        let out = handshake(client.clone(), server.clone()).await;
        out.client.unwrap_or_else(|e| panic!("round {round}: {e}"));
        out.server.unwrap_or_else(|e| panic!("round {round}: {e}"));
        let leaf = client_cert.chain()[0].as_ref();
        assert_eq!(memo.identities(leaf).as_deref(), Some(&[a.clone()][..]), "round {round}");
    }

    // A client of another CA is refused, every time, and never remembered.
    let other_ca = DevCa::generate("cluster.local").unwrap();
    let stranger = cert(&other_ca, &a);
    let client = client_config(&stranger, std::slice::from_ref(&b)).unwrap();
    for _ in 0..2 {
        let out = handshake(client.clone(), server.clone()).await;
        assert!(out.server.is_err());
    }
    assert!(memo.identities(stranger.chain()[0].as_ref()).is_none());
    // Nor is a client of our CA outside our trust domain.
    let foreign = cert(&ca, &id("evil.example", "a"));
    let out = handshake(client_config(&foreign, std::slice::from_ref(&b)).unwrap(), server.clone()).await;
    assert!(out.server.is_err());
    assert!(memo.identities(foreign.chain()[0].as_ref()).is_none());
}
