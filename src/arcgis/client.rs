//! The HTTP client of one target: sends calls with the token and `Referer`, decodes answers into
//! typed values or typed errors, signs in again once on 498/499, and never loops on a bad password.

use super::auth::{ServerClock, TokenCache};
use super::endpoints::Endpoints;
use super::error::{Error, Result};
use super::signin::SignIns;
use super::wire::{AdminRoot, ItemResponse, JobList, OperationResponse, Payload, Scratch, UserResponse, WireJob};
use super::{Item, Job, JobSource, Known, Listing, SiteInfo};
use crate::config::{AuthMethod, ByteSize, Flavor, TargetConfig};

mod decode;
mod http;
mod sign_in;
pub use decode::decode;
use decode::decode_with;
use http::http_client;
pub use http::SetupError;
mod notebooks;
mod site;
mod tasks;

/// Enterprise has `notebooks/jobs/<id>/cancel` from this version on.
pub const CANCEL_SINCE: (u32, u32) = (11, 5);
use crate::secret::Secret;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// What a target's client needs that is not in the HTTP layer.
#[derive(Debug)]
pub struct Client {
    name: String,
    endpoints: Endpoints,
    http: reqwest::Client,
    method: AuthMethod,
    referer: String,
    lifetime: Duration,
    timeout: Duration,
    details: bool,
    page_size: u32,
    /// `max_response`: the largest body read.
    max_response: u64,
    tokens: Mutex<TokenCache>,
    clock: ServerClock,
    sign_ins: Arc<SignIns>,
    password_file: Option<PathBuf>,
    /// What the site said about itself since the last sign-in (`None`: read it at the next poll).
    site: std::sync::Mutex<Option<SiteInfo>>,
    /// The list's body buffer and the scan's, kept from one poll to the next.
    kept: std::sync::Mutex<Kept>,
}

/// The buffers a list read reuses.
#[derive(Debug, Default)]
struct Kept {
    body: Vec<u8>,
    scan: Scratch,
}

/// How a body becomes the answer (`Payload::from_json`, or the list's reusing read).
type Read<'r, T> = &'r mut (dyn FnMut(&[u8]) -> serde_json::Result<T> + Send);

/// One request, before the token is added.
struct Call {
    url: String,
    post: bool,
    params: Vec<(&'static str, String)>,
}

impl Call {
    fn get(url: String, params: Vec<(&'static str, String)>) -> Call {
        Call { url, post: false, params }
    }

    fn post(url: String, params: Vec<(&'static str, String)>) -> Call {
        Call { url, post: true, params }
    }
}

impl Client {
    /// Builds the client of one configured target (TLS roots, timeouts, `Referer`); its sign-ins
    /// go through `sign_ins`, shared by every target of the process.
    pub fn new(target: &TargetConfig, sign_ins: &Arc<SignIns>) -> Result<Client, SetupError> {
        let method = target.auth_method()?;
        let portal = target.portal_url();
        let portal = portal.as_deref();
        let timeout = target.poll.timeout.0;
        Ok(Client {
            name: target.name.clone(),
            endpoints: Endpoints::new(target.flavor, &target.admin_url, portal),
            http: http_client(target, timeout)?,
            method,
            referer: target.auth.referer.clone(),
            lifetime: target.auth.token_lifetime.0,
            timeout,
            details: target.poll.details,
            page_size: target.poll.page_size,
            max_response: target.max_response.0,
            tokens: Mutex::default(),
            clock: ServerClock::new(sign_ins.clock()),
            sign_ins: sign_ins.clone(),
            password_file: target.auth.password_file.clone(),
            site: std::sync::Mutex::default(),
            kept: std::sync::Mutex::default(),
        })
    }

    /// The URLs this client calls.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Server time minus local time, as last estimated.
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock.offset_ms()
    }

    async fn send<T: Payload>(&self, call: &Call, token: Option<&Secret>) -> Result<T> {
        self.send_into(call, token, &mut Vec::new(), &mut |body| T::from_json(body)).await
    }

    /// One call; its body read into `body` and made the answer by `read`.
    async fn send_into<T: Payload>(
        &self,
        call: &Call,
        token: Option<&Secret>,
        body: &mut Vec<u8>,
        read: Read<'_, T>,
    ) -> Result<T> {
        let request = if call.post {
            let mut form: Vec<(&str, &str)> = call.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Some(token) = token {
                form.push(("token", token.expose()));
            }
            self.http.post(&call.url).form(&form)
        } else {
            self.http.get(&call.url).query(&call.params)
        };
        let request = match token.map(bearer_header).transpose()? {
            Some(value) => request.header("X-Esri-Authorization", value),
            None => request,
        };
        let sent = self.clock.local();
        let response = request.send().await.map_err(|e| Error::from_transport(&call.url, &e, self.timeout))?;
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        self.clock.observe(header(reqwest::header::DATE).as_deref(), sent, self.clock.local());
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        let location = header(reqwest::header::LOCATION);
        let status = response.status().as_u16();
        self.body(response, &call.url, body).await?;
        decode_with(&call.url, status, &content_type, location.as_deref(), body, read)
    }

    /// The whole body in `body` (emptied first, its capacity kept). With a `Content-Length`, the
    /// buffer is sized from it and the chunks copied in as they arrive, so a large list is held
    /// once; without one, into a buffer that has room already, or else the chunks are kept as
    /// they come and joined at the end (a growing buffer would hold up to three times the body).
    /// A body over `max_response` (announced, or as it arrives) is refused, and what was read of
    /// it dropped at once.
    async fn body(&self, mut response: reqwest::Response, url: &str, body: &mut Vec<u8>) -> Result<()> {
        let too_large = || Error::TooLarge { url: url.to_string(), limit: ByteSize(self.max_response).to_string() };
        let announced = response.content_length();
        if announced.is_some_and(|n| n > self.max_response) {
            return Err(too_large());
        }
        emptied_with_room(body, announced.unwrap_or(0).min(PREALLOCATED_BODY) as usize);
        let in_place = announced.is_some() || body.capacity() > 0;
        let mut chunks = Vec::new();
        let mut read = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| Error::from_transport(url, &e, self.timeout))? {
            read += chunk.len() as u64;
            if read > self.max_response {
                *body = Vec::new();
                return Err(too_large());
            }
            match in_place {
                true => body.extend_from_slice(&chunk),
                false => chunks.push(chunk),
            }
        }
        if !in_place {
            *body = chunks.concat();
        }
        Ok(())
    }

