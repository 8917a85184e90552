//! The DNS proxy on 15053 (UDP and TCP), bound inside each pod in in-pod mode and once, for
//! the one workload, in dedicated mode.
//!
//! Messages are parsed and built with hickory-proto. Names of mesh services (see
//! [`super::lookup`]) are answered from the state (TTL 30 s, A or AAAA by family); anything
//! else is forwarded unchanged to the upstream resolvers (ztunnel's `/etc/resolv.conf`), from
//! the pod's namespace with PACKET_MARK so the pod's rules do not capture it again. Answers
//! too large for the client's UDP limit (512 bytes, or its EDNS payload size) are truncated
//! (TC bit) so it retries over TCP.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::lookup;
use super::metrics::{DnsLabels, DnsMetrics};
use crate::drain::DrainWatcher;
use crate::socket::{self, SocketOptions};
use crate::state::StateStore;

/// Upstream's TTL for answers from the mesh state.
pub const TTL: u32 = 30;
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a dedicated proxy's query waits for its workload to be in the state.
pub const WORKLOAD_WAIT: Duration = Duration::from_secs(5);
const UDP_DEFAULT_MAX: usize = 512;
/// Queries one pod's DNS proxy forwards at once (UDP and TCP together). Each holds a task and
/// a 64 KiB receive buffer for up to 5 s per upstream, and one node proxy serves every pod:
/// without a bound one pod could make it allocate without limit. Queries to forward beyond it
/// are answered REFUSED at once (cheap: a 12-byte header), as a busy resolver does. Names
/// answered from the mesh state take no slot, so a flood of forwarded queries cannot get them
/// refused (`tests/adversarial_dns.rs`).
pub const MAX_IN_FLIGHT: usize = 128;

/// One pod's (or the dedicated workload's) DNS proxy.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The client's namespace (for short names) and workload name (metrics labels).
    pub namespace: String,
    pub workload: String,
    /// The search domains the client's resolver appends (stripped to recover short names):
    /// the Kubernetes defaults for the pod's namespace in in-pod mode, ztunnel's own
    /// resolv.conf `search` list in dedicated mode (it shares the workload's), as upstream.
    pub search: Vec<String>,
    /// Dedicated mode: while the workload is not in the state a query waits for it (up to
    /// [`WORKLOAD_WAIT`]) and then gets SERVFAIL, as upstream answers an unknown client,
    /// rather than guess whose names to answer.
    pub require_workload: bool,
    /// CLUSTER_DOMAIN.
    pub domain: String,
    /// NETWORK: the pod's network when its workload names none. Only VIPs on the client's
    /// network are answered (addresses on another network mean nothing to it).
    pub network: String,
    /// Where unknown names go.
    pub upstreams: Vec<SocketAddr>,
    /// How forwarding sockets are made (pod namespace, mark).
    pub socket: SocketOptions,
}

/// The `search` list of a resolv.conf body (the last `search` or `domain` line wins, as the
/// C library reads it), lower-case and without trailing dots.
pub fn parse_resolv_conf_search(text: &str) -> Vec<String> {
    let mut search = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if matches!(w.next(), Some("search" | "domain")) {
            search = w.map(|d| d.trim_end_matches('.').to_ascii_lowercase()).filter(|d| !d.is_empty()).collect();
        }
    }
    search
}

/// Reads `nameserver` lines from a resolv.conf body (port 53).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        // Zone ids (`fe80::1%eth0`) are not supported by IpAddr; skip such entries.
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

pub struct DnsServer {
    cfg: DnsConfig,
    state: StateStore,
    metrics: Arc<DnsMetrics>,
    in_flight: Arc<Semaphore>,
}

impl DnsServer {
    pub fn new(cfg: DnsConfig, state: StateStore, metrics: Arc<DnsMetrics>) -> Arc<DnsServer> {
        Self::with_max_in_flight(cfg, state, metrics, MAX_IN_FLIGHT)
    }

