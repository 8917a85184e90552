//! Access log: one line per finished connection (target `access`), with the fields upstream
//! ztunnel logs, so log pipelines keep working when binaries are swapped.

use std::net::SocketAddr;
use std::time::Instant;

use crate::proxy::copy::Transferred;

/// Direction of a proxied connection, as logged.
#[derive(Debug, Clone, Copy)]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// Facts about one connection, filled in as they become known.
#[derive(Debug)]
pub struct ConnectionLog {
    pub direction: Direction,
    pub src_addr: SocketAddr,
    pub src_workload: Option<String>,
    pub src_namespace: Option<String>,
    pub src_identity: Option<String>,
    pub dst_addr: Option<SocketAddr>,
    pub dst_hbone_addr: Option<SocketAddr>,
    pub dst_workload: Option<String>,
    pub dst_namespace: Option<String>,
    pub dst_identity: Option<String>,
    /// Istio `response_flags` for a failed connection (e.g. "DENY" for an authorization
    /// denial); `None` lets the outcome decide ("-" on success).
    pub response_flags: Option<&'static str>,
    start: Instant,
}

impl ConnectionLog {
    pub fn new(direction: Direction, src_addr: SocketAddr) -> Self {
        ConnectionLog {
            direction,
            src_addr,
            src_workload: None,
            src_namespace: None,
            src_identity: None,
            dst_addr: None,
            dst_hbone_addr: None,
            dst_workload: None,
            dst_namespace: None,
            dst_identity: None,
            response_flags: None,
            start: Instant::now(),
        }
    }

    /// Emits the access-log line: INFO on success, ERROR with the reason on failure.
    pub fn finish<E: std::fmt::Display>(self, result: Result<Transferred, E>) {
        let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let opt_addr = |o: &Option<SocketAddr>| o.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
        let duration = format!("{}ms", self.start.elapsed().as_millis());
        let (bytes, error) = match &result {
            Ok(t) => (*t, None),
            Err(e) => (Transferred::default(), Some(e.to_string())),
        };
        macro_rules! emit {
            ($lvl:ident, $msg:literal) => {
                tracing::$lvl!(
                    target: "access",
                    direction = self.direction.as_str(),
                    src.addr = %self.src_addr,
                    src.workload = %dash(&self.src_workload),
                    src.namespace = %dash(&self.src_namespace),
                    src.identity = %dash(&self.src_identity),
                    dst.addr = %opt_addr(&self.dst_addr),
                    dst.hbone_addr = %opt_addr(&self.dst_hbone_addr),
                    dst.workload = %dash(&self.dst_workload),
                    dst.namespace = %dash(&self.dst_namespace),
                    dst.identity = %dash(&self.dst_identity),
                    bytes_sent = bytes.sent,
                    bytes_recv = bytes.received,
                    duration = %duration,
                    error = error.as_deref().unwrap_or("-"),
                    $msg
                )
            };
        }
        if error.is_some() {
            emit!(error, "connection complete");
        } else {
            emit!(info, "connection complete");
        }
    }
}
