//! The read-only HTTP endpoint (`http.listen`): `/metrics`, `/healthz` and `/status`. It can never
//! take descriptors or memory from the pipeline: at most `MAX_CONNECTIONS` connections (when full,
//! the oldest one that is not being answered is closed), headers within `HEADER_TIMEOUT` and
//! `MAX_HEAD_BYTES`, no request body read, and a `Host` check against DNS rebinding.

use super::Board;
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// Connections served at once; one more closes the oldest idle one.
pub const MAX_CONNECTIONS: usize = 64;
/// A request's head must arrive within this (an idle keep-alive connection closes after it too).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// No connection lives longer than this.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct AppState {
    board: Arc<Board>,
    metrics: PrometheusHandle,
}

/// Why the HTTP endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The metrics recorder.
    #[error(transparent)]
    Recorder(#[from] super::metrics::RecorderError),
    /// The address cannot be bound.
    #[error(
        "http.listen: cannot listen on {listen}: {detail}; choose another address, or \"\" to turn the endpoint off"
    )]
    Listen {
        /// The configured address.
        listen: String,
        /// Why.
        detail: String,
    },
}

/// What the endpoint serves and to whom.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Host names (besides IP literals and `localhost`) that requests may name (`http.hosts`).
    pub hosts: Vec<String>,
}

/// Binds `listen` and serves until `stop` turns true; returns the bound address and the task.
pub async fn start(
    listen: &str,
    board: Arc<Board>,
    access: Access,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), ServerError> {
    let metrics = super::metrics::recorder()?;
    let cannot = |e: std::io::Error| ServerError::Listen { listen: listen.into(), detail: e.to_string() };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(cannot)?;
    let address = listener.local_addr().map_err(cannot)?;
    let upkeep = metrics.clone();
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/", get(|| async { axum::response::Redirect::permanent("/status") }))
        .with_state(AppState { board, metrics });
    let hosts = Arc::new(access.hosts);
    let task = tokio::spawn(async move {
        let upkeep = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        let connections = Connections::default();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|s| *s) => break,
            };
            match accepted {
                Ok((stream, _)) => connections.serve(stream, app.clone(), hosts.clone()),
                Err(e) => {
                    // Out of descriptors, most likely: the pipeline keeps its own; try again soon.
                    tracing::warn!(error = %e, "the HTTP endpoint cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        connections.close_all();
        upkeep.abort();
    });
    Ok((address, task))
}

/// The open connections, oldest first.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<Table>>);

#[derive(Default)]
struct Table {
    next: u64,
    open: VecDeque<Open>,
}

struct Open {
    id: u64,
    /// A request is being answered: never closed for room.
    busy: Arc<AtomicBool>,
    task: tokio::task::AbortHandle,
}

impl Connections {
    /// Serves one connection, making room first: the oldest idle connection is closed when the
    /// table is full, and the new one is refused when every connection is being answered.
    fn serve(&self, stream: tokio::net::TcpStream, app: Router, hosts: Arc<Vec<String>>) {
        let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if table.open.len() >= MAX_CONNECTIONS {
            match table.open.iter().position(|c| !c.busy.load(Ordering::Relaxed)) {
                Some(oldest) => {
                    if let Some(closed) = table.open.remove(oldest) {
                        closed.task.abort();
                    }
                }
                None => return drop(stream),
            }
        }
        let id = table.next;
        table.next += 1;
        let busy = Arc::new(AtomicBool::new(false));
        let this = self.clone();
        let flag = busy.clone();
        let task = tokio::spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection(stream, app, hosts, flag)).await;
            this.0.lock().unwrap_or_else(|p| p.into_inner()).open.retain(|c| c.id != id);
        });
        table.open.push_back(Open { id, busy, task: task.abort_handle() });
    }

    fn close_all(&self) {
        let table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        table.open.iter().for_each(|c| c.task.abort());
    }
}

