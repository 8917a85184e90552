//! The fake istiod's gRPC services and its TLS listener.

use std::collections::{BTreeMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{Shared, Snapshot};
use crate::proto::citadel::istio_certificate_service_server::{IstioCertificateService, IstioCertificateServiceServer};
use crate::proto::citadel::{IstioCertificateRequest, IstioCertificateResponse};
use crate::proto::discovery::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use crate::proto::discovery::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use crate::proto::{ADDRESS_TYPE, AUTHORIZATION_TYPE};
use crate::tls::certificate::parse_certs;
use crate::tls::provider;

/// A server-side TLS connection tonic can serve.
struct TlsIo(TlsStream<TcpStream>);

impl tonic::transport::server::Connected for TlsIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Closes every accepted socket when dropped, so stopping the fake istiod cuts live streams
/// the way a crashed istiod would (tonic keeps serving spawned connections otherwise).
struct Connections(std::sync::Mutex<Vec<OwnedFd>>);

impl Drop for Connections {
    fn drop(&mut self) {
        for fd in self.0.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = socket2::SockRef::from(&fd).shutdown(std::net::Shutdown::Both);
        }
    }
}

pub(super) async fn serve(
    listener: TcpListener,
    cert_pem: String,
    key_pem: String,
    shared: Arc<Shared>,
) -> Result<(), String> {
    let certs = parse_certs(&cert_pem, "server certificate").map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut cfg = ServerConfig::builder_with_provider(provider::get())
        .with_protocol_versions(provider::PROTOCOL_VERSIONS)
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(cfg));
    let conns = Arc::new(Connections(Default::default()));
    let (tx, rx) = mpsc::channel::<Result<TlsIo, std::io::Error>>(16);
    let accept = {
        let conns = conns.clone();
        async move {
            loop {
                let (tcp, peer) = crate::socket::accept(&listener, "fake_istiod").await;
                if let Ok(fd) = tcp.as_fd().try_clone_to_owned() {
                    crate::util::sync::lock(&conns.0).push(fd);
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send(Ok(TlsIo(tls))).await;
                        }
                        Ok(Err(e)) => tracing::warn!(%peer, "fake istiod: TLS handshake failed: {e}"),
                        Err(_) => tracing::warn!(%peer, "fake istiod: TLS handshake timed out"),
                    }
                });
            }
        }
    };
    let server = tonic::transport::Server::builder()
        .add_service(AggregatedDiscoveryServiceServer::new(Ads(shared.clone())).max_decoding_message_size(usize::MAX))
        .add_service(IstioCertificateServiceServer::new(Ca(shared)))
        .serve_with_incoming(ReceiverStream::new(rx));
    let _keep = conns;
    tokio::select! {
        _ = accept => Ok(()),
        r = server => r.map_err(|e| e.to_string()),
    }
}

fn check_token(shared: &Shared, md: &tonic::metadata::MetadataMap) -> Result<(), Status> {
    let got = md.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    shared.observe(|o| o.authorization.push(got.clone()));
    match &shared.expect_token {
        Some(t) if got != format!("Bearer {t}") => Err(Status::unauthenticated("missing or wrong bearer token")),
        _ => Ok(()),
    }
}

struct Ads(Arc<Shared>);