    /// A call with the token; on a token error or an HTTP 401, one fresh sign-in and one retry.
    /// A second 401 comes from something in front of the site, not from the token.
    async fn authed<T: Payload>(&self, call: Call) -> Result<T> {
        self.authed_with(call, &mut Vec::new(), &mut |body| T::from_json(body)).await
    }

    /// `authed`, the body read into `body` and made the answer by `read`.
    async fn authed_with<T: Payload>(&self, call: Call, body: &mut Vec<u8>, read: Read<'_, T>) -> Result<T> {
        let token = self.token().await?;
        match self.send_into(&call, Some(&token), body, read).await {
            Err(e) if e.is_auth() => {
                if matches!(self.method, AuthMethod::Static(_)) {
                    return Err(static_rejected(e));
                }
                tracing::info!(target_name = %self.name, "token rejected; signing in again");
                let fresh = self.token_after_rejection(&token).await?;
                self.send_into(&call, Some(&fresh), body, read).await.map_err(Error::behind_a_proxy)
            }
            other => other,
        }
    }

    async fn token(&self) -> Result<Secret> {
        if let AuthMethod::Static(token) = &self.method {
            return Ok(token.clone());
        }
        let mut cache = self.tokens.lock().await;
        match &cache.current {
            Some(issued) if issued.fresh(self.clock.server_now()) => Ok(issued.token.clone()),
            _ => self.sign_in(&mut cache).await,
        }
    }

    /// A new token, unless another call already replaced the rejected one.
    async fn token_after_rejection(&self, rejected: &Secret) -> Result<Secret> {
        let mut cache = self.tokens.lock().await;
        match &cache.current {
            Some(issued) if issued.token != *rejected => Ok(issued.token.clone()),
            _ => self.sign_in(&mut cache).await,
        }
    }

    /// The admin API's version (`currentVersion`, `fullVersion` or `version`).
    pub async fn version(&self) -> Result<String> {
        let root: AdminRoot =
            self.authed(Call::get(self.endpoints.admin().to_string(), vec![("f", "json".into())])).await?;
        Ok(root.version().unwrap_or_else(|| "unknown".into()))
    }

