//! Istio's own control plane in the test loop: `interop/istio` (a Go module built from Istio's
//! packages: istiod's discovery server with ambient enabled, istiod's CA with an RSA root and
//! its node authorizer, istioctl's ztunnel config-dump reader), built with `go build` on first
//! use and started as a child process per test.
//!
//! Kubernetes objects are written as YAML here and applied through the control endpoint, so a
//! test can add, change and delete pods, services and policies while traffic runs.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use ztunnel::testbed::http;
use ztunnel::testbed::node::NodeSpec;

/// The `istio-cp` binary: `ISTIO_CP_BIN`, or built from `interop/istio` (once per test process;
/// `go build` is incremental, so this is cheap after the first build on a machine).
pub fn istio_cp_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("ISTIO_CP_BIN") {
            return PathBuf::from(p);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = root.join("target/interop/istio-cp");
        let go = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg("./cmd/istio-cp")
            .current_dir(root.join("interop/istio"))
            .output()
            .unwrap_or_else(|e| panic!("these tests run Istio's control plane, built with Go: `go` could not be started ({e}); install Go (.ci/run does)"));
        assert!(go.status.success(), "go build of interop/istio failed:\n{}", String::from_utf8_lossy(&go.stderr));
        out
    })
}

/// A running `istio-cp serve`. Killed on drop.
pub struct IstioCp {
    child: Child,
    pub dir: tempfile::TempDir,
    pub xds: SocketAddr,
    pub ca: SocketAddr,
    pub control: SocketAddr,
    /// istiod's (RSA) root, the trust anchor for its serving certificate and issued certificates.
    pub root_cert: PathBuf,
}

impl IstioCp {
    /// Starts the control plane with `objects` (multi-document Kubernetes YAML).
    pub fn start(objects: &str) -> IstioCp {
        IstioCp::start_with(objects, &[])
    }

    /// As [`IstioCp::start`], with more `istio-cp serve` flags (e.g. `--log-level all:warn`).
    pub fn start_with(objects: &str, flags: &[&str]) -> IstioCp {
        IstioCp::start_with_env(objects, flags, &[])
    }

