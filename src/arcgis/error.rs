//! Errors of the ArcGIS client: each one says what failed and what an administrator can do.
//! No variant ever carries a token or a password (URLs never hold the token).

use super::wire::EnvelopeError;

/// A failed call to an ArcGIS site.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// DNS, refused or reset connection.
    #[error("cannot connect to {url}: {detail}; check the URL and that the site is reachable")]
    Connect {
        /// The URL called.
        url: String,
        /// The transport's words.
        detail: String,
    },
    /// No complete answer in time.
    #[error("{url} did not answer within {after}; the site may be overloaded (or raise poll.timeout)")]
    Timeout {
        /// The URL called.
        url: String,
        /// The configured timeout, for people.
        after: String,
    },
    /// The TLS handshake failed, usually an untrusted private CA.
    #[error("TLS with {url} failed: {detail}; add the site's CA certificate with tls.ca_file")]
    Tls {
        /// The URL called.
        url: String,
        /// The TLS library's words.
        detail: String,
    },
    /// An HTTP error status without a recognisable ArcGIS error body.
    #[error("{url} answered HTTP {status}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Http {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// A short excerpt of the body.
        detail: String,
    },
    /// HTML instead of JSON: a sign-in page, a proxy error, or `f=json` ignored.
    #[error("{url} answered an HTML page (HTTP {status}{}) instead of JSON; check that the URL is the admin API and that no proxy or sign-in page is in the way", if title.is_empty() { String::new() } else { format!(", \"{title}\"") })]
    Html {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The page's `<title>`, if any.
        title: String,
    },
    /// The body is not valid JSON.
    #[error("{url} sent {} JSON ({detail}); the site or a proxy cut or mangled the answer", if *truncated { "truncated" } else { "invalid" })]
    InvalidJson {
        /// The URL called.
        url: String,
        /// The parser's words.
        detail: String,
        /// The body ended early.
        truncated: bool,
    },
    /// The answer is larger than the target's `max_response`; it was not read.
    #[error("{url} answered more than max_response ({limit}); nothing of it was used (raise the target's max_response if the site really sends this much)")]
    TooLarge {
        /// The URL called.
        url: String,
        /// The limit, for people.
        limit: String,
    },
    /// Valid JSON, but not the expected document and not an error envelope.
    #[error("{url} answered JSON without {expected}; is admin_url right for this flavor?")]
    UnexpectedShape {
        /// The URL called.
        url: String,
        /// What was looked for.
        expected: &'static str,
    },
    /// An error envelope (either format) that is not a token or permission problem.
    #[error("{url} reported error{}: {message}", code.map(|c| format!(" {c}")).unwrap_or_default())]
    Api {
        /// The URL called.
        url: String,
        /// The envelope's code.
        code: Option<i64>,
        /// The envelope's message.
        message: String,
    },
    /// HTTP or envelope 403.
    #[error("{url}: permission denied ({message}); the account needs an administrator role with the \"Create and edit notebooks\" privilege")]
    Forbidden {
        /// The URL called.
        url: String,
        /// The envelope's message.
        message: String,
    },
    /// 498/499 even after signing in again, or for a static token.
    #[error("{url} rejected the token (code {code}: {message}); {hint}")]
    TokenRejected {
        /// The URL called.
        url: String,
        /// 498 or 499.
        code: i64,
        /// The envelope's message.
        message: String,
        /// What to do.
        hint: &'static str,
    },
    /// generateToken refused the credentials.
    #[error("sign-in at {url} was refused ({message}); check auth.username and auth.password; to protect the account from lockout the next try waits until {next_try}, and a reload (SIGHUP) with changed credentials tries at once")]
    LoginRefused {
        /// The token URL.
        url: String,
        /// The envelope's message.
        message: String,
        /// When the next try is safe, for people.
        next_try: String,
        /// The same, on this machine's clock.
        next_try_at: crate::clock::LocalMs,
    },
    /// A sign-in now could lock the account: refused recently, or locked.
    #[error("not signing in as {account} before {until} ({reason}), to protect the account from lockout; fix auth and reload (SIGHUP) to try at once")]
    SignInPaused {
        /// Username and token URL.
        account: String,
        /// Why.
        reason: String,
        /// The next safe try, for people.
        until: String,
        /// The same, on this machine's clock.
        until_at: crate::clock::LocalMs,
    },
    /// HTTP 401: the token, or something in front of the site, refused the call.
    #[error("{url} answered HTTP 401{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Unauthorized {
        /// The URL called.
        url: String,
        /// The page's title or a short excerpt.
        detail: String,
    },
    /// HTTP 401 again with a fresh token: not ArcGIS, but what stands in front of it.
    #[error("{url} answered HTTP 401 even with a fresh token: a proxy, a Web Adaptor or IWA (Windows authentication) in front of the admin API wants its own sign-in; point admin_url at the site's own port (https://nbhost:11443/arcgis/admin for Notebook Server, the ingress URL for Enterprise on Kubernetes) or let the proxy pass ArcGIS tokens")]
    BehindProxy {
        /// The URL called.
        url: String,
    },
    /// The site's version has no such operation; nothing was sent.
    #[error("{what} needs {needs} or later, and the site runs {version}; nothing was sent (upgrade the site, or remove the {what} action for this target)")]
    Unsupported {
        /// The operation.
        what: &'static str,
        /// The first version that has it.
        needs: &'static str,
        /// The site's `currentVersion`.
        version: String,
    },
    /// A job id that cannot be one segment of a URL path; nothing was sent.
    #[error("job id \"{id}\" cannot be used in a URL (it contains a path separator or is a dot segment); nothing was sent for it")]
    UnsafeId {
        /// The id, sanitized.
        id: String,
    },
    /// A source that does not read open notebooks (a test's scripted source).
    #[error("this job source does not read open notebooks")]
    NoNotebooks,
    /// A call that needs `auth.portal_url` on a target without one.
    #[error("no auth.portal_url is configured for this target, so {what} is not possible")]
    NoPortal {
        /// What was attempted.
        what: &'static str,
    },
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds the error an envelope describes.
    pub fn from_envelope(url: &str, mut e: EnvelopeError) -> Error {
        let url = url.to_string();
        // A site's words are logged at every failed poll: escaped, and at most 2 kB.
        e.message = crate::text::sanitize(&e.message).into_owned();
        if e.is_auth() {
            let code = e.code.unwrap_or(498);
            return Error::TokenRejected { url, code, message: e.message, hint: "signing in again did not help" };
        }
        match e.code {
            Some(403) => Error::Forbidden { url, message: e.message },
            code => Error::Api { url, code, message: e.message },
        }
    }

    /// When a sign-in may be tried again, for errors that wait for one (this machine's clock).
    pub fn sign_in_wait(&self) -> Option<crate::clock::LocalMs> {
        match self {
            Error::LoginRefused { next_try_at, .. } => Some(*next_try_at),
            Error::SignInPaused { until_at, .. } => Some(*until_at),
            _ => None,
        }
    }

    /// The resource is not there (HTTP 404, or an ArcGIS 404 in the body).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { code: Some(404), .. } | Error::Http { status: 404, .. })
    }

    /// A token problem that a fresh sign-in may cure (498/499, or an HTTP 401).
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::TokenRejected { .. } | Error::Unauthorized { .. })
    }

    /// What a 401 means after a fresh sign-in: something in front of the site (other errors pass).
    pub fn behind_a_proxy(self) -> Error {
        match self {
            Error::Unauthorized { url, .. } => Error::BehindProxy { url },
            other => other,
        }
    }

    /// Worth retrying later: transport trouble, 429, 5xx, broken bodies.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Timeout { .. } | Error::InvalidJson { .. } => true,
            Error::Http { status, .. } | Error::Html { status, .. } => *status == 429 || *status >= 500,
            Error::Api { code, .. } => code.is_some_and(|c| c == 429 || c >= 500),
            _ => false,
        }
    }

    /// Translates a transport error of reqwest.
    pub fn from_transport(url: &str, err: &reqwest::Error, timeout: std::time::Duration) -> Error {
        let url = url.to_string();
        let detail = root_cause(err);
        if err.is_timeout() {
            return Error::Timeout { url, after: crate::config::format_duration(timeout) };
        }
        let lower = detail.to_ascii_lowercase();
        const TLS_WORDS: [&str; 6] = ["certificate", "tls", "handshake", "unknownissuer", "corrupt message", "alert"];
        if TLS_WORDS.iter().any(|w| lower.contains(w)) {
            return Error::Tls { url, detail };
        }
        Error::Connect { url, detail }
    }
}