type BoxStream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream = BoxStream<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = BoxStream<DeltaDiscoveryResponse>;

    async fn stream_aggregated_resources(
        &self,
        _req: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        // Like istiod for ztunnel's types: only delta is served.
        Err(Status::unimplemented("state-of-the-world ADS is not served; use DeltaAggregatedResources"))
    }

    async fn delta_aggregated_resources(
        &self,
        req: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        check_token(&self.0, req.metadata())?;
        let shared = self.0.clone();
        shared.observe(|o| o.streams += 1);
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(delta_stream(shared, req.into_inner(), tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// What this stream's client has: type URL → name → version.
type Sent = BTreeMap<String, BTreeMap<String, String>>;

fn diff(
    shared: &Shared,
    snap: &Snapshot,
    type_url: &str,
    sent: &mut BTreeMap<String, String>,
) -> DeltaDiscoveryResponse {
    let empty = BTreeMap::new();
    let current = snap.get(type_url).unwrap_or(&empty);
    let mut resources = Vec::new();
    for (name, s) in current {
        if sent.get(name) != Some(&s.version) {
            resources.push(Resource {
                name: name.clone(),
                version: s.version.clone(),
                resource: Some(prost_types::Any { type_url: type_url.to_string(), value: s.body.clone() }),
                ..Default::default()
            });
            sent.insert(name.clone(), s.version.clone());
        }
    }
    let removed: Vec<String> = sent.keys().filter(|n| !current.contains_key(*n)).cloned().collect();
    for n in &removed {
        sent.remove(n);
    }
    DeltaDiscoveryResponse {
        system_version_info: String::new(),
        resources,
        type_url: type_url.to_string(),
        removed_resources: removed,
        nonce: shared.next_nonce(),
    }
}

async fn delta_stream(
    shared: Arc<Shared>,
    mut incoming: Streaming<DeltaDiscoveryRequest>,
    tx: mpsc::Sender<Result<DeltaDiscoveryResponse, Status>>,
) {
    let mut snapshots = shared.snapshot.subscribe();
    let mut sent = Sent::new();
    let mut subscribed: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            req = incoming.message() => {
                let req = match req {
                    Ok(Some(r)) => r,
                    _ => return,
                };
                if ![ADDRESS_TYPE, AUTHORIZATION_TYPE].contains(&req.type_url.as_str()) {
                    tracing::warn!(type_url = %req.type_url, "fake istiod: request for an unknown type");
                    continue;
                }
                if req.response_nonce.is_empty() {
                    // A (re)subscription: the client tells us what it already has.
                    if req.type_url == ADDRESS_TYPE {
                        let n = req.initial_resource_versions.len();
                        let id = req.node.as_ref().map(|n| n.id.clone()).unwrap_or_default();
                        shared.observe(|o| { o.initial_versions.push(n); o.node_ids.push(id); });
                    }
                    let have: BTreeMap<String, String> = req.initial_resource_versions.into_iter().collect();
                    let entry = sent.entry(req.type_url.clone()).or_default();
                    *entry = have;
                    subscribed.insert(req.type_url.clone());
                    let snap = snapshots.borrow_and_update().clone();
                    // istiod always answers a subscription, even with nothing, so the client
                    // knows it is in sync.
                    let resp = diff(&shared, &snap, &req.type_url, entry);
                    if tx.send(Ok(resp)).await.is_err() { return; }
                } else if let Some(err) = req.error_detail {
                    tracing::warn!(nonce = %req.response_nonce, "fake istiod: NACK: {}", err.message);
                    shared.observe(|o| o.nacks.push(err.message.clone()));
                } else {
                    shared.observe(|o| o.acks += 1);
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() { return; }
                let snap = snapshots.borrow_and_update().clone();
                for t in [ADDRESS_TYPE, AUTHORIZATION_TYPE] {
                    if !subscribed.contains(t) { continue; }
                    let resp = diff(&shared, &snap, t, sent.entry(t.to_string()).or_default());
                    if resp.resources.is_empty() && resp.removed_resources.is_empty() { continue; }
                    if tx.send(Ok(resp)).await.is_err() { return; }
                }
            }
        }
    }
}

struct Ca(Arc<Shared>);

#[tonic::async_trait]
impl IstioCertificateService for Ca {
    async fn create_certificate(
        &self,
        req: Request<IstioCertificateRequest>,
    ) -> Result<Response<IstioCertificateResponse>, Status> {
        check_token(&self.0, req.metadata())?;
        if !self.0.ca_up.load(std::sync::atomic::Ordering::SeqCst) {
            self.0.observe(|o| o.ca_rejections += 1);
            return Err(Status::unavailable("CA is down (fake istiod test hook)"));
        }
        let req = req.into_inner();
        if req.validity_duration <= 0 {
            return Err(Status::invalid_argument("validity_duration must be positive"));
        }
        let chain = self
            .0
            .ca
            .sign_csr(&req.csr, Duration::from_secs(req.validity_duration as u64))
            .map_err(|e| Status::invalid_argument(format!("cannot sign CSR: {e}")))?;
        self.0.observe(|o| o.certificates_signed += 1);
        Ok(Response::new(IstioCertificateResponse { cert_chain: chain }))
    }
}
