//! Jobs as nbwarden sees them: the open `Status`, its `Phase`, and `Job` (pure; no I/O).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::ServerMs;

mod more;
mod named;
pub use more::JobMore;
pub use named::{NamedJob, Names, SharedNames};

/// The normalised status of SPEC §1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Queued.
    Submitted,
    /// Executing (EXECUTING, PROCESSING, PARTIAL).
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
    /// A status nbwarden does not know.
    Unknown,
}

impl Phase {
    /// Every phase, in lifecycle order.
    pub const ALL: [Phase; 6] =
        [Phase::Submitted, Phase::Running, Phase::Completed, Phase::Failed, Phase::Cancelled, Phase::Unknown];

    /// The phase of a job with `status`, Notebook Server's `isCancelled` (`cancelled`), and an end
    /// time or not (`ended`): a cancelled flag is a cancellation, a running status with an end
    /// time is not known.
    pub fn of(status: &Status, cancelled: bool, ended: bool) -> Phase {
        if cancelled {
            return Phase::Cancelled;
        }
        match status.phase() {
            Phase::Running if ended => Phase::Unknown,
            phase => phase,
        }
    }

    /// The lowercase name used in rules and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Submitted => "submitted",
            Phase::Running => "running",
            Phase::Completed => "completed",
            Phase::Failed => "failed",
            Phase::Cancelled => "cancelled",
            Phase::Unknown => "unknown",
        }
    }

    /// The phase with this name (case-insensitive), if it is one.
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job status as the server spells it; unknown spellings are kept, never rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// SUBMITTED.
    Submitted,
    /// EXECUTING (Enterprise).
    Executing,
    /// PROCESSING (Notebook Server).
    Processing,
    /// PARTIAL.
    Partial,
    /// COMPLETED.
    Completed,
    /// FAILED.
    Failed,
    /// CANCELLED, CANCELED, cancelling, …: the raw spelling.
    Cancelled(String),
    /// Anything else, raw; empty when the server sent no status.
    Unknown(String),
}

impl Status {
    /// Reads a server spelling, case-insensitively.
    pub fn parse(raw: &str) -> Status {
        const KNOWN: [Status; 6] = [
            Status::Submitted,
            Status::Executing,
            Status::Processing,
            Status::Partial,
            Status::Completed,
            Status::Failed,
        ];
        let trimmed = raw.trim();
        if let Some(status) = KNOWN.iter().find(|known| known.as_str().eq_ignore_ascii_case(trimmed)) {
            return status.clone();
        }
        match trimmed.to_ascii_uppercase().contains("CANCEL") {
            true => Status::Cancelled(raw.to_string()),
            false => Status::Unknown(raw.to_string()),
        }
    }

    /// The spelling to show and to match raw rule values against.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Executing => "EXECUTING",
            Status::Processing => "PROCESSING",
            Status::Partial => "PARTIAL",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Cancelled(raw) | Status::Unknown(raw) => raw,
        }
    }

    /// The phase of this spelling alone (see [`Job::phase`] for the whole rule).
    pub fn phase(&self) -> Phase {
        match self {
            Status::Submitted => Phase::Submitted,
            Status::Executing | Status::Processing | Status::Partial => Phase::Running,
            Status::Completed => Phase::Completed,
            Status::Failed => Phase::Failed,
            Status::Cancelled(_) => Phase::Cancelled,
            Status::Unknown(_) => Phase::Unknown,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Status::parse(&s))
    }
}

