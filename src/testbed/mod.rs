//! A loopback testbed: starts real `ztunnel` processes, a backend, and a client, so the demo,
//! the integration tests and the benchmark all exercise the same real binary end to end.
//!
//! Nodes log JSON (`LOG_FORMAT=json`); the testbed reads their stderr to learn the bound
//! addresses ("listeners bound") and the TLS facts of each HBONE hop. Synchronous on purpose:
//! it is driven from `#[test]` functions and the CLI without a runtime.

pub mod backend;
pub mod cni;
pub mod demo;
pub mod dns;
pub mod gateway;
pub mod http;
pub mod istiod;
#[allow(unsafe_code)] // setns(2) on the calling thread
pub mod netns;
pub mod node;
pub mod socks;
mod terminator;
pub mod waypoint;

use std::fmt::Write as _;
use std::net::IpAddr;

/// A two-node mesh on loopback: `client` runs behind node A, `server` (and its service) behind
/// node B. IPs are loopback addresses so several testbeds can run side by side.
#[derive(Debug, Clone)]
pub struct Mesh {
    pub client_ip: IpAddr,
    pub server_ip: IpAddr,
    pub service_vip: IpAddr,
    pub service_host: String,
    pub service_port: u16,
    pub backend_port: u16,
    pub trust_domain: String,
}

impl Mesh {
    /// A mesh on 127.<n>.0.1 (client) / 127.<n>.0.2 (server) / 127.<n>.10.1 (service VIP).
    pub fn on_loopback(n: u8, backend_port: u16) -> Mesh {
        Mesh {
            client_ip: IpAddr::from([127, n, 0, 1]),
            server_ip: IpAddr::from([127, n, 0, 2]),
            service_vip: IpAddr::from([127, n, 10, 1]),
            service_host: "echo.default.svc.cluster.local".into(),
            service_port: 80,
            backend_port,
            trust_domain: "cluster.local".into(),
        }
    }

    /// The local config file (upstream's schema) both nodes load.
    pub fn config_yaml(&self) -> String {
        let mut y = String::new();
        let _ = write!(
            y,
            "\
workloads:
- uid: cluster1//v1/Pod/default/client
  name: client
  namespace: default
  serviceAccount: client
  trustDomain: {td}
  workloadIps: [\"{client}\"]
  protocol: HBONE
- uid: cluster1//v1/Pod/default/server
  name: server
  namespace: default
  serviceAccount: server
  trustDomain: {td}
  workloadIps: [\"{server}\"]
  protocol: HBONE
  services:
    default/{host}:
      {sport}: {bport}
services:
- name: echo
  namespace: default
  hostname: {host}
  vips: [\"/{vip}\"]
  ports:
    {sport}: {bport}
",
            td = self.trust_domain,
            client = self.client_ip,
            server = self.server_ip,
            host = self.service_host,
            vip = self.service_vip,
            sport = self.service_port,
            bport = self.backend_port,
        );
        y
    }
}