/// The innermost message of an error chain (reqwest's own text repeats the URL).
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// The `<title>` of an HTML page, shortened and stripped of control characters.
pub fn html_title(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let Some(start) = lower.find("<title>").map(|i| i + 7) else { return String::new() };
    let end = lower[start..].find("</title>").map(|i| start + i).unwrap_or(text.len());
    let title: String = text[start..end].chars().filter(|c| !c.is_control()).take(80).collect();
    crate::text::sanitize(title.trim()).into_owned()
}

/// True when a body is an HTML page rather than JSON.
pub fn looks_like_html(body: &[u8], content_type: &str) -> bool {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    content_type.contains("text/html") && first != Some(&b'{') || first == Some(&b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_titles_are_short_and_clean() {
        assert_eq!(html_title(b"<html><head><TITLE>502 Bad\nGateway</TITLE>"), "502 BadGateway");
        assert_eq!(html_title(b"<html>no title</html>"), "");
        let long = format!("<title>{}</title>", "x".repeat(500));
        assert_eq!(html_title(long.as_bytes()).len(), 80);
    }

    #[test]
    fn html_is_recognised_by_content_or_type() {
        assert!(looks_like_html(b"  <!DOCTYPE html>", "application/json"));
        assert!(looks_like_html(b"oops", "text/html; charset=utf-8"));
        assert!(!looks_like_html(b"{\"a\":1}", "text/html"));
        assert!(!looks_like_html(b"{\"a\":1}", "application/json"));
    }

    #[test]
    fn envelopes_become_the_right_variant() {
        let env = |code, message: &str| EnvelopeError { code: Some(code), message_code: None, message: message.into() };
        assert!(Error::from_envelope("u", env(498, "Invalid token.")).is_auth());
        assert!(matches!(Error::from_envelope("u", env(403, "no")), Error::Forbidden { .. }));
        let api = Error::from_envelope("u", env(500, "Unable to cancel job"));
        assert!(api.is_transient() && !api.is_auth());
        assert!(!Error::from_envelope("u", env(404, "not found")).is_transient());
    }
}
