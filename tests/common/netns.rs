//! The test mesh inside a [`ztunnel::testbed::netns::Pair`] (the namespace helpers themselves
//! live in the testbed, shared with the benchmark).

/// The two-pod mesh used inside a `Pair`: client 198.18.<n>.1, server 198.18.<n>.2 (echo on
/// 8080), service VIP 198.19.<n>.10 (exists only in the config).
pub fn mesh(n: u8) -> ztunnel::testbed::Mesh {
    ztunnel::testbed::Mesh {
        client_ip: std::net::IpAddr::from([198, 18, n, 1]),
        server_ip: std::net::IpAddr::from([198, 18, n, 2]),
        service_vip: std::net::IpAddr::from([198, 19, n, 10]),
        service_host: "echo.default.svc.cluster.local".into(),
        service_port: 80,
        backend_port: 8080,
        trust_domain: "cluster.local".into(),
    }
}

/// A pod of namespace `default` in network namespace `netns`, as the CNI announces it.
pub fn cni_pod(netns: &str, uid: &str, name: &str, service_account: &str) -> ztunnel::testbed::cni::CniPod {
    ztunnel::testbed::cni::CniPod {
        uid: uid.into(),
        name: name.into(),
        namespace: "default".into(),
        service_account: service_account.into(),
        netns: std::path::PathBuf::from(format!("/var/run/netns/{netns}")),
    }
}

/// `ztunnel redirect <args>`: installs or removes a pod's capture rules, as istio-cni would.
pub fn redirect(args: &[&str]) {
    let out = std::process::Command::new(super::bin()).arg("redirect").args(args).output().unwrap();
    assert!(out.status.success(), "ztunnel redirect {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}
