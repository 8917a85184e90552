//! One `ztunnel proxy` child process, configured through its environment, with its JSON log
//! captured for inspection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// Addresses a node reported in its "listeners bound" event.
#[derive(Debug, Clone)]
pub struct NodeAddrs {
    pub outbound: SocketAddr,
    pub inbound: SocketAddr,
    pub inbound_plaintext: SocketAddr,
    pub socks5: Option<SocketAddr>,
    pub readiness: SocketAddr,
    pub admin: SocketAddr,
    pub metrics: SocketAddr,
    /// The dedicated-mode DNS proxy (UDP and TCP), when on.
    pub dns: Option<SocketAddr>,
}

#[derive(Default)]
struct Log {
    events: Vec<Value>,
    raw: Vec<String>,
    /// stdout and stderr; the log is closed when both are.
    open_streams: u8,
    closed: bool,
}

/// A running ztunnel child. Killed on drop.
pub struct Node {
    child: Child,
    log: Arc<(Mutex<Log>, Condvar)>,
    pub addrs: NodeAddrs,
    pub name: String,
}

/// Environment for a dedicated-mode node serving `namespace/name/sa`.
pub struct NodeSpec {
    pub name: String,
    pub env: BTreeMap<String, String>,
    /// Run inside this network namespace (`ip netns exec`).
    pub netns: Option<String>,
}

impl NodeSpec {
    /// A node with the shared dev CA root, the local config file and JSON logs; listeners on
    /// `ip` (HBONE on `hbone_port`, everything else on port 0).
    pub fn new(name: &str, workload: &str, ip: std::net::IpAddr, config: &Path, ca: &(PathBuf, PathBuf)) -> NodeSpec {
        let mut env = BTreeMap::new();
        let sock = |port: u16| SocketAddr::new(ip, port).to_string();
        for (k, v) in [
            ("PROXY_MODE", "dedicated".to_string()),
            ("PROXY_WORKLOAD_INFO", workload.to_string()),
            ("FAKE_CA", "true".into()),
            ("FAKE_CA_ROOT_CERT", ca.0.display().to_string()),
            ("FAKE_CA_ROOT_KEY", ca.1.display().to_string()),
            ("LOCAL_XDS_PATH", config.display().to_string()),
            ("XDS_ADDRESS", String::new()),
            ("LOG_FORMAT", "json".into()),
            ("RUST_LOG", "info".into()),
            ("UNSTABLE_ENABLE_SOCKS5", "true".into()),
            ("ZTUNNEL_WORKER_THREADS", "2".into()),
            ("ZTUNNEL_OUTBOUND_ADDR", sock(0)),
            ("ZTUNNEL_INBOUND_ADDR", sock(15008)),
            ("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", sock(0)),
            ("ZTUNNEL_SOCKS5_ADDR", sock(0)),
            ("ZTUNNEL_READINESS_ADDR", sock(0)),
            ("ZTUNNEL_ADMIN_ADDR", sock(0)),
            ("ZTUNNEL_METRICS_ADDR", sock(0)),
            // The DNS proxy (on in dedicated mode as upstream's) on the node's own address, so
            // nodes in parallel tests do not race for localhost:15053. Shared-mode nodes unset
            // it: there it is bound inside each pod.
            ("ISTIO_META_DNS_PROXY_ADDR", sock(0)),
        ] {
            env.insert(k.to_string(), v);
        }
        NodeSpec { name: name.to_string(), env, netns: None }
    }

    pub fn set(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.insert(k.to_string(), v.into());
        self
    }

    pub fn unset(mut self, k: &str) -> Self {
        self.env.remove(k);
        self
    }