/// One notebook job of one target. Timestamps are epoch milliseconds on the server's clock.
///
/// Laid out in this order (`repr(C)`): what every poll rule reads first (status, `isCancelled`,
/// start and end, i.e. the phase and the runtime) sits at the front, in the first 128 bytes of a
/// shared job's allocation, so that evaluating a job a poll did not change costs one memory fetch,
/// not three (at 50k jobs these fetches were a fifth of a steady poll).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "more::JobForm")]
#[repr(C)]
pub struct Job {
    /// The server's status.
    pub status: Status,
    /// Notebook Server `customAttributes.isCancelled`.
    pub cancelled_flag: bool,
    /// `startTime`, else `dateCreated`.
    pub started_at: Option<ServerMs>,
    /// `endTime` when > 0.
    pub ended_at: Option<ServerMs>,
    /// `jobId`.
    pub id: String,
    /// `type` (or the older `name`): executeNotebook, openNotebook, …
    pub job_type: Option<String>,
    /// Owner; the abbreviated lists of some versions omit it.
    pub username: Option<String>,
    /// `inputs.itemId`: the notebook item.
    pub item_id: Option<String>,
    /// `notebookRuntimeName`.
    pub runtime_name: Option<String>,
    /// `inputs.taskId`: non-empty when a scheduled task started the job; `None` when the list
    /// carries no `inputs` at all (then nobody can tell).
    pub task_id: Option<String>,
    /// `inputs.executionTimeoutInMinutes`.
    pub timeout_minutes: Option<u64>,
    /// What few jobs carry (messages, the names a stored action's job was given, an open
    /// notebook's record), boxed so that every other job is 128 bytes smaller. `None` when all of it is
    /// empty, never an empty box: change it with `Job::edit`, which keeps equal jobs equal. In
    /// JSON, its fields are the job's own.
    #[serde(flatten)]
    pub more: Option<Box<JobMore>>,
}

impl Job {
    /// A job with only an id and a status; the other fields empty.
    pub fn new(id: impl Into<String>, status: Status) -> Job {
        Job {
            id: id.into(),
            job_type: None,
            status,
            username: None,
            started_at: None,
            ended_at: None,
            item_id: None,
            runtime_name: None,
            task_id: None,
            timeout_minutes: None,
            cancelled_flag: false,
            more: None,
        }
    }

    /// This job with another status (a gone job's final one).
    pub fn with_status(self, status: Status) -> Job {
        Job { status, ..self }
    }

    /// Takes from `detail` (the job's own resource) what the list did not say: messages, item,
    /// runtime, task and timeout. The status stays as listed.
    pub fn enrich(&mut self, detail: Job) {
        let messages = detail.more.map(|more| more.messages).unwrap_or_default();
        self.edit(|more| more.messages = messages);
        self.item_id = self.item_id.take().or(detail.item_id);
        self.runtime_name = self.runtime_name.take().or(detail.runtime_name);
        self.task_id = self.task_id.take().or(detail.task_id);
        self.timeout_minutes = self.timeout_minutes.or(detail.timeout_minutes);
        self.username = self.username.take().or(detail.username);
    }

    /// The normalised phase: `isCancelled` wins, and a job with an `endTime` is never running.
    pub fn phase(&self) -> Phase {
        Phase::of(&self.status, self.cancelled_flag, self.ended_at.is_some())
    }

    /// `(endTime or now) - startTime`.
    pub fn runtime(&self, now: ServerMs) -> Option<Duration> {
        let start = self.started_at?;
        let end = self.ended_at.unwrap_or(now);
        Some(Duration::from_millis(end.since(start).max(0) as u64))
    }

    /// The title of the notebook item the job carries of its own (`nbwarden test`'s `title:`, a
    /// stored action's job); a firing's names are its `NamedJob`'s.
    pub fn own_title(&self) -> Option<&str> {
        self.own_notebook()?.title.as_deref()
    }

    /// True when a scheduled task started the job.
    pub fn scheduled(&self) -> bool {
        self.task_id.as_deref().is_some_and(|t| !t.is_empty())
    }
}

/// A notebook item as Portal describes it (`content/items/<id>`): read once per item, and
/// carried on the copies of jobs that firings give to the actions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Item {
    /// Its title; `None` when it cannot be known (see `why`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Why the title is not known, for people: no item id in the list, the item gone or not
    /// shared with the account, no Portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<std::borrow::Cow<'static, str>>,
}

impl Item {
    /// An item whose title cannot be known, and why.
    pub fn unknown(why: impl Into<std::borrow::Cow<'static, str>>) -> Item {
        Item { title: None, owner: None, why: Some(why.into()) }
    }
}

