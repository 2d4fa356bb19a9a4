//! The simulator's HTTP side: routes of both flavors, envelopes, `f=json`, faults, `Date` header.

use super::scenario::{Fault, FaultKind, JobPlan, Route, Scenario};
use super::site::{JobState, ListQuery, Refusal, Site, Stats};
use crate::arcgis::auth::local_now_ms;
use crate::config::Flavor;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Starts simulators.
pub struct Simulator;

/// A running simulator; dropping it stops the server.
pub struct SimulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    site: Mutex<Site>,
    faults: Mutex<Vec<(Fault, u32)>>,
    clock_offset_ms: AtomicI64,
}

impl Shared {
    fn site(&self) -> MutexGuard<'_, Site> {
        self.site.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now_ms(&self) -> i64 {
        local_now_ms() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// Counts this request against every fault that watches its route; returns the one that fires.
    fn fault_for(&self, route: Option<Route>) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let mut firing = None;
        for (fault, hits) in faults.iter_mut() {
            if fault.on != Route::Any && Some(fault.on) != route {
                continue;
            }
            *hits += 1;
            let active = *hits > fault.after && fault.count.is_none_or(|c| *hits <= fault.after + c);
            if active && firing.is_none() {
                firing = Some(fault.clone());
            }
        }
        firing
    }
}

impl Simulator {
    /// Serves `scenario` as a `flavor` site on `listen` (port 0 picks a free port).
    pub async fn start(scenario: &Scenario, flavor: Flavor, listen: SocketAddr) -> std::io::Result<SimulatorHandle> {
        let offset = scenario.clock_offset.0;
        let shared = Arc::new(Shared {
            site: Mutex::new(Site::new(scenario, flavor, local_now_ms() + offset)),
            faults: Mutex::new(scenario.faults.iter().map(|f| (f.clone(), 0)).collect()),
            clock_offset_ms: AtomicI64::new(offset),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        Ok(SimulatorHandle { addr, shared, task })
    }
}

impl SimulatorHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin root of the served flavor.
    pub fn admin_url(&self) -> String {
        match self.shared.site().flavor {
            Flavor::Enterprise => format!("http://{}/portal/admin", self.addr),
            Flavor::NotebookServer => format!("http://{}/arcgis/admin", self.addr),
        }
    }

    /// The Portal root (served for both flavors, as for a federated Notebook Server).
    pub fn portal_url(&self) -> String {
        format!("http://{}/portal", self.addr)
    }

    /// What the site was asked so far.
    pub fn stats(&self) -> Stats {
        self.shared.site().stats.clone()
    }

    /// The jobs as they stand now.
    pub fn jobs(&self) -> Vec<JobState> {
        let now = self.shared.now_ms();
        self.shared.site().states(now)
    }

    /// Invalidates every token, as an early expiry or a server restart does.
    pub fn revoke_tokens(&self) {
        self.shared.site().revoke_tokens();
    }

    /// Adds a job (its `start` counts from the simulator's start).
    pub fn add_job(&self, plan: JobPlan) {
        self.shared.site().add_job(plan);
    }

    /// Marks activity in an open notebook now; false when it is not open.
    pub fn touch_notebook(&self, id: &str) -> bool {
        let now = self.shared.now_ms();
        self.shared.site().touch_notebook(id, now)
    }

    /// Ends a running or queued job now, completed or failed; false when it had already ended.
    pub fn end_job(&self, id: &str, ending: super::scenario::Ending) -> bool {
        let now = self.shared.now_ms();
        self.shared.site().end_job(id, ending, now)
    }

    /// Moves the site's clock forward by `ms` (tests that run a client on a manual clock).
    pub fn advance_clock(&self, ms: i64) {
        self.shared.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Adds a fault; its counters start now.
    pub fn add_fault(&self, fault: Fault) {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).push((fault, 0));
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let endpoint = route(shared.site().flavor, uri.path());
    // A token is taken only where the docs put it: the header, or the body of a POST. One in a
    // query string (where proxies log it) is ignored, as if none had been sent.
    let mut params: HashMap<String, String> = parse_form(uri.query().unwrap_or("").as_bytes());
    params.remove("token");
    if method == Method::POST {
        params.extend(parse_form(&body));
    }
    let fault = shared.fault_for(endpoint.route());
    match fault.as_ref().map(|f| f.kind) {
        Some(FaultKind::Hang) => std::future::pending::<()>().await,
        Some(FaultKind::Slow) => tokio::time::sleep(fault.as_ref().map_or(Duration::ZERO, |f| f.delay.0)).await,
        _ => {}
    }
    let now = shared.now_ms();
    let (status, content_type, mut bytes) = match fault.as_ref().map(|f| (f.kind, f.status)) {
        Some((FaultKind::HttpError, status)) => (status.unwrap_or(503), "text/plain", b"Service Unavailable".to_vec()),
        Some((FaultKind::Html, status)) => {
            (status.unwrap_or(502), "text/html", html_page("502 Bad Gateway").into_bytes())
        }
        Some((FaultKind::InvalidToken, _)) => json_answer(refusal(&endpoint, (498, "Invalid token.".into()))),
        Some((FaultKind::Unauthorized, _)) => (401, "text/html", html_page("401 - Unauthorized").into_bytes()),
        _ => answer(&shared, &endpoint, &method, &params, &headers, now),
    };
    if fault.as_ref().is_some_and(|f| f.kind == FaultKind::Truncated) {
        bytes.truncate(bytes.len() / 2);
    }
    let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_millis(now.max(0) as u64));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type.to_string()), (header::DATE, date)], bytes).into_response()
}