    /// The job list, each job listed in the same bytes as one of `known` shared; the body and
    /// scan buffers are the ones the previous list read used.
    async fn list(&self, detailed: bool, known: Known<'_>) -> Result<JobList> {
        let query = self.endpoints.list_query(detailed, self.page_size);
        let kept = || self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut buffers = std::mem::take(&mut *kept());
        let Kept { body, scan } = &mut buffers;
        let mut read = |b: &[u8]| JobList::read(b, known, scan);
        let list = self.authed_with(Call::get(self.endpoints.jobs(), query), body, &mut read).await;
        *kept() = buffers;
        list
    }
}

#[async_trait::async_trait]
impl JobSource for Client {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&self, known: Known<'_>) -> Result<Listing> {
        // The detailed Enterprise list is completed from a second one: no job is as listed.
        let merged = self.details && self.endpoints.flavor() == Flavor::Enterprise;
        let list = self.list(self.details, if merged { Known::default() } else { known }).await?;
        let cut = list.cut_short();
        if let Some((total, returned)) = cut {
            tracing::warn!(target_name = %self.name, total, returned, "the server holds more jobs than it listed; raise poll.page_size (jobs beyond the page are kept as last seen)");
        }
        let site = self.site_info().await;
        if merged {
            let mut jobs = list.into_jobs();
            merge_abbreviated(&mut jobs, self.list(false, Known::default()).await?.into_jobs());
            return Ok(Listing { site, ..Listing::of(jobs, cut.is_none()) });
        }
        Ok(Listing { listed: list.into_listed(), complete: cut.is_none(), site })
    }

    async fn job(&self, id: &str) -> Result<Job> {
        let url = addressable(id, self.endpoints.job(id))?;
        let wire: WireJob = self.authed(Call::get(url.clone(), vec![("f", "json".into())])).await?;
        wire.into_job().ok_or(Error::UnexpectedShape { url, expected: "a jobId" })
    }

    async fn cancel(&self, id: &str) -> Result<()> {
        let site = self.site_info().await;
        if self.endpoints.flavor() == Flavor::Enterprise && site.below(CANCEL_SINCE) {
            let version = site.version.unwrap_or_default();
            return Err(Error::Unsupported { what: "cancel", needs: "ArcGIS Enterprise 11.5", version });
        }
        let call = Call::post(addressable(id, self.endpoints.cancel(id))?, vec![("f", "json".into())]);
        self.authed::<OperationResponse>(call).await.map(drop)
    }

    async fn user_email(&self, username: &str) -> Result<Option<String>> {
        let url = self.endpoints.user(username).ok_or(Error::NoPortal { what: "looking up a user's e-mail" })?;
        let user: UserResponse = self.authed(Call::get(url, vec![("f", "json".into())])).await?;
        Ok(user.email.filter(|e| !e.trim().is_empty()))
    }

    async fn item(&self, item_id: &str) -> Result<Item> {
        let Some(url) = self.endpoints.content_item(item_id) else {
            return Ok(Item::unknown("this target has no Portal to read titles from (auth.portal_url)"));
        };
        match self.authed::<ItemResponse>(Call::get(url, vec![("f", "json".into())])).await {
            Ok(item) => {
                let title = item.title.map(|t| crate::text::sanitize(&t).into_owned()).filter(|t| !t.trim().is_empty());
                let why = title.is_none().then_some("Portal gives the item no title".into());
                Ok(Item { title, owner: item.owner, why })
            }
            // Portal's "Item does not exist or is inaccessible." (CONT_0001, code 400), or a 403.
            Err(Error::Api { code: Some(400 | 404), message, .. } | Error::Forbidden { message, .. }) => {
                Ok(Item::unknown(format!("Portal does not show the item to nbwarden's account: \"{message}\"")))
            }
            Err(e) => Err(e),
        }
    }

    fn server_now(&self) -> crate::clock::ServerMs {
        self.clock.server_now()
    }

    fn job_url(&self, id: &str) -> String {
        self.endpoints.job(id)
    }

    fn item_url(&self, item_id: &str) -> Option<String> {
        self.endpoints.item(item_id)
    }

    async fn scheduled_tasks(&self) -> Result<Vec<crate::arcgis::tasks::Task>> {
        Client::scheduled_tasks(self).await
    }

    async fn task_runs(&self, owner: &str, task_id: &str) -> Result<Vec<crate::arcgis::tasks::TaskRun>> {
        Client::task_runs(self, owner, task_id).await
    }

