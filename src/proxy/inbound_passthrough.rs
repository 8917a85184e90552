//! Inbound plaintext (15006): a captured connection that arrived without HBONE (from outside
//! the mesh) is delivered to the local workload it was addressed to, if authorization policy
//! allows it. There is no peer identity on this path, so only address and port rules (and
//! identity-free negations) can allow it. A denied connection is closed before the workload is
//! dialled; an allowed one stays in the connection registry while open.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use super::addr::DestinationAddr;
use crate::drain::DrainWatcher;
use crate::proxy::access::{ConnectionLog, Direction};
use crate::proxy::authz::{self, InboundConn};
use crate::proxy::{Error, ProxyInputs, copy};
use crate::{redirect, socket};

pub async fn serve(listener: TcpListener, inputs: Arc<ProxyInputs>, drain: DrainWatcher) {
    crate::proxy::accept_loop(listener, "inbound_plaintext", drain, move |stream, peer, drain| {
        let inputs = inputs.clone();
        async move {
            let mut log = ConnectionLog::new(Direction::Inbound, super::SourceAddr::new(peer), &inputs.metrics);
            let result = proxy(&inputs, stream, peer, &mut log).await;
            log.finish(result);
            drop(drain);
        }
    })
    .await
}

async fn proxy(
    inputs: &ProxyInputs,
    mut client: TcpStream,
    peer: SocketAddr,
    log: &mut ConnectionLog,
) -> Result<copy::Transferred, Error> {
    let dst = redirect::original_dst(&client).map(crate::util::net::canonical).map_err(Error::NoOriginalDst)?;
    log.dst_addr = Some(dst);
    if inputs.is_inbound_self_call(DestinationAddr::new(dst)) {
        return Err(Error::SelfCall(dst));
    }
    let workload = inputs.local_workload().await?;
    if !workload.workload_ips.contains(&dst.ip()) {
        return Err(Error::NotLocalAddress {
            ip: dst.ip(),
            namespace: workload.namespace.to_string(),
            name: workload.name.to_string(),
        });
    }
    log.dst = crate::proxy::access::LoggedPeer::workload(&workload, true);
    log.destination_workload(&workload);
    // On demand, fetched for the labels only (see inbound): a failure is not fatal.
    if let Err(e) = inputs.ensure_address(&inputs.cfg.network, peer.ip()).await {
        tracing::debug!(%peer, "source workload unknown: {e}");
    }
    // The peer reached us directly: an address on our own network.
    if let Some(src) = inputs.state.snapshot().workload_by_ip(&inputs.cfg.network, peer.ip()) {
        log.source_workload(&src);
    }
    log.opened();
    let facts = Arc::new(InboundConn::new(peer, None, dst, workload));
    let mut registration = inputs.connections.register(facts.clone());
    if let Err(reason) = authz::authorize(&inputs.state.snapshot(), &facts, inputs.cfg.authz_info_logging) {
        // Returning drops `client`: closed without a byte read or forwarded.
        return Err(Error::AuthorizationPolicyRejection(reason));
    }
    let mut opts = inputs.cfg.socket.clone();
    if inputs.cfg.orig_src {
        opts.transparent_source = Some(peer.ip());
    }
    let mut upstream = socket::connect(dst, &opts, inputs.cfg.connect_timeout)
        .await
        .map_err(|source| Error::Connect { dst, source })?;
    tokio::select! {
        copied = copy::tcp(&mut client, &mut upstream) => Ok(copied?),
        reason = registration.revoked() => {
            Err(Error::AuthorizationPolicyRevoked(reason))
        }
    }
}
