//! The read-only HTTP endpoint (`http.listen`): `/metrics`, `/healthz` and `/status`.

use super::Board;
use crate::arcgis::auth::local_now_ms;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

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

/// Binds `listen` and serves until `stop` turns true; returns the bound address and the task.
pub async fn start(
    listen: &str,
    board: Arc<Board>,
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
        .with_state(AppState { board, metrics });
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let upkeep = tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "the HTTP endpoint stopped");
        }
        upkeep.abort();
    });
    Ok((address, task))
}

async fn render_metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let body = state.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let failing = state.board.unhealthy(local_now_ms());
    if failing.is_empty() {
        let body = if state.board.standby() { "ok: standby, holding no target's lease\n" } else { "ok\n" };
        return (StatusCode::OK, body).into_response();
    }
    let lines: String = failing.iter().map(|(target, why)| format!("target {target}: {why}\n")).collect();
    (StatusCode::SERVICE_UNAVAILABLE, lines).into_response()
}

async fn status(axum::extract::State(state): axum::extract::State<AppState>, headers: HeaderMap) -> Response {
    let view = state.board.view(local_now_ms());
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !prefers_html(accept) {
        return axum::Json(view).into_response();
    }
    match super::page::render(&view) {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot render the page: {e}")).into_response(),
    }
}

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
    #[test]
    fn browsers_get_html_and_programs_json() {
        assert!(super::prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(!super::prefers_html("application/json"));
        assert!(!super::prefers_html(""));
        assert!(!super::prefers_html("*/*"));
    }
}
