//! A stand-in for istiod for local development: serves workloads, services and policies from
//! a local-config YAML file over delta ADS (TLS, port 15012 by default), pushes changes when
//! the file changes, and signs workload CSRs with a CA root.
//!
//! ```sh
//! ztunnel dev-ca --cert root-cert.pem --key root-key.pem
//! cargo run --example fake_istiod -- --config examples/localhost.yaml \
//!     --ca-cert root-cert.pem --ca-key root-key.pem --listen 127.0.0.1:15012
//! # then: XDS_ADDRESS=https://localhost:15012 CA_ADDRESS=https://localhost:15012 \
//! #       XDS_ROOT_CA=root-cert.pem CA_ROOT_CA=root-cert.pem ztunnel proxy
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use ztunnel::certs::dev_ca::DevCa;
use ztunnel::testbed::istiod::{FakeIstiod, IstiodConfig};

const USAGE: &str = "usage: fake_istiod --config <mesh.yaml> --ca-cert <root.pem> --ca-key <root-key.pem> \
[--listen 127.0.0.1:15012] [--host localhost]... [--token <expected bearer token>]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let mut config = None;
    let mut cert = None;
    let mut key = None;
    let mut listen = "127.0.0.1:15012".to_string();
    let mut hosts = Vec::new();
    let mut token = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--config" => config = Some(PathBuf::from(val()?)),
            "--ca-cert" => cert = Some(PathBuf::from(val()?)),
            "--ca-key" => key = Some(PathBuf::from(val()?)),
            "--listen" => listen = val()?,
            "--host" => hosts.push(val()?),
            "--token" => token = Some(val()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let (Some(config), Some(cert), Some(key)) = (config, cert, key) else { bail!("{USAGE}") };
    if hosts.is_empty() {
        hosts = vec!["localhost".into(), "127.0.0.1".into()];
    }
    let ca = DevCa::load(&cert, &key).context("loading the CA root")?;
    let istiod = FakeIstiod::start(IstiodConfig {
        listen: listen.parse().with_context(|| format!("--listen {listen:?}"))?,
        config_path: config,
        ca,
        server_hosts: hosts,
        poll: Duration::from_millis(500),
        expect_token: token,
    })
    .await?;
    println!("fake istiod listening on {}", istiod.addr());
    tokio::signal::ctrl_c().await?;
    istiod.stop();
    Ok(())
}