/// Which jobs the signed-in account sees (SPEC §4.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// An administrator: every job of the site.
    All,
    /// Not an administrator: only the account's own jobs, with no error to say so.
    Own,
}

impl Scope {
    /// `all` or `own`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Own => "own",
        }
    }
}

/// What a site says about itself and the signed-in account; read again at each sign-in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SiteInfo {
    /// The admin root's `currentVersion`.
    pub version: Option<String>,
    /// Which jobs the account sees; `None` when it could not be told.
    pub scope: Option<Scope>,
    /// The signed-in user (`portals/self`).
    pub user: Option<String>,
    /// The user's role (`org_admin`, `org_user`, or a custom role's id).
    pub role: Option<String>,
    /// `maxExecuteNotebookTimeMinutes`: the server ends executeNotebook runs at this age.
    pub max_execute_minutes: Option<u64>,
    /// The portal's id (`portals/self`), which the org's scheduled tasks are read under.
    #[serde(skip)]
    pub portal_id: Option<String>,
}

impl SiteInfo {
    /// True when the version is known and below `(major, minor)`.
    pub fn below(&self, needed: (u32, u32)) -> bool {
        self.version.as_deref().is_some_and(|v| version_below(v, needed))
    }
}

/// One poll's answer: the jobs, whether the list was whole, and what the site said about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listing {
    /// Every job listed; a job listed in the same bytes as at the previous poll is that poll's
    /// `Job`, shared, and the same body again is that poll's whole list.
    pub listed: Listed,
    /// False when the list was cut short (Notebook Server holds more jobs than `page_size`):
    /// jobs missing from it may still exist and must not be taken for gone.
    pub complete: bool,
    /// Version, scope and limits of the site.
    pub site: SiteInfo,
}

impl Listing {
    /// A listing of `jobs` whose listed bytes are not known.
    pub fn of(jobs: Vec<Job>, complete: bool) -> Listing {
        let listed = Listed::new(jobs.into_iter().map(Arc::new).collect(), Vec::new());
        Listing { listed, complete, site: SiteInfo::default() }
    }
}

/// The jobs of one poll in listing order, with the hash of the bytes each was listed as (`0`: not
/// known). Shared as a whole: when a site lists the same body again, the poll holds the previous
/// poll's list for one reference count, not one per job.
#[derive(Clone, Default)]
pub struct Listed {
    /// The jobs, in listing order: in memory, or read back from the store and decoded when first
    /// read (`Listed::later`).
    jobs: Arc<Jobs>,
    /// The hash of each job's listed bytes, in the same order.
    pub raw: Arc<[u64]>,
    /// The body the jobs were read from, when the list read knows it again (the store keeps it,
    /// so that a fresh process knows it too).
    pub body: Option<ListedBody>,
}

/// Decodes a stored list's jobs, all of them, in order: called at most once, when a job is first
/// read. The store checks its bytes before it hands one out, so it cannot fail.
pub type Decode = Box<dyn FnOnce() -> Vec<Arc<Job>> + Send>;

/// A list's jobs, and, until they are first read, how to decode them.
#[derive(Default)]
struct Jobs {
    decoded: std::sync::OnceLock<Vec<Arc<Job>>>,
    decode: std::sync::Mutex<Option<Decode>>,
}

impl Listed {
    /// `jobs` with the hashes of their listed bytes (missing ones `0`: not known).
    pub fn new(jobs: Vec<Arc<Job>>, mut raw: Vec<u64>) -> Listed {
        raw.resize(jobs.len(), 0);
        Listed { jobs: Jobs::now(jobs), raw: raw.into(), body: None }
    }

    /// A stored list of as many jobs as `raw` has hashes, decoded by `decode` only when a job is
    /// first read: a fresh process that finds the same body again reads none of them.
    pub fn later(raw: Vec<u64>, decode: Decode) -> Listed {
        let jobs = Jobs { decode: Some(decode).into(), ..Jobs::default() };
        Listed { jobs: Arc::new(jobs), raw: raw.into(), body: None }
    }

    /// These jobs, read from `body`.
    pub fn from_body(mut self, body: Option<ListedBody>) -> Listed {
        self.body = body;
        self
    }

