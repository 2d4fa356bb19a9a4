//! The HTTP client of one target: its headers, timeouts, redirects (none) and TLS settings.

use crate::config::TargetConfig;
use std::time::Duration;

/// Why the client of a target cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `auth:` does not give one sign-in method.
    #[error(transparent)]
    Auth(#[from] crate::config::AuthError),
    /// `auth.referer` cannot be sent.
    #[error("auth.referer is not a valid header value")]
    Referer,
    /// `tls.ca_file` cannot be read.
    #[error("tls.ca_file {path}: {detail}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The TLS stack refused the settings.
    #[error("cannot set up HTTPS: {0}")]
    Https(String),
}

/// The target's HTTP client.
pub(super) fn http_client(target: &TargetConfig, timeout: Duration) -> Result<reqwest::Client, SetupError> {
    let mut headers = reqwest::header::HeaderMap::new();
    let referer = reqwest::header::HeaderValue::from_str(&target.auth.referer).map_err(|_| SetupError::Referer)?;
    headers.insert(reqwest::header::REFERER, referer);
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("nbwarden/", env!("CARGO_PKG_VERSION")))
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)));
    if let Some(ca) = &target.tls.ca_file {
        let ca_error = |detail: String| SetupError::CaFile { path: ca.display().to_string(), detail };
        let pem = std::fs::read(ca).map_err(|e| ca_error(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|certs| !certs.is_empty())
            .ok_or_else(|| ca_error("no PEM certificate found in it".into()))?;
        builder = builder.tls_certs_merge(certs);
    }
    if !target.uses_https() && target.tls.ca_file.is_none() {
        // Plain HTTP only (redirects are never followed): no TLS, so the CA store is not read.
        builder = builder.tls_certs_only(Vec::new());
    }
    if target.tls.insecure_skip_verify {
        tracing::warn!(target_name = %target.name, "tls.insecure_skip_verify is on: certificates are NOT verified; anyone on the network path can read the token");
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| SetupError::Https(e.to_string()))
}