/// One connection: HTTP/1.1 with the head limits; `busy` while a request is answered.
async fn connection(stream: tokio::net::TcpStream, app: Router, hosts: Arc<Vec<String>>, busy: Arc<AtomicBool>) {
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let (app, hosts, busy) = (app.clone(), hosts.clone(), busy.clone());
        async move {
            busy.store(true, Ordering::Relaxed);
            let response = match refused_host(request.headers(), &hosts) {
                None => app.oneshot(request.map(Body::new)).await,
                Some(refused) => Ok(refused),
            };
            busy.store(false, Ordering::Relaxed);
            response
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "an HTTP connection ended");
    }
}

/// The 403 for a request that does not name this endpoint (an IP literal, `localhost`, or a name
/// of `http.hosts`): a page on another name, even one whose DNS points here (DNS rebinding).
fn refused_host(headers: &HeaderMap, hosts: &[String]) -> Option<Response> {
    let host = headers.get(header::HOST)?.to_str().unwrap_or_default();
    if host_allowed(host, hosts) {
        return None;
    }
    let text = format!(
        "Host `{}` is not served here; add it to http.hosts in nbwarden.yaml if this name is meant to reach nbwarden\n",
        crate::text::sanitize(host)
    );
    Some((StatusCode::FORBIDDEN, text).into_response())
}

/// Whether the `Host` header value `host` is an IP literal, `localhost` or one of `names`.
pub fn host_allowed(host: &str, names: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(host, |(name, _)| name),
    };
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || names.iter().any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// Whether `listen` is a loopback address: anything else serves beyond this machine.
pub fn is_loopback(listen: &str) -> bool {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(address) => address.ip().is_loopback(),
        Err(_) => listen.trim().starts_with("localhost:"),
    }
}

async fn render_metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let body = state.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let failing = state.board.unhealthy(state.board.now());
    if failing.is_empty() {
        let body = if state.board.standby() { "ok: standby, holding no target's lease\n" } else { "ok\n" };
        return (StatusCode::OK, body).into_response();
    }
    let lines: String = failing.iter().map(|(target, why)| format!("target {target}: {why}\n")).collect();
    (StatusCode::SERVICE_UNAVAILABLE, lines).into_response()
}

async fn status(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(filter): axum::extract::Query<super::Filter>,
    headers: HeaderMap,
) -> Response {
    let view = state.board.view(state.board.now(), &filter);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !prefers_html(accept) {
        return axum::Json(view).into_response();
    }
    match super::page::render(&view) {
        Ok(html) => {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, PAGE_POLICY)], html)
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot render the page: {e}")).into_response(),
    }
}

/// The page runs no script and loads nothing: its styles are inline, its chart inline SVG, its
/// one form a GET to itself.
const PAGE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// True when `text/html` comes before `application/json` in `Accept` (browsers), else JSON.
fn prefers_html(accept: &str) -> bool {
    match (accept.find("text/html"), accept.find("application/json")) {
        (Some(html), Some(json)) => html < json,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_programs_json() {
        assert!(prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html(""));
        assert!(!prefers_html("*/*"));
    }

    #[test]
    fn hosts_are_ip_literals_localhost_or_configured_names() {
        let names = vec!["nbwarden.example.com".to_string()];
        for host in ["127.0.0.1:9187", "[::1]:9187", "10.0.0.5", "localhost:9187", "NBWARDEN.example.com:443"] {
            assert!(host_allowed(host, &names), "{host}");
        }
        for host in ["evil.example:9187", "127.0.0.1.evil.example", "localhost.evil.example:9187", ""] {
            assert!(!host_allowed(host, &names), "{host}");
        }
    }

    #[test]
    fn loopback_listen_addresses() {
        assert!(is_loopback("127.0.0.1:9187") && is_loopback("[::1]:9187") && is_loopback("localhost:9187"));
        assert!(!is_loopback("0.0.0.0:9187") && !is_loopback("10.1.2.3:9187"));
    }
}
