//! The `webhook` action: one HTTP call per firing. 2xx is success; 429, 5xx and transport errors
//! are transient; other answers are permanent. The URL is redacted wherever it is reported.

use super::template::{self, TemplateError};
use super::{ActionContext, ActionError, Done};
use crate::config::ConfigDuration;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// `type: webhook`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to send it.
    pub url: String,
    /// HTTP method (default POST).
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra headers; values are templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A template; or a mapping whose every text value is a template, serialized as JSON by
    /// nbwarden (a value can never change the document's structure); default: a JSON document
    /// with the rule, the event and the jobs.
    pub body: Option<Body>,
    /// Bound on the whole call (default 10s).
    pub timeout: Option<ConfigDuration>,
}

fn default_method() -> String {
    "POST".into()
}

/// A webhook's `body:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// A template, sent as it renders (as JSON when it parses as JSON).
    Text(String),
    /// A document written in YAML: each text value is rendered, the whole serialized as JSON.
    Document(serde_json::Value),
}

impl Body {
    /// Every template of the body.
    fn templates(&self) -> Vec<&str> {
        fn leaves<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match value {
                serde_json::Value::String(text) => out.push(text),
                serde_json::Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
                _ => {}
            }
        }
        match self {
            Body::Text(text) => vec![text],
            Body::Document(value) => {
                let mut out = Vec::new();
                leaves(value, &mut out);
                out
            }
        }
    }
}

/// A document with each text value rendered in `context`.
fn render_document(value: &serde_json::Value, context: &serde_json::Value) -> Result<serde_json::Value, TemplateError> {
    use serde_json::Value;
    Ok(match value {
        Value::String(source) => Value::String(template::render(source, context)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_document(v, context)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_document(v, context)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

impl super::Plugin for WebhookConfig {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn templates(&self) -> Vec<(&'static str, &str)> {
        let headers = self.headers.values().map(|v| ("headers", v.as_str()));
        let body = self.body.iter().flat_map(Body::templates).map(|b| ("body", b));
        body.chain(headers).collect()
    }

    fn warnings(&self) -> Vec<(&'static str, String)> {
        let Some(Body::Text(text)) = &self.body else { return Vec::new() };
        let unsafe_values = template::json_unsafe_values(text);
        if !text.trim_start().starts_with(['{', '[']) || unsafe_values == 0 {
            return Vec::new();
        }
        vec![("body", format!("the body is JSON text with {unsafe_values} value(s) not passed through `tojson`: a job's text (an error message, a title) could add or replace keys; write `body:` as a YAML mapping (each value a template, serialized by nbwarden), or end each value with `| tojson`"))]
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let url = reqwest::Url::parse(&self.url);
        if !url.is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            out.push(("url", "`url` must be an http(s) URL".to_string()));
        }
        if Method::from_bytes(self.method.to_ascii_uppercase().as_bytes()).is_err() {
            out.push(("method", format!("`{}` is not an HTTP method", self.method)));
        }
        out
    }

    /// The URL's credentials and query, and the header values, may hold secrets.
    fn scrubbed(&self) -> super::ActionConfig {
        let headers = super::hidden(&self.headers);
        super::ActionConfig::Webhook(WebhookConfig { url: redact_url(&self.url), headers, ..self.clone() })
    }

    fn build(&self) -> Box<dyn super::Action> {
        Box::new(Webhook(self.clone()))
    }
}

/// Default bound on one call.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a receiver's answer read (for the excerpt of a failure): the rest is never read.
const ANSWER_READ: usize = 64 * 1024;

/// Up to `limit` bytes of an answer's body; a body that breaks off gives what came.
async fn first_bytes(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]),
            _ => break,
        }
    }
    body
}

