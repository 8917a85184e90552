//! On-demand resolution of hostname-only endpoints (a ServiceEntry with `resolution: DNS`:
//! istiod sends a workload with a `hostname` and no address), as upstream resolves them when a
//! connection picks one.
//!
//! A and AAAA queries over UDP to ztunnel's own resolvers (`/etc/resolv.conf`), each in turn
//! until one answers; answers are cached per hostname for their TTL, capped at
//! [`MAX_CACHE_TTL`] (and at most [`MAX_CACHED_NAMES`] names), so a busy service does not
//! query per connection and a changed record is seen within the TTL. Failures are not cached.
//! Concurrent lookups of one name share one query.
//! The cache is a pure structure with the clock passed in, so expiry is unit-tested without
//! waiting.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Longest any answer is kept, whatever its TTL.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(300);
/// Names cached at once; beyond it (after dropping expired ones) new answers are not cached.
pub const MAX_CACHED_NAMES: usize = 4096;
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a hostname could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("cannot resolve {0}: no DNS resolvers configured")]
    NoResolvers(String),
    #[error("{host} has no A or AAAA record ({detail})")]
    NoAddress { host: String, detail: String },
    #[error("resolving {host} failed: {reason}")]
    Failed { host: String, reason: String },
}

#[derive(Debug, Clone)]
struct Cached {
    addrs: Arc<[IpAddr]>,
    expires: Instant,
}

/// Answers by hostname until they expire.
#[derive(Debug, Default)]
pub struct DnsCache {
    entries: HashMap<String, Cached>,
}

impl DnsCache {
    /// The cached addresses of `host`, if still valid at `now`.
    pub fn get(&self, host: &str, now: Instant) -> Option<Arc<[IpAddr]>> {
        self.entries.get(host).filter(|c| c.expires > now).map(|c| c.addrs.clone())
    }

    /// Keeps `addrs` for `ttl` (capped) from `now`. A zero TTL is not cached.
    pub fn insert(&mut self, host: &str, addrs: Arc<[IpAddr]>, ttl: Duration, now: Instant) {
        let ttl = ttl.min(MAX_CACHE_TTL);
        if ttl.is_zero() {
            self.entries.remove(host);
            return;
        }
        if self.entries.len() >= MAX_CACHED_NAMES && !self.entries.contains_key(host) {
            self.entries.retain(|_, c| c.expires > now);
            if self.entries.len() >= MAX_CACHED_NAMES {
                return;
            }
        }
        self.entries.insert(host.to_string(), Cached { addrs, expires: now + ttl });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A resolution's addresses (IPv4 first), and whether the cache answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub addrs: Arc<[IpAddr]>,
    pub cached: bool,
}

/// A caching stub resolver over ztunnel's own upstream resolvers.
#[derive(Debug, Default)]
pub struct Resolver {
    upstreams: Vec<SocketAddr>,
    cache: Mutex<DnsCache>,
    /// Names being asked right now, and where their answer will be announced.
    inflight: Mutex<HashMap<String, Announce>>,
}

/// Where waiters for a name's in-flight query receive its result.
type Announce = tokio::sync::broadcast::Sender<Result<Arc<[IpAddr]>, ResolveError>>;

impl Resolver {
    pub fn new(upstreams: Vec<SocketAddr>) -> Resolver {
        Resolver { upstreams, cache: Mutex::default(), inflight: Mutex::default() }
    }

    /// The addresses of `host` (IPv4 first), from the cache or the resolvers. Concurrent
    /// lookups of one uncached name share a single query: a burst of connections to a new
    /// ServiceEntry host asks the resolvers once, not once per connection.
    pub async fn resolve(&self, host: &str) -> Result<Answer, ResolveError> {
        if let Some(addrs) = crate::util::sync::lock(&self.cache).get(host, Instant::now()) {
            return Ok(Answer { addrs, cached: true });
        }
        let waiting = {
            let mut inflight = crate::util::sync::lock(&self.inflight);
            match inflight.get(host) {
                Some(tx) => Some(tx.subscribe()),
                None => {
                    inflight.insert(host.to_string(), tokio::sync::broadcast::channel(1).0);
                    None
                }
            }
        };
        if let Some(mut rx) = waiting {
            // The query's owner went away (its connection closed) without an answer: ask anew.
            return match rx.recv().await {
                Ok(result) => result.map(|addrs| Answer { addrs, cached: false }),
                Err(_) => Box::pin(self.resolve(host)).await,
            };
        }
        // Ours to ask. The entry goes when this ends, however it ends, so waiters never hang.
        let mut owner = InflightGuard { resolver: self, host, armed: true };
        let result = self.query(host).await;
        owner.armed = false;
        if let Some(tx) = crate::util::sync::lock(&self.inflight).remove(host) {
            let _ = tx.send(result.clone());
        }
        result.map(|addrs| Answer { addrs, cached: false })
    }

