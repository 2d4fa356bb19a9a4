//! A local HTTP server for webhook tests: answers with scripted statuses and records every request.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: String,
}

#[derive(Default)]
struct State {
    statuses: Vec<u16>,
    received: Vec<Received>,
}

/// The server; the last scripted status repeats.
#[derive(Clone)]
pub struct HookServer {
    state: Arc<Mutex<State>>,
    pub url: String,
}

impl HookServer {
    pub async fn start(statuses: &[u16]) -> HookServer {
        let state = Arc::new(Mutex::new(State { statuses: statuses.to_vec(), received: Vec::new() }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = shared.clone();
            async move {
                let mut state = state.lock().unwrap();
                let body = String::from_utf8_lossy(&body).into_owned();
                state.received.push(Received { method: method.to_string(), uri: uri.to_string(), headers, body });
                let index = (state.received.len() - 1).min(state.statuses.len() - 1);
                (StatusCode::from_u16(state.statuses[index]).unwrap(), "answer from the hook")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        HookServer { state, url }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}
