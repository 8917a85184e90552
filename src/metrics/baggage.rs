//! The `baggage` header upstream ztunnel puts on every HBONE CONNECT: who the source workload
//! claims to be (cluster, namespace, workload, canonical service and revision). The receiving
//! side uses it only for metric labels of sources it cannot find in its own state; identity and
//! authorization always come from the verified certificate.
//!
//! Format (W3C baggage): `k8s.cluster.name=C,k8s.namespace.name=N,k8s.deployment.name=W,
//! service.name=S,service.version=V`.

use crate::state::Workload;

/// What a peer's baggage said. Missing or empty members are `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Baggage {
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    pub workload_name: Option<String>,
    pub service_name: Option<String>,
    pub service_version: Option<String>,
}

/// Workload kinds upstream encodes as `k8s.<kind>.name`.
const WORKLOAD_KINDS: [&str; 4] = ["deployment", "cronjob", "pod", "job"];

/// The header value describing `w`.
pub fn encode(w: &Workload) -> String {
    let kind = match w.workload_type.to_ascii_lowercase().as_str() {
        k @ ("cronjob" | "pod" | "job") => k.to_string(),
        _ => "deployment".to_string(),
    };
    let name = if w.workload_name.is_empty() { &w.name } else { &w.workload_name };
    let mut parts = Vec::with_capacity(5);
    let mut push = |k: &str, v: &str| {
        // Values with separators would corrupt the list; such names are not valid k8s names.
        if !v.is_empty() && !v.contains([',', ';', '=']) {
            parts.push(format!("{k}={v}"));
        }
    };
    push("k8s.cluster.name", &w.cluster_id);
    push("k8s.namespace.name", &w.namespace);
    push(&format!("k8s.{kind}.name"), name);
    push("service.name", &w.canonical_name);
    push("service.version", &w.canonical_revision);
    parts.join(",")
}

/// Parses a header value; unknown members and malformed entries are ignored (it is advisory).
pub fn parse(value: &str) -> Baggage {
    let mut b = Baggage::default();
    for member in value.split(',') {
        // Properties after ';' are not used.
        let kv = member.split(';').next().unwrap_or("");
        let Some((k, v)) = kv.split_once('=') else { continue };
        let (k, v) = (k.trim(), v.trim());
        if v.is_empty() {
            continue;
        }
        let slot = match k {
            "k8s.cluster.name" => &mut b.cluster,
            "k8s.namespace.name" => &mut b.namespace,
            "service.name" => &mut b.service_name,
            "service.version" => &mut b.service_version,
            _ if WORKLOAD_KINDS.iter().any(|kind| k == format!("k8s.{kind}.name")) => &mut b.workload_name,
            _ => continue,
        };
        *slot = Some(v.to_string());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut w = Workload::new("u", "ns1", "pod-123", vec![]);
        w.workload_name = "client".into();
        w.canonical_name = "client-app".into();
        w.canonical_revision = "v2".into();
        w.cluster_id = "Kubernetes".into();
        let v = encode(&w);
        assert_eq!(
            v,
            "k8s.cluster.name=Kubernetes,k8s.namespace.name=ns1,k8s.deployment.name=client,service.name=client-app,service.version=v2"
        );
        let b = parse(&v);
        assert_eq!(b.workload_name.as_deref(), Some("client"));
        assert_eq!(b.service_version.as_deref(), Some("v2"));
        assert_eq!(b.cluster.as_deref(), Some("Kubernetes"));
    }

    #[test]
    fn tolerant_parse() {
        let b = parse(" k8s.job.name = j ;prop=1,garbage,service.name=,other=x");
        assert_eq!(b.workload_name.as_deref(), Some("j"));
        assert_eq!(b.service_name, None);
        assert_eq!(parse(""), Baggage::default());
    }
}