fn answer(
    shared: &Shared,
    endpoint: &Endpoint,
    method: &Method,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    now: i64,
) -> Answer {
    if *endpoint == Endpoint::Unknown {
        return (404, "text/html", html_page("404 Not Found").into_bytes());
    }
    if *endpoint == Endpoint::Stats {
        return json_answer(json!(shared.site().stats));
    }
    if !matches!(params.get("f").map(String::as_str), Some("json" | "pjson")) {
        return (200, "text/html", html_page("ArcGIS Administrator Directory").into_bytes());
    }
    let mut site = shared.site();
    match respond(&mut site, endpoint, method, params, headers, now) {
        Ok(value) => json_answer(value),
        // ArcGIS sends errors with HTTP 200; a site behind some gateways sends the code itself.
        Err(refused) if site.http_errors && (400..600).contains(&refused.0) => {
            let status = refused.0 as u16;
            (status, "application/json", serde_json::to_vec(&refusal(endpoint, refused)).unwrap_or_default())
        }
        Err(refused) => json_answer(refusal(endpoint, refused)),
    }
}

fn respond(
    site: &mut Site,
    endpoint: &Endpoint,
    method: &Method,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    now: i64,
) -> Result<Value, Refusal> {
    let flavor = site.flavor;
    match endpoint {
        Endpoint::PortalToken | Endpoint::AdminToken => {
            if *method != Method::POST {
                return Err((405, "generateToken must be called with POST.".into()));
            }
            let mut params = params.clone();
            if *endpoint == Endpoint::PortalToken {
                params.insert("portal".into(), String::new());
            }
            if let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
                params.insert(super::site::REQUEST_REFERER.into(), referer.to_string());
            }
            let (token, expires) = site.generate_token(&params, now)?;
            Ok(match endpoint {
                Endpoint::PortalToken => json!({ "token": token, "expires": expires, "ssl": false }),
                _ => json!({ "token": token, "expires": expires.to_string() }),
            })
        }
        _ => {
            let token = esri_header(headers).or_else(|| params.get("token").cloned());
            let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
            let caller = site.authorize(token.as_deref(), referer, now, endpoint.needs_admin(flavor))?.clone();
            let call = match endpoint {
                Endpoint::List => Some("list".to_string()),
                Endpoint::Cancel(id) if *method == Method::POST => Some(format!("cancel {id}")),
                _ => None,
            };
            if let Some(call) = call {
                let calls = &mut site.stats.calls;
                if calls.len() == super::site::CALLS_KEPT {
                    calls.pop_front();
                }
                calls.push_back((now, call, referer.unwrap_or_default().to_string()));
            }
            authorized(site, endpoint, method, params, &caller, now)
        }
    }
}