    /// As [`IstioCp::start_with`], with istiod environment variables (feature flags such as
    /// `UNSAFE_ENABLE_ADMIN_ENDPOINTS=true`, which istio reads at start-up).
    pub fn start_with_env(objects: &str, flags: &[&str], env: &[(&str, &str)]) -> IstioCp {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("objects.yaml");
        std::fs::write(&file, objects).unwrap();
        let mut child = Command::new(istio_cp_bin())
            .args(["serve", "--objects"])
            .arg(&file)
            .arg("--state-dir")
            .arg(dir.path())
            .args(flags)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TESTBED_ECHO_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::from(std::fs::File::create(dir.path().join("istio-cp.log")).unwrap())
            })
            .spawn()
            .expect("starting istio-cp");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("istio-cp.log")).unwrap_or_default();
            panic!("istio-cp did not start ({e}): {line:?}; its log ends:\n{}", tail(&log, 30))
        });
        let addr = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("no {k} in {line}")).parse().unwrap();
        IstioCp {
            xds: addr("xds"),
            ca: addr("ca"),
            control: addr("control"),
            root_cert: PathBuf::from(v["root_cert"].as_str().unwrap()),
            child,
            dir,
        }
    }

    /// Replaces the whole object set; returns once istiod has processed it.
    pub fn apply(&self, objects: &str) {
        let (status, body) =
            http::request_with_body(self.control, "PUT", "/objects", objects, Duration::from_secs(30)).unwrap();
        assert_eq!(status, 200, "applying objects: {body}");
    }

    /// Creates or updates only the given objects (the rest of the set stays); returns the
    /// control endpoint's JSON summary once istiod has processed them.
    pub fn patch(&self, objects: &str) -> Value {
        self.send("PATCH", objects)
    }

    /// Deletes the objects the documents name (only their apiVersion, kind and metadata count).
    pub fn delete(&self, objects: &str) -> Value {
        self.send("DELETE", objects)
    }

    fn send(&self, method: &str, objects: &str) -> Value {
        let (status, body) =
            http::request_with_body(self.control, method, "/objects", objects, Duration::from_secs(30)).unwrap();
        assert_eq!(status, 200, "{method} /objects: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method} /objects answered {body:?}: {e}"))
    }

    /// istiod's own log (its stderr), unless `TESTBED_ECHO_LOGS` sent it to the terminal.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("istio-cp.log")).unwrap_or_default()
    }

    /// A GET on istiod's debug interface (`/debug/...`, served on the control endpoint).
    pub fn debug(&self, path_and_query: &str) -> (u16, String) {
        http::request(self.control, "GET", path_and_query).unwrap()
    }

    /// The `istio-cp` process id (for CPU and memory readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The root certificate PEM.
    pub fn root_pem(&self) -> String {
        std::fs::read_to_string(&self.root_cert).unwrap()
    }

    /// Environment for a ztunnel using this control plane for xDS and certificates, with
    /// `token` as its bearer token (`<namespace>/<service account>/<pod>`).
    pub fn ztunnel_env(&self, token: &str) -> Vec<(String, String)> {
        let token_file = self.dir.path().join(format!("token-{}", token.replace('/', "_")));
        std::fs::write(&token_file, token).unwrap();
        [
            ("XDS_ADDRESS", format!("https://{}", self.xds)),
            ("CA_ADDRESS", format!("https://{}", self.ca)),
            ("XDS_ROOT_CA", self.root_cert.display().to_string()),
            ("CA_ROOT_CA", self.root_cert.display().to_string()),
            ("ALT_XDS_HOSTNAME", "istiod.istio-system.svc".into()),
            ("ALT_CA_HOSTNAME", "istiod.istio-system.svc".into()),
            ("AUTH_TOKEN", token_file.display().to_string()),
            ("FAKE_CA", "false".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A shared-mode (in-pod) node as Istio's chart runs it against this control plane: pods
    /// come from the CNI double at `uds`; no local config, SOCKS5 or fake CA; the capture
    /// listeners on the wildcard address (inside each pod); DNS per pod at upstream's default
    /// address; no packet mark; its own ports on `ip`. Callers add their own settings and
    /// spawn it.
    pub fn shared_node(&self, node: &str, ip: IpAddr, uds: &Path) -> NodeSpec {
        let mut spec = NodeSpec::new(node, "-", ip, &PathBuf::new(), &(PathBuf::new(), PathBuf::new()))
            .unset("PROXY_WORKLOAD_INFO")
            .unset("ISTIO_META_DNS_PROXY_ADDR")
            .unset("UNSTABLE_ENABLE_SOCKS5")
            .unset("LOCAL_XDS_PATH")
            .unset("FAKE_CA_ROOT_CERT")
            .unset("FAKE_CA_ROOT_KEY")
            .set("PROXY_MODE", "shared")
            // What Istio's chart sets from the downward API.
            .set("NODE_NAME", node)
            .set("POD_NAME", format!("ztunnel-{node}"))
            .set("POD_NAMESPACE", "istio-system")
            .set("INPOD_UDS", uds.display().to_string())
            .set("ZTUNNEL_OUTBOUND_ADDR", "0.0.0.0:15001")
            .set("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", "0.0.0.0:15006")
            .set("ZTUNNEL_INBOUND_ADDR", "0.0.0.0:15008");
        spec.env.remove("PACKET_MARK");
        for (k, v) in self.ztunnel_env(&k8s::ztunnel_token(node)) {
            spec = spec.set(&k, v);
        }
        spec
    }

    /// istioctl's `ztunnel-config <what>` tables for a ztunnel `/config_dump` document.
    pub fn ztunnel_config(&self, dump: &str, what: &str) -> String {
        let file = self.dir.path().join("dump.json");
        std::fs::write(&file, dump).unwrap();
        let out =
            Command::new(istio_cp_bin()).args(["ztunnel-config", "--file"]).arg(&file).arg(what).output().unwrap();
        assert!(
            out.status.success(),
            "istioctl's reader refused our config dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for IstioCp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kubernetes objects, written as istiod reads them.
pub mod k8s {
    use super::*;

    pub fn namespace(name: &str, ambient: bool) -> String {
        let labels = if ambient { "\n  labels:\n    istio.io/dataplane-mode: ambient" } else { "" };
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}{labels}\n")
    }

    /// A running, ready pod. `ambient`: the CNI has enrolled it (redirection annotation), so
    /// istiod announces it as reachable over HBONE.
    pub struct Pod<'a> {
        pub namespace: &'a str,
        pub name: &'a str,
        pub uid: &'a str,
        pub service_account: &'a str,
        pub node: &'a str,
        pub ip: IpAddr,
        pub app: &'a str,
        pub host_network: bool,
        pub ambient: bool,
    }

    impl<'a> Pod<'a> {
        /// A pod of namespace `default` that the CNI has enrolled, with its uid = its name.
        pub fn new(name: &'a str, service_account: &'a str, node: &'a str, ip: IpAddr, app: &'a str) -> Pod<'a> {
            Pod {
                namespace: "default",
                name,
                uid: name,
                service_account,
                node,
                ip,
                app,
                host_network: false,
                ambient: true,
            }
        }

        pub fn yaml(&self) -> String {
            let Pod { namespace, name, uid, service_account, node, ip, app, host_network, ambient } = self;
            let annotations = if *ambient { "\n  annotations:\n    ambient.istio.io/redirection: enabled" } else { "" };
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  uid: {uid}\n  labels:\n    app: {app}{annotations}\n\
                 spec:\n  nodeName: {node}\n  serviceAccountName: {service_account}\n  hostNetwork: {host_network}\n  containers:\n  - name: app\n    image: app\n\
                 status:\n  phase: Running\n  hostIP: {ip}\n  podIP: {ip}\n  podIPs:\n  - ip: {ip}\n  conditions:\n  - type: Ready\n    status: \"True\"\n"
            )
        }
    }

    /// The ztunnel DaemonSet pod of `node` (what the CA's node authorizer looks up).
    pub fn ztunnel_pod(node: &str, ip: IpAddr) -> String {
        Pod {
            namespace: "istio-system",
            name: &format!("ztunnel-{node}"),
            uid: &format!("uid-ztunnel-{node}"),
            service_account: "ztunnel",
            node,
            ip,
            app: "ztunnel",
            host_network: false,
            ambient: false,
        }
        .yaml()
    }

    /// The bearer token of `node`'s ztunnel.
    pub fn ztunnel_token(node: &str) -> String {
        format!("istio-system/ztunnel/ztunnel-{node}")
    }

    /// A ClusterIP service selecting `app`, `port` -> `target_port`.
    pub fn service(namespace: &str, name: &str, vip: IpAddr, app: &str, port: u16, target_port: u16) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  clusterIP: {vip}\n  clusterIPs:\n  - {vip}\n  selector:\n    app: {app}\n  ports:\n  - name: tcp\n    port: {port}\n    targetPort: {target_port}\n    protocol: TCP\n"
        )
    }

    /// An L4 AuthorizationPolicy on the workloads labelled `app`: `action` (ALLOW or DENY) for
    /// requests from `principals` (trust-domain-qualified, e.g. `cluster.local/ns/default/sa/client`).
    pub fn policy(namespace: &str, name: &str, app: &str, action: &str, principals: &[&str]) -> String {
        let list: Vec<String> = principals.iter().map(|p| format!("\"{p}\"")).collect();
        format!(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  selector:\n    matchLabels:\n      app: {app}\n  action: {action}\n  rules:\n  - from:\n    - source:\n        principals: [{}]\n",
            list.join(", ")
        )
    }

    /// A ServiceEntry for `host` (port 443), with `resolution` STATIC, DNS or NONE and, for
    /// STATIC, endpoint addresses; DNS ones name the host itself as their endpoint.
    pub fn service_entry(
        namespace: &str,
        name: &str,
        host: &str,
        vip: Option<IpAddr>,
        resolution: &str,
        endpoints: &[IpAddr],
    ) -> String {
        let addresses = vip.map(|v| format!("  addresses:\n  - {v}\n")).unwrap_or_default();
        let endpoints = if endpoints.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = endpoints.iter().map(|e| format!("  - address: {e}\n")).collect();
            format!("  endpoints:\n{}", list.concat())
        };
        format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  hosts:\n  - \"{host}\"\n{addresses}  ports:\n  - number: 443\n    name: tls\n    protocol: TLS\n  location: MESH_EXTERNAL\n  resolution: {resolution}\n{endpoints}"
        )
    }

    /// Joins documents into one YAML stream.
    pub fn docs(parts: &[String]) -> String {
        parts.join("---\n")
    }
}

/// The `istio_xds_nack_total` sum in a node's metrics text (0 when the family has no series).
pub fn nacks(metrics: &str) -> f64 {
    // A fold from +0.0: `sum()` of no samples is -0.0, which prints as "-0".
    let samples = http::parse_metrics(metrics).unwrap();
    samples.iter().filter(|s| s.name == "istio_xds_nack_total").fold(0.0, |n, s| n + s.value)
}