    /// The jobs, in listing order (a stored list's are decoded now, if not yet).
    pub fn jobs(&self) -> &[Arc<Job>] {
        self.jobs.decoded.get_or_init(|| {
            let decode = self.jobs.decode.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            decode.map_or_else(Vec::new, |decode| decode())
        })
    }

    /// The number of jobs, without reading them: one hash each (every constructor keeps them so).
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True without jobs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the jobs are in memory (a stored list's: once one was read).
    #[cfg(test)]
    pub fn decoded(&self) -> bool {
        self.jobs.decoded.get().is_some()
    }

    /// This list with other jobs (as many, in the same places): its hashes and body kept.
    pub fn with_jobs(&self, jobs: Vec<Arc<Job>>) -> Listed {
        Listed { jobs: Jobs::now(jobs), raw: self.raw.clone(), body: self.body }
    }

    /// True when both are the one list, shared (not merely equal).
    pub fn same(&self, other: &Listed) -> bool {
        Arc::ptr_eq(&self.jobs, &other.jobs) && Arc::ptr_eq(&self.raw, &other.raw)
    }
}

impl Jobs {
    fn now(jobs: Vec<Arc<Job>>) -> Arc<Jobs> {
        Arc::new(Jobs { decoded: jobs.into(), ..Jobs::default() })
    }
}

impl PartialEq for Listed {
    fn eq(&self, other: &Listed) -> bool {
        self.jobs() == other.jobs() && self.raw == other.raw && self.body == other.body
    }
}

impl fmt::Debug for Listed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listed").field("jobs", &self.jobs()).field("raw", &self.raw).field("body", &self.body).finish()
    }
}

/// A list body as a list read knows it again: enough to give the list of the same body without
/// reading it, from jobs whose listed bytes hash as they did. A fact about the body, true for as
/// long as those jobs are the ones listed (checked by `listed`), so a stored one never goes stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedBody {
    /// The body's hash (XXH3).
    pub body: u64,
    /// The hash of its jobs' hashes (`text::fx_hash` of `Listed::raw`).
    pub listed: u64,
    /// Which list it held.
    pub key: ListKey,
    /// Its items, those without a `jobId` too.
    pub items: usize,
    /// Its `total`.
    pub total: Option<i64>,
}

/// The three keys a job list comes under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::EnumString)]
pub enum ListKey {
    /// Enterprise's abbreviated list.
    #[serde(rename = "asyncNotebookJobs")]
    #[strum(serialize = "asyncNotebookJobs")]
    Enterprise,
    /// Enterprise's detailed list.
    #[serde(rename = "notebookJobs")]
    #[strum(serialize = "notebookJobs")]
    EnterpriseDetailed,
    /// Notebook Server's list.
    #[serde(rename = "asyncJobs")]
    #[strum(serialize = "asyncJobs")]
    NotebookServer,
}

/// The jobs of the previous poll (none: nothing known): a job listed again in the same bytes is
/// shared, not parsed again, and the same body again is the whole list again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Known<'a>(pub Option<&'a Listed>);

impl<'a> Known<'a> {
    /// The jobs, in listing order.
    pub fn jobs(self) -> &'a [Arc<Job>] {
        self.0.map_or(&[], |listed| listed.jobs())
    }

    /// The hash of each job's listed bytes, in the same order.
    pub fn raw(self) -> &'a [u64] {
        self.0.map_or(&[], |listed| &listed.raw)
    }
}

/// True when `version` ("11.4", "12.0.1") is below `(major, minor)`; an unreadable one is not.
pub fn version_below(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.trim().split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next().unwrap_or(Ok(0))) {
        (Some(Ok(a)), Ok(b)) => (a, b) < (major, minor),
        _ => false,
    }
}

