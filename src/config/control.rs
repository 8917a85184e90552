//! Control-plane connection settings: root certificates, the bearer token and extra gRPC
//! headers for the xDS and CA clients (XDS_ROOT_CA, CA_ROOT_CA, AUTH_TOKEN, ALT_*_HOSTNAME,
//! XDS_HEADER_*, CA_HEADER_*, ISTIO_METAJSON_*).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ConfigError;
use super::env::{EnvSource, invalid, non_empty};

/// Upstream's default root certificate path (mounted from the istio-ca-root-cert ConfigMap).
pub const DEFAULT_ROOT_CERT_PATH: &str = "./var/run/secrets/istio/root-cert.pem";
/// Upstream's default projected service-account token path.
pub const DEFAULT_TOKEN_PATH: &str = "./var/run/secrets/tokens/istio-token";

/// Which roots verify the control plane's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RootCert {
    /// A PEM file (read when connecting, so a rotated file is picked up on reconnect).
    File(PathBuf),
    /// PEM given inline in the variable.
    Static(String),
    /// The operating system's trust store (`SYSTEM`).
    System,
}

/// Where the bearer token comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AuthToken {
    /// A file re-read on every request (projected tokens rotate).
    File(PathBuf),
    /// The token itself.
    Static(#[serde(skip)] String),
}

/// Everything needed to reach one control-plane endpoint besides its address.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneConfig {
    pub xds_root_cert: RootCert,
    pub ca_root_cert: RootCert,
    /// ALT_XDS_HOSTNAME / ALT_CA_HOSTNAME: name checked in the server certificate instead of
    /// the address host.
    pub alt_xds_hostname: Option<String>,
    pub alt_ca_hostname: Option<String>,
    pub auth_token: Option<AuthToken>,
    /// XDS_HEADER_<K>=v → gRPC metadata `<k>: v` (lower-cased, `_` kept, as upstream).
    pub xds_headers: Vec<(String, String)>,
    pub ca_headers: Vec<(String, String)>,
    /// ISTIO_METAJSON_<K>: JSON values added to the xDS node metadata.
    pub metadata_json: BTreeMap<String, serde_json::Value>,
}

fn root_cert(src: &dyn EnvSource, var: &str) -> RootCert {
    match non_empty(src, var) {
        None => RootCert::File(DEFAULT_ROOT_CERT_PATH.into()),
        Some(v) if v.trim() == "SYSTEM" => RootCert::System,
        Some(v) if v.contains("-----BEGIN") => RootCert::Static(v),
        Some(v) => RootCert::File(v.trim().into()),
    }
}

fn headers(src: &dyn EnvSource, prefix: &str) -> Result<Vec<(String, String)>, ConfigError> {
    src.keys_with_prefix(prefix)
        .into_iter()
        .map(|(k, v)| {
            // Upstream only lower-cases the name (gRPC metadata keys may contain `_`), so
            // XDS_HEADER_X_API_KEY is sent as `x_api_key`, not `x-api-key`.
            let name = k[prefix.len()..].to_ascii_lowercase();
            let ok_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.');
            let ok_value = v.bytes().all(|b| (0x20..0x7f).contains(&b));
            if !ok_name || !ok_value {
                return Err(invalid(&k, &v, "a gRPC header: name of letters, digits, _ and -; printable ASCII value"));
            }
            Ok((name, v))
        })
        .collect()
}

impl ControlPlaneConfig {
    /// `token_file_exists` decides the AUTH_TOKEN form (upstream: a path if such a file
    /// exists, otherwise the token itself) and the default token; injected so parsing stays
    /// testable without touching the file system.
    pub fn from_source(
        src: &dyn EnvSource,
        token_file_exists: &dyn Fn(&Path) -> bool,
    ) -> Result<ControlPlaneConfig, ConfigError> {
        let auth_token = match non_empty(src, "AUTH_TOKEN") {
            Some(v) if token_file_exists(Path::new(v.trim())) => Some(AuthToken::File(v.trim().into())),
            Some(v) => Some(AuthToken::Static(v.trim().to_string())),
            None if token_file_exists(Path::new(DEFAULT_TOKEN_PATH)) => {
                Some(AuthToken::File(DEFAULT_TOKEN_PATH.into()))
            }
            None => None,
        };
        let mut metadata_json = BTreeMap::new();
        for (k, v) in src.keys_with_prefix("ISTIO_METAJSON_") {
            let value: serde_json::Value = serde_json::from_str(&v).map_err(|_| invalid(&k, &v, "a JSON value"))?;
            metadata_json.insert(k["ISTIO_METAJSON_".len()..].to_string(), value);
        }
        Ok(ControlPlaneConfig {
            xds_root_cert: root_cert(src, "XDS_ROOT_CA"),
            ca_root_cert: root_cert(src, "CA_ROOT_CA"),
            alt_xds_hostname: non_empty(src, "ALT_XDS_HOSTNAME"),
            alt_ca_hostname: non_empty(src, "ALT_CA_HOSTNAME"),
            auth_token,
            xds_headers: headers(src, "XDS_HEADER_")?,
            ca_headers: headers(src, "CA_HEADER_")?,
            metadata_json,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let c = ControlPlaneConfig::from_source(&env(&[]), &|_| false).unwrap();
        assert_eq!(c.xds_root_cert, RootCert::File(DEFAULT_ROOT_CERT_PATH.into()));
        assert_eq!(c.auth_token, None);
        let c = ControlPlaneConfig::from_source(&env(&[]), &|p| p == Path::new(DEFAULT_TOKEN_PATH)).unwrap();
        assert_eq!(c.auth_token, Some(AuthToken::File(DEFAULT_TOKEN_PATH.into())));
    }

    #[test]
    fn forms() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let c = ControlPlaneConfig::from_source(
            &env(&[
                ("XDS_ROOT_CA", "SYSTEM"),
                ("CA_ROOT_CA", pem),
                ("AUTH_TOKEN", "/tok"),
                ("XDS_HEADER_X_TENANT", "blue"),
                ("CA_HEADER_FOO", "bar"),
                ("ISTIO_METAJSON_LABELS", r#"{"app":"x"}"#),
            ]),
            &|p| p == Path::new("/tok"),
        )
        .unwrap();
        assert_eq!(c.xds_root_cert, RootCert::System);
        assert_eq!(c.ca_root_cert, RootCert::Static(pem.into()));
        assert_eq!(c.auth_token, Some(AuthToken::File("/tok".into())));
        // Upstream keeps `_` (only lower-cases): a header named `x_tenant`.
        assert_eq!(c.xds_headers, vec![("x_tenant".to_string(), "blue".to_string())]);
        assert_eq!(c.ca_headers, vec![("foo".to_string(), "bar".to_string())]);
        assert_eq!(c.metadata_json["LABELS"]["app"], "x");
        let c = ControlPlaneConfig::from_source(&env(&[("AUTH_TOKEN", "eyJ.static")]), &|_| false).unwrap();
        assert_eq!(c.auth_token, Some(AuthToken::Static("eyJ.static".into())));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = ControlPlaneConfig::from_source(&env(&[("XDS_HEADER_A", "x\ny")]), &|_| false).unwrap_err();
        assert!(e.to_string().contains("XDS_HEADER_A"), "{e}");
        let e = ControlPlaneConfig::from_source(&env(&[("ISTIO_METAJSON_X", "{nope")]), &|_| false).unwrap_err();
        assert!(e.to_string().contains("ISTIO_METAJSON_X"), "{e}");
    }
}