    async fn query(&self, host: &str) -> Result<Arc<[IpAddr]>, ResolveError> {
        if self.upstreams.is_empty() {
            return Err(ResolveError::NoResolvers(host.to_string()));
        }
        let name = Name::from_ascii(format!("{}.", host.trim_end_matches('.')))
            .map_err(|e| ResolveError::Failed { host: host.to_string(), reason: format!("not a DNS name: {e}") })?;
        let mut last = String::new();
        for &upstream in &self.upstreams {
            match lookup(upstream, &name).await {
                Ok((addrs, _)) if addrs.is_empty() => {
                    return Err(ResolveError::NoAddress {
                        host: host.to_string(),
                        detail: format!("{upstream} answered"),
                    });
                }
                Ok((addrs, ttl_secs)) => {
                    let addrs: Arc<[IpAddr]> = addrs.into();
                    let ttl = Duration::from_secs(u64::from(ttl_secs));
                    crate::util::sync::lock(&self.cache).insert(host, addrs.clone(), ttl, Instant::now());
                    tracing::debug!(%host, ?addrs, ?ttl, "resolved hostname endpoint");
                    return Ok(addrs);
                }
                Err(LookupError::NxDomain) => {
                    return Err(ResolveError::NoAddress {
                        host: host.to_string(),
                        detail: format!("{upstream}: NXDOMAIN"),
                    });
                }
                Err(LookupError::Other(e)) => last = format!("{upstream}: {e}"),
            }
        }
        Err(ResolveError::Failed { host: host.to_string(), reason: last })
    }
}

/// Removes a name's in-flight entry when its owner finishes or is dropped.
struct InflightGuard<'a> {
    resolver: &'a Resolver,
    host: &'a str,
    /// Cleared once the owner has announced its answer (and removed the entry itself).
    armed: bool,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            crate::util::sync::lock(&self.resolver.inflight).remove(self.host);
        }
    }
}

enum LookupError {
    NxDomain,
    Other(io::Error),
}

/// A and AAAA for `name` at `upstream`: the addresses (IPv4 first) and the smallest TTL.
async fn lookup(upstream: SocketAddr, name: &Name) -> Result<(Vec<IpAddr>, u32), LookupError> {
    let mut addrs = Vec::new();
    let mut ttl = u32::MAX;
    for rtype in [RecordType::A, RecordType::AAAA] {
        let reply = tokio::time::timeout(QUERY_TIMEOUT, exchange(upstream, name, rtype))
            .await
            .map_err(|_| LookupError::Other(io::Error::new(io::ErrorKind::TimedOut, "no answer")))?
            .map_err(LookupError::Other)?;
        match reply.metadata.response_code {
            ResponseCode::NoError => {}
            ResponseCode::NXDomain => return Err(LookupError::NxDomain),
            other => return Err(LookupError::Other(io::Error::other(format!("{rtype} query answered {other}")))),
        }
        for r in &reply.answers {
            let ip = match &r.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                // CNAMEs are followed by the recursive resolver; their targets' records are here too.
                _ => continue,
            };
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
            ttl = ttl.min(r.ttl);
        }
    }
    Ok((addrs, if ttl == u32::MAX { 0 } else { ttl }))
}