/// An epoch-ms timestamp as RFC 3339 in UTC, to the second.
pub fn rfc3339(ms: impl Into<i64>) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms.into()).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    /// A job's rarely set fields are boxed: a job is 240 bytes (256 with its `Arc`), not 360.
    #[test]
    fn a_job_without_its_rare_fields_is_240_bytes() {
        assert_eq!(std::mem::size_of::<super::Job>(), 240);
    }

    /// The boxed fields are the job's own in JSON, and read back into the box; a job without
    /// them has no box, however it was made, so that equal jobs are equal.
    #[test]
    fn the_rare_fields_are_flat_in_json_and_boxed_only_when_set() {
        let mut job = super::Job::new("j1", super::Status::Failed);
        job.edit(|more| {
            more.messages = vec!["Traceback".into()];
            more.task_title = Some("Nightly".into());
            more.notebook = Some(super::Item::unknown("gone"));
        });
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["messages"][0], "Traceback");
        assert_eq!(json["task_title"], "Nightly");
        assert_eq!(json["notebook"]["why"], "gone");
        assert_eq!(serde_json::from_value::<super::Job>(json).unwrap(), job);
        job.edit(|more| *more = super::JobMore::default());
        assert!(job.more.is_none(), "emptied: no box");
        let bare = serde_json::to_string(&job).unwrap();
        assert!(!bare.contains("messages"), "{bare}");
        assert_eq!(serde_json::from_str::<super::Job>(&bare).unwrap(), super::Job::new("j1", super::Status::Failed));
    }

    use super::*;

    /// A version at the boundary is not below it, whether written with its minor or not.
    #[test]
    fn a_version_is_below_only_a_later_release() {
        let cases = [
            ("12", (12, 0), false),
            ("12.0", (12, 0), false),
            ("11", (12, 0), true),
            ("11.5", (11, 5), false),
            ("11.4.9", (11, 5), true),
            ("11.10", (11, 5), false),
            (" 10.9.1 ", (11, 5), true),
            ("12.x", (12, 1), false),
            ("next", (11, 5), false),
        ];
        for (version, needed, below) in cases {
            assert_eq!(version_below(version, needed), below, "{version} below {needed:?}");
        }
    }

    #[test]
    fn statuses_map_to_phases_case_insensitively() {
        let table = [
            ("SUBMITTED", Phase::Submitted),
            ("executing", Phase::Running),
            ("PROCESSING", Phase::Running),
            ("Partial", Phase::Running),
            ("COMPLETED", Phase::Completed),
            ("FAILED", Phase::Failed),
            ("CANCELLED", Phase::Cancelled),
            ("CANCELED", Phase::Cancelled),
            ("cancelling", Phase::Cancelled),
            ("failing", Phase::Unknown),
            ("esriJobSucceeded", Phase::Unknown),
            ("", Phase::Unknown),
        ];
        for (raw, phase) in table {
            assert_eq!(Status::parse(raw).phase(), phase, "{raw}");
        }
        assert_eq!(Status::parse("failing"), Status::Unknown("failing".into()));
        assert_eq!(Status::parse("CANCELED").as_str(), "CANCELED");
    }

    #[test]
    fn end_time_and_is_cancelled_override_the_status() {
        let mut job = Job::new("j", Status::Executing);
        assert_eq!(job.phase(), Phase::Running);
        job.ended_at = Some(ServerMs(10));
        assert_eq!(job.phase(), Phase::Unknown, "a job with an endTime is never running");
        let mut job = Job::new("j", Status::Failed);
        job.cancelled_flag = true;
        assert_eq!(job.phase(), Phase::Cancelled);
    }

    #[test]
    fn runtime_uses_end_time_or_now() {
        let mut job = Job::new("j", Status::Executing);
        let at = ServerMs;
        assert_eq!(job.runtime(at(5_000)), None);
        job.started_at = Some(at(1_000));
        assert_eq!(job.runtime(at(61_000)), Some(Duration::from_secs(60)));
        job.ended_at = Some(at(31_000));
        assert_eq!(job.runtime(at(61_000)), Some(Duration::from_secs(30)));
        assert_eq!(Job { started_at: Some(at(9_000)), ended_at: None, ..job }.runtime(at(1_000)), Some(Duration::ZERO));
    }

    #[test]
    fn phase_names_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(Phase::from_name(&phase.as_str().to_uppercase()), Some(phase));
        }
        assert_eq!(Phase::from_name("EXECUTING"), None);
    }
}