    /// Starts the node and waits (up to 20 s) until it reports its listeners.
    pub fn spawn(self, bin: &Path) -> anyhow::Result<Node> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("proxy")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        // Logs go to stdout (as upstream's); start-up errors to stderr. Both are kept, in the
        // order they arrive.
        let log = Arc::new((Mutex::new(Log { open_streams: 2, ..Log::default() }), Condvar::new()));
        let echo = std::env::var_os("TESTBED_ECHO_LOGS").is_some();
        follow(child.stdout.take().expect("piped"), log.clone(), self.name.clone(), echo);
        follow(child.stderr.take().expect("piped"), log.clone(), self.name.clone(), echo);
        let mut node = Node {
            child,
            log,
            addrs: NodeAddrs {
                outbound: ([0, 0, 0, 0], 0).into(),
                inbound: ([0, 0, 0, 0], 0).into(),
                inbound_plaintext: ([0, 0, 0, 0], 0).into(),
                socks5: None,
                readiness: ([0, 0, 0, 0], 0).into(),
                admin: ([0, 0, 0, 0], 0).into(),
                metrics: ([0, 0, 0, 0], 0).into(),
                dns: None,
            },
            name: self.name,
        };
        let ev = node
            .wait_for(Duration::from_secs(20), |e| message(e) == "listeners bound")
            .with_context(|| format!("node {} did not start; its log:\n{}", node.name, node.raw_log()))?;
        let addr = |k: &str| -> anyhow::Result<SocketAddr> {
            ev.get(k)
                .and_then(Value::as_str)
                .context("missing address")?
                .parse()
                .with_context(|| format!("bad {k} address"))
        };
        node.addrs = NodeAddrs {
            outbound: addr("outbound")?,
            inbound: addr("inbound")?,
            inbound_plaintext: addr("inbound_plaintext")?,
            socks5: addr("socks5").ok(),
            readiness: addr("readiness")?,
            admin: addr("admin")?,
            metrics: addr("metrics")?,
            // "a,b" when bound on 127.0.0.1 and ::1: the first is enough to query it.
            dns: ev.get("dns").and_then(Value::as_str).and_then(|v| v.split(',').next()?.parse().ok()),
        };
        Ok(node)
    }
}

/// Reads `stream` line by line into `log` on a thread of its own.
fn follow(stream: impl std::io::Read + Send + 'static, log: Arc<(Mutex<Log>, Condvar)>, name: String, echo: bool) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("[{name}] {line}");
            }
            let (lock, cv) = &*log;
            let mut l = lock.lock().unwrap();
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                l.events.push(v);
            }
            l.raw.push(line);
            cv.notify_all();
        }
        let (lock, cv) = &*log;
        let mut l = lock.lock().unwrap();
        l.open_streams -= 1;
        l.closed = l.open_streams == 0;
        cv.notify_all();
    });
}

/// The `message` field of a JSON log event.
pub fn message(e: &Value) -> &str {
    e.get("message").and_then(Value::as_str).unwrap_or("")
}

impl Node {
    /// Waits until an event matching `pred` has been logged (searching earlier ones too).
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.log;
        let mut l = lock.lock().unwrap();
        loop {
            if let Some(e) = l.events.iter().find(|e| pred(e)) {
                return Ok(e.clone());
            }
            if l.closed {
                bail!("process exited");
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("timed out after {timeout:?}");
            }
            l = cv.wait_timeout(l, deadline - now).unwrap().0;
        }
    }

    /// Waits until an event at index `from` or later matches `pred`; returns its index and it.
    /// For callers that walk the log forward (one change after another) without re-reading it.
    pub fn wait_from(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<(usize, Value)> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.log;
        let mut l = lock.lock().unwrap();
        let mut next = from;
        loop {
            if let Some(i) = l.events.iter().skip(next).position(&pred) {
                return Ok((next + i, l.events[next + i].clone()));
            }
            next = next.max(l.events.len());
            if l.closed {
                bail!("process exited");
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("timed out after {timeout:?}");
            }
            l = cv.wait_timeout(l, deadline - now).unwrap().0;
        }
    }

    /// The number of JSON events logged so far (an index for [`Node::wait_from`]).
    pub fn event_count(&self) -> usize {
        self.log.0.lock().unwrap().events.len()
    }

    /// The JSON events from index `from` on.
    pub fn events_from(&self, from: usize) -> Vec<Value> {
        self.log.0.lock().unwrap().events.iter().skip(from).cloned().collect()
    }

    /// All JSON events logged so far.
    pub fn events(&self) -> Vec<Value> {
        self.log.0.lock().unwrap().events.clone()
    }

    /// The raw log so far.
    pub fn raw_log(&self) -> String {
        self.log.0.lock().unwrap().raw.join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Sends SIGTERM and waits for exit (up to `timeout`, then SIGKILL).
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().context("running kill")?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Ok(st);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                bail!("node {} did not exit within {timeout:?} of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit by itself (up to `timeout`).
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Ok(st);
            }
            if Instant::now() >= deadline {
                bail!("node {} still running after {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
