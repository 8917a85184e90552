//! Credentials ztunnel presents to the control plane: the `authorization: Bearer <token>`
//! header (token re-read from its file on every request, as projected tokens rotate), the
//! `clusterid` header, and operator-supplied extra headers.

use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

use crate::config::AuthToken;

/// Why request credentials could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("reading token file {path}: {reason}")]
    TokenFile { path: String, reason: String },
    #[error("token file {0} is empty")]
    EmptyToken(String),
    #[error("header {name:?} has a value gRPC cannot carry")]
    BadHeader { name: String },
}

/// The current token (trimmed), read now.
pub async fn token(source: &AuthToken) -> Result<String, AuthError> {
    match source {
        AuthToken::Static(t) => Ok(t.clone()),
        AuthToken::File(path) => {
            let p = path.display().to_string();
            let t = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| AuthError::TokenFile { path: p.clone(), reason: e.to_string() })?;
            let t = t.trim().to_string();
            if t.is_empty() {
                return Err(AuthError::EmptyToken(p));
            }
            Ok(t)
        }
    }
}

/// What ztunnel sends with every request to a control-plane service.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Bearer token source (`authorization` header), if any.
    pub token: Option<AuthToken>,
    /// `clusterid` header.
    pub cluster_id: String,
    /// Operator-supplied extra headers (`XDS_HEADER_*` / `CA_HEADER_*`).
    pub headers: Vec<(String, String)>,
}

impl Credentials {
    /// Fills `md` with the bearer token (read now), `clusterid`, and the extra headers.
    pub async fn apply(&self, md: &mut MetadataMap) -> Result<(), AuthError> {
        let mut put = |name: &str, value: &str| -> Result<(), AuthError> {
            let key =
                MetadataKey::from_bytes(name.as_bytes()).map_err(|_| AuthError::BadHeader { name: name.into() })?;
            let val = MetadataValue::try_from(value).map_err(|_| AuthError::BadHeader { name: name.into() })?;
            md.insert(key, val);
            Ok(())
        };
        if let Some(a) = &self.token {
            put("authorization", &format!("Bearer {}", token(a).await?))?;
        }
        put("clusterid", &self.cluster_id)?;
        for (k, v) in &self.headers {
            put(k, v)?;
        }
        Ok(())
    }
}