fn authorized(
    site: &mut Site,
    endpoint: &Endpoint,
    method: &Method,
    params: &HashMap<String, String>,
    caller: &super::scenario::User,
    now: i64,
) -> Result<Value, Refusal> {
    match endpoint {
        Endpoint::User(name) => site.user(name, caller),
        Endpoint::Item(id) => site.item(id, caller),
        Endpoint::PortalSelf => Ok(site.portal_self(caller)),
        Endpoint::AdminRoot => Ok(site.admin_root()),
        Endpoint::Limits => Ok(site.limits()),
        Endpoint::List => {
            let flag = |name: &str| params.get(name).is_some_and(|v| v == "true");
            let query = ListQuery {
                details: flag(if site.flavor == Flavor::Enterprise { "details" } else { "detail" }),
                num: params.get("num").and_then(|n| n.parse().ok()).unwrap_or(100),
                newest_first: flag("sortByDate"),
            };
            Ok(site.list(&query, now, caller))
        }
        Endpoint::Job(id) => site.job(id, now, caller),
        Endpoint::AllTasks(portal) => {
            let number = |name: &str, default: usize| params.get(name).and_then(|n| n.parse().ok()).unwrap_or(default);
            site.all_tasks(portal, (number("start", 1), number("num", 10)), now)
        }
        Endpoint::TaskRuns(owner, _) if !caller.is_admin() && caller.username != *owner => {
            Err((403, "You do not have permissions to access this resource or perform this operation.".into()))
        }
        Endpoint::TaskRuns(owner, id) => site.task_runs(owner, id, now),
        Endpoint::Notebooks => {
            let number = |name: &str, default: usize| params.get(name).and_then(|n| n.parse().ok()).unwrap_or(default);
            Ok(site.open_notebooks((number("start", 1), number("num", 10)), now))
        }
        Endpoint::NotebookHosts => Ok(site.notebook_hosts()),
        Endpoint::Notebook(host, id) => site.open_notebook(host.as_deref(), id, now),
        Endpoint::CloseNotebook(..) if *method != Method::POST => {
            Err((405, "closeNotebook must be called with POST.".into()))
        }
        Endpoint::CloseNotebook(host, id) => site.close_notebook(host.as_deref(), id),
        Endpoint::Cancel(_) if *method != Method::POST => Err((405, "cancel must be called with POST.".into())),
        Endpoint::Cancel(id) => site.cancel(id, now, caller).map(|()| json!({ "status": "success" })),
        _ => Err((404, "Not found.".into())),
    }
}

/// `X-Esri-Authorization: Bearer <token>`.
fn esri_header(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-esri-authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn refusal(endpoint: &Endpoint, (code, message): Refusal) -> Value {
    if endpoint.portal_family() {
        // A refused sign-in: "Unable to generate token." with the reason in `details`.
        let (message, details) = match message.strip_prefix("Unable to generate token. ") {
            Some(reason) => ("Unable to generate token.".to_string(), json!([reason])),
            None if code == 400 && *endpoint == Endpoint::PortalToken => {
                ("Unable to generate token.".to_string(), json!([message]))
            }
            None => (message, json!([])),
        };
        json!({ "error": { "code": code, "message": message, "details": details } })
    } else {
        json!({ "status": "error", "messages": [message], "code": code })
    }
}

/// ArcGIS answers errors with HTTP 200 and an envelope.
fn json_answer(value: Value) -> Answer {
    (200, "application/json", serde_json::to_vec(&value).unwrap_or_default())
}

fn parse_form(bytes: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn html_page(title: &str) -> String {
    format!("<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>nbwarden simulator</p></body></html>")
}

/// A finished answer: status, content type, body.
type Answer = (u16, &'static str, Vec<u8>);

mod routes;
use routes::{route, Endpoint};

#[cfg(test)]
mod tests;
