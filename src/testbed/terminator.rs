//! The HBONE terminator the waypoint and network-gateway doubles stand on: a listener with
//! our inbound's rustls configuration (peer certificate required, chained to the mesh root)
//! and our HBONE server, on a runtime of its own thread, so tests drive the doubles
//! synchronously. Each CONNECT goes to the double's handler with the peer identity its
//! certificate was verified for. Stops when dropped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::hbone::H2Settings;
use crate::hbone::server::{self, ConnectRequest};
use crate::identity::Identity;
use crate::tls::{self, WorkloadCertificate};

/// A running terminator.
pub struct Terminator {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Terminator {
    /// Listens on `addr` with `cert` and hands every accepted CONNECT to `handle`.
    pub fn start<H, F>(addr: SocketAddr, cert: &WorkloadCertificate, handle: H) -> io::Result<Terminator>
    where
        H: Fn(ConnectRequest, Option<Identity>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let config = tls::server_config(cert).map_err(|e| io::Error::other(e.to_string()))?;
        let trust_domain = cert.identity().trust_domain().to_string();
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else { return };
                let acceptor = TlsAcceptor::from(config);
                let (drain_tx, drain) = crate::drain::new();
                let accept = async {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else { continue };
                        let (acceptor, drain, td, handle) =
                            (acceptor.clone(), drain.clone(), trust_domain.clone(), handle.clone());
                        tokio::spawn(async move {
                            let Ok(tls_stream) = acceptor.accept(crate::hbone::transport(tcp)).await else { return };
                            let peer = tls::peer_identity(tls_stream.get_ref().1, &td);
                            let handler = move |req: ConnectRequest| handle(req, peer.clone());
                            let _ = server::serve(tls_stream, &H2Settings::default(), drain, handler).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
                drop(drain_tx);
            });
        });
        Ok(Terminator { addr, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