    /// [`DnsServer::new`] with another bound on queries in flight.
    pub fn with_max_in_flight(
        cfg: DnsConfig,
        state: StateStore,
        metrics: Arc<DnsMetrics>,
        max: usize,
    ) -> Arc<DnsServer> {
        Arc::new(DnsServer { cfg, state, metrics, in_flight: Arc::new(Semaphore::new(max)) })
    }

    /// A slot for one forwarded query, or `None` (counted) when [`MAX_IN_FLIGHT`] are out.
    fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.in_flight.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.metrics.refused.inc();
        }
        permit
    }

    fn has_workload(&self, state: &crate::state::ProxyState) -> bool {
        state.workload_by_name(&self.cfg.namespace, &self.cfg.workload).is_some()
    }

    /// Upstream waits this long for an unknown client to appear in the state (an xDS update
    /// replacing it) before answering SERVFAIL.
    async fn wait_for_workload(&self) -> Option<Arc<crate::state::ProxyState>> {
        // Subscribed before the check, so an update between the two is not missed.
        let mut versions = self.state.subscribe();
        let wait = async {
            loop {
                let state = self.state.snapshot();
                if self.has_workload(&state) {
                    return Some(state);
                }
                versions.changed().await.ok()?;
            }
        };
        tokio::time::timeout(WORKLOAD_WAIT, wait).await.ok().flatten()
    }

    fn labels(&self, qtype: RecordType, proto: Transport) -> DnsLabels {
        let wl = self.state.snapshot().workload_by_name(&self.cfg.namespace, &self.cfg.workload);
        let (svc, rev) = match wl {
            Some(w) => (w.canonical_name.to_string(), w.canonical_revision.to_string()),
            None => (String::new(), String::new()),
        };
        let or_unknown = |s: String| if s.is_empty() { "unknown".to_string() } else { s };
        DnsLabels {
            // Peer input: each unassigned type number would otherwise add series for good.
            request_query_type: match qtype {
                RecordType::Unknown(_) => "unknown".to_string(),
                t => t.to_string(),
            },
            request_protocol: proto.as_str().to_string(),
            source_canonical_service: or_unknown(svc),
            source_canonical_revision: or_unknown(rev),
        }
    }

    /// Answers one query (wire bytes in, wire bytes out). `None`: unparseable garbage too
    /// short to even carry an id, dropped.
    pub async fn handle(&self, query: &[u8], proto: Transport) -> Option<Vec<u8>> {
        let req = match Message::from_vec(query) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("malformed DNS query: {e}");
                let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
                return Message::error_msg(id, OpCode::Query, ResponseCode::FormErr).to_vec().ok();
            }
        };
        let id = req.metadata.id;
        if req.metadata.message_type != MessageType::Query
            || req.metadata.op_code != OpCode::Query
            || req.queries.len() != 1
        {
            return Message::error_msg(id, req.metadata.op_code, ResponseCode::NotImp).to_vec().ok();
        }
        let q = req.queries[0].clone();
        let qname = q.name().to_ascii();
        let mut state = self.state.snapshot();
        // A query waiting for its workload holds a slot, as a forwarded one does.
        let mut permit = None;
        if self.cfg.require_workload && !self.has_workload(&state) {
            permit = match self.admit() {
                Some(p) => Some(p),
                None => return refused(query),
            };
            match self.wait_for_workload().await {
                Some(s) => state = s,
                None => {
                    tracing::debug!(name = %qname, workload = %self.cfg.workload, namespace = %self.cfg.namespace, "DNS query from a workload not in the state: SERVFAIL");
                    self.metrics.requests.get_or_create(&self.labels(q.query_type(), proto)).inc();
                    return Message::error_msg(id, OpCode::Query, ResponseCode::ServFail).to_vec().ok();
                }
            }
        }
        // VIPs are answered for the client's network (its workload's, else the proxy's).
        let client_workload = state.workload_by_name(&self.cfg.namespace, &self.cfg.workload);
        let network =
            client_workload.as_ref().map(|w| w.network.as_str()).filter(|n| !n.is_empty()).unwrap_or(&self.cfg.network);
        let client = lookup::Client {
            namespace: &self.cfg.namespace,
            network,
            search: &self.cfg.search,
            domain: &self.cfg.domain,
        };
        let found = lookup::resolve_for(&state, &qname, &client);
        // Only forwarding is bounded: names we answer from memory cost microseconds, and a
        // flood of queries to a slow or black-holed upstream must not get them refused.
        let _permit = match (found.is_some(), permit) {
            (true, _) => None,
            (false, Some(p)) => Some(p),
            (false, None) => match self.admit() {
                Some(p) => Some(p),
                None => return refused(query),
            },
        };
        let labels = self.labels(q.query_type(), proto);
        self.metrics.requests.get_or_create(&labels).inc();
        let max_udp =
            req.edns.as_ref().map(|e| e.max_payload() as usize).unwrap_or(UDP_DEFAULT_MAX).max(UDP_DEFAULT_MAX);

        let bytes = match found {
            Some(found) => {
                let mut resp = Message::response(id, OpCode::Query);
                resp.metadata.authoritative = true;
                resp.metadata.recursion_desired = req.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                resp.add_query(q.clone());
                let mut answer_name = q.name().clone();
                if found.alias {
                    let target = Name::from_ascii(format!("{}.", found.hostname)).ok()?;
                    resp.add_answer(Record::from_rdata(answer_name.clone(), TTL, RData::CNAME(CNAME(target.clone()))));
                    answer_name = target;
                }
                for ip in &found.ips {
                    let rdata = match (ip, q.query_type()) {
                        (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                        (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                        // Other families/types: the name exists, no data of that type.
                        _ => continue,
                    };
                    resp.add_answer(Record::from_rdata(answer_name.clone(), TTL, rdata));
                }
                let ips = resp.answers.len() - usize::from(found.alias);
                self.access_log(&q, if ips == 0 { "no records" } else { "success" }, resp.answers.len());
                resp.to_vec().ok()?
            }
            None => match self.forward(query, proto, &labels).await {
                Ok(reply) => {
                    // ANCOUNT, straight from the header: the reply is relayed, not parsed.
                    let answers = reply.get(6..8).map(|b| u16::from_be_bytes([b[0], b[1]])).unwrap_or(0);
                    self.access_log(&q, "forwarded", answers.into());
                    reply
                }
                Err(e) => {
                    self.access_log(&q, &format!("forwarding failed ({e})"), 0);
                    tracing::warn!(name = %qname, "DNS forwarding failed: {e}");
                    self.metrics.upstream_failures.get_or_create(&labels).inc();
                    Message::error_msg(id, OpCode::Query, ResponseCode::ServFail).to_vec().ok()?
                }
            },
        };
        if proto == Transport::Udp && bytes.len() > max_udp {
            // Too big for this client over UDP: header + question with TC set; it retries on TCP.
            let full = Message::from_vec(&bytes).ok()?;
            return full.truncate().to_vec().ok();
        }
        Some(bytes)
    }

    /// Upstream's DNS access log: one DEBUG event per answered query, target `dns`
    /// (`RUST_LOG=dns=debug`).
    fn access_log(&self, q: &hickory_proto::op::Query, result: &str, endpoints: usize) {
        tracing::event!(
            target: "dns",
            tracing::Level::DEBUG,
            src.workload = %self.cfg.workload,
            src.namespace = %self.cfg.namespace,
            query = %q.query_type(),
            domain = %q.name(),
            result,
            endpoints,
        );
    }

    /// Sends the query unchanged to each upstream in turn; the first answer wins.
    async fn forward(&self, query: &[u8], proto: Transport, labels: &DnsLabels) -> io::Result<Vec<u8>> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no upstream resolvers configured");
        for &upstream in &self.cfg.upstreams {
            self.metrics.upstream_requests.get_or_create(labels).inc();
            let started = Instant::now();
            let res = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
                match proto {
                    Transport::Udp => self.forward_udp(query, upstream).await,
                    Transport::Tcp => self.forward_tcp(query, upstream).await,
                }
            })
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{upstream} did not answer in {UPSTREAM_TIMEOUT:?}"),
                ))
            });
            self.metrics.upstream_duration.get_or_create(labels).observe(started.elapsed().as_secs_f64());
            match res {
                Ok(r) => return Ok(r),
                Err(e) => last = io::Error::new(e.kind(), format!("{upstream}: {e}")),
            }
        }
        Err(last)
    }

    async fn forward_udp(&self, query: &[u8], upstream: SocketAddr) -> io::Result<Vec<u8>> {
        let bind: SocketAddr =
            if upstream.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
        let opts = self.cfg.socket.clone();
        let make = move || -> io::Result<std::net::UdpSocket> {
            let s = std::net::UdpSocket::bind(bind)?;
            if let Some(mark) = opts.mark {
                socket2::SockRef::from(&s).set_mark(mark)?;
            }
            s.set_nonblocking(true)?;
            Ok(s)
        };
        let std_sock = match &self.cfg.socket.netns {
            Some(ns) => ns.run_async(make).await??,
            None => make()?,
        };
        let sock = UdpSocket::from_std(std_sock)?;
        sock.connect(upstream).await?;
        sock.send(query).await?;
        let mut buf = vec![0u8; 65535];
        loop {
            let n = sock.recv(&mut buf).await?;
            // Ignore stray datagrams that are not the answer to this query.
            if n >= 2 && buf[..2] == query[..2] {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }

    async fn forward_tcp(&self, query: &[u8], upstream: SocketAddr) -> io::Result<Vec<u8>> {
        let mut s = socket::connect(upstream, &self.cfg.socket, UPSTREAM_TIMEOUT).await?;
        write_framed(&mut s, query).await?;
        read_framed(&mut s)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "upstream closed without answering"))
    }
}