    async fn open_notebooks(&self) -> Result<Vec<crate::arcgis::notebooks::OpenNotebook>> {
        Client::open_notebooks(self).await
    }

    async fn reread_notebook(
        &self,
        notebook: &crate::arcgis::notebooks::OpenNotebook,
    ) -> Result<Option<crate::arcgis::notebooks::OpenNotebook>> {
        Client::reread_notebook(self, notebook).await
    }

    async fn close_notebook(&self, notebook: &crate::arcgis::notebooks::OpenNotebook) -> Result<()> {
        Client::close_notebook(self, notebook).await
    }
}

/// The URL of a job's resource, unless the id cannot be one path segment: a server decodes the
/// path before it splits it, so a `/` (however encoded), `.` or `..` would address another
/// resource. Such an id is refused and nothing is sent.
pub(super) fn addressable(id: &str, url: String) -> Result<String> {
    let unsafe_id = id.is_empty() || id == "." || id == ".." || id.contains(['/', '\\']);
    match unsafe_id {
        true => Err(Error::UnsafeId { id: crate::text::sanitize(id).into_owned() }),
        false => Ok(url),
    }
}

/// `Bearer <token>`, marked sensitive so that no HTTP-layer logging prints it.
fn bearer_header(token: &Secret) -> Result<reqwest::header::HeaderValue> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| Error::UnexpectedShape { url: "generateToken".into(), expected: "a token usable in a header" })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A `generateToken` answer that refused the credentials (a 401 never gets here: it is the proxy
/// case, see `sign_in`).
fn is_refusal(e: &Error) -> bool {
    match e {
        Error::Api { code, .. } => !code.is_some_and(|c| c >= 500),
        Error::Forbidden { .. } | Error::TokenRejected { .. } => true,
        Error::Http { status, .. } => matches!(status, 400 | 403),
        _ => false,
    }
}

fn refusal_message(e: &Error) -> String {
    match e {
        Error::Api { message, .. } | Error::Forbidden { message, .. } | Error::TokenRejected { message, .. } => {
            message.clone()
        }
        other => other.to_string(),
    }
}

fn static_rejected(e: Error) -> Error {
    match e {
        e @ Error::Unauthorized { .. } => Error::behind_a_proxy(e),
        Error::TokenRejected { url, code, message, .. } => Error::TokenRejected {
            url,
            code,
            message,
            hint: "the static auth.token has expired or is invalid; replace it or configure a username and password",
        },
        other => other,
    }
}

/// The detailed Enterprise list lacks `status` (and times): take them from the abbreviated list.
fn merge_abbreviated(detailed: &mut [Job], abbreviated: Vec<Job>) {
    let mut by_id: HashMap<String, Job> = abbreviated.into_iter().map(|j| (j.id.clone(), j)).collect();
    for job in detailed {
        if let Some(short) = by_id.remove(&job.id) {
            job.status = short.status;
            job.started_at = short.started_at.or(job.started_at);
            job.ended_at = short.ended_at.or(job.ended_at);
            job.username = job.username.take().or(short.username);
        }
    }
}

/// Empties `body` and gives it room for `wanted` bytes. A buffer too small is made afresh, not
/// grown: growing would copy the old one and double its size, and the list's body is most of
/// the memory a poll takes. A sixteenth more, so that a list a few jobs longer fits next time.
fn emptied_with_room(body: &mut Vec<u8>, wanted: usize) {
    body.clear();
    if body.capacity() < wanted {
        *body = Vec::new();
        body.reserve_exact(wanted + wanted / 16);
    }
}

/// The most a `Content-Length` reserves before the body arrives.
const PREALLOCATED_BODY: u64 = 256 << 20;

#[cfg(test)]
mod tests {
    #[test]
    fn a_body_buffer_too_small_is_made_afresh_a_sixteenth_larger_not_doubled() {
        let mut body = vec![1u8; 1_000];
        super::emptied_with_room(&mut body, 1_600);
        assert!(body.is_empty());
        assert!((1_600..=1_700).contains(&body.capacity()), "{}", body.capacity());
        let kept = body.as_ptr();
        body.extend_from_slice(&[2; 1_650]);
        super::emptied_with_room(&mut body, 1_650);
        assert_eq!((body.len(), body.as_ptr()), (0, kept), "room enough: the same buffer, emptied");
    }
}