async fn exchange(upstream: SocketAddr, name: &Name, rtype: RecordType) -> io::Result<Message> {
    let local: SocketAddr =
        if upstream.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(upstream).await?;
    let id: u16 = rand::random();
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(name.clone(), rtype));
    sock.send(&q.to_vec().map_err(io::Error::other)?).await?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await?;
        // Anything that is not the answer to this query (a stray or spoofed datagram) is ignored.
        let Ok(reply) = Message::from_vec(&buf[..n]) else { continue };
        if reply.metadata.id == id && reply.metadata.message_type == MessageType::Response {
            return Ok(reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Arc<[IpAddr]> {
        list.iter().map(|s| s.parse().unwrap()).collect::<Vec<_>>().into()
    }

    #[test]
    fn cache_keeps_answers_for_their_ttl_capped() {
        let t0 = Instant::now();
        let mut c = DnsCache::default();
        c.insert("a.example.com", addrs(&["10.0.0.1"]), Duration::from_secs(30), t0);
        assert_eq!(c.get("a.example.com", t0 + Duration::from_secs(29)).as_deref(), Some(&addrs(&["10.0.0.1"])[..]));
        assert!(c.get("a.example.com", t0 + Duration::from_secs(30)).is_none(), "expired at its TTL");
        c.insert("b.example.com", addrs(&["10.0.0.2"]), Duration::from_secs(86_400), t0);
        assert!(c.get("b.example.com", t0 + MAX_CACHE_TTL - Duration::from_secs(1)).is_some());
        assert!(c.get("b.example.com", t0 + MAX_CACHE_TTL).is_none(), "a day-long TTL is capped");
        c.insert("b.example.com", addrs(&["10.0.0.3"]), Duration::ZERO, t0);
        assert!(c.get("b.example.com", t0).is_none(), "TTL 0 is never cached");
    }

    #[test]
    fn cache_is_bounded() {
        let t0 = Instant::now();
        let mut c = DnsCache::default();
        for i in 0..MAX_CACHED_NAMES {
            c.insert(&format!("h{i}"), addrs(&["10.0.0.1"]), Duration::from_secs(10), t0);
        }
        c.insert("one-more", addrs(&["10.0.0.1"]), Duration::from_secs(10), t0);
        assert_eq!(c.len(), MAX_CACHED_NAMES);
        assert!(c.get("one-more", t0).is_none(), "full of live entries: not cached");
        // Once the others expire, they make room.
        c.insert("one-more", addrs(&["10.0.0.1"]), Duration::from_secs(10), t0 + Duration::from_secs(11));
        assert_eq!(c.len(), 1);
    }

    /// A one-shot responder on loopback: answers every query for `name` with `ip` (A only).
    async fn responder(
        name: &'static str,
        ip: std::net::Ipv4Addr,
        ttl: u32,
    ) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else { return };
                let q = Message::from_vec(&buf[..n]).unwrap();
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let query = q.queries[0].clone();
                let mut r = Message::response(q.metadata.id, OpCode::Query);
                if query.name().to_ascii().trim_end_matches('.') != name {
                    r.metadata.response_code = ResponseCode::NXDomain;
                } else if query.query_type() == RecordType::A {
                    r.add_answer(hickory_proto::rr::Record::from_rdata(
                        query.name().clone(),
                        ttl,
                        RData::A(hickory_proto::rr::rdata::A(ip)),
                    ));
                }
                r.add_query(query);
                let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
            }
        });
        (addr, count)
    }

    #[tokio::test]
    async fn resolves_caches_and_reports_missing_names() {
        let (dns, queries) = responder("api.example.com", [10, 9, 8, 7].into(), 60).await;
        let r = Resolver::new(vec![dns]);
        let first = r.resolve("api.example.com").await.unwrap();
        assert_eq!((first.addrs.as_ref(), first.cached), (&["10.9.8.7".parse::<IpAddr>().unwrap()][..], false));
        assert_eq!(queries.load(std::sync::atomic::Ordering::SeqCst), 2, "A and AAAA");
        assert!(r.resolve("api.example.com").await.unwrap().cached);
        assert_eq!(queries.load(std::sync::atomic::Ordering::SeqCst), 2, "second lookup from the cache");
        // Ten connections at once to an uncached name: one query pair.
        r.cache.lock().unwrap().entries.clear();
        let all = futures_util::future::join_all((0..10).map(|_| r.resolve("api.example.com"))).await;
        assert!(all.iter().all(|a| a.as_ref().is_ok_and(|a| !a.cached)), "{all:?}");
        assert_eq!(queries.load(std::sync::atomic::Ordering::SeqCst), 4, "shared, not one per caller");
        assert!(r.inflight.lock().unwrap().is_empty());
        let e = r.resolve("nope.example.com").await.unwrap_err();
        assert!(matches!(e, ResolveError::NoAddress { .. }), "{e}");
        assert!(e.to_string().contains("NXDOMAIN"), "{e}");
        assert!(matches!(Resolver::new(vec![]).resolve("x").await, Err(ResolveError::NoResolvers(_))));
    }
}