async fn write_framed(s: &mut TcpStream, msg: &[u8]) -> io::Result<()> {
    let len =
        u16::try_from(msg.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "DNS message over 64 KiB"))?;
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    s.write_all(&out).await
}

/// The REFUSED answer to `query` (header only), or `None` if it is too short to carry an id.
fn refused(query: &[u8]) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
    Message::error_msg(id, OpCode::Query, ResponseCode::Refused).to_vec().ok()
}

/// One length-prefixed message; `None` on a clean EOF between messages.
async fn read_framed(s: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match s.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

/// Binds the TCP listener and the UDP socket of one DNS proxy address; with port 0 the UDP
/// socket takes the port the kernel gave TCP, so one address serves both (tests).
pub fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let tcp = socket::bind(addr, &socket::ListenOptions::default())?;
    let udp = socket::bind_udp(tcp.local_addr()?, false)?;
    Ok((udp, tcp))
}

/// Serves UDP queries until drain; each query is answered by its own task.
pub async fn serve_udp(sock: UdpSocket, server: Arc<DnsServer>, drain: DrainWatcher) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = tokio::select! {
            _ = drain.signaled() => return,
            r = sock.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("DNS UDP receive failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // The task is short-lived unless the query is forwarded, and forwarding is bounded
        // (`handle` answers REFUSED beyond MAX_IN_FLIGHT), so tasks do not pile up.
        let query = buf[..n].to_vec();
        let (sock, server) = (sock.clone(), server.clone());
        tokio::spawn(async move {
            if let Some(reply) = server.handle(&query, Transport::Udp).await {
                let _ = sock.send_to(&reply, from).await;
            }
        });
    }
}

/// Serves TCP (length-prefixed, several queries per connection) until drain.
pub async fn serve_tcp(listener: TcpListener, server: Arc<DnsServer>, drain: DrainWatcher) {
    loop {
        let (mut s, _) = tokio::select! {
            _ = drain.signaled() => return,
            r = socket::accept(&listener, "dns_tcp") => r,
        };
        let server = server.clone();
        tokio::spawn(async move {
            while let Ok(Some(q)) =
                tokio::time::timeout(Duration::from_secs(30), read_framed(&mut s)).await.unwrap_or(Ok(None))
            {
                let Some(reply) = server.handle(&q, Transport::Tcp).await else { return };
                if write_framed(&mut s, &reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