/// What an HTTP call's outcome means for an action: 2xx done; no answer, 429 and 5xx worth
/// another try; the rest refused for good. The detail quotes the start of a failure's answer.
pub(super) async fn answered(sent: reqwest::Result<reqwest::Response>, shown: String) -> Result<Done, ActionError> {
    let response = sent.map_err(|e| {
        let kind = if e.is_timeout() { "no answer in time" } else { "cannot connect" };
        ActionError::transient(format!("{shown}: {kind}: {}", e.without_url()))
    })?;
    let status = response.status();
    let outcome = format!("{shown} answered {}", status.as_u16());
    if status.is_success() {
        return Ok(Done::Done(outcome));
    }
    let body = first_bytes(response, ANSWER_READ).await;
    let excerpt: String = crate::text::sanitize(String::from_utf8_lossy(&body).trim()).chars().take(200).collect();
    let detail = if excerpt.is_empty() { outcome } else { format!("{outcome}: {excerpt}") };
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(ActionError::transient(detail))
    } else {
        Err(ActionError::permanent(detail))
    }
}

/// Calls the configured URL.
#[derive(Debug)]
pub struct Webhook(pub WebhookConfig);

#[async_trait::async_trait]
impl super::Action for Webhook {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        let request = self.request(cx).map_err(ActionError::permanent)?;
        let shown = format!("{} {}", self.method(), redact_url(&self.0.url));
        answered(request.send().await, shown).await
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        let body = self.body(cx).unwrap_or_else(|e| format!("(body fails to render: {e})"));
        format!("would {} {} with {body}", self.method(), redact_url(&self.0.url))
    }
}

impl Webhook {
    fn method(&self) -> String {
        self.0.method.to_ascii_uppercase()
    }

    /// The rendered body: the rule's template, or a JSON document with rule, event and jobs.
    fn body(&self, cx: &ActionContext<'_>) -> Result<String, TemplateError> {
        let context = cx.template_context(cx.occasion.jobs);
        match &self.0.body {
            Some(Body::Text(source)) => template::render(source, &context),
            Some(Body::Document(document)) => Ok(render_document(document, &context)?.to_string()),
            None => Ok(json!({
                "rule": context["rule"], "target": context["target"], "event": context["event"],
                "now": context["now"], "job": context["job"], "jobs": context["jobs"], "task": context["task"],
            })
            .to_string()),
        }
    }

    fn request(&self, cx: &ActionContext<'_>) -> Result<reqwest::RequestBuilder, RequestError> {
        let method = Method::from_bytes(self.method().as_bytes()).map_err(|_| RequestError::Method(self.method()))?;
        let body = self.body(cx)?;
        let context = cx.template_context(cx.occasion.jobs);
        let json = serde_json::from_str::<serde_json::Value>(&body).is_ok();
        let content_type = if json { "application/json" } else { "text/plain; charset=utf-8" };
        let http = cx.services.http().map_err(|e| RequestError::Client(e.to_string()))?;
        let mut request = http
            .request(method, &self.0.url)
            .timeout(self.0.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0))
            .header(CONTENT_TYPE, content_type);
        for (name, value) in &self.0.headers {
            let value = template::render_header(value, &context)?;
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| RequestError::HeaderName(name.clone()))?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| RequestError::HeaderValue(name.clone()))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        Ok(request.body(body))
    }
}

/// Why the request could not be built.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    /// Not an HTTP method.
    #[error("bad method {0}")]
    Method(String),
    /// A header name that HTTP does not allow.
    #[error("bad header name `{0}`")]
    HeaderName(String),
    /// A rendered header value that HTTP does not allow.
    #[error("header {0}: not a valid value")]
    HeaderValue(HeaderName),
    /// A template failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// No HTTP client could be made.
    #[error("{0}")]
    Client(String),
}

/// A URL fit for logs: user, password and query replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "(invalid URL)".into();
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let _ = parsed.set_username("***");
        let _ = parsed.set_password(None);
    }
    if parsed.query().is_some() {
        parsed.set_query(Some("***"));
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn credentials_and_queries_are_redacted() {
        assert_eq!(redact_url("https://u:p@hooks.example.com/x?token=s"), "https://***@hooks.example.com/x?***");
        assert_eq!(redact_url("https://hooks.example.com/x"), "https://hooks.example.com/x");
        assert_eq!(redact_url("not a url"), "(invalid URL)");
    }
}
